/* authres.c - Authentication-Results fields that speak for us; see
 * authres.h
 *
 * Input is a message header as a client wrote it, untrusted, and in
 * authres_strip cut into chunks anywhere: the state carries everything
 * a chunk boundary may cut, and nothing is allocated.
 */
#include <string.h>

#include "authres.h"
#include "str.h"

#define NAME "authentication-results"
#define NAMELEN 22

enum {
	S_BOL,		/* at the start of a header line */
	S_NAME,		/* in a field name that may be NAME (held) */
	S_NAMEWSP,	/* after NAME: blanks, then the colon (held) */
	S_HOLD,		/* in an Authentication-Results field (held) */
	S_PASS,		/* in a field that stays */
	S_DROP,		/* in a field that goes */
	S_BODY		/* past the header: everything stays */
};

enum { F_PASS, F_HOLD, F_DROP };

/* skip_cfws - past comments (nested, with quoted pairs) and folding
 * white space from p[i]; n when a comment is not closed */
static size_t
skip_cfws(const char *p, size_t i, size_t n)
{
	size_t depth = 0;

	for (; i < n; i++) {
		if (depth == 0 && p[i] != '(' && p[i] != ' ' && p[i] != '\t' && p[i] != '\r' &&
		    p[i] != '\n')
			return i;
		if (p[i] == '(')
			depth++;
		else if (depth > 0 && p[i] == ')')
			depth--;
		else if (depth > 0 && p[i] == '\\' && i + 1 < n)
			i++;
	}
	return n;
}

/* tspecial - ends a token (RFC 2045 5.1) */
static int
tspecial(char c)
{
	return (unsigned char)c <= ' ' || c == 127 || (c != 0 && strchr("()<>@,;:\\\"/[]?=", c));
}

/* mentions - me occurs in p[0..n), case ignored */
static int
mentions(const char *p, size_t n, const char *me, size_t melen)
{
	size_t i;

	for (i = 0; melen > 0 && i + melen <= n; i++)
		if (str_caseeqb(p + i, me, melen))
			return 1;
	return 0;
}

/* qchar - the next character of a quoted string's inside p[0..n) from
 * *i, its quoted pairs undone and its line breaks (folding) left out;
 * -1 at the end */
static int
qchar(const char *p, size_t n, size_t *i)
{
	char c;

	for (;;) {
		if (*i >= n)
			return -1;
		c = p[(*i)++];
		if (c == '\r' || c == '\n')
			continue;
		if (c == '\\' && *i < n)
			c = p[(*i)++];
		return (unsigned char)c;
	}
}

/* qeq - the inside p[0..n) of a quoted string, without the blanks at
 * its ends and one final dot (the absolute form of the name), is me,
 * case ignored: 1 yes, 0 no, -1 it is nothing but blanks */
static int
qeq(const char *p, size_t n, const char *me, size_t melen)
{
	size_t i = 0, k, b = (size_t)-1, e = 0;
	int c, last = 0;

	/* two passes: the first finds the blanks at the ends */
	for (k = 0; (c = qchar(p, n, &i)) != -1; k++)
		if (c != ' ' && c != '\t') {
			if (b == (size_t)-1)
				b = k;
			e = k + 1;
			last = c;
		}
	if (b == (size_t)-1)
		return -1;
	if (last == '.' && e - b == melen + 1)
		e--;
	if (e - b != melen)
		return 0;
	for (i = 0, k = 0; k < e && (c = qchar(p, n, &i)) != -1; k++)
		if (k >= b && str_lowerc((char)c) != str_lowerc(me[k - b]))
			return 0;
	return 1;
}

int
authres_ours(const char *f, size_t n, const char *me, size_t melen, int partial)
{
	size_t v = str_chrb(f, n, ':'), i, e;
	int r;

	if (melen == 0)
		return 0;
	v = v < n ? v + 1 : n;
	i = skip_cfws(f, v, n);
	if (i < n && f[i] == '"') {
		for (e = i + 1; e < n && f[e] != '"'; e++)
			if (f[e] == '\\' && e + 1 < n)
				e++;
		if (e == n)
			return partial ? -1 : mentions(f + v, n - v, me, melen);
		r = qeq(f + i + 1, e - i - 1, me, melen);
	} else {
		for (e = i; e < n && !tspecial(f[e]); e++)
			;
		/* at the end of a part the token (or comment) may go on */
		if (e == n && partial)
			return -1;
		if (i == n)
			return mentions(f + v, n - v, me, melen);
		/* "me." is the same name, written absolute */
		if (e - i == melen + 1 && f[e - 1] == '.')
			e--;
		r = e == i ? -1 : e - i == melen && str_caseeqb(f + i, me, melen);
	}
	if (r != -1)
		return r;
	/* no id to read: me anywhere counts */
	if (mentions(f + v, n - v, me, melen))
		return 1;
	return partial ? -1 : 0;
}

void
authres_strip_init(struct authres_strip *s, const char *me, size_t melen)
{
	s->me = me;
	s->melen = melen;
	s->state = S_BOL;
	s->field = F_PASS;	/* a first line starting with a blank stays */
	s->name = 0;
	s->held = 0;
	s->removed = 0;
}

/* flush - what is held goes out */
static int
flush(struct authres_strip *s, authres_put *put, void *ctx)
{
	size_t n = s->held;

	s->held = 0;
	return n == 0 || put(ctx, s->hold, n);
}

/* decide - the held Authentication-Results field (all of it, or with
 * partial its first AUTHRES_HOLD bytes) goes or stays; what follows of
 * it does the same */
static int
decide(struct authres_strip *s, int partial, authres_put *put, void *ctx)
{
	if (authres_ours(s->hold, s->held, s->me, s->melen, partial) != 0) {
		s->held = 0;
		s->field = F_DROP;
		s->removed++;
		return 1;
	}
	s->field = F_PASS;
	return flush(s, put, ctx);
}

int
authres_strip_feed(struct authres_strip *s, const char *in, size_t n, authres_put *put, void *ctx)
{
	size_t i = 0, run = 0, e, k;
	int eol;
	char c;

	/* in[run..i) stays and has not gone out yet: it goes in one piece
	 * when something is to be held after it, or at the end.  Outside
	 * S_PASS and S_BODY nothing is pending (run == i). */
	while (i < n) {
		switch (s->state) {
		case S_BODY:
			i = n;
			continue;
		case S_PASS:
		case S_DROP:
			e = str_chrb(in + i, n - i, '\n');
			eol = e < n - i;
			i += eol ? e + 1 : n - i;
			if (s->state == S_DROP)
				run = i;
			if (eol)
				s->state = S_BOL;
			continue;
		case S_HOLD:
			e = str_chrb(in + i, n - i, '\n');
			eol = e < n - i;
			k = eol ? e + 1 : n - i;
			if (k > AUTHRES_HOLD - s->held) {
				/* no room for more: the id must be known by now */
				k = AUTHRES_HOLD - s->held;
				eol = 0;
			}
			memcpy(s->hold + s->held, in + i, k);
			s->held += k;
			i += k;
			run = i;
			if (eol) {
				s->state = S_BOL;
			} else if (s->held == AUTHRES_HOLD) {
				if (!decide(s, 1, put, ctx))
					return 0;
				s->state = s->field == F_DROP ? S_DROP : S_PASS;
			}
			continue;
		case S_BOL:
			c = in[i];
			if (c == ' ' || c == '\t') {
				/* a continuation line: part of the field before */
				s->state = s->field == F_HOLD ? S_HOLD : s->field == F_DROP ? S_DROP : S_PASS;
				continue;
			}
			/* a new field or the empty line: the field before is whole */
			if (s->field == F_HOLD && !decide(s, 0, put, ctx))
				return 0;
			s->field = F_PASS;
			if (c == '\n') {
				s->state = S_BODY;
				continue;
			}
			if (i > run && !put(ctx, in + run, i - run))
				return 0;
			run = i;
			s->name = 0;
			s->state = S_NAME;
			continue;
		case S_NAME:
			c = in[i];
			if (str_lowerc(c) != NAME[s->name]) {
				/* another field: its name so far goes out first */
				if (!flush(s, put, ctx))
					return 0;
				s->state = S_PASS;
				continue;
			}
			s->hold[s->held++] = c;
			run = ++i;
			if (++s->name == NAMELEN)
				s->state = S_NAMEWSP;
			continue;
		case S_NAMEWSP:
			/* RFC 5322 4.5.8: blanks may come before the colon */
			c = in[i];
			if (c == ':') {
				s->hold[s->held++] = c;	/* fits: blanks stop a byte short */
				run = ++i;
				s->field = F_HOLD;
				s->state = S_HOLD;
			} else if ((c == ' ' || c == '\t') && s->held < AUTHRES_HOLD - 1) {
				s->hold[s->held++] = c;
				run = ++i;
			} else if (c == ' ' || c == '\t') {
				/* more blanks than can be held: a reader may
				 * still find the colon after them */
				s->held = 0;
				s->field = F_DROP;
				s->removed++;
				s->state = S_DROP;
			} else {
				if (!flush(s, put, ctx))
					return 0;
				s->state = S_PASS;
			}
			continue;
		}
	}
	return i == run || put(ctx, in + run, i - run);
}

int
authres_strip_end(struct authres_strip *s, authres_put *put, void *ctx)
{
	int ok = 1;

	if (s->state == S_HOLD || (s->state == S_BOL && s->field == F_HOLD))
		ok = decide(s, 0, put, ctx);
	else if (s->state == S_NAME || s->state == S_NAMEWSP)
		ok = flush(s, put, ctx);
	s->state = S_BODY;
	s->field = F_PASS;
	return ok;
}
