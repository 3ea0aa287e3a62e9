/* listcmd - libFuzzer target for qmail-list's command-address parser and
 * its local=domain decoding, both fed by whoever mails a list: every
 * piece found must lie inside the input, and a decoded address must pass
 * listcmd_addrok and encode back to the same bytes. */
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
	str_free(&a);
	str_free(&b);
	return 0;
}
