/* smtpd-cmd - libFuzzer target for qmail-smtpd's command parsing:
 * smtpcmd_check, smtpcmd_verb, smtpcmd_path and smtpcmd_param on one
 * client line.  Offsets returned must stay inside the line, addresses
 * within SMTPADDR_MAX, and the parameter walk must end. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "smtpcmd.h"

int LLVMFuzzerTestOneInput(const uint8_t *, size_t);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t n)
{
	const char *s = (const char *)data;
	struct str addr = STR_ZERO;
	size_t len, arg, rest, pos, k, kl, v, vl, steps = 0;
	enum smtpverb verb;
	int route, r;

	r = smtpcmd_check(s, n, &len);
	if (r != SMTPCMD_OK) {
		/* still parse the raw bytes: the parsers must not rely on the check */
		len = n;
	} else if (len + 2 != n || memchr(s, '\n', len) || memchr(s, '\r', len) || memchr(s, 0, len)) {
		abort();
	}
	verb = smtpcmd_verb(s, len, &arg);
	if (arg > len)
		abort();
	if (verb == SMTP_MAIL || verb == SMTP_RCPT || verb == SMTP_UNKNOWN) {
		r = smtpcmd_path(s + arg, len - arg, &addr, &rest, &route);
		if (rest > len - arg || addr.len > SMTPADDR_MAX)
			abort();
		if (r == SMTPPATH_OK) {
			for (pos = rest; smtpcmd_param(s + arg, len - arg, &pos, &k, &kl, &v, &vl);) {
				if (pos > len - arg || k + kl > len - arg || v + vl > len - arg || ++steps > len)
					abort();
			}
		}
	}
	str_free(&addr);
	return 0;
}
