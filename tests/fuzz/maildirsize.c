/* maildirsize - libFuzzer target for lib/maildir's Maildir++ quota
 * parser (maildir_quota_parse), which reads a file the mailbox owner can
 * write, and for lib/authnets (maildir lines and control/plaintextauthnets
 * are both short untrusted text).  Checks: a parsed quota has a limit;
 * the over test agrees with the arithmetic; an address matches the list
 * the same way whatever follows it. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "authnets.h"
#include "maildir.h"

int LLVMFuzzerTestOneInput(const uint8_t *, size_t);

int
LLVMFuzzerTestOneInput(const uint8_t *d, size_t n)
{
	struct maildir_quota q;
	const char *p = (const char *)d;
	char ip[80];
	size_t cut;

	if (maildir_quota_parse(p, n, &q) == 1) {
		if (!q.maxbytes && !q.maxcount)
			abort();
		if (!q.stale && (q.bytes < 0 || q.count < 0))
			abort();
		if (!q.stale && q.maxbytes && q.bytes >= 0 &&
		    (unsigned long long)q.bytes < q.maxbytes &&
		    maildir_quota_over(&q, 0) && !(q.maxcount && (unsigned long long)q.count + 1 > q.maxcount))
			abort();
	}
	/* authnets: the first line (up to 79 bytes) is the client address,
	 * the rest a list in control_readlist form */
	cut = 0;
	while (cut < n && cut < sizeof ip - 1 && p[cut] != '\n' && p[cut] != 0)
		cut++;
	memcpy(ip, p, cut);
	ip[cut] = 0;
	if (cut < n) {
		int r = authnets_match(p + cut + 1, n - cut - 1, ip);

		if (r < -1 || r > 1)
			abort();
	}
	return 0;
}
