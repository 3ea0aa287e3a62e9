/* lib-buf - unit tests for lib/buf: lines over pipes, over-long lines,
 * missing final newline, NULs, deadlines on read and write */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "buf.h"
#include "tap.h"

/* feed - a pipe whose read end holds n bytes of p, writer closed */
static int
feed(const char *p, size_t n)
{
	int fd[2];
	pid_t pid;

	if (pipe(fd) == -1)
		return -1;
	if ((pid = fork()) == 0) {
		close(fd[0]);
		_exit(fd_writeall(fd[1], p, n, 0) ? 0 : 1);
	}
	close(fd[1]);
	return fd[0];
}

static int
same(const struct str *s, const char *p, size_t n)
{
	return s->len == n && (n == 0 || memcmp(s->s, p, n) == 0);
}

int
main(void)
{
	char x[16], big[BUF_SIZE], out[70000];
	struct buf b;
	struct str line = STR_ZERO;
	int fd, fds[2], r, i, flags;
	long n;
	time_t t0;
	size_t total;

	signal(SIGPIPE, SIG_IGN);

	/* plain lines, a NUL inside one, no final newline */
	fd = feed("one\ntw\0o\nlast", 13);
	buf_init(&b, fd, x, sizeof x, 5);
	ok(buf_getline(&b, &line, '\n', 100) == 1 && same(&line, "one\n", 4), "first line with its newline");
	line.len = 0;
	ok(buf_getline(&b, &line, '\n', 100) == 1 && same(&line, "tw\0o\n", 5), "NUL inside a line kept");
	line.len = 0;
	ok(buf_getline(&b, &line, '\n', 100) == 0 && same(&line, "last", 4), "partial last line at EOF gives 0");
	line.len = 0;
	ok(buf_getline(&b, &line, '\n', 100) == 0 && line.len == 0, "EOF again: 0 and nothing");
	close(fd);

	/* empty input */
	fd = feed("", 0);
	buf_init(&b, fd, x, sizeof x, 5);
	ok(buf_getline(&b, &line, '\n', 100) == 0 && line.len == 0, "empty input: 0 at once");
	close(fd);

	/* NUL as separator (envelopes) */
	fd = feed("Fa\0Tb\0\0", 7);
	buf_init(&b, fd, x, 4, 5);
	line.len = 0;
	ok(buf_getline(&b, &line, 0, 10) == 1 && same(&line, "Fa\0", 3), "NUL separator");
	line.len = 0;
	ok(buf_getline(&b, &line, 0, 10) == 1 && same(&line, "Tb\0", 3), "across a tiny array");
	line.len = 0;
	ok(buf_getline(&b, &line, 0, 10) == 1 && same(&line, "\0", 1), "empty record");
	close(fd);

	/* lines longer than the array */
	memset(big, 'x', sizeof big);
	big[sizeof big - 1] = '\n';
	fd = feed(big, sizeof big);
	buf_init(&b, fd, x, sizeof x, 5);
	line.len = 0;
	ok(buf_getline(&b, &line, '\n', sizeof big) == 1 && same(&line, big, sizeof big), "8192-byte line through a 16-byte array");
	close(fd);

	/* max counts the separator: exactly max is fine, one more is not */
	fd = feed("abcd\nabcde\nfg\n", 14);
	buf_init(&b, fd, x, sizeof x, 5);
	line.len = 0;
	ok(buf_getline(&b, &line, '\n', 5) == 1 && same(&line, "abcd\n", 5), "line of exactly max bytes");
	line.len = 0;
	errno = 0;
	r = buf_getline(&b, &line, '\n', 5);
	ok(r == -1 && errno == EMSGSIZE, "line of max+1 bytes: EMSGSIZE");
	ok(same(&line, "abcde", 5), "the part that fitted is handed over");
	line.len = 0;
	ok(buf_getline(&b, &line, '\n', 5) == 1 && same(&line, "\n", 1), "the rest of the long line is left unread");
	line.len = 0;
	ok(buf_getline(&b, &line, '\n', 5) == 1 && same(&line, "fg\n", 3), "the next line is intact");
	close(fd);

	/* an over-long line spread over many reads */
	fd = feed(big, sizeof big);
	buf_init(&b, fd, x, sizeof x, 5);
	line.len = 0;
	errno = 0;
	ok(buf_getline(&b, &line, '\n', 1000) == -1 && errno == EMSGSIZE && line.len == 1000, "long line cut at max over many reads");
	close(fd);

	/* max 0 */
	fd = feed("a\n", 2);
	buf_init(&b, fd, x, sizeof x, 5);
	line.len = 0;
	ok(buf_getline(&b, &line, '\n', 0) == -1 && errno == EMSGSIZE && line.len == 0, "max 0 takes nothing");
	close(fd);

	/* read deadline: a writer that never writes */
	if (pipe(fds) == -1)
		return 1;
	buf_init(&b, fds[0], x, sizeof x, 1);
	t0 = time(NULL);
	line.len = 0;
	errno = 0;
	r = buf_getline(&b, &line, '\n', 100);
	ok(r == -1 && errno == ETIMEDOUT, "read deadline: ETIMEDOUT");
	ok(time(NULL) - t0 <= 3, "within about the deadline");
	ok(write(fds[1], "late\n", 5) == 5, "writer writes late");
	ok(buf_getline(&b, &line, '\n', 100) == 1 && same(&line, "late\n", 5), "reading goes on after a timeout");
	errno = 0;
	ok(fd_read(fds[0], x, sizeof x, 1) == -1 && errno == ETIMEDOUT, "fd_read deadline");
	close(fds[1]);
	ok(fd_read(fds[0], x, sizeof x, 1) == 0, "fd_read EOF after the writer closes");
	close(fds[0]);

	/* buf_get: small and large reads */
	fd = feed("0123456789abcdefghijklmnopqrstuvwxyz", 36);
	buf_init(&b, fd, x, sizeof x, 5);
	ok(buf_get(&b, out, 3) == 3 && memcmp(out, "012", 3) == 0, "get 3");
	ok(buf_pending(&b) == 13, "13 read ahead");
	ok(buf_get(&b, out, 100) == 13 && memcmp(out, "3456789abcdef", 13) == 0, "get drains the array first");
	ok(buf_get(&b, out, 100) == 20 && memcmp(out, "ghijklmnopqrstuvwxyz", 20) == 0, "large get bypasses the array");
	ok(buf_get(&b, out, 100) == 0, "get at EOF");
	ok(buf_get(&b, out, 0) == 0, "get 0 bytes");
	close(fd);

	/* output: buffered, flushed, large writes straight through */
	if (pipe(fds) == -1)
		return 1;
	buf_init(&b, fds[1], x, sizeof x, 5);
	ok(buf_puts(&b, "hello ") && b.len == 6, "puts buffers");
	ok(buf_put(&b, "0123456789abcdef", 16), "put more than the room left");
	ok(buf_put(&b, big, 100) && buf_put(&b, "\0z", 2) && buf_flush(&b) && b.len == 0, "put large, NUL, flush");
	total = 0;
	while (total < 124 && (n = read(fds[0], out + total, sizeof out - total)) > 0)
		total += (size_t)n;
	ok(total == 124 && memcmp(out, "hello 0123456789abcdef", 22) == 0 &&
	    memcmp(out + 22, big, 100) == 0 && memcmp(out + 122, "\0z", 2) == 0, "bytes arrive in order");

	/* write deadline: a full pipe nobody reads */
	flags = fcntl(fds[1], F_GETFL);
	fcntl(fds[1], F_SETFL, flags | O_NONBLOCK);
	for (i = 0; i < 10000 && write(fds[1], out, sizeof out) > 0; i++)
		;
	fcntl(fds[1], F_SETFL, flags);
	t0 = time(NULL);
	errno = 0;
	ok(!fd_writeall(fds[1], "x", 1, 1) && errno == ETIMEDOUT, "write deadline on a full pipe: ETIMEDOUT");
	ok(time(NULL) - t0 <= 3, "within about the deadline");
	close(fds[0]);
	errno = 0;
	ok(!fd_writeall(fds[1], "x", 1, 1) && errno == EPIPE, "reader gone: EPIPE");
	buf_init(&b, fds[1], x, sizeof x, 1);
	ok(buf_put(&b, "abc", 3) && !buf_flush(&b) && errno == EPIPE, "flush reports the error");
	close(fds[1]);

	ok(fd_writeall(1, "", 0, 0), "writing nothing succeeds");
	str_free(&line);
	while (wait(NULL) > 0)
		;
	return tap_done();
}
