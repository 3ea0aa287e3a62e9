/* rcptcheck.c - relay control and recipient existence; see rcptcheck.h
 *
 * The address comes from an SMTP client.  Its local part is used in a
 * file name only after checking it holds no '/', with dots turned into
 * colons as qmail-local does, so it cannot leave the home directory.
 */
#include <errno.h>
#include <sys/stat.h>

#include "account.h"
#include "assign.h"
#include "control.h"
#include "lcdb.h"
#include "rcptcheck.h"

#define ASSIGN_CDB "users/assign.cdb"
#define RECIPIENTS_CDB "users/recipients.cdb"
#define MORERCPTHOSTS_CDB "control/morercpthosts.cdb"
#define ALIAS_HOME "alias"

/* lowerlist - a list read from fn into out, lower-cased; 1 read, 0 missing, -1 error */
static int
lowerlist(const char *fn, struct str *out)
{
	int r = control_readlist(fn, out);

	if (r == 1)
		str_lowerb(out->s, out->len);
	return r;
}

/* me_local - without control/locals, the one local domain is the first
 * line of control/me, else localhost: qmail-send's rule, so that both
 * agree on what is delivered here; 1, or -1 with errno */
static int
me_local(struct str *locals)
{
	int r = control_readline("control/me", locals);

	if (r == 0)
		r = str_copys(locals, "localhost") ? 1 : -1;
	if (r == 1 && !str_catc(locals, 0))
		r = -1;
	if (r == 1)
		str_lowerb(locals->s, locals->len);
	return r;
}

int
rcptcheck_load(struct rcptcheck *rc, const char **fn)
{
	int r;

	*fn = "control/locals";
	if ((r = lowerlist(*fn, &rc->locals)) == 0) {
		*fn = "control/me";
		r = me_local(&rc->locals);
	}
	if (r == -1)
		return 0;
	*fn = "control/rcpthosts";
	if ((r = lowerlist(*fn, &rc->rcpthosts)) == -1)
		return 0;
	rc->have_rcpthosts = r;
	*fn = "control/virtualdomains";
	if (lowerlist(*fn, &rc->vdoms) == -1)
		return 0;
	return 1;
}

/* inlist - 1 when the lower-cased s[0..n) is one of the entries of a
 * "a\0b\0" list; with suffixes, an entry ".x" also covers every name
 * ending in ".x" */
static int
inlist(const struct str *l, const char *s, size_t n, int suffixes)
{
	size_t i = 0, e, k;

	while (i < l->len) {
		e = i + str_chrb(l->s + i, l->len - i, 0);
		k = e - i;
		if (k == n && str_caseeqb(l->s + i, s, n))
			return 1;
		if (suffixes && k > 1 && l->s[i] == '.' && n > k &&
		    str_caseeqb(l->s + i, s + n - k, k))
			return 1;
		i = e + 1;
	}
	return 0;
}

int
rcptcheck_islocal(const struct rcptcheck *rc, const char *domain, size_t n)
{
	return inlist(&rc->locals, domain, n, 0);
}

/* vlookup - the prefix of the virtualdomains line whose key is k[0..n) */
static int
vlookup(const struct rcptcheck *rc, const char *k, size_t n, struct str *prefix)
{
	size_t i = 0, e, c;

	while (i < rc->vdoms.len) {
		e = i + str_chrb(rc->vdoms.s + i, rc->vdoms.len - i, 0);
		c = i + str_chrb(rc->vdoms.s + i, e - i, ':');
		if (c < e && c - i == n && str_caseeqb(rc->vdoms.s + i, k, n)) {
			if (!str_copyb(prefix, rc->vdoms.s + c + 1, e - c - 1))
				return -1;
			/* an empty prefix is an exception: not virtual */
			return prefix->len > 0;
		}
		i = e + 1;
	}
	return -2;	/* no such line */
}

int
rcptcheck_virtual(const struct rcptcheck *rc, const char *addr, size_t n, struct str *prefix)
{
	size_t at = str_rchrb(addr, n, '@'), i;
	const char *d;
	size_t dn;
	int r;

	if (at == n)
		return 0;
	d = addr + at + 1;
	dn = n - at - 1;
	if ((r = vlookup(rc, addr, n, prefix)) != -2)
		return r < 0 ? 0 : r;
	if ((r = vlookup(rc, d, dn, prefix)) != -2)
		return r < 0 ? 0 : r;
	for (i = 0; i < dn; i++)
		if (d[i] == '.' && (r = vlookup(rc, d + i, dn - i, prefix)) != -2)
			return r < 0 ? 0 : r;
	if ((r = vlookup(rc, "", 0, prefix)) != -2)
		return r < 0 ? 0 : r;
	return 0;
}

int
rcptcheck_relay(const struct rcptcheck *rc, const char *domain, size_t n)
{
	struct str val = STR_ZERO, key = STR_ZERO, prefix = STR_ZERO;
	struct lcdb d;
	size_t i;
	int r;

	if (!rc->have_rcpthosts) {
		if (inlist(&rc->locals, domain, n, 0))
			return 1;
		if (!str_copys(&key, "x@") || !str_catb(&key, domain, n))
			return -1;
		r = rcptcheck_virtual(rc, key.s, key.len, &prefix);
		str_free(&key);
		str_free(&prefix);
		return r;
	}
	if (inlist(&rc->rcpthosts, domain, n, 1))
		return 1;
	if ((r = lcdb_open(&d, MORERCPTHOSTS_CDB)) != 1)
		return r;
	if (!str_copyb(&key, domain, n)) {
		lcdb_close(&d);
		return -1;
	}
	str_lowerb(key.s, key.len);
	/* the name itself, then each ".suffix" of it */
	r = lcdb_get(&d, key.s, key.len, &val);
	for (i = 0; r == 0 && i < key.len; i++)
		if (key.s[i] == '.')
			r = lcdb_get(&d, key.s + i, key.len - i, &val);
	lcdb_close(&d);
	str_free(&key);
	str_free(&val);
	return r;
}

/* exists_file - 1 the file exists, 0 it does not, -1 cannot tell */
static int
exists_file(const char *fn)
{
	struct stat st;

	if (stat(fn, &st) == 0)
		return 1;
	/* a name too long for a file cannot be a .qmail file either */
	if (errno == ENOENT || errno == ENOTDIR || errno == ENAMETOOLONG)
		return 0;
	return -1;
}

int
rcptcheck_dotqmail(const char *home, const char *dash, const char *ext, size_t extlen)
{
	struct account_qmail q = ACCOUNT_QMAIL_ZERO;
	struct str name = STR_ZERO, fn = STR_ZERO;
	size_t def;
	int r, err;

	if ((r = account_qmailinit(&q, dash, ext, extlen)) != 1)
		return r;	/* 0: a slash, which qmail-local bounces */
	/* qmail-local's names in its order: the first one there is followed */
	while ((r = account_qmailnext(&q, &name, &def)) > 0) {
		fn.len = 0;
		if (!str_cats(&fn, home) || !str_catc(&fn, '/') || !str_cat(&fn, &name) ||
		    !str_nul(&fn)) {
			r = -1;
			break;
		}
		if ((r = exists_file(fn.s)) != 0)
			break;
	}
	/* none there: with an empty dash qmail-local follows defaultdelivery */
	if (r == 0 && *dash == 0)
		r = 1;
	err = errno;
	account_qmailfree(&q);
	str_free(&name);
	str_free(&fn);
	errno = err;
	return r;
}

/* local_exists - whether local part l is delivered: the account
 * qmail-lspawn picks for it (account.h), then for the alias user, and
 * for every account of a virtual domain, the .qmail file qmail-local
 * would follow.  The users of a local domain (users/assign entries,
 * system accounts) take every extension here: their homes need not be
 * readable by qmail-smtpd, and a wrong extension bounces. */
static int
local_exists(const char *l, size_t n, int virtual)
{
	struct assign_db db;
	struct account a = ACCOUNT_ZERO;
	int r, err;

	assign_dbinit(&db);
	r = account_find(&db, ASSIGN_CDB, l, n, ALIAS_HOME, &a);
	err = errno;
	assign_dbclose(&db);
	if (r == 1 && (virtual || a.kind == ACCOUNT_ALIAS)) {
		r = rcptcheck_dotqmail(a.home.s, a.dash.s, a.ext.s, a.ext.len);
		err = errno;
	}
	account_free(&a);
	errno = err;
	return r;
}

int
rcptcheck_mailbox(const char *addr, size_t n)
{
	struct str key = STR_ZERO, val = STR_ZERO;
	int r = -1, err;

	if (str_copyb(&key, addr, n)) {
		str_lowerb(key.s, key.len);
		r = lcdb_lookup(RECIPIENTS_CDB, key.s, key.len, &val);
	}
	err = errno;
	str_free(&key);
	str_free(&val);
	errno = err;
	return r;
}

/* listed - users/recipients.cdb: 1 when it lists the address or the
 * catch-all "@domain"; 2 when it lists only the address without its
 * extension (the local part cut at a dash), which says that the user
 * exists but not that the user takes this extension; 0 neither; -1 error */
static int
listed(struct lcdb *d, const char *addr, size_t n)
{
	struct str key = STR_ZERO, val = STR_ZERO;
	size_t at = str_rchrb(addr, n, '@'), cut;
	int r, hit = 0;

	if (!str_copyb(&key, addr, n))
		return -1;
	str_lowerb(key.s, key.len);
	r = lcdb_get(d, key.s, key.len, &val);
	for (cut = at; r == 0 && !hit && cut > 0;) {
		while (cut > 0 && addr[cut - 1] != '-')
			cut--;
		if (cut == 0)
			break;
		cut--;
		key.len = 0;
		if (!str_catb(&key, addr, cut) || !str_catb(&key, addr + at, n - at)) {
			r = -1;
			break;
		}
		str_lowerb(key.s, key.len);
		if ((r = lcdb_get(d, key.s, key.len, &val)) == 1)
			hit = 1, r = 0;
	}
	if (r == 0 && (r = str_copyb(&key, addr + at, n - at) ? 1 : -1) == 1) {
		str_lowerb(key.s, key.len);
		r = lcdb_get(d, key.s, key.len, &val);
	}
	str_free(&key);
	str_free(&val);
	return r == 0 && hit ? 2 : r;
}

int
rcptcheck_exists(const struct rcptcheck *rc, const char *addr, size_t n)
{
	struct str prefix = STR_ZERO, local = STR_ZERO;
	struct lcdb d;
	size_t at = str_rchrb(addr, n, '@');
	int virtual, have, cutonly, r;

	if (at == n || at == 0)
		return 0;
	if (at == 10 && str_caseeqb(addr, "postmaster", 10))
		return 1;
	virtual = 0;
	if (!rcptcheck_islocal(rc, addr + at + 1, n - at - 1)) {
		if ((virtual = rcptcheck_virtual(rc, addr, n, &prefix)) != 1) {
			str_free(&prefix);
			return 1;	/* not delivered here: not ours to check */
		}
	}
	if ((have = lcdb_open(&d, RECIPIENTS_CDB)) == -1) {
		str_free(&prefix);
		return -1;
	}
	cutonly = 0;
	if (have == 1) {
		r = listed(&d, addr, n);
		lcdb_close(&d);
		if (r == 1 || r == -1) {
			str_free(&prefix);
			return r;
		}
		/* the user is listed, the extension is not: it exists when
		 * delivery finds a .qmail file for it, as for an unlisted
		 * address (qmail-admin makes only .qmail-USER for a mailbox,
		 * so USER-EXT would bounce after being taken) */
		cutonly = r == 2;
	} else if (virtual) {
		str_free(&prefix);
		return 1;	/* no recipients list: no virtual checks */
	}
	/* the local part qmail-send would hand to qmail-lspawn */
	if ((virtual && (!str_copyb(&local, prefix.s, prefix.len) || !str_catc(&local, '-'))) ||
	    !str_catb(&local, addr, at)) {
		str_free(&prefix);
		str_free(&local);
		return -1;
	}
	str_lowerb(local.s, local.len);
	r = local_exists(local.s, local.len, virtual);
	/* a home qmail-smtpd may not look into (a system account's, say):
	 * there the list's word for the user stands, extensions and all */
	if (r == -1 && errno == EACCES && cutonly)
		r = 1;
	str_free(&prefix);
	str_free(&local);
	return r;
}
