/* account.h - where a local delivery goes: the account qmail-lspawn runs
 * qmail-local as for a local part (qmail-lspawn(8), qmail-users(5)), and
 * the .qmail files qmail-local then looks for in that account's home, in
 * their order (qmail-local(8), dot-qmail(5))
 *
 * qmail-lspawn and qmail-local deliver by these rules; qmail-smtpd's
 * recipient check (rcptcheck.h) asks the same questions, so that an
 * address it refuses at RCPT is one they would not deliver.  Local parts
 * are untrusted: they reach a file name only through account_qmailnext,
 * which never lets a slash through and turns dots into colons.
 */
#ifndef ACCOUNT_H
#define ACCOUNT_H

#include <stddef.h>
#include <sys/types.h>

#include "assign.h"
#include "str.h"

enum account_kind {
	ACCOUNT_ASSIGN = 1,	/* an entry of users/assign.cdb */
	ACCOUNT_PASSWD,		/* a system account */
	ACCOUNT_ALIAS		/* the alias user: nobody else took the name */
};

struct account {
	enum account_kind kind;
	struct str user, home, dash, ext;	/* NUL-terminated */
	uid_t uid;		/* ACCOUNT_ASSIGN and ACCOUNT_PASSWD only */
	gid_t gid;
};

#define ACCOUNT_ZERO { 0, STR_ZERO, STR_ZERO, STR_ZERO, STR_ZERO, 0, 0 }

/* account_find - the account for the local part local[0..n) (not empty),
 * in qmail-lspawn's order: users/assign.cdb (file assignfn, through db)
 * for every name; else, unless the name is root, postmaster or
 * mailer-daemon in any case, the system account named by the name in
 * lower case up to its first dash, when it is not uid 0 nor the vmail
 * user (in a single-user install: when it is the one login) and owns
 * its home, the rest of the name being the extension (dash "-" when
 * there is a dash); else the alias user (auto_users[AUTO_ALIAS]) with
 * home alias_home, dash "-" and the whole name as the extension.
 * Extensions keep the case they came in.  1, or -1 with errno when a
 * table could not be read (EINVAL: an assign entry's uid or gid does
 * not fit) or memory ran out. */
int account_find(struct assign_db *db, const char *assignfn, const char *local, size_t n,
    const char *alias_home, struct account *a);
void account_free(struct account *);

/* The .qmail file names qmail-local tries for an account's dash and
 * extension, in order: ".qmail" DASH EXT; then, only when the dash is
 * not empty, ".qmail" DASH PREFIX "default" for each PREFIX of EXT that
 * ends in a dash, the longest first, and last ".qmail" DASH "default".
 * EXT is in lower case with every dot turned into a colon.  The first
 * name that exists is followed; when none does, an empty dash means
 * defaultdelivery, a dash means there is no such address.
 *
 *	struct account_qmail q = ACCOUNT_QMAIL_ZERO;
 *	if (account_qmailinit(&q, dash, ext, n) == 1)
 *		while ((r = account_qmailnext(&q, &fn, &def)) > 0) ... fn.s
 *	account_qmailfree(&q);
 */
struct account_qmail {
	const char *dash;
	struct str ext;		/* lower case, dots as colons */
	size_t cut;		/* the -default names still to try end before ext[cut] */
	int state;		/* 0 the exact name next, 1 the -default names, 2 none left */
};

#define ACCOUNT_QMAIL_ZERO { 0, STR_ZERO, 0, 0 }

/* account_qmailinit - 1 ready; 0 when ext[0..n) holds a slash or a NUL
 * byte, which no .qmail file name can hold (the address does not exist);
 * -1 out of memory.  dash is kept, not copied. */
int account_qmailinit(struct account_qmail *, const char *dash, const char *ext, size_t n);
/* account_qmailnext - the next name into fn, NUL-terminated: 1 the
 * exact name ".qmail" DASH EXT; 2 a "default" name, *def then the
 * offset in ext of the part "default" stands for (qmail-local's
 * $DEFAULT); 0 no name left; -1 out of memory */
int account_qmailnext(struct account_qmail *, struct str *fn, size_t *def);
void account_qmailfree(struct account_qmail *);

#endif
