/* vpasswd.c - virtual mailbox users; see vpasswd.h
 *
 * Run by qmail-auth (with a login and password from the network) and
 * qmail-admin.  Passwords are hashed only with crypt(3); no plaintext
 * is ever written.
 */
#include <errno.h>
#include <string.h>
#include <sys/random.h>
#include <unistd.h>

#include "lcdb.h"
#include "vpasswd.h"

/* a salt that matches no hash: unknown users go through the same work */
#define DUMMY_SALT "$6$LanmailNoUser.$"

static int
lowalnum(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
}

int
vpasswd_user_ok(const char *u, size_t n)
{
	size_t i;

	if (n == 0 || n > VPASSWD_USERMAX || u[0] == '.' || u[0] == '-' ||
	    u[n - 1] == '.')
		return 0;
	for (i = 0; i < n; i++) {
		if (lowalnum(u[i]) || u[i] == '_' || u[i] == '-')
			continue;
		if (u[i] == '.' && u[i + 1 < n ? i + 1 : i] != '.')
			continue;
		return 0;
	}
	return 1;
}

int
vpasswd_domain_ok(const char *d, size_t n)
{
	size_t i, start = 0;

	if (n == 0 || n > VPASSWD_DOMAINMAX)
		return 0;
	for (i = 0; i <= n; i++) {
		if (i < n && d[i] != '.') {
			if (!lowalnum(d[i]) && d[i] != '-')
				return 0;
			continue;
		}
		/* a label d[start..i) */
		if (i == start || i - start > 63 || d[start] == '-' ||
		    d[i - 1] == '-')
			return 0;
		start = i + 1;
	}
	return 1;
}

/* hash_ok - crypt(3) strings are printable and hold no field separator */
static int
hash_ok(const char *h, size_t n)
{
	size_t i;

	if (n == 0 || n > 512)
		return 0;
	for (i = 0; i < n; i++)
		if (h[i] <= ' ' || h[i] > '~' || h[i] == ':')
			return 0;
	return 1;
}

/* quota_scan - empty is 0 (none), otherwise decimal bytes */
static int
quota_scan(const char *q, size_t n, unsigned long *quota)
{
	if (n == 0)
		return *quota = 0, 1;
	return scan_ulong(q, n, quota);
}

int
vpasswd_split(const char *line, size_t n, size_t *ulen,
    const char **hash, size_t *hlen, unsigned long *quota)
{
	size_t u, h, q;

	u = str_chrb(line, n, ':');
	if (u == n || !vpasswd_user_ok(line, u))
		return 0;
	h = str_chrb(line + u + 1, n - u - 1, ':');
	if (!hash_ok(line + u + 1, h))
		return 0;
	*ulen = u;
	*hash = line + u + 1;
	*hlen = h;
	*quota = 0;
	if (u + 1 + h == n)
		return 1;
	q = str_chrb(line + u + h + 2, n - u - h - 2, ':');
	return quota_scan(line + u + h + 2, q, quota);
}

int
vpasswd_lookup(const char *fn, const char *user, size_t n,
    struct str *hash, unsigned long *quota)
{
	struct str val = STR_ZERO;
	size_t h, q;
	int r;

	if (!vpasswd_user_ok(user, n))
		return 0;
	if ((r = lcdb_lookup(fn, user, n, &val)) != 1)
		goto done;
	h = str_chrb(val.s, val.len, ':');
	r = -1;
	errno = EINVAL;		/* a damaged cdb */
	if (!hash_ok(val.s, h))
		goto done;
	*quota = 0;
	if (h < val.len) {
		q = str_chrb(val.s + h + 1, val.len - h - 1, ':');
		if (!quota_scan(val.s + h + 1, q, quota))
			goto done;
	}
	if (!str_copyb(hash, val.s, h) || !str_nul(hash))
		goto done;
	r = 1;
done:
	str_free(&val);
	return r;
}

/* libxcrypt's salt maker; musl's headers do not declare it */
char *crypt_gensalt_rn(const char *prefix, unsigned long count, const char *rbytes,
    int nrbytes, char *out, int outlen);

int
vpasswd_hash(const char *pw, struct str *out)
{
	char rnd[16], salt[64];	/* enough for the longest salt, 16 characters */
	const char *h;
	size_t got = 0;
	ssize_t r;

	while (got < sizeof rnd) {
		r = getrandom(rnd + got, sizeof rnd - got, 0);
		if (r == -1) {
			if (errno == EINTR)
				continue;
			return 0;
		}
		got += (size_t)r;
	}
	/* the default rounds: no rounds= in the setting */
	if (crypt_gensalt_rn("$6$", 0, rnd, (int)sizeof rnd, salt, (int)sizeof salt) == NULL)
		return 0;
	errno = 0;
	h = crypt(pw, salt);
	if (h == NULL || h[0] != '$' || !hash_ok(h, strlen(h)))
		return errno = errno ? errno : EINVAL, 0;
	return str_copys(out, h) && str_nul(out);
}

int
vpasswd_verify(const char *pw, const char *hash, int *unknown)
{
	const char *c;
	unsigned char diff;
	size_t n, m, i;

	*unknown = 0;
	errno = 0;
	c = crypt(pw, hash ? hash : DUMMY_SALT);
	/* a hash crypt cannot use (a locked "!" entry) matches nothing;
	 * "*0" is libxcrypt's failure token */
	if (c == NULL || *c == '*') {
		if (c == NULL && errno == ENOMEM)
			return -1;
		*unknown = hash && *hash != '!' && *hash != '*';
		return 0;
	}
	if (hash == NULL)
		return 0;
	n = strlen(c);
	m = strlen(hash);
	/* every byte is looked at, whatever differs first */
	diff = n != m;
	for (i = 0; i < n; i++)
		diff |= (unsigned char)(c[i] ^ hash[i < m ? i : 0]);
	return diff == 0;
}

int
vpasswd_check(const char *pw, const char *hash)
{
	int unknown;

	return vpasswd_verify(pw, hash, &unknown);
}

int
vpasswd_usable(const char *hash)
{
	/* the bytes a salt is made of: any will do, it is thrown away */
	char rnd[16] = { 0 }, salt[192];

	if (*hash == '!' || *hash == '*')
		return 1;
	/* the method's salt maker answers for it, without the hashing,
	 * which a hash's own cost setting can make last for hours.  $2x$
	 * (old bcrypt hashes, checked, never made) has none: bcrypt's code
	 * checks it, and $2b$ answers for that. */
	if (strncmp(hash, "$2x$", 4) == 0)
		hash = "$2b$";
	errno = 0;
	/* ENOSYS: a method this program leaves out and the rest of its
	 * build keeps (musl/trim.c) */
	return crypt_gensalt_rn(hash, 0, rnd, (int)sizeof rnd, salt, (int)sizeof salt) != NULL ||
	    errno == ENOSYS;
}
