/* vpasswd.h - virtual mailbox users: names, the vpasswd file and its
 * cdb, password hashes (see vpasswd(5))
 *
 * domains/DOMAIN/vpasswd holds one line per mailbox,
 *	user:hash:quota
 * user is the lower-case local part, hash a crypt(3) string, quota the
 * mailbox limit in bytes (empty: none).  Fields after the third are
 * kept and ignored.  vpasswd.cdb maps user to "hash:quota...", the
 * line less "user:".  Logins, passwords and cdb contents are untrusted.
 */
#ifndef VPASSWD_H
#define VPASSWD_H

#include <stddef.h>

#include "str.h"

#define VPASSWD_USERMAX 64
#define VPASSWD_DOMAINMAX 253
#define VPASSWD_PASSMAX 256

/* vpasswd_user_ok - 1 when u[0..n) is a mailbox name: 1 to 64 of
 * a-z 0-9 . _ -, not starting with . or -, no "..", no final . */
int vpasswd_user_ok(const char *u, size_t n);
/* vpasswd_domain_ok - 1 when d[0..n) is a lower-case domain name:
 * labels of a-z 0-9 - (not first or last), 1 to 63 each, 253 in all */
int vpasswd_domain_ok(const char *d, size_t n);

/* vpasswd_split - the fields of one line (no newline): 1, or 0 when it
 * is not user:hash[:quota[:...]] with a valid user and hash; quota is 0
 * when empty */
int vpasswd_split(const char *line, size_t n, size_t *ulen,
    const char **hash, size_t *hlen, unsigned long *quota);

/* vpasswd_lookup - the hash (NUL-terminated) and quota of user in the
 * cdb file fn: 1 found, 0 not found (or no cdb), -1 error with errno */
int vpasswd_lookup(const char *fn, const char *user, size_t n,
    struct str *hash, unsigned long *quota);

/* vpasswd_hash - a SHA-512 crypt(3) hash of pw with a random salt from
 * getrandom(2), NUL-terminated in out: 1, or 0 with errno */
int vpasswd_hash(const char *pw, struct str *out);

/* vpasswd_check - 1 when pw matches hash, 0 when not, -1 when crypt
 * fails.  hash NULL (unknown user) costs the same as a wrong password
 * and gives 0.  The comparison takes the same time wherever it differs. */
int vpasswd_check(const char *pw, const char *hash);
/* vpasswd_verify - vpasswd_check, and *unknown 1 when hash is of a
 * method this program's crypt(3) does not know (it then matches no
 * password), else 0.  A lock, a hash starting with ! or *, is none. */
int vpasswd_verify(const char *pw, const char *hash, int *unknown);
/* vpasswd_usable - 1 when the build's qmail-auth can check hash, or
 * hash is a lock; 0 when it matches no password for want of a method
 * (the static musl build knows fewer, see vpasswd(5)).  Told by the
 * method its prefix names, without hashing (so at once, whatever cost
 * the hash asks for), not by its form; a program that leaves out
 * methods the rest of its build keeps (qmail-admin, linked with SHA-512
 * alone) knows those too. */
int vpasswd_usable(const char *hash);

#endif
