/* envelope.c - strict envelope parsers; see envelope.h
 *
 * The input comes from any local user (through qmail-queue) or from a
 * queue file that may be damaged: every record is bounded before it is
 * used, and a record's end is found with memchr, never assumed.
 */
#include <string.h>

#include "envelope.h"
#include "str.h"

/* record - the record starting at p[i] (letter, address, NUL): its
 * address length in *alen; 1 complete, 0 cut short, -1 too long */
static int
record(const char *p, size_t n, size_t i, size_t *alen)
{
	size_t have = n - i - 1;	/* bytes after the letter */
	size_t look = have < ENVELOPE_ADDR_MAX + 1 ? have : ENVELOPE_ADDR_MAX + 1;
	size_t k = str_chrb(p + i + 1, look, 0);

	if (k == look)
		return look > ENVELOPE_ADDR_MAX ? -1 : 0;
	*alen = k;
	return 1;
}

/* body - F record, then T records, from p[i]; final says whether form
 * (a)'s final NUL ends it */
static int
body(struct envelope *e, const char *p, size_t n, size_t i, int final)
{
	size_t alen;
	int r;

	if (i >= n || p[i] != 'F')
		return ENVELOPE_NOSENDER;
	if ((r = record(p, n, i, &alen)) != 1)
		return r < 0 ? ENVELOPE_TOOLONG : ENVELOPE_NOEND;
	e->sender = p + i + 1;
	e->senderlen = alen;
	i += alen + 2;
	e->rcpts = p + i;
	e->nrcpt = 0;
	for (;;) {
		if (i == n) {
			if (final)
				return e->nrcpt ? ENVELOPE_NOEND : ENVELOPE_NORCPT;
			break;
		}
		if (p[i] == 0) {
			if (!final)
				return ENVELOPE_TRAILING;
			if (e->nrcpt == 0)
				return ENVELOPE_NORCPT;
			if (i + 1 != n)
				return ENVELOPE_TRAILING;
			break;
		}
		if (p[i] != 'T')
			return ENVELOPE_BADRECORD;
		/* a T record begun is one recipient too many, even cut short */
		if (e->nrcpt == ENVELOPE_RCPT_MAX)
			return ENVELOPE_TOOMANY;
		if ((r = record(p, n, i, &alen)) != 1)
			return r < 0 ? ENVELOPE_TOOLONG : ENVELOPE_NOEND;
		e->nrcpt++;
		i += alen + 2;
	}
	if (e->nrcpt == 0)
		return ENVELOPE_NORCPT;
	e->rcptslen = (size_t)(p + i - e->rcpts);
	return ENVELOPE_OK;
}

int
envelope_parse_queue(struct envelope *e, const char *p, size_t n)
{
	e->uid = e->pid = 0;
	return body(e, p, n, 0, 1);
}

/* number - the record letter c at p[*i]: a decimal without leading zeros */
static int
number(const char *p, size_t n, size_t *i, char c, unsigned long *out)
{
	size_t k;

	if (*i >= n || p[*i] != c)
		return 0;
	k = str_chrb(p + *i + 1, n - *i - 1, 0);
	if (k == n - *i - 1 || k == 0 || k > 20 || (k > 1 && p[*i + 1] == '0'))
		return 0;
	if (!scan_ulong(p + *i + 1, k, out))
		return 0;
	*i += k + 2;
	return 1;
}

int
envelope_parse_todo(struct envelope *e, const char *p, size_t n)
{
	size_t i = 0;

	if (!number(p, n, &i, 'u', &e->uid) || !number(p, n, &i, 'p', &e->pid))
		return ENVELOPE_BADHEAD;
	return body(e, p, n, i, 0);
}

int
envelope_next(const struct envelope *e, size_t *pos, const char **addr, size_t *len)
{
	size_t k;

	if (*pos >= e->rcptslen)
		return 0;
	/* accepted by a parser: a 'T', then the address up to its NUL */
	k = str_chrb(e->rcpts + *pos + 1, e->rcptslen - *pos - 1, 0);
	*addr = e->rcpts + *pos + 1;
	*len = k;
	*pos += k + 2;
	return 1;
}

const char *
envelope_strerror(int r)
{
	switch (r) {
	case ENVELOPE_OK:
		return "ok";
	case ENVELOPE_NOSENDER:
		return "envelope does not start with a sender (F) record";
	case ENVELOPE_NORCPT:
		return "envelope has no recipient";
	case ENVELOPE_BADRECORD:
		return "envelope record is not a recipient (T)";
	case ENVELOPE_NOEND:
		return "envelope is cut short (no final NUL)";
	case ENVELOPE_TRAILING:
		return "data after the end of the envelope";
	case ENVELOPE_TOOLONG:
		return "address too long";
	case ENVELOPE_TOOMANY:
		return "too many recipients";
	case ENVELOPE_BADHEAD:
		return "envelope lacks its uid and pid records";
	}
	return "unknown envelope error";
}
