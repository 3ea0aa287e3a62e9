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
 * "/dir/", the last three possibly in double quotes.  See
 * qmail-newaliases(8).
 *
 * The alias user owns alias/, and qmail-newaliases runs as root: each
 * temporary file is made new (O_EXCL, no link followed) and renamed
 * into place, so a link left there is never written through.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>

#include "auto.h"
#include "buf.h"
#include "control.h"
#include "die.h"
#include "str.h"

#define FILEMAX (64UL * 1024 * 1024)
#define NAMEMAX 200

/* entries: name NUL, then the .qmail text NUL, for each alias */
struct out {
	struct str data;
	struct str names;	/* every name NUL, for the duplicate check */
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
	size_t colon = str_chrb(p, n, ':'), i, s, e, pos;

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
	str_lowerb(o->data.s + o->data.len - e - 1, e);
	for (i = o->data.len - e - 1; i < o->data.len - 1; i++)
		if (o->data.s[i] == '.')
			o->data.s[i] = ':';
	/* duplicates */
	for (pos = 0; pos < o->names.len; pos += str_chrb(o->names.s + pos, o->names.len - pos, 0) + 1)
		if (str_chrb(o->names.s + pos, o->names.len - pos, 0) == e &&
		    str_caseeqb(o->names.s + pos, o->data.s + o->data.len - e - 1, e))
			bad(fn, lineno, "the alias is defined twice");
	if (!str_catb(&o->names, o->data.s + o->data.len - e - 1, e + 1))
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

int
main(int argc, char **argv)
{
	struct out o = { STR_ZERO, STR_ZERO };
	struct str raw = STR_ZERO, ent = STR_ZERO, me = STR_ZERO;
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
		if (e > 0 && blank(raw.s[i])) {
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
			if (e > 0 && raw.s[i] != '#') {
				size_t k = e;

				while (k > 0 && blank(raw.s[i + k - 1]))
					k--;
				if (k > 0) {
					if (!str_catb(&ent, raw.s + i, e))
						die_nomem();
					entline = lineno;
				}
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
		pos += nl + 1 + tl + 1;
	}
	if (fsync(dfd) == -1)
		die_sys(EXIT_TEMP, "unable to sync alias");
	return 0;
}
