/* authnets.c - control/plaintextauthnets (see authnets.h) */
#include <arpa/inet.h>
#include <errno.h>
#include <string.h>

#include "authnets.h"
#include "control.h"
#include "env.h"
#include "str.h"

#define ADDR_MAX 64		/* longest address text we parse */

/* addr16 - s[0..n) as 16 bytes, IPv4 as ::ffff:a.b.c.d; *v4 says
 * which form was written.  1 or 0 (not an address). */
static int
addr16(const char *s, size_t n, unsigned char a[16], int *v4)
{
	char b[ADDR_MAX];
	size_t pct;

	pct = str_chrb(s, n, '%');	/* fe80::1%eth0: the zone does not matter */
	if (pct < n)
		n = pct;
	if (n == 0 || n >= sizeof b)
		return 0;
	memcpy(b, s, n);
	b[n] = 0;
	if (str_chrb(b, n, ':') == n) {
		memset(a, 0, 10);
		a[10] = a[11] = 0xff;
		*v4 = 1;
		return inet_pton(AF_INET, b, a + 12) == 1;
	}
	*v4 = 0;
	return inet_pton(AF_INET6, b, a) == 1;
}

/* net - one line "ADDRESS[/BITS]" as an address and a prefix length
 * over 128 bits; 1 or 0 (malformed) */
static int
net(const char *s, size_t n, unsigned char a[16], unsigned *bits)
{
	size_t sl = str_chrb(s, n, '/'), i;
	unsigned long b = 0;
	int v4;

	if (!addr16(s, sl, a, &v4))
		return 0;
	if (sl == n) {
		*bits = 128;
		return 1;
	}
	if (sl + 1 == n || n - sl - 1 > 3)
		return 0;
	for (i = sl + 1; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return 0;
		b = b * 10 + (unsigned long)(s[i] - '0');
	}
	if (b > (v4 ? 32UL : 128UL))
		return 0;
	*bits = (unsigned)b + (v4 ? 96 : 0);
	return 1;
}

static int
within(const unsigned char ip[16], const unsigned char nw[16], unsigned bits)
{
	unsigned full = bits / 8, rest = bits % 8;
	unsigned char mask;

	if (memcmp(ip, nw, full) != 0)
		return 0;
	if (rest == 0)
		return 1;
	mask = (unsigned char)(0xff << (8 - rest));
	return (ip[full] & mask) == (nw[full] & mask);
}

int
authnets_match(const char *list, size_t len, const char *ip)
{
	unsigned char a[16], nw[16];
	unsigned bits;
	size_t i, e;
	int v4, found = 0;

	if (!ip || !addr16(ip, strlen(ip), a, &v4))
		return 0;
	for (i = 0; i < len; i = e + 1) {
		e = i + str_chrb(list + i, len - i, 0);
		if (e > i && !net(list + i, e - i, nw, &bits)) {
			errno = EINVAL;
			return -1;
		}
		if (e > i && within(a, nw, bits))
			found = 1;
	}
	return found;
}

int
authnets_plainok(void)
{
	static const char loopback[] = "127.0.0.0/8\0::1\0";
	struct str l = STR_ZERO;
	const char *ip = env_get("TCPREMOTEIP");
	int r;

	switch (control_readlist(AUTHNETS_FILE, &l)) {
	case -1:
		str_free(&l);
		return -1;
	case 0:
		return authnets_match(loopback, sizeof loopback - 1, ip);
	}
	r = authnets_match(l.s, l.len, ip);
	str_free(&l);
	return r;
}

int
authnets_relay6(void)
{
	struct str l = STR_ZERO, v6 = STR_ZERO;
	const char *ip = env_get("TCPREMOTEIP");
	size_t i, n;
	int r;

	if (!ip || !strchr(ip, ':'))
		return 0;
	if ((r = control_readlist(RELAYNETS_FILE, &l)) != 1)
		return r;
	for (i = 0; i < l.len; i += n + 1) {
		n = strlen(l.s + i);
		if (str_chrb(l.s + i, n, ':') < n && !str_catb(&v6, l.s + i, n + 1)) {
			r = -1;
			break;
		}
	}
	if (r != -1)
		r = authnets_match(v6.s, v6.len, ip);
	str_free(&l);
	str_free(&v6);
	return r;
}
