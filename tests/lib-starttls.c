/* lib-starttls.c - unit tests for lib/starttls, and a tiny line server
 *
 * Without arguments: TAP tests of starttls_parse (hostile answers),
 * starttls_fd and starttls_request against a peer on a socket pair.
 *
 * "lib-starttls serve [nodiscard]": a minimal line server for
 * tests/qmail-tls.t, run under tcpserver and qmail-tls.  Commands (CRLF
 * or LF lines): ECHO text -> "250 text"; ENV -> "250 " and the TLS*
 * variables; DATA -> lines up to "." counted ("250 bytes lines");
 * BIG n -> "250 " and n bytes of 'x'; STARTTLS; QUIT.  "nodiscard" keeps
 * the read-ahead across STARTTLS, the very bug the library tells its
 * callers to avoid: the end-to-end test shows it would be caught.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <unistd.h>

#include "buf.h"
#include "starttls.h"
#include "str.h"
#include "tap.h"

#define P(s) (s), sizeof(s) - 1

static void
reply(const char *s, size_t n)
{
	if (!fd_writeall(1, s, n, 60))
		_exit(111);
}

static int
serve(int discard)
{
	static const char *const vars[] = {
		"TLSVERSION", "TLSCIPHER", "TLSCIPHERBITS", "TLSSERVERNAME",
		"TLSCLIENTSUBJECT", "TLSCLIENTSHA256", STARTTLS_ENV, 0
	};
	char space[BUF_SIZE];
	struct str line = STR_ZERO, out = STR_ZERO;
	struct buf in;
	int tls = starttls_fd(), r, i;
	unsigned long n, bytes = 0, lines = 0, indata = 0;

	buf_init(&in, 0, space, sizeof space, 60);
	reply(P("220 test server ready\r\n"));
	for (;;) {
		line.len = 0;
		if ((r = buf_getline(&in, &line, '\n', 1 << 20)) != 1)
			return r == 0 ? 0 : 111;
		while (line.len > 0 && (line.s[line.len - 1] == '\n' || line.s[line.len - 1] == '\r'))
			line.len--;
		if (indata) {
			if (line.len == 1 && line.s[0] == '.') {
				out.len = 0;
				if (!str_cats(&out, "250 ") || !str_catulong(&out, bytes) ||
				    !str_catc(&out, ' ') || !str_catulong(&out, lines) ||
				    !str_cats(&out, "\r\n"))
					return 111;
				reply(out.s, out.len);
				indata = 0;
			} else {
				bytes += line.len;
				lines++;
			}
			continue;
		}
		out.len = 0;
		if (line.len >= 5 && str_caseeqb(line.s, "ECHO ", 5)) {
			if (!str_cats(&out, "250 ") || !str_catb(&out, line.s + 5, line.len - 5))
				return 111;
		} else if (line.len == 3 && str_caseeqb(line.s, "ENV", 3)) {
			if (!str_cats(&out, "250"))
				return 111;
			for (i = 0; vars[i]; i++)
				if (getenv(vars[i]) && (!str_catc(&out, ' ') || !str_cats(&out, vars[i]) ||
				    !str_catc(&out, '=') || !str_cats(&out, getenv(vars[i]))))
					return 111;
		} else if (line.len == 4 && str_caseeqb(line.s, "DATA", 4)) {
			reply(P("354 go on\r\n"));
			indata = 1;
			bytes = lines = 0;
			continue;
		} else if (line.len > 4 && str_caseeqb(line.s, "BIG ", 4) &&
		    scan_ulong(line.s + 4, line.len - 4, &n) && n <= 50000000) {
			if (!str_cats(&out, "250 "))
				return 111;
			while (n-- > 0)
				if (!str_catc(&out, 'x'))
					return 111;
		} else if (line.len == 8 && str_caseeqb(line.s, "STARTTLS", 8)) {
			if (tls < 0) {
				reply(P("454 4.7.0 TLS not available\r\n"));
				continue;
			}
			if (!starttls_request(tls, P("220 2.0.0 go ahead\r\n")))
				return 111;
			tls = -1;
			if (discard)
				buf_init(&in, 0, space, sizeof space, 60);
			continue;
		} else if (line.len == 4 && str_caseeqb(line.s, "QUIT", 4)) {
			reply(P("221 bye\r\n"));
			return 0;
		} else if (!str_cats(&out, "500 unknown command"))
			return 111;
		if (!str_cats(&out, "\r\n"))
			return 111;
		reply(out.s, out.len);
	}
}

/* parse - starttls_parse on exactly n bytes (a heap copy, for ASan),
 * kept until the next call since r points into it */
static int
parse(const char *p, size_t n, struct starttls_reply *r)
{
	static char *c;

	free(c);
	if ((c = malloc(n ? n : 1)) == NULL)
		exit(2);
	memcpy(c, p, n);
	return starttls_parse(c, n, r);
}

/* send_answer - what qmail-tls does: bytes, with fd on the first one */
static void
send_answer(int s, const char *p, size_t n, int fd)
{
	union {
		struct cmsghdr h;
		char space[CMSG_SPACE(sizeof(int))];
	} cm;
	struct msghdr mh;
	struct cmsghdr *c;
	struct iovec iov;

	memset(&mh, 0, sizeof mh);
	memset(&cm, 0, sizeof cm);
	iov.iov_base = (char *)p;
	iov.iov_len = n;
	mh.msg_iov = &iov;
	mh.msg_iovlen = 1;
	if (fd != -1) {
		mh.msg_control = cm.space;
		mh.msg_controllen = sizeof cm.space;
		c = CMSG_FIRSTHDR(&mh);
		c->cmsg_level = SOL_SOCKET;
		c->cmsg_type = SCM_RIGHTS;
		c->cmsg_len = CMSG_LEN(sizeof(int));
		memcpy(CMSG_DATA(c), &fd, sizeof fd);
	}
	if (sendmsg(s, &mh, 0) != (ssize_t)n)
		_exit(2);
}

/* request - starttls_request against a peer that reads the request and
 * sends answer (with a fresh socket when withfd); *reqok: the peer got
 * exactly the request the library promises */
static int
request(const char *answer, size_t n, int withfd, int *reqok)
{
	static const char want[] = "S220 2.0.0 go ahead\r\n";
	char got[1200];
	int ctl[2], data[2], saved0, saved1, r, status, err;
	char marker[8];
	pid_t pid;

	if (socketpair(AF_UNIX, SOCK_STREAM, 0, ctl) == -1 ||
	    socketpair(AF_UNIX, SOCK_STREAM, 0, data) == -1)
		exit(2);
	fflush(stdout);
	if ((pid = fork()) == -1)
		exit(2);
	if (pid == 0) {
		ssize_t k;
		size_t have = 0;

		close(ctl[1]);
		while (have == 0 || got[have - 1] != 0) {
			k = read(ctl[0], got + have, 1100 - have);
			if (k <= 0)
				_exit(3);
			have += (size_t)k;
		}
		send_answer(ctl[0], answer, n, withfd ? data[1] : -1);
		/* the new channel works: a marker through it */
		if (write(data[0], "marker\n", 7) != 7)
			_exit(2);
		_exit(have == sizeof want && memcmp(got, want, have) == 0 ? 0 : 4);
	}
	close(ctl[0]);
	saved0 = dup(0);
	saved1 = dup(1);
	r = starttls_request(ctl[1], P("220 2.0.0 go ahead\r\n"));
	err = errno;
	if (r == 1) {
		/* fd 0 is now the new socket: the marker is there */
		if (read(0, marker, 7) != 7 || memcmp(marker, "marker\n", 7) != 0)
			r = -1;
	}
	waitpid(pid, &status, 0);
	*reqok = WIFEXITED(status) && WEXITSTATUS(status) == 0;
	dup2(saved0, 0);
	dup2(saved1, 1);
	close(saved0);
	close(saved1);
	close(data[0]);
	close(data[1]);
	if (fcntl(ctl[1], F_GETFD) != -1)
		r = -2;	/* starttls_request must close it */
	errno = err;
	return r;
}

int
main(int argc, char **argv)
{
	struct starttls_reply r;
	char big[STARTTLS_MAXREPLY + 10], num[FMT_ULONG];
	struct str many = STR_ZERO;
	size_t i;
	int sp[2], pp[2], fd, reqok;

	if (argc >= 2 && str_equal(argv[1], "serve"))
		return serve(!(argc >= 3 && str_equal(argv[2], "nodiscard")));

	/* well-formed answers */
	ok(parse(P("K\0TLSVERSION=TLSv1.3\0TLSCIPHER=TLS_AES_256_GCM_SHA384\0\0"), &r) == 1 &&
	    r.ok == 1 && r.nvar == 2, "K with two variables");
	ok(parse(P("K\0\0"), &r) == 1 && r.ok == 1 && r.nvar == 0, "K alone");
	ok(parse(P("Zhandshake failed\0\0"), &r) == 1 && r.ok == 0 &&
	    str_equal(r.why, "handshake failed"), "Z with a reason");
	ok(parse(P("Z\0\0"), &r) == 1 && r.ok == 0, "Z without a reason");
	ok(parse(P("K\0TLS=\0\0"), &r) == 1 && r.nvar == 1, "empty value");

	/* malformed ones */
	ok(parse("", 0, &r) == 0 && errno == EPROTO, "empty answer");
	ok(parse(P("K\0"), &r) == 0, "no final empty item");
	ok(parse(P("K\0TLSVERSION=1"), &r) == 0, "no final NUL");
	ok(parse(P("K\0\0\0"), &r) == 0, "bytes after the end");
	ok(parse(P("K\0\0x\0\0"), &r) == 0, "items after the end");
	ok(parse(P("KK\0\0"), &r) == 0, "status KK");
	ok(parse(P("X\0\0"), &r) == 0, "unknown status");
	ok(parse(P("\0\0\0"), &r) == 0, "empty status");
	ok(parse(P("K\0PATH=/tmp\0\0"), &r) == 0, "a name not starting with TLS");
	ok(parse(P("K\0LD_PRELOAD=/x.so\0\0"), &r) == 0, "LD_PRELOAD refused");
	ok(parse(P("K\0TLSversion=1\0\0"), &r) == 0, "lower-case name");
	ok(parse(P("K\0TLSVERSION\0\0"), &r) == 0, "no '='");
	ok(parse(P("K\0TL=1\0\0"), &r) == 0, "name too short");
	ok(parse(P("K\0TLSAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=1\0\0"), &r) == 0, "name too long");
	ok(parse(P("K\0TLSCIPHER=a\x01" "b\0\0"), &r) == 0, "control byte in a value");
	ok(parse(P("K\0TLSCIPHER=a\xff" "b\0\0"), &r) == 0, "8-bit byte in a value");
	ok(parse(P("K\0TLSCIPHER=a\r\nb\0\0"), &r) == 0, "CRLF in a value");
	ok(parse(P("Zx\0TLSVERSION=1\0\0"), &r) == 0, "variables after Z");
	ok(parse(P("Zbad\x07\0\0"), &r) == 0, "control byte in the reason");
	if (!str_copyb(&many, "K", 2))
		return 2;
	for (i = 0; i <= STARTTLS_MAXVARS; i++)
		if (!str_cats(&many, "TLSX=1") || !str_catc(&many, 0))
			return 2;
	if (!str_catc(&many, 0))
		return 2;
	ok(parse(many.s, many.len, &r) == 0, "too many variables");
	memset(big, 'a', sizeof big);
	memcpy(big, "K\0TLSX=", 7);
	big[sizeof big - 2] = big[sizeof big - 1] = 0;
	ok(parse(big, sizeof big, &r) == 0, "answer over STARTTLS_MAXREPLY");
	ok(parse(big, 3, &r) == 0, "truncated answer");
	ok(starttls_parse("K\0\0", (size_t)-1, &r) == 0, "SIZE_MAX length");

	/* starttls_var: exact names only */
	ok(parse(P("K\0TLSVERSIONX=a\0TLSVERSION=TLSv1.2\0TLS=z\0\0"), &r) == 1 &&
	    starttls_var(&r, "TLSVERSION") && str_equal(starttls_var(&r, "TLSVERSION"), "TLSv1.2") &&
	    starttls_var(&r, "TLS") && str_equal(starttls_var(&r, "TLS"), "z") &&
	    starttls_var(&r, "TLSCIPHER") == NULL && starttls_var(&r, "TLSVERS") == NULL,
	    "starttls_var: exact names, not prefixes");

	/* starttls_readanswer: qmail-tls -C's outcome on a pipe */
	{
		char m[64];
		size_t got;

		if (pipe(pp) == -1)
			return 2;
		if (write(pp[1], "Zno\0\0", 5) != 5)
			return 2;
		ok(starttls_readanswer(pp[0], m, sizeof m, &got, 5) == 1 && got == 5 &&
		    parse(m, got, &r) == 1 && r.ok == 0 && str_equal(r.why, "no"),
		    "readanswer: a whole answer");
		if (write(pp[1], "K\0TLSX=1", 8) != 8)
			return 2;
		ok(starttls_readanswer(pp[0], m, sizeof m, &got, 1) == 0 && errno == ETIMEDOUT,
		    "readanswer: half an answer times out");
		close(pp[1]);
		ok(starttls_readanswer(pp[0], m, sizeof m, &got, 1) == 0 && errno == EPIPE,
		    "readanswer: end of file before the end");
		close(pp[0]);
		if (pipe(pp) == -1)
			return 2;
		memset(big, 'K', 100);
		if (write(pp[1], big, 100) != 100)
			return 2;
		ok(starttls_readanswer(pp[0], m, sizeof m, &got, 1) == 0 && errno == EPROTO,
		    "readanswer: longer than the buffer");
		close(pp[0]);
		close(pp[1]);
	}

	/* the helper's view of requests */
	ok(starttls_scanreq("", 0) == 0, "request: nothing yet");
	ok(starttls_scanreq(P("S")) == 0, "request: 'S' alone is a beginning");
	ok(starttls_scanreq(P("S220 go")) == 0, "request: no NUL yet");
	ok(starttls_scanreq(P("S220 go\r\n\0")) == 1, "request: complete");
	ok(starttls_scanreq(P("S\0")) == -1, "request: empty reply");
	ok(starttls_scanreq(P("X220\0")) == -1, "request: wrong first byte");
	ok(starttls_scanreq(P("S220\0S")) == -1, "request: bytes after the NUL");
	memset(big, 'a', sizeof big);
	big[0] = 'S';
	ok(starttls_scanreq(big, STARTTLS_MAXLINE + 1) == 0, "request: longest reply, NUL to come");
	ok(starttls_scanreq(big, STARTTLS_MAXLINE + 2) == -1, "request: reply too long");
	big[STARTTLS_MAXLINE + 1] = 0;
	ok(starttls_scanreq(big, STARTTLS_MAXLINE + 2) == 1, "request: longest reply with its NUL");

	/* starttls_fd */
	unsetenv(STARTTLS_ENV);
	errno = 5;
	ok(starttls_fd() == -1 && errno == 0, "no TLSCONTROL: not offered");
	/* a bad variable is removed too: the subprogram must not see it */
	setenv(STARTTLS_ENV, "x", 1);
	ok(starttls_fd() == -1 && errno == EINVAL && getenv(STARTTLS_ENV) == NULL,
	    "junk TLSCONTROL: refused and removed");
	setenv(STARTTLS_ENV, "1", 1);
	ok(starttls_fd() == -1 && errno == EINVAL && getenv(STARTTLS_ENV) == NULL,
	    "TLSCONTROL 1 refused and removed");
	setenv(STARTTLS_ENV, "99999999999999999999999", 1);
	ok(starttls_fd() == -1 && errno == EINVAL && getenv(STARTTLS_ENV) == NULL,
	    "TLSCONTROL overflow refused and removed");
	(void)close(999);	/* surely not open: nothing to lose */
	setenv(STARTTLS_ENV, "999", 1);
	ok(starttls_fd() == -1 && errno == EBADF && getenv(STARTTLS_ENV) == NULL,
	    "TLSCONTROL naming a closed descriptor: refused and removed");
	if (pipe(pp) == -1 || socketpair(AF_UNIX, SOCK_STREAM, 0, sp) == -1)
		return 2;
	num[fmt_ulong(num, (unsigned long)pp[0])] = 0;
	setenv(STARTTLS_ENV, num, 1);
	ok(starttls_fd() == -1 && errno == ENOTSOCK && getenv(STARTTLS_ENV) == NULL,
	    "TLSCONTROL naming a pipe: refused and removed");
	num[fmt_ulong(num, (unsigned long)sp[0])] = 0;
	setenv(STARTTLS_ENV, num, 1);
	fd = starttls_fd();
	ok(fd == sp[0], "TLSCONTROL naming a socket");
	ok((fcntl(fd, F_GETFD) & FD_CLOEXEC) != 0, "made close-on-exec");
	ok(getenv(STARTTLS_ENV) == NULL, "removed from the environment");
	close(pp[0]);
	close(pp[1]);
	close(sp[0]);
	close(sp[1]);

	/* starttls_request refuses bad replies before sending anything */
	ok(starttls_request(-1, "", 0) == 0 && errno == EINVAL, "empty reply refused");
	ok(starttls_request(-1, P("220 a\0b\r\n")) == 0 && errno == EINVAL, "NUL in the reply refused");
	memset(big, 'a', sizeof big);
	ok(starttls_request(-1, big, STARTTLS_MAXLINE + 1) == 0 && errno == EINVAL, "over-long reply refused");

	/* against a peer */
	unsetenv("TLSVERSION");
	ok(request(P("K\0TLSVERSION=TLSv1.3\0TLSCIPHER=X\0\0"), 1, &reqok) == 1 &&
	    getenv("TLSVERSION") && str_equal(getenv("TLSVERSION"), "TLSv1.3") &&
	    getenv("TLSCIPHER") && str_equal(getenv("TLSCIPHER"), "X"),
	    "K: new fds 0 and 1, variables set, control closed");
	ok(reqok, "the request is 'S', the reply, NUL");
	ok(request(P("Zhandshake failed\0\0"), 0, &reqok) == 0 && errno == EPROTO,
	    "Z: failure");
	ok(request(P("K\0\0"), 0, &reqok) == 0 && errno == EPROTO,
	    "K without a descriptor: failure");
	ok(request(P("K\0PATH=/x\0\0"), 1, &reqok) == 0 && errno == EPROTO,
	    "K with a bad variable: failure");
	ok(request(P("K\0"), 0, &reqok) == 0 && errno == EPIPE,
	    "helper hangs up mid-answer: failure");
	str_free(&many);
	return tap_done();
}
