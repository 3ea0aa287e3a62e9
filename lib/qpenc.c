/* qpenc.c - quoted-printable encoding of message bodies; see qpenc.h
 *
 * The message is the sender's and untrusted: any byte may appear in
 * the body and in the header values looked at here.
 */
#include "qpenc.h"

static const char hex[] = "0123456789ABCDEF";

int
qpenc_piece(struct str *out, const char *p, size_t n, size_t *col, int last)
{
	unsigned char c;
	size_t i, t;
	char e[3];

	/* the output is at most 3 bytes per input byte plus soft breaks */
	for (i = 0; i < n; i++) {
		c = (unsigned char)p[i];
		if ((c >= 33 && c <= 126 && c != '=') ||
		    ((c == ' ' || c == '\t') && !(last && i == n - 1))) {
			e[0] = (char)c;
			t = 1;
		} else {
			e[0] = '=';
			e[1] = hex[c >> 4];
			e[2] = hex[c & 15];
			t = 3;
		}
		/* room for the token and a soft break's '=' */
		if (*col + t > QPENC_LINE - 1) {
			if (!str_catb(out, "=\n", 2))
				return 0;
			*col = 0;
		}
		if (!str_catb(out, e, t))
			return 0;
		*col += t;
	}
	return 1;
}

static char
lower(char c)
{
	return c >= 'A' && c <= 'Z' ? (char)(c - 'A' + 'a') : c;
}

/* startword - value v starts with word w (any case) followed by the
 * end, a blank, ';' or '/' */
static int
startword(const char *v, size_t n, const char *w)
{
	size_t i;

	while (n > 0 && (*v == ' ' || *v == '\t')) {
		v++;
		n--;
	}
	for (i = 0; w[i]; i++)
		if (i >= n || lower(v[i]) != w[i])
			return 0;
	return i == n || v[i] == ' ' || v[i] == '\t' || v[i] == ';' ||
	    v[i] == '/' || v[i] == '\r' || v[i] == '(';
}

int
qpenc_convertible(const char *ct, size_t ctn, const char *cte, size_t cten)
{
	if (startword(ct, ctn, "multipart") || startword(ct, ctn, "message"))
		return 0;
	if (startword(cte, cten, "base64") || startword(cte, cten, "quoted-printable"))
		return 0;
	return 1;
}

size_t
qpenc_field(const char *line, size_t n, const char *name)
{
	size_t i;

	for (i = 0; name[i]; i++)
		if (i >= n || lower(line[i]) != lower(name[i]))
			return 0;
	while (i < n && (line[i] == ' ' || line[i] == '\t'))
		i++;
	if (i >= n || line[i] != ':')
		return 0;
	for (i++; i < n && (line[i] == ' ' || line[i] == '\t'); i++)
		;
	return i;
}
