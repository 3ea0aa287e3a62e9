/* priv.c - children under another uid; see priv.h */
#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <signal.h>
#include <unistd.h>

#include "priv.h"
#include "spawn.h"

int
priv_user(const char *name, uid_t *uid, gid_t *gid)
{
	struct passwd *pw;

	errno = 0;
	if ((pw = getpwnam(name)) == NULL)
		return errno == 0 || errno == ENOENT || errno == ESRCH ? 0 : -1;
	*uid = pw->pw_uid;
	*gid = pw->pw_gid;
	return 1;
}

int
priv_group(const char *name, gid_t *gid)
{
	struct group *gr;

	errno = 0;
	if ((gr = getgrnam(name)) == NULL)
		return errno == 0 || errno == ENOENT || errno == ESRCH ? 0 : -1;
	*gid = gr->gr_gid;
	return 1;
}

int
priv_drop(uid_t uid, gid_t gid)
{
	if (setgroups(1, &gid) == -1 || setgid(gid) == -1 || setuid(uid) == -1)
		return 0;
	/* root's setuid sets the real, effective and saved uids: were one
	 * left, root could come back */
	if (uid != 0 && setuid(0) != -1)
		return errno = EPERM, 0;
	if (getuid() != uid || geteuid() != uid || getgid() != gid || getegid() != gid)
		return errno = EPERM, 0;
	return 1;
}

pid_t
priv_spawn(const char *path, char *const argv[], const int *fd, int nfd,
    int change, uid_t uid, gid_t gid, const char *dir)
{
	extern char **environ;
	int base = 0, i;
	pid_t pid;

	if (!change && dir == NULL)
		return spawn(path, argv, NULL, fd, nfd);
	for (i = 0; i < nfd; i++)
		if (fd[i] >= base)
			base = fd[i] + 1;
	if (base < nfd)
		base = nfd;
	if ((pid = fork()) == -1)
		return -1;
	if (pid != 0)
		return pid;
	/* the child: only async-signal-safe calls from here on; it starts
	 * with the signals programs here catch or ignore at their default
	 * action and none blocked, as spawn() children do (exec resets any
	 * other caught one) */
	for (i = 0; i < spawn_nsigs; i++) {
		struct sigaction sa;

		sa.sa_handler = SIG_DFL;
		sa.sa_flags = 0;
		sigemptyset(&sa.sa_mask);
		(void)sigaction(spawn_sigs[i], &sa, NULL);	/* cannot fail */
	}
	{
		sigset_t none;

		sigemptyset(&none);
		(void)sigprocmask(SIG_SETMASK, &none, NULL);	/* cannot fail */
	}
	for (i = 0; i < nfd; i++)
		if (fd[i] >= 0 && dup2(fd[i], base + i) == -1)
			_exit(111);
	for (i = 0; i < nfd; i++) {
		if (fd[i] >= 0) {
			if (dup2(base + i, i) == -1)
				_exit(111);
			(void)close(base + i);	/* a spare copy */
		} else
			(void)close(i);	/* may not be open */
	}
	if (change && !priv_drop(uid, gid))
		_exit(111);
	if (dir && chdir(dir) == -1)
		_exit(111);
	execve(path, argv, environ);
	_exit(111);
}
