/* lib-control - unit tests for lib/control: comments, trailing blanks,
 * missing and empty files, NULs, junk numbers, unreadable files */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "control.h"
#include "tap.h"

static void
put(const char *fn, const char *p, size_t n)
{
	int fd = open(fn, O_WRONLY | O_CREAT | O_TRUNC, 0644);

	if (fd == -1 || write(fd, p, n) != (ssize_t)n || close(fd) == -1) {
		perror(fn);
		exit(1);
	}
}

#define PUT(fn, lit) put((fn), (lit), sizeof(lit) - 1)

static int
same(const struct str *s, const char *p, size_t n)
{
	return s->len == n && (n == 0 || memcmp(s->s, p, n) == 0);
}

int
main(void)
{
	char dir[512];
	struct str s = STR_ZERO;
	unsigned long u;
	int r;

	/* make check points TMPDIR into its scratch directory */
	snprintf(dir, sizeof dir, "%s/lib-control.XXXXXX", getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
	if (mkdtemp(dir) == NULL || chdir(dir) == -1) {
		perror("mkdtemp");
		return 1;
	}

	/* missing, empty, only comments and blanks */
	ok(control_readline("nothere", &s) == 0, "missing file: 0");
	ok(control_readlist("nothere", &s) == 0 && s.len == 0, "missing list: 0, empty");
	ok(control_readulong("nothere", &u) == 0, "missing number: 0");
	PUT("empty", "");
	ok(control_readline("empty", &s) == 0, "empty file counts as missing for readline");
	ok(control_readlist("empty", &s) == 1 && s.len == 0, "empty list: read, nothing in it");
	ok(control_readulong("empty", &u) == 0, "empty number file: 0 (default)");
	PUT("comments", "# one\n#two\n   \n\t\r\n\n");
	ok(control_readline("comments", &s) == 0, "only comments and blank lines: missing");

	/* the rules */
	PUT("me", "# the host\n\nmail.example.org \t\r\nsecond\n");
	ok(control_readline("me", &s) == 1 && same(&s, "mail.example.org", 16), "first real line, trailing blanks trimmed");
	PUT("nonl", "host.example");
	ok(control_readline("nonl", &s) == 1 && same(&s, "host.example", 12), "no final newline");
	PUT("crlf", "a.example\r\n");
	ok(control_readline("crlf", &s) == 1 && same(&s, "a.example", 9), "CRLF line end");
	PUT("lead", "  spaced  \n");
	ok(control_readline("lead", &s) == 1 && same(&s, "  spaced", 8), "leading blanks are kept");
	PUT("list", "a.example\n# c\n\n b.example \n#\nc.example");
	ok(control_readlist("list", &s) == 1 && same(&s, "a.example\0 b.example\0c.example\0", 31), "list: NUL-ended lines");
	PUT("hash", "x#y\n");
	ok(control_readline("hash", &s) == 1 && same(&s, "x#y", 3), "# inside a line is data");
	put("nul", "a\0b\n", 4);
	errno = 0;
	ok(control_readlist("nul", &s) == -1 && errno == EINVAL, "NUL inside a line: -1 EINVAL");
	put("nulcomment", "#a\0b\nok\n", 8);
	ok(control_readline("nulcomment", &s) == 1 && same(&s, "ok", 2), "NUL inside a comment is harmless");

	/* numbers */
	PUT("n1", "42\n");
	ok(control_readulong("n1", &u) == 1 && u == 42, "42");
	PUT("n2", "# limit\n  7 \n");
	ok(control_readulong("n2", &u) == 1 && u == 7, "blanks around a number");
	PUT("n3", "18446744073709551615\n");
	ok(control_readulong("n3", &u) == 1 && u == ULONG_MAX, "ULONG_MAX");
	u = 5;
	PUT("n4", "18446744073709551616\n");
	ok(control_readulong("n4", &u) == -1 && errno == EINVAL && u == 5, "overflow: -1 EINVAL");
	PUT("n5", "12k\n");
	ok(control_readulong("n5", &u) == -1 && errno == EINVAL, "trailing junk: -1");
	PUT("n6", "-1\n");
	ok(control_readulong("n6", &u) == -1, "negative: -1");
	PUT("n7", "0x10\n");
	ok(control_readulong("n7", &u) == -1, "hex: -1");
	PUT("n8", "1 2\n");
	ok(control_readulong("n8", &u) == -1, "two numbers: -1");
	PUT("n9", "3\njunk\n");
	ok(control_readulong("n9", &u) == 1 && u == 3, "only the first line counts");

	/* readfile: raw, bounded */
	put("raw", "#x\0\r\n", 5);
	ok(control_readfile("raw", &s, 100) == 1 && same(&s, "#x\0\r\n", 5), "readfile is raw");
	errno = 0;
	ok(control_readfile("raw", &s, 4) == -1 && errno == EFBIG, "readfile over max: EFBIG");
	ok(control_readfile("raw", &s, 5) == 1, "readfile of exactly max");

	/* unreadable: a directory, and a file without permission */
	mkdir("adir", 0755);
	errno = 0;
	ok(control_readline("adir", &s) == -1 && errno == EISDIR, "a directory: -1 EISDIR");
	PUT("secret", "x\n");
	chmod("secret", 0);
	if (geteuid() == 0) {
		ok(1, "# skip unreadable file: root reads every file");
	} else {
		errno = 0;
		r = control_readline("secret", &s);
		ok(r == -1 && errno == EACCES, "unreadable file: -1 EACCES, not the default");
	}
	errno = 0;
	ok(control_readline("nothere/x", &s) == 0, "missing directory: missing");
	PUT("afile", "x\n");
	errno = 0;
	ok(control_readline("afile/x", &s) == -1 && errno == ENOTDIR, "a file as directory: -1 ENOTDIR");

	/* parselist on bytes in memory */
	ok(control_parselist("", 0, &s) == 1 && s.len == 0, "parselist empty");
	ok(control_parselist("\n\n\n", 3, &s) == 1 && s.len == 0, "parselist newlines only");
	ok(control_parselist("a", 1, &s) == 1 && same(&s, "a\0", 2), "parselist one byte");
	ok(control_parselist("a \t\r", 4, &s) == 1 && same(&s, "a\0", 2), "parselist trailing blanks without newline");

	str_free(&s);
	if (chdir("/") == -1)
		return 1;
	{
		static const char *const files[] = { "empty", "comments", "me", "nonl", "crlf", "lead", "list",
			"hash", "nul", "nulcomment", "n1", "n2", "n3", "n4", "n5", "n6", "n7", "n8", "n9", "raw",
			"secret", "afile", 0 };
		char path[600];
		int i;

		for (i = 0; files[i]; i++) {
			snprintf(path, sizeof path, "%s/%s", dir, files[i]);
			unlink(path);
		}
		snprintf(path, sizeof path, "%s/adir", dir);
		rmdir(path);
		ok(rmdir(dir) == 0, "scratch directory removed");
	}
	return tap_done();
}
