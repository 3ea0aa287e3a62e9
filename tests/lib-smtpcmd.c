/* lib-smtpcmd - command line checks, verbs, paths and parameters,
 * with hostile input */
#include <string.h>

#include "smtpcmd.h"
#include "tap.h"

static int
check(const char *s, size_t n, int want, size_t wantlen)
{
	size_t len = 12345;
	int r = smtpcmd_check(s, n, &len);

	return r == want && (r != SMTPCMD_OK || len == wantlen);
}

static int
verb(const char *s, enum smtpverb want, const char *wantarg)
{
	size_t arg;
	enum smtpverb v = smtpcmd_verb(s, strlen(s), &arg);

	return v == want && (!wantarg || strcmp(s + arg, wantarg) == 0);
}

static int
path(const char *s, int want, const char *wantaddr, const char *wantrest, int wantroute)
{
	struct str a = STR_ZERO;
	size_t rest;
	int route, r = smtpcmd_path(s, strlen(s), &a, &rest, &route), good;

	good = r == want;
	if (good && r == SMTPPATH_OK)
		good = a.len == strlen(wantaddr) && memcmp(a.s, wantaddr, a.len) == 0 &&
		    strcmp(s + rest, wantrest) == 0 && route == wantroute;
	str_free(&a);
	return good;
}

static int
pathcat(const char *a, const char *want)
{
	struct str o = STR_ZERO;
	int good = smtpcmd_pathcat(&o, a, strlen(a)) && o.len == strlen(want) &&
	    memcmp(o.s, want, o.len) == 0;

	str_free(&o);
	return good;
}

int
main(void)
{
	char big[3000];
	size_t pos, k, kl, v, vl;
	const char *p = "SIZE=100 BODY=8BITMIME  AUTH=<> FLAG";

	ok(check("NOOP\r\n", 6, SMTPCMD_OK, 4), "CRLF line");
	ok(check("NOOP\n", 5, SMTPCMD_BARELF, 0), "bare LF at the end");
	ok(check("NOOP", 4, SMTPCMD_BARELF, 0), "no LF at all");
	ok(check("", 0, SMTPCMD_BARELF, 0), "empty input");
	ok(check("\n", 1, SMTPCMD_BARELF, 0), "lone LF");
	ok(check("\r\n", 2, SMTPCMD_OK, 0), "empty CRLF line");
	ok(check("NO\rOP\r\n", 7, SMTPCMD_BARECR, 0), "bare CR inside");
	ok(check("NOOP\r\r\n", 7, SMTPCMD_BARECR, 0), "CR CR LF");
	ok(check("NO\0OP\r\n", 7, SMTPCMD_NUL, 0), "NUL inside");

	ok(verb("MAIL FROM:<a@b>", SMTP_MAIL, "<a@b>"), "MAIL FROM:");
	ok(verb("mail from: <a@b> SIZE=1", SMTP_MAIL, "<a@b> SIZE=1"), "mail from: with a blank");
	ok(verb("MAIL <a@b>", SMTP_MAIL, ""), "MAIL without FROM: is MAIL with an empty argument");
	ok(verb("MAIL FRO", SMTP_MAIL, ""), "MAIL FRO (short): the same");
	ok(verb("RCPT FROM:<x>", SMTP_RCPT, ""), "RCPT without TO: too");
	ok(verb("RCPT TO:<a@b>", SMTP_RCPT, "<a@b>"), "RCPT TO:");
	ok(verb("DATA", SMTP_DATA, ""), "DATA");
	ok(verb("DATA:", SMTP_UNKNOWN, NULL), "DATA: is not DATA");
	ok(verb("  ehlo   x.y ", SMTP_EHLO, "x.y "), "leading blanks, lower case");
	ok(verb("EHLOx", SMTP_UNKNOWN, NULL), "EHLOx");
	ok(verb("StartTLS", SMTP_STARTTLS, ""), "STARTTLS");
	ok(verb("STARTTL", SMTP_UNKNOWN, NULL), "STARTTL");
	ok(verb("", SMTP_EMPTY, NULL), "empty");
	ok(verb("   ", SMTP_EMPTY, NULL), "blanks only");

	ok(path("<a@b.c>", SMTPPATH_OK, "a@b.c", "", 0), "plain path");
	ok(path("<>", SMTPPATH_OK, "", "", 0), "null path");
	ok(path("<a@b.c>  SIZE=10", SMTPPATH_OK, "a@b.c", "SIZE=10", 0), "parameters after");
	ok(path("a@b.c SIZE=10", SMTPPATH_OK, "a@b.c", "SIZE=10", 0), "without brackets");
	ok(path("<@x,@y:a@b.c>", SMTPPATH_OK, "a@b.c", "", 1), "source route");
	ok(path("<@x,@y>", SMTPPATH_SYNTAX, NULL, NULL, 0), "route without mailbox");
	ok(path("<\"john doe\"@b.c>", SMTPPATH_OK, "john doe@b.c", "", 0), "quoted local part");
	ok(path("<\"a\\\"b\"@c>", SMTPPATH_OK, "a\"b@c", "", 0), "escaped quote");
	ok(path("<\"a@c>", SMTPPATH_SYNTAX, NULL, NULL, 0), "unterminated quote");
	ok(path("<a@b.c", SMTPPATH_SYNTAX, NULL, NULL, 0), "missing >");
	ok(path("<a@b.c>x", SMTPPATH_SYNTAX, NULL, NULL, 0), "junk after >");
	ok(path("<a<b@c>", SMTPPATH_SYNTAX, NULL, NULL, 0), "< inside");
	ok(path("<a b@c>", SMTPPATH_CTRL, NULL, NULL, 0), "blank inside");
	ok(path("<a\x01@c>", SMTPPATH_CTRL, NULL, NULL, 0), "control character");
	ok(path("<\"a\x7f\"@c>", SMTPPATH_CTRL, NULL, NULL, 0), "DEL in quotes");
	memset(big, 'a', sizeof big);
	big[0] = '<';
	big[2000] = '>';
	big[2001] = 0;
	ok(path(big, SMTPPATH_LONG, NULL, NULL, 0), "address over SMTPADDR_MAX");

	ok(pathcat("", ""), "pathcat: the null path stays empty");
	ok(pathcat("a.b+c@d.e", "a.b+c@d.e"), "pathcat: a Dot-string as it is");
	ok(pathcat("postmaster", "postmaster"), "pathcat: no domain");
	ok(pathcat("john doe@b.c", "\"john doe\"@b.c"), "pathcat: a blank quotes the local part");
	ok(pathcat("a..b@c", "\"a..b\"@c"), "pathcat: two dots in a row");
	ok(pathcat(".a@c", "\".a\"@c"), "pathcat: a dot first");
	ok(pathcat("a.@c", "\"a.\"@c"), "pathcat: a dot last");
	ok(pathcat("@c", "\"\"@c"), "pathcat: an empty local part");
	ok(pathcat("a\"b\\c@d", "\"a\\\"b\\\\c\"@d"), "pathcat: quote and backslash escaped");
	ok(pathcat("x@y@d", "\"x@y\"@d"), "pathcat: an @ in the local part");
	ok(pathcat("j\xc3\xb6rg@d", "j\xc3\xb6rg@d"), "pathcat: UTF-8 is atext (RFC 6531)");
	ok(pathcat("a b@[1.2.3.4]", "\"a b\"@[1.2.3.4]"), "pathcat: the domain untouched");

	pos = 0;
	ok(smtpcmd_param(p, strlen(p), &pos, &k, &kl, &v, &vl) && kl == 4 && !memcmp(p + k, "SIZE", 4) &&
	    vl == 3 && !memcmp(p + v, "100", 3), "SIZE=100");
	ok(smtpcmd_param(p, strlen(p), &pos, &k, &kl, &v, &vl) && vl == 8, "BODY=8BITMIME");
	ok(smtpcmd_param(p, strlen(p), &pos, &k, &kl, &v, &vl) && vl == 2 && !memcmp(p + v, "<>", 2), "AUTH=<>");
	ok(smtpcmd_param(p, strlen(p), &pos, &k, &kl, &v, &vl) && kl == 4 && vl == 0, "FLAG without value");
	ok(!smtpcmd_param(p, strlen(p), &pos, &k, &kl, &v, &vl), "then none");
	return tap_done();
}
