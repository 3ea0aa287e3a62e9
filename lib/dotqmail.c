/* dotqmail.c - .qmail and .forward parsers; see dotqmail.h and dot-qmail(5)
 *
 * Used by qmail-local on files the recipient writes, and by the fuzz
 * target tests/fuzz/dotqmail.c: every index is checked against n.
 */
#include <errno.h>

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
	if (d->p[s] == '"') {
		e = s + 1 + str_chrb(d->p + s + 1, d->wend - s - 1, '"');
		if (e >= d->wend)
			return errno = EINVAL, -1;
		d->wpos = e + 1;
		s++;
	} else if (d->p[s] == '|') {
		/* an unquoted command takes the rest of the line */
		e = d->wend;
		while (e > s && (d->p[e - 1] == ' ' || d->p[e - 1] == '\t' || d->p[e - 1] == '\r'))
			e--;
		d->wpos = d->wend;
	} else {
		for (e = s; e < d->wend && !fwblank(d->p[e]); e++)
			;
		d->wpos = e;
	}
	if (e == s)
		return errno = EINVAL, -1;
	if (d->p[s] == '\\') {
		in->type = DQ_FORWARD;
		in->arg = d->p + s;
		in->len = 0;
		return 1;
	}
	if (d->p[s] == '|' || d->p[s] == '/')
		return classify(d->p + s, e - s, in);
	in->type = DQ_FORWARD;
	in->arg = d->p + s;
	in->len = e - s;
	return 1;
}
