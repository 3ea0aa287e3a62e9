/* qqfilter.c - reading a queue filter's input and running the next
 * queue program; see qqfilter.h
 *
 * The envelope comes from our caller (qmail-smtpd, qmail-local, a
 * sendmail wrapper): it is checked only as far as the filter needs it;
 * qmail-queue checks the rest.
 */
#include <errno.h>
#include <signal.h>
#include <unistd.h>

#include "buf.h"
#include "die.h"
#include "env.h"
#include "qqfilter.h"
#include "spawn.h"
#include "str.h"

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
qq_next(const char *const *part, const size_t *len, size_t nparts, const char *env, size_t envlen)
{
	static char qqdefault[] = "bin/qmail-queue";
	const char *prog = env_get("NEXTQUEUE");
	char *argv[2];
	int mp[2], ep[2], fd[2], status, ok = 1, err = 0;
	struct sigaction sa, old;
	size_t i;
	pid_t pid;

	if (!prog || !*prog)
		prog = qqdefault;
	argv[0] = (char *)prog;
	argv[1] = NULL;
	if (pipe_cloexec(mp) == -1)
		return -1;
	if (pipe_cloexec(ep) == -1) {
		err = errno;
		(void)close(mp[0]);
		(void)close(mp[1]);
		errno = err;
		return -1;
	}
	/* a queue program that dies early must not kill us with SIGPIPE */
	sa.sa_handler = SIG_IGN;
	sa.sa_flags = 0;
	sigemptyset(&sa.sa_mask);
	if (sigaction(SIGPIPE, &sa, &old) == -1)
		ok = 0, err = errno;
	fd[0] = mp[0];
	fd[1] = ep[0];
	pid = ok ? spawn(prog, argv, NULL, fd, 2) : -1;
	if (pid == -1 && ok)
		err = errno, ok = 0;
	/* our copies of the read ends: the child has its own */
	(void)close(mp[0]);
	(void)close(ep[0]);
	for (i = 0; ok && i < nparts; i++)
		if (!fd_writeall(mp[1], part[i], len[i], 0))
			ok = 0, err = errno;
	if (close(mp[1]) == -1 && ok)
		ok = 0, err = errno;
	if (ok && !fd_writeall(ep[1], env, envlen, 0))
		ok = 0, err = errno;
	if (close(ep[1]) == -1 && ok)
		ok = 0, err = errno;
	if (pid == -1) {
		errno = err;
		return -1;
	}
	if (spawn_wait(pid, &status) == -1)
		return -1;
	/* a write that failed because it exited is told by its exit code */
	if (spawn_exitcode(status) == -1) {
		errno = EINTR;
		return -1;
	}
	if (!ok && spawn_exitcode(status) == 0) {
		errno = err;
		return -1;
	}
	return spawn_exitcode(status);
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
	int code = qq_next(part, len, nparts, env, envlen);

	if (code == -1)
		die_sys(QQ_REFUSE, "unable to run the next queue program");
	return code;
}
