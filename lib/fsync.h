/* fsync.h - making files durable one at a time
 *
 * Apart from syncall.h on purpose: sync_all needs POSIX asynchronous
 * I/O, and a static musl program that links it gets musl's AIO and
 * thread code too (close(2) then calls into it), some 6 KB.  A program
 * that only syncs one file after another links this alone.
 */
#ifndef FSYNC_H
#define FSYNC_H

#include <stddef.h>

/* fsync_one - fsync(fd), retried on EINTR: 1, or 0 with errno */
int fsync_one(int fd);

/* sync_each - fsync fd[0], then fd[1], ... fd[n-1], one after another,
 * stopping at the first failure; ok[i] is set to 1 when fd[i] is on
 * disk, else 0 (0 too for those not tried).  Returns 1 when all
 * succeeded, else 0 with errno.  For a few files this costs less CPU
 * than sync_all (syncall.h), which needs a thread per file, and on many
 * file systems no more time. */
int sync_each(const int *fd, int *ok, size_t n);

/* fsync_dir_of - fsync the directory holding fn, so a rename or link in it
 * (or a file made in it) is durable; 0, or -1 with errno */
int fsync_dir_of(const char *fn);

#endif
