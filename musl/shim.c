/* shim.c - the few glibc symbols that Debian's static libcrypt.a
 * references, for the musl build only
 *
 * libxcrypt is compiled against glibc with _FORTIFY_SOURCE, so its
 * archive calls the checking variants of explicit_bzero and snprintf,
 * and arc4random_buf for salts.  musl has none of them; these give the
 * same behaviour, with the checks the fortified versions make.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <unistd.h>
#include <errno.h>

void __explicit_bzero_chk(void *, size_t, size_t);
int __snprintf_chk(char *, size_t, int, size_t, const char *, ...);
void __assert_fail(const char *, const char *, int, const char *);
void arc4random_buf(void *, size_t);

void
__explicit_bzero_chk(void *p, size_t n, size_t destlen)
{
	if (n > destlen)
		abort();
	explicit_bzero(p, n);
}

/* put - one byte into s[0..max), counted whether or not it fits */
static void
put(char *s, size_t max, size_t *n, char c)
{
	if (*n + 1 < max)
		s[*n] = c;
	(*n)++;
}

/* __snprintf_chk - snprintf for the formats libcrypt's kept methods use
 * ("%s%zu$", "$%c$rounds=%lu$"): %s %c %d %u %lu %zu and %%.  musl's
 * vsnprintf would bring its whole printf, floating point included, 10
 * KiB of code no program here needs; a format beyond these aborts
 * rather than come out wrong. */
int
__snprintf_chk(char *s, size_t maxlen, int flag, size_t slen, const char *fmt, ...)
{
	va_list ap;
	char d[24];
	const char *a;
	unsigned long long u;
	long long v;
	size_t n = 0, k;

	(void)flag;
	if (maxlen > slen)
		abort();
	va_start(ap, fmt);
	for (; *fmt; fmt++) {
		if (*fmt != '%') {
			put(s, maxlen, &n, *fmt);
			continue;
		}
		switch (*++fmt) {
		case '%':
			put(s, maxlen, &n, '%');
			continue;
		case 'c':
			put(s, maxlen, &n, (char)va_arg(ap, int));
			continue;
		case 's':
			for (a = va_arg(ap, const char *); *a; a++)
				put(s, maxlen, &n, *a);
			continue;
		case 'd':
			v = va_arg(ap, int);
			if (v < 0)
				put(s, maxlen, &n, '-');
			u = v < 0 ? (unsigned long long)-v : (unsigned long long)v;
			break;
		case 'u':
			u = va_arg(ap, unsigned);
			break;
		case 'l':
			if (*++fmt != 'u')
				abort();
			u = va_arg(ap, unsigned long);
			break;
		case 'z':
			if (*++fmt != 'u')
				abort();
			u = va_arg(ap, size_t);
			break;
		default:
			abort();
		}
		k = 0;
		do
			d[k++] = (char)('0' + u % 10);
		while ((u /= 10) > 0);
		while (k > 0)
			put(s, maxlen, &n, d[--k]);
	}
	va_end(ap);
	if (maxlen > 0)
		s[n < maxlen ? n : maxlen - 1] = 0;
	return (int)n;
}

/* __assert_fail - libcrypt's assertions: musl's would bring fprintf */
void
__assert_fail(const char *expr, const char *file, int line, const char *func)
{
	static const char m[] = "libcrypt: assertion failed\n";

	(void)expr, (void)file, (void)line, (void)func;
	(void)!write(2, m, sizeof m - 1);
	abort();
}

void
arc4random_buf(void *p, size_t n)
{
	unsigned char *c = p;
	ssize_t r;

	while (n > 0) {
		r = getrandom(c, n, 0);
		if (r == -1) {
			if (errno == EINTR)
				continue;
			abort();	/* no randomness: no safe salt either */
		}
		c += r;
		n -= (size_t)r;
	}
}
