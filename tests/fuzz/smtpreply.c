/* smtpreply - libFuzzer target for the SMTP reply parser (lib/smtpreply)
 * that qmail-remote runs on what a remote server sends.  The input is
 * cut into lines at LF and fed in order; the kept text stays bounded and
 * free of control bytes other than the line separator, and codes stay
 * in range. */
#include <stdint.h>
#include <stdlib.h>

#include "smtpreply.h"

int LLVMFuzzerTestOneInput(const uint8_t *, size_t);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t n)
{
	const char *p = (const char *)data;
	struct smtpreply r = SMTPREPLY_ZERO;
	size_t i = 0, e, k;
	int res;

	while (i < n) {
		for (e = i; e < n && p[e] != '\n'; e++)
			;
		if (e < n)
			e++;
		res = smtpreply_line(&r, p + i, e - i);
		if (res < -1 || res > 1)
			abort();
		if (res != -1 && (r.code < 200 || r.code > 559 || r.lines == 0 ||
		    r.lines > SMTPREPLY_LINES_MAX))
			abort();
		if (r.text.len > SMTPREPLY_TEXT_MAX)
			abort();
		for (k = 0; k < r.text.len; k++)
			if (((unsigned char)r.text.s[k] < 0x20 && r.text.s[k] != '\n') ||
			    r.text.s[k] == 0x7f)
				abort();
		if (res != 0)
			smtpreply_start(&r);
		i = e;
	}
	smtpreply_free(&r);
	return 0;
}
