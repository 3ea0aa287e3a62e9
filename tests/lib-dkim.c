/* lib-dkim - unit tests for lib/dkim.c: tag lists, header fields,
 * canonicalisation (RFC 6376 3.4 examples), From domains, and lib/srs.c's
 * address forms */
#include <string.h>

#include "dkim.h"
#include "srs.h"
#include "str.h"
#include "tap.h"

/* put_str - a dkim_put appending to a struct str; the largest piece
 * is kept in biggest */
static size_t biggest;

static int
put_str(void *ctx, const char *p, size_t n)
{
	if (n > biggest)
		biggest = n;
	return str_catb(ctx, p, n);
}

static int
canon_body(const char *in, int relaxed, const char *want)
{
	struct dkim_body b;
	struct str out = STR_ZERO;
	int r;

	dkim_body_init(&b, relaxed, put_str, &out);
	/* fed one byte at a time: state must carry across pieces */
	for (size_t i = 0; in[i]; i++)
		if (!dkim_body_feed(&b, in + i, 1))
			return 0;
	if (!dkim_body_end(&b))
		return 0;
	r = out.len == strlen(want) && memcmp(out.s, want, out.len) == 0;
	str_free(&out);
	return r;
}

/* many_blank - n empty lines, then x: the output is n CRLFs and x
 * CRLF, put in pieces no larger than the buffer */
static int
many_blank(size_t n, int relaxed)
{
	struct dkim_body b;
	struct str in = STR_ZERO, out = STR_ZERO;
	size_t i;
	int r;

	for (i = 0; i < n; i++)
		if (!str_catc(&in, '\n'))
			return 0;
	if (!str_catc(&in, 'x'))
		return 0;
	biggest = 0;
	dkim_body_init(&b, relaxed, put_str, &out);
	if (!dkim_body_feed(&b, in.s, in.len) || !dkim_body_end(&b))
		return 0;
	r = out.len == 2 * n + 3 && biggest <= DKIM_BODY_BUF &&
	    memcmp(out.s + out.len - 3, "x\r\n", 3) == 0;
	for (i = 0; r && i < n; i++)
		r = out.s[2 * i] == '\r' && out.s[2 * i + 1] == '\n';
	str_free(&in);
	str_free(&out);
	return r;
}

static int
canon_hdr(const char *in, int relaxed, const char *want)
{
	struct str out = STR_ZERO;
	int r;

	if (!dkim_canon_header(in, strlen(in), relaxed, &out))
		return 0;
	r = out.len == strlen(want) && memcmp(out.s, want, out.len) == 0;
	str_free(&out);
	return r;
}

static int
dom(const char *v, const char *want)
{
	struct str d = STR_ZERO;
	int r = dkim_addr_domain(v, strlen(v), &d);

	if (!want)
		return r == 0;
	r = r && d.len == strlen(want) && memcmp(d.s, want, d.len) == 0;
	str_free(&d);
	return r;
}

/* srs_data - the hashed data of SRS local part a into out; 0 when a
 * does not parse */
static int
srs_data(const char *a, struct str *out)
{
	struct srs_parts p;

	return srs_parse(a, strlen(a), &p) && srs_hashdata(&p, out);
}

static int
srs_hashdata_is(const char *a, const char *want)
{
	struct str d = STR_ZERO;
	int r = srs_data(a, &d) && d.len == strlen(want) && memcmp(d.s, want, d.len) == 0;

	str_free(&d);
	return r;
}

/* srs_samedata - 1 when a and b hash the same bytes, 0 other bytes,
 * -1 when either does not parse */
static int
srs_samedata(const char *a, const char *b)
{
	struct str da = STR_ZERO, db = STR_ZERO;
	int r;

	if (!srs_data(a, &da) || !srs_data(b, &db))
		r = -1;
	else
		r = da.len == db.len && memcmp(da.s, db.s, da.len) == 0;
	str_free(&da);
	str_free(&db);
	return r;
}

int
main(void)
{
	struct dkim_tag t[DKIM_TAGS_MAX];
	struct dkim_field f[8];
	struct srs_parts p;
	struct str out = STR_ZERO;
	const char *s;
	size_t n, nf, body;
	unsigned long age;
	char tt[2];

	s = " v=1; a=rsa-sha256;\r\n\td=example.net ; b=dzdVyOfAKCdLXdJOc9G2q8LoXSlEniSb\r\n av/yuU4zGeeruD00lszZVoG4ZHRNiYzR;";
	ok(dkim_tags(s, strlen(s), t, DKIM_TAGS_MAX, &n) && n == 4, "a signature's tag list");
	ok(dkim_tag(s, t, n, "d") && dkim_tag(s, t, n, "d")->vallen == 11, "d= trimmed of its blanks");
	ok(dkim_tag(s, t, n, "b") && strchr(s + dkim_tag(s, t, n, "b")->val, '\n'), "b= keeps its folding inside");
	ok(!dkim_tags("v=1; v=1", 8, t, DKIM_TAGS_MAX, &n), "a tag given twice is malformed");
	ok(!dkim_tags("v", 1, t, DKIM_TAGS_MAX, &n), "a tag without '=' is malformed");
	ok(!dkim_tags("1v=1", 4, t, DKIM_TAGS_MAX, &n), "a tag name starting with a digit is malformed");
	ok(!dkim_tags("v=a\x01", 4, t, DKIM_TAGS_MAX, &n), "a control character in a value is malformed");
	ok(dkim_tags("", 0, t, DKIM_TAGS_MAX, &n) && n == 0, "an empty list");
	ok(dkim_tags("a=;b=", 5, t, DKIM_TAGS_MAX, &n) && n == 2 && t[0].vallen == 0, "empty values");
	ok(!dkim_tags("a=1;b=2;c=3", 11, t, 2, &n), "more tags than room: malformed");

	/* RFC 6376 3.4.5's example */
	ok(canon_hdr("A: X\n", 1, "a:X\r\n"), "relaxed header: A: X");
	ok(canon_hdr("B : Y\t\n\tZ  \n", 1, "b:Y Z\r\n"), "relaxed header: unfolded, blanks squeezed");
	ok(canon_hdr("B : Y\t\n\tZ  \n", 0, "B : Y\t\r\n\tZ  \r\n"), "simple header: as it is, CRLF");
	ok(canon_body(" C \nD \t E\n\n\n", 1, " C\r\nD E\r\n"), "relaxed body: RFC 6376 example");
	ok(canon_body(" C \nD \t E\n\n\n", 0, " C \r\nD \t E\r\n"), "simple body: trailing empty lines dropped");
	ok(canon_body("", 0, "\r\n"), "simple: an empty body is CRLF");
	ok(canon_body("", 1, ""), "relaxed: an empty body is empty");
	ok(canon_body("\n\n", 1, ""), "relaxed: only empty lines is empty");
	ok(canon_body("x", 1, "x\r\n"), "a last line without LF gets CRLF");
	ok(canon_body("a\rb\r\n", 1, "a\rb\r\r\n"), "a CR is text, as qmail-remote sends it");
	ok(canon_body("  \n\nx\n", 1, "\r\n\r\nx\r\n"), "blank lines inside the body stay");
	ok(many_blank(100000, 1), "relaxed: 100000 empty lines before text, put a buffer at a time");
	ok(many_blank(100000, 0), "simple: 100000 empty lines before text, put a buffer at a time");

	s = "Received: x\n\ty\nFrom: a@b\nsubject :z\nno colon here\n\nbody\n";
	ok(dkim_fields(s, strlen(s), f, 8, &nf, &body) && nf == 4, "four fields");
	ok(f[0].len == 15 && f[0].namelen == 8, "a folded field is one");
	ok(f[2].namelen == 7, "blanks before the colon are not in the name");
	ok(f[3].namelen == 0, "a line without a colon has no name");
	ok(strcmp(s + body, "body\n") == 0, "the body after the empty line");
	ok(!dkim_fields(s, strlen(s), f, 3, &nf, &body), "more fields than room: E2BIG");
	{
		struct dkim_field one;
		size_t pos = 0, k = 0, same = 1;

		ok(dkim_fields(s, strlen(s), f, 8, &nf, &body), "four fields again");
		while (dkim_field_next(s, strlen(s), &pos, &one)) {
			if (k >= nf || one.start != f[k].start || one.len != f[k].len ||
			    one.namelen != f[k].namelen)
				same = 0;
			k++;
		}
		ok(same && k == nf && pos == body, "dkim_field_next: the same fields one by one, then the body");
		pos = 0;
		ok(dkim_field_next("A: b\n c", 8, &pos, &one) && one.len == 8 &&
		    !dkim_field_next("A: b\n c", 8, &pos, &one) && pos == 8,
		    "a header without an empty line: the body is at the end");
		pos = 0;
		ok(!dkim_field_next("\nbody", 5, &pos, &one) && pos == 1, "an empty header");
	}
	s = "From: a@one.test\nTo: x\nFrom: b@two.test\n\n";
	ok(dkim_fields(s, strlen(s), f, 8, &nf, &body) && dkim_select(s, f, nf, "from:to:from:from", 17, 1, &out),
	    "select from:to:from:from");
	ok(out.len == strlen("from:b@two.test\r\nto:x\r\nfrom:a@one.test\r\n") &&
	    memcmp(out.s, "from:b@two.test\r\nto:x\r\nfrom:a@one.test\r\n", out.len) == 0,
	    "fields taken from the bottom, a missing one adds nothing");

	ok(dom(" Joe <JOE@Example.ORG>", "example.org"), "From domain inside <>, lower-cased");
	ok(dom("joe@example.org (Joe)", "example.org"), "From domain before a comment");
	ok(dom("a@x.test, b@y.test", "x.test"), "the first address of a list");
	ok(dom("no address", NULL), "no @: no domain");
	ok(dom("<a@../etc>", NULL), "a domain that could climb directories is refused");
	ok(dkim_domain_ok("example.org", 11) && !dkim_domain_ok("a..b", 4) && !dkim_domain_ok(".a", 2) &&
	    !dkim_domain_ok("a/b", 3), "domain names for file names");

	srs_timestamp(20000, tt);
	ok(srs_age(tt, 20000, &age) && age == 0, "a timestamp of today is 0 days old");
	ok(srs_age(tt, 20000 + 1024 + 5, &age) && age == 5, "timestamps wrap at 1024 days");
	ok(!srs_age("a1", 0, &age), "1 is not base32");
	s = "SRS0=Ab_.9x=JR=far.test=bob=x";
	ok(srs_parse(s, strlen(s), &p) && p.type == 0 && p.domainlen == 8 && p.locallen == 5,
	    "SRS0 parsed; the local part may hold '='");
	s = "srs1=Ab_.9x=first.test==Ab_.9x=JR=far.test=bob";
	ok(srs_parse(s, strlen(s), &p) && p.type == 1 && p.domainlen == 10 && p.local[0] == '=',
	    "SRS1 parsed, lower case too");
	ok(!srs_parse("SRS0=short=JR=a=b", 17, &p), "a short hash is refused");
	ok(!srs_parse("SRS0=Ab_.9x=JR==bob", 19, &p), "an empty domain is refused");
	ok(!srs_parse("SRS0=Ab_.9x=JR=far.test=", 24, &p), "an empty local part is refused");
	ok(!srs_parse("SRS2=Ab_.9x=JR=far.test=bob", 27, &p), "SRS2 is not SRS");
	ok(!srs_parse("SRS0=Ab/.9x=JR=far.test=bob", 27, &p), "'/' is not a hash character");

	/* the hashed data: one address, one string */
	ok(srs_hashdata_is("SRS0=Ab_.9x=JR=Far.Test=Bob=x", "srs0=jr=far.test=bob=x"),
	    "SRS0 data: type, TT, domain, local part, '=' between, lower case");
	ok(srs_hashdata_is("SRS0-Ab_.9x=JR=far.test=bob", "srs0=jr=far.test=bob"),
	    "the separator after SRS0 is always '=' in the data");
	ok(srs_hashdata_is("srs1=Ab_.9x=first.test==Ab_.9x=JR=far.test=bob",
	    "srs1=first.test==ab_.9x=jr=far.test=bob"), "SRS1 data: type, host, the SRS0 rest");
	ok(srs_hashdata_is("SRS1=Ab_.9x=first.test=+Ab_.9x=JR=far.test=bob",
	    "srs1=first.test=+ab_.9x=jr=far.test=bob"), "an SRS1 rest keeps its own separator");
	ok(srs_samedata("SRS0=Ab_.9x=JS=far.test=a", "SRS0=Ab_.9x=JS=far.tes=ta") == 0,
	    "the domain cut short is other data");
	ok(srs_samedata("SRS0=Ab_.9x=JS=far.test=ab", "SRS0=Ab_.9x=JS=far.testa=b") == 0,
	    "the local part cut short is other data");
	ok(srs_samedata("SRS1=Ab_.9x=host-a.test==Ab_.9x=JS=d=l", "SRS1=Ab_.9x=host=-a.test==Ab_.9x=JS=d=l") == 0,
	    "an SRS1 host cut short is other data");
	ok(srs_samedata("SRS0=Ab_.9x=JR=-x.test=a", "SRS1=Ab_.9x=JR=-x.test=a") == 0,
	    "SRS0 data is never SRS1 data");
	ok(srs_samedata("SRS0=Ab_.9x=JR=far.test=bob", "srs0+AB_.9X=jr=FAR.test=BOB") == 1,
	    "case and the separator after SRS0 do not count");
	str_free(&out);
	return tap_done();
}
