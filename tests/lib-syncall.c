/* lib-syncall - sync_all: every descriptor synced, failures reported per descriptor */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "syncall.h"
#include "tap.h"

#define N 40

static double
now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

int
main(void)
{
	char dir[128], fn[160];
	int fd[N + 1], okv[N + 1], i, all;
	double t0, tpar, tser;

	if (!tap_tmpname(dir, sizeof dir, "lib-syncall"))
		return 1;
	if (mkdtemp(dir) == NULL) {
		perror("mkdtemp");
		return 1;
	}
	for (i = 0; i < N; i++) {
		snprintf(fn, sizeof fn, "%s/f%d", dir, i);
		fd[i] = open(fn, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
		ok(fd[i] != -1 && write(fd[i], "x", 1) == 1, "file %d written", i);
	}
	fd[N] = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	ok(fd[N] != -1, "directory opened");

	t0 = now();
	ok(sync_all(fd, okv, N + 1) == 1, "every descriptor synced at once");
	tpar = now() - t0;
	all = 1;
	for (i = 0; i <= N; i++)
		all &= okv[i] == 1;
	ok(all, "each one reported synced");

	/* a bad descriptor in the middle: only it fails, the rest are done */
	okv[0] = 7;
	{
		int mix[3] = { fd[0], 999, fd[1] };

		errno = 0;
		ok(sync_all(mix, okv, 3) == 0 && errno == EBADF, "a bad descriptor fails with EBADF");
		ok(okv[0] == 1 && okv[1] == 0 && okv[2] == 1, "only the bad one reported failed");
	}
	ok(sync_all(fd, okv, 1) == 1 && okv[0] == 1, "a single descriptor");
	ok(sync_all(fd, okv, 0) == 1, "none at all");

	for (i = 0; i < N; i++)
		(void)!write(fd[i], "y", 1);
	t0 = now();
	for (i = 0; i < N; i++)
		(void)fsync(fd[i]);
	(void)fsync(fd[N]);
	tser = now() - t0;
	printf("# %d syncs: %.2f ms at once, %.2f ms one after another\n", N + 1,
	    tpar * 1e3, tser * 1e3);

	for (i = 0; i < N; i++) {
		snprintf(fn, sizeof fn, "%s/f%d", dir, i);
		(void)close(fd[i]);
		(void)unlink(fn);
	}
	(void)close(fd[N]);
	(void)rmdir(dir);
	return tap_done();
}
