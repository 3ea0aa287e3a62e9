/* qqfilter.c - reading a queue filter's input, running the next queue
 * program, and handing a new message to the queue; see qqfilter.h
 *
 * The envelope comes from our caller (qmail-smtpd, qmail-local, a
 * sendmail wrapper, a .qmail helper): it is checked only as far as the
 * filter needs it; qmail-queue checks the rest.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <string.h>
#include <unistd.h>

#include "auto.h"
#include "buf.h"
#include "die.h"
#include "env.h"
#include "qqfilter.h"
#include "sig.h"
#include "spawn.h"
#include "str.h"

int
qq_permanent(int code)
{
	return code >= 11 && code <= 40;
}

int
qq_readall(int fd, struct str *out)
{
	long r;

	for (;;) {
		if (!str_readyplus(out, 65536))
			return 0;
		r = fd_read(fd, out->s + out->len, 65536, 0);
		if (r == -1) {
			if (errno == EINTR || errno == EAGAIN)
				continue;
			return 0;
		}
		if (r == 0)
			return 1;
		out->len += (size_t)r;
	}
}

int
qq_envelope_sender(const char *env, size_t n, const char **s, size_t *len)
{
	size_t e;

	if (n < 2 || env[0] != 'F')
		return 0;
	e = str_chrb(env + 1, n - 1, 0);
	if (e == n - 1)
		return 0;
	*s = env + 1;
	*len = e;
	return 1;
}

int
qq_program(struct str *out)
{
	const char *q = env_get("QMAILQUEUE");

	if (q && *q)
		return str_copys(out, q) && str_nul(out);
	return str_copys(out, auto_home) && str_cats(out, "/bin/qmail-queue") && str_nul(out);
}

/* close_pair - both ends of a pipe, errno kept */
static void
close_pair(const int fd[2])
{
	int err = errno;

	(void)close(fd[0]);
	(void)close(fd[1]);
	errno = err;
}

pid_t
qq_spawn(const char *prog, int *mfd, int *efd)
{
	char *argv[2];
	int mp[2], ep[2], fd[3], null = -1, err;
	pid_t pid;

	argv[0] = (char *)prog;
	argv[1] = NULL;
	if (pipe_high(mp) == -1)
		return -1;
	if (pipe_high(ep) == -1) {
		close_pair(mp);
		return -1;
	}
	/* its descriptor 2 is ours; /dev/null when we have none, or it
	 * would open its files there and write its errors into them */
	if (fcntl(2, F_GETFD) == -1 && (null = open("/dev/null", O_WRONLY | O_CLOEXEC)) == -1) {
		close_pair(mp);
		close_pair(ep);
		return -1;
	}
	fd[0] = mp[0];
	fd[1] = ep[0];
	fd[2] = null == -1 ? 2 : null;
	pid = spawn(prog, argv, NULL, fd, 3);
	err = errno;
	/* our copies of the read ends: the child has its own */
	(void)close(mp[0]);
	(void)close(ep[0]);
	if (null != -1)
		(void)close(null);
	if (pid == -1) {
		(void)close(mp[1]);
		(void)close(ep[1]);
		errno = err;
		return -1;
	}
	*mfd = mp[1];
	*efd = ep[1];
	return pid;
}

int
qq_close(int mfd, int efd, const char *env, size_t envlen, int ok)
{
	int err = ok ? 0 : errno;

	if (close(mfd) == -1 && ok)
		ok = 0, err = errno;
	if (ok && !fd_writeall(efd, env, envlen, 0))
		ok = 0, err = errno;
	if (close(efd) == -1 && ok)
		ok = 0, err = errno;
	errno = err;
	return ok;
}

int
qq_reap(pid_t pid)
{
	int status;

	if (spawn_wait(pid, &status) == -1)
		return -1;
	if (spawn_exitcode(status) == -1)
		return QQ_SIGNALED + spawn_termsig(status);
	return spawn_exitcode(status);
}

const char *
qq_strerror(int code)
{
	if (code == 11)
		return "an address is too long";
	if (qq_permanent(code))
		return "the message was refused";
	if (code == 51)
		return "out of memory";
	if (code == 52)
		return "timeout";
	if (code == 53)
		return "write error or disk full";
	if (code == 54)
		return "unable to read the message or its envelope";
	if (code == 55)
		return "unable to read a configuration file";
	if (code >= 61 && code <= 66)
		return "trouble with the queue directory";
	if (code == 71)
		return "the message was refused for now";
	if (code == 81)
		return "internal bug";
	if (code == 91)
		return "envelope format error";
	return "temporary failure";
}

int
qq_failure(struct str *out, const char *prog, int code)
{
	out->len = 0;
	if (!str_cats(out, prog))
		return 0;
	if (code >= QQ_SIGNALED)
		return str_cats(out, " was killed by signal ") &&
		    str_catulong(out, (unsigned long)(code - QQ_SIGNALED)) && str_nul(out);
	return str_cats(out, " failed with exit code ") && str_catulong(out, (unsigned long)code) &&
	    str_cats(out, ": ") && str_cats(out, qq_strerror(code)) && str_nul(out);
}

int
qq_envelope(struct str *out, const char *sender, char *const *addr, int n)
{
	int i;

	out->len = 0;
	if (!str_catc(out, 'F') || !str_cats(out, sender) || !str_catc(out, 0))
		return 0;
	for (i = 0; i < n; i++)
		if (!str_catc(out, 'T') || !str_cats(out, addr[i]) || !str_catc(out, 0))
			return 0;
	return str_catc(out, 0);
}

int
qq_sendfd(pid_t pid, int mfd, int efd, int msgfd, const char *head, size_t headlen,
    const char *env, size_t envlen)
{
	char x[BUF_SIZE];
	int ok, rerr = 0, werr = 0, code;
	long r;

	ok = fd_writeall(mfd, head, headlen, 0);
	while (ok) {
		if ((r = fd_read(msgfd, x, sizeof x, 0)) == -1) {
			rerr = errno;
			ok = 0;
		} else if (r == 0)
			break;
		else
			ok = fd_writeall(mfd, x, (size_t)r, 0);
	}
	/* after a failed read no envelope follows: a queue program takes a
	 * message without its envelope for an error, so a cut message is
	 * never queued */
	if (!qq_close(mfd, efd, env, envlen, ok))
		werr = errno;
	code = qq_reap(pid);
	if (rerr)
		return errno = rerr, QQ_MSGREAD;
	if (code == 0 && werr)
		return errno = werr, -1;
	return code;
}

pid_t
qq_nextstart(int *mfd, int *efd)
{
	const char *prog = env_get("NEXTQUEUE");

	if (!prog || !*prog)
		prog = "bin/qmail-queue";
	/* one that dies early must not kill us with SIGPIPE: its exit
	 * code tells why */
	if (!sig_ignore(SIGPIPE))
		return -1;
	return qq_spawn(prog, mfd, efd);
}

int
qq_next(const char *const *part, const size_t *len, size_t nparts, const char *env, size_t envlen)
{
	int mfd, efd, code, ok = 1, err = 0;
	size_t i;
	pid_t pid;

	if ((pid = qq_nextstart(&mfd, &efd)) == -1)
		return -1;
	for (i = 0; ok && i < nparts; i++)
		ok = fd_writeall(mfd, part[i], len[i], 0);
	if (!qq_close(mfd, efd, env, envlen, ok))
		ok = 0, err = errno;
	/* a write that failed because it exited is told by its exit code */
	if ((code = qq_reap(pid)) == 0 && !ok) {
		errno = err;
		return -1;
	}
	return code;
}

void
qq_input(struct str *msg, struct str *env)
{
	if (!qq_readall(0, msg))
		die_sys(QQ_READ, "unable to read the message");
	if (!qq_readall(1, env))
		die_sys(QQ_READ, "unable to read the envelope");
}

int
qq_pass(const char *const *part, const size_t *len, size_t nparts, const char *env, size_t envlen)
{
	struct str why = STR_ZERO;
	int code = qq_next(part, len, nparts, env, envlen);

	if (code == -1)
		die_sys(QQ_REFUSE, "unable to run the next queue program");
	/* no exit code to pass on: refused for now */
	if (code >= QQ_SIGNALED) {
		if (!qq_failure(&why, "the next queue program", code))
			die(QQ_NOMEM, "out of memory");
		die(QQ_REFUSE, why.s);
	}
	return code;
}

pid_t
qq_forward(const char *sender, const char *dtline, char *const *addr, int n)
{
	struct str qq = STR_ZERO, env = STR_ZERO, why = STR_ZERO;
	int mfd, efd, code;
	pid_t pid;

	if (!qq_program(&qq) || !qq_envelope(&env, sender, addr, n))
		die_nomem();
	if (!sig_ignore(SIGPIPE))
		die_sys(EXIT_TEMP, "unable to ignore SIGPIPE");
	if ((pid = qq_spawn(qq.s, &mfd, &efd)) == -1)
		die_sys(EXIT_TEMP, "unable to run ", qq.s);
	code = qq_sendfd(pid, mfd, efd, 0, dtline, strlen(dtline), env.s, env.len);
	if (code == QQ_MSGREAD)
		die_sys(EXIT_TEMP, "unable to read the message");
	if (code == -1)
		die_sys(EXIT_TEMP, "unable to hand the message to ", qq.s);
	if (code != 0) {
		if (!qq_failure(&why, qq.s, code))
			die_nomem();
		die(qq_permanent(code) ? EXIT_PERM : EXIT_TEMP, why.s);
	}
	str_free(&qq);
	str_free(&env);
	return pid;
}
