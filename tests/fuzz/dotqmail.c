/* dotqmail - libFuzzer target for the .qmail and .forward parsers that
 * qmail-local runs on files users write.  Every instruction must lie
 * inside the input and be non-empty, a .qmail file gives no :include:,
 * the parsers must end, and the address of every .forward address entry
 * (dotforward_addr) is either refused or a NUL-terminated non-empty one. */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "dotqmail.h"
#include "str.h"

int LLVMFuzzerTestOneInput(const uint8_t *, size_t);

static void
check(const char *p, size_t n, const struct dotqmail_inst *in, int forward)
{
	if (in->arg < p || in->arg > p + n || in->len > (size_t)(p + n - in->arg))
		abort();
	if (in->len == 0)
		abort();
	if (in->type < DQ_PROGRAM || in->type > (forward ? DQ_INCLUDE : DQ_MAILDIR))
		abort();
}

static void
check_addr(const struct dotqmail_inst *in, struct str *a)
{
	size_t locallen;
	int has_domain;

	if (!dotforward_addr(in->arg, in->len, a, &locallen, &has_domain)) {
		if (errno != EINVAL && errno != ENOMEM)
			abort();
		return;
	}
	if (locallen == 0 || locallen > a->len || strlen(a->s) != a->len)
		abort();
	if (has_domain ? locallen + 1 >= a->len || a->s[locallen] != '@' : locallen != a->len)
		abort();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t n)
{
	const char *p = (const char *)data;
	struct dotqmail d;
	struct dotqmail_inst in;
	struct str a = STR_ZERO;
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
		if (in.type == DQ_FORWARD)
			check_addr(&in, &a);
		if (count > n)
			abort();
	}
	str_free(&a);
	return 0;
}
