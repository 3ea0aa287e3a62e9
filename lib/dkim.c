/* dkim.c - DKIM tag lists, header fields, canonicalisation; see dkim.h
 *
 * Nothing here trusts its input: signatures and key records come from
 * other people's messages and DNS, and lengths are checked before every
 * access.
 */
#include <errno.h>
#include <string.h>

#include "dkim.h"
#include "str.h"

static int
is_wsp(char c)
{
	return c == ' ' || c == '\t';
}

static int
is_fws(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

int
dkim_tags(const char *p, size_t n, struct dkim_tag *t, size_t max, size_t *count)
{
	size_t i = 0, j, k, e;

	*count = 0;
	for (;;) {
		while (i < n && is_fws(p[i]))
			i++;
		if (i == n)
			return 1;	/* empty list, or a final ';' */
		if (*count >= max)
			return 0;
		if (!str_isalpha(p[i]))
			return 0;
		t[*count].name = i;
		while (i < n && (str_isalpha(p[i]) || str_isdigit(p[i]) || p[i] == '_'))
			i++;
		t[*count].namelen = i - t[*count].name;
		while (i < n && is_fws(p[i]))
			i++;
		if (i == n || p[i] != '=')
			return 0;
		i++;
		t[*count].rawval = i;
		while (i < n && p[i] != ';')
			i++;
		t[*count].rawend = i;
		/* the value: trimmed, only VALCHAR and FWS inside */
		j = t[*count].rawval;
		e = i;
		while (j < e && is_fws(p[j]))
			j++;
		while (e > j && is_fws(p[e - 1]))
			e--;
		for (k = j; k < e; k++) {
			unsigned char c = (unsigned char)p[k];
			if (!is_fws(p[k]) && (c < 0x21 || c > 0x7e))
				return 0;
		}
		t[*count].val = j;
		t[*count].vallen = e - j;
		for (k = 0; k < *count; k++)
			if (t[k].namelen == t[*count].namelen &&
			    memcmp(p + t[k].name, p + t[*count].name, t[k].namelen) == 0)
				return 0;	/* a tag twice */
		(*count)++;
		if (i == n)
			return 1;
		i++;	/* the ';' */
	}
}

const struct dkim_tag *
dkim_tag(const char *p, const struct dkim_tag *t, size_t count, const char *name)
{
	size_t i, len = strlen(name);

	for (i = 0; i < count; i++)
		if (t[i].namelen == len && memcmp(p + t[i].name, name, len) == 0)
			return &t[i];
	return NULL;
}

int
dkim_field_next(const char *msg, size_t n, size_t *pos, struct dkim_field *f)
{
	size_t i = *pos, start = i, colon;

	if (i >= n)
		return 0;	/* no empty line: no body */
	if (msg[i] == '\n') {
		*pos = i + 1;	/* the empty line: the body follows */
		return 0;
	}
	/* the field: this line and every line starting with a blank */
	for (;;) {
		while (i < n && msg[i] != '\n')
			i++;
		if (i < n)
			i++;
		if (i >= n || !is_wsp(msg[i]))
			break;
	}
	f->start = start;
	f->len = i - start;
	colon = str_chrb(msg + start, i - start, ':');
	if (colon == i - start)
		colon = 0;	/* not a field: a name no one asks for */
	while (colon > 0 && is_wsp(msg[start + colon - 1]))
		colon--;
	f->namelen = colon;
	*pos = i;
	return 1;
}

int
dkim_fields(const char *msg, size_t n, struct dkim_field *f, size_t max, size_t *count, size_t *body)
{
	struct dkim_field one;
	size_t i = 0;

	*count = 0;
	*body = n;
	while (dkim_field_next(msg, n, &i, &one)) {
		if (*count >= max) {
			errno = E2BIG;
			return 0;
		}
		f[(*count)++] = one;
	}
	*body = i;
	return 1;
}

int
dkim_canon_header(const char *p, size_t n, int relaxed, struct str *out)
{
	size_t i, colon;
	int wsp = 0, any = 0;
	char c;

	if (!relaxed) {
		for (i = 0; i < n; i++)
			if (!(p[i] == '\n' ? str_catb(out, "\r\n", 2) : str_catc(out, p[i])))
				return 0;
		if (n == 0 || p[n - 1] != '\n')
			return str_catb(out, "\r\n", 2);
		return 1;
	}
	colon = str_chrb(p, n, ':');
	for (i = 0; i < colon; i++) {
		c = p[i];
		if (is_fws(c))
			continue;	/* blanks before the colon go */
		if (c >= 'A' && c <= 'Z')
			c = (char)(c - 'A' + 'a');
		if (!str_catc(out, c))
			return 0;
	}
	if (!str_catc(out, ':'))
		return 0;
	for (i = colon + 1; i < n; i++) {
		c = p[i];
		if (c == '\n')
			continue;	/* unfolding */
		if (is_wsp(c)) {
			wsp = 1;
			continue;
		}
		if (wsp && any && !str_catc(out, ' '))
			return 0;
		wsp = 0;
		any = 1;
		if (!str_catc(out, c))
			return 0;
	}
	return str_catb(out, "\r\n", 2);
}

int
dkim_select(const char *msg, const struct dkim_field *f, size_t count,
    const char *h, size_t hn, int relaxed, struct str *out)
{
	unsigned char used[DKIM_FIELDS_MAX];
	size_t i = 0, j, e, k;

	if (count > DKIM_FIELDS_MAX) {
		errno = E2BIG;
		return 0;
	}
	memset(used, 0, count);
	while (i < hn) {
		e = i + str_chrb(h + i, hn - i, ':');
		j = i;
		while (j < e && is_fws(h[j]))
			j++;
		k = e;
		while (k > j && is_fws(h[k - 1]))
			k--;
		if (k > j) {
			size_t m = count;
			while (m-- > 0) {
				if (used[m] || f[m].namelen != k - j ||
				    !str_caseeqb(msg + f[m].start, h + j, k - j))
					continue;
				used[m] = 1;
				if (!dkim_canon_header(msg + f[m].start, f[m].len, relaxed, out))
					return 0;
				break;
			}
		}
		i = e + 1;
	}
	return 1;
}

void
dkim_body_init(struct dkim_body *b, int relaxed, dkim_put *put, void *ctx)
{
	memset(b, 0, sizeof *b);
	b->relaxed = relaxed;
	b->put = put;
	b->ctx = ctx;
}

/* emit - p[0..n) (n at most 2) to the output, the buffer put when full */
static int
emit(struct dkim_body *b, const char *p, size_t n)
{
	if (b->len > sizeof b->buf - n) {
		if (!b->put(b->ctx, b->buf, b->len))
			return 0;
		b->len = 0;
	}
	memcpy(b->buf + b->len, p, n);
	b->len += n;
	return 1;
}

/* flush_blank - the empty lines held back, now that content follows;
 * a buffer at a time, however many there are */
static int
flush_blank(struct dkim_body *b)
{
	for (; b->blank > 0; b->blank--)
		if (!emit(b, "\r\n", 2))
			return 0;
	return 1;
}

/* content - one byte of a line, not a line end */
static int
content(struct dkim_body *b, char c)
{
	if (b->relaxed && is_wsp(c)) {
		b->wsp = 1;
		return 1;
	}
	if (!b->inline_ && !flush_blank(b))
		return 0;
	b->inline_ = 1;
	if (b->wsp) {
		b->wsp = 0;
		if (!emit(b, " ", 1))
			return 0;
	}
	return emit(b, &c, 1);
}

static int
endline(struct dkim_body *b)
{
	b->wsp = 0;	/* relaxed: blanks at the end of a line go */
	if (b->inline_) {
		b->inline_ = 0;
		b->any = 1;
		return emit(b, "\r\n", 2);
	}
	b->blank++;
	return 1;
}

int
dkim_body_feed(struct dkim_body *b, const char *p, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (!(p[i] == '\n' ? endline(b) : content(b, p[i])))
			return 0;
	return 1;
}

int
dkim_body_end(struct dkim_body *b)
{
	if (b->inline_ && !endline(b))
		return 0;
	/* simple: an empty body is one CRLF; relaxed: nothing */
	if (!b->relaxed && !b->any && !emit(b, "\r\n", 2))
		return 0;
	if (b->len > 0 && !b->put(b->ctx, b->buf, b->len))
		return 0;
	b->len = 0;
	return 1;
}

int
dkim_domain_ok(const char *d, size_t n)
{
	size_t i;

	if (n == 0 || n > 253 || d[0] == '.' || d[0] == '-' || d[n - 1] == '.')
		return 0;
	for (i = 0; i < n; i++) {
		if (d[i] == '.' && i > 0 && d[i - 1] == '.')
			return 0;
		if (!str_isalpha(d[i]) && !str_isdigit(d[i]) && d[i] != '-' && d[i] != '.')
			return 0;
	}
	return 1;
}

int
dkim_addr_domain(const char *p, size_t n, struct str *out)
{
	size_t i, lt, gt, at, e;

	out->len = 0;
	/* the address is inside <...> when there is one, else the value */
	lt = str_chrb(p, n, '<');
	if (lt < n) {
		gt = lt + 1 + str_chrb(p + lt + 1, n - lt - 1, '>');
		i = lt + 1;
		e = gt;
	} else {
		i = 0;
		e = n;
		/* the first address of a list */
		e = str_chrb(p, n, ',');
	}
	at = str_rchrb(p + i, e - i, '@');
	if (at == e - i)
		return 0;
	i += at + 1;
	while (i < e && is_fws(p[i]))
		i++;
	for (at = i; at < e && !is_fws(p[at]) && p[at] != '>' && p[at] != ';' &&
	    p[at] != '(' && p[at] != ')'; at++)
		;
	if (at == i)
		return 0;
	if (!str_copyb(out, p + i, at - i))
		return 0;
	str_lowerb(out->s, out->len);
	return dkim_domain_ok(out->s, out->len);
}
