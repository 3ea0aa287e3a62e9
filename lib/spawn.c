/* spawn.c - posix_spawn with an exact descriptor map; see spawn.h */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include "spawn.h"

extern char **environ;

const int spawn_sigs[] = {
	SIGPIPE, SIGXFSZ, SIGHUP, SIGINT, SIGQUIT, SIGTERM, SIGALRM, SIGCHLD,
	SIGUSR1, SIGUSR2, SIGTSTP, SIGTTIN, SIGTTOU
};
const int spawn_nsigs = (int)(sizeof spawn_sigs / sizeof spawn_sigs[0]);

/* start - spawn, spawnp and spawn_group: the child in a process group
 * of its own when group is set, path looked for in $PATH when search is */
static pid_t
start(const char *path, char *const argv[], char *const envp[], const int *fd, int nfd,
    int group, int search)
{
	posix_spawn_file_actions_t fa;
	posix_spawnattr_t at;
	sigset_t all, none;
	int base = 0, i, r;
	pid_t pid;

	/* two moves, through descriptors above every source, so that
	 * installing one descriptor never clobbers another's source */
	for (i = 0; i < nfd; i++)
		if (fd[i] >= base)
			base = fd[i] + 1;
	if (base < nfd)
		base = nfd;
	if ((r = posix_spawn_file_actions_init(&fa)) != 0)
		return errno = r, -1;
	if ((r = posix_spawnattr_init(&at)) != 0) {
		posix_spawn_file_actions_destroy(&fa);
		return errno = r, -1;
	}
	for (i = 0; i < nfd && r == 0; i++)
		if (fd[i] >= 0)
			r = posix_spawn_file_actions_adddup2(&fa, fd[i], base + i);
	for (i = 0; i < nfd && r == 0; i++) {
		if (fd[i] >= 0) {
			r = posix_spawn_file_actions_adddup2(&fa, base + i, i);
			if (r == 0)
				r = posix_spawn_file_actions_addclose(&fa, base + i);
		} else
			r = posix_spawn_file_actions_addclose(&fa, i);
	}
	/* a caught signal goes back to its default at exec anyway: only
	 * one that is ignored here (or was ignored by whoever started us)
	 * stays so.  Those that programs ignore are reset, not all 64: the
	 * child would make a system call for each. */
	sigemptyset(&all);
	for (i = 0; i < spawn_nsigs; i++)
		sigaddset(&all, spawn_sigs[i]);
	sigemptyset(&none);
	if (r == 0)
		r = posix_spawnattr_setsigdefault(&at, &all);
	if (r == 0)
		r = posix_spawnattr_setsigmask(&at, &none);
	if (r == 0 && group)
		r = posix_spawnattr_setpgroup(&at, 0);
	if (r == 0)
		r = posix_spawnattr_setflags(&at, POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSIGMASK |
		    (group ? POSIX_SPAWN_SETPGROUP : 0));
	if (r == 0 && search)
		r = posix_spawnp(&pid, path, &fa, &at, argv, envp ? envp : environ);
	else if (r == 0)
		r = posix_spawn(&pid, path, &fa, &at, argv, envp ? envp : environ);
	posix_spawn_file_actions_destroy(&fa);
	posix_spawnattr_destroy(&at);
	if (r != 0)
		return errno = r, -1;
	return pid;
}

pid_t
spawn(const char *path, char *const argv[], char *const envp[], const int *fd, int nfd)
{
	return start(path, argv, envp, fd, nfd, 0, 0);
}

pid_t
spawnp(const char *file, char *const argv[], char *const envp[], const int *fd, int nfd)
{
	return start(file, argv, envp, fd, nfd, 0, 1);
}

pid_t
spawn_std(char *const argv[], int in)
{
	int fd[3];

	fd[0] = in;
	/* a closed 1 or 2 stays closed: dup2 of it would fail the spawn */
	fd[1] = fcntl(1, F_GETFD) == -1 ? -1 : 1;
	fd[2] = fcntl(2, F_GETFD) == -1 ? -1 : 2;
	return spawnp(argv[0], argv, NULL, fd, 3);
}

int
spawn_run(char *const argv[])
{
	int status;
	pid_t pid;

	if ((pid = spawn_std(argv, 0)) == -1 || spawn_wait(pid, &status) == -1)
		return -1;
	if (spawn_exitcode(status) == -1)
		return errno = EINTR, -1;
	return spawn_exitcode(status);
}

pid_t
spawn_group(const char *path, char *const argv[], char *const envp[], const int *fd, int nfd)
{
	return start(path, argv, envp, fd, nfd, 1, 0);
}

int
spawn_wait(pid_t pid, int *status)
{
	for (;;) {
		if (waitpid(pid, status, 0) != -1)
			return 1;
		if (errno != EINTR)
			return -1;
	}
}

int
spawn_exitcode(int status)
{
	if (WIFEXITED(status))
		return WEXITSTATUS(status);
	return -1;
}

int
spawn_termsig(int status)
{
	if (WIFSIGNALED(status))
		return WTERMSIG(status);
	return 0;
}

int
pipe_cloexec(int fd[2])
{
	if (pipe(fd) == -1)
		return -1;
	if (fcntl(fd[0], F_SETFD, FD_CLOEXEC) == -1 ||
	    fcntl(fd[1], F_SETFD, FD_CLOEXEC) == -1) {
		int err = errno;

		(void)close(fd[0]);
		(void)close(fd[1]);
		return errno = err, -1;
	}
	return 0;
}

int
pipe_high(int fd[2])
{
	int i, hi, err;

	if (pipe_cloexec(fd) == -1)
		return -1;
	for (i = 0; i < 2; i++) {
		if (fd[i] > 2)
			continue;
		if ((hi = fcntl(fd[i], F_DUPFD_CLOEXEC, 3)) == -1) {
			err = errno;
			(void)close(fd[0]);
			(void)close(fd[1]);
			return errno = err, -1;
		}
		(void)close(fd[i]);	/* its copy above 2 is the one used */
		fd[i] = hi;
	}
	return 0;
}
