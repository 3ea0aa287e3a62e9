/* starttls - libFuzzer target for lib/starttls: the answer qmail-tls
 * sends a server program (parsed by starttls_parse, then put into the
 * environment) and the request a server program sends qmail-tls
 * (starttls_scanreq).  A parsed answer must point inside the input, and
 * every variable must be a TLS* name with a printable value. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "starttls.h"

int LLVMFuzzerTestOneInput(const uint8_t *, size_t);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t n)
{
	struct starttls_reply r;
	const char *p = (const char *)data;
	size_t i, len;
	int k;

	if (starttls_parse(p, n, &r)) {
		if (n > STARTTLS_MAXREPLY || p[n - 1] != 0 || r.nvar > STARTTLS_MAXVARS)
			abort();
		if (r.ok != (p[0] == 'K') || (!r.ok && r.nvar != 0))
			abort();
		for (i = 0; i < r.nvar; i++) {
			if (r.var[i] < p || r.var[i] >= p + n)
				abort();
			len = strlen(r.var[i]);
			if (r.var[i] + len >= p + n || !starttls_varok(r.var[i], len) ||
			    strncmp(r.var[i], "TLS", 3) != 0 || strchr(r.var[i], '\n'))
				abort();
		}
	}
	k = starttls_scanreq(p, n);
	if (k == 1 && (n < 3 || p[0] != 'S' || p[n - 1] != 0 ||
	    memchr(p, 0, n - 1) != NULL || n - 2 > STARTTLS_MAXLINE))
		abort();
	if (k == 0 && n > 0 && (p[0] != 'S' || memchr(p, 0, n) != NULL))
		abort();
	return 0;
}
