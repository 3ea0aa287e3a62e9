/* authfail.c - failed logins counted in a file; see authfail.h */
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "authfail.h"
#include "control.h"
#include "statefile.h"
#include "str.h"

struct ent {
	unsigned long count, last;
	const char *key;	/* NUL-ended: in the file's text, or a caller's key */
};

/* ent_cmp - most failures first, then the latest, then by key (so
 * that the file's order never depends on qsort's) */
static int
ent_cmp(const void *a, const void *b)
{
	const struct ent *x = a, *y = b;

	if (x->count != y->count)
		return x->count > y->count ? -1 : 1;
	if (x->last != y->last)
		return x->last > y->last ? -1 : 1;
	return strcmp(x->key, y->key);
}

unsigned long
authfail_wait(const struct authfail *af, unsigned long count,
    unsigned long last, unsigned long allowed, unsigned long now)
{
	unsigned long k, w, since;

	if (count < allowed)
		return 0;
	/* doubled until the most: a few rounds, however large the count */
	w = af->waitfirst;
	for (k = count - allowed; k > 0 && w > 0 && w < af->waitmax; k--)
		w = w > af->waitmax / 2 ? af->waitmax : w * 2;
	if (w > af->waitmax)
		w = af->waitmax;
	since = now > last ? now - last : 0;
	return w > since ? w - since : 0;
}

/* load - the live entries of t (its newlines become NULs) into e, which
 * has room for every line; lines that are not "COUNT LAST KEY" with a
 * count above 0 are dropped */
static size_t
load(const struct authfail *af, struct str *t, struct ent *e,
    unsigned long now)
{
	size_t pos, nl, sp1, sp2, n = 0;
	char *l;

	for (pos = 0; pos < t->len; pos += nl + 1) {
		l = t->s + pos;
		nl = str_chrb(l, t->len - pos, '\n');
		if (pos + nl == t->len)
			break;	/* a line not ended was never written whole */
		l[nl] = 0;
		sp1 = str_chrb(l, nl, ' ');
		if (sp1 == nl)
			continue;
		sp2 = sp1 + 1 + str_chrb(l + sp1 + 1, nl - sp1 - 1, ' ');
		if (sp2 >= nl || sp2 + 1 == nl ||
		    !scan_ulong(l, sp1, &e[n].count) ||
		    !scan_ulong(l + sp1 + 1, sp2 - sp1 - 1, &e[n].last) ||
		    e[n].count == 0)
			continue;
		if (e[n].last > now)
			e[n].last = now;	/* the clock went back */
		if (now - e[n].last > af->keep)
			continue;	/* forgotten */
		e[n].key = l + sp2 + 1;
		n++;
	}
	return n;
}

/* find - the entry of key in e[0..*n), made (count 0) when new and make
 * is set; NULL for key NULL */
static struct ent *
find(struct ent *e, size_t *n, const char *key, int make)
{
	size_t i;

	if (key == NULL)
		return NULL;
	for (i = 0; i < *n; i++)
		if (str_equal(e[i].key, key))
			return e + i;
	if (!make)
		return NULL;
	e[*n].count = e[*n].last = 0;
	e[*n].key = key;
	return e + (*n)++;
}

/* trouble - -1 with what failed, errno kept */
static int
trouble(struct authfail_result *r, const char *failed, const char *fn)
{
	r->failed = failed;
	r->fn = fn;
	return -1;
}

/* apply - op on the entries of the keys; 0 when a TRY must wait */
static int
apply(const struct authfail *af, struct ent *e, size_t *ne,
    const struct authfail_key *k, size_t nk, enum authfail_op op,
    unsigned long now, struct authfail_result *r)
{
	struct ent *x;
	unsigned long w;
	size_t i;

	if (op == AUTHFAIL_TRY) {
		for (i = 0; i < nk; i++) {
			if ((x = find(e, ne, k[i].key, 0)) == NULL)
				continue;
			w = authfail_wait(af, x->count, x->last, k[i].allowed, now);
			if (w > 0 && r->wait == 0)
				r->which = i;
			if (w > r->wait)
				r->wait = w;
		}
		if (r->wait > 0)
			return 0;
	}
	for (i = 0; i < nk; i++) {
		if ((x = find(e, ne, k[i].key, op == AUTHFAIL_TRY)) == NULL)
			continue;
		if (op == AUTHFAIL_TRY) {
			if (x->count < ULONG_MAX)	/* a file's count may be that high */
				x->count++;
			x->last = now;
		} else if (x->count > 0)
			x->count = op == AUTHFAIL_OK && k[i].clear ? 0 : x->count - 1;
	}
	return 1;
}

int
authfail_update(const struct authfail *af, const struct authfail_key *k,
    size_t nk, enum authfail_op op, unsigned long now,
    struct authfail_result *r)
{
	struct str t = STR_ZERO, o = STR_ZERO;
	struct ent *e = NULL;
	size_t n, i, lines;
	int fd, ret, err;

	r->wait = 0;
	r->which = 0;
	r->failed = r->fn = NULL;
	for (i = 0; i < nk; i++)	/* a newline would make a line of its own */
		if (k[i].key != NULL && strchr(k[i].key, '\n') != NULL) {
			errno = EINVAL;
			return trouble(r, "unable to update ", af->file);
		}
	if ((fd = statefile_lock(af->lock, af->mode, af->lockwait)) == -1)
		return trouble(r, "unable to lock ", af->lock);
	if (control_readfile(af->file, &t, af->filemax) == -1) {
		ret = trouble(r, "unable to read ", af->file);
		goto done;
	}
	/* room for every line and every key */
	for (lines = nk, i = 0; i < t.len; i++)
		lines += t.s[i] == '\n';
	if ((e = calloc(lines ? lines : 1, sizeof *e)) == NULL) {
		ret = trouble(r, "unable to update ", af->file);
		goto done;
	}
	n = load(af, &t, e, now);
	if ((ret = apply(af, e, &n, k, nk, op, now, r)) == 0)
		goto done;
	/* the file stays small: when full, the fewest failures go first */
	qsort(e, n, sizeof *e, ent_cmp);
	for (i = 0; i < n && i < af->lines && e[i].count > 0; i++)
		if (!str_catulong(&o, e[i].count) || !str_catc(&o, ' ') ||
		    !str_catulong(&o, e[i].last) || !str_catc(&o, ' ') ||
		    !str_cats(&o, e[i].key) || !str_catc(&o, '\n')) {
			ret = trouble(r, "unable to update ", af->file);
			goto done;
		}
	if (!statefile_write(af->file, o.s, o.len, af->mode))
		ret = trouble(r, "unable to write ", af->file);
done:
	err = errno;
	(void)close(fd);	/* releases the lock */
	free(e);
	str_free(&t);
	str_free(&o);
	errno = err;
	return ret;
}
