/* lib-die - unit tests for lib/die: message format, exit codes, errno */
#include <errno.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "die.h"
#include "tap.h"

/* run - fork, let the child call one of the die/warn forms, collect its
 * stderr and exit status */
static int
run(int which, char *out, size_t max, int *status)
{
	int fd[2];
	pid_t pid;
	size_t n = 0;
	ssize_t r;
	char longarg[3000];

	if (pipe(fd) == -1)
		return -1;
	if ((pid = fork()) == 0) {
		dup2(fd[1], 2);
		die_init("/usr/local/bin/qmail-test");
		errno = ENOENT;
		switch (which) {
		case 0:
			die(EXIT_TEMP, "unable to open ", "control/me");
		case 1:
			die_sys(EXIT_PERM, "unable to read ", "x");
		case 2:
			warn_sys("unable to stat ", "y");
			_exit(errno == ENOENT ? 0 : 1);
		case 3:
			memset(longarg, 'a', sizeof longarg - 1);
			longarg[sizeof longarg - 1] = 0;
			die(53, longarg);
		case 4:
			die_init("");
			die_nomem();
		}
		_exit(99);
	}
	close(fd[1]);
	while (n < max && (r = read(fd[0], out + n, max - n)) > 0)
		n += (size_t)r;
	close(fd[0]);
	waitpid(pid, status, 0);
	out[n < max ? n : max - 1] = 0;
	return (int)n;
}

int
main(void)
{
	char out[4096];
	int st, n;

	run(0, out, sizeof out, &st);
	ok(strcmp(out, "qmail-test: fatal: unable to open control/me\n") == 0, "die: prog: fatal: message");
	ok(WIFEXITED(st) && WEXITSTATUS(st) == 111, "die exits with its code");
	run(1, out, sizeof out, &st);
	ok(strcmp(out, "qmail-test: fatal: unable to read x: no such file or directory\n") == 0, "die_sys adds strerror, lower case first");
	ok(WIFEXITED(st) && WEXITSTATUS(st) == 100, "exit 100");
	run(2, out, sizeof out, &st);
	ok(strcmp(out, "qmail-test: warning: unable to stat y: no such file or directory\n") == 0, "warn_sys");
	ok(WIFEXITED(st) && WEXITSTATUS(st) == 0, "warn returns and keeps errno");
	n = run(3, out, sizeof out, &st);
	ok(n > 900 && n <= 1024 && out[n - 1] == '\n', "over-long message cut, still one line (%d bytes)", n);
	ok(WIFEXITED(st) && WEXITSTATUS(st) == 53, "exit 53");
	run(4, out, sizeof out, &st);
	ok(strcmp(out, "qmail-test: fatal: out of memory\n") == 0, "empty argv0 keeps the name; die_nomem");
	ok(WIFEXITED(st) && WEXITSTATUS(st) == 111, "out of memory is temporary");
	die_init("prog");
	ok(strcmp(die_progname(), "prog") == 0, "plain name");
	return tap_done();
}
