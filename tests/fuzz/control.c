/* control - libFuzzer target for the control-file rules (lib/control's
 * control_parselist) and the number reader (scan_ulong) that control
 * files, environment settings and queue file names go through.  Checks:
 * every list entry is non-empty, NUL-ended, holds no NUL or newline,
 * does not start with '#' and has no trailing blank, and the entries are
 * the input's lines in order; a scanned number formats back to the
 * input's digits. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "control.h"
#include "str.h"

int LLVMFuzzerTestOneInput(const uint8_t *, size_t);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *p = (const char *)data;
	struct str out = STR_ZERO;
	char buf[FMT_ULONG];
	unsigned long u;
	size_t i, e, from = 0, k;
	int r;

	r = control_parselist(p, size, &out);
	if (r == 1) {
		for (i = 0; i < out.len; i = e + 1) {
			e = i + strlen(out.s + i);
			if (e >= out.len || e == i || out.s[i] == '#' || memchr(out.s + i, '\n', e - i))
				abort();
			if (out.s[e - 1] == ' ' || out.s[e - 1] == '\t' || out.s[e - 1] == '\r')
				abort();
			/* the entry is the start of a later input line */
			for (;;) {
				if (from >= size)
					abort();
				k = from;
				from += str_chrb(p + from, size - from, '\n') + 1;
				if (k + (e - i) <= size && memcmp(p + k, out.s + i, e - i) == 0 &&
				    (k + (e - i) == size || memchr(" \t\r\n", p[k + (e - i)], 4)))
					break;
			}
		}
	} else if (r != -1 || memchr(p, 0, size) == NULL)
		abort();	/* only a NUL inside a line makes it fail */
	str_free(&out);

	if (scan_ulong(p, size, &u)) {
		for (i = 0; i + 1 < size && p[i] == '0'; i++)
			;
		if (fmt_ulong(buf, u) != size - i || memcmp(buf, p + i, size - i) != 0)
			abort();
	} else {
		for (i = 0; i < size; i++)
			if (p[i] < '0' || p[i] > '9')
				break;
		if (i == size && size > 0 && size < 20)
			abort();	/* under 20 digits always fits */
	}
	return 0;
}
