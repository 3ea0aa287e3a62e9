/* dotqmail - libFuzzer target for the .qmail and .forward parsers that
 * qmail-local runs on files users write.  Every instruction must lie
 * inside the input, be non-empty (except a .forward "\user"), and the
 * parsers must end. */
#include <stdint.h>
#include <stdlib.h>

#include "dotqmail.h"

int LLVMFuzzerTestOneInput(const uint8_t *, size_t);

static void
check(const char *p, size_t n, const struct dotqmail_inst *in, int forward)
{
	if (in->arg < p || in->arg > p + n || in->len > (size_t)(p + n - in->arg))
		abort();
	if (in->len == 0 && !(forward && in->type == DQ_FORWARD))
		abort();
	if (in->type < DQ_PROGRAM || in->type > DQ_MAILDIR)
		abort();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t n)
{
	const char *p = (const char *)data;
	struct dotqmail d;
	struct dotqmail_inst in;
	size_t count;
	int r;

	dotqmail_init(&d, p, n);
	for (count = 0; (r = dotqmail_next(&d, &in)) == 1; count++) {
		check(p, n, &in, 0);
		if (count > n)
			abort();
	}
	dotqmail_init(&d, p, n);
	for (count = 0; (r = dotforward_next(&d, &in)) == 1; count++) {
		check(p, n, &in, 1);
		if (count > n)
			abort();
	}
	return 0;
}
