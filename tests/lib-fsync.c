/* lib-fsync - one file after another: fsync_one, sync_each stopping at
 * the first failure, fsync_dir_of for each way of naming a file */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "fsync.h"
#include "tap.h"

int
main(void)
{
	char dir[128], fn[160];
	int fd[3], okv[3], i;

	if (!tap_tmpname(dir, sizeof dir, "lib-fsync"))
		return 1;
	if (mkdtemp(dir) == NULL) {
		perror("mkdtemp");
		return 1;
	}
	snprintf(fn, sizeof fn, "%s/f", dir);
	fd[0] = open(fn, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	fd[1] = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	ok(fd[0] != -1 && fd[1] != -1 && write(fd[0], "x", 1) == 1, "a file and its directory");
	ok(fsync_one(fd[0]) == 1 && fsync_one(fd[1]) == 1, "fsync_one of each");
	ok(fsync_one(999) == 0 && errno == EBADF, "fsync_one of a bad descriptor: 0 EBADF");

	for (i = 0; i < 3; i++)
		okv[i] = 7;
	ok(sync_each(fd, okv, 2) == 1 && okv[0] == 1 && okv[1] == 1 && okv[2] == 7,
	    "sync_each of two: both reported, nothing beyond");
	fd[2] = fd[1];
	fd[1] = 999;
	ok(sync_each(fd, okv, 3) == 0 && errno == EBADF, "a bad descriptor in the middle: 0 EBADF");
	ok(okv[0] == 1 && okv[1] == 0 && okv[2] == 0, "the ones from it on are reported not synced");
	ok(sync_each(fd, okv, 0) == 1, "none at all");

	ok(fsync_dir_of(fn) == 0, "fsync_dir_of a path");
	ok(chdir(dir) == 0 && fsync_dir_of("f") == 0, "fsync_dir_of a bare name");
	ok(fsync_dir_of("/f") == 0, "fsync_dir_of a name in /");
	ok(fsync_dir_of("/nonexistent-dir/x") == -1 && errno == ENOENT, "fsync_dir_of a missing directory: -1");

	(void)close(fd[0]);
	(void)close(fd[2]);
	ok(unlink(fn) == 0 && chdir("/") == 0 && rmdir(dir) == 0, "scratch directory removed");
	return tap_done();
}
