/* syncall.h - making several files durable at once
 *
 * One process that calls fsync for one file after another waits for the
 * disk once per file.  Syncs issued together (here through POSIX
 * asynchronous I/O) let the file system commit them in one go, so a batch
 * of files costs about as much as one.  One file after another:
 * fsync.h.
 */
#ifndef SYNCALL_H
#define SYNCALL_H

#include <stddef.h>

/* sync_all - fsync each of fd[0..n) (files or directories opened read
 * only), all at once; every one is finished when it returns.  ok[i] is
 * set to 1 when fd[i] is on disk, 0 when its sync failed.  Returns 1 when
 * all succeeded, else 0 with errno from the first that failed. */
int sync_all(const int *fd, int *ok, size_t n);

#endif
