/* smtpd-data - libFuzzer target for qmail-smtpd's DATA state machine.
 * The first byte picks chunk sizes; the rest is what the client sends
 * after 354.  Fed whole and fed in chunks, the machine must take the
 * same bytes, give the same message and the same flags; the message is
 * never longer than the input, ends only after CRLF.CRLF, and holds
 * no CR when nothing was flagged. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "smtpdata.h"

int LLVMFuzzerTestOneInput(const uint8_t *, size_t);

static size_t
run(const char *in, size_t n, size_t chunk, char *out, size_t *outlen, struct smtpdata *d)
{
	size_t i = 0, o = 0, c, took, ol;

	smtpdata_init(d, 1000);
	while (i < n && !d->done) {
		c = chunk && chunk < n - i ? chunk : n - i;
		took = smtpdata_feed(d, in + i, c, out + o, &ol);
		if (took > c || ol > c + 1)
			abort();
		if (took < c && !d->done)
			abort();	/* only the end marker stops it early */
		i += took;
		o += ol;
	}
	*outlen = o;
	return i;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t n)
{
	struct smtpdata a, b;
	char *oa, *ob;
	size_t la, lb, ta, tb, chunk;

	if (n < 1)
		return 0;
	chunk = data[0] % 7 + 1;
	data++;
	n--;
	if ((oa = malloc(n + 2)) == NULL || (ob = malloc(n + 8)) == NULL)
		abort();
	ta = run((const char *)data, n, 0, oa, &la, &a);
	tb = run((const char *)data, n, chunk, ob, &lb, &b);
	if (ta != tb || la != lb || memcmp(oa, ob, la) != 0 || a.flags != b.flags || a.done != b.done)
		abort();
	if (la > n)
		abort();
	if (a.done && (ta < 3 || memcmp(data + ta - 3, ".\r\n", 3) != 0 ||
	    (ta > 3 && (ta < 5 || memcmp(data + ta - 5, "\r\n", 2) != 0))))
		abort();
	if (!(a.flags & (SMTPDATA_BARECR)) && memchr(oa, '\r', la))
		abort();
	free(oa);
	free(ob);
	return 0;
}
