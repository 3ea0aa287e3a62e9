/* lib-authfail - unit tests for lib/authfail and lib/statefile: the
 * waits, counting and taking back, several keys, a hostile counts file
 * (junk lines, huge numbers, a line not ended, times in the future),
 * forgetting, the line limit, modes whatever the umask, a lock held by
 * another process, a missing directory */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "authfail.h"
#include "statefile.h"
#include "str.h"
#include "tap.h"

static void
put(const char *fn, const char *p)
{
	int fd = open(fn, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	size_t n = strlen(p);

	if (fd == -1 || write(fd, p, n) != (ssize_t)n || close(fd) == -1) {
		perror(fn);
		exit(1);
	}
}

/* is - the file fn holds exactly want */
static int
is(const char *fn, const char *want)
{
	char x[4096];
	ssize_t n;
	int fd = open(fn, O_RDONLY);

	if (fd == -1)
		return 0;
	n = read(fd, x, sizeof x - 1);
	close(fd);
	if (n < 0)
		return 0;
	x[n] = 0;
	if (strcmp(x, want) != 0) {
		printf("# %s holds:\n# %s\n", fn, x);
		return 0;
	}
	return 1;
}

static unsigned
mode_of(const char *fn)
{
	struct stat st;

	return stat(fn, &st) == 0 ? (unsigned)(st.st_mode & 07777) : 0;
}

int
main(void)
{
	char dir[512];
	struct authfail af = {
		.file = "counts", .lock = "lock", .mode = 0660, .lockwait = 1,
		.waitfirst = 60, .waitmax = 900, .keep = 86400, .lines = 1000,
		.filemax = 65536
	};
	struct authfail_key a = { "a:192.0.2.1", 10, 0 };
	struct authfail_key two[2] = { { "l:joe", 5, 1 }, { "a:192.0.2.1", 20, 0 } };
	struct authfail_key bad = { "a:x\ny", 10, 0 };
	struct authfail_result r;
	int i, rc, all, p[2], fd;
	pid_t pid;
	char c;

	if (!tap_tmpname(dir, sizeof dir, "lib-authfail"))
		return 1;
	if (mkdtemp(dir) == NULL || chdir(dir) == -1) {
		perror("mkdtemp");
		return 1;
	}
	umask(077);	/* the modes asked for are given all the same */

	/* the waits: 60 s, doubled per failure beyond the allowance, 900 at most */
	ok(authfail_wait(&af, 9, 1000, 10, 1000) == 0, "under the allowance: no wait");
	ok(authfail_wait(&af, 10, 1000, 10, 1000) == 60, "at the allowance: 60 s");
	ok(authfail_wait(&af, 10, 1000, 10, 1059) == 1, "59 s later: 1 s left");
	ok(authfail_wait(&af, 10, 1000, 10, 1060) == 0, "60 s later: none");
	ok(authfail_wait(&af, 11, 1000, 10, 1000) == 120 &&
	    authfail_wait(&af, 12, 1000, 10, 1000) == 240 &&
	    authfail_wait(&af, 13, 1000, 10, 1000) == 480, "doubled: 120, 240, 480");
	ok(authfail_wait(&af, 14, 1000, 10, 1000) == 900 &&
	    authfail_wait(&af, ULONG_MAX, 1000, 10, 1000) == 900, "at most 900, for any count");
	ok(authfail_wait(&af, 10, 2000, 10, 1000) == 60, "a last failure in the future counts as now");
	af.waitfirst = 0;
	ok(authfail_wait(&af, ULONG_MAX, 1000, 0, 1000) == 0, "a first wait of 0 stays 0 (no endless doubling)");
	af.waitfirst = 60;
	af.waitmax = ULONG_MAX;
	ok(authfail_wait(&af, ULONG_MAX, ULONG_MAX, 0, ULONG_MAX) == ULONG_MAX,
	    "no overflow near ULONG_MAX");
	af.waitmax = 900;

	/* counting one address */
	ok(authfail_update(&af, &a, 1, AUTHFAIL_TRY, 1000, &r) == 1 &&
	    is("counts", "1 1000 a:192.0.2.1\n"), "a try is counted before any check: 1 1000 a:192.0.2.1");
	ok(mode_of("counts") == 0660 && mode_of("lock") == 0660, "counts and lock made mode 660 (umask 077)");
	ok(access("counts.tmp", F_OK) == -1, "no temporary file left");
	ok(authfail_update(&af, &a, 1, AUTHFAIL_OK, 1001, &r) == 1 && is("counts", ""),
	    "a right password takes it back: the line goes");
	for (all = 1, i = 0; i < 10; i++)
		all &= authfail_update(&af, &a, 1, AUTHFAIL_TRY, 2000 + i, &r) == 1;
	ok(all && is("counts", "10 2009 a:192.0.2.1\n"), "ten tries counted, LAST the latest");
	ok(authfail_update(&af, &a, 1, AUTHFAIL_TRY, 2010, &r) == 0 && r.wait == 59 && r.which == 0,
	    "the eleventh must wait 59 s more");
	ok(is("counts", "10 2009 a:192.0.2.1\n"), "a refused try counts nothing");
	ok(authfail_update(&af, &a, 1, AUTHFAIL_TRY, 2069, &r) == 1 && is("counts", "11 2069 a:192.0.2.1\n"),
	    "after the wait it is counted again");
	ok(authfail_update(&af, &a, 1, AUTHFAIL_OK, 2069, &r) == 1 && is("counts", "10 2069 a:192.0.2.1\n"),
	    "a right password takes back its own attempt only (clear not set)");
	ok(authfail_update(&af, &a, 1, AUTHFAIL_UNDO, 2069, &r) == 1 && is("counts", "9 2069 a:192.0.2.1\n"),
	    "trouble takes one back");

	/* two keys, as qmail-webadmin counts: a login's is cleared by a right password */
	put("counts", "");
	for (all = 1, i = 0; i < 3; i++)
		all &= authfail_update(&af, two, 2, AUTHFAIL_TRY, 3000, &r) == 1;
	ok(all && is("counts", "3 3000 a:192.0.2.1\n3 3000 l:joe\n"), "both keys counted; ties by time, then by key");
	ok(authfail_update(&af, two, 2, AUTHFAIL_OK, 3000, &r) == 1 && is("counts", "2 3000 a:192.0.2.1\n"),
	    "a right password clears the login's, takes one of the address's");
	put("counts", "5 3000 l:joe\n25 3000 a:192.0.2.1\n");
	ok(authfail_update(&af, two, 2, AUTHFAIL_TRY, 3000, &r) == 0 && r.which == 0 && r.wait == 900,
	    "both over: the first key is named, the longer wait given");
	put("counts", "1 3000 l:joe\n25 3000 a:192.0.2.1\n");
	ok(authfail_update(&af, two, 2, AUTHFAIL_TRY, 3000, &r) == 0 && r.which == 1,
	    "the address alone over: the second key named");
	two[0].key = NULL;
	put("counts", "");
	ok(authfail_update(&af, two, 2, AUTHFAIL_TRY, 3000, &r) == 1 && is("counts", "1 3000 a:192.0.2.1\n"),
	    "a NULL key is not counted");
	two[0].key = "l:joe";

	/* a hostile file: only whole "COUNT LAST KEY" lines with a count count */
	put("counts", "junk\n5 5\n 1 1 k\n1  2 k\n0 3000 zero\n1 2 \n"
	    "99999999999999999999999 3000 big\n3 abc k\n-1 3000 neg\n2 5000 good\n"
	    "7 90000 recent\n3 100 old\n4 3000 not ended");
	rc = authfail_update(&af, &a, 1, AUTHFAIL_TRY, 90000, &r);
	ok(rc == 1 && is("counts", "7 90000 recent\n2 5000 good\n1 90000 a:192.0.2.1\n"),
	    "junk lines dropped, a day-old count forgotten, an unended line ignored");
	put("counts", "4 99999 future\n");
	ok(authfail_update(&af, &a, 1, AUTHFAIL_TRY, 5000, &r) == 1 &&
	    is("counts", "4 5000 future\n1 5000 a:192.0.2.1\n"), "a time in the future (the clock went back) becomes now");
	put("counts", "18446744073709551615 5000 a:192.0.2.1\n");
	ok(sizeof(unsigned long) != 8 ||
	    (authfail_update(&af, &a, 1, AUTHFAIL_TRY, 6000, &r) == 1 &&
	    is("counts", "18446744073709551615 6000 a:192.0.2.1\n")), "the highest count stays, never wraps to 0");
	af.lines = 2;
	put("counts", "1 5000 one\n3 5000 three\n2 5000 two\n");
	ok(authfail_update(&af, &a, 1, AUTHFAIL_TRY, 5000, &r) == 1 &&
	    is("counts", "3 5000 three\n2 5000 two\n"), "at most lines: the fewest failures go first");
	af.lines = 1000;
	af.filemax = 10;
	put("counts", "1 5000 eleven\n");
	errno = 0;
	ok(authfail_update(&af, &a, 1, AUTHFAIL_TRY, 5000, &r) == -1 && errno == EFBIG &&
	    strcmp(r.failed, "unable to read ") == 0 && strcmp(r.fn, "counts") == 0,
	    "a file over filemax: -1, unable to read counts");
	af.filemax = 65536;
	ok(authfail_update(&af, &bad, 1, AUTHFAIL_TRY, 5000, &r) == -1 && errno == EINVAL &&
	    is("counts", "1 5000 eleven\n"), "a key with a newline: EINVAL, nothing written");

	/* statefile: a stale temporary file is replaced */
	put("counts.tmp", "stale");
	chmod("counts.tmp", 0400);
	ok(statefile_write("counts", "x\n", 2, 0660) == 1 && is("counts", "x\n") &&
	    access("counts.tmp", F_OK) == -1, "a temporary file a crash left is removed first");

	/* the lock held by another process: wait, then ETIMEDOUT */
	if (pipe(p) == -1 || (pid = fork()) == -1) {
		perror("fork");
		return 1;
	}
	if (pid == 0) {
		fd = statefile_lock("lock", 0660, 1);
		(void)!write(p[1], fd == -1 ? "n" : "y", 1);
		pause();
		_exit(0);
	}
	ok(read(p[0], &c, 1) == 1 && c == 'y', "another process holds the lock");
	errno = 0;
	ok(authfail_update(&af, &a, 1, AUTHFAIL_TRY, 5000, &r) == -1 && errno == ETIMEDOUT &&
	    strcmp(r.failed, "unable to lock ") == 0 && strcmp(r.fn, "lock") == 0,
	    "so an update gives up after lockwait: ETIMEDOUT, unable to lock lock");
	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
	ok(authfail_update(&af, &a, 1, AUTHFAIL_TRY, 5000, &r) == 1, "released: the update goes through");

	/* no directory: trouble naming the lock */
	af.file = "none/counts";
	af.lock = "none/lock";
	errno = 0;
	ok(authfail_update(&af, &a, 1, AUTHFAIL_TRY, 5000, &r) == -1 && errno == ENOENT &&
	    strcmp(r.fn, "none/lock") == 0, "a missing directory: ENOENT on the lock");

	unlink("counts");
	unlink("lock");
	chdir("/");
	rmdir(dir);
	return tap_done();
}
