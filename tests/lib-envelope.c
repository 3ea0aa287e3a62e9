/* lib-envelope - unit tests for lib/envelope: both forms, every defect,
 * the limits exactly at and one past their edge, cut-short buffers */
#include <stdlib.h>
#include <string.h>

#include "envelope.h"
#include "str.h"
#include "tap.h"

#define Q(lit) envelope_parse_queue(&e, (lit), sizeof(lit) - 1)
#define T(lit) envelope_parse_todo(&e, (lit), sizeof(lit) - 1)

/* addr - "L" then n bytes of 'a', then NUL */
static void
rec(struct str *s, char letter, size_t n)
{
	size_t i;

	str_catc(s, letter);
	for (i = 0; i < n; i++)
		str_catc(s, 'a');
	str_catc(s, 0);
}

int
main(void)
{
	struct envelope e;
	struct str s = STR_ZERO;
	const char *a;
	size_t pos, len;
	unsigned long i;
	int r;

	/* form (a) */
	ok(Q("Fs@x\0Tr@y\0\0") == ENVELOPE_OK, "one recipient");
	ok(e.senderlen == 3 && memcmp(e.sender, "s@x", 3) == 0 && e.sender[3] == 0, "sender");
	ok(e.nrcpt == 1 && e.rcptslen == 5 && e.uid == 0 && e.pid == 0, "counts");
	pos = 0;
	ok(envelope_next(&e, &pos, &a, &len) == 1 && len == 3 && memcmp(a, "r@y", 3) == 0, "next: r@y");
	ok(envelope_next(&e, &pos, &a, &len) == 0, "next: end");
	ok(Q("F\0T\0Tb\0\0") == ENVELOPE_OK && e.senderlen == 0 && e.nrcpt == 2, "empty sender, empty recipient");
	pos = 0;
	ok(envelope_next(&e, &pos, &a, &len) == 1 && len == 0 &&
	    envelope_next(&e, &pos, &a, &len) == 1 && len == 1 && *a == 'b' &&
	    envelope_next(&e, &pos, &a, &len) == 0, "next walks both");
	ok(Q("Fa\nb\r\0T\xff\x01\0\0") == ENVELOPE_OK, "any byte but NUL in an address");

	ok(Q("") == ENVELOPE_NOSENDER, "empty: no sender");
	ok(Q("\0") == ENVELOPE_NOSENDER, "lone NUL: no sender");
	ok(Q("Ts\0Tr\0\0") == ENVELOPE_NOSENDER, "T first: no sender");
	ok(Q("fs\0Tr\0\0") == ENVELOPE_NOSENDER, "lower-case f: no sender");
	ok(Q("Fs\0\0") == ENVELOPE_NORCPT, "no recipient");
	ok(Q("Fs\0") == ENVELOPE_NORCPT, "no recipient and no final NUL");
	ok(Q("Fs") == ENVELOPE_NOEND, "sender cut short");
	ok(Q("F") == ENVELOPE_NOEND, "only F");
	ok(Q("Fs\0Tr\0") == ENVELOPE_NOEND, "no final NUL");
	ok(Q("Fs\0Tr") == ENVELOPE_NOEND, "recipient cut short");
	ok(Q("Fs\0T") == ENVELOPE_NOEND, "only T");
	ok(Q("Fs\0Tr\0\0\0") == ENVELOPE_TRAILING, "two final NULs");
	ok(Q("Fs\0Tr\0\0Tx\0\0") == ENVELOPE_TRAILING, "a record after the end");
	ok(Q("Fs\0Xr\0\0") == ENVELOPE_BADRECORD, "X record");
	ok(Q("Fs\0Tr\0Fs\0\0") == ENVELOPE_BADRECORD, "second F");
	ok(Q("Fs\0Tr\0t\0\0") == ENVELOPE_BADRECORD, "lower-case t");

	/* address length: 1000 fine, 1001 too long, sender and recipient */
	s.len = 0;
	rec(&s, 'F', ENVELOPE_ADDR_MAX);
	rec(&s, 'T', ENVELOPE_ADDR_MAX);
	str_catc(&s, 0);
	ok(envelope_parse_queue(&e, s.s, s.len) == ENVELOPE_OK, "1000-byte addresses");
	s.len = 0;
	rec(&s, 'F', ENVELOPE_ADDR_MAX + 1);
	rec(&s, 'T', 1);
	str_catc(&s, 0);
	ok(envelope_parse_queue(&e, s.s, s.len) == ENVELOPE_TOOLONG, "1001-byte sender");
	s.len = 0;
	rec(&s, 'F', 1);
	rec(&s, 'T', 1);
	rec(&s, 'T', ENVELOPE_ADDR_MAX + 1);
	str_catc(&s, 0);
	ok(envelope_parse_queue(&e, s.s, s.len) == ENVELOPE_TOOLONG, "1001-byte recipient");
	ok(envelope_parse_queue(&e, s.s, 4 + 1 + 1100 / 2) == ENVELOPE_NOEND, "cut inside a long address, not yet too long: cut short");
	ok(envelope_parse_queue(&e, s.s, 8 + ENVELOPE_ADDR_MAX + 1) == ENVELOPE_TOOLONG, "cut just past 1001 bytes: too long");

	/* recipients: 100000 fine, 100001 too many */
	s.len = 0;
	rec(&s, 'F', 0);
	for (i = 0; i < ENVELOPE_RCPT_MAX; i++)
		rec(&s, 'T', 0);
	str_catc(&s, 0);
	ok(envelope_parse_queue(&e, s.s, s.len) == ENVELOPE_OK && e.nrcpt == ENVELOPE_RCPT_MAX, "100000 recipients");
	s.len--;
	rec(&s, 'T', 0);
	str_catc(&s, 0);
	ok(envelope_parse_queue(&e, s.s, s.len) == ENVELOPE_TOOMANY, "100001 recipients");
	ok(envelope_parse_queue(&e, s.s, s.len - 2) == ENVELOPE_TOOMANY, "100001st cut short: still too many");

	/* the largest valid envelope is ENVELOPE_MAX bytes */
	s.len = 0;
	rec(&s, 'F', ENVELOPE_ADDR_MAX);
	for (i = 0; i < ENVELOPE_RCPT_MAX; i++)
		rec(&s, 'T', ENVELOPE_ADDR_MAX);
	str_catc(&s, 0);
	ok(s.len == ENVELOPE_MAX && envelope_parse_queue(&e, s.s, s.len) == ENVELOPE_OK, "ENVELOPE_MAX bytes: ok");
	s.len--;
	rec(&s, 'T', ENVELOPE_ADDR_MAX);
	ok(envelope_parse_queue(&e, s.s, ENVELOPE_MAX + 1) == ENVELOPE_TOOMANY, "a reader stopping at ENVELOPE_MAX + 1 learns: too many");

	/* form (b) */
	ok(T("u0\0p123\0Fs@x\0Tr@y\0Tq\0") == ENVELOPE_OK, "todo");
	ok(e.uid == 0 && e.pid == 123 && e.nrcpt == 2 && e.senderlen == 3, "uid, pid, counts");
	pos = 0;
	ok(envelope_next(&e, &pos, &a, &len) == 1 && len == 3 &&
	    envelope_next(&e, &pos, &a, &len) == 1 && len == 1 && *a == 'q' &&
	    envelope_next(&e, &pos, &a, &len) == 0, "todo recipients");
	ok(T("u18446744073709551615\0p1\0F\0T\0") == ENVELOPE_OK && e.uid == 18446744073709551615UL, "largest uid");
	ok(T("u18446744073709551616\0p1\0F\0T\0") == ENVELOPE_BADHEAD, "uid overflow");
	ok(T("u01\0p1\0F\0T\0") == ENVELOPE_BADHEAD, "leading zero");
	ok(T("u\0p1\0F\0T\0") == ENVELOPE_BADHEAD, "empty uid");
	ok(T("u1x\0p1\0F\0T\0") == ENVELOPE_BADHEAD, "junk uid");
	ok(T("p1\0u1\0F\0T\0") == ENVELOPE_BADHEAD, "p before u");
	ok(T("u1\0F\0T\0") == ENVELOPE_BADHEAD, "no p");
	ok(T("u1\0p1") == ENVELOPE_BADHEAD, "cut in p");
	ok(T("") == ENVELOPE_BADHEAD, "empty todo");
	ok(T("u1\0p1\0") == ENVELOPE_NOSENDER, "no F");
	ok(T("u1\0p1\0F\0") == ENVELOPE_NORCPT, "no T");
	ok(T("u1\0p1\0F\0T\0\0") == ENVELOPE_TRAILING, "a final NUL is not part of a todo file");
	ok(T("u1\0p1\0F\0Tr") == ENVELOPE_NOEND, "cut in T");
	ok(T("u1\0p1\0F\0Tr\0Dq\0") == ENVELOPE_BADRECORD, "a D record");
	s.len = 0;
	str_cats(&s, "u1");
	str_catc(&s, 0);
	str_cats(&s, "p2");
	str_catc(&s, 0);
	rec(&s, 'F', 0);
	rec(&s, 'T', ENVELOPE_ADDR_MAX + 1);
	ok(envelope_parse_todo(&e, s.s, s.len) == ENVELOPE_TOOLONG, "todo: long address");

	/* every result has words */
	for (r = 0; r <= ENVELOPE_BADHEAD; r++)
		if (strcmp(envelope_strerror(r), "unknown envelope error") == 0)
			break;
	ok(r == ENVELOPE_BADHEAD + 1, "every result has a reason");
	ok(strcmp(envelope_strerror(-1), "unknown envelope error") == 0, "unknown");

	/* a buffer allocated to exactly n bytes: ASan/valgrind catch overreads */
	{
		static const char *const cases[] = { "F", "Fs", "Fs\0T", "Fs\0Tr", "Fs\0Tr\0", "u1\0p", "u1\0p1\0F" };
		static const size_t lens[] = { 1, 2, 4, 5, 6, 4, 8 };
		char *p;

		for (i = 0; i < sizeof lens / sizeof lens[0]; i++) {
			p = malloc(lens[i]);
			memcpy(p, cases[i], lens[i]);
			r = envelope_parse_queue(&e, p, lens[i]) != ENVELOPE_OK &&
			    envelope_parse_todo(&e, p, lens[i]) != ENVELOPE_OK;
			free(p);
			if (!r)
				break;
		}
		ok(i == sizeof lens / sizeof lens[0], "cut-short buffers refused");
	}
	str_free(&s);
	return tap_done();
}
