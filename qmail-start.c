/* qmail-start - starts qmail-send and its helpers, connected by pipes
 *
 *	qmail-start defaultdelivery [logger args...]
 *
 * Run as root by supervise (or by the one login of a single-user install).
 * It starts qmail-send as qmails, qmail-lspawn as root, qmail-rspawn as
 * qmailr and qmail-clean as qmailq, each pair joined by two pipes, and
 * stays in the foreground.  Their log lines go to descriptor 1, or to the
 * logger program (run as qmaill) when one is named.  SIGTERM, SIGHUP and
 * SIGALRM are passed to qmail-send.  When qmail-send exits the helpers see
 * the end of their input and finish; qmail-start exits once all have, 0
 * when qmail-send did, 111 otherwise.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <string.h>
#include <unistd.h>

#include "auto.h"
#include "die.h"
#include "env.h"
#include "priv.h"
#include "sig.h"
#include "spawn.h"
#include "str.h"

static volatile sig_atomic_t pending[3];
static const int passed[3] = { SIGTERM, SIGHUP, SIGALRM };

static void
on_signal(int sig)
{
	int i;

	for (i = 0; i < 3; i++)
		if (passed[i] == sig)
			pending[i] = 1;
}

/* on_child - SIGCHLD is caught only so that it ends sig_pause() */
static void
on_child(int sig)
{
	(void)sig;
}

/* which - the logger's path: as given when it holds a slash, else the
 * first executable of that name in $PATH */
static void
which(const char *prog, struct str *out)
{
	const char *p = env_get("PATH");
	size_t n, plen = strlen(prog);

	if (str_chrb(prog, plen, '/') < plen || p == NULL) {
		if (!str_copys(out, prog) || !str_nul(out))
			die_nomem();
		return;
	}
	for (;;) {
		n = str_chrb(p, strlen(p), ':');
		out->len = 0;
		if (!str_catb(out, n ? p : ".", n ? n : 1) || !str_catc(out, '/') ||
		    !str_cats(out, prog) || !str_nul(out))
			die_nomem();
		if (access(out->s, X_OK) == 0)
			return;
		if (p[n] != ':')
			break;
		p += n + 1;
	}
	die(EXIT_TEMP, "unable to find the logger ", prog, " in $PATH");
}

/* run - start HOME/bin/prog as user (an AUTO_ index, -1 root) */
static pid_t
run(const char *prog, char *const *argv, const int *fd, int nfd, int user)
{
	struct str path = STR_ZERO;
	uid_t uid = 0;
	gid_t gid = 0;
	pid_t pid;

	if (!auto_single) {
		if (user >= 0 && priv_user(auto_users[user], &uid, &gid) != 1)
			die(EXIT_TEMP, "unable to find the user ", auto_users[user]);
		if (priv_group(auto_users[user == AUTO_QMAILL ? AUTO_GNOFILES : AUTO_GQMAIL], &gid) != 1)
			die(EXIT_TEMP, "unable to find a group of conf-users");
	}
	if (user == AUTO_QMAILL)
		which(prog, &path);
	else if (!str_cats(&path, auto_home) || !str_cats(&path, "/bin/") ||
	    !str_cats(&path, prog) || !str_nul(&path))
		die_nomem();
	pid = priv_spawn(path.s, argv, fd, nfd, !auto_single, uid, gid, NULL);
	if (pid == -1)
		die_sys(EXIT_TEMP, "unable to start ", path.s);
	str_free(&path);
	return pid;
}

/* pipes - one pipe, above 2: started with 1 or 2 closed, we would find
 * it there and hand it to every child as its log, qmail-lspawn its own
 * input's write end; our closed 1 or 2 makes the start fail instead */
static void
pipes(int p[2])
{
	if (pipe_high(p) == -1)
		die_sys(EXIT_TEMP, "unable to create a pipe");
}

int
main(int argc, char **argv)
{
	int l[2], la[2], r[2], ra[2], c[2], ca[2], lg[2], fd[9], i, st, code = EXIT_TEMP;
	char *av[3];
	pid_t send, pid;
	int alive = 0, logger = argc > 2, null;

	die_init(argv[0]);
	if (argc < 2 || argv[1][0] == 0)
		die(EXIT_PERM, "usage: qmail-start defaultdelivery [logger args...]");
	if (chdir(auto_home) == -1)
		die_sys(EXIT_TEMP, "unable to chdir to ", auto_home);
	/* The signals passed on, and SIGCHLD, stay blocked except while the
	 * main loop waits in sig_pause(): their handlers run only there, so
	 * none can come between the look at pending[] and the wait and sit
	 * there unseen until a child happens to exit.  A signal that comes
	 * at any other moment is held, and ends the next wait at once.
	 * Children start with no signal blocked (spawn.h; priv_spawn's fork
	 * does the same). */
	for (i = 0; i < 3; i++)
		if (!sig_block(passed[i]) || !sig_catch(passed[i], on_signal))
			die_sys(EXIT_TEMP, "unable to set signals");
	if (!sig_block(SIGCHLD) || !sig_catch(SIGCHLD, on_child) || !sig_ignore(SIGPIPE))
		die_sys(EXIT_TEMP, "unable to set signals");
	if (logger) {
		pipes(lg);
		fd[0] = lg[0], fd[1] = 1, fd[2] = 2;
		(void)run(argv[2], argv + 2, fd, 3, AUTO_QMAILL);
		alive++;
		(void)close(lg[0]);	/* the logger's end */
		if (dup2(lg[1], 1) == -1 || dup2(lg[1], 2) == -1)
			die_sys(EXIT_TEMP, "unable to use the logger pipe");
		(void)close(lg[1]);	/* copied to 1 and 2 */
	}
	pipes(l), pipes(la), pipes(r), pipes(ra), pipes(c), pipes(ca);

	av[0] = "qmail-lspawn", av[1] = argv[1], av[2] = NULL;
	fd[0] = l[0], fd[1] = la[1], fd[2] = 2;
	(void)run("qmail-lspawn", av, fd, 3, -1);
	av[0] = "qmail-rspawn", av[1] = NULL;
	fd[0] = r[0], fd[1] = ra[1];
	(void)run("qmail-rspawn", av, fd, 3, AUTO_QMAILR);
	av[0] = "qmail-clean";
	fd[0] = c[0], fd[1] = ca[1];
	(void)run("qmail-clean", av, fd, 3, AUTO_QMAILQ);
	av[0] = "qmail-send";
	if ((null = open("/dev/null", O_RDONLY | O_CLOEXEC)) == -1)
		die_sys(EXIT_TEMP, "unable to open /dev/null");
	fd[0] = null, fd[1] = 1, fd[2] = 2;
	fd[3] = l[1], fd[4] = la[0], fd[5] = r[1], fd[6] = ra[0], fd[7] = c[1], fd[8] = ca[0];
	send = run("qmail-send", av, fd, 9, AUTO_QMAILS);
	alive += 4;
	/* only the children hold the pipes now, so each sees the others go */
	(void)close(l[0]), (void)close(l[1]), (void)close(la[0]), (void)close(la[1]);
	(void)close(r[0]), (void)close(r[1]), (void)close(ra[0]), (void)close(ra[1]);
	(void)close(c[0]), (void)close(c[1]), (void)close(ca[0]), (void)close(ca[1]);
	if (logger) {
		/* the logger ends when every writer has gone, us included */
		(void)close(1);
		(void)close(2);
	}
	(void)close(null);	/* qmail-send has its copy */
	while (alive > 0) {
		for (i = 0; i < 3; i++)
			if (pending[i]) {
				pending[i] = 0;
				if (send != 0)
					(void)kill(send, passed[i]);	/* it may have gone */
			}
		pid = waitpid(-1, &st, WNOHANG);
		if (pid == 0) {
			sig_pause();	/* until a signal, or a child's exit, is handled */
			continue;
		}
		if (pid == -1) {
			if (errno != EINTR)
				break;
			continue;
		}
		alive--;
		if (pid == send) {
			send = 0;
			code = spawn_exitcode(st) == 0 ? 0 : EXIT_TEMP;
		}
	}
	return code;
}
