/* pop3 - libFuzzer target for lib/pop3: the command parser qmail-popup
 * and qmail-pop3d feed with client lines, the SASL PLAIN splitter, and
 * the wire conversion of message files.  Checks: parsed arguments lie
 * inside the line; a converted message ends with the one terminator
 * and holds no other; undoing the conversion gives the file back when
 * the file has no CR. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "pop3.h"

int LLVMFuzzerTestOneInput(const uint8_t *, size_t);

static void
check_wire(const char *p, size_t n, size_t split)
{
	static char x[1 << 20];
	char back[1 << 16];
	struct buf b;
	struct pop3_wire w;
	size_t i, k = 0, bl = 0;
	int bol = 1, has_cr = memchr(p, '\r', n) != NULL;

	if (n > sizeof back - 2)
		return;
	buf_init(&b, -1, x, sizeof x, 0);
	pop3_wire_init(&w, 0, 0);
	if (!pop3_wire_put(&w, p, split, &b) ||
	    !pop3_wire_put(&w, p + split, n - split, &b) ||
	    !pop3_wire_end(&w, &b))
		abort();
	if (b.len < 3 || memcmp(x + b.len - 3, ".\r\n", 3) != 0)
		abort();
	/* the terminator is the first "\r\n.\r\n" (or the whole reply) */
	for (i = 0; i + 5 <= b.len; i++)
		if (memcmp(x + i, "\r\n.\r\n", 5) == 0 && i + 5 != b.len)
			abort();
	if (b.len > 3 && !(b.len >= 5 && memcmp(x + b.len - 5, "\r\n", 2) == 0))
		abort();
	if (has_cr)
		return;
	/* undo: drop a leading '.' of a line, CRLF to LF */
	for (i = 0; i < b.len - 3; i++) {
		if (bol && x[i] == '.') {
			bol = 0;
			continue;
		}
		bol = 0;
		if (x[i] == '\r' && x[i + 1] == '\n')
			continue;
		if (x[i] == '\n')
			bol = 1;
		back[bl++] = x[i];
	}
	/* a last line without LF got one */
	if (n > 0 && p[n - 1] != '\n')
		k = 1;
	if (bl != n + k || memcmp(back, p, n) != 0)
		abort();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t n)
{
	const char *p = (const char *)data;
	struct pop3_cmd c;
	const char *a, *u, *pw;
	size_t al, ul, pl;
	unsigned long m, l;
	char id[71];

	if (pop3_parse(p, n, &c)) {
		if (c.arglen > n || (c.arglen && (c.arg < p || c.arg + c.arglen > p + n)))
			abort();
		if (pop3_num(c.arg, c.arglen, 20000, &m) && (m == 0 || m > 20000))
			abort();
		if (pop3_two(c.arg, c.arglen, 20000, &m, &l) && (m == 0 || m > 20000))
			abort();
	}
	if (pop3_plain(p, n, &a, &al, &u, &ul, &pw, &pl) &&
	    (al + ul + pl + 2 != n || ul == 0))
		abort();
	if (pop3_uidl(p, n, id) > 70)
		abort();
	check_wire(p, n, n ? data[0] % (n + 1) : 0);
	return 0;
}
