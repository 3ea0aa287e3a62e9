/* smtpd-base64 - libFuzzer target for the base64 decoder that SMTP and
 * POP3 AUTH feed with client input.  Whatever decodes must encode back
 * to exactly the input (the decoder accepts only canonical base64). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "base64.h"

int LLVMFuzzerTestOneInput(const uint8_t *, size_t);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t n)
{
	struct str d = STR_ZERO, e = STR_ZERO;

	if (base64_decode((const char *)data, n, &d)) {
		if (!base64_encode(d.s, d.len, &e))
			abort();
		if (e.len != n || (n && memcmp(e.s, data, n) != 0))
			abort();
		if (d.len != n / 4 * 3 - (n && data[n - 1] == '=') - (n > 1 && data[n - 2] == '='))
			abort();
	}
	str_free(&d);
	str_free(&e);
	return 0;
}
