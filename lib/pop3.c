/* pop3.c - POP3 command parsing and the wire form of messages; see pop3.h */
#include <string.h>

#include "pop3.h"
#include "str.h"

static const struct {
	const char *name;
	int cmd;
} keywords[] = {
	{ "USER", POP3_USER }, { "PASS", POP3_PASS }, { "APOP", POP3_APOP },
	{ "AUTH", POP3_AUTH }, { "CAPA", POP3_CAPA }, { "QUIT", POP3_QUIT },
	{ "STAT", POP3_STAT }, { "LIST", POP3_LIST }, { "UIDL", POP3_UIDL },
	{ "RETR", POP3_RETR }, { "TOP", POP3_TOP }, { "DELE", POP3_DELE },
	{ "NOOP", POP3_NOOP }, { "RSET", POP3_RSET }, { "STLS", POP3_STLS },
	{ "LAST", POP3_LAST },
};

int
pop3_parse(const char *line, size_t n, struct pop3_cmd *c)
{
	size_t i, k, tab = n;

	c->cmd = POP3_UNKNOWN;
	c->arg = "";
	c->arglen = 0;
	if (n == 0)
		return 0;
	/* control bytes have no place in a command; a tab is one too,
	 * except in a password (below) */
	for (i = 0; i < n; i++) {
		if (line[i] == '\t') {
			if (tab == n)
				tab = i;
		} else if ((unsigned char)line[i] < ' ' || line[i] == 0x7f)
			return 0;
	}
	k = str_chrb(line, n, ' ');
	if (k == 0 || k > tab)
		return 0;
	if (k > 4)
		return tab == n;	/* no keyword is that long */
	if (k < n) {
		c->arg = line + k + 1;
		c->arglen = n - k - 1;
	}
	for (i = 0; i < sizeof keywords / sizeof keywords[0]; i++)
		if (strlen(keywords[i].name) == k &&
		    str_caseeqb(line, keywords[i].name, k)) {
			c->cmd = keywords[i].cmd;
			break;
		}
	/* PASS takes the rest of the line: a password may hold any
	 * printable byte, blanks and tabs included */
	return tab == n || c->cmd == POP3_PASS;
}

int
pop3_num(const char *s, size_t n, unsigned long max, unsigned long *out)
{
	unsigned long u;

	if (n == 0 || n > 10 || !scan_ulong(s, n, &u) || u == 0 || u > max)
		return 0;
	*out = u;
	return 1;
}

int
pop3_two(const char *s, size_t n, unsigned long max, unsigned long *msg,
    unsigned long *lines)
{
	size_t sp = str_chrb(s, n, ' ');

	if (sp == n || !pop3_num(s, sp, max, msg))
		return 0;
	s += sp + 1;
	n -= sp + 1;
	if (n == 0 || n > 10)
		return 0;
	return scan_ulong(s, n, lines);
}

int
pop3_plain(const char *s, size_t n, const char **authz, size_t *authzlen,
    const char **user, size_t *userlen, const char **pass, size_t *passlen)
{
	size_t a, u;

	a = str_chrb(s, n, 0);
	if (a == n)
		return 0;
	u = str_chrb(s + a + 1, n - a - 1, 0);
	if (a + 1 + u == n || u == 0)
		return 0;
	if (str_chrb(s + a + u + 2, n - a - u - 2, 0) != n - a - u - 2)
		return 0;
	*authz = s;
	*authzlen = a;
	*user = s + a + 1;
	*userlen = u;
	*pass = s + a + u + 2;
	*passlen = n - a - u - 2;
	return 1;
}

size_t
pop3_uidl(const char *name, size_t n, char out[71])
{
	static const char hex[] = "0123456789abcdef";
	unsigned long long h = 1469598103934665603ULL;	/* FNV-1a */
	size_t i, base = str_chrb(name, n, ':');
	int ok = base > 0 && base <= 70;

	/* nothing before the flags: only the whole name tells such files
	 * apart (":2,a" and ":2,b" are two messages) */
	if (base == 0)
		base = n;

	for (i = 0; i < base && ok; i++)
		if (name[i] <= ' ' || name[i] > '~')
			ok = 0;
	if (ok) {
		memcpy(out, name, base);
		return base;
	}
	for (i = 0; i < base; i++) {
		h ^= (unsigned char)name[i];
		h *= 1099511628211ULL;
	}
	memcpy(out, "h", 1);
	for (i = 0; i < 16; i++)
		out[1 + i] = hex[(h >> (60 - 4 * i)) & 15];
	return 17;
}

void
pop3_wire_init(struct pop3_wire *w, int top, unsigned long lines)
{
	w->bol = 1;
	w->cr = 0;
	w->body = 0;
	w->linelen = 0;
	w->top = top;
	w->lines = lines;
	w->stop = 0;
}

int
pop3_wire_put(struct pop3_wire *w, const char *p, size_t n, struct buf *out)
{
	size_t i = 0, e;

	while (i < n && !w->stop) {
		if (w->bol) {
			if (w->top && w->body) {
				if (w->lines == 0) {
					w->stop = 1;
					break;
				}
				w->lines--;
			}
			/* a line starting with '.' gets one more */
			if (p[i] == '.' && !buf_put(out, ".", 1))
				return 0;
			w->bol = 0;
			w->linelen = 0;
		}
		e = str_chrb(p + i, n - i, '\n');
		if (e > 0) {
			if (!buf_put(out, p + i, e))
				return 0;
			w->linelen += e - (p[i + e - 1] == '\r');
			w->cr = p[i + e - 1] == '\r';
		}
		i += e;
		if (i == n)
			break;
		/* a LF: CRLF on the wire, whether the file had CR or not */
		if (!buf_put(out, w->cr ? "\n" : "\r\n", w->cr ? 1 : 2))
			return 0;
		i++;
		if (w->linelen == 0)
			w->body = 1;
		w->bol = 1;
		w->cr = 0;
	}
	return 1;
}

int
pop3_wire_end(struct pop3_wire *w, struct buf *out)
{
	if (!w->bol && !w->stop) {
		if (!buf_put(out, w->cr ? "\n" : "\r\n", w->cr ? 1 : 2))
			return 0;
	}
	w->bol = 1;
	return buf_put(out, ".\r\n", 3);
}
