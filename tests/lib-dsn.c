/* lib-dsn - RFC 3464 reports: structure, status codes picked out of
 * failure texts, hostile texts cleaned */
#include <string.h>

#include "dsn.h"
#include "tap.h"

static int
has(const struct str *s, const char *needle)
{
	size_t n = strlen(needle), i;

	for (i = 0; i + n <= s->len; i++)
		if (memcmp(s->s + i, needle, n) == 0)
			return 1;
	return 0;
}

/* boundary - the boundary out declares, into b (at most 99 bytes) */
static int
boundary(const struct str *out, char *b)
{
	static const char pre[] = "boundary=\"";
	size_t i, k;

	for (i = 0; i + sizeof pre - 1 <= out->len; i++)
		if (memcmp(out->s + i, pre, sizeof pre - 1) == 0)
			break;
	for (i += sizeof pre - 1, k = 0; i < out->len && out->s[i] != '"' && k < 99; i++)
		b[k++] = out->s[i];
	b[k] = 0;
	return k > 0;
}

/* delims - lines of out that start with "--" b */
static int
delims(const struct str *out, const char *b)
{
	size_t i, n = strlen(b);
	int c = 0;

	for (i = 0; i + 2 + n <= out->len; i++)
		if ((i == 0 || out->s[i - 1] == '\n') && memcmp(out->s + i, "--", 2) == 0 &&
		    memcmp(out->s + i + 2, b, n) == 0)
			c++;
	return c;
}

/* a boundary the quoted sender cannot guess, and cannot plant */
static void
boundary_tests(const struct dsn *d, const struct qbounce *r)
{
	/* what the boundary used to be: id, time and sequence */
	const char *planted = "Subject: x\n--lanmail-dsn-77-1700000000-3\n"
	    "Content-Type: text/html\n\n<a href=x>click</a>\n";
	struct str a = STR_ZERO, b = STR_ZERO;
	char ba[100], bb[100];
	size_t i;
	int hex = 1;

	ok(dsn_build(&a, d, r, 1, planted, strlen(planted)) == 1 &&
	    dsn_build(&b, d, r, 1, planted, strlen(planted)) == 1 &&
	    boundary(&a, ba) && boundary(&b, bb), "built twice");
	ok(strcmp(ba, bb) != 0, "boundary: not the same for the same message and second");
	ok(strlen(ba) == 12 + 32 && memcmp(ba, "lanmail-dsn-", 12) == 0, "boundary: 128 bits in hex");
	for (i = 12; ba[i]; i++)
		if (!((ba[i] >= '0' && ba[i] <= '9') || (ba[i] >= 'a' && ba[i] <= 'f')))
			hex = 0;
	ok(hex, "boundary: hex digits");
	ok(delims(&a, ba) == 4, "boundary: four delimiter lines, no planted one");
	str_free(&a);
	str_free(&b);
}

/* line_len - the length of the line of out that starts after "\n" at
 * the first match of start, LF excluded; 0 when there is none */
static size_t
line_len(const struct str *out, const char *start)
{
	size_t i, k, n = strlen(start);

	for (i = 0; i + n <= out->len; i++)
		if (memcmp(out->s + i, start, n) == 0) {
			for (k = i + 1; k < out->len && out->s[k] != '\n'; k++)
				;
			return k - i - 1;
		}
	return 0;
}

/* the quoted header made safe to carry */
static void
header_tests(const struct dsn *d, const struct qbounce *r)
{
	struct str out = STR_ZERO, h = STR_ZERO;
	size_t i;
	int i0;

	ok(str_cats(&h, "Subject: a\001b") && str_catc(&h, 0) && str_cats(&h, "c\n") &&
	    str_cats(&h, "X-Long: "), "header built");
	for (i = 0; i < 2000; i++)
		(void)str_catc(&h, 'L');
	(void)str_cats(&h, "\nX-Last: 1\n\nbody\n");
	ok(dsn_build(&out, d, r, 1, h.s, h.len) == 1, "built with a hostile header");
	ok(has(&out, "Content-Type: text/rfc822-headers\n\nSubject: abc\n"), "NUL and controls dropped");
	for (i = 0, i0 = 0; i < out.len; i++)
		if (out.s[i] == 0)
			i0 = 1;
	ok(!i0, "no NUL in the report");
	ok(line_len(&out, "\nX-Long: ") == 998 && has(&out, "LLL\nX-Last: 1\n"),
	    "a line over 998 octets cut");
	h.len = 0;
	(void)str_cats(&h, "Subject: caf\303\251\n\nb\n");
	ok(dsn_build(&out, d, r, 1, h.s, h.len) == 1 &&
	    has(&out, "Content-Type: message/global-headers\n\nSubject: caf\303\251\n") &&
	    !has(&out, "rfc822-headers"), "8-bit header: message/global-headers");
	str_free(&out);
	str_free(&h);
}

/* quoted - the text/rfc822-headers part of out, into q */
static int
quoted(const struct str *out, struct str *q)
{
	static const char pre[] = "Content-Type: text/rfc822-headers\n\n";
	size_t i, e;

	for (i = 0; i + sizeof pre - 1 <= out->len; i++)
		if (memcmp(out->s + i, pre, sizeof pre - 1) == 0)
			break;
	if (i + sizeof pre - 1 > out->len)
		return 0;
	i += sizeof pre - 1;
	for (e = i; e + 3 <= out->len; e++)
		if (memcmp(out->s + e, "\n--", 3) == 0)
			break;
	q->len = 0;
	return str_catb(q, out->s + i, e - i) && str_nul(q);
}

/* maxline - the longest line of q, its LF left out */
static size_t
maxline(const struct str *q)
{
	size_t i, col = 0, m = 0;

	for (i = 0; i < q->len; i++) {
		col = q->s[i] == '\n' ? 0 : col + 1;
		if (col > m)
			m = col;
	}
	return m;
}

/* the whole header is read, however long: lines cut, the total capped,
 * From, To, Subject, Date and Message-ID kept when the cap bites */
static void
big_header_tests(const struct dsn *d, const struct qbounce *r)
{
	struct str h = STR_ZERO, out = STR_ZERO, q = STR_ZERO, a = STR_ZERO;
	struct dsn_head hd;
	size_t i;
	int same = 1;

	/* a first field of 70 KB: the ones after it are not lost */
	(void)str_cats(&h, "Received: from x\nX-Huge: ");
	for (i = 0; i < 70000; i++)
		(void)str_catc(&h, 'h');
	(void)str_cats(&h, "\nFrom: a@b.test\nSubject: after the huge one\nMessage-ID: <m@b.test>\n\nbody\n");
	ok(dsn_build(&out, d, r, 1, h.s, h.len) == 1 && quoted(&out, &q), "a 70 KB field: built");
	ok(has(&q, "Received: from x\nX-Huge: hhh") && line_len(&q, "\nX-Huge: ") == 998 &&
	    has(&q, "hhh\nFrom: a@b.test\nSubject: after the huge one\nMessage-ID: <m@b.test>\n") &&
	    !has(&q, "body"), "a 70 KB field: cut at 998 octets, every field after it quoted");

	/* 200 Received lines of 998 octets, then the five: the cap bites */
	h.len = 0;
	for (i = 0; i < 200; i++) {
		size_t start = h.len;

		(void)str_cats(&h, "Received: from hop");
		(void)str_catulong(&h, (unsigned long)i + 1000);
		while (h.len - start < 998)
			(void)str_catc(&h, 'r');
		(void)str_catc(&h, '\n');
	}
	(void)str_cats(&h, "X-After: dropped\nTo: t@b.test,\n  u@b.test\nFrom: f@b.test\n"
	    "Date: Mon, 1 Jan 2024 00:00:00 +0000\nSubject: five\nMessage-ID: <five@b.test>\n"
	    "To: second@b.test\n\nbody\n");
	ok(dsn_build(&out, d, r, 1, h.s, h.len) == 1 && quoted(&out, &q), "a 200 KB header: built");
	ok(q.len <= DSN_HEADMAX && q.len > DSN_HEADMAX - 6 * 1000,
	    "the quoted header: at most DSN_HEADMAX bytes, nearly all used");
	ok(maxline(&q) <= 998 && q.len > 0 && q.s[q.len - 1] == '\n' && !has(&q, "\n\n"),
	    "whole lines of at most 998 octets, no empty line");
	ok(memcmp(q.s, "Received: from hop1000r", 23) == 0 && has(&q, "\nReceived: from hop1050r") &&
	    !has(&q, "hop1199") && !has(&q, "X-After") && !has(&q, "second@"),
	    "the first Received lines kept in order, those past the cap and later fields left out");
	ok(has(&q, "\nTo: t@b.test,\n  u@b.test\nFrom: f@b.test\nDate: Mon, 1 Jan 2024 00:00:00 +0000\n"
	    "Subject: five\nMessage-ID: <five@b.test>\n"),
	    "From, To (with its continuation), Subject, Date and Message-ID kept, in order");

	/* the same a byte at a time */
	dsn_head_init(&hd);
	for (i = 0; i < h.len && dsn_head_add(&hd, h.s + i, 1) == 1; i++)
		;
	ok(dsn_head_add(&hd, "more", 4) == 0 && dsn_head_end(&hd) && dsn_report(&out, d, r, 1, &hd) &&
	    quoted(&out, &a) && a.len == q.len && memcmp(a.s, q.s, q.len) == 0,
	    "fed a byte at a time: the same quoted header, and the end of the header said");
	dsn_head_free(&hd);

	/* one field of many continuation lines past the cap: its first
	 * lines, whole, and the five after it */
	h.len = 0;
	(void)str_cats(&h, "X-Many: 0\n");
	for (i = 0; i < 20000; i++)
		(void)str_cats(&h, " continued line\n");
	(void)str_cats(&h, "Subject: still here\n\n");
	ok(dsn_build(&out, d, r, 1, h.s, h.len) == 1 && quoted(&out, &q) && q.len <= DSN_HEADMAX &&
	    memcmp(q.s, "X-Many: 0\n continued line\n", 26) == 0 &&
	    has(&q, " continued line\nSubject: still here\n"),
	    "a field of 20000 lines: cut at a line, the Subject after it kept");
	for (i = 10; i + 16 <= q.len - 20 && same; i += 16)
		same = memcmp(q.s + i, " continued line\n", 16) == 0;
	ok(same && i == q.len - 20, "no line cut in the middle");

	/* a line that is empty once its control bytes are gone */
	ok(dsn_build(&out, d, r, 1, "A: 1\n\001\002\nB: 2\n\nbody\n", 21) == 1 && quoted(&out, &q) &&
	    strcmp(q.s, "A: 1\nB: 2\n") == 0, "a line of control bytes only: left out, not an end");
	str_free(&h);
	str_free(&out);
	str_free(&q);
	str_free(&a);
}

int
main(void)
{
	char st[16];
	struct str out = STR_ZERO;
	struct qbounce r[2];
	struct dsn d;
	const char *mess = "Received: x\nSubject: hello\n\nthe body\n";
	size_t i;
	int bad;

	dsn_status("550 5.1.1 no such user", 22, 1, st);
	ok(strcmp(st, "5.1.1") == 0, "status: quoted code");
	dsn_status("no code at all", 14, 1, st);
	ok(strcmp(st, "5.0.0") == 0, "status: permanent default");
	dsn_status("no code at all", 14, 0, st);
	ok(strcmp(st, "4.0.0") == 0, "status: temporary default");
	dsn_status("452 4.2.2 mailbox full", 22, 1, st);
	ok(strcmp(st, "5.0.0") == 0, "status: a class that disagrees is not taken");
	dsn_status("at 10.5.1.1 said 5.7.1 denied", 29, 1, st);
	ok(strcmp(st, "5.7.1") == 0, "status: an address is not a code");
	dsn_status("5.1", 3, 1, st);
	ok(strcmp(st, "5.0.0") == 0, "status: cut short");
	dsn_status("5.1.12345", 9, 1, st);
	ok(strcmp(st, "5.0.0") == 0, "status: too many digits");

	r[0].rcpt = "a@b.test", r[0].rcptlen = 8;
	r[0].status = "5.1.1", r[0].statuslen = 5;
	r[0].mta = "b.test", r[0].mtalen = 6;
	r[0].text = "Remote host mx.b.test (192.0.2.1) said: 550 5.1.1 no\r\nsuch\001user";
	r[0].textlen = strlen(r[0].text);
	r[1].rcpt = "c@d", r[1].rcptlen = 3;
	r[1].status = "5.0.0", r[1].statuslen = 5;
	r[1].mta = "", r[1].mtalen = 0;
	r[1].text = "local failure", r[1].textlen = 13;
	d.me = "me.test", d.from = "MAILER-DAEMON@me.test", d.to = "s@x.test";
	d.sender = "s@x.test", d.now = 1700000000, d.arrival = 1699990000;
	d.id = 77, d.seq = 3, d.dbl = 0, d.more = 0;
	ok(dsn_build(&out, &d, r, 2, mess, strlen(mess)) == 1, "built");
	ok(has(&out, "Content-Type: multipart/report; report-type=delivery-status;"), "multipart/report");
	ok(has(&out, "Content-Type: message/delivery-status\n\nReporting-MTA: dns; me.test\n"), "Reporting-MTA");
	ok(has(&out, "\nFinal-Recipient: rfc822; a@b.test\nAction: failed\nStatus: 5.1.1\nRemote-MTA: dns; mx.b.test\n"
	    "Diagnostic-Code: smtp; 550 5.1.1 no such user\n"),
	    "remote recipient block: the server that said it, its reply cleaned");
	ok(has(&out, "\nFinal-Recipient: rfc822; c@d\nAction: failed\nStatus: 5.0.0\n"
	    "Diagnostic-Code: X-lanmail; local failure\n"), "local recipient block");
	ok(has(&out, "Content-Type: text/rfc822-headers\n\nReceived: x\nSubject: hello\n\n--"), "header quoted");
	ok(!has(&out, "the body"), "body left out");
	ok(has(&out, "\nTo: s@x.test\n") && has(&out, "\nAuto-Submitted: auto-replied\n"), "To, Auto-Submitted");
	for (i = 0, bad = 0; i < out.len; i++)
		if (out.s[i] == '\r' || out.s[i] == 0)
			bad = 1;
	ok(!bad, "no CR or NUL in the report");
	ok(dsn_build(&out, &d, r, 2, "Subject: no body", 16) == 1 &&
	    has(&out, "Subject: no body\n\n--lanmail"), "header without a final newline");
	/* a stored CRLF message: its header only, the body stays out */
	ok(dsn_build(&out, &d, r, 2, "Subject: crlf\r\nX: y\r\n\r\nSECRET\r\n", 32) == 1 &&
	    has(&out, "rfc822-headers\n\nSubject: crlf\nX: y\n\n--") && !has(&out, "SECRET"),
	    "CRLF message: the header ends at its empty line");
	ok(dsn_build(&out, &d, r, 2, "\nno header\n", 11) == 1 &&
	    has(&out, "rfc822-headers\n\n\n--") && !has(&out, "no header"), "no header: nothing quoted");
	/* a remote failure no server said: no Remote-MTA, no smtp diagnostic */
	r[0].text = "No host by the name b.test", r[0].textlen = 26;
	ok(dsn_build(&out, &d, r, 1, mess, strlen(mess)) == 1 && !has(&out, "Remote-MTA") &&
	    has(&out, "Diagnostic-Code: X-lanmail; No host by the name b.test\n"),
	    "remote failure before any reply: no Remote-MTA");
	boundary_tests(&d, r);
	header_tests(&d, r);
	big_header_tests(&d, r);
	d.more = 5;
	ok(dsn_build(&out, &d, r, 1, mess, strlen(mess)) == 1 &&
	    has(&out, "\n5 more recipients failed as well;"), "recipients left out are counted");
	d.more = 0;
	d.dbl = 1;
	d.sender = "";
	ok(dsn_build(&out, &d, r, 1, "", 0) == 1 && has(&out, "Subject: double bounce") &&
	    has(&out, "The sender was <>."), "double bounce, no message file");
	str_free(&out);
	return tap_done();
}
