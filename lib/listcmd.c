/* listcmd.c - parsing qmail-list's command addresses (see listcmd.h).
 * The input is whatever a remote sender put after "LIST-". */
#include <errno.h>

#include "listcmd.h"

#define ADDR_MAX 320

static int
word(const char *p, size_t n, const char *w, size_t *used)
{
	size_t i;

	for (i = 0; w[i]; i++) {
		char c;

		if (i >= n)
			return 0;
		c = p[i];
		if (c >= 'A' && c <= 'Z')
			c = (char)(c - 'A' + 'a');
		if (c != w[i])
			return 0;
	}
	*used = i;
	return 1;
}

/* number - decimal digits up to a '.' or '-' or the end; 1 with *used */
static int
number(const char *p, size_t n, unsigned long *out, size_t *used)
{
	size_t i;

	for (i = 0; i < n && p[i] >= '0' && p[i] <= '9'; i++)
		if (i >= 19)
			return 0;
	if (i == 0 || !scan_ulong(p, i, out))
		return 0;
	*used = i;
	return 1;
}

static int
hex(const char *p, size_t n, size_t *used)
{
	size_t i;

	for (i = 0; i < n && ((p[i] >= '0' && p[i] <= '9') || (p[i] >= 'a' && p[i] <= 'f') ||
	    (p[i] >= 'A' && p[i] <= 'F')); i++)
		;
	if (i == 0 || i > LISTCMD_COOKIEMAX)
		return 0;
	*used = i;
	return 1;
}

int
listcmd_addrok(const char *p, size_t n)
{
	size_t i, at = n;

	if (n == 0 || n > ADDR_MAX)
		return 0;
	for (i = 0; i < n; i++) {
		unsigned char c = (unsigned char)p[i];

		if (c <= 32 || c >= 127 || c == '<' || c == '>' || c == '"' || c == '\\' ||
		    c == ',' || c == ';' || c == '(' || c == ')')
			return 0;
		if (c == '@') {
			if (at != n)
				return 0;
			at = i;
		}
	}
	if (at == 0 || at == n || at + 1 == n)
		return 0;
	for (i = at + 1; i < n; i++)
		if (p[i] == '/' || p[i] == '=')
			return 0;
	if (p[at + 1] == '.' || p[at + 1] == '-' || p[0] == '.' || p[0] == '|' || p[0] == '&' ||
	    p[0] == '-')
		return 0;
	return 1;
}

int
listcmd_encode(struct str *out, const char *p, size_t n)
{
	size_t at;

	if (!listcmd_addrok(p, n))
		return errno = EINVAL, 0;
	at = str_rchrb(p, n, '@');
	if (!str_readyplus(out, n))
		return 0;
	(void)str_catb(out, p, at);
	(void)str_catc(out, '=');
	(void)str_catb(out, p + at + 1, n - at - 1);
	return 1;
}

int
listcmd_decode(struct str *out, const char *p, size_t n)
{
	size_t eq, len = out->len;

	if (n == 0 || n > ADDR_MAX || str_chrb(p, n, '@') != n)
		return errno = EINVAL, 0;
	eq = str_rchrb(p, n, '=');
	if (eq == n)
		return errno = EINVAL, 0;
	if (!str_readyplus(out, n))
		return 0;
	(void)str_catb(out, p, eq);
	(void)str_catc(out, '@');
	(void)str_catb(out, p + eq + 1, n - eq - 1);
	if (!listcmd_addrok(out->s + len, n)) {
		out->len = len;
		return errno = EINVAL, 0;
	}
	return 1;
}

/* cookieform - NUM.COOKIE, then -ADDR when addr is wanted; the rest of p */
static int
cookieform(const char *p, size_t n, struct listcmd *c, int withaddr)
{
	size_t u;

	if (!number(p, n, &c->num, &u) || u >= n || p[u] != '.')
		return 0;
	p += u + 1;
	n -= u + 1;
	if (!hex(p, n, &u))
		return 0;
	c->cookie = p;
	c->cookielen = u;
	p += u;
	n -= u;
	if (!withaddr)
		return n == 0;
	if (n < 2 || p[0] != '-')
		return 0;
	c->addr = p + 1;
	c->addrlen = n - 1;
	return c->addrlen <= ADDR_MAX && str_chrb(c->addr, c->addrlen, '=') != c->addrlen &&
	    str_chrb(c->addr, c->addrlen, '@') == c->addrlen;
}

int
listcmd_parse(const char *p, size_t n, struct listcmd *c)
{
	static const struct {
		const char *w;
		int cmd, addr;
	} cookies[] = {
		{ "sc.", LISTCMD_SUBCONF, 1 }, { "uc.", LISTCMD_UNSUBCONF, 1 },
		{ "probe.", LISTCMD_PROBE, 1 }, { "accept.", LISTCMD_ACCEPT, 0 },
		{ "reject.", LISTCMD_REJECT, 0 },
	};
	size_t u, i;

	c->cmd = LISTCMD_BAD;
	c->num = 0;
	c->cookie = c->addr = 0;
	c->cookielen = c->addrlen = 0;
	if (n == 0 || n > LISTCMD_MAX)
		return 0;
	if (word(p, n, "help", &u) && u == n)
		return c->cmd = LISTCMD_HELP, 1;
	if (word(p, n, "subscribe", &u) && u == n)
		return c->cmd = LISTCMD_SUB, 1;
	if (word(p, n, "unsubscribe", &u) && u == n)
		return c->cmd = LISTCMD_UNSUB, 1;
	if (word(p, n, "get.", &u)) {
		size_t v;

		if (!number(p + u, n - u, &c->num, &v) || u + v != n)
			return 0;
		return c->cmd = LISTCMD_GET, 1;
	}
	if (word(p, n, "return-", &u)) {
		c->addr = p + u;
		c->addrlen = n - u;
		if (c->addrlen == 0 || c->addrlen > ADDR_MAX ||
		    str_chrb(c->addr, c->addrlen, '=') == c->addrlen ||
		    str_chrb(c->addr, c->addrlen, '@') != c->addrlen)
			return c->addr = 0, c->addrlen = 0, 0;
		return c->cmd = LISTCMD_RETURN, 1;
	}
	for (i = 0; i < sizeof cookies / sizeof cookies[0]; i++)
		if (word(p, n, cookies[i].w, &u)) {
			if (!cookieform(p + u, n - u, c, cookies[i].addr)) {
				c->num = 0;
				c->cookie = c->addr = 0;
				c->cookielen = c->addrlen = 0;
				return 0;
			}
			return c->cmd = cookies[i].cmd, 1;
		}
	return 0;
}

size_t
listcmd_headerlen(const char *m, size_t n)
{
	size_t i, k;

	for (i = 0; i < n; i += k + 1) {
		k = str_chrb(m + i, n - i, '\n');
		if (k == n - i)
			break;		/* a last line without newline: no blank line */
		if (k == 0 || (k == 1 && m[i] == '\r'))
			return i + k + 1;
	}
	return n;
}

/* fieldis - the line p (k bytes) starts the field name: "name:" in any case */
static int
fieldis(const char *p, size_t k, const char *name)
{
	size_t nl = 0;

	while (name[nl])
		nl++;
	return k > nl && p[nl] == ':' && str_caseeqb(p, name, nl);
}

/* prefixis - the line p (k bytes) starts with w in any case */
static int
prefixis(const char *p, size_t k, const char *w)
{
	size_t nl = 0;

	while (w[nl])
		nl++;
	return k >= nl && str_caseeqb(p, w, nl);
}

static int
blank(char c)
{
	return c == ' ' || c == '\t';
}

int
listcmd_fieldnext(const char *m, size_t hn, size_t *pos, const char *name, struct str *out)
{
	size_t i, k, j, e, start, nl = 0;

	while (name[nl])
		nl++;
	out->len = 0;
	for (i = *pos; i < hn; i += k + 1) {
		k = str_chrb(m + i, hn - i, '\n');
		if (k == 0 || (k == 1 && m[i] == '\r'))
			break;		/* the blank line: the header ends */
		if (!blank(m[i]) && fieldis(m + i, k, name)) {
			j = i + nl + 1;
			/* unfold (RFC 5322 2.2.3): each line end goes, the blank
			 * that starts the next line stays */
			for (;;) {
				e = i + k;
				if (e > j && m[e - 1] == '\r')
					e--;
				if (!str_catb(out, m + j, e - j))
					return -1;
				i += k + 1;
				if (i >= hn || !blank(m[i]))
					break;
				k = str_chrb(m + i, hn - i, '\n');
				j = i;
			}
			*pos = i < hn ? i : hn;
			for (start = 0; start < out->len && blank(out->s[start]); start++)
				;
			if (start) {
				for (j = start; j < out->len; j++)
					out->s[j - start] = out->s[j];
				out->len -= start;
			}
			while (out->len && blank(out->s[out->len - 1]))
				out->len--;
			return str_nul(out) ? 1 : -1;
		}
		if (k == hn - i)
			break;
	}
	*pos = hn;
	return str_nul(out) ? 0 : -1;
}

int
listcmd_field(const char *m, size_t hn, const char *name, struct str *out)
{
	size_t pos = 0;

	return listcmd_fieldnext(m, hn, &pos, name, out);
}

int
listcmd_has(const char *hay, size_t n, const char *needle, size_t nn)
{
	size_t i;

	if (nn == 0)
		return 1;
	for (i = 0; nn <= n && i <= n - nn; i++)
		if (str_caseeqb(hay + i, needle, nn))
			return 1;
	return 0;
}

int
listcmd_copy(struct str *out, const char *m, size_t n, const char *prefix, size_t pn)
{
	struct str subj = STR_ZERO;
	size_t hn = listcmd_headerlen(m, n), i, k, j, at, start = out->len;
	int skip, has_subject = 0;

	for (i = 0; i < hn; i += k + 1) {
		k = str_chrb(m + i, hn - i, '\n');
		if (k == 0 || (k == 1 && m[i] == '\r'))
			break;
		skip = prefixis(m + i, k, "List-") || fieldis(m + i, k, "Precedence") ||
		    fieldis(m + i, k, "Return-Path");
		if (fieldis(m + i, k, "Subject")) {
			has_subject = 1;
			for (j = i + 8; j < i + k && blank(m[j]); j++)
				;
			/* the prefix may sit on a folded line: look in the whole value */
			at = i;
			if (pn && listcmd_fieldnext(m, hn, &at, "Subject", &subj) == -1)
				goto nomem;
			if (pn && !listcmd_has(subj.s, subj.len, prefix, pn)) {
				if (!str_catb(out, "Subject: ", 9) || !str_catb(out, prefix, pn) ||
				    !str_catc(out, ' ') || !str_catb(out, m + j, i + k - j) ||
				    !str_catc(out, '\n'))
					goto nomem;
				skip = 2;
			}
		}
		/* a folded field goes or stays whole */
		for (;;) {
			if (skip == 0 && (!str_catb(out, m + i, k) || !str_catc(out, '\n')))
				goto nomem;
			if (i + k + 1 >= hn || !blank(m[i + k + 1]))
				break;
			i += k + 1;
			k = str_chrb(m + i, hn - i, '\n');
			if (skip == 2 && (!str_catb(out, m + i, k) || !str_catc(out, '\n')))
				goto nomem;
		}
	}
	if (!has_subject && pn && (!str_catb(out, "Subject: ", 9) || !str_catb(out, prefix, pn) ||
	    !str_catc(out, '\n')))
		goto nomem;
	if (!str_catc(out, '\n') || (n > hn && !str_catb(out, m + hn, n - hn)) ||
	    (n > hn && m[n - 1] != '\n' && !str_catc(out, '\n')))
		goto nomem;
	str_free(&subj);
	return 1;
nomem:
	str_free(&subj);
	out->len = start;
	return 0;
}
