/* buf.c - buffered input and output with deadlines; see buf.h */
#include <errno.h>
#include <poll.h>
#include <string.h>
#include <unistd.h>

#include "buf.h"
#include "mono.h"

void
buf_init(struct buf *b, int fd, char *x, size_t size, unsigned timeout)
{
	b->fd = fd;
	b->x = x;
	b->size = size;
	b->pos = b->len = 0;
	b->timeout = timeout;
}

/* wait_fd - 1 when fd is ready for events within timeout seconds */
static int
wait_fd(int fd, short events, unsigned timeout)
{
	struct pollfd p;
	int r;

	if (timeout == 0)
		return 1;
	p.fd = fd;
	p.events = events;
	for (;;) {
		r = poll(&p, 1, timeout > 2000000 ? 2000000000 : (int)timeout * 1000);
		if (r == -1 && errno == EINTR)
			continue;
		if (r == -1)
			return 0;
		if (r == 0)
			return errno = ETIMEDOUT, 0;
		return 1;
	}
}

long
fd_read(int fd, char *p, size_t n, unsigned timeout)
{
	ssize_t r;

	for (;;) {
		if (!wait_fd(fd, POLLIN, timeout))
			return -1;
		r = read(fd, p, n);
		if (r == -1 && errno == EINTR)
			continue;
		return (long)r;
	}
}

int
fd_writeall(int fd, const char *p, size_t n, unsigned timeout)
{
	ssize_t w;

	while (n > 0) {
		if (!wait_fd(fd, POLLOUT, timeout))
			return 0;
		if ((w = write(fd, p, n)) == -1) {
			if (errno == EINTR || errno == EAGAIN)
				continue;
			return 0;
		}
		p += w;
		n -= (size_t)w;
	}
	return 1;
}

long
buf_fill(struct buf *b)
{
	long r;

	if (b->pos > 0 && b->pos == b->len)
		b->pos = b->len = 0;
	if (b->pos > 0 && b->len == b->size) {
		memmove(b->x, b->x + b->pos, b->len - b->pos);
		b->len -= b->pos;
		b->pos = 0;
	}
	if (b->len == b->size)
		return (long)(b->len - b->pos);
	r = fd_read(b->fd, b->x + b->len, b->size - b->len, b->timeout);
	if (r <= 0)
		return r;
	b->len += (size_t)r;
	return (long)(b->len - b->pos);
}

long
buf_fill_by(struct buf *b, long long end)
{
	struct pollfd p;
	int left, r;

	for (;;) {
		if ((left = mono_left(end)) == 0)
			return errno = ETIMEDOUT, -1;
		p.fd = b->fd;
		p.events = POLLIN;
		r = poll(&p, 1, left);
		if (r == -1 && errno != EINTR)
			return -1;
		if (r > 0)
			return buf_fill(b);
	}
}

size_t
buf_pending(const struct buf *b)
{
	return b->len - b->pos;
}

long
buf_get(struct buf *b, char *p, size_t n)
{
	size_t have;
	long r;

	if (n == 0)
		return 0;
	if (b->pos == b->len) {
		/* large reads bypass the array */
		if (n >= b->size) {
			b->pos = b->len = 0;
			return fd_read(b->fd, p, n, b->timeout);
		}
		if ((r = buf_fill(b)) <= 0)
			return r;
	}
	have = b->len - b->pos;
	if (n > have)
		n = have;
	memcpy(p, b->x + b->pos, n);
	b->pos += n;
	return (long)n;
}

int
buf_getline(struct buf *b, struct str *line, char sep, size_t max)
{
	size_t taken = 0, have, i, room;
	int found;
	long r;

	for (;;) {
		have = b->len - b->pos;
		if (have == 0) {
			if ((r = buf_fill(b)) < 0)
				return -1;
			if (r == 0)
				return 0;
			continue;
		}
		i = str_chrb(b->x + b->pos, have, sep);
		if ((found = i < have))
			i++;	/* the separator travels with the line */
		room = max - taken;
		if (i > room) {
			/* take what fits so the caller may discard it; fail */
			(void)str_catb(line, b->x + b->pos, room);
			b->pos += room;
			return errno = EMSGSIZE, -1;
		}
		if (!str_catb(line, b->x + b->pos, i))
			return -1;
		b->pos += i;
		taken += i;
		if (found)
			return 1;
	}
}

int
buf_flush(struct buf *b)
{
	size_t n = b->len;

	b->len = 0;
	return fd_writeall(b->fd, b->x, n, b->timeout);
}

int
buf_put(struct buf *b, const char *p, size_t n)
{
	if (n > b->size - b->len) {
		if (!buf_flush(b))
			return 0;
		if (n >= b->size)
			return fd_writeall(b->fd, p, n, b->timeout);
	}
	memcpy(b->x + b->len, p, n);
	b->len += n;
	return 1;
}

int
buf_puts(struct buf *b, const char *s)
{
	return buf_put(b, s, strlen(s));
}
