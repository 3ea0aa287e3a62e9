/* addrlist.c - the mailboxes of an RFC 5322 address list; see addrlist.h
 *
 * Two levels: next() cuts the field into tokens (atoms, quoted strings,
 * domain literals, specials), skipping white space, folding and comments;
 * addrlist_parse() finds the list members and, in each, the addr-spec
 * that mailbox() reads.  Every scan is bounded by n, and every byte is
 * looked at a bounded number of times (twice in a member).
 */
#include <errno.h>

#include "addrlist.h"
#include "str.h"

enum { T_ATOM, T_QS, T_LIT, T_SPECIAL };

struct tok {
	int type;
	char c;		/* T_SPECIAL: which */
	size_t s, e;	/* its bytes, p[s..e) */
};

static int
is_ws(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

/* is_ctl - a control byte that may not appear in a field at all */
static int
is_ctl(char c)
{
	unsigned char u = (unsigned char)c;

	return (u < 32 && !is_ws(c)) || u == 127;
}

/* is_special - ends an atom; '(' '"' '[' start something else */
static int
is_special(char c)
{
	return c == '(' || c == ')' || c == '<' || c == '>' || c == '[' || c == ']' || c == ':' ||
	    c == ';' || c == '@' || c == ',' || c == '.' || c == '"';
}

/* skip_to - past the closing byte of a quoted string or literal that
 * starts at p[i]; quoted-pairs skipped.  0 when unterminated. */
static int
skip_to(const char *p, size_t n, size_t *i, char close)
{
	size_t k;

	for (k = *i + 1; k < n; k++) {
		if (is_ctl(p[k]))
			return 0;
		if (p[k] == '\\') {
			/* RFC 5322 3.2.1: a quoted-pair is VCHAR or WSP, never
			 * CR or LF (which would reach the envelope) */
			if (++k == n || is_ctl(p[k]) || p[k] == '\r' || p[k] == '\n')
				return 0;
			continue;
		}
		if (p[k] == close) {
			*i = k + 1;
			return 1;
		}
		if (close == ']' && p[k] == '[')
			return 0;
	}
	return 0;
}

/* next - the token at *pos in p[0..n): 1, 0 at the end, -1 malformed */
static int
next(const char *p, size_t n, size_t *pos, struct tok *t)
{
	size_t i = *pos, depth;

	for (;;) {
		while (i < n && is_ws(p[i]))
			i++;
		if (i == n) {
			*pos = n;
			return 0;
		}
		if (p[i] != '(')
			break;
		/* a comment, nested; it ends where its first '(' is matched */
		for (depth = 0;; i++) {
			if (i == n || is_ctl(p[i]))
				return -1;
			if (p[i] == '\\') {
				if (++i == n || is_ctl(p[i]) || p[i] == '\r' || p[i] == '\n')
					return -1;
			} else if (p[i] == '(')
				depth++;
			else if (p[i] == ')' && --depth == 0) {
				i++;
				break;
			}
		}
	}
	t->s = i;
	if (is_ctl(p[i]) || p[i] == ')' || p[i] == ']')
		return -1;
	if (p[i] == '"') {
		if (!skip_to(p, n, &i, '"'))
			return -1;
		t->type = T_QS;
	} else if (p[i] == '[') {
		if (!skip_to(p, n, &i, ']'))
			return -1;
		t->type = T_LIT;
	} else if (is_special(p[i])) {
		t->type = T_SPECIAL;
		t->c = p[i++];
	} else {
		while (i < n && !is_ws(p[i]) && !is_special(p[i]) && !is_ctl(p[i]))
			i++;
		t->type = T_ATOM;
	}
	t->e = i;
	*pos = i;
	return 1;
}

/* unquote - a quoted string's content as the envelope has it: without
 * the quotes, quoted-pairs reduced to their byte, folding (a CRLF or LF
 * before a blank) removed.  Any other CR or LF, escaped or not, is no
 * part of an address: EINVAL, never an address quietly changed. */
static int
unquote(struct str *a, const char *p, const struct tok *t)
{
	size_t i, k, end = t->e - 1;	/* the closing quote */

	for (i = t->s + 1; i < end; i++) {
		if (p[i] == '\r' || p[i] == '\n') {
			k = p[i] == '\r' ? i + 1 : i;
			if (k + 1 < end && p[k] == '\n' && (p[k + 1] == ' ' || p[k + 1] == '\t')) {
				i = k;
				continue;
			}
			return errno = EINVAL, 0;
		}
		if (p[i] == '\\' && (p[++i] == '\r' || p[i] == '\n'))
			return errno = EINVAL, 0;
		if (!str_catc(a, p[i]))
			return 0;
	}
	return 1;
}

/* mailbox - the addr-spec in p[s..e) (inside <> when angle), to fn */
static int
mailbox(const char *p, size_t s, size_t e, int angle, struct str *a,
    int (*fn)(void *, const struct addrlist_addr *), void *arg)
{
	struct addrlist_addr m = { 0 };
	struct tok t;
	size_t pos = s, q = s;
	int r, word = 0, ok;

	a->len = 0;
	/* an obsolete source route, "@a,@b:", is dropped */
	if (angle && next(p, e, &q, &t) == 1 && t.type == T_SPECIAL && t.c == '@') {
		do {
			if (next(p, e, &q, &t) != 1)
				return errno = EINVAL, 0;
		} while (t.type != T_SPECIAL || t.c != ':');
		pos = q;
	}
	while ((r = next(p, e, &pos, &t)) == 1) {
		if (t.type == T_ATOM || t.type == T_QS || t.type == T_LIT) {
			/* two words in a row, a quoted domain, a literal local
			 * part, or anything after a literal */
			if (word || m.literal || (t.type == T_QS && m.has_domain) ||
			    (t.type == T_LIT && (!m.has_domain || a->len > m.locallen + 1)))
				return errno = EINVAL, 0;
			ok = t.type == T_QS ? unquote(a, p, &t) : str_catb(a, p + t.s, t.e - t.s);
			if (!ok)
				return 0;
			word = 1;
			m.literal = t.type == T_LIT;
		} else if (t.type == T_SPECIAL && t.c == '.' && !m.literal) {
			if (!str_catc(a, '.'))
				return 0;
			word = 0;
		} else if (t.type == T_SPECIAL && t.c == '@' && !m.has_domain && a->len > 0) {
			m.locallen = a->len;
			m.has_domain = 1;
			if (!str_catc(a, '@'))
				return 0;
			word = 0;
			continue;
		} else
			return errno = EINVAL, 0;
		if (m.has_domain)
			m.domend = t.e;
		else
			m.localend = t.e;
	}
	if (r == -1)
		return errno = EINVAL, 0;
	if (a->len == 0)
		return 1;	/* "<>" */
	if (m.has_domain && a->len == m.locallen + 1)
		return errno = EINVAL, 0;
	if (!m.has_domain)
		m.locallen = a->len;
	if (!str_nul(a))
		return 0;
	m.addr = a->s;
	m.len = a->len;
	return fn(arg, &m);
}

int
addrlist_parse(const char *p, size_t n, int (*fn)(void *, const struct addrlist_addr *), void *arg)
{
	struct str a = STR_ZERO;
	struct tok t;
	size_t pos = 0, start, end, lt = 0, gt = 0;
	int r, angle, words, group = 0, ok = 0;

	for (;;) {
		/* one member: up to a ',' or ';' outside <> */
		start = pos;
		angle = words = 0;
		while ((r = next(p, n, &pos, &t)) == 1) {
			if (t.type == T_SPECIAL && (t.c == ',' || t.c == ';'))
				break;
			if (angle)	/* nothing may follow <...> but a separator */
				goto bad;
			if (t.type == T_SPECIAL && t.c == ':') {
				/* a group's name ends; no groups in groups */
				if (group)
					goto bad;
				group = 1;
				start = pos;
				words = 0;
			} else if (t.type == T_SPECIAL && t.c == '<') {
				angle = 1;
				lt = pos;
				do {
					if (next(p, n, &pos, &t) != 1 || (t.type == T_SPECIAL && t.c == '<'))
						goto bad;
				} while (t.type != T_SPECIAL || t.c != '>');
				gt = t.s;
			} else if (t.type == T_SPECIAL && t.c == '>')
				goto bad;
			else
				words++;	/* an addr-spec, or a display name before < */
		}
		if (r == -1)
			goto bad;
		end = r == 1 ? t.s : n;
		if (angle ? !mailbox(p, lt, gt, 1, &a, fn, arg) :
		    words && !mailbox(p, start, end, 0, &a, fn, arg))
			goto out;
		if (r == 0)
			break;
		if (t.c == ';') {
			if (!group)
				goto bad;
			group = 0;
		}
	}
	ok = 1;	/* a group left open at the end is forgiven */
	goto out;
bad:
	errno = EINVAL;
out:
	str_free(&a);
	return ok;
}
