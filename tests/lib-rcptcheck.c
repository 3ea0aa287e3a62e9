/* lib-rcptcheck - relay control and recipient existence in a scratch
 * directory laid out like the install root, with hostile local parts */
#include <grp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
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

/* unreadable - the checks of a home qmail-smtpd may not read (mode 0):
 * 1 set when a listed user's extension is taken, 2 when an unlisted one
 * gives -1.
 * Root reads every directory, so as root they run in a child that has
 * become uid and gid 65534, its working directory still the scratch one. */
static int
unreadable(const struct rcptcheck *rc)
{
	pid_t pid;
	int st;

	if (geteuid() != 0)
		return (ex(rc, "a-c@va.example") == 1) | (ex(rc, "zz-c@va.example") == -1) << 1;
	if ((pid = fork()) == -1)
		return 0;
	if (pid == 0) {
		if (setgroups(0, NULL) == -1 || setgid(65534) == -1 || setuid(65534) == -1)
			_exit(0);
		_exit((ex(rc, "a-c@va.example") == 1) | (ex(rc, "zz-c@va.example") == -1) << 1);
	}
	if (waitpid(pid, &st, 0) != pid || !WIFEXITED(st))
		return 0;
	return WEXITSTATUS(st);
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

	/* a user listed without the extension asked for: the extension
	 * exists only when qmail-local would find a .qmail file for it, in a
	 * virtual domain laid out as qmail-admin makes one (.qmail-USER per
	 * mailbox, .qmail-LIST and .qmail-LIST-default per list) and for the
	 * alias user of a local domain; "@domain" still takes every name */
	{
		struct rcptcheck rc7 = RCPTCHECK_ZERO;
		int got;
		char line[2][300];
		const char *assign[3], *rcpts[] = { "a@va.example", "john.doe@va.example", "team@va.example",
			"info@me.test", "@vc.example", NULL };

		if (mkdir("hv", 0755) || mkdir("hc", 0755)) {
			perror("mkdir");
			return 1;
		}
		put("control/virtualdomains", "va.example:va.example\nvc.example:vc.example\n");
		snprintf(line[0], sizeof line[0], "+va.example-:vmail:1:1:%s/hv:-::", dir);
		snprintf(line[1], sizeof line[1], "+vc.example-:vmail:1:1:%s/hc:-::", dir);
		assign[0] = line[0], assign[1] = line[1], assign[2] = NULL;
		table("users/assign.cdb", assign, 1);
		table("users/recipients.cdb", rcpts, 0);
		put("hv/.qmail-a", "./a/Maildir/\n");
		put("hv/.qmail-john:doe", "./john.doe/Maildir/\n");
		put("hv/.qmail-team", "|qmail-list deliver\n");
		put("hv/.qmail-team-default", "|qmail-list deliver\n");
		ok(rcptcheck_load(&rc7, &fn), "load with qmail-admin's virtual domain va.example");
		ok(ex(&rc7, "a@va.example") == 1 && ex(&rc7, "John.Doe@va.example") == 1, "listed mailboxes");
		ok(ex(&rc7, "a-c@va.example") == 0 && ex(&rc7, "john.doe-x@va.example") == 0 &&
		    ex(&rc7, "A-b-c@va.example") == 0,
		    "a mailbox's extension without .qmail-USER-EXT, -default or .qmail-default: none");
		ok(ex(&rc7, "team@va.example") == 1 && ex(&rc7, "team-subscribe@va.example") == 1 &&
		    ex(&rc7, "team-return-bob=x.example@va.example") == 1 &&
		    ex(&rc7, "team-sc.1.ab-bob=x.example@va.example") == 1,
		    "a list's command addresses: .qmail-team-default");
		put("hv/.qmail-a-default", "./a/Maildir/\n");
		ok(ex(&rc7, "a-c@va.example") == 1 && ex(&rc7, "a-b-c@va.example") == 1,
		    "the user's own .qmail-a-default takes its extensions");
		(void)unlink("hv/.qmail-a-default");
		put("hv/.qmail-a-b", "./a/Maildir/\n");
		ok(ex(&rc7, "a-b@va.example") == 1 && ex(&rc7, "a-b-c@va.example") == 0,
		    "an unlisted .qmail-a-b is an address, and no more");
		(void)unlink("hv/.qmail-a-b");
		ok(ex(&rc7, "a-b@va.example") == 0, "gone with its file, though a is listed");
		put("hv/.qmail-default", "./a/Maildir/\n");
		ok(ex(&rc7, "a-c@va.example") == 1, "the domain's .qmail-default takes it");
		(void)unlink("hv/.qmail-default");
		ok(ex(&rc7, "who-ever@vc.example") == 1 && ex(&rc7, "x@vc.example") == 1,
		    "@domain listed: every name, with or without a dash");
		ok(ex(&rc7, "info@me.test") == 1 && ex(&rc7, "info-x@me.test") == 0,
		    "local domain, alias user: info listed, info-x has no .qmail file");
		/* a home qmail-smtpd cannot look into: the list decides */
		if (chmod("hv", 0) == -1 || chmod(".", 0755) == -1) {
			perror("chmod");
			return 1;
		}
		got = unreadable(&rc7);
		if (chmod("hv", 0755) == -1 || chmod(".", 0700) == -1) {
			perror("chmod");
			return 1;
		}
		ok(got & 1, "an unreadable home: a listed user's extension is taken");
		ok(got & 2, "an unlisted one cannot be told");
		str_free(&rc7.locals);
		str_free(&rc7.rcpthosts);
		str_free(&rc7.vdoms);
	}

	str_free(&p);
	{
		static const char *const files[] = {
			"users/assign.cdb", "users/recipients.cdb", "h6/.qmail--default", "h6/.qmail-",
			"h6/.qmail-default", "hv/.qmail-a", "hv/.qmail-john:doe", "hv/.qmail-team",
			"hv/.qmail-team-default",
			"control/me", "control/locals", "control/virtualdomains", "control/rcpthosts", "alias/.qmail-info",
			"alias/.qmail-list-default", "alias/.qmail-a:b", "alias/.qmail-default",
		};
		static const char *const dirs[] = { "alias/sub", "alias", "control", "users", "h4", "h5", "h6",
			"hv", "hc" };
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
