/* dkim - libFuzzer target for lib/dkim: the tag-list parser that reads
 * DKIM-Signature fields and key records, and the header splitting and
 * canonicalisation run over whole messages.  Checks: every tag and
 * value lies inside the input, names are distinct, values carry no
 * blank at either end; fields cover the header in order; relaxed
 * output ends in CRLF without a blank before it and has no two blanks
 * in a row. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "dkim.h"
#include "str.h"

int LLVMFuzzerTestOneInput(const uint8_t *, size_t);

/* put_str - the canonical body into a struct str */
static int
put_str(void *ctx, const char *p, size_t n)
{
	return str_catb(ctx, p, n);
}

static struct dkim_field f[DKIM_FIELDS_MAX];

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *p = (const char *)data;
	struct dkim_tag t[DKIM_TAGS_MAX];
	struct str out = STR_ZERO, d = STR_ZERO;
	struct dkim_body b;
	size_t n, i, k, nf, body, end;

	if (dkim_tags(p, size, t, DKIM_TAGS_MAX, &n)) {
		if (n > DKIM_TAGS_MAX)
			abort();
		for (i = 0; i < n; i++) {
			if (t[i].name + t[i].namelen > size || t[i].val + t[i].vallen > size ||
			    t[i].rawval > t[i].val || t[i].val + t[i].vallen > t[i].rawend ||
			    t[i].rawend > size || t[i].namelen == 0)
				abort();
			if (t[i].vallen && (p[t[i].val] == ' ' || p[t[i].val + t[i].vallen - 1] == ' '))
				abort();
			for (k = 0; k < i; k++)
				if (t[k].namelen == t[i].namelen &&
				    memcmp(p + t[k].name, p + t[i].name, t[i].namelen) == 0)
					abort();
		}
		(void)dkim_tag(p, t, n, "b");
	}
	if (dkim_fields(p, size, f, DKIM_FIELDS_MAX, &nf, &body)) {
		for (i = 0, end = 0; i < nf; i++) {
			if (f[i].start != end || f[i].len == 0 || f[i].namelen > f[i].len)
				abort();
			end = f[i].start + f[i].len;
		}
		if (end > body || body > size)
			abort();
		for (i = 0; i < nf; i++) {
			out.len = 0;
			if (!dkim_canon_header(p + f[i].start, f[i].len, 1, &out))
				abort();
			/* a CR alone is text; the CRLF at the end is the line end */
			if (out.len < 3 || memcmp(out.s + out.len - 2, "\r\n", 2) != 0 ||
			    out.s[out.len - 3] == ' ')
				abort();
			for (k = 1; k < out.len; k++)
				if (out.s[k] == ' ' && out.s[k - 1] == ' ')
					abort();
		}
		out.len = 0;
		if (!dkim_select(p, f, nf, "from:to:subject:from", 20, 1, &out))
			abort();
		out.len = 0;
		dkim_body_init(&b, 1, put_str, &out);
		if (!dkim_body_feed(&b, p + body, size - body) || !dkim_body_end(&b))
			abort();
		if (out.len && (out.len < 2 || memcmp(out.s + out.len - 2, "\r\n", 2) != 0))
			abort();
	}
	(void)dkim_addr_domain(p, size, &d);
	str_free(&out);
	str_free(&d);
	return 0;
}
