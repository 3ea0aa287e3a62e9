/* control.c - control file readers; see control.h
 *
 * Control files are written by the administrator and trusted to that
 * extent, but parsed carefully all the same: any byte may appear, lines
 * may be long, the last line may lack its newline.
 */
#include <errno.h>
#include <fcntl.h>
#include <unistd.h>

#include "buf.h"
#include "control.h"

#define CONTROL_MAX (64UL * 1024 * 1024)

int
control_readfile(const char *fn, struct str *out, size_t max)
{
	char x[BUF_SIZE];
	long r;
	int fd, err;

	out->len = 0;
	if ((fd = open(fn, O_RDONLY | O_CLOEXEC)) == -1)
		return errno == ENOENT ? 0 : -1;
	for (;;) {
		if ((r = fd_read(fd, x, sizeof x, 0)) == -1)
			goto fail;
		if (r == 0)
			break;
		if (out->len + (size_t)r > max) {
			errno = EFBIG;
			goto fail;
		}
		if (!str_catb(out, x, (size_t)r))
			goto fail;
	}
	if (close(fd) == -1)
		return -1;
	return 1;
fail:
	err = errno;
	(void)close(fd);	/* the read error is the one to report */
	errno = err;
	return -1;
}

static int
isblank_(char c)
{
	return c == ' ' || c == '\t' || c == '\r';
}

int
control_parselist(const char *p, size_t n, struct str *out)
{
	size_t i = 0, e, end;

	out->len = 0;
	while (i < n) {
		e = i + str_chrb(p + i, n - i, '\n');
		end = e;
		while (end > i && isblank_(p[end - 1]))
			end--;
		if (end > i && p[i] != '#') {
			/* a NUL inside a line would split it silently */
			if (str_chrb(p + i, end - i, 0) != end - i)
				return errno = EINVAL, -1;
			if (!str_catb(out, p + i, end - i) || !str_catc(out, 0))
				return -1;
		}
		i = e + 1;
	}
	return 1;
}

int
control_readlist(const char *fn, struct str *out)
{
	struct str raw = STR_ZERO;
	int r;

	if ((r = control_readfile(fn, &raw, CONTROL_MAX)) == 1)
		r = control_parselist(raw.s, raw.len, out);
	else
		out->len = 0;
	str_free(&raw);
	return r;
}

int
control_readline(const char *fn, struct str *out)
{
	struct str list = STR_ZERO;
	int r;

	if ((r = control_readlist(fn, &list)) == 1) {
		if (list.len == 0)
			r = 0;
		else if (!str_copyb(out, list.s, str_chrb(list.s, list.len, 0)))
			r = -1;
	}
	str_free(&list);
	return r;
}

int
control_readulong(const char *fn, unsigned long *out)
{
	struct str line = STR_ZERO;
	size_t i = 0;
	int r;

	if ((r = control_readline(fn, &line)) == 1) {
		while (i < line.len && (line.s[i] == ' ' || line.s[i] == '\t'))
			i++;
		if (!scan_ulong(line.s + i, line.len - i, out))
			r = -1, errno = EINVAL;
	}
	str_free(&line);
	return r;
}
