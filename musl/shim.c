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
#include <errno.h>

void __explicit_bzero_chk(void *, size_t, size_t);
int __snprintf_chk(char *, size_t, int, size_t, const char *, ...);
void arc4random_buf(void *, size_t);

void
__explicit_bzero_chk(void *p, size_t n, size_t destlen)
{
	if (n > destlen)
		abort();
	explicit_bzero(p, n);
}

int
__snprintf_chk(char *s, size_t maxlen, int flag, size_t slen, const char *fmt, ...)
{
	va_list ap;
	int r;

	(void)flag;
	if (maxlen > slen)
		abort();
	va_start(ap, fmt);
	r = vsnprintf(s, maxlen, fmt, ap);
	va_end(ap);
	return r;
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
