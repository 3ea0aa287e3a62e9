/* dns - libFuzzer target for the DNS answer parser (lib/dnspkt) that
 * qmail-remote and qmail-smtpd run on datagrams from the network.  The
 * input is an answer; the question it must echo is taken from the input
 * itself so that the parser gets past the question check.  Names must be
 * NUL-terminated at their length, records within their bounds, and the
 * parser must end (pointer loops).  dnspkt_data, which takes every A,
 * AAAA or TXT record, must give the bytes of the records dnspkt_parse
 * gives, in no more room than the packet's length. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "dnspkt.h"

int LLVMFuzzerTestOneInput(const uint8_t *, size_t);

static void
check_name(const char *s, size_t n)
{
	size_t i;

	if (n > DNS_NAME_MAX || s[n] != 0 || strlen(s) != n)
		abort();
	for (i = 0; i < n; i++)
		if ((unsigned char)s[i] <= 0x20 || (unsigned char)s[i] >= 0x7f ||
		    (s[i] >= 'A' && s[i] <= 'Z'))
			abort();
}

static char out[65536];

/* data_check - dnspkt_data agrees with dnspkt_parse on p */
static void
data_check(const char *p, size_t n, unsigned id, const char *name, size_t len, unsigned type)
{
	struct dns_rr rr[8];
	size_t count, dcount, dlen, i, at, k, e, sl, j;
	int r, dr;

	r = dnspkt_parse(p, n, id, name, len, type, rr, 8, &count);
	dr = dnspkt_data(p, n, id, name, len, type, out, n, &dlen, &dcount);
	if (dlen > n)
		abort();
	if (dr != DNSPKT_OK) {
		/* a bad record past the 8 that dnspkt_parse looks at */
		if (dcount != 0 || dlen != 0 || (dr != r && (r != DNSPKT_OK || dr != DNSPKT_BAD)))
			abort();
		return;
	}
	if (r != DNSPKT_OK || (dcount > 8 ? count != 8 : count != dcount))
		abort();
	for (i = 0, at = 0; i < count; i++) {
		if (type != DNS_T_TXT) {
			if (memcmp(out + at, rr[i].data, rr[i].len) != 0)
				abort();
			at += rr[i].len;
			continue;
		}
		for (k = rr[i].pref, e = k + rr[i].len; k < e; k += 1 + sl) {
			sl = (unsigned char)p[k];
			if (at + sl > dlen)
				abort();
			for (j = 0; j < sl; j++)
				if (out[at + j] != (p[k + 1 + j] ? p[k + 1 + j] : ' '))
					abort();
			at += sl;
		}
		if (at >= dlen || out[at++] != 0)
			abort();
	}
	if (dcount == count && at != dlen)
		abort();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t n)
{
	static const unsigned types[] = { DNS_T_A, DNS_T_AAAA, DNS_T_MX, DNS_T_CNAME, DNS_T_TXT };
	const char *p = (const char *)data;
	char name[DNS_NAME_MAX + 1], q[DNS_NAME_MAX + 32];
	struct dns_rr rr[8];
	size_t len, next, count, i, t, pos;
	unsigned id;
	int r;

	/* every offset as the start of a name */
	for (pos = 0; pos < n && pos < 512; pos++)
		if (dnspkt_getname(p, n, pos, name, &len, &next)) {
			check_name(name, len);
			if (next <= pos || next > n)
				abort();
		}
	id = n >= 2 ? ((unsigned)data[0] << 8 | data[1]) : 0;
	if (n < 12 || !dnspkt_getname(p, n, 12, name, &len, &next))
		len = 0, name[0] = 0;
	for (t = 0; t < sizeof types / sizeof types[0]; t++) {
		r = dnspkt_parse(p, n, id, name, len, types[t], rr, 8, &count);
		if (r < DNSPKT_OK || r > DNSPKT_NOTOURS || count > 8)
			abort();
		if (r != DNSPKT_OK && count != 0)
			abort();
		for (i = 0; i < count; i++) {
			if (rr[i].type != types[t])
				abort();
			if (types[t] == DNS_T_A && rr[i].len != 4)
				abort();
			if (types[t] == DNS_T_AAAA && rr[i].len != 16)
				abort();
			if (types[t] == DNS_T_MX || types[t] == DNS_T_CNAME)
				check_name(rr[i].data, rr[i].len);
			/* TXT: the data lies in the packet, its strings fill it */
			if (types[t] == DNS_T_TXT) {
				size_t at = rr[i].pref, end = at + rr[i].len;
				if (rr[i].len == 0 || end > n)
					abort();
				while (at < end)
					at += 1 + (unsigned char)p[at];
				if (at != end)
					abort();
			}
		}
	}
	/* dnspkt_data: every record dnspkt_parse would give, the same
	 * bytes, in room for the packet */
	for (t = 0; t < sizeof types / sizeof types[0]; t++)
		if (types[t] != DNS_T_MX && types[t] != DNS_T_CNAME)
			data_check(p, n, id, name, len, types[t]);
	/* the query builder on arbitrary names */
	if (n <= DNS_NAME_MAX + 8) {
		len = dnspkt_query(q, sizeof q, p, n, DNS_T_MX, id);
		if (len > sizeof q)
			abort();
		if (len > 0 && (dnspkt_getname(q, len, 12, name, &i, &next) != 1 ||
		    next + 4 != len))
			abort();
	}
	return 0;
}
