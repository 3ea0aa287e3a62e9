/* qpenc - libFuzzer target for the MIME walker and the quoted-printable
 * encoder (lib/qpenc) that qmail-remote runs on messages from anyone.
 * The input is a message: both passes of the walker run over its lines;
 * every piece to encode is encoded, the output must be 7-bit with lines
 * of at most 76 characters, and must decode back to the piece. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "qpenc.h"

int LLVMFuzzerTestOneInput(const uint8_t *, size_t);

static int
hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

static void
check(const char *p, size_t n, int last)
{
	struct str o = STR_ZERO;
	size_t col = 0, i, k = 0, linelen = 0;
	int h, l;

	if (!qpenc_piece(&o, p, n, &col, last))
		abort();
	for (i = 0; i < o.len; i++) {
		if ((unsigned char)o.s[i] >= 0x80)
			abort();
		if (o.s[i] == '\n') {
			if (i == 0 || o.s[i - 1] != '=' || linelen > QPENC_LINE)
				abort();
			linelen = 0;
			continue;
		}
		linelen++;
	}
	if (linelen > QPENC_LINE)
		abort();
	/* decode: "=\n" soft break, "=XX" a byte, else the byte */
	for (i = 0; i < o.len; i++) {
		if (o.s[i] != '=') {
			if (k >= n || p[k++] != o.s[i])
				abort();
			continue;
		}
		if (i + 1 < o.len && o.s[i + 1] == '\n') {
			i++;
			continue;
		}
		if (i + 2 >= o.len)
			abort();
		h = hexval(o.s[i + 1]);
		l = hexval(o.s[i + 2]);
		if (h < 0 || l < 0 || k >= n || (unsigned char)p[k++] != (unsigned)(h * 16 + l))
			abort();
		i += 2;
	}
	if (k != n)
		abort();
	if (last && o.len > 0 && (o.s[o.len - 1] == ' ' || o.s[o.len - 1] == '\t'))
		abort();
	str_free(&o);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t n)
{
	const char *p = (const char *)data;
	static struct qpmime m;
	size_t i, e, pass;
	unsigned add;
	int act, bol;

	qpmime_init(&m);
	for (pass = 0; pass < 2; pass++) {
		if (pass == 1)
			qpmime_rewind(&m, (int)(n & 1));
		bol = 1;
		for (i = 0; i < n; i = e + 1) {
			/* pieces of at most 64 bytes, so long lines come in parts */
			for (e = i; e < n && e - i < 64 && p[e] != '\n'; e++)
				;
			act = qpmime_piece(&m, p + i, e - i, bol, &add);
			if (act < QPMIME_COPY || act > QPMIME_ENCODE || add > 7)
				abort();
			if (pass == 0 && (act != QPMIME_COPY || add != 0))
				abort();
			if (m.depth > QPMIME_DEPTH || m.form < QPMIME_TEXT || m.form > QPMIME_BASE64)
				abort();
			if (act == QPMIME_ENCODE)
				check(p + i, e - i, e < n && p[e] == '\n');
			bol = e < n && p[e] == '\n';
			if (!bol)
				e--;	/* a piece boundary, not a separator */
		}
	}
	return 0;
}
