/* lib-dotqmail - the .qmail and .forward parsers on ordinary and hostile text */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "dotqmail.h"
#include "tap.h"

/* render - every instruction as "T:arg|" (T = P F M D), or "ERR@line" */
static const char *
render(const char *p, size_t n, int forward)
{
	static char out[1024];
	struct dotqmail d;
	struct dotqmail_inst in;
	size_t o = 0;
	int r;

	dotqmail_init(&d, p, n);
	out[0] = 0;
	while ((r = forward ? dotforward_next(&d, &in) : dotqmail_next(&d, &in)) == 1) {
		o += (size_t)snprintf(out + o, sizeof out - o, "%c:%.*s|",
		    "?PFMD"[in.type], (int)in.len, in.arg);
		if (o >= sizeof out)
			return "overflow";
	}
	if (r == -1)
		snprintf(out + o, sizeof out - o, "ERR@%lu", d.lineno);
	return out;
}

#define Q(s) render(s, sizeof s - 1, 0)
#define F(s) render(s, sizeof s - 1, 1)

int
main(void)
{
	ok(!strcmp(Q(""), ""), "empty file: nothing");
	ok(!strcmp(Q("# only a comment\n"), ""), "comment only");
	ok(!strcmp(Q("./Maildir/\n"), "D:./Maildir/|"), "maildir");
	ok(!strcmp(Q("/var/mail/joe"), "M:/var/mail/joe|"), "mbox, no final newline");
	ok(!strcmp(Q("./mbox \t\n"), "M:./mbox|"), "trailing blanks dropped");
	ok(!strcmp(Q("|prog a b\n"), "P:prog a b|"), "program");
	ok(!strcmp(Q("&x@y\nz@w\n"), "F:x@y|F:z@w|"), "forwards with and without &");
	ok(!strcmp(Q("# c\n\n./a/\n\n\n|b\n"), "D:./a/|P:b|"), "comment first, then blank lines skipped");
	ok(!strcmp(Q("\n./a/\n"), "ERR@1"), "blank first line");
	ok(!strcmp(Q(" \t\n./a/\n"), "ERR@1"), "blanks-only first line");
	ok(!strcmp(Q("./a/\n|\n"), "D:./a/|ERR@2"), "lone bar");
	ok(!strcmp(Q("./a/\n&  \n"), "D:./a/|ERR@2"), "lone ampersand after trimming");
	ok(!strcmp(Q("./a/\n./b\0c\n"), "D:./a/|ERR@2"), "NUL byte");
	ok(!strcmp(Q("./a/\r\n"), "D:./a/|"), "a file saved with CRLF: the CR is a trailing blank");
	ok(!strcmp(Q("&x@y \r\n|prog a\r\n"), "F:x@y|P:prog a|"), "CRLF: forward and program lines");
	ok(!strcmp(Q("/\n"), "D:/|"), "a lone slash is a Maildir path");

	ok(!strcmp(F("a@b, c@d\te@f\n"), "F:a@b|F:c@d|F:e@f|"), ".forward: separators");
	ok(!strcmp(F("# x\n|prog arg  \n"), "P:prog arg|"), ".forward: program to end of line");
	ok(!strcmp(F("\"|prog a, b\", x@y\n"), "P:prog a, b|F:x@y|"), ".forward: quoted program");
	ok(!strcmp(F("/var/mail/joe /home/joe/Maildir/\n"), "M:/var/mail/joe|D:/home/joe/Maildir/|"), ".forward: files");
	ok(!strcmp(F("\\joe, x@y\n"), "F:|F:x@y|"), ".forward: \\user");
	ok(!strcmp(F("\"unterminated\n"), "ERR@1"), ".forward: unterminated quote");
	ok(!strcmp(F("\"\"\n"), "ERR@1"), ".forward: empty quotes");
	ok(!strcmp(F("a@b\n\0\n"), "F:a@b|ERR@2"), ".forward: NUL");
	ok(!strcmp(F("\n\n , ,\n"), ""), ".forward: only separators");
	return tap_done();
}
