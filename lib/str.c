/* str.c - length-counted growable byte strings; see str.h */
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "str.h"

/* str_readyplus - room for n more bytes and a NUL; 0 and errno on failure */
int
str_readyplus(struct str *sa, size_t n)
{
	size_t need, cap;
	char *p;

	/* one spare byte so that str_nul never has to grow */
	if (__builtin_add_overflow(sa->len, n, &need) ||
	    __builtin_add_overflow(need, 1, &need))
		return errno = EOVERFLOW, 0;
	if (need <= sa->cap)
		return 1;
	if (__builtin_add_overflow(need, need / 2, &cap))
		cap = need;
	if (cap < 32)
		cap = 32;
	if ((p = realloc(sa->s, cap)) == NULL)
		return errno = ENOMEM, 0;
	sa->s = p;
	sa->cap = cap;
	return 1;
}

int
str_catb(struct str *sa, const char *p, size_t n)
{
	if (!str_readyplus(sa, n))
		return 0;
	if (n)
		memcpy(sa->s + sa->len, p, n);
	sa->len += n;
	return 1;
}

int
str_cats(struct str *sa, const char *s)
{
	return str_catb(sa, s, strlen(s));
}

int
str_catc(struct str *sa, char c)
{
	return str_catb(sa, &c, 1);
}

int
str_cat(struct str *sa, const struct str *from)
{
	return str_catb(sa, from->s, from->len);
}

int
str_copyb(struct str *sa, const char *p, size_t n)
{
	size_t old = sa->len;

	sa->len = 0;
	if (!str_catb(sa, p, n)) {
		sa->len = old;
		return 0;
	}
	return 1;
}

int
str_copys(struct str *sa, const char *s)
{
	return str_copyb(sa, s, strlen(s));
}

int
str_catulong(struct str *sa, unsigned long u)
{
	char buf[FMT_ULONG];

	return str_catb(sa, buf, fmt_ulong(buf, u));
}

int
str_nul(struct str *sa)
{
	if (!str_readyplus(sa, 0))
		return 0;
	sa->s[sa->len] = 0;
	return 1;
}

void
str_free(struct str *sa)
{
	free(sa->s);
	sa->s = NULL;
	sa->len = sa->cap = 0;
}

int
str_equal(const char *a, const char *b)
{
	return strcmp(a, b) == 0;
}

int
str_start(const char *s, const char *prefix)
{
	return strncmp(s, prefix, strlen(prefix)) == 0;
}

char
str_lowerc(char c)
{
	return c >= 'A' && c <= 'Z' ? (char)(c - 'A' + 'a') : c;
}

int
str_isalpha(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

int
str_isdigit(char c)
{
	return c >= '0' && c <= '9';
}

int
str_asciib(const char *s, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		if ((unsigned char)s[i] > 127)
			return 0;
	return 1;
}

/* str_caseeqb - ASCII case-insensitive equality of n bytes */
int
str_caseeqb(const char *a, const char *b, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (str_lowerc(a[i]) != str_lowerc(b[i]))
			return 0;
	return 1;
}

int
str_casestart(const char *s, const char *prefix)
{
	size_t i;

	for (i = 0; prefix[i]; i++)
		if (!s[i] || str_lowerc(s[i]) != str_lowerc(prefix[i]))
			return 0;
	return 1;
}

size_t
str_chrb(const char *s, size_t n, char c)
{
	const char *p = n ? memchr(s, c, n) : NULL;

	return p ? (size_t)(p - s) : n;
}

size_t
str_rchrb(const char *s, size_t n, char c)
{
	size_t i = n;

	while (i > 0)
		if (s[--i] == c)
			return i;
	return n;
}

void
str_lowerb(char *s, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		s[i] = str_lowerc(s[i]);
}

size_t
fmt_ulong(char *buf, unsigned long u)
{
	char tmp[FMT_ULONG];
	size_t n = 0, i;

	do {
		tmp[n++] = (char)('0' + u % 10);
		u /= 10;
	} while (u);
	for (i = 0; i < n; i++)
		buf[i] = tmp[n - 1 - i];
	return n;
}

int
scan_ulong(const char *s, size_t n, unsigned long *out)
{
	unsigned long u = 0;
	size_t i;

	if (n == 0)
		return errno = EINVAL, 0;
	for (i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return errno = EINVAL, 0;
		if (__builtin_mul_overflow(u, 10UL, &u) ||
		    __builtin_add_overflow(u, (unsigned long)(s[i] - '0'), &u))
			return errno = ERANGE, 0;
	}
	*out = u;
	return 1;
}
