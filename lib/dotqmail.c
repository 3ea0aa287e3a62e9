/* dotqmail.c - .qmail and .forward parsers; see dotqmail.h and dot-qmail(5)
 *
 * Used by qmail-local on files the recipient writes, and by the fuzz
 * target tests/fuzz/dotqmail.c: every index is checked against n.  The
 * addresses of a .forward are RFC 822's, read by addrlist.
 */
#include <errno.h>

#include "addrlist.h"
#include "dotqmail.h"
#include "str.h"

void
dotqmail_init(struct dotqmail *d, const char *text, size_t n)
{
	d->p = text;
	d->n = n;
	d->pos = 0;
	d->lineno = 0;
	d->wpos = d->wend = 0;
}

/* classify - the instruction of one non-empty line of .qmail syntax */
static int
classify(const char *s, size_t n, struct dotqmail_inst *in)
{
	switch (s[0]) {
	case '|':
		in->type = DQ_PROGRAM;
		in->arg = s + 1;
		in->len = n - 1;
		break;
	case '&':
		in->type = DQ_FORWARD;
		in->arg = s + 1;
		in->len = n - 1;
		break;
	case '.':
	case '/':
		in->type = s[n - 1] == '/' ? DQ_MAILDIR : DQ_MBOX;
		in->arg = s;
		in->len = n;
		break;
	default:
		in->type = DQ_FORWARD;
		in->arg = s;
		in->len = n;
	}
	if (in->len == 0)
		return errno = EINVAL, -1;
	return 1;
}

int
dotqmail_next(struct dotqmail *d, struct dotqmail_inst *in)
{
	size_t start, end, e;

	while (d->pos < d->n) {
		start = d->pos;
		e = str_chrb(d->p + start, d->n - start, '\n');
		d->pos = start + e + (start + e < d->n);
		d->lineno++;
		end = start + e;
		/* trailing blanks, and the CR of a file saved with CRLF: a
		 * Maildir "./Maildir/\r" would be an mbox nobody reads */
		while (end > start && (d->p[end - 1] == ' ' || d->p[end - 1] == '\t' ||
		    d->p[end - 1] == '\r'))
			end--;
		if (str_chrb(d->p + start, end - start, 0) != end - start)
			return errno = EINVAL, -1;
		if (end == start) {
			/* a blank first line: the file is probably damaged */
			if (d->lineno == 1)
				return errno = EINVAL, -1;
			continue;
		}
		if (d->p[start] == '#')
			continue;
		return classify(d->p + start, end - start, in);
	}
	return 0;
}

static int
fwblank(char c)
{
	return c == ' ' || c == '\t' || c == ',' || c == '\r';
}

#define INCLUDE ":include:"
#define INCLUDE_LEN 9

/* is_include - s[0..n) starts with ":include:", in any case, as sendmail
 * takes it */
static int
is_include(const char *s, size_t n)
{
	return n >= INCLUDE_LEN && str_caseeqb(s, INCLUDE, INCLUDE_LEN);
}

/* fwclassify - a .forward entry other than an address */
static int
fwclassify(const char *s, size_t n, struct dotqmail_inst *in)
{
	if (!is_include(s, n))
		return classify(s, n, in);
	s += INCLUDE_LEN, n -= INCLUDE_LEN;
	while (n > 0 && (*s == ' ' || *s == '\t'))
		s++, n--;
	if (n == 0)
		return errno = EINVAL, -1;
	in->type = DQ_INCLUDE;
	in->arg = s;
	in->len = n;
	return 1;
}

/* is_quoted_special - p[s..e) is a double-quoted |command, /file or
 * :include:, not the quoted local part or name of an address */
static int
is_quoted_special(const char *p, size_t s, size_t e)
{
	return p[s] == '"' && s + 1 < e &&
	    (p[s + 1] == '|' || p[s + 1] == '/' || is_include(p + s + 1, e - s - 1));
}

/* addr_end - the end of the address entry at p[s..e), the rest of the
 * line.  Plain words end at a blank or comma (old style: "a b, c"); an
 * entry with a quoted string, a comment or an angle bracket is RFC 822
 * ("Joe <joe@x>", "joe@x (Joe)") and runs to the next comma outside
 * them, or to a quoted |command or /file after a blank.  -1 when a quote,
 * comment or angle bracket is still open at the end of the line. */
static int
addr_end(const char *p, size_t s, size_t e, size_t *end)
{
	size_t i, blank = e, depth = 0;
	int rfc822 = 0, angle = 0;
	char close = 0;	/* inside "..." or [...]: the byte that ends it */

	for (i = s; i < e; i++) {
		char ch = p[i];

		if (close || depth) {
			if (ch == '\\')
				i++;	/* a quoted pair, even one left unfinished */
			else if (close && ch == close)
				close = 0;
			else if (!close && ch == '(')
				depth++;
			else if (!close && ch == ')')
				depth--;
			continue;
		}
		if (ch == ',' && !angle)
			break;
		if (ch == '"' && i > s && (p[i - 1] == ' ' || p[i - 1] == '\t') &&
		    is_quoted_special(p, i, e))
			break;
		switch (ch) {
		case '"':
			close = '"';
			rfc822 = 1;
			break;
		case '[':
			close = ']';
			break;
		case '(':
			depth = 1;
			rfc822 = 1;
			break;
		case '<':
			angle = 1;
			rfc822 = 1;
			break;
		case '>':
			angle = 0;
			break;
		case ' ': case '\t': case '\r':
			if (blank == e)
				blank = i;
		}
	}
	if (i > e)
		i = e;	/* a backslash was the line's last byte */
	if (rfc822) {
		if (close || depth || angle)
			return errno = EINVAL, -1;
		/* trailing blanks are not the address's */
		while (i > s && (p[i - 1] == ' ' || p[i - 1] == '\t' || p[i - 1] == '\r'))
			i--;
		*end = i;
	} else
		*end = blank < i ? blank : i;
	return 0;
}

int
dotforward_next(struct dotqmail *d, struct dotqmail_inst *in)
{
	size_t s, e;

	for (;;) {
		while (d->wpos < d->wend && fwblank(d->p[d->wpos]))
			d->wpos++;
		if (d->wpos < d->wend)
			break;
		/* the next line */
		if (d->pos >= d->n)
			return 0;
		s = d->pos;
		e = str_chrb(d->p + s, d->n - s, '\n');
		d->pos = s + e + (s + e < d->n);
		d->lineno++;
		if (str_chrb(d->p + s, e, 0) != e)
			return errno = EINVAL, -1;
		d->wpos = s;
		d->wend = s + e;
		while (d->wpos < d->wend && fwblank(d->p[d->wpos]))
			d->wpos++;
		if (d->wpos < d->wend && d->p[d->wpos] == '#')
			d->wpos = d->wend;
	}
	s = d->wpos;
	if (is_quoted_special(d->p, s, d->wend)) {
		e = s + 1 + str_chrb(d->p + s + 1, d->wend - s - 1, '"');
		if (e >= d->wend)
			return errno = EINVAL, -1;
		d->wpos = e + 1;
		return fwclassify(d->p + s + 1, e - s - 1, in);
	}
	if (d->p[s] == '|') {
		/* an unquoted command takes the rest of the line */
		e = d->wend;
		while (e > s && (d->p[e - 1] == ' ' || d->p[e - 1] == '\t' || d->p[e - 1] == '\r'))
			e--;
		d->wpos = d->wend;
		return classify(d->p + s, e - s, in);
	}
	if (d->p[s] == '/' || is_include(d->p + s, d->wend - s)) {
		e = s;
		if (d->p[s] != '/') {
			/* ":include: /file" is one entry */
			e += INCLUDE_LEN;
			while (e < d->wend && (d->p[e] == ' ' || d->p[e] == '\t'))
				e++;
		}
		while (e < d->wend && !fwblank(d->p[e]))
			e++;
		d->wpos = e;
		return fwclassify(d->p + s, e - s, in);
	}
	if (addr_end(d->p, s, d->wend, &e) == -1)
		return -1;
	d->wpos = e;
	if (d->p[s] == '\\')
		s++;
	if (e <= s)
		return errno = EINVAL, -1;
	in->type = DQ_FORWARD;
	in->arg = d->p + s;
	in->len = e - s;
	return 1;
}

struct oneaddr {
	struct str *out;
	size_t locallen;
	int has_domain;
	unsigned long count;
};

/* one_addr - addrlist_parse's function: keep the first, refuse a second */
static int
one_addr(void *arg, const struct addrlist_addr *a)
{
	struct oneaddr *o = arg;

	if (o->count++ > 0)
		return errno = EINVAL, 0;
	o->locallen = a->locallen;
	o->has_domain = a->has_domain;
	return str_copyb(o->out, a->addr, a->len) && str_nul(o->out);
}

int
dotforward_addr(const char *entry, size_t n, struct str *out, size_t *locallen, int *has_domain)
{
	struct oneaddr o;

	o.out = out;
	o.count = 0;
	o.locallen = 0;
	o.has_domain = 0;
	if (!addrlist_parse(entry, n, one_addr, &o))
		return 0;
	/* "<>", "(comment)", or a quoted empty local part: no address */
	if (o.count != 1 || o.locallen == 0)
		return errno = EINVAL, 0;
	*locallen = o.locallen;
	*has_domain = o.has_domain;
	return 1;
}
