/* smtpreply.c - SMTP reply parser for the client side; see smtpreply.h
 *
 * Untrusted input from a remote server: codes are checked digit by
 * digit, the text kept is bounded, NULs and other control bytes in the
 * text are replaced (the text ends up in logs and bounces).
 */
#include <errno.h>

#include "smtpreply.h"

void
smtpreply_start(struct smtpreply *r)
{
	r->code = 0;
	r->lines = 0;
	r->ext = 0;
	r->size = 0;
	r->text.len = 0;
}

void
smtpreply_free(struct smtpreply *r)
{
	str_free(&r->text);
	smtpreply_start(r);
}

/* keyword - the EHLO line's first word is kw (any case), followed by
 * the end or a blank; *arg at what follows the blank */
static int
keyword(const char *p, size_t n, const char *kw, size_t *arg)
{
	size_t i;

	for (i = 0; kw[i]; i++) {
		if (i >= n)
			return 0;
		if ((p[i] | 0x20) != (kw[i] | 0x20))
			return 0;
	}
	if (i < n && p[i] != ' ' && p[i] != '\t' && p[i] != '=')
		return 0;
	*arg = i < n ? i + 1 : n;
	return 1;
}

/* auth_mechs - the SASL mechanisms after "AUTH " (or the old "AUTH="),
 * separated by blanks; PLAIN and LOGIN are the ones used */
static unsigned
auth_mechs(const char *p, size_t n)
{
	unsigned bits = 0;
	size_t i = 0, s;

	while (i < n) {
		while (i < n && (p[i] == ' ' || p[i] == '\t'))
			i++;
		for (s = i; i < n && p[i] != ' ' && p[i] != '\t'; i++)
			;
		if (i - s == 5 && str_caseeqb(p + s, "PLAIN", 5))
			bits |= SMTPEXT_AUTHPLAIN;
		else if (i - s == 5 && str_caseeqb(p + s, "LOGIN", 5))
			bits |= SMTPEXT_AUTHLOGIN;
	}
	return bits;
}

static void
ehlo_line(struct smtpreply *r, const char *p, size_t n)
{
	unsigned long u;
	size_t a, e;

	if (keyword(p, n, "PIPELINING", &a))
		r->ext |= SMTPEXT_PIPELINING;
	else if (keyword(p, n, "8BITMIME", &a))
		r->ext |= SMTPEXT_8BITMIME;
	else if (keyword(p, n, "STARTTLS", &a))
		r->ext |= SMTPEXT_STARTTLS;
	else if (keyword(p, n, "SMTPUTF8", &a))
		r->ext |= SMTPEXT_SMTPUTF8;
	else if (keyword(p, n, "AUTH", &a))
		r->ext |= auth_mechs(p + a, n - a);
	else if (keyword(p, n, "SIZE", &a)) {
		r->ext |= SMTPEXT_SIZE;
		for (e = a; e < n && p[e] >= '0' && p[e] <= '9'; e++)
			;
		if (e > a && scan_ulong(p + a, e - a, &u))
			r->size = u;
	}
}

int
smtpreply_line(struct smtpreply *r, const char *p, size_t n)
{
	unsigned code;
	size_t i;
	char c, sep;

	if (n > 0 && p[n - 1] == '\n')
		n--;
	if (n > 0 && p[n - 1] == '\r')
		n--;
	if (n < 3 || p[0] < '2' || p[0] > '5' || p[1] < '0' || p[1] > '5' ||
	    p[2] < '0' || p[2] > '9')
		return errno = EPROTO, -1;
	code = (unsigned)(p[0] - '0') * 100 + (unsigned)(p[1] - '0') * 10 +
	    (unsigned)(p[2] - '0');
	sep = n > 3 ? p[3] : ' ';
	if (sep != ' ' && sep != '-')
		return errno = EPROTO, -1;
	if (r->lines > 0 && code != r->code)
		return errno = EPROTO, -1;
	if (r->lines >= SMTPREPLY_LINES_MAX)
		return errno = EPROTO, -1;
	r->code = code;
	if (r->lines > 0 && n > 4)
		ehlo_line(r, p + 4, n - 4);
	r->lines++;
	if (r->text.len > 0 && r->text.len < SMTPREPLY_TEXT_MAX &&
	    !str_catc(&r->text, '\n'))
		return -1;
	for (i = 0; i < n && r->text.len < SMTPREPLY_TEXT_MAX; i++) {
		c = p[i];
		if ((unsigned char)c < 0x20 || c == 0x7f)
			c = '?';
		if (!str_catc(&r->text, c))
			return -1;
	}
	return sep == ' ' ? 1 : 0;
}
