/* tap.h - the Test Anything Protocol for the C unit tests
 *
 *	ok(cond, "what");  ...  return tap_done();
 * prints "ok N - what" or "not ok N - what" and the plan at the end.
 */
#ifndef TAP_H
#define TAP_H

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

static int tap_n, tap_failed;

#define ok(cond, ...) tap_ok(!!(cond), __FILE__, __LINE__, __VA_ARGS__)

static void __attribute__((format(printf, 4, 5)))
tap_ok(int pass, const char *file, int line, const char *fmt, ...)
{
	va_list ap;

	printf("%sok %d - ", pass ? "" : "not ", ++tap_n);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
	if (!pass) {
		printf("#   failed at %s line %d\n", file, line);
		tap_failed++;
	}
	fflush(stdout);
}

/* tap_tmpname - "$TMPDIR/name.XXXXXX" (/tmp without TMPDIR; make check
 * points it into its scratch directory) in buf of n bytes, for mkdtemp
 * or mkstemp.  1 done; 0 with a message when it does not fit. */
static int __attribute__((unused))
tap_tmpname(char *buf, size_t n, const char *name)
{
	const char *t = getenv("TMPDIR");
	int r;

	if (t == NULL || *t == 0)
		t = "/tmp";
	r = snprintf(buf, n, "%s/%s.XXXXXX", t, name);
	if (r < 0 || (size_t)r >= n) {
		fprintf(stderr, "TMPDIR is too long for this test: %s\n", t);
		return 0;
	}
	return 1;
}

static int
tap_done(void)
{
	printf("1..%d\n", tap_n);
	return tap_failed ? 1 : 0;
}

#endif
