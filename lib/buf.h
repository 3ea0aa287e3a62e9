/* buf.h - buffered input and output on a descriptor, with deadlines
 *
 * A struct buf wraps one descriptor and a fixed array the caller owns.
 * With a timeout (seconds, 0 = none) every read or write waits at most
 * that long for the peer; past it the call fails with errno ETIMEDOUT.
 * Nothing here allocates, except buf_getline growing the caller's str.
 */
#ifndef BUF_H
#define BUF_H

#include <stddef.h>

#include "str.h"

struct buf {
	int fd;
	char *x;	/* the array */
	size_t size;	/* its size */
	size_t pos;	/* input: next unread byte; output: unused */
	size_t len;	/* input: bytes held; output: bytes waiting */
	unsigned timeout;
};

#define BUF_SIZE 8192

void buf_init(struct buf *, int fd, char *x, size_t size, unsigned timeout);

/* input */
/* buf_fill - read more; >0 bytes now held, 0 end of file, -1 error */
long buf_fill(struct buf *);
/* buf_fill_by - buf_fill, but waiting for input only until end (in
 * mono_ms milliseconds), whatever the buffer's own timeout: as
 * buf_fill, or -1 with errno ETIMEDOUT once end has passed */
long buf_fill_by(struct buf *, long long end);
/* buf_get - up to n bytes; >0 count, 0 end of file, -1 error */
long buf_get(struct buf *, char *, size_t n);
/* buf_getline - bytes up to and including the next sep appended to line.
 * 1 with the separator last; 0 at end of file (line holds any partial
 * last line); -1 error.  More than max bytes without sep: -1 with
 * errno EMSGSIZE, and the rest of that line is left unread. */
int buf_getline(struct buf *, struct str *line, char sep, size_t max);
/* buf_peek - bytes already read ahead and not yet taken */
size_t buf_pending(const struct buf *);

/* output: 1 ok, 0 error with errno */
int buf_put(struct buf *, const char *, size_t);
int buf_puts(struct buf *, const char *);
int buf_flush(struct buf *);

/* fd_writeall - all n bytes or 0; EINTR retried, deadline in seconds (0 none) */
int fd_writeall(int fd, const char *, size_t, unsigned timeout);
/* fd_read - one read of at most n bytes within the deadline; like read(2) */
long fd_read(int fd, char *, size_t, unsigned timeout);

#endif
