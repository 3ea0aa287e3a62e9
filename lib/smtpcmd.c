/* smtpcmd.c - SMTP server command parsing; see smtpcmd.h
 *
 * Input is whatever a client sent: any byte, any length the caller let
 * through.  Every index is checked against n before use.
 */
#include <string.h>

#include "smtpcmd.h"

int
smtpcmd_check(const char *s, size_t n, size_t *len)
{
	size_t i;

	if (n == 0 || s[n - 1] != '\n')
		return SMTPCMD_BARELF;	/* the caller had no whole line */
	if (n < 2 || s[n - 2] != '\r')
		return SMTPCMD_BARELF;
	for (i = 0; i + 2 < n; i++) {
		if (s[i] == '\n')
			return SMTPCMD_BARELF;	/* cannot happen when read up to LF */
		if (s[i] == '\r')
			return SMTPCMD_BARECR;
		if (s[i] == 0)
			return SMTPCMD_NUL;
	}
	*len = n - 2;
	return SMTPCMD_OK;
}

static int
isblank_(char c)
{
	return c == ' ' || c == '\t';
}

static size_t
skipblank(const char *s, size_t n, size_t i)
{
	while (i < n && isblank_(s[i]))
		i++;
	return i;
}

static const struct {
	const char *name;
	enum smtpverb verb;
} verbs[] = {
	{ "helo", SMTP_HELO }, { "ehlo", SMTP_EHLO }, { "mail", SMTP_MAIL },
	{ "rcpt", SMTP_RCPT }, { "data", SMTP_DATA }, { "rset", SMTP_RSET },
	{ "noop", SMTP_NOOP }, { "quit", SMTP_QUIT }, { "vrfy", SMTP_VRFY },
	{ "help", SMTP_HELP }, { "auth", SMTP_AUTH }, { "expn", SMTP_EXPN },
	{ "starttls", SMTP_STARTTLS },
};

enum smtpverb
smtpcmd_verb(const char *s, size_t n, size_t *arg)
{
	size_t i, v, k;
	enum smtpverb verb = SMTP_UNKNOWN;

	*arg = n;
	i = skipblank(s, n, 0);
	if (i == n)
		return SMTP_EMPTY;
	for (v = i; v < n && !isblank_(s[v]); v++)
		if (s[v] == ':')
			break;
	for (k = 0; k < sizeof verbs / sizeof verbs[0]; k++)
		if (v - i == strlen(verbs[k].name) && str_caseeqb(s + i, verbs[k].name, v - i))
			verb = verbs[k].verb;
	if (verb == SMTP_UNKNOWN)
		return verb;
	if (v < n && s[v] == ':')
		return SMTP_UNKNOWN;	/* "DATA:" and friends */
	i = skipblank(s, n, v);
	if (verb == SMTP_MAIL || verb == SMTP_RCPT) {
		const char *kw = verb == SMTP_MAIL ? "from:" : "to:";
		size_t kl = strlen(kw);

		/* "MAIL <a@b>" is MAIL with a bad argument (501), not an
		 * unknown command: *arg is then the end, an empty argument */
		if (n - i < kl || !str_caseeqb(s + i, kw, kl))
			return verb;
		i = skipblank(s, n, i + kl);
	}
	*arg = i;
	return verb;
}

/* ctrl - a control character or blank, never part of an unquoted address */
static int
ctrl(unsigned char c)
{
	return c < 33 || c == 127;
}

int
smtpcmd_path(const char *s, size_t n, struct str *addr, size_t *rest, int *route)
{
	size_t i = 0, end;
	int bracket = 0, quoted = 0;

	addr->len = 0;
	*route = 0;
	*rest = n;
	if (i < n && s[i] == '<') {
		bracket = 1;
		i++;
		/* a source route: "@host,@host:" before the mailbox */
		if (i < n && s[i] == '@') {
			size_t c = i;

			while (c < n && s[c] != ':' && s[c] != '>')
				c++;
			if (c == n || s[c] != ':')
				return SMTPPATH_SYNTAX;
			*route = 1;
			i = c + 1;
		}
	}
	for (;;) {
		unsigned char c;

		if (i == n) {
			if (bracket || quoted)
				return SMTPPATH_SYNTAX;
			break;
		}
		c = (unsigned char)s[i];
		if (quoted) {
			if (c == '"') {
				quoted = 0;
				i++;
				continue;
			}
			if (c == '\\') {
				if (++i == n)
					return SMTPPATH_SYNTAX;
				c = (unsigned char)s[i];
			}
			if (c < 32 || c == 127)
				return SMTPPATH_CTRL;
		} else if (c == '"') {
			quoted = 1;
			i++;
			continue;
		} else if (bracket && c == '>') {
			i++;
			break;
		} else if (!bracket && isblank_((char)c)) {
			break;
		} else if (c == '<' || c == '>') {
			return SMTPPATH_SYNTAX;
		} else if (ctrl(c)) {
			return SMTPPATH_CTRL;
		}
		if (addr->len >= SMTPADDR_MAX)
			return SMTPPATH_LONG;
		if (!str_catc(addr, (char)c))
			return SMTPPATH_LONG;
		i++;
	}
	/* parameters are separated from the path by a blank */
	if (i < n && !isblank_(s[i]))
		return SMTPPATH_SYNTAX;
	end = skipblank(s, n, i);
	*rest = end;
	return SMTPPATH_OK;
}

int
smtpcmd_param(const char *s, size_t n, size_t *pos, size_t *key, size_t *klen,
    size_t *val, size_t *vlen)
{
	size_t i = skipblank(s, n, *pos), e;

	if (i >= n)
		return 0;
	for (e = i; e < n && !isblank_(s[e]); e++)
		;
	*key = i;
	*klen = str_chrb(s + i, e - i, '=');
	if (*klen < e - i) {
		*val = i + *klen + 1;
		*vlen = e - *val;
	} else {
		*val = e;
		*vlen = 0;
	}
	*pos = skipblank(s, n, e);
	return 1;
}

int
smtpcmd_dotted(const char *b, size_t n, const char *more, int high)
{
	size_t i, word = 0;

	for (i = 0; i < n; i++) {
		if (b[i] == '.') {
			if (word == 0)
				return 0;
			word = 0;
		} else if (str_isalpha(b[i]) || str_isdigit(b[i]) || (b[i] && strchr(more, b[i])) ||
		    (high && (unsigned char)b[i] >= 0x80))
			word++;
		else
			return 0;
	}
	return word > 0;
}

int
smtpcmd_pathcat(struct str *out, const char *a, size_t n)
{
	size_t at = str_rchrb(a, n, '@'), i;

	/* RFC 6531 adds every byte of a UTF-8 sequence to atext, and
	 * qmail-remote sends such an address only with SMTPUTF8 */
	if (n == 0 || smtpcmd_dotted(a, at, SMTPCMD_ATEXT, 1))
		return str_catb(out, a, n);
	if (!str_catc(out, '"'))
		return 0;
	for (i = 0; i < at; i++)
		if (((a[i] == '"' || a[i] == '\\') && !str_catc(out, '\\')) || !str_catc(out, a[i]))
			return 0;
	return str_catc(out, '"') && str_catb(out, a + at, n - at);
}
