/* lib-smtpdata - the DATA state machine: end marker, unstuffing, CRLF
 * to LF, bare CR and LF, long lines, every smuggling pattern, and every
 * way of cutting the input into chunks */
#include <stdio.h>
#include <string.h>

#include "smtpdata.h"
#include "tap.h"

/* feed - the whole input in chunks of size c (0: at once) */
static int
feed(const char *in, size_t n, size_t c, char *out, size_t *ol, size_t *taken, int *flags, int *done)
{
	struct smtpdata d;
	size_t i = 0, o = 0, k, t, l;

	smtpdata_init(&d, 1000);
	while (i < n && !d.done) {
		k = c && c < n - i ? c : n - i;
		t = smtpdata_feed(&d, in + i, k, out + o, &l);
		i += t;
		o += l;
	}
	*ol = o;
	*taken = i;
	*flags = d.flags;
	*done = d.done;
	return 1;
}

static int
msg(const char *in, const char *want, int wantflags, int wantdone, size_t wantrest)
{
	char out[4096];
	size_t n = strlen(in), ol, taken, c;
	int flags, done;

	for (c = 0; c <= 5; c++) {
		feed(in, n, c, out, &ol, &taken, &flags, &done);
		if (flags != wantflags || done != wantdone || n - taken != wantrest)
			return 0;
		if (want && (ol != strlen(want) || memcmp(out, want, ol) != 0))
			return 0;
	}
	return 1;
}

/* flagged_open - never done, flagged, however it is cut */
static int
flagged_open(const char *in)
{
	char out[4096];
	size_t ol, taken, c;
	int flags, done;

	for (c = 0; c <= 5; c++) {
		feed(in, strlen(in), c, out, &ol, &taken, &flags, &done);
		if (done || !flags || taken != strlen(in))
			return 0;
	}
	return 1;
}

/* flagged_end - done exactly at the end, flagged */
static int
flagged_end(const char *in)
{
	char out[4096];
	size_t ol, taken, c;
	int flags, done;

	for (c = 0; c <= 5; c++) {
		feed(in, strlen(in), c, out, &ol, &taken, &flags, &done);
		if (!done || !flags || taken != strlen(in))
			return 0;
	}
	return 1;
}

int
main(void)
{
	static const char *smuggle[] = {
		"\n.\n", "\n.\r\n", "\r.\r", "\r\n.\n", "\r.\r\n", "\r\n.\r", "\n.\r", "\r\n.\r\r\n", "\r\n.\rX"
	};
	char line[1100], buf[2000];
	size_t i;

	ok(msg(".\r\n", "", 0, 1, 0), "empty message");
	ok(msg("a\r\nb\r\n.\r\n", "a\nb\n", 0, 1, 0), "CRLF to LF");
	ok(msg("a\r\n.\r\nMAIL FROM:<x>\r\n", "a\n", 0, 1, 15), "stops right after the marker");
	ok(msg("..\r\n.a\r\n...\r\n.\r\n", ".\na\n..\n", 0, 1, 0), "dots unstuffed");
	ok(msg("a\r\n", "a\n", 0, 0, 0), "no end yet");
	ok(msg("a\r\n.", "a\n", 0, 0, 0), "cut after the dot");
	ok(msg("a\r\n.\r", "a\n", 0, 0, 0), "cut after dot CR");
	ok(msg("\x80\xff\x01\r\n.\r\n", "\x80\xff\x01\n", 0, 1, 0), "8-bit bytes unchanged");
	ok(msg("a\nb\r\n.\r\n", NULL, SMTPDATA_BARELF, 1, 0), "bare LF flagged");
	ok(msg("a\rb\r\n.\r\n", NULL, SMTPDATA_BARECR, 1, 0), "bare CR flagged");
	ok(msg("a\r\r\n.\r\n", NULL, SMTPDATA_BARECR, 1, 0), "CR CR LF flagged");
	for (i = 0; i < sizeof smuggle / sizeof smuggle[0]; i++) {
		int l = snprintf(buf, sizeof buf, "body%sMAIL FROM:<e@x>\r\n", smuggle[i]);

		ok(l > 0 && (size_t)l < sizeof buf && flagged_open(buf),
		    "smuggling pattern %zu does not end the message, and is flagged", i);
		l = snprintf(buf, sizeof buf, "body%sMAIL FROM:<e@x>\r\n.\r\n", smuggle[i]);
		ok(l > 0 && (size_t)l < sizeof buf && flagged_end(buf),
		    "smuggling pattern %zu: one message ending at the real CRLF.CRLF", i);
	}
	memset(line, 'x', sizeof line);
	memcpy(line + 998, "\r\n.\r\n", 6);
	line[1004] = 0;
	ok(msg(line, NULL, 0, 1, 0), "998 octets and CRLF: fine");
	memset(line, 'x', sizeof line);
	memcpy(line + 999, "\r\n.\r\n", 6);
	line[1005] = 0;
	ok(msg(line, NULL, SMTPDATA_LONGLINE, 1, 0), "999 octets and CRLF: too long");
	/* RFC 5321 4.5.3.1.6: a stuffing dot does not count */
	memset(line, 'x', sizeof line);
	line[0] = '.';
	memcpy(line + 999, "\r\n.\r\n", 6);
	line[1005] = 0;
	ok(msg(line, NULL, 0, 1, 0), "a dot and 998 octets and CRLF: fine");
	memset(line, 'x', sizeof line);
	line[0] = '.';
	memcpy(line + 1000, "\r\n.\r\n", 6);
	line[1006] = 0;
	ok(msg(line, NULL, SMTPDATA_LONGLINE, 1, 0), "a dot and 999 octets and CRLF: too long");
	return tap_done();
}
