/* authres - libFuzzer target for lib/authres: the authserv-id reader
 * and the header filter qmail-smtpd runs on every message.  The first
 * byte picks a chunk size, the second a cut for authres_ours' partial
 * mode; the rest is the message after DATA (LF line ends).  With the
 * first byte's high bit set, about AUTHRES_HOLD bytes of one filler
 * byte go in after the first colon, so that fields longer than what is
 * held are tried as well (libFuzzer's inputs are shorter).  The filter
 * fed whole and in chunks must give the same bytes; with no field
 * removed they are the input; what it keeps of a short message is what
 * a plain field-by-field reading keeps; and a part of a field never
 * tells authres_ours anything the whole field contradicts. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "authres.h"
#include "str.h"

#define ME "lanmail.test"

int LLVMFuzzerTestOneInput(const uint8_t *, size_t);

struct sink {
	char *s;
	size_t len, cap;
};

static int
put(void *ctx, const char *p, size_t n)
{
	struct sink *k = ctx;

	if (n == 0 || k->len + n > k->cap)
		abort();
	memcpy(k->s + k->len, p, n);
	k->len += n;
	return 1;
}

static unsigned long
run(const char *in, size_t n, size_t chunk, struct sink *k)
{
	static struct authres_strip s;
	size_t i = 0, c;

	authres_strip_init(&s, ME, sizeof ME - 1);
	while (i < n) {
		c = chunk && chunk < n - i ? chunk : n - i;
		if (!authres_strip_feed(&s, in + i, c, put, k))
			abort();
		i += c;
	}
	if (!authres_strip_end(&s, put, k))
		abort();
	return s.removed;
}

/* reference - the header read field by field, whole: a field goes when
 * its first line is the name, blanks, a colon, and it names ME */
static void
reference(const char *in, size_t n, struct sink *k)
{
	size_t pos = 0, e, colon, name, nl;

	while (pos < n && in[pos] != '\n') {
		for (e = pos;;) {
			nl = str_chrb(in + e, n - e, '\n');
			e = nl < n - e ? e + nl + 1 : n;
			if (e >= n || (in[e] != ' ' && in[e] != '\t'))
				break;
		}
		nl = str_chrb(in + pos, e - pos, '\n');
		colon = str_chrb(in + pos, nl, ':');
		name = colon;
		while (name > 0 && (in[pos + name - 1] == ' ' || in[pos + name - 1] == '\t'))
			name--;
		if (!(colon < nl && name == 22 && str_caseeqb(in + pos, "authentication-results", 22) &&
		    authres_ours(in + pos, e - pos, ME, sizeof ME - 1, 0) == 1))
			put(k, in + pos, e - pos);
		pos = e;
	}
	if (pos < n)
		put(k, in + pos, n - pos);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t n)
{
	static const char filler[] = " \t(x\\\"";
	struct sink a, b, r;
	char *big = NULL;
	const char *in;
	size_t chunk, cut, pad, at;
	unsigned long ra, rb;
	int whole, part;

	if (n < 2)
		return 0;
	chunk = data[0] % 9;
	cut = (size_t)data[1] * 41;
	in = (const char *)data + 2;
	n -= 2;
	if (data[0] & 0x80) {
		pad = AUTHRES_HOLD - 48 + data[1] % 64;
		at = str_chrb(in, n, ':');
		at = at < n ? at + 1 : 0;
		if ((big = malloc(n + pad)) == NULL)
			abort();
		memcpy(big, in, at);
		memset(big + at, filler[data[1] % (sizeof filler - 1)], pad);
		memcpy(big + at + pad, in + at, n - at);
		in = big;
		n += pad;
	}
	a.len = b.len = r.len = 0;
	a.cap = b.cap = r.cap = n;
	if ((a.s = malloc(n + 1)) == NULL || (b.s = malloc(n + 1)) == NULL || (r.s = malloc(n + 1)) == NULL)
		abort();

	ra = run(in, n, 0, &a);
	rb = run(in, n, chunk, &b);
	if (ra != rb || a.len != b.len || memcmp(a.s, b.s, a.len) != 0)
		abort();
	if (ra == 0 && (a.len != n || memcmp(a.s, in, n) != 0))
		abort();
	if (ra > 0 && a.len >= n)
		abort();
	/* below the bytes held no field is judged on a part of it */
	if (n < AUTHRES_HOLD) {
		reference(in, n, &r);
		if (r.len != a.len || memcmp(r.s, a.s, a.len) != 0)
			abort();
	}

	/* the whole input as one field, and a part of it */
	whole = authres_ours(in, n, ME, sizeof ME - 1, 0);
	if (whole != 0 && whole != 1)
		abort();
	if (cut > n)
		cut = n;
	part = authres_ours(in, cut, ME, sizeof ME - 1, 1);
	if (part != -1 && part != whole)
		abort();

	free(a.s);
	free(b.s);
	free(r.s);
	free(big);
	return 0;
}
