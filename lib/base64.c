/* base64.c - strict RFC 4648 base64; see base64.h */
#include <errno.h>

#include "base64.h"

static const char alphabet[64] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/* value - the 6-bit value of an alphabet letter, -1 for anything else */
static int
value(unsigned char c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '+')
		return 62;
	if (c == '/')
		return 63;
	return -1;
}

int
base64_decode(const char *in, size_t n, struct str *out)
{
	size_t i, pad = 0;
	int v[4], k;
	char b[3];

	out->len = 0;
	if (n % 4 != 0)
		return errno = EINVAL, 0;
	if (n >= 1 && in[n - 1] == '=') {
		pad++;
		if (in[n - 2] == '=')	/* n is a multiple of 4, so n >= 4 */
			pad++;
	}
	if (!str_readyplus(out, n / 4 * 3))
		return 0;
	for (i = 0; i < n; i += 4) {
		int last = i + 4 == n;

		for (k = 0; k < 4; k++) {
			if (last && k >= 4 - (int)pad) {
				v[k] = 0;
				continue;
			}
			if ((v[k] = value((unsigned char)in[i + (size_t)k])) < 0)
				goto bad;
		}
		b[0] = (char)((v[0] << 2) | (v[1] >> 4));
		b[1] = (char)(((v[1] & 15) << 4) | (v[2] >> 2));
		b[2] = (char)(((v[2] & 3) << 6) | v[3]);
		if (last && pad == 2 && (v[1] & 15) != 0)
			goto bad;
		if (last && pad == 1 && (v[2] & 3) != 0)
			goto bad;
		if (!str_catb(out, b, 3 - (last ? pad : 0)))
			goto fail;
	}
	return 1;
bad:
	errno = EINVAL;
fail:
	out->len = 0;
	return 0;
}

int
base64_encode(const char *in, size_t n, struct str *out)
{
	size_t i, groups, need;
	const unsigned char *p = (const unsigned char *)in;
	char b[4];

	out->len = 0;
	groups = n / 3 + (n % 3 != 0);
	if (__builtin_mul_overflow(groups, 4, &need))
		return errno = EOVERFLOW, 0;
	if (!str_readyplus(out, need))
		return 0;
	for (i = 0; i + 3 <= n; i += 3) {
		b[0] = alphabet[p[i] >> 2];
		b[1] = alphabet[((p[i] & 3) << 4) | (p[i + 1] >> 4)];
		b[2] = alphabet[((p[i + 1] & 15) << 2) | (p[i + 2] >> 6)];
		b[3] = alphabet[p[i + 2] & 63];
		(void)str_catb(out, b, 4);	/* room reserved above */
	}
	if (n - i == 1) {
		b[0] = alphabet[p[i] >> 2];
		b[1] = alphabet[(p[i] & 3) << 4];
		b[2] = b[3] = '=';
		(void)str_catb(out, b, 4);
	} else if (n - i == 2) {
		b[0] = alphabet[p[i] >> 2];
		b[1] = alphabet[((p[i] & 3) << 4) | (p[i + 1] >> 4)];
		b[2] = alphabet[(p[i + 1] & 15) << 2];
		b[3] = '=';
		(void)str_catb(out, b, 4);
	}
	return 1;
}
