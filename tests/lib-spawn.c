/* lib-spawn - unit tests for lib/spawn: the child gets exactly the
 * descriptors it is handed, mapped as asked (0 and 1 swapped too), with
 * default signals; exit codes and failures reported
 *
 * The test binary is its own child: "lib-spawn report" lists the open
 * descriptors below 1024 on descriptor R (given as argv[2]), then
 * whether SIGPIPE is at its default and no signal is blocked.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "spawn.h"
#include "tap.h"

static int
report(int out)
{
	char line[4096];
	size_t n = 0;
	struct sigaction sa;
	sigset_t ss;
	struct stat st, null;
	int fd;

	for (fd = 0; fd < 1024; fd++)
		if (fcntl(fd, F_GETFD) != -1)
			n += (size_t)snprintf(line + n, sizeof line - n, "%d,", fd);
	sigaction(SIGPIPE, NULL, &sa);
	sigprocmask(SIG_BLOCK, NULL, &ss);
	n += (size_t)snprintf(line + n, sizeof line - n, " pipe=%s mask=%s",
	    sa.sa_handler == SIG_DFL ? "dfl" : "other", sigismember(&ss, SIGUSR1) ? "blocked" : "empty");
	/* descriptor 1 of the swapped case must be /dev/null */
	if (fstat(1, &st) == 0 && stat("/dev/null", &null) == 0 && st.st_rdev == null.st_rdev &&
	    S_ISCHR(st.st_mode))
		n += (size_t)snprintf(line + n, sizeof line - n, " 1=null");
	return write(out, line, n) == (ssize_t)n ? 0 : 1;
}

/* child - spawn self with the map, return what it reported */
static pid_t
child(const char *self, const char *outfd, const int *map, int nmap, char *got, size_t max, int readfd, int closefd)
{
	char *argv[] = { (char *)self, "report", (char *)outfd, NULL };
	pid_t pid;
	ssize_t r;
	size_t n = 0;

	pid = spawn(self, argv, NULL, map, nmap);
	close(closefd);	/* the child holds the write end now */
	if (pid == -1)
		return -1;
	while (n < max - 1 && (r = read(readfd, got + n, max - 1 - n)) > 0)
		n += (size_t)r;
	got[n] = 0;
	return pid;
}

int
main(int argc, char **argv)
{
	char got[4096], *args[4];
	int p[2], q[2], null, saved0, saved1, st, extra;
	pid_t pid;

	if (argc == 3 && strcmp(argv[1], "report") == 0)
		return report(atoi(argv[2]));
	if (argv[0][0] != '/') {
		printf("1..0 # SKIP needs an absolute argv[0]\n");
		return 0;
	}
	signal(SIGPIPE, SIG_IGN);
	{
		sigset_t ss;

		sigemptyset(&ss);
		sigaddset(&ss, SIGUSR1);
		sigprocmask(SIG_BLOCK, &ss, NULL);
	}

	/* lanmail programs open everything close-on-exec; descriptors this
	 * test inherited from whoever ran it are made so too */
	{
		int fd;

		for (fd = 3; fd < 1024; fd++)
			(void)fcntl(fd, F_SETFD, FD_CLOEXEC);
	}
	/* a cloexec descriptor the parent holds must not reach the child */
	extra = open("/dev/null", O_RDONLY | O_CLOEXEC);
	ok(extra > 2, "parent holds an extra descriptor %d", extra);
	null = open("/dev/null", O_RDWR | O_CLOEXEC);
	ok(pipe_cloexec(p) == 0, "pipe_cloexec");
	ok((fcntl(p[0], F_GETFD) & FD_CLOEXEC) && (fcntl(p[1], F_GETFD) & FD_CLOEXEC), "both ends close-on-exec");

	/* map {null, pipe, closed}: the child has exactly 0 and 1 */
	{
		int map[3] = { null, p[1], -1 };

		pid = child(argv[0], "1", map, 3, got, sizeof got, p[0], p[1]);
	}
	ok(pid > 0, "spawned");
	ok(strncmp(got, "0,1, ", 5) == 0, "child sees exactly 0 and 1: %.40s", got);
	ok(strstr(got, "pipe=dfl") != NULL, "ignored SIGPIPE back to default in the child");
	ok(strstr(got, "mask=empty") != NULL, "no signal blocked in the child");
	ok(strstr(got, "1=null") == NULL, "descriptor 1 is the pipe");
	ok(spawn_wait(pid, &st) == 1 && spawn_exitcode(st) == 0, "child exit 0");
	close(p[0]);

	/* swapped: the parent's 0 is /dev/null and its 1 a pipe's write
	 * end; the child gets them the other way round */
	ok(pipe_cloexec(q) == 0, "another pipe");
	saved0 = fcntl(0, F_DUPFD_CLOEXEC, 10);
	saved1 = fcntl(1, F_DUPFD_CLOEXEC, 10);
	fflush(stdout);
	dup2(null, 0);
	dup2(q[1], 1);
	close(q[1]);	/* the parent's 1 holds it */
	{
		int map[2] = { 1, 0 };

		pid = child(argv[0], "0", map, 2, got, sizeof got, q[0], 1);
	}
	dup2(saved0, 0);
	dup2(saved1, 1);
	close(saved0);
	close(saved1);
	ok(pid > 0, "spawned with 0 and 1 swapped");
	ok(strncmp(got, "0,1, ", 5) == 0, "child sees exactly 0 and 1: %.40s", got);
	ok(strstr(got, "1=null") != NULL, "its 1 is the parent's 0 (/dev/null), its 0 the parent's 1 (the pipe)");
	ok(spawn_wait(pid, &st) == 1 && spawn_exitcode(st) == 0, "child exit 0");
	close(q[0]);

	/* a descriptor twice, a high source, and a gap */
	ok(pipe_cloexec(q) == 0, "a third pipe");
	{
		int hi = fcntl(q[1], F_DUPFD_CLOEXEC, 200);
		int map[4] = { null, hi, hi, -1 };

		close(q[1]);
		pid = child(argv[0], "2", map, 4, got, sizeof got, q[0], hi);
	}
	ok(strncmp(got, "0,1,2, ", 7) == 0, "descriptor 200 mapped onto 1 and 2, 3 closed: %.40s", got);
	ok(spawn_wait(pid, &st) == 1 && spawn_exitcode(st) == 0, "child exit 0");
	close(q[0]);

	/* no map at all: descriptor 99 is not there, so reporting fails */
	args[0] = argv[0], args[1] = "report", args[2] = "99", args[3] = NULL;
	pid = spawn(argv[0], args, NULL, NULL, 0);
	ok(pid > 0 && spawn_wait(pid, &st) == 1 && spawn_exitcode(st) == 1, "spawn with nfd 0; a closed descriptor stays closed");

	/* exit codes and signals */
	args[0] = "/bin/sh", args[1] = "-c", args[2] = "exit 7", args[3] = NULL;
	pid = spawn("/bin/sh", args, NULL, (int[]){ null, null, null }, 3);
	ok(pid > 0 && spawn_wait(pid, &st) == 1 && spawn_exitcode(st) == 7, "exit code 7");
	ok(spawn_termsig(st) == 0, "exited: spawn_termsig 0");
	args[2] = "kill -9 $$";
	pid = spawn("/bin/sh", args, NULL, (int[]){ null, null, null }, 3);
	ok(pid > 0 && spawn_wait(pid, &st) == 1 && spawn_exitcode(st) == -1, "killed by a signal: -1");
	ok(spawn_termsig(st) == SIGKILL, "spawn_termsig: the signal, SIGKILL");
	{
		char *env[] = { "LANMAIL_SPAWN_T=yes", NULL };

		args[2] = "test \"$LANMAIL_SPAWN_T\" = yes && test -z \"$HOME\"";
		pid = spawn("/bin/sh", args, env, (int[]){ null, null, null }, 3);
		ok(pid > 0 && spawn_wait(pid, &st) == 1 && spawn_exitcode(st) == 0, "the given environment, only");
	}
	/* spawn_group: the child leads a group of its own; spawn leaves it
	 * in ours */
	args[2] = "sleep 30 & wait $!";
	pid = spawn_group("/bin/sh", args, NULL, (int[]){ null, null, null }, 3);
	ok(pid > 0 && getpgid(pid) == pid, "spawn_group: the child's process group is its pid");
	ok(pid > 0 && kill(-pid, SIGKILL) == 0 && spawn_wait(pid, &st) == 1 && spawn_exitcode(st) == -1,
	    "kill(-pid) ends the group");
	args[2] = "exec sleep 30";
	pid = spawn("/bin/sh", args, NULL, (int[]){ null, null, null }, 3);
	ok(pid > 0 && getpgid(pid) == getpgrp(), "spawn: the parent's process group");
	if (pid > 0)
		(void)kill(pid, SIGKILL), (void)spawn_wait(pid, &st);
	errno = 0;
	pid = spawn("/nonexistent/prog", args, NULL, NULL, 0);
	if (pid == -1)
		ok(errno == ENOENT, "missing program: -1 ENOENT");
	else
		ok(spawn_wait(pid, &st) == 1 && spawn_exitcode(st) == 127, "missing program: the child exits 127");
	errno = 0;
	ok(spawn_wait(99999999, &st) == -1 && errno == ECHILD, "waiting for no child: -1 ECHILD");

	/* spawnp, spawn_std and spawn_run: a name without a slash is
	 * looked for in $PATH, as a .qmail line means it */
	args[0] = "sh", args[1] = "-c", args[2] = "exit 9", args[3] = NULL;
	pid = spawnp("sh", args, NULL, (int[]){ null, null, null }, 3);
	ok(pid > 0 && spawn_wait(pid, &st) == 1 && spawn_exitcode(st) == 9, "spawnp finds sh in $PATH");
	args[2] = "read x && test \"$x\" = fed";
	{
		int in[2];

		ok(pipe_cloexec(in) == 0 && write(in[1], "fed\n", 4) == 4 && close(in[1]) == 0,
		    "a pipe holding a line");
		pid = spawn_std(args, in[0]);
		close(in[0]);
		ok(pid > 0 && spawn_wait(pid, &st) == 1 && spawn_exitcode(st) == 0,
		    "spawn_std: the child reads the descriptor given as its 0");
	}
	args[2] = "exit 42";
	ok(spawn_run(args) == 42, "spawn_run: the exit code");
	args[2] = "kill -9 $$";
	errno = 0;
	ok(spawn_run(args) == -1 && errno == EINTR, "spawn_run: killed by a signal: -1 EINTR");
	args[0] = "lanmail-no-such-program";
	errno = 0;
	ok(spawn_run(args) == -1 && errno == ENOENT, "spawn_run: no such program: -1 ENOENT");
	args[0] = "/nonexistent/dir/prog";
	errno = 0;
	ok(spawn_run(args) == -1 && (errno == ENOENT || errno == ENOTDIR), "spawn_run: a path that is not there: -1 ENOENT");

	/* with 1 and 2 closed a pipe would land there: pipe_high keeps
	 * both ends above 2, close-on-exec, and 1 and 2 closed */
	{
		int out = fcntl(1, F_DUPFD_CLOEXEC, 10), err = fcntl(2, F_DUPFD_CLOEXEC, 10);
		int hp[2] = { -1, -1 }, r, closed, cloexec;

		fflush(stdout);
		close(1);
		close(2);
		r = pipe_high(hp);
		closed = fcntl(1, F_GETFD) == -1 && fcntl(2, F_GETFD) == -1;
		cloexec = r == 0 && (fcntl(hp[0], F_GETFD) & FD_CLOEXEC) &&
		    (fcntl(hp[1], F_GETFD) & FD_CLOEXEC);
		dup2(out, 1);
		dup2(err, 2);
		close(out);
		close(err);
		ok(r == 0 && hp[0] > 2 && hp[1] > 2 && closed,
		    "pipe_high with 1 and 2 closed: ends %d and %d, 1 and 2 left closed", hp[0], hp[1]);
		ok(cloexec, "both ends close-on-exec");
		ok(r == 0 && write(hp[1], "x", 1) == 1 && read(hp[0], got, 1) == 1 && got[0] == 'x',
		    "a working pipe");
		close(hp[0]);
		close(hp[1]);
	}
	close(null);
	close(extra);
	return tap_done();
}
