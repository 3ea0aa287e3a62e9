/* lib-account - the account for a local part (users/assign, the alias
 * user) and the .qmail names qmail-local tries, with hostile extensions */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "account.h"
#include "auto.h"
#include "lcdb.h"
#include "tap.h"

/* names - every name tried for dash and ext, "|"-separated, a -default
 * name followed by "=" and its DEFAULT; "!" when init refuses */
static const char *
names(const char *dash, const char *ext, size_t n)
{
	static char out[2000];
	struct account_qmail q = ACCOUNT_QMAIL_ZERO;
	struct str fn = STR_ZERO;
	size_t def, len = 0;
	int r;

	out[0] = 0;
	if ((r = account_qmailinit(&q, dash, ext, n)) != 1)
		return r == 0 ? "!" : "nomem";
	while ((r = account_qmailnext(&q, &fn, &def)) > 0) {
		int w = snprintf(out + len, sizeof out - len, "%s%s", len ? "|" : "", fn.s);

		if (w > 0 && r == 2)
			w += snprintf(out + len + w, sizeof out - len - w, "=%.*s", (int)(n - def), ext + def);
		if (w < 0 || (size_t)w >= sizeof out - len)
			return "overflow";
		len += (size_t)w;
		if (strlen(fn.s) != fn.len)
			return "not NUL-terminated";
	}
	account_qmailfree(&q);
	str_free(&fn);
	return r == 0 ? out : "error";
}

static int
find(struct assign_db *db, const char *fn, const char *local, struct account *a)
{
	return account_find(db, fn, local, strlen(local), "/al/ias", a);
}

int
main(void)
{
	struct lcdb_make m;
	struct assign_db db;
	struct account a = ACCOUNT_ZERO;
	struct str k = STR_ZERO, v = STR_ZERO;
	char fn[128], cdbfn[160];
	size_t i;
	int fd;
	static const char *const lines[] = {
		"=joe:joe:1001:100:/home/joe:::",
		"+joe-:joe:1001:100:/home/joe:-::",
		"+vp-:vp:1002:100:/d/vp:::",
		"=root:op:1003:100:/home/op:::",
	};

	/* qmail-local's order, as dot-qmail(5) gives it */
	ok(strcmp(names("", "", 0), ".qmail") == 0, "no dash, no extension: .qmail alone");
	ok(strcmp(names("", "Foo.Bar", 7), ".qmailfoo:bar") == 0,
	    "no dash: the one name, lower case, dots as colons");
	ok(strcmp(names("-", "a-B-c", 5),
	    ".qmail-a-b-c|.qmail-a-b-default=c|.qmail-a-default=B-c|.qmail-default=a-B-c") == 0,
	    "a dash: the -default names longest first, DEFAULT in the case it came");
	ok(strcmp(names("-", "", 0), ".qmail-|.qmail-default=") == 0, "a dash, no extension");
	ok(strcmp(names("-", "-x", 2), ".qmail--x|.qmail--default=x|.qmail-default=-x") == 0,
	    "a leading dash: .qmail--default before .qmail-default");
	ok(strcmp(names("-", "a--", 3),
	    ".qmail-a--|.qmail-a--default=|.qmail-a-default=-|.qmail-default=a--") == 0,
	    "dashes in a row, a trailing dash");
	ok(strcmp(names("-", "..", 2), ".qmail-::|.qmail-default=..") == 0, "dots never climb");
	ok(strcmp(names("-", "a/../b", 6), "!") == 0 && strcmp(names("", "/", 1), "!") == 0,
	    "a slash: no name at all");
	ok(strcmp(names("-", "a\0b", 3), "!") == 0, "a NUL byte: no name at all");

	/* the account: users/assign for every name, then the alias user */
	if (!tap_tmpname(fn, sizeof fn, "lib-account"))
		return 1;
	if ((fd = mkstemp(fn)) == -1 || close(fd) == -1)
		return perror("mkstemp"), 1;
	snprintf(cdbfn, sizeof cdbfn, "%s.cdb", fn);
	ok(lcdb_make_start(&m, cdbfn) == 1, "make start");
	for (i = 0; i < sizeof lines / sizeof lines[0]; i++)
		ok(assign_parseline(lines[i], strlen(lines[i]), &k, &v) == 1 &&
		    lcdb_make_add(&m, k.s, k.len, v.s, v.len) == 1, "entry %s", lines[i]);
	/* past qmail-newu's checks: a uid that uid_t cannot hold */
	ok(lcdb_make_add(&m, "=big", 4, "big\0" "4294967296\0" "1\0" "/h\0" "\0" "\0", 22) == 1 &&
	    lcdb_make_finish(&m) == 1, "make finish");
	assign_dbinit(&db);
	ok(find(&db, cdbfn, "Joe", &a) == 1 && a.kind == ACCOUNT_ASSIGN && a.uid == 1001 &&
	    a.gid == 100 && !strcmp(a.user.s, "joe") && !strcmp(a.home.s, "/home/joe") &&
	    !strcmp(a.dash.s, "") && !strcmp(a.ext.s, ""), "exact entry, any case");
	ok(find(&db, cdbfn, "joe-Ext", &a) == 1 && a.kind == ACCOUNT_ASSIGN &&
	    !strcmp(a.dash.s, "-") && !strcmp(a.ext.s, "Ext"), "prefix entry: the extension as it came");
	ok(find(&db, cdbfn, "ROOT", &a) == 1 && a.kind == ACCOUNT_ASSIGN && !strcmp(a.user.s, "op"),
	    "root: users/assign first");
	ok(find(&db, cdbfn, "postmaster", &a) == 1 && a.kind == ACCOUNT_ALIAS &&
	    !strcmp(a.user.s, auto_users[AUTO_ALIAS]) && !strcmp(a.home.s, "/al/ias") &&
	    !strcmp(a.dash.s, "-") && !strcmp(a.ext.s, "postmaster"),
	    "postmaster without an entry: the alias user, never a system account");
	ok(find(&db, cdbfn, "Mailer-Daemon", &a) == 1 && a.kind == ACCOUNT_ALIAS &&
	    !strcmp(a.ext.s, "Mailer-Daemon"), "mailer-daemon: the alias user, the name as it came");
	ok(find(&db, cdbfn, "-nobody", &a) == 1 && a.kind == ACCOUNT_ALIAS, "a leading dash: no login");
	ok(account_find(&db, cdbfn, "no\0body", 7, "/al/ias", &a) == 1 && a.kind == ACCOUNT_ALIAS &&
	    a.ext.len == 7, "a NUL byte: no login, the whole name kept");
	errno = 0;
	ok(find(&db, cdbfn, "big", &a) == -1 && errno == EINVAL, "a uid that does not fit: an error");
	assign_dbclose(&db);
	ok(unlink(cdbfn) == 0, "table removed");
	ok(find(&db, cdbfn, "root", &a) == 1 && a.kind == ACCOUNT_ALIAS, "no table: root is the alias user's");
	assign_dbclose(&db);

	account_free(&a);
	str_free(&k);
	str_free(&v);
	(void)unlink(fn);
	return tap_done();
}
