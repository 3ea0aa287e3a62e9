/* qmail-lspawn - runs qmail-local for each local delivery qmail-send asks for
 *
 * Started by qmail-start, as root in a multi-user install (it must become
 * each recipient), as the one login in a single-user install.  Requests
 * and answers follow spawner.h; a request's fields after slot and id are
 *	"F" sender NUL "T" recipient NUL
 * with the recipient already rewritten by control/virtualdomains.  The
 * recipient's local part is looked up in users/assign.cdb, then in the
 * passwd database (user up to the first dash, extension the rest); root,
 * postmaster, mailer-daemon without an assign entry and unknown local
 * parts go to the alias user, whose home is HOME/alias (account.h, which
 * qmail-smtpd's recipient check follows too).  qmail-local runs as
 *	qmail-local user homedir local dash ext domain sender defaultdelivery
 * under that uid and gid, in the home directory, message on descriptor 0.
 * The requests are qmail-send's; the users database is the administrator's.
 */
#include <errno.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "account.h"
#include "assign.h"
#include "auto.h"
#include "control.h"
#include "die.h"
#include "priv.h"
#include "qfile.h"
#include "sig.h"
#include "spawn.h"
#include "spawner.h"
#include "str.h"

#define DELIVERY_SLACK 300	/* seconds a delivery may take past timeoutcommand */

struct ctx {
	char *defaultdelivery;
	struct str local_bin;	/* HOME/bin/qmail-local */
	struct str alias_home;	/* HOME/alias */
	struct assign_db db;	/* users/assign.cdb, kept open while unchanged */
};

static size_t
rcpts(void *ctx, char **f, size_t nf)
{
	(void)ctx;
	return nf == 2 && f[0][0] == 'F' && f[1][0] == 'T' ? 1 : 0;
}

/* fail - the answer for a delivery that cannot start */
static int
fail(struct str *res, char letter, const char *why)
{
	if (!spawner_record(res, letter, why, str_chrb(why, 1000, 0)))
		die_nomem();
	return 0;
}

static int
start(void *vctx, char **f, size_t nf, int msgfd, int outfd, pid_t *pid, struct str *res)
{
	struct ctx *c = vctx;
	struct account w = ACCOUNT_ZERO;
	struct str local = STR_ZERO, domain = STR_ZERO;
	const char *rcpt = f[1] + 1;
	char *argv[10];
	size_t n = str_chrb(rcpt, QFILE_ADDRMAX + 1, 0), at = str_rchrb(rcpt, n, '@');
	int r = 0, fd[3];

	(void)nf;
	if (!str_copyb(&local, rcpt, at) || !str_nul(&local) ||
	    !str_copyb(&domain, at < n ? rcpt + at + 1 : "", at < n ? n - at - 1 : 0) ||
	    !str_nul(&domain))
		die_nomem();
	if (local.len == 0) {
		r = fail(res, 'D', "empty local part");
		goto out;
	}
	/* users/assign, a system account, else the alias user (account.h) */
	r = account_find(&c->db, "users/assign.cdb", local.s, local.len, c->alias_home.s, &w);
	if (r == 1 && w.kind == ACCOUNT_ALIAS)
		r = priv_user(w.user.s, &w.uid, &w.gid);
	if (r != 1) {
		r = fail(res, 'Z', r == 0 ? "the alias user does not exist" :
		    "unable to look up the recipient's account");
		goto out;
	}
	if (!auto_single && w.uid == 0) {
		r = fail(res, 'Z', "refusing to deliver as root: fix users/assign");
		goto out;
	}
	if (w.user.s[0] == '-') {
		r = fail(res, 'Z', "a user name may not start with a dash");
		goto out;
	}
	argv[0] = "qmail-local";
	argv[1] = w.user.s;
	argv[2] = w.home.s;
	argv[3] = local.s;
	argv[4] = w.dash.s;
	argv[5] = w.ext.s;
	argv[6] = domain.s;
	argv[7] = f[0] + 1;
	argv[8] = c->defaultdelivery;
	argv[9] = NULL;
	fd[0] = msgfd;
	fd[1] = outfd;
	/* not our stderr, qmail-send's log: a program of the user's could
	 * take qmail-local's descriptor and write lines into the log */
	fd[2] = outfd;
	/* qmail-local changes to the home directory itself, first thing:
	 * without a uid to change, spawn() can then use posix_spawn, much
	 * cheaper than the fork priv_spawn needs for a change of uid */
	*pid = priv_spawn(c->local_bin.s, argv, fd, 3, !auto_single, w.uid, w.gid,
	    auto_single ? NULL : w.home.s);
	if (*pid == -1)
		r = fail(res, 'Z', "unable to start qmail-local");
	else
		r = 1;
out:
	account_free(&w);
	str_free(&local);
	str_free(&domain);
	return r;
}

static void
finish(void *ctx, char **f, size_t nf, int status, int overdue, const char *out, size_t n,
    struct str *res)
{
	struct str crash = STR_ZERO;
	char letter = 'Z';
	int code = spawn_exitcode(status);

	(void)ctx, (void)f, (void)nf;
	if (code == 0)
		letter = 'K';
	else if (code == 100)
		letter = 'D';
	if (code == -1 && !overdue) {
		/* killed between writing its report and exiting, it may have
		 * said "delivered: ...": the deferral says first what
		 * happened to it */
		if (!spawner_crash(&crash, "qmail-local", status, out, n))
			die_nomem();
		out = crash.s, n = crash.len;
	} else if (n == 0 && code != 0)
		out = "qmail-local failed without saying why", n = 37;
	if (!spawner_record(res, letter, out, n))
		die_nomem();
	str_free(&crash);
}

int
main(int argc, char **argv)
{
	static const struct spawner_ops ops = { rcpts, start, finish };
	struct ctx c;
	unsigned long tcommand;
	int r;

	die_init(argv[0]);
	if (argc < 2 || argv[1][0] == 0)
		die(EXIT_PERM, "usage: qmail-lspawn defaultdelivery");
	c.defaultdelivery = argv[1];
	c.local_bin = c.alias_home = (struct str)STR_ZERO;
	assign_dbinit(&c.db);
	/* qmail-send ends us by closing the pipe, not by a signal */
	if (!sig_helper())
		die_sys(EXIT_TEMP, "unable to set signals");
	if (chdir(auto_home) == -1)
		die_sys(EXIT_TEMP, "unable to chdir to ", auto_home);
	if (!str_cats(&c.local_bin, auto_home) || !str_cats(&c.local_bin, "/bin/qmail-local") ||
	    !str_nul(&c.local_bin) || !str_cats(&c.alias_home, auto_home) ||
	    !str_cats(&c.alias_home, "/alias") || !str_nul(&c.alias_home))
		die_nomem();
	/* qmail-local enforces control/timeoutcommand, but it runs as the
	 * user, who can stop it: the whole delivery gets twice that long,
	 * at most 5 minutes more, then is killed from here */
	if ((r = control_readulong("control/timeoutcommand", &tcommand)) == -1)
		die_sys(EXIT_TEMP, "unable to read control/timeoutcommand");
	if (r == 0)
		tcommand = CONTROL_TIMEOUTCOMMAND;
	return spawner_run(&ops, &c, tcommand == 0 ? 0 :
	    tcommand + (tcommand < DELIVERY_SLACK ? tcommand : DELIVERY_SLACK));
}
