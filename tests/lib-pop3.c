/* lib-pop3 - POP3 command parsing and the wire form of messages, with
 * hostile input: NULs, control bytes, huge numbers, chunk boundaries in
 * the middle of CRLF and of a leading dot */
#include <string.h>

#include "pop3.h"
#include "tap.h"

static char outx[1 << 16];

/* wire - the wire form of p, fed in chunks of size step (0: at once) */
static int
wire(const char *p, size_t n, size_t step, int top, unsigned long lines,
    const char *want)
{
	struct buf b;
	struct pop3_wire w;
	size_t i, k;

	buf_init(&b, -1, outx, sizeof outx, 0);
	pop3_wire_init(&w, top, lines);
	if (step == 0)
		step = n ? n : 1;
	for (i = 0; i < n; i += k) {
		k = n - i < step ? n - i : step;
		if (!pop3_wire_put(&w, p + i, k, &b))
			return 0;
	}
	if (!pop3_wire_end(&w, &b))
		return 0;
	return b.len == strlen(want) && memcmp(outx, want, b.len) == 0;
}

static int
parse(const char *line, int cmd, const char *arg)
{
	struct pop3_cmd c;

	if (!pop3_parse(line, strlen(line), &c))
		return 0;
	return c.cmd == cmd && c.arglen == strlen(arg) && memcmp(c.arg, arg, c.arglen) == 0;
}

int
main(void)
{
	struct pop3_cmd c;
	unsigned long m, l;
	const char *a, *u, *p;
	size_t al, ul, pl, step;
	char id[71];
	int all;
	static const char msg[] = "Subject: x\n\n.dot\nbody\r\n..two\nlast";
	static const char msgwire[] = "Subject: x\r\n\r\n..dot\r\nbody\r\n...two\r\nlast\r\n.\r\n";

	ok(parse("STAT", POP3_STAT, ""), "STAT");
	ok(parse("stat", POP3_STAT, ""), "keywords in any case");
	ok(parse("RETR 12", POP3_RETR, "12"), "RETR 12");
	ok(parse("TOP 1 10", POP3_TOP, "1 10"), "TOP 1 10");
	ok(parse("PASS with spaces in it", POP3_PASS, "with spaces in it"), "PASS keeps its blanks");
	ok(parse("XYZZY", POP3_UNKNOWN, ""), "an unknown keyword");
	ok(parse("RETRIEVE 1", POP3_UNKNOWN, ""), "a keyword longer than four letters");
	ok(!pop3_parse("", 0, &c), "an empty line is malformed");
	ok(!pop3_parse(" STAT", 5, &c), "a leading blank is malformed");
	ok(!pop3_parse("ST\0T", 4, &c), "a NUL is malformed");
	ok(!pop3_parse("STAT\t1", 6, &c), "a tab is malformed");
	ok(parse("PASS a\tb c", POP3_PASS, "a\tb c"), "PASS keeps a tab in the password");
	ok(parse("pass \t", POP3_PASS, "\t"), "a password that is one tab");
	ok(!pop3_parse("USER a\tb", 8, &c) && !pop3_parse("RETR 1\t", 7, &c) &&
	    !pop3_parse("XYZZYX a\tb", 10, &c), "other commands still refuse a tab");
	ok(!pop3_parse("PASS\tx", 6, &c), "PASS with a tab for its blank is malformed");
	ok(!pop3_parse("PASS a\tb\001", 9, &c), "PASS still refuses other control bytes");
	ok(!pop3_parse("NOOP\x7f", 5, &c), "DEL is malformed");
	ok(!pop3_parse("NOOP\r", 5, &c), "a stray CR is malformed");

	ok(pop3_num("1", 1, 5, &m) && m == 1, "message 1 of 5");
	ok(pop3_num("5", 1, 5, &m) && m == 5, "message 5 of 5");
	ok(!pop3_num("6", 1, 5, &m), "message 6 of 5");
	ok(!pop3_num("0", 1, 5, &m), "message 0");
	ok(!pop3_num("", 0, 5, &m), "no number");
	ok(!pop3_num("-1", 2, 5, &m) && !pop3_num("+1", 2, 5, &m) && !pop3_num("1 ", 2, 5, &m),
	    "signs and blanks");
	ok(!pop3_num("99999999999999999999999", 23, (unsigned long)-1, &m), "a huge number");
	ok(!pop3_num("18446744073709551617", 20, (unsigned long)-1, &m), "an overflowing number");
	ok(pop3_two("2 0", 3, 5, &m, &l) && m == 2 && l == 0, "TOP 2 0");
	ok(!pop3_two("2", 1, 5, &m, &l) && !pop3_two("2 ", 2, 5, &m, &l) &&
	    !pop3_two("2 x", 3, 5, &m, &l) && !pop3_two("7 1", 3, 5, &m, &l),
	    "TOP without a good line count or message");

	ok(pop3_plain("\0u\0p", 4, &a, &al, &u, &ul, &p, &pl) && al == 0 && ul == 1 &&
	    *u == 'u' && pl == 1 && *p == 'p', "PLAIN without authzid");
	ok(pop3_plain("z\0u\0", 4, &a, &al, &u, &ul, &p, &pl) && al == 1 && pl == 0,
	    "PLAIN with authzid, empty password");
	ok(!pop3_plain("\0\0p", 3, &a, &al, &u, &ul, &p, &pl), "PLAIN with empty authcid");
	ok(!pop3_plain("up", 2, &a, &al, &u, &ul, &p, &pl) &&
	    !pop3_plain("\0up", 3, &a, &al, &u, &ul, &p, &pl), "PLAIN with fewer than two NULs");
	ok(!pop3_plain("\0u\0p\0", 5, &a, &al, &u, &ul, &p, &pl), "PLAIN with three NULs");

	ok(pop3_uidl("1700000000.M1P2.host:2,S", 24, id) == 20 &&
	    memcmp(id, "1700000000.M1P2.host", 20) == 0, "UIDL: the name before the flags");
	{
		char longname[200];

		memset(longname, 'x', sizeof longname);
		ok(pop3_uidl(longname, sizeof longname, id) == 17 && id[0] == 'h',
		    "UIDL of a long name: a hash");
		longname[3] = '\001';
		ok(pop3_uidl(longname, 10, id) == 17, "UIDL of a name with a control byte: a hash");
	}
	ok(pop3_uidl(":2,", 3, id) == 17, "UIDL of an empty base: a hash");
	{
		char id2[71];

		ok(pop3_uidl(":2,a", 4, id) == 17 && pop3_uidl(":2,b", 4, id2) == 17 &&
		    memcmp(id, id2, 17) != 0, "two names with an empty base: two UIDLs");
	}

	all = 1;
	for (step = 0; step <= sizeof msg; step++)
		all &= wire(msg, sizeof msg - 1, step, 0, 0, msgwire);
	ok(all, "RETR form: CRLF kept, LF made CRLF, dots doubled, last line ended (every chunking)");
	ok(wire("", 0, 0, 0, 0, ".\r\n"), "an empty message");
	ok(wire(".\n", 2, 0, 0, 0, "..\r\n.\r\n"), "a message that is one dot");
	ok(wire("a\r", 2, 0, 0, 0, "a\r\n.\r\n"), "a final CR gets its LF");
	ok(wire("a\rb\n", 4, 1, 0, 0, "a\rb\r\n.\r\n"), "a bare CR inside a line stays");
	all = 1;
	for (step = 0; step < 12; step++)
		all &= wire("H: 1\n\nl1\n.l2\nl3\n", 17, step, 1, 2, "H: 1\r\n\r\nl1\r\n..l2\r\n.\r\n");
	ok(all, "TOP 2: header, blank line, two body lines (every chunking)");
	ok(wire("H: 1\n\nl1\n", 9, 0, 1, 0, "H: 1\r\n\r\n.\r\n"), "TOP 0: the header only");
	ok(wire("H: 1\r\n\r\nl1\r\n", 12, 0, 1, 0, "H: 1\r\n\r\n.\r\n"), "TOP 0 on a CRLF file");
	ok(wire("H: 1\nH: 2\n", 10, 0, 1, 0, "H: 1\r\nH: 2\r\n.\r\n"), "TOP of a message without a body");

	return tap_done();
}
