/* syncall.c - fsync of many descriptors at once; see syncall.h */
#include <aio.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "fsync.h"
#include "syncall.h"

#define SYNCALL_MAX 4096	/* more at once gain nothing */

int
sync_all(const int *fd, int *ok, size_t n)
{
	struct aiocb *cb = NULL;
	const struct aiocb **wait = NULL;
	size_t i, nw;
	int err = 0, r;

	if (n > 1 && n <= SYNCALL_MAX) {
		cb = calloc(n, sizeof *cb);
		wait = calloc(n, sizeof *wait);
	}
	if (cb == NULL || wait == NULL) {
		/* one at a time: slower, as durable */
		for (i = 0; i < n; i++)
			if (!(ok[i] = fsync_one(fd[i])) && !err)
				err = errno;
		free(cb);
		free(wait);
		return err ? (errno = err, 0) : 1;
	}
	for (i = 0; i < n; i++) {
		memset(&cb[i], 0, sizeof cb[i]);
		cb[i].aio_fildes = fd[i];
		cb[i].aio_sigevent.sigev_notify = SIGEV_NONE;
		ok[i] = -1;	/* in flight */
		if (aio_fsync(O_SYNC, &cb[i]) == -1 && !(ok[i] = fsync_one(fd[i])) && !err)
			err = errno;	/* no room for it: done here */
	}
	for (;;) {
		nw = 0;
		for (i = 0; i < n; i++) {
			if (ok[i] != -1)
				continue;
			r = aio_error(&cb[i]);
			if (r == EINPROGRESS) {
				wait[nw++] = &cb[i];
				continue;
			}
			ok[i] = r == 0 && aio_return(&cb[i]) == 0;
			if (r != 0)
				(void)aio_return(&cb[i]);	/* frees the request */
			if (!ok[i] && !err)
				err = r > 0 ? r : EIO;
		}
		if (nw == 0)
			break;
		/* a signal only interrupts the wait; the syncs go on */
		if (aio_suspend(wait, (int)nw, NULL) == -1 && errno != EINTR && errno != EAGAIN) {
			struct timespec ts = { 0, 1000000 };

			(void)nanosleep(&ts, NULL);	/* cannot wait: look again soon */
		}
	}
	free(cb);
	free(wait);
	return err ? (errno = err, 0) : 1;
}
