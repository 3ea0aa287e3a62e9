/* statefile.c - locked, atomically replaced state files; see statefile.h */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "buf.h"
#include "statefile.h"
#include "str.h"

/* open_made - fn opened read-write, made with exactly mode when missing
 * (open's mode is narrowed by the umask; fchmod's is not) */
static int
open_made(const char *fn, mode_t mode)
{
	int fd, tries;

	for (tries = 0; tries < 3; tries++) {
		fd = open(fn, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, mode);
		if (fd != -1) {
			if (fchmod(fd, mode) == 0)
				return fd;
			(void)close(fd);	/* nothing written yet */
			return -1;
		}
		if (errno != EEXIST)
			return -1;
		if ((fd = open(fn, O_RDWR | O_CLOEXEC)) != -1 || errno != ENOENT)
			return fd;
		/* removed between the two opens: make it again */
	}
	return -1;
}

int
statefile_lock(const char *fn, mode_t mode, unsigned seconds)
{
	struct flock fl;
	struct timespec nap = { 0, 10 * 1000 * 1000 }, t0, now;
	long long ms;
	int fd, err;

	if (clock_gettime(CLOCK_MONOTONIC, &t0) == -1)
		return -1;
	if ((fd = open_made(fn, mode)) == -1)
		return -1;
	memset(&fl, 0, sizeof fl);
	fl.l_type = F_WRLCK;
	fl.l_whence = SEEK_SET;
	for (;;) {
		if (fcntl(fd, F_SETLK, &fl) == 0)
			return fd;
		err = errno;
		if (err != EINTR && err != EAGAIN && err != EACCES)
			break;
		if (clock_gettime(CLOCK_MONOTONIC, &now) == -1) {
			err = errno;
			break;
		}
		ms = (long long)(now.tv_sec - t0.tv_sec) * 1000 +
		    (now.tv_nsec - t0.tv_nsec) / 1000000;
		if (ms >= (long long)seconds * 1000) {
			err = ETIMEDOUT;
			break;
		}
		(void)nanosleep(&nap, NULL);	/* cut short: we only ask sooner */
	}
	(void)close(fd);	/* never locked */
	errno = err;
	return -1;
}

int
statefile_write(const char *fn, const char *data, size_t n, mode_t mode)
{
	struct str tmp = STR_ZERO;
	int fd, ok, err;

	if (!str_copys(&tmp, fn) || !str_cats(&tmp, ".tmp") || !str_nul(&tmp)) {
		str_free(&tmp);
		return 0;
	}
	if (unlink(tmp.s) == -1 && errno != ENOENT) {
		err = errno;
		str_free(&tmp);
		errno = err;
		return 0;
	}
	fd = open(tmp.s, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode);
	ok = fd != -1 && fchmod(fd, mode) == 0 && fd_writeall(fd, data, n, 0) &&
	    fsync(fd) == 0;
	err = errno;
	if (fd != -1 && close(fd) == -1 && ok)
		ok = 0, err = errno;
	if (ok && rename(tmp.s, fn) == -1)
		ok = 0, err = errno;
	if (!ok && fd != -1)
		(void)unlink(tmp.s);	/* nothing half written stays */
	str_free(&tmp);
	errno = err;
	return ok;
}
