/* http.c - strict parsing of HTTP/1.1 requests; see http.h */
#include <string.h>

#include "http.h"
#include "str.h"

size_t
http_head_end(const char *p, size_t n)
{
	size_t i;

	for (i = 3; i < n; i++)
		if (p[i] == '\n' && p[i - 1] == '\r' && p[i - 2] == '\n' &&
		    p[i - 3] == '\r')
			return i + 1;
	return 0;
}

/* tchar - RFC 9110 token characters */
static int
tchar(unsigned char c)
{
	if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	    (c >= '0' && c <= '9'))
		return 1;
	return c != 0 && strchr("!#$%&'*+-.^_`|~", c) != NULL;
}

/* vchar - visible ASCII (no space, no control, no 8-bit) */
static int
vchar(unsigned char c)
{
	return c > 0x20 && c < 0x7f;
}

/* fchar - a byte of a header line: visible ASCII, space, tab, obs-text */
static int
fchar(unsigned char c)
{
	return c == '\t' || (c >= 0x20 && c != 0x7f);
}

/* trim - drop spaces and tabs at both ends of p[0..*n) */
static const char *
trim(const char *p, size_t *n)
{
	while (*n > 0 && (p[0] == ' ' || p[0] == '\t'))
		p++, (*n)--;
	while (*n > 0 && (p[*n - 1] == ' ' || p[*n - 1] == '\t'))
		(*n)--;
	return p;
}

static int
field(struct http_req *r, const char *name, size_t nl, const char *v,
    size_t vn)
{
	if (nl == 4 && str_caseeqb(name, "host", 4)) {
		if (r->host != NULL)
			return 0;
		r->host = v, r->hostlen = vn;
	} else if (nl == 6 && str_caseeqb(name, "cookie", 6)) {
		if (r->cookie != NULL)	/* browsers send one (RFC 6265 5.4) */
			return 0;
		r->cookie = v, r->cookielen = vn;
	} else if (nl == 12 && str_caseeqb(name, "content-type", 12)) {
		if (r->ctype != NULL)
			return 0;
		r->ctype = v, r->ctypelen = vn;
	} else if (nl == 14 && str_caseeqb(name, "content-length", 14)) {
		if (r->has_length || vn == 0 || vn > 9 ||
		    !scan_ulong(v, vn, &r->length))
			return 0;
		r->has_length = 1;
	} else if (nl == 17 && str_caseeqb(name, "transfer-encoding", 17)) {
		return 0;	/* no chunked bodies: smuggling starts there */
	} else if (nl == 10 && str_caseeqb(name, "connection", 10)) {
		if (vn == 5 && str_caseeqb(v, "close", 5))
			r->close = 1;
	}
	return 1;
}

int
http_parse(const char *p, size_t n, struct http_req *r)
{
	size_t i, e, start, nl, vn, fields = 0;
	const char *v;

	memset(r, 0, sizeof *r);
	if (n > HTTP_HEADMAX || n < 4 || http_head_end(p, n) != n)
		return 0;
	/* request line */
	for (e = 0; e < n && p[e] != '\r' && p[e] != '\n'; e++)
		;
	if (e + 2 > HTTP_LINEMAX || e + 1 >= n || p[e] != '\r' ||
	    p[e + 1] != '\n')
		return 0;
	for (i = 0; i < e && tchar((unsigned char)p[i]); i++)
		;
	if (i == 0 || i == e || p[i] != ' ')
		return 0;
	if (i == 3 && memcmp(p, "GET", 3) == 0)
		r->method = HTTP_GET;
	else if (i == 4 && memcmp(p, "HEAD", 4) == 0)
		r->method = HTTP_HEAD;
	else if (i == 4 && memcmp(p, "POST", 4) == 0)
		r->method = HTTP_POST;
	start = ++i;
	if (i >= e || p[i] != '/')
		return 0;
	for (; i < e && vchar((unsigned char)p[i]); i++)
		;
	if (i == e || p[i] != ' ')
		return 0;
	r->path = p + start;
	r->pathlen = i - start;
	v = memchr(r->path, '?', r->pathlen);
	if (v != NULL) {
		r->query = v + 1;
		r->querylen = r->pathlen - (size_t)(v + 1 - r->path);
		r->pathlen = (size_t)(v - r->path);
	}
	i++;
	if (e - i != 8 || memcmp(p + i, "HTTP/1.", 7) != 0 ||
	    (p[i + 7] != '0' && p[i + 7] != '1'))
		return 0;
	r->minor = p[i + 7] - '0';
	r->close = r->minor == 0;
	/* header lines, up to the empty one */
	for (i = e + 2; i < n - 2; i = e + 2) {
		/* field values may hold obs-text, bytes 0x80-0xff (RFC 9110
		 * 5.5): a cookie of another application on this host is
		 * no reason to refuse the request */
		for (e = i; e < n && p[e] != '\r' && p[e] != '\n'; e++)
			if (!fchar((unsigned char)p[e]))
				return 0;
		if (e + 1 >= n || p[e] != '\r' || p[e + 1] != '\n' || e == i)
			return 0;
		if (++fields > HTTP_FIELDSMAX)
			return 0;
		for (nl = 0; i + nl < e && tchar((unsigned char)p[i + nl]); nl++)
			;
		if (nl == 0 || i + nl == e || p[i + nl] != ':')
			return 0;	/* no name, or a space before the colon */
		vn = e - (i + nl + 1);
		v = trim(p + i + nl + 1, &vn);
		if (!field(r, p + i, nl, v, vn))
			return 0;
	}
	if (r->minor == 1 && r->host == NULL)
		return 0;
	return 1;
}

static int
hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

int
http_param(const char *p, size_t n, const char *name, char *out,
    size_t size)
{
	size_t i = 0, e, k, nl = strlen(name), o;
	int h, l;
	char c;

	if (size == 0)
		return -1;
	while (i < n) {
		for (e = i; e < n && p[e] != '&'; e++)
			;
		if (e - i > nl && p[i + nl] == '=' &&
		    memcmp(p + i, name, nl) == 0) {
			o = 0;
			for (k = i + nl + 1; k < e; k++) {
				c = p[k];
				if (c == '+')
					c = ' ';
				else if (c == '%') {
					if (k + 2 >= e)
						return -1;
					h = hexval(p[k + 1]);
					l = hexval(p[k + 2]);
					if (h < 0 || l < 0)
						return -1;
					c = (char)(h * 16 + l);
					k += 2;
				}
				if ((unsigned char)c < 0x20 || c == 0x7f)
					return -1;
				if (o + 1 >= size)
					return -1;
				out[o++] = c;
			}
			out[o] = 0;
			return 1;
		}
		i = e + 1;
	}
	return 0;
}

int
http_cookie(const char *p, size_t n, const char *name, const char **v,
    size_t *vn)
{
	size_t i = 0, e, nl = strlen(name), len;
	const char *s;

	while (i < n) {
		for (e = i; e < n && p[e] != ';'; e++)
			;
		len = e - i;
		s = trim(p + i, &len);
		if (len > nl && s[nl] == '=' && memcmp(s, name, nl) == 0) {
			*v = s + nl + 1;
			*vn = len - nl - 1;
			return 1;
		}
		i = e + 1;
	}
	return 0;
}
