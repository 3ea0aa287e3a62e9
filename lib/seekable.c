/* seekable.c - a message made readable more than once; see seekable.h
 *
 * The bytes are the message, untrusted but only copied: nothing here
 * looks into them.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <unistd.h>

#include "buf.h"
#include "env.h"
#include "seekable.h"
#include "str.h"

int
seekable_temp(const char *dir, const char *prefix)
{
	struct str fn = STR_ZERO;
	int fd, err;

	if (!str_copys(&fn, dir) || !str_catc(&fn, '/') || !str_cats(&fn, prefix) ||
	    !str_cats(&fn, ".XXXXXX") || !str_nul(&fn)) {
		str_free(&fn);
		return -1;
	}
	if ((fd = mkstemp(fn.s)) == -1) {
		err = errno;
		str_free(&fn);
		errno = err;
		return -1;
	}
	if (unlink(fn.s) == -1 || fcntl(fd, F_SETFD, FD_CLOEXEC) == -1) {
		err = errno;
		(void)unlink(fn.s);	/* may be gone already */
		(void)close(fd);	/* nothing written */
		str_free(&fn);
		errno = err;
		return -1;
	}
	str_free(&fn);
	return fd;
}

int
seekable_open(struct seekable *s, int fd, const char *prefix)
{
	const char *tmpdir = env_get("TMPDIR");
	char x[BUF_SIZE * 8];
	long r;
	int err;

	s->fd = fd;
	s->failed = 0;
	s->dir = NULL;
	if (lseek(fd, 0, SEEK_SET) != -1)
		return 1;
	if (errno != ESPIPE)
		return s->failed = SEEKABLE_REWIND, 0;
	/* $TMPDIR, else (unset, relative, or no file can be made there:
	 * unwritable, missing, full) /tmp */
	s->fd = -1;
	if (tmpdir != NULL && *tmpdir == '/') {
		s->dir = tmpdir;
		s->fd = seekable_temp(tmpdir, prefix);
	}
	if (s->fd == -1) {
		s->dir = "/tmp";
		if ((s->fd = seekable_temp(s->dir, prefix)) == -1)
			return s->failed = SEEKABLE_CREATE, 0;
	}
	for (;;) {
		if ((r = fd_read(fd, x, sizeof x, 0)) == -1) {
			s->failed = SEEKABLE_READ;
			break;
		}
		if (r == 0) {
			if (lseek(s->fd, 0, SEEK_SET) != -1)
				return 1;
			s->failed = SEEKABLE_REWIND;
			break;
		}
		if (!fd_writeall(s->fd, x, (size_t)r, 0)) {
			s->failed = SEEKABLE_WRITE;
			break;
		}
	}
	err = errno;
	(void)close(s->fd);	/* a copy given up */
	s->fd = -1;
	errno = err;
	return 0;
}
