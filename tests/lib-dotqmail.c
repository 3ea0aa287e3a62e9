/* lib-dotqmail - the .qmail and .forward parsers on ordinary and hostile text */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "dotqmail.h"
#include "tap.h"

/* render - every instruction as "T:arg|" (T = P F M D I), or "ERR@line" */
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
		    "?PFMDI"[in.type], (int)in.len, in.arg);
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
	ok(!strcmp(F("\\joe, x@y\n"), "F:joe|F:x@y|"), ".forward: \\user, the backslash dropped");
	ok(!strcmp(F("\\\n"), "ERR@1"), ".forward: a lone backslash");
	ok(!strcmp(F("\"unterminated\n"), "ERR@1"), ".forward: unterminated quote");
	ok(!strcmp(F("\"|\"\n"), "ERR@1"), ".forward: empty quoted program");
	ok(!strcmp(F("\"\"\n"), "F:\"\"|"), ".forward: empty quotes are an address entry (dotforward_addr refuses it)");
	ok(!strcmp(F("a@b\n\0\n"), "F:a@b|ERR@2"), ".forward: NUL");
	ok(!strcmp(F("\n\n , ,\n"), ""), ".forward: only separators");
	ok(!strcmp(F("Joe Smith <joe@x.example>, bob@y (Bob)\n"), "F:Joe Smith <joe@x.example>|F:bob@y (Bob)|"),
	    ".forward: RFC 822 entries run to the comma");
	ok(!strcmp(F("\"Smith, Joe\" <joe@x>, (a, b) bob@y , c d\n"), "F:\"Smith, Joe\" <joe@x>|F:(a, b) bob@y|F:c|F:d|"),
	    ".forward: commas in quotes and comments do not split; plain words split at blanks");
	ok(!strcmp(F("<@a,@b:u@c> x\n"), "F:<@a,@b:u@c> x|"), ".forward: a comma inside <> does not split");
	ok(!strcmp(F("Joe <joe@x\n"), "ERR@1"), ".forward: unclosed <");
	ok(!strcmp(F("a@b (Joe\nc@d)\n"), "ERR@1"), ".forward: a comment does not run onto the next line");
	ok(!strcmp(F("\"joe\\\n"), "ERR@1"), ".forward: a backslash at the end of an open quote");
	ok(!strcmp(F("a@[1.2\\"), "F:a@[1.2\\|"), ".forward: a backslash last in an open literal stays inside");
	ok(!strcmp(F("Joe <j@x> \"|prog a\", k@l\n"), "F:Joe <j@x>|P:prog a|F:k@l|"),
	    ".forward: a quoted program after an RFC 822 entry");
	ok(!strcmp(F(":include:/etc/x, :include: /etc/y\t:INCLUDE:\t/z\n"), "I:/etc/x|I:/etc/y|I:/z|"),
	    ".forward: :include: with and without blanks, any case");
	ok(!strcmp(F("\":include:/a b\", x\n"), "I:/a b|F:x|"), ".forward: quoted :include:");
	ok(!strcmp(F(":include:rel\n"), "I:rel|"), ".forward: a relative :include: is returned (qmail-local refuses it)");
	ok(!strcmp(F(":include:\n"), "ERR@1"), ".forward: :include: without a file");
	ok(!strcmp(F(":include:  ,x\n"), "ERR@1"), ".forward: :include: followed by a comma");
	ok(!strcmp(F("# only\n  \n\t# indented comment\n"), ""), ".forward: comments and blank lines only");

	{
		struct str a = STR_ZERO;
		size_t ll = 99;
		int hd = 99;

#define A(s) (dotforward_addr(s, sizeof s - 1, &a, &ll, &hd) == 1)
		ok(A("Joe Smith <joe@x.example>") && !strcmp(a.s, "joe@x.example") && ll == 3 && hd == 1,
		    "addr: phrase <addr>");
		ok(A("bob@y (Bob)") && !strcmp(a.s, "bob@y") && ll == 3 && hd == 1, "addr: a comment dropped");
		ok(A("bob") && !strcmp(a.s, "bob") && ll == 3 && hd == 0, "addr: an unqualified name");
		ok(A("\"Smith, Joe\" <joe@x>") && !strcmp(a.s, "joe@x"), "addr: a quoted phrase");
		ok(A("\"joe smith\"@x") && !strcmp(a.s, "joe smith@x") && ll == 9, "addr: a quoted local part");
		ok(A("<@a,@b:u@c>") && !strcmp(a.s, "u@c"), "addr: a source route dropped");
		ok(!A("Joe Smith") && errno == EINVAL, "addr: two words are no address");
		ok(!A("a@b c@d") && errno == EINVAL, "addr: two addresses without a comma");
		ok(!A("team: a@b, c@d;") && errno == EINVAL, "addr: a group of two");
		ok(!A("<>") && errno == EINVAL, "addr: <>");
		ok(!A("(Bob)") && errno == EINVAL, "addr: a comment alone");
		ok(!A("\"\"") && errno == EINVAL, "addr: an empty quoted local part");
		ok(!A("\"\"@x") && errno == EINVAL, "addr: an empty quoted local part with a domain");
		ok(!A("joe@") && errno == EINVAL, "addr: @ and no domain");
		ok(!A("a\001b@x") && errno == EINVAL, "addr: a control byte");
		ok(!A("") && errno == EINVAL, "addr: nothing");
#undef A
		str_free(&a);
	}
	return tap_done();
}
