/* spf - libFuzzer target for lib/spf's record parser and macro
 * expansion (no DNS: spf_check is not called).  Checks: the terms lie
 * inside the record in order, prefix lengths are in range, at most one
 * redirect= and exp=; expansion of each domain-spec never fails on a
 * term the parser accepted (an unknown modifier's value is no
 * domain-spec and is never expanded), and never meets the letters c, r
 * and t, which only explanation text may hold. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "spf.h"
#include "str.h"

int LLVMFuzzerTestOneInput(const uint8_t *, size_t);

static struct spf_term t[SPF_TERMS_MAX];

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *p = (const char *)data;
	struct spf_req req;
	struct str out = STR_ZERO;
	size_t n, i, k, end, end2, redirect = 0, exp = 0;

	memset(&req, 0, sizeof req);
	req.family = size % 2 ? AF_INET6 : AF_INET;
	memcpy(req.ip, "\x20\x01\x0d\xb8\0\0\0\0\0\0\0\0\0\0\0\x01", 16);
	req.local = "Joe+x";
	req.locallen = 5;
	req.domain = "example.org";
	req.domainlen = 11;
	req.helo = "mx.example.org";
	req.helolen = 14;
	if (!spf_parse(p, size, t, SPF_TERMS_MAX, &n))
		return 0;
	if (n > SPF_TERMS_MAX)
		abort();
	for (i = 0, end = 6; i < n; i++) {
		if (t[i].term < end || t[i].term + t[i].termlen > size || t[i].termlen == 0)
			abort();
		end = t[i].term + t[i].termlen;
		if (t[i].arglen && (t[i].arg < t[i].term || t[i].arg + t[i].arglen > end))
			abort();
		if (t[i].cidr4 > 32 || t[i].cidr6 > 128)
			abort();
		if (t[i].kind == SPF_REDIRECT)
			redirect++;
		if (t[i].kind == SPF_EXP)
			exp++;
		if (t[i].arglen && t[i].kind != SPF_IP4 && t[i].kind != SPF_IP6 &&
		    t[i].kind != SPF_UNKNOWNMOD) {
			end2 = t[i].arg + t[i].arglen;
			for (k = t[i].arg; k + 2 < end2; k++)
				if (p[k] == '%' && p[++k] == '{' && p[k + 1] &&
				    strchr("crtCRT", p[k + 1]))
					abort();
			out.len = 0;
			if (!spf_expand(&req, "example.org", 11, p + t[i].arg, t[i].arglen, &out))
				abort();
		}
	}
	if (redirect > 1 || exp > 1)
		abort();
	str_free(&out);
	return 0;
}
