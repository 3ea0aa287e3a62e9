/* starttls.c - talking to qmail-tls; see starttls.h
 *
 * The server side runs inside qmail-smtpd and qmail-popup, the client
 * side (starttls_readanswer) inside qmail-remote.  The answer comes from
 * qmail-tls, a program of ours, but it is parsed as untrusted all the
 * same: it ends up in the environment and in Received lines.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

#include "mono.h"
#include "starttls.h"
#include "str.h"

int
starttls_fd(void)
{
	const char *v = getenv(STARTTLS_ENV);
	unsigned long u;
	struct stat st;
	int fd, good;

	if (v == NULL)
		return errno = 0, -1;
	good = scan_ulong(v, strlen(v), &u) && u >= 3 && u <= 1000;
	/* gone in every case, junk too: no child may take it for its own
	 * (v is not used after this: unsetenv may free it) */
	if (unsetenv(STARTTLS_ENV) == -1)
		return -1;
	if (!good)
		return errno = EINVAL, -1;
	fd = (int)u;
	if (fstat(fd, &st) == -1)
		return -1;
	if (!S_ISSOCK(st.st_mode))
		return errno = ENOTSOCK, -1;
	if (fcntl(fd, F_SETFD, FD_CLOEXEC) == -1)
		return -1;
	return fd;
}

/* isprint_ascii - the bytes a value may hold */
static int
isprint_ascii(char c)
{
	return c >= 0x20 && c <= 0x7e;
}

int
starttls_varok(const char *s, size_t n)
{
	size_t eq = str_chrb(s, n, '='), i;

	if (eq == n || eq < 3 || eq > STARTTLS_MAXNAME || memcmp(s, "TLS", 3) != 0)
		return 0;
	for (i = 0; i < eq; i++)
		if (!(s[i] >= 'A' && s[i] <= 'Z') && !(s[i] >= '0' && s[i] <= '9') && s[i] != '_')
			return 0;
	for (i = eq + 1; i < n; i++)
		if (!isprint_ascii(s[i]))
			return 0;
	return 1;
}

int
starttls_parse(const char *p, size_t n, struct starttls_reply *r)
{
	size_t pos, len, i;

	r->ok = 0;
	r->why = "";
	r->nvar = 0;
	/* at least the status byte, its NUL and the final empty item */
	if (n < 3 || n > STARTTLS_MAXREPLY || p[n - 1] != 0 || p[n - 2] != 0)
		return errno = EPROTO, 0;
	len = str_chrb(p, n, 0);
	if (len == 1 && p[0] == 'K')
		r->ok = 1;
	else if (len >= 1 && p[0] == 'Z') {
		for (i = 1; i < len; i++)
			if (!isprint_ascii(p[i]))
				return errno = EPROTO, 0;
		r->why = p + 1;
	} else
		return errno = EPROTO, 0;
	pos = len + 1;
	/* items up to the empty one, which must be the very last byte */
	for (;;) {
		len = str_chrb(p + pos, n - pos, 0);
		if (len == n - pos)
			return errno = EPROTO, 0;
		if (len == 0)
			break;
		if (!r->ok || r->nvar == STARTTLS_MAXVARS || !starttls_varok(p + pos, len))
			return errno = EPROTO, 0;
		r->var[r->nvar++] = p + pos;
		pos += len + 1;
	}
	if (pos != n - 1)
		return errno = EPROTO, 0;
	return 1;
}

int
starttls_scanreq(const char *p, size_t n)
{
	size_t nul;

	if (n == 0)
		return 0;
	if (p[0] != STARTTLS_REQUEST)
		return -1;
	nul = str_chrb(p, n, 0);
	if (nul == n)	/* no NUL yet: room for more reply? */
		return n - 1 <= STARTTLS_MAXLINE ? 0 : -1;
	if (nul == 1 || nul - 1 > STARTTLS_MAXLINE || nul + 1 != n)
		return -1;
	return 1;
}

/* get_answer - the answer into msg (up to max bytes) and the descriptor
 * that came with it (-1 when none); 1, or 0 with errno */
static int
get_answer(int fd, char *msg, size_t max, size_t *n, int *newfd)
{
	union {
		struct cmsghdr h;
		char space[CMSG_SPACE(sizeof(int))];
	} cm;
	struct msghdr mh;
	struct cmsghdr *c;
	struct iovec iov;
	ssize_t r;

	*n = 0;
	*newfd = -1;
	for (;;) {
		/* items are never empty but the last: NUL NUL is the end */
		if (*n >= 3 && msg[*n - 1] == 0 && msg[*n - 2] == 0)
			return 1;
		if (*n == max)
			return errno = EPROTO, 0;
		memset(&mh, 0, sizeof mh);
		iov.iov_base = msg + *n;
		iov.iov_len = max - *n;
		mh.msg_iov = &iov;
		mh.msg_iovlen = 1;
		mh.msg_control = cm.space;
		mh.msg_controllen = sizeof cm.space;
		r = recvmsg(fd, &mh, 0);
		if (r == -1 && errno == EINTR)
			continue;
		if (r == -1)
			return 0;
		if (r == 0)
			return errno = EPIPE, 0;
		for (c = CMSG_FIRSTHDR(&mh); c; c = CMSG_NXTHDR(&mh, c)) {
			int got;

			if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS)
				continue;
			if (c->cmsg_len != CMSG_LEN(sizeof(int)) || *newfd != -1) {
				/* more than we asked for: close what we can see */
				if (c->cmsg_len >= CMSG_LEN(sizeof(int))) {
					memcpy(&got, CMSG_DATA(c), sizeof got);
					(void)close(got);
				}
				errno = EPROTO;
				return 0;
			}
			memcpy(newfd, CMSG_DATA(c), sizeof *newfd);
		}
		if (mh.msg_flags & MSG_CTRUNC)
			return errno = EPROTO, 0;
		*n += (size_t)r;
	}
}

/* setvars - each NAME=value of the answer into the environment */
static int
setvars(const struct starttls_reply *r)
{
	char name[STARTTLS_MAXNAME + 1];
	size_t i, eq;

	for (i = 0; i < r->nvar; i++) {
		eq = str_chrb(r->var[i], strlen(r->var[i]), '=');
		memcpy(name, r->var[i], eq);
		name[eq] = 0;
		if (setenv(name, r->var[i] + eq + 1, 1) == -1)
			return 0;
	}
	return 1;
}

int
starttls_request(int fd, const char *reply, size_t len)
{
	char msg[STARTTLS_MAXREPLY];
	char req[STARTTLS_MAXLINE + 2];
	struct starttls_reply r;
	size_t n, done;
	int newfd = -1, err;
	ssize_t w;

	if (len == 0 || len > STARTTLS_MAXLINE || str_chrb(reply, len, 0) != len)
		return errno = EINVAL, 0;
	req[0] = STARTTLS_REQUEST;
	memcpy(req + 1, reply, len);
	req[len + 1] = 0;
	for (done = 0; done < len + 2; done += (size_t)w) {
		w = write(fd, req + done, len + 2 - done);
		if (w == -1 && errno == EINTR) {
			w = 0;
			continue;
		}
		if (w == -1)
			goto fail;
	}
	if (!get_answer(fd, msg, sizeof msg, &n, &newfd))
		goto fail;
	if (!starttls_parse(msg, n, &r))
		goto fail;
	if (!r.ok || newfd == -1) {
		errno = EPROTO;
		goto fail;
	}
	if (dup2(newfd, 0) == -1 || dup2(newfd, 1) == -1)
		goto fail;
	if (newfd > 1 && close(newfd) == -1)
		goto fail;
	newfd = -1;
	if (!setvars(&r))
		goto fail;
	(void)close(fd);	/* only read from; nothing to lose */
	return 1;
fail:
	err = errno;
	if (newfd > 1)
		(void)close(newfd);
	(void)close(fd);
	errno = err;
	return 0;
}

const char *
starttls_var(const struct starttls_reply *r, const char *name)
{
	size_t n = strlen(name), i;

	for (i = 0; i < r->nvar; i++)
		if (strncmp(r->var[i], name, n) == 0 && r->var[i][n] == '=')
			return r->var[i] + n + 1;
	return NULL;
}

int
starttls_readanswer(int fd, char *msg, size_t max, size_t *n, unsigned timeout)
{
	/* in milliseconds: whole seconds of the wall clock would cut up to
	 * one second off the wait */
	long long deadline = mono_ms() + (long long)timeout * 1000;
	struct pollfd p;
	ssize_t r;
	int k, left;

	*n = 0;
	for (;;) {
		/* items are never empty but the last: NUL NUL is the end */
		if (*n >= 3 && msg[*n - 1] == 0 && msg[*n - 2] == 0)
			return 1;
		if (*n == max)
			return errno = EPROTO, 0;
		if (timeout > 0) {
			if ((left = mono_left(deadline)) == 0)
				return errno = ETIMEDOUT, 0;
			p.fd = fd;
			p.events = POLLIN;
			k = poll(&p, 1, left);
			if (k == -1 && errno == EINTR)
				continue;
			if (k == -1)
				return 0;
			if (k == 0)
				return errno = ETIMEDOUT, 0;
		}
		r = read(fd, msg + *n, max - *n);
		if (r == -1 && errno == EINTR)
			continue;
		if (r == -1)
			return 0;
		if (r == 0)
			return errno = EPIPE, 0;
		*n += (size_t)r;
	}
}
