/* lib-assign - assign_parseline, assign_rcptline and assign_lookup */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "assign.h"
#include "lcdb.h"
#include "tap.h"

static int
parse(const char *line, struct str *k, struct str *v)
{
	return assign_parseline(line, strlen(line), k, v);
}

int
main(void)
{
	struct str k = STR_ZERO, v = STR_ZERO;
	struct assign a = ASSIGN_ZERO;
	struct lcdb_make m;
	char fn[128];
	char cdbfn[160], fn2[200];
	struct assign_db db;
	char big[5000];
	int fd;
	static const char *const good[] = {
		"=Joe:joe:1001:100:/home/joe:::",
		"+list-:vmail:998:998:/var/qmail/domains/x:-:l-:",
		"+:alias:7:8:/var/qmail/alias:-::",
		"=postmaster:alias:7:8:/var/qmail/alias:-:postmaster:",
	};
	static const char *const badl[] = {
		"", "=", "x:joe:1:1:/h:::", "=joe:joe:1:1:/h::", "=joe:joe:1:1:/h:::x",
		"=joe::1:1:/h:::", "=joe:joe:a:1:/h:::", "=joe:joe:1::/h:::",
		"=joe:joe:1:1:h:::", "=joe:joe:1:1:/h:--::", "=joe:joe:1:1:/h::::",
		"=:joe:1:1:/h:::", "=joe:joe:1:1:/h:::\r", "..", ". ",
		"=joe:joe:99999999999999999999999:1:/h:::",
		"=joe:joe:4294967297:1:/h:::", "=joe:joe:1:4294967296:/h:::", "=joe:joe:4294967295:1:/h:::",
	};
	size_t i;

	for (i = 0; i < sizeof good / sizeof good[0]; i++)
		ok(parse(good[i], &k, &v) == 1, "good line %s", good[i]);
	ok(parse(".", &k, &v) == 0, "dot line ends");
	for (i = 0; i < sizeof badl / sizeof badl[0]; i++)
		ok(parse(badl[i], &k, &v) == -1 && errno == EINVAL, "bad line [%s]", badl[i]);
	ok(assign_parseline("=jo\0e:joe:1:1:/h:::", 19, &k, &v) == -1, "NUL refused");
	memset(big, 'a', sizeof big);
	big[0] = '=';
	ok(assign_parseline(big, sizeof big, &k, &v) == -1, "over-long line refused");
	ok(assign_parseline(big, SIZE_MAX, &k, &v) == -1, "SIZE_MAX length refused");
	ok(parse("=Joe:joe:0001:100:/home/joe:::", &k, &v) == 1 &&
	    k.len == 4 && memcmp(k.s, "=joe", 4) == 0 &&
	    v.len == 22 && memcmp(v.s, "joe\0" "1\0" "100\0" "/home/joe\0\0\0", 22) == 0,
	    "key lower-cased, value normalised");

	ok(assign_rcptline("  Joe@Example.ORG \r", 18, &k) == 1 && k.len == 15 &&
	    memcmp(k.s, "joe@example.org", 15) == 0, "recipient lower-cased and trimmed");
	ok(assign_rcptline("@example.org", 12, &k) == 1, "catch-all");
	ok(assign_rcptline("# x", 3, &k) == 0 && assign_rcptline("", 0, &k) == 0 &&
	    assign_rcptline(" \t", 2, &k) == 0, "comments and blanks");
	ok(assign_rcptline("joe", 3, &k) == -1, "no @");
	ok(assign_rcptline("joe@", 4, &k) == -1, "empty domain");
	ok(assign_rcptline("jo e@x", 6, &k) == -1, "blank inside");
	ok(assign_rcptline("jo\0e@x", 6, &k) == -1, "NUL inside");

	/* a table built the way qmail-newu builds it */
	if (!tap_tmpname(fn, sizeof fn, "lib-assign"))
		return 1;
	if ((fd = mkstemp(fn)) == -1 || close(fd) == -1)
		return perror("mkstemp"), 1;
	snprintf(cdbfn, sizeof cdbfn, "%s.cdb", fn);
	ok(lcdb_make_start(&m, cdbfn) == 1, "make start");
	for (i = 0; i < sizeof good / sizeof good[0]; i++) {
		parse(good[i], &k, &v);
		lcdb_make_add(&m, k.s, k.len, v.s, v.len);
	}
	ok(lcdb_make_finish(&m) == 1, "make finish");

	ok(assign_lookup(cdbfn, "JOE", 3, &a) == 1 && a.exact == 1 &&
	    strcmp(a.user.s, "joe") == 0 && a.uid == 1001 && a.gid == 100 &&
	    strcmp(a.home.s, "/home/joe") == 0 && strcmp(a.dash.s, "") == 0 &&
	    strcmp(a.ext.s, "") == 0, "exact entry, any case");
	ok(assign_lookup(cdbfn, "list-Foo-bar", 12, &a) == 1 && a.exact == 0 &&
	    strcmp(a.user.s, "vmail") == 0 && strcmp(a.dash.s, "-") == 0 &&
	    strcmp(a.ext.s, "l-Foo-bar") == 0, "longest prefix, remainder appended as given");
	ok(assign_lookup(cdbfn, "nobody", 6, &a) == 1 && a.exact == 0 &&
	    strcmp(a.user.s, "alias") == 0 && strcmp(a.ext.s, "nobody") == 0,
	    "empty prefix catches the rest");
	ok(assign_lookup(cdbfn, "postmaster", 10, &a) == 1 && a.exact == 1 &&
	    strcmp(a.ext.s, "postmaster") == 0, "exact beats prefix");
	ok(assign_lookup(cdbfn, big, sizeof big, &a) == 0, "over-long local part: no entry");
	ok(assign_lookup("/nonexistent/assign.cdb", "joe", 3, &a) == 0, "missing table: no entry");

	/* a kept-open table follows the file: replaced, removed, back */
	assign_dbinit(&db);
	ok(assign_dblookup(&db, cdbfn, "JOE", 3, &a) == 1 && a.exact == 1 && a.uid == 1001 &&
	    strcmp(a.home.s, "/home/joe") == 0, "kept open: exact entry");
	ok(assign_dblookup(&db, cdbfn, "list-x", 6, &a) == 1 && a.exact == 0 &&
	    strcmp(a.ext.s, "l-x") == 0 && db.is_open, "kept open: prefix entry, same handle");
	ok(lcdb_make_start(&m, cdbfn) == 1 && parse("=joe:joe:2002:200:/home/new:::", &k, &v) == 1 &&
	    lcdb_make_add(&m, k.s, k.len, v.s, v.len) == 1 && lcdb_make_finish(&m) == 1,
	    "table replaced by rename");
	ok(assign_dblookup(&db, cdbfn, "joe", 3, &a) == 1 && a.uid == 2002 &&
	    strcmp(a.home.s, "/home/new") == 0, "kept open: the new table counts at once");
	ok(assign_dblookup(&db, cdbfn, "nobody", 6, &a) == 0, "kept open: an entry gone is gone");
	ok(unlink(cdbfn) == 0 && assign_dblookup(&db, cdbfn, "joe", 3, &a) == 0 && !db.is_open,
	    "kept open: a removed table means no entry");
	ok(lcdb_make_start(&m, cdbfn) == 1 && parse("=joe:joe:3003:300:/home/back:::", &k, &v) == 1 &&
	    lcdb_make_add(&m, k.s, k.len, v.s, v.len) == 1 && lcdb_make_finish(&m) == 1 &&
	    assign_dblookup(&db, cdbfn, "joe", 3, &a) == 1 && a.uid == 3003, "kept open: a table back counts");
	{
		/* rewritten in place, same inode: size and times tell */
		struct lcdb_make m2;
		char buf[65536];
		ssize_t n;
		int in, out;

		snprintf(fn2, sizeof fn2, "%s.new", cdbfn);
		ok(lcdb_make_start(&m2, fn2) == 1 && parse("=joe:joe:4004:400:/home/inplace:::", &k, &v) == 1 &&
		    lcdb_make_add(&m2, k.s, k.len, v.s, v.len) == 1 &&
		    parse("+:alias:7:8:/var/qmail/alias:-::", &k, &v) == 1 &&
		    lcdb_make_add(&m2, k.s, k.len, v.s, v.len) == 1 && lcdb_make_finish(&m2) == 1,
		    "second table written");
		in = open(fn2, O_RDONLY);
		out = open(cdbfn, O_WRONLY | O_TRUNC);
		n = in == -1 ? -1 : read(in, buf, sizeof buf);
		ok(in != -1 && out != -1 && n > 0 && write(out, buf, (size_t)n) == n &&
		    close(out) == 0 && close(in) == 0, "table rewritten in place");
		ok(assign_dblookup(&db, cdbfn, "joe", 3, &a) == 1 && a.uid == 4004 &&
		    assign_dblookup(&db, cdbfn, "else", 4, &a) == 1 && strcmp(a.user.s, "alias") == 0,
		    "kept open: a table rewritten in place counts");
		unlink(fn2);
	}
	assign_dbclose(&db);
	ok(!db.is_open, "closed");

	/* a damaged value is an error, not an entry */
	ok(lcdb_make_start(&m, cdbfn) == 1 &&
	    lcdb_make_add(&m, "=x", 2, "x\0" "1\0", 4) == 1 &&
	    lcdb_make_add(&m, "=y", 2, "y\0" "1\0" "1\0" "/h\0" "\0" "e", 11) == 1 &&
	    lcdb_make_add(&m, "=z", 2, "z\0" "q\0" "1\0" "/h\0" "\0" "e\0", 12) == 1 &&
	    lcdb_make_finish(&m) == 1, "damaged table written");
	ok(assign_lookup(cdbfn, "x", 1, &a) == -1, "too few fields");
	ok(assign_lookup(cdbfn, "y", 1, &a) == -1, "unterminated field");
	ok(assign_lookup(cdbfn, "z", 1, &a) == -1, "junk uid");

	unlink(cdbfn);
	unlink(fn);
	assign_free(&a);
	str_free(&k);
	str_free(&v);
	return tap_done();
}
