/* qfile - libFuzzer target for the parsers of qmail-send's queue files
 * (lib/qfile: info/, local/ and remote/ records, bounce/ records) and
 * for the bounce builder that turns those records and a message header
 * into an RFC 3464 report (lib/dsn).  Checks: every field returned lies
 * inside the input, recipient offsets point at their T or D, a bounce
 * report has only printable ASCII in its status part, and every line of
 * the report's own parts stays under 1000 bytes. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "dsn.h"
#include "qfile.h"
#include "str.h"

int LLVMFuzzerTestOneInput(const uint8_t *, size_t);

static void
inside(const char *base, size_t n, const char *p, size_t len)
{
	if (len > n || p < base || p + len > base + n)
		abort();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *p = (const char *)data;
	struct qbounce recs[64];
	struct qbounce b;
	struct qinfo qi;
	struct str out = STR_ZERO;
	struct dsn d;
	size_t pos = 0, off, al, nrec = 0, i, line;
	const char *a, *ds, *de;
	char status[16];
	int done, r;

	if (qfile_info(p, size, &qi)) {
		inside(p, size, qi.sender, qi.senderlen);
		if (qi.senderlen > QFILE_ADDRMAX)
			abort();
	}
	while ((r = qfile_rcpt(p, size, &pos, &off, &done, &a, &al)) == 1) {
		inside(p, size, a, al);
		if (off >= size || (p[off] != 'T' && p[off] != 'D') || a != p + off + 1)
			abort();
		if ((p[off] == 'D') != done || al > QFILE_ADDRMAX || a[al] != 0)
			abort();
	}
	for (pos = 0; nrec < 64 && (r = qfile_bounce(p, size, &pos, &b)) == 1; nrec++) {
		inside(p, size, b.rcpt, b.rcptlen);
		inside(p, size, b.text, b.textlen);
		inside(p, size, b.mta, b.mtalen);
		if (!qfile_status_ok(b.status, b.statuslen))
			abort();
		recs[nrec] = b;
	}
	dsn_status(p, size, size & 1, status);
	if (!qfile_status_ok(status, strlen(status)))
		abort();
	memset(&d, 0, sizeof d);
	d.me = "me.test";
	d.from = "MAILER-DAEMON@me.test";
	d.to = "sender@x.test";
	d.sender = "sender@x.test";
	d.now = 1000000000;
	d.arrival = 999999000;
	d.id = 42;
	d.seq = 1;
	d.dbl = (int)(size & 2);
	if (!dsn_build(&out, &d, recs, nrec, p, size))
		abort();
	/* everything before the quoted header is ours: bounded, printable */
	de = out.s + out.len;
	ds = NULL;
	/* the quoted header's part: text/rfc822-headers, or with 8-bit
	 * bytes message/global-headers (RFC 6533) */
	for (i = 0; i + 37 <= out.len; i++)
		if (memcmp(out.s + i, "Content-Type: text/rfc822-headers\n\n", 35) == 0 ||
		    (i + 38 <= out.len && memcmp(out.s + i, "Content-Type: message/global-headers\n\n", 38) == 0)) {
			ds = out.s + i;
			break;
		}
	if (ds == NULL)
		abort();
	for (a = out.s, line = 0; a < ds; a++) {
		if (*a == '\n') {
			line = 0;
			continue;
		}
		if ((unsigned char)*a < 0x20 && *a != '\t')
			abort();
		if ((unsigned char)*a > 0x7e || ++line > 998)
			abort();
	}
	(void)de;
	str_free(&out);
	return 0;
}
