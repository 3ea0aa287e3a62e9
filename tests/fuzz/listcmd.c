/* listcmd - libFuzzer target for qmail-list's command-address parser,
 * its local=domain decoding and its header reading and rewriting, all fed
 * by whoever mails a list: every piece found must lie inside the input,
 * a decoded address must pass listcmd_addrok and encode back to the same
 * bytes, the header length stays within the input, a field value is no
 * longer than the header, and a list copy ends with the post's body and
 * a newline. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "listcmd.h"

int LLVMFuzzerTestOneInput(const uint8_t *, size_t);

static void
inside(const char *p, size_t n, const char *q, size_t m)
{
	if (m == 0)
		return;
	if (q < p || q > p + n || m > (size_t)(p + n - q))
		abort();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t n)
{
	const char *p = (const char *)data;
	struct listcmd c;
	struct str a = STR_ZERO, b = STR_ZERO;

	if (listcmd_parse(p, n, &c)) {
		if (c.cmd == LISTCMD_BAD)
			abort();
		inside(p, n, c.cookie, c.cookielen);
		inside(p, n, c.addr, c.addrlen);
	} else if (c.cmd != LISTCMD_BAD || c.cookielen || c.addrlen)
		abort();
	if (listcmd_decode(&a, p, n)) {
		if (!listcmd_addrok(a.s, a.len) || !listcmd_encode(&b, a.s, a.len) ||
		    b.len != n || memcmp(b.s, p, n) != 0)
			abort();
	}
	{
		size_t hn = listcmd_headerlen(p, n), bl;

		if (hn > n)
			abort();
		a.len = 0;
		if (listcmd_field(p, hn, "Subject", &a) == 1 && a.len > hn)
			abort();
		b.len = 0;
		if (listcmd_copy(&b, p, n, "[x]", 3) != 1)
			abort();
		bl = n - hn;
		if (b.len == 0 || b.s[b.len - 1] != '\n' || b.len < bl)
			abort();
		if (bl && p[n - 1] == '\n' && memcmp(b.s + b.len - bl, p + hn, bl) != 0)
			abort();
		if (bl && p[n - 1] != '\n' && (b.len < bl + 1 || memcmp(b.s + b.len - bl - 1, p + hn, bl) != 0))
			abort();
	}
	str_free(&a);
	str_free(&b);
	return 0;
}
