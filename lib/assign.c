/* assign.c - look-ups in users/assign.cdb; see assign.h and qmail-users(5)
 *
 * The cdb is written by qmail-newu.  Keys are "=" and the lower-case
 * local part for exact entries, "+" and the lower-case prefix for prefix
 * entries.  A value is six NUL-terminated fields:
 *	user NUL uid NUL gid NUL home NUL dash NUL ext NUL
 * with uid and gid in decimal.  The file is trusted no further than any
 * other file: a value that does not have this shape is an error.
 */
#include <errno.h>
#include <sys/types.h>
#include <stdlib.h>
#include <string.h>

#include "assign.h"
#include "lcdb.h"



/* field - the next NUL-terminated field of v from *pos */
static int
field(const struct str *v, size_t *pos, const char **f, size_t *n)
{
	size_t e;

	if (*pos >= v->len)
		return 0;
	e = str_chrb(v->s + *pos, v->len - *pos, 0);
	if (*pos + e >= v->len)
		return 0;
	*f = v->s + *pos;
	*n = e;
	*pos += e + 1;
	return 1;
}

/* decode - split a value into a; the remainder (rest, rn) is appended to ext */
static int
decode(const struct str *v, struct assign *a, const char *rest, size_t rn)
{
	const char *f[6];
	size_t n[6], pos = 0;
	int i;

	for (i = 0; i < 6; i++)
		if (!field(v, &pos, &f[i], &n[i]))
			return errno = EINVAL, -1;
	if (pos != v->len || n[0] == 0 || n[3] == 0)
		return errno = EINVAL, -1;
	if (!scan_ulong(f[1], n[1], &a->uid) || !scan_ulong(f[2], n[2], &a->gid))
		return errno = EINVAL, -1;
	if (!str_copyb(&a->user, f[0], n[0]) || !str_nul(&a->user) ||
	    !str_copyb(&a->home, f[3], n[3]) || !str_nul(&a->home) ||
	    !str_copyb(&a->dash, f[4], n[4]) || !str_nul(&a->dash) ||
	    !str_copyb(&a->ext, f[5], n[5]) || !str_catb(&a->ext, rest, rn) ||
	    !str_nul(&a->ext))
		return -1;
	return 1;
}

/* lookup - in the open table d */
static int
lookup(struct lcdb *d, const char *local, size_t n, struct assign *a)
{
	struct str key = STR_ZERO, val = STR_ZERO;
	size_t i;
	int r, err;

	if (!str_copys(&key, "=") || !str_catb(&key, local, n)) {
		r = -1;
		goto done;
	}
	str_lowerb(key.s + 1, n);
	if ((r = lcdb_get(d, key.s, key.len, &val)) == 1) {
		a->exact = 1;
		r = decode(&val, a, "", 0);
		goto done;
	}
	if (r == -1)
		goto done;
	/* the longest prefix first; the empty prefix "+" matches everything */
	key.s[0] = '+';
	for (i = n + 1; i-- > 0;) {
		if ((r = lcdb_get(d, key.s, i + 1, &val)) == 1) {
			a->exact = 0;
			r = decode(&val, a, local + i, n - i);
			goto done;
		}
		if (r == -1)
			goto done;
	}
	r = 0;
done:
	err = errno;
	str_free(&key);
	str_free(&val);
	errno = err;
	return r;
}

int
assign_lookup(const char *fn, const char *local, size_t n, struct assign *a)
{
	struct lcdb d;
	int r, err;

	if (n > ASSIGN_LOCALMAX)
		return 0;	/* no entry can be that long: qmail-newu bounds them */
	if ((r = lcdb_open(&d, fn)) != 1)
		return r;
	r = lookup(&d, local, n, a);
	err = errno;
	lcdb_close(&d);
	errno = err;
	return r;
}

void
assign_dbinit(struct assign_db *db)
{
	db->d.fd = -1;
	db->is_open = 0;
}

void
assign_dbclose(struct assign_db *db)
{
	if (db->is_open)
		lcdb_close(&db->d);
	db->is_open = 0;
}

/* same - st and o describe the same, unchanged file */
static int
same(const struct stat *st, const struct stat *o)
{
	return st->st_dev == o->st_dev && st->st_ino == o->st_ino &&
	    st->st_size == o->st_size &&
	    st->st_mtim.tv_sec == o->st_mtim.tv_sec && st->st_mtim.tv_nsec == o->st_mtim.tv_nsec &&
	    st->st_ctim.tv_sec == o->st_ctim.tv_sec && st->st_ctim.tv_nsec == o->st_ctim.tv_nsec;
}

int
assign_dblookup(struct assign_db *db, const char *fn, const char *local, size_t n,
    struct assign *a)
{
	struct stat st;
	int r;

	if (n > ASSIGN_LOCALMAX)
		return 0;
	if (stat(fn, &st) == -1) {
		if (errno != ENOENT)
			return -1;
		assign_dbclose(db);
		return 0;
	}
	if (!db->is_open || !same(&st, &db->st)) {
		assign_dbclose(db);
		if ((r = lcdb_open(&db->d, fn)) != 1)
			return r;
		/* the file opened is the one to remember: it may have been
		 * replaced between the stat and the open */
		if (fstat(db->d.fd, &db->st) == -1) {
			int err = errno;

			lcdb_close(&db->d);
			errno = err;
			return -1;
		}
		db->is_open = 1;
	}
	return lookup(&db->d, local, n, a);
}

void
assign_free(struct assign *a)
{
	str_free(&a->user);
	str_free(&a->home);
	str_free(&a->dash);
	str_free(&a->ext);
}

/* bad - the byte may not appear in a users/ file field */
static int
bad(char c)
{
	return c == 0 || c == '\n' || c == '\r';
}

int
assign_parseline(const char *line, size_t n, struct str *key, struct str *val)
{
	const char *f[7];
	size_t len[7], i, start, k = 0;
	unsigned long uid, gid;

	if (n == 1 && line[0] == '.')
		return 0;
	if (n < 2 || n > ASSIGN_LINEMAX || (line[0] != '=' && line[0] != '+') ||
	    line[n - 1] != ':')
		return errno = EINVAL, -1;
	/* seven fields, each ended by a colon */
	for (start = i = 1; i < n; i++) {
		if (bad(line[i]))
			return errno = EINVAL, -1;
		if (line[i] != ':')
			continue;
		if (k == 7)
			return errno = EINVAL, -1;
		f[k] = line + start;
		len[k++] = i - start;
		start = i + 1;
	}
	if (k != 7 || len[0] > ASSIGN_LOCALMAX || (line[0] == '=' && len[0] == 0))
		return errno = EINVAL, -1;
	if (len[1] == 0 || !scan_ulong(f[2], len[2], &uid) ||
	    !scan_ulong(f[3], len[3], &gid) || len[4] == 0 || f[4][0] != '/')
		return errno = EINVAL, -1;
	/* a uid or gid the system cannot hold (or the -1 that means "none")
	 * would defer every delivery to the address: refuse it here */
	if ((unsigned long)(uid_t)uid != uid || (uid_t)uid == (uid_t)-1 ||
	    (unsigned long)(gid_t)gid != gid || (gid_t)gid == (gid_t)-1)
		return errno = EINVAL, -1;
	if (len[5] > 1 || (len[5] == 1 && f[5][0] != '-'))
		return errno = EINVAL, -1;
	if (!str_copyb(key, line, 1) || !str_catb(key, f[0], len[0]))
		return -1;
	str_lowerb(key->s + 1, len[0]);
	val->len = 0;
	if (!str_catb(val, f[1], len[1]) || !str_catc(val, 0) ||
	    !str_catulong(val, uid) || !str_catc(val, 0) ||
	    !str_catulong(val, gid) || !str_catc(val, 0))
		return -1;
	for (i = 4; i < 7; i++)
		if (!str_catb(val, f[i], len[i]) || !str_catc(val, 0))
			return -1;
	return 1;
}

static int
blank(char c)
{
	return c == ' ' || c == '\t' || c == '\r';
}

int
assign_rcptline(const char *line, size_t n, struct str *key)
{
	size_t at, i;

	while (n > 0 && blank(line[n - 1]))
		n--;
	while (n > 0 && blank(line[0]))
		line++, n--;
	if (n == 0 || line[0] == '#')
		return 0;
	if (n > ASSIGN_LINEMAX)
		return errno = EINVAL, -1;
	for (i = 0; i < n; i++)
		if ((unsigned char)line[i] <= ' ' || line[i] == 127)
			return errno = EINVAL, -1;
	at = str_rchrb(line, n, '@');
	if (at == n || at + 1 == n || at > ASSIGN_LOCALMAX)
		return errno = EINVAL, -1;
	if (!str_copyb(key, line, n))
		return -1;
	str_lowerb(key->s, n);
	return 1;
}
