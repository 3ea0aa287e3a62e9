/* qmail-newaliases - turn an /etc/aliases-style file into .qmail files
 * of the alias user
 *
 *	qmail-newaliases [file]
 *
 * Run by the administrator.  Reads file (default /etc/aliases), checks
 * every entry, and only when all are good writes, for each alias NAME,
 * alias/.qmail-NAME under the install root (each through a temporary file
 * renamed into place).  An entry is "name: target, target, ..." and may
 * continue on lines that start with a blank.  A target is an address
 * (qualified with control/me when it has no "@"), "\name" (the local
 * user name, not looked up as an alias again), "|command", "/file" or
 * "/dir/", the last three possibly in double quotes.  Empty and blank
 * lines are skipped without ending an entry.  A name "default" or
 * "X-default" is refused: qmail-local would take it for a catch-all.
 * When both X and owner-X are listed, alias/.qmail-X-owner gets
 * owner-X's targets too: qmail-local then sends X's forwards from
 * X-owner@domain, which that file delivers, so X's bounces reach
 * owner-X (sendmail's convention).  Such derived files start with
 * OWNER_MARK, and are removed again once owner-X or X is gone.  See
 * qmail-newaliases(8).
 *
 * The alias user owns alias/, and qmail-newaliases runs as root: each
 * temporary file is made new (O_EXCL, no link followed) and renamed
 * into place, so a link left there is never written through.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "auto.h"
#include "buf.h"
#include "control.h"
#include "die.h"
#include "names.h"
#include "str.h"

#define FILEMAX (64UL * 1024 * 1024)
#define NAMEMAX 200
/* the first line of an owner file derived from owner-X */
#define OWNER_MARK "# qmail-newaliases: owner\n"

/* entries: name NUL, then the .qmail text NUL, for each alias */
struct out {
	struct str data;
	/* every name so far, for the duplicate and owner checks: a hash
	 * set, as each entry asks up to six times about earlier names */
	struct names names;
};

static void
bad(const char *fn, unsigned long lineno, const char *why)
{
	char num[FMT_ULONG + 1];

	num[fmt_ulong(num, lineno)] = 0;
	die(EXIT_PERM, fn, " line ", num, ": ", why, "; nothing written");
}

static int
blank(char c)
{
	return c == ' ' || c == '\t' || c == '\r';
}

/* defined - whether the alias file name pre s[0..n) suf, without
 * regard to case, is listed in names (lower-case file names) */
static int
defined(const struct names *names, const char *pre, const char *s, size_t n, const char *suf)
{
	struct str k = STR_ZERO;
	int r;

	if (!str_copys(&k, pre) || !str_catb(&k, s, n) || !str_cats(&k, suf) || !str_nul(&k))
		die_nomem();
	str_lowerb(k.s, k.len);
	r = names_has(names, k.s);
	str_free(&k);
	return r;
}

/* catchall - qmail-local reads .qmail-default and .qmail-X-default for
 * every local part it has no file of its own for (X-anything): an alias
 * of that name would take all mail for unknown names */
static int
catchall(const char *s, size_t n)
{
	return (n == 7 && str_caseeqb(s, "default", 7)) ||
	    (n > 8 && str_caseeqb(s + n - 8, "-default", 8));
}

/* owner_clash - X, owner-X and X-owner all listed: owner-X's targets
 * and X-owner's would both have to be alias/.qmail-X-owner.  The name s
 * just listed is checked in each of the three roles. */
static int
owner_clash(const struct names *names, const char *s, size_t n)
{
	if (n > 6 && str_caseeqb(s, "owner-", 6) && defined(names, "", s + 6, n - 6, "") &&
	    defined(names, "", s + 6, n - 6, "-owner"))
		return 1;
	if (n > 6 && str_caseeqb(s + n - 6, "-owner", 6) && defined(names, "", s, n - 6, "") &&
	    defined(names, "owner-", s, n - 6, ""))
		return 1;
	return defined(names, "owner-", s, n, "") && defined(names, "", s, n, "-owner");
}

/* target - one target into .qmail text */
static void
target(struct str *q, const char *t, size_t n, const struct str *me,
    const char *fn, unsigned long lineno)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (t[i] == 0 || t[i] == '\n')
			bad(fn, lineno, "a NUL byte in a target");
	if (t[0] == '|' || t[0] == '/') {
		if (n == 1)
			bad(fn, lineno, "empty command or file name");
		if (!str_catb(q, t, n) || !str_catc(q, '\n'))
			die_nomem();
		return;
	}
	if (t[0] == '\\') {
		/* sendmail's \name: deliver to the local user name without
		 * looking it up in the aliases again.  qmail-lspawn hands
		 * name@me to its account (users/assign, then a system
		 * account) before it asks the alias user, so the forward
		 * reaches the account without reading alias/; but root,
		 * postmaster and mailer-daemon always go to the alias user,
		 * whose own Maildir holds their mail when no alias says
		 * otherwise (the install's alias/.qmail-NAME files say
		 * ./Maildir/): for them that Maildir, directly. */
		t++, n--;
		if (n == 0 || str_chrb(t, n, '@') < n)
			bad(fn, lineno, "a backslash goes only before a local user name (\\name)");
		for (i = 0; i < n; i++)
			if ((unsigned char)t[i] <= ' ' || t[i] == '<' || t[i] == '>' || t[i] == '"' ||
			    t[i] == '\\' || t[i] == '/' || t[i] == 127)
				bad(fn, lineno, "a \\name holds blanks, quotes, slashes or angle brackets");
		if ((n == 4 && str_caseeqb(t, "root", 4)) || (n == 10 && str_caseeqb(t, "postmaster", 10)) ||
		    (n == 13 && str_caseeqb(t, "mailer-daemon", 13))) {
			if (!str_cats(q, "./Maildir/\n"))
				die_nomem();
			return;
		}
		if (me->len == 0)
			die(EXIT_TEMP, "unable to qualify ", "a local name: control/me is missing");
		if (!str_catc(q, '&') || !str_catb(q, t, n) || !str_catc(q, '@') || !str_cat(q, me) ||
		    !str_catc(q, '\n'))
			die_nomem();
		return;
	}
	if (n > 9 && str_caseeqb(t, ":include:", 9))
		bad(fn, lineno, ":include: is not supported; list the addresses instead");
	for (i = 0; i < n; i++)
		if ((unsigned char)t[i] <= ' ' || t[i] == '<' || t[i] == '>' || t[i] == '"')
			bad(fn, lineno, "a target address holds blanks, quotes or angle brackets");
	if (!str_catc(q, '&') || !str_catb(q, t, n))
		die_nomem();
	if (str_chrb(t, n, '@') == n) {
		if (me->len == 0)
			die(EXIT_TEMP, "unable to qualify ", "a bare name: control/me is missing");
		if (!str_catc(q, '@') || !str_cat(q, me))
			die_nomem();
	}
	if (!str_catc(q, '\n'))
		die_nomem();
}

/* entry - "name: targets" (continuations already joined) */
static void
entry(struct out *o, const char *p, size_t n, const struct str *me,
    const char *fn, unsigned long lineno)
{
	struct str q = STR_ZERO;
	size_t colon = str_chrb(p, n, ':'), i, s, e;
	char *name;

	if (colon == n)
		bad(fn, lineno, "no colon after the alias name");
	e = colon;
	while (e > 0 && blank(p[e - 1]))
		e--;
	if (e == 0 || e > NAMEMAX)
		bad(fn, lineno, "empty or over-long alias name");
	for (i = 0; i < e; i++)
		if ((unsigned char)p[i] <= ' ' || p[i] == '/' || p[i] == '#' || p[i] == 127)
			bad(fn, lineno, "the alias name holds blanks, slashes or control characters");
	if (!str_catb(&o->data, p, e) || !str_catc(&o->data, 0))
		die_nomem();
	/* the file name: lower case, dots as colons (as qmail-local looks) */
	name = o->data.s + o->data.len - e - 1;
	str_lowerb(name, e);
	for (i = 0; i < e; i++)
		if (name[i] == '.')
			name[i] = ':';
	if (catchall(name, e))
		bad(fn, lineno, "an alias named default or NAME-default would take the mail "
		    "of every unknown name (qmail-local's catch-all); an alias is one name");
	if (defined(&o->names, "", name, e, ""))
		bad(fn, lineno, "the alias is defined twice");
	if (owner_clash(&o->names, name, e))
		bad(fn, lineno, "owner-NAME and NAME-owner both give the owner of the alias NAME; "
		    "keep one");
	if (!names_add(&o->names, name, e))
		die_nomem();
	i = colon + 1;
	while (i < n) {
		while (i < n && (blank(p[i]) || p[i] == ',' || p[i] == '\n'))
			i++;
		if (i >= n)
			break;
		if (p[i] == '"') {
			s = i + 1;
			e = s + str_chrb(p + s, n - s, '"');
			if (e >= n)
				bad(fn, lineno, "unterminated quote");
			i = e + 1;
		} else {
			s = i;
			for (e = s; e < n && p[e] != ',' && p[e] != '\n' && !(blank(p[e]) && p[s] != '|'); e++)
				;
			i = e;
			while (e > s && blank(p[e - 1]))
				e--;
		}
		if (e == s)
			bad(fn, lineno, "empty target");
		target(&q, p + s, e - s, me, fn, lineno);
	}
	if (q.len == 0)
		bad(fn, lineno, "an alias without targets");
	if (!str_cat(&o->data, &q) || !str_catc(&o->data, 0))
		die_nomem();
	str_free(&q);
}

/* writeq - text into .qmail-name in the directory dfd (alias/),
 * atomically: .qmail-name.tmp made new, written, synced, renamed */
static void
writeq(int dfd, const char *name, const char *text, size_t n)
{
	struct str fn = STR_ZERO, tmp = STR_ZERO, shown = STR_ZERO;
	int fd;

	if (!str_copys(&fn, ".qmail-") || !str_cats(&fn, name) || !str_nul(&fn) ||
	    !str_copyb(&tmp, fn.s, fn.len) || !str_cats(&tmp, ".tmp") || !str_nul(&tmp) ||
	    !str_copys(&shown, "alias/") || !str_cat(&shown, &tmp) || !str_nul(&shown))
		die_nomem();
	/* whatever has the name goes first: the alias user could have left
	 * a link there, and root must not write where it points */
	if (unlinkat(dfd, tmp.s, 0) == -1 && errno != ENOENT)
		die_sys(EXIT_TEMP, "unable to remove ", shown.s);
	if ((fd = openat(dfd, tmp.s, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
	    0644)) == -1)
		die_sys(EXIT_TEMP, "unable to create ", shown.s);
	if (fchmod(fd, 0644) == -1 || !fd_writeall(fd, text, n, 0) || fsync(fd) == -1)
		die_sys(EXIT_TEMP, "unable to write ", shown.s);
	if (close(fd) == -1)
		die_sys(EXIT_TEMP, "unable to write ", shown.s);
	if (renameat(dfd, tmp.s, dfd, fn.s) == -1)
		die_sys(EXIT_TEMP, "unable to rename ", shown.s);
	str_free(&fn);
	str_free(&tmp);
	str_free(&shown);
}

/* marked - alias/f is a regular file starting with OWNER_MARK.  The
 * alias user owns alias/: a link is not followed, nor a FIFO waited on. */
static int
marked(int dfd, const char *f)
{
	char x[sizeof OWNER_MARK - 1];
	size_t have = 0;
	struct stat st;
	long got;
	int fd, r = 0;

	if ((fd = openat(dfd, f, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC)) == -1) {
		if (errno == ELOOP || errno == ENOENT)
			return 0;	/* a link is none of ours; gone is gone */
		die_sys(EXIT_TEMP, "unable to open alias/", f);
	}
	if (fstat(fd, &st) == -1)
		die_sys(EXIT_TEMP, "unable to stat alias/", f);
	if (S_ISREG(st.st_mode)) {
		while (have < sizeof x && (got = fd_read(fd, x + have, sizeof x - have, 0)) != 0) {
			if (got == -1)
				die_sys(EXIT_TEMP, "unable to read alias/", f);
			have += (size_t)got;
		}
		r = have == sizeof x && memcmp(x, OWNER_MARK, sizeof x) == 0;
	}
	(void)close(fd);	/* read-only */
	return r;
}

/* drop_owners - remove each alias/.qmail-X-owner that an earlier run
 * derived from owner-X when owner-X or X is no longer listed: the
 * administrator never named the file, so nobody would remove it by
 * hand, and it would go on taking X's bounces */
static void
drop_owners(int dfd, const struct names *names)
{
	DIR *d;
	struct dirent *de;
	int fd;

	if ((fd = openat(dfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC)) == -1 ||
	    (d = fdopendir(fd)) == NULL)
		die_sys(EXIT_TEMP, "unable to read ", "alias");
	while ((errno = 0, de = readdir(d)) != NULL) {
		const char *f = de->d_name;
		size_t n = strlen(f);

		/* .qmail-X-owner, X not empty */
		if (n <= 13 || !str_start(f, ".qmail-") || !str_equal(f + n - 6, "-owner"))
			continue;
		if (defined(names, "", f + 7, n - 13, "") && defined(names, "owner-", f + 7, n - 13, ""))
			continue;
		if (!marked(dfd, f))
			continue;
		if (unlinkat(dfd, f, 0) == -1 && errno != ENOENT)
			die_sys(EXIT_TEMP, "unable to remove alias/", f);
	}
	if (errno)
		die_sys(EXIT_TEMP, "unable to read ", "alias");
	(void)closedir(d);	/* a directory read to its end */
}

int
main(int argc, char **argv)
{
	struct out o = { STR_ZERO, NAMES_ZERO };
	struct str raw = STR_ZERO, ent = STR_ZERO, me = STR_ZERO;
	struct str oname = STR_ZERO, otext = STR_ZERO;
	const char *fn = argc > 1 ? argv[1] : "/etc/aliases";
	unsigned long lineno = 0, entline = 0;
	size_t i = 0, e, pos;
	int fd, dfd, r;

	die_init(argv[0]);
	if (argc > 2)
		die(EXIT_PERM, "usage: qmail-newaliases [file]");
	/* the file is named relative to where we were started */
	if ((fd = open(fn, O_RDONLY | O_CLOEXEC)) == -1)
		die_sys(errno == ENOENT ? EXIT_PERM : EXIT_TEMP, "unable to open ", fn);
	{
		char x[BUF_SIZE];
		long got;

		while ((got = fd_read(fd, x, sizeof x, 0)) != 0) {
			if (got == -1)
				die_sys(EXIT_TEMP, "unable to read ", fn);
			if (raw.len + (size_t)got > FILEMAX)
				die(EXIT_PERM, fn, " is too large");
			if (!str_catb(&raw, x, (size_t)got))
				die_nomem();
		}
		(void)close(fd);	/* read-only, read to the end */
	}
	if (chdir(auto_home) == -1)
		die_sys(EXIT_TEMP, "unable to switch to ", auto_home);
	if ((r = control_readline("control/me", &me)) == -1)
		die_sys(EXIT_TEMP, "unable to read control/me");

	/* every entry checked before anything is written */
	while (i < raw.len) {
		lineno++;
		e = str_chrb(raw.s + i, raw.len - i, '\n');
		if (str_chrb(raw.s + i, e, 0) != e)
			bad(fn, lineno, "a NUL byte");
		/* an empty line is skipped like a blank one, and the entry
		 * goes on (aliases(5) as Postfix reads it) */
		if (e == 0) {
			i++;
			continue;
		}
		if (blank(raw.s[i])) {
			size_t k = i;

			while (k < i + e && blank(raw.s[k]))
				k++;
			if (k < i + e && raw.s[k] != '#') {
				if (ent.len == 0)
					bad(fn, lineno, "a continuation line without an entry");
				if (!str_catc(&ent, '\n') || !str_catb(&ent, raw.s + i, e))
					die_nomem();
			}
		} else {
			if (ent.len)
				entry(&o, ent.s, ent.len, &me, fn, entline);
			ent.len = 0;
			/* a comment in the first column ends it too */
			if (raw.s[i] != '#') {
				if (!str_catb(&ent, raw.s + i, e))
					die_nomem();
				entline = lineno;
			}
		}
		i += e + 1;
	}
	if (ent.len)
		entry(&o, ent.s, ent.len, &me, fn, entline);

	if ((dfd = open("alias", O_RDONLY | O_DIRECTORY | O_CLOEXEC)) == -1)
		die_sys(EXIT_TEMP, "unable to open alias");
	for (pos = 0; pos < o.data.len;) {
		const char *name = o.data.s + pos;
		size_t nl = str_chrb(name, o.data.len - pos, 0);
		const char *text = name + nl + 1;
		size_t tl = str_chrb(text, o.data.len - pos - nl - 1, 0);

		writeq(dfd, name, text, tl);
		/* owner-X with X: X's forwards are sent from X-owner@domain */
		if (nl > 6 && str_start(name, "owner-") && defined(&o.names, "", name + 6, nl - 6, "")) {
			if (!str_copys(&oname, name + 6) || !str_cats(&oname, "-owner") ||
			    !str_nul(&oname) || !str_copys(&otext, OWNER_MARK) ||
			    !str_catb(&otext, text, tl))
				die_nomem();
			writeq(dfd, oname.s, otext.s, otext.len);
		}
		pos += nl + 1 + tl + 1;
	}
	drop_owners(dfd, &o.names);
	if (fsync(dfd) == -1)
		die_sys(EXIT_TEMP, "unable to sync alias");
	return 0;
}
