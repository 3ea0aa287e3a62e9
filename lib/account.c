/* account.c - the account and the .qmail file names for a local
 * delivery; see account.h
 *
 * The local part comes from a queued recipient (qmail-lspawn) or from
 * an SMTP client (qmail-smtpd's RCPT check): untrusted.  It is used as
 * a cdb key, as a getpwnam() name, and in a file name only through
 * account_qmailnext.
 */
#include <errno.h>
#include <pwd.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "account.h"
#include "assign.h"
#include "auto.h"
#include "str.h"

static int
set(struct str *s, const char *v, size_t n)
{
	return str_copyb(s, v, n) && str_nul(s);
}

/* by_assign - 1 found in users/assign.cdb, 0 not there, -1 error */
static int
by_assign(struct assign_db *db, const char *fn, const char *local, size_t n, struct account *a)
{
	struct assign e = ASSIGN_ZERO;
	int r, err;

	if ((r = assign_dblookup(db, fn, local, n, &e)) == 1) {
		a->uid = (uid_t)e.uid;
		a->gid = (gid_t)e.gid;
		if ((unsigned long)a->uid != e.uid || (unsigned long)a->gid != e.gid)
			r = -1, errno = EINVAL;
		else if (!set(&a->user, e.user.s, e.user.len) || !set(&a->home, e.home.s, e.home.len) ||
		    !set(&a->dash, e.dash.s, e.dash.len) || !set(&a->ext, e.ext.s, e.ext.len))
			r = -1;
	}
	err = errno;
	assign_free(&e);
	errno = err;
	return r;
}

/* is_special - the names only users/assign or the alias user take */
static int
is_special(const char *l, size_t n)
{
	return (n == 4 && str_caseeqb(l, "root", 4)) || (n == 10 && str_caseeqb(l, "postmaster", 10)) ||
	    (n == 13 && str_caseeqb(l, "mailer-daemon", 13));
}

/* by_passwd - the system account named by the local part up to its first
 * dash, in lower case; 1, 0 none, -1 error */
static int
by_passwd(const char *local, size_t n, struct account *a)
{
	struct passwd *pw;
	struct stat st;
	size_t d = str_chrb(local, n, '-');

	if (d == 0)
		return 0;
	if (!set(&a->user, local, d))
		return -1;
	if (strlen(a->user.s) != d)
		return 0;	/* a NUL byte: no login has one */
	str_lowerb(a->user.s, d);
	errno = 0;
	if ((pw = getpwnam(a->user.s)) == NULL)
		return errno == 0 || errno == ENOENT || errno == ESRCH ? 0 : -1;
	/* the account must be able to receive: it owns its home, and in a
	 * single-user install it is the one login; vmail owns domains/ but
	 * is no mailbox */
	if (auto_single ? pw->pw_uid != getuid() : pw->pw_uid == 0 ||
	    !strcmp(pw->pw_name, auto_users[AUTO_VMAIL]))
		return 0;
	if (stat(pw->pw_dir, &st) == -1)
		return errno == ENOENT || errno == ENOTDIR ? 0 : -1;
	if (st.st_uid != pw->pw_uid)
		return 0;
	a->uid = pw->pw_uid;
	a->gid = pw->pw_gid;
	if (!set(&a->home, pw->pw_dir, strlen(pw->pw_dir)) ||
	    !set(&a->dash, "-", d < n ? 1 : 0) ||
	    !set(&a->ext, d < n ? local + d + 1 : "", d < n ? n - d - 1 : 0))
		return -1;
	return 1;
}

int
account_find(struct assign_db *db, const char *assignfn, const char *local, size_t n,
    const char *alias_home, struct account *a)
{
	const char *u = auto_users[AUTO_ALIAS];
	int r;

	a->uid = 0;
	a->gid = 0;
	/* users/assign first, for every name (qmail-users(5)); root,
	 * postmaster and mailer-daemon are never system accounts */
	a->kind = ACCOUNT_ASSIGN;
	if ((r = by_assign(db, assignfn, local, n, a)) != 0)
		return r;
	a->kind = ACCOUNT_PASSWD;
	if (!is_special(local, n) && (r = by_passwd(local, n, a)) != 0)
		return r;
	a->kind = ACCOUNT_ALIAS;
	if (!set(&a->user, u, strlen(u)) || !set(&a->home, alias_home, strlen(alias_home)) ||
	    !set(&a->dash, "-", 1) || !set(&a->ext, local, n))
		return -1;
	return 1;
}

void
account_free(struct account *a)
{
	str_free(&a->user);
	str_free(&a->home);
	str_free(&a->dash);
	str_free(&a->ext);
}

int
account_qmailinit(struct account_qmail *q, const char *dash, const char *ext, size_t n)
{
	size_t i;

	q->dash = dash;
	q->state = 0;
	if (str_chrb(ext, n, '/') < n || str_chrb(ext, n, 0) < n)
		return 0;
	if (!str_copyb(&q->ext, ext, n))
		return -1;
	/* file names: lower case, dots as colons (so no ".." ever) */
	str_lowerb(q->ext.s, q->ext.len);
	for (i = 0; i < q->ext.len; i++)
		if (q->ext.s[i] == '.')
			q->ext.s[i] = ':';
	q->cut = q->ext.len;
	return 1;
}

int
account_qmailnext(struct account_qmail *q, struct str *fn, size_t *def)
{
	size_t i;

	if (q->state == 2)
		return 0;
	if (!str_copys(fn, ".qmail") || !str_cats(fn, q->dash))
		return -1;
	if (q->state == 0) {
		q->state = *q->dash ? 1 : 2;
		return str_cat(fn, &q->ext) && str_nul(fn) ? 1 : -1;
	}
	/* ext "a-b-c": .qmail-a-b-default, .qmail-a-default, .qmail-default */
	for (i = q->cut; i > 0 && q->ext.s[i - 1] != '-'; i--)
		;
	if (i > 0) {
		q->cut = i - 1;
		*def = i;
		if (!str_catb(fn, q->ext.s, i))
			return -1;
	} else {
		q->state = 2;
		*def = 0;
	}
	return str_cats(fn, "default") && str_nul(fn) ? 2 : -1;
}

void
account_qmailfree(struct account_qmail *q)
{
	str_free(&q->ext);
}
