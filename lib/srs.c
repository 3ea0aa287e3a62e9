/* srs.c - SRS address forms; see srs.h
 *
 * srs_parse reads local parts that anyone may send a bounce to: every
 * field is bounded by the input and checked before use.
 */
#include <string.h>

#include "srs.h"
#include "str.h"

static const char b32[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";

void
srs_timestamp(unsigned long day, char tt[2])
{
	tt[0] = b32[(day >> 5) & 31];
	tt[1] = b32[day & 31];
}

static int
b32val(char c, unsigned long *v)
{
	const char *p;

	if (c >= 'a' && c <= 'z')
		c = (char)(c - 'a' + 'A');
	if (c == 0 || (p = strchr(b32, c)) == NULL)
		return 0;
	*v = (unsigned long)(p - b32);
	return 1;
}

int
srs_age(const char *tt, unsigned long today, unsigned long *age)
{
	unsigned long hi, lo, then;

	if (!b32val(tt[0], &hi) || !b32val(tt[1], &lo))
		return 0;
	then = (hi << 5) | lo;
	*age = ((today & 1023) + 1024 - then) & 1023;
	return 1;
}

static int
is_sep(char c)
{
	return c == '=' || c == '+' || c == '-';
}

static int
hashchar(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	    c == '_' || c == '.';
}

static int
domainchar(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	    c == '-' || c == '.';
}

int
srs_parse(const char *p, size_t n, struct srs_parts *out)
{
	size_t i, e;

	if (n < 5 || (p[0] != 'S' && p[0] != 's') || (p[1] != 'R' && p[1] != 'r') ||
	    (p[2] != 'S' && p[2] != 's') || (p[3] != '0' && p[3] != '1') || !is_sep(p[4]))
		return 0;
	out->type = p[3] - '0';
	i = 5;
	if (n - i < SRS_HASHLEN + 1)
		return 0;
	for (e = 0; e < SRS_HASHLEN; e++)
		if (!hashchar(p[i + e]))
			return 0;
	out->hash = p + i;
	i += SRS_HASHLEN;
	if (p[i++] != '=')
		return 0;
	if (out->type == 0) {
		if (n - i < 3 || p[i + 2] != '=')
			return 0;
		out->tt = p + i;
		i += 3;
	} else
		out->tt = NULL;
	for (e = i; e < n && p[e] != '='; e++)
		if (!domainchar(p[e]))
			return 0;
	if (e == i || e == n || e - i > 253)
		return 0;
	out->domain = p + i;
	out->domainlen = e - i;
	i = e + 1;
	if (out->type == 1) {
		/* the rest of the SRS0 address, its separator first */
		if (i >= n || !is_sep(p[i]) || n - i < 2)
			return 0;
	} else if (i >= n)
		return 0;
	out->local = p + i;
	out->locallen = n - i;
	for (e = i; e < n; e++)
		if ((unsigned char)p[e] <= ' ' || (unsigned char)p[e] >= 127 || p[e] == '@')
			return 0;
	return 1;
}

/* srs_hashdata - the local part without its hash: "SRS0=TT=domain=local"
 * or "SRS1=host=" and the SRS0 rest.  TT is two characters and a domain
 * holds no '=' (srs_parse sees to that), so the bytes say where each
 * field ends: without the '=' TT "far.test" "a" and TT "far.tes" "ta"
 * would be the same data, one hash vouching for two addresses.  The
 * type keeps SRS0 data from being read as SRS1's ("JR=-x.test=a" is
 * both). */
int
srs_hashdata(const struct srs_parts *s, struct str *out)
{
	out->len = 0;
	if (!str_cats(out, s->type ? "SRS1=" : "SRS0=") ||
	    (s->type == 0 && (!str_catb(out, s->tt, 2) || !str_catc(out, '='))) ||
	    !str_catb(out, s->domain, s->domainlen) || !str_catc(out, '=') ||
	    !str_catb(out, s->local, s->locallen))
		return 0;
	str_lowerb(out->s, out->len);
	return 1;
}

int
srs_format(const struct srs_parts *s, struct str *out)
{
	if (!str_cats(out, s->type ? "SRS1=" : "SRS0=") || !str_catb(out, s->hash, SRS_HASHLEN) ||
	    !str_catc(out, '='))
		return 0;
	if (s->type == 0 && (!str_catb(out, s->tt, 2) || !str_catc(out, '=')))
		return 0;
	return str_catb(out, s->domain, s->domainlen) && str_catc(out, '=') &&
	    str_catb(out, s->local, s->locallen);
}

int
srs_hasheq(const char *a, const char *b)
{
	return str_caseeqb(a, b, SRS_HASHLEN);
}
