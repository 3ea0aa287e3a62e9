/* lib-listcmd - qmail-list's command words and VERP address coding, with
 * hostile input: junk after a word, overlong parts, missing pieces */
#include <string.h>

#include "listcmd.h"
#include "tap.h"

static int
parse(const char *s, struct listcmd *c)
{
	return listcmd_parse(s, strlen(s), c);
}

static int
piece(const char *p, size_t n, const char *want)
{
	return n == strlen(want) && memcmp(p, want, n) == 0;
}

int
main(void)
{
	struct listcmd c;
	struct str a = STR_ZERO;
	char big[LISTCMD_MAX + 2];

	ok(parse("help", &c) && c.cmd == LISTCMD_HELP, "help");
	ok(parse("HeLp", &c) && c.cmd == LISTCMD_HELP, "any case");
	ok(parse("subscribe", &c) && c.cmd == LISTCMD_SUB, "subscribe");
	ok(parse("unsubscribe", &c) && c.cmd == LISTCMD_UNSUB, "unsubscribe");
	ok(!parse("subscribe-x", &c) && c.cmd == LISTCMD_BAD, "junk after a word");
	ok(!parse("", &c), "empty");
	ok(parse("get.12", &c) && c.cmd == LISTCMD_GET && c.num == 12, "get.12");
	ok(!parse("get.", &c) && !parse("get.1x", &c) && !parse("get.99999999999999999999", &c),
	    "get without a number, with junk, overflowing");
	ok(parse("return-joe=example.org", &c) && c.cmd == LISTCMD_RETURN &&
	    piece(c.addr, c.addrlen, "joe=example.org"), "return-ADDR");
	ok(!parse("return-", &c) && !parse("return-joe", &c) && !parse("return-a@b=c", &c),
	    "return without an address, without =, with @");
	ok(parse("sc.1700000000.00ff-a-b=c.d", &c) && c.cmd == LISTCMD_SUBCONF && c.num == 1700000000 &&
	    piece(c.cookie, c.cookielen, "00ff") && piece(c.addr, c.addrlen, "a-b=c.d"), "sc form");
	ok(parse("UC.1.AB-x=y", &c) && c.cmd == LISTCMD_UNSUBCONF, "uc form, upper case");
	ok(!parse("sc.1.-x=y", &c) && !parse("sc..ab-x=y", &c) && !parse("sc.1.ab", &c) &&
	    !parse("sc.1.ab-", &c) && !parse("sc.1.xyz-a=b", &c) && c.cookielen == 0 && c.addrlen == 0,
	    "sc forms missing a piece are refused and leave nothing behind");
	memset(big, 'a', sizeof big);
	memcpy(big, "sc.1.", 5);
	big[5 + LISTCMD_COOKIEMAX + 1] = '-';
	ok(!listcmd_parse(big, 5 + LISTCMD_COOKIEMAX + 4, &c), "cookie too long");
	ok(!listcmd_parse(big, sizeof big, &c), "word too long");
	ok(parse("accept.7.abc", &c) && c.cmd == LISTCMD_ACCEPT && c.num == 7 && c.addrlen == 0, "accept");
	ok(!parse("accept.7.abc-x=y", &c), "accept takes no address");
	ok(parse("reject.7.abc", &c) && c.cmd == LISTCMD_REJECT, "reject");
	ok(parse("probe.5.ab-x=y", &c) && c.cmd == LISTCMD_PROBE, "probe");

	ok(listcmd_decode(&a, "joe=example.org", 15) && piece(a.s, a.len, "joe@example.org"), "decode");
	a.len = 0;
	ok(listcmd_decode(&a, "a=b=example.org", 15) && piece(a.s, a.len, "a=b@example.org"),
	    "the last = separates");
	a.len = 0;
	ok(!listcmd_decode(&a, "joe", 3) && !listcmd_decode(&a, "joe=", 4) && !listcmd_decode(&a, "=x", 2) &&
	    !listcmd_decode(&a, "a b=c", 5) && !listcmd_decode(&a, "a=b/c", 5) && a.len == 0,
	    "decode refuses junk and leaves out alone");
	ok(listcmd_encode(&a, "x@y.z", 5) && piece(a.s, a.len, "x=y.z"), "encode");
	ok(listcmd_addrok("a@b", 3) && !listcmd_addrok("a@b@c", 5) && !listcmd_addrok("@b", 2) &&
	    !listcmd_addrok("a@", 2) && !listcmd_addrok("a\n@b", 4) && !listcmd_addrok("|x@y", 4) &&
	    !listcmd_addrok("a@b/c", 5) && !listcmd_addrok("a@b", (size_t)-1), "addrok");

	{
		const char *m = "Return-Path: <x@y>\nsubject: Hello\n there\nList-Id: <o.t>\n more\n"
		    "Precedence: bulk\nX-A: 1\n\nbody\n";
		const char *want = "subject: Hello\n there\nX-A: 1\n\nbody\n";
		const char *want2 = "Subject: [t] Hello\n there\nX-A: 1\n\nbody\n";
		size_t hn = listcmd_headerlen(m, strlen(m));

		ok(hn == strlen(m) - 5, "header length");
		ok(listcmd_headerlen("a: b", 4) == 4 && listcmd_headerlen("", 0) == 0, "no blank line: all");
		a.len = 0;
		ok(listcmd_field(m, hn, "Subject", &a) == 1 && str_equal(a.s, "Hello there"),
		    "a folded field unfolded, any case");
		ok(listcmd_field(m, hn, "Sub", &a) == 0 && a.len == 0, "a name is a whole name");
		ok(listcmd_field("X: 1\n\nSubject: no\n", 6, "Subject", &a) == 0, "the body is not the header");
		a.len = 0;
		ok(listcmd_copy(&a, m, strlen(m), "", 0) && piece(a.s, a.len, want),
		    "copy: Return-Path, List-* and Precedence go, folded lines too");
		a.len = 0;
		ok(listcmd_copy(&a, m, strlen(m), "[t]", 3) && piece(a.s, a.len, want2), "subject prefix");
		a.len = 0;
		ok(listcmd_copy(&a, "Subject: [T] x\n\nb", 17, "[t]", 3) &&
		    piece(a.s, a.len, "Subject: [T] x\n\nb\n"), "prefix there already; body gets its newline");
		a.len = 0;
		ok(listcmd_copy(&a, "X: 1", 4, "[t]", 3) && piece(a.s, a.len, "X: 1\nSubject: [t]\n\n"),
		    "no subject, no newline, no body");
		ok(listcmd_has("abc", 3, "BC", 2) && !listcmd_has("abc", 3, "abcd", 4) && listcmd_has("", 0, "", 0),
		    "has");
	}
	{
		/* every field of a name, CRLF line ends, the last line unended */
		const char *m = "List-Id: <a.x>\r\nX: 1\r\nlist-id:\r\n <b.x>\r\nList-Id: <c.x>";
		size_t pos = 0, n = strlen(m);
		int r1, r2, r3, r4;

		r1 = listcmd_fieldnext(m, n, &pos, "List-Id", &a) == 1 && str_equal(a.s, "<a.x>");
		r2 = listcmd_fieldnext(m, n, &pos, "List-Id", &a) == 1 && str_equal(a.s, "<b.x>");
		r3 = listcmd_fieldnext(m, n, &pos, "List-Id", &a) == 1 && str_equal(a.s, "<c.x>");
		r4 = listcmd_fieldnext(m, n, &pos, "List-Id", &a) == 0 && a.len == 0 && pos == n;
		ok(r1 && r2 && r3 && r4, "fieldnext: each List-Id in turn, then none");
		ok(listcmd_field("S: a\r\n b\r\n\r\nbody", 13, "S", &a) == 1 && str_equal(a.s, "a b"),
		    "a CRLF fold leaves no CR behind");
		pos = 0;
		ok(listcmd_fieldnext("A: 1\n\nA: 2\n", 12, &pos, "A", &a) == 1 &&
		    listcmd_fieldnext("A: 1\n\nA: 2\n", 12, &pos, "A", &a) == 0, "fieldnext stops at the body");
	}
	{
		/* the prefix on a folded line, or split by the fold, is found */
		const char *m1 = "Subject:\n [t] hello\n\nb\n";
		const char *m2 = "Subject: Re: a long\r\n\t[my list] thing\r\n\r\nb\r\n";
		const char *m3 = "Subject: [my\n list] x\n\nb\n";

		a.len = 0;
		ok(listcmd_copy(&a, m1, strlen(m1), "[t]", 3) && piece(a.s, a.len, m1),
		    "prefix on the folded line: subject untouched");
		a.len = 0;
		ok(listcmd_copy(&a, m2, strlen(m2), "[my list]", 9) &&
		    piece(a.s, a.len, "Subject: Re: a long\r\n\t[my list] thing\r\n\nb\r\n"),
		    "CRLF fold: prefix found, not added again");
		a.len = 0;
		ok(listcmd_copy(&a, m3, strlen(m3), "[my list]", 9) && piece(a.s, a.len, m3),
		    "a prefix with a blank, folded in the middle: found");
		a.len = 0;
		ok(listcmd_copy(&a, "Subject: a\n b\n\nx\n", 17, "[t]", 3) &&
		    piece(a.s, a.len, "Subject: [t] a\n b\n\nx\n"), "no prefix anywhere: added, fold kept");
	}
	str_free(&a);
	return tap_done();
}
