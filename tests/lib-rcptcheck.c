/* lib-rcptcheck - relay control and recipient existence in a scratch
 * directory laid out like the install root, with hostile local parts */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "assign.h"
#include "lcdb.h"
#include "rcptcheck.h"
#include "tap.h"

static void
put(const char *fn, const char *text)
{
	FILE *f = fopen(fn, "w");

	if (!f || fputs(text, f) == EOF || fclose(f) == EOF) {
		perror(fn);
		exit(1);
	}
}

/* table - users/assign.cdb (lines) or users/recipients.cdb (addresses)
 * written as qmail-newu writes them */
static void
table(const char *fn, const char *const *lines, int assign)
{
	struct str k = STR_ZERO, v = STR_ZERO;
	struct lcdb_make m;
	int r = lcdb_make_start(&m, fn);

	for (; r && *lines; lines++)
		r = (assign ? assign_parseline(*lines, strlen(*lines), &k, &v) :
		    assign_rcptline(*lines, strlen(*lines), &k)) == 1 &&
		    lcdb_make_add(&m, k.s, k.len, v.s, v.len);
	if (!r || !lcdb_make_finish(&m)) {
		perror(fn);
		exit(1);
	}
	str_free(&k);
	str_free(&v);
}

static int
ex(const struct rcptcheck *rc, const char *a)
{
	return rcptcheck_exists(rc, a, strlen(a));
}

static int
relay(const struct rcptcheck *rc, const char *d)
{
	return rcptcheck_relay(rc, d, strlen(d));
}

int
main(void)
{
	char dir[128];
	struct rcptcheck rc = RCPTCHECK_ZERO, rc2 = RCPTCHECK_ZERO;
	struct str p = STR_ZERO;
	const char *fn;
	char big[5000];

	if (!tap_tmpname(dir, sizeof dir, "lib-rcptcheck"))
		return 1;
	if (!mkdtemp(dir) || chdir(dir) == -1) {
		perror("scratch directory");
		return 1;
	}
	if (mkdir("control", 0755) || mkdir("alias", 0755) || mkdir("users", 0755) ||
	    mkdir("alias/sub", 0755)) {
		perror("mkdir");
		return 1;
	}
	put("control/me", "Me.Test\n");
	put("control/virtualdomains", "v.test:v.test\nbob@w.test:bobby\n.sub.v.test:subv\nx.v.test:\n");
	ok(rcptcheck_load(&rc, &fn), "load without rcpthosts and locals");
	ok(rcptcheck_islocal(&rc, "me.test", 7), "locals default to control/me, any case");
	ok(relay(&rc, "ME.TEST") == 1 && relay(&rc, "v.test") == 1, "no rcpthosts: locals and virtual domains relay");
	ok(relay(&rc, "other.test") == 0, "no rcpthosts: nothing else");
	ok(rcptcheck_virtual(&rc, "a@v.test", 8, &p) == 1 && p.len == 6 && !memcmp(p.s, "v.test", 6), "virtual domain");
	ok(rcptcheck_virtual(&rc, "bob@w.test", 10, &p) == 1 && p.len == 5, "virtual address entry");
	ok(rcptcheck_virtual(&rc, "a@deep.sub.v.test", 17, &p) == 1 && p.len == 4, ".suffix entry");
	ok(rcptcheck_virtual(&rc, "a@x.v.test", 10, &p) == 0, "empty prefix: an exception");
	ok(rcptcheck_virtual(&rc, "a@w.test", 8, &p) == 0, "not virtual");

	put("control/rcpthosts", "one.test\n.two.test\n");
	ok(rcptcheck_load(&rc2, &fn), "load with rcpthosts");
	ok(relay(&rc2, "ONE.test") == 1 && relay(&rc2, "a.b.two.test") == 1, "rcpthosts: name and .suffix");
	ok(relay(&rc2, "two.test") == 0 && relay(&rc2, "xone.test") == 0 && relay(&rc2, "me.test") == 0,
	    "rcpthosts: nothing else, no partial labels");
	ok(relay(&rc2, "") == 0, "empty domain");

	/* alias .qmail files decide for a local domain */
	ok(ex(&rc, "postmaster@me.test") == 1 && ex(&rc, "PostMaster@ME.test") == 1, "postmaster");
	ok(ex(&rc, "nobody-here@me.test") == 0, "unknown local part");
	put("alias/.qmail-info", "&x\n");
	put("alias/.qmail-list-default", "&x\n");
	put("alias/.qmail-a:b", "&x\n");
	ok(ex(&rc, "Info@me.test") == 1, ".qmail-info");
	ok(ex(&rc, "list-anything-more@me.test") == 1, ".qmail-list-default covers list-anything-more");
	ok(ex(&rc, "list@me.test") == 0, "but not list itself");
	ok(ex(&rc, "a.b@me.test") == 1, "dots are colons");
	ok(ex(&rc, "sub/../.qmail-info@me.test") == 0 && ex(&rc, "../alias/.qmail-info@me.test") == 0,
	    "a slash never reaches a file name");
	ok(ex(&rc, "..@me.test") == 0, "dots never climb");
	memset(big, 'x', sizeof big - 10);
	memcpy(big + sizeof big - 10, "@me.test", 9);
	ok(ex(&rc, big) == 0, "a 5000-byte local part");
	ok(ex(&rc, "@me.test") == 0 && ex(&rc, "nodomain") == 0, "no local part, no domain");
	ok(ex(&rc, "anyone@other.test") == 1, "a domain not delivered here is not checked");
	ok(ex(&rc, "anyone@v.test") == 1, "no users/recipients.cdb: virtual domains not checked");
	put("alias/.qmail-default", "&x\n");
	ok(ex(&rc, "whatever@me.test") == 1, ".qmail-default: catch-all");
	ok(rcptcheck_dotqmail("alias", "-", "", 0) == 1, "no extension: the user itself");

	/* without control/locals: the first line of control/me, else
	 * localhost, as qmail-send takes them */
	{
		struct rcptcheck rc3 = RCPTCHECK_ZERO, rc4 = RCPTCHECK_ZERO, rc5 = RCPTCHECK_ZERO;

		(void)unlink("control/rcpthosts");
		put("control/me", "# this host\nOnly.First\nsecond.test\n");
		ok(rcptcheck_load(&rc3, &fn), "load with a control/me of two lines");
		ok(rcptcheck_islocal(&rc3, "only.first", 10) && !rcptcheck_islocal(&rc3, "second.test", 11),
		    "locals default to the first line of control/me only");
		if (unlink("control/me") == -1)
			perror("control/me");
		ok(rcptcheck_load(&rc4, &fn), "load without control/locals and control/me");
		ok(rcptcheck_islocal(&rc4, "localhost", 9) && relay(&rc4, "LocalHost") == 1,
		    "then localhost is local, and taken from anyone");
		(void)unlink("alias/.qmail-default");
		ok(ex(&rc4, "info@localhost") == 1 && ex(&rc4, "nosuchbox@localhost") == 0,
		    "and its recipients are checked");
		/* a locals with no line is an empty list, not the default */
		put("control/locals", "# no local domain\n");
		ok(rcptcheck_load(&rc5, &fn), "load with a control/locals of comments only");
		ok(!rcptcheck_islocal(&rc5, "localhost", 9) && relay(&rc5, "localhost") == 0,
		    "no local domain at all, localhost included");
	}

	/* the account qmail-lspawn picks decides, in its order: users/assign
	 * for every name, then the rest; then the .qmail file qmail-local
	 * would follow, an empty dash meaning defaultdelivery */
	{
		struct rcptcheck rc6 = RCPTCHECK_ZERO;
		char line[3][300];
		const char *assign[5], *rcpts[] = { "someone@virt.example", NULL };

		if (mkdir("h4", 0755) || mkdir("h5", 0755) || mkdir("h6", 0755)) {
			perror("mkdir");
			return 1;
		}
		(void)unlink("control/locals");
		put("control/me", "me.test\n");
		put("control/virtualdomains", "virt.example:vp\nvd.example:vd\n");
		snprintf(line[0], sizeof line[0], "+:catch:0:0:%s/h4:-:c-:", dir);
		snprintf(line[1], sizeof line[1], "+vp-:vp:1:1:%s/h5:::", dir);
		snprintf(line[2], sizeof line[2], "+vd-:vd:1:1:%s/h6:-::", dir);
		assign[0] = line[0], assign[1] = line[1], assign[2] = line[2], assign[3] = NULL;
		table("users/assign.cdb", assign, 1);
		table("users/recipients.cdb", rcpts, 0);
		ok(rcptcheck_load(&rc6, &fn), "load with virtual domains vp and vd");
		ok(ex(&rc6, "root@me.test") == 1 && ex(&rc6, "Mailer-Daemon@me.test") == 1,
		    "root and mailer-daemon: users/assign first (a catch-all), as qmail-lspawn");
		ok(ex(&rc6, "anyone@me.test") == 1, "a catch-all assign entry takes every name");
		ok(ex(&rc6, "joe@virt.example") == 1 && ex(&rc6, "joe-x.y@virt.example") == 1,
		    "an empty dash: no .qmailEXT means defaultdelivery, which exists");
		ok(ex(&rc6, "a/b@virt.example") == 0, "but a slash never is a file");
		ok(ex(&rc6, "joe@vd.example") == 0, "a dash: no .qmail file, no address");
		put("h6/.qmail--default", "./Maildir/\n");
		ok(ex(&rc6, "-x@vd.example") == 1,
		    "ext -x: .qmail--default, as qmail-local tries it before .qmail-default");
		ok(ex(&rc6, "y@vd.example") == 0, "which takes no other name");
		put("h6/.qmail-", "./Maildir/\n");
		ok(rcptcheck_dotqmail("h6", "-", "", 0) == 1 && rcptcheck_dotqmail("h5", "-", "", 0) == 0,
		    "an empty extension with a dash: .qmail- or .qmail-default, as qmail-local");
		ok(rcptcheck_dotqmail("h5", "", "", 0) == 1, "an empty extension and dash: defaultdelivery");
		memset(big, 'x', 400);
		big[400] = 0;
		put("h6/.qmail-default", "./Maildir/\n");
		ok(rcptcheck_dotqmail("h6", "-", big, 400) == 1,
		    "a name too long for a file is no file: .qmail-default");
		str_free(&rc6.locals);
		str_free(&rc6.rcpthosts);
		str_free(&rc6.vdoms);
	}

	str_free(&p);
	{
		static const char *const files[] = {
			"users/assign.cdb", "users/recipients.cdb", "h6/.qmail--default", "h6/.qmail-",
			"h6/.qmail-default",
			"control/me", "control/locals", "control/virtualdomains", "control/rcpthosts", "alias/.qmail-info",
			"alias/.qmail-list-default", "alias/.qmail-a:b", "alias/.qmail-default",
		};
		static const char *const dirs[] = { "alias/sub", "alias", "control", "users", "h4", "h5", "h6" };
		size_t i;

		for (i = 0; i < sizeof files / sizeof files[0]; i++)
			(void)unlink(files[i]);	/* best effort: a scratch directory */
		for (i = 0; i < sizeof dirs / sizeof dirs[0]; i++)
			(void)rmdir(dirs[i]);
		if (chdir("/") == 0)
			(void)rmdir(dir);
	}
	return tap_done();
}
