/* qmail-admin.c - the administrator's tool: virtual domains, mailboxes,
 * passwords, aliases, lists, backup and restore
 *
 * Run by root (or the owner of a single-user install):
 *	qmail-admin domain add|del|list [DOMAIN] [--force]
 *	qmail-admin user add|del|passwd|list ADDRESS|DOMAIN [--stdin] [--quota BYTES]
 *	qmail-admin user quota ADDRESS BYTES
 *	qmail-admin user import [--hashed] [--quota BYTES]
 *	qmail-admin alias add|del|list ADDRESS|DOMAIN [TARGET ...] [--stdin]
 *	qmail-admin list add|del|members LIST [MEMBER ...] [--stdin]
 *	qmail-admin list make LIST [OWNER]
 *	qmail-admin backup DIR [--queue]
 *	qmail-admin restore DIR
 *	qmail-admin sync
 *	qmail-admin admin add|del|passwd|list [NAME] [--stdin]
 *	qmail-admin totp on|off LOGIN
 * Every argument (and every line user import reads) is checked before
 * anything changes.  Each file is replaced whole: written to NAME.tmp
 * (made new), fsynced, renamed over NAME, its directory fsynced; user
 * import, which makes thousands, syncs them all at once before renaming
 * them.  Then users/assign and users/recipients are compiled by
 * bin/qmail-newu and qmail-send is told to reread its control files.
 * One qmail-admin runs at a time (users/admin.lock).
 * Passwords come from the terminal or standard input, never argv, and
 * are read before the lock is taken, as is what user import and --stdin
 * read.
 * Below domains/, alias/ and queue/, which other users own, no symbolic
 * link is followed (see "files").  A command that stops part way (exit
 * 111) is finished by running it again.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include "auto.h"
#include "buf.h"
#include "control.h"
#include "die.h"
#include "fsync.h"
#include "lcdb.h"
#include "maildir.h"
#include "names.h"
#include "priv.h"
#include "pwrule.h"
#include "qpath.h"
#include "spawn.h"
#include "str.h"
#include "vpasswd.h"

#define FILEMAX (256UL * 1024 * 1024)
#define ALIAS_MARK "# alias\n"
#define LIST_MARK "# list\n"

/* the owner of domains/ and of everything under it */
struct owner {
	int change;	/* chown what is created (root, multi-user install) */
	uid_t uid;
	gid_t gid;	/* the vmail user's group */
	unsigned long auid, agid;	/* for users/assign */
};

/* options, set once by main */
struct opts {
	int force, use_stdin, queue, have_quota, hashed;
	unsigned long quota;
};

/* at_line - "line N: " while user import checks its input line N, for
 * the messages of the checks it shares with user add; else empty */
static char at_line[FMT_ULONG + 8];

static void
usage(void)
{
	die(EXIT_PERM, "usage: qmail-admin domain add|del|list [DOMAIN] [--force]"
	    " | user add|del|passwd|list ADDRESS|DOMAIN [--stdin] [--quota BYTES]"
	    " | user quota ADDRESS BYTES | user import [--hashed] [--quota BYTES]"
	    " | alias add|del|list ADDRESS|DOMAIN [TARGET ...] [--stdin]"
	    " | list add|del|members LIST [MEMBER ...] [--stdin] | list make LIST [OWNER]"
	    " | backup DIR [--queue] | restore DIR | sync"
	    " | admin add|del|passwd|list [NAME] [--stdin] | totp on|off LOGIN"
	    " | dkim add DOMAIN [SELECTOR]");
}

static void
catx(struct str *s, const char *a)
{
	if (!str_cats(s, a))
		die_nomem();
}

static void
catb(struct str *s, const char *a, size_t n)
{
	if (!str_catb(s, a, n))
		die_nomem();
}

static void
nul(struct str *s)
{
	if (!str_nul(s))
		die_nomem();
}

static void
name_add(struct names *ns, const char *s, size_t n)
{
	if (!names_add(ns, s, n))
		die_nomem();
}

/* lowered - s[0..n) in lower case into low, NUL-terminated: a key for a
 * set of names without regard to case */
static const char *
lowered(struct str *low, const char *s, size_t n)
{
	low->len = 0;
	catb(low, s, n);
	str_lowerb(low->s, n);
	nul(low);
	return low->s;
}

/* put_out - s on standard output */
static void
put_out(const struct str *s)
{
	if (!fd_writeall(1, s->s, s->len, 0))
		die_sys(EXIT_TEMP, "unable to write output");
}

/* path - s = a/b/c (NULs end the list), NUL-terminated */
static const char *
path3(struct str *s, const char *a, const char *b, const char *c)
{
	s->len = 0;
	catx(s, a);
	if (b) {
		catx(s, "/");
		catx(s, b);
	}
	if (c) {
		catx(s, "/");
		catx(s, c);
	}
	nul(s);
	return s->s;
}

/* ---- files ----
 *
 * qmail-admin runs as root, but the vmail user owns domains/ and
 * everything below it, the alias user alias/ (which backup and restore
 * copy), and qmail-send's users own what is below queue/: a link left
 * there must not turn a write, a chown or a removal by root into one
 * where the link points.  Below those directories no symbolic link is
 * followed: directories are opened one component at a time with
 * O_NOFOLLOW (only the first, "domains", "alias" or "queue", which sits
 * in root's install root, may be a link), files are reached with the
 * *at calls relative to that descriptor, new files are made with O_EXCL,
 * and owners and modes are set on descriptors.  control/ and users/ are
 * root's: a link there is the administrator's and is followed. */

/* untrusted - fn lies below a directory another user owns */
static int
untrusted(const char *fn)
{
	return str_start(fn, "domains/") || str_start(fn, "queue/") ||
	    str_start(fn, "alias/");
}

static void
close_keep(int fd)
{
	int err = errno;

	(void)close(fd);	/* reporting the error before it */
	errno = err;
}

/* open_dir_at - directory name in dfd, not through a link: a link
 * gives ELOOP (O_DIRECTORY would say ENOTDIR) */
static int
open_dir_at(int dfd, const char *name, int follow)
{
	struct stat st;
	int fd, err;

	fd = openat(dfd, name, O_RDONLY | O_DIRECTORY | O_CLOEXEC |
	    (follow ? 0 : O_NOFOLLOW));
	if (fd == -1 && !follow) {
		err = errno;
		if (fstatat(dfd, name, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
		    S_ISLNK(st.st_mode))
			err = ELOOP;
		errno = err;
	}
	return fd;
}

/* dir_open - a descriptor of directory path (see above); -1 with errno */
static int
dir_open(const char *path)
{
	struct str c = STR_ZERO;
	size_t i = 0, n = strlen(path), e;
	int fd = AT_FDCWD, nfd, first = 1;

	if (!untrusted(path))
		return open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	while (i < n) {
		e = i + str_chrb(path + i, n - i, '/');
		if (e > i && !(e - i == 1 && path[i] == '.')) {
			c.len = 0;
			catb(&c, path + i, e - i);
			nul(&c);
			nfd = open_dir_at(fd, c.s, first);
			first = 0;
			if (fd != AT_FDCWD)
				close_keep(fd);
			if (nfd == -1) {
				str_free(&c);
				return -1;
			}
			fd = nfd;
		}
		i = e + 1;
	}
	str_free(&c);
	return fd;	/* untrusted paths have at least two components */
}

/* parent_open - a descriptor of the directory of fn; *base its last
 * component */
static int
parent_open(const char *fn, const char **base)
{
	struct str d = STR_ZERO;
	size_t n = strlen(fn), slash = str_rchrb(fn, n, '/');
	int fd;

	if (slash == n) {
		*base = fn;
		return open(".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	}
	*base = fn + slash + 1;
	catb(&d, fn, slash ? slash : 1);
	nul(&d);
	fd = dir_open(d.s);
	str_free(&d);
	return fd;
}

/* die_file - "unable to WHAT FN: why", exit 111; a link where none is
 * followed is called one */
static void __attribute__((noreturn))
die_file(const char *what, const char *fn)
{
	if (errno == ELOOP && untrusted(fn))
		die(EXIT_TEMP, what, fn, ": a symbolic link is on the way, and "
		    "qmail-admin follows none below domains/, alias/ and queue/");
	die_sys(EXIT_TEMP, what, fn);
}

/* slurp - what fd holds, to its end, appended to out (fn names it) */
static void
slurp(int fd, struct str *out, const char *fn)
{
	char x[BUF_SIZE];
	long got;

	while ((got = fd_read(fd, x, sizeof x, 0)) != 0) {
		if (got == -1)
			die_file("unable to read ", fn);
		if (out->len + (size_t)got > FILEMAX)
			die(EXIT_TEMP, "unable to read ", fn, ": too large");
		catb(out, x, (size_t)got);
	}
}

/* readtext - the whole file; a missing file reads as empty */
static int
readtext(const char *fn, struct str *out)
{
	const char *base;
	struct stat st;
	int r, dfd, fd;

	if (!untrusted(fn)) {
		if ((r = control_readfile(fn, out, FILEMAX)) == -1)
			die_file("unable to read ", fn);
		return r;
	}
	out->len = 0;
	if ((dfd = parent_open(fn, &base)) == -1) {
		if (errno == ENOENT)
			return 0;
		die_file("unable to read ", fn);
	}
	fd = openat(dfd, base, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
	close_keep(dfd);
	if (fd == -1) {
		if (errno == ENOENT)
			return 0;
		die_file("unable to read ", fn);
	}
	if (fstat(fd, &st) == -1)
		die_file("unable to read ", fn);
	if (!S_ISREG(st.st_mode))
		die(EXIT_TEMP, "unable to read ", fn, ": not a regular file");
	slurp(fd, out, fn);
	(void)close(fd);	/* read-only, read to the end */
	return 1;
}

/* write_atomic_at - name in the directory dfd replaced by data: NAME.tmp
 * made new (whatever had that name removed first, no link followed),
 * written, fsynced, renamed over NAME, the directory fsynced.  A file
 * that exists keeps its mode and, when root writes, its owner (a link
 * in control/ or users/ counts as the file it names; below domains/ a
 * link is replaced like anything else that is no regular file); a new
 * one gets mode and, when chown is asked, the owner o.  fn names the
 * file in messages.  With sync 0 nothing is synced: for a file that
 * no reader sees until the caller has synced it (in a directory still
 * under its temporary name, or itself under one). */
static void
write_atomic_at(int dfd, const char *name, const char *fn, const char *data,
    size_t n, mode_t mode, const struct owner *o, int sync)
{
	struct str tmp = STR_ZERO, tfn = STR_ZERO;
	struct stat st;
	uid_t uid = (uid_t)-1;
	gid_t gid = (gid_t)-1;
	int fd, r;

	r = fstatat(dfd, name, &st, untrusted(fn) ? AT_SYMLINK_NOFOLLOW : 0);
	if (r == 0 && S_ISREG(st.st_mode)) {
		mode = st.st_mode & 0777;
		if (geteuid() == 0)
			uid = st.st_uid, gid = st.st_gid;
	} else if (r == -1 && errno != ENOENT && !untrusted(fn))
		die_file("unable to stat ", fn);
	else if (o && o->change)
		uid = o->uid, gid = o->gid;
	catx(&tmp, name);
	catx(&tmp, ".tmp");
	nul(&tmp);
	catx(&tfn, fn);
	catx(&tfn, ".tmp");
	nul(&tfn);
	if (unlinkat(dfd, tmp.s, 0) == -1 && errno != ENOENT)
		die_file("unable to remove ", tfn.s);
	fd = openat(dfd, tmp.s, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
	    0600);
	if (fd == -1)
		die_file("unable to create ", tfn.s);
	if (!fd_writeall(fd, data, n, 0))
		goto fail;
	if ((uid != (uid_t)-1 && fchown(fd, uid, gid) == -1) ||
	    fchmod(fd, mode) == -1 || (sync && fsync(fd) == -1))
		goto fail;
	if (close(fd) == -1) {
		fd = -1;
		goto fail;
	}
	if (renameat(dfd, tmp.s, dfd, name) == -1 || (sync && fsync(dfd) == -1))
		die_file("unable to replace ", fn);
	str_free(&tmp);
	str_free(&tfn);
	return;
fail:
	if (fd != -1)
		close_keep(fd);	/* reporting the write error */
	(void)unlinkat(dfd, tmp.s, 0);	/* a leftover would only waste space */
	die_file("unable to write ", tfn.s);
}

/* write_file - the same for the path fn */
static void
write_file(const char *fn, const char *data, size_t n, mode_t mode,
    const struct owner *o, int sync)
{
	const char *base;
	int dfd;

	if ((dfd = parent_open(fn, &base)) == -1)
		die_file("unable to open the directory of ", fn);
	write_atomic_at(dfd, base, fn, data, n, mode, o, sync);
	(void)close(dfd);	/* only read and fsynced */
}

/* write_atomic - write_file, synced */
static void
write_atomic(const char *fn, const char *data, size_t n, mode_t mode,
    const struct owner *o)
{
	write_file(fn, data, n, mode, o, 1);
}

/* remove_file - fn unlinked (a link itself, not what it names) and its
 * directory fsynced; 0 when it was not there */
static int
remove_file(const char *fn)
{
	const char *base;
	int dfd, r = 1;

	if ((dfd = parent_open(fn, &base)) == -1) {
		if (errno == ENOENT)
			return 0;
		die_file("unable to remove ", fn);
	}
	if (unlinkat(dfd, base, 0) == -1) {
		if (errno != ENOENT)
			die_file("unable to remove ", fn);
		r = 0;
	} else if (fsync(dfd) == -1)
		die_file("unable to remove ", fn);
	(void)close(dfd);	/* only read and fsynced */
	return r;
}

/* write_or_remove - like write_atomic, but a list left empty goes: for
 * control/virtualdomains and the web administrators' files a missing
 * file and an empty one mean the same */
static void
write_or_remove(const char *fn, const char *data, size_t n, mode_t mode)
{
	if (n > 0)
		write_atomic(fn, data, n, mode, NULL);
	else
		(void)remove_file(fn);
}

/* mkdir_at - directory base in dfd (fn in messages) made with exactly
 * mode (and the owner o), returned open; an existing one (exist_ok) must
 * be a directory, not a link to one, and gets mode and owner too */
static int
mkdir_at(int dfd, const char *base, const char *fn, mode_t mode,
    const struct owner *o, int exist_ok)
{
	int fd;

	if (mkdirat(dfd, base, mode) == -1 && !(exist_ok && errno == EEXIST))
		die_file("unable to create ", fn);
	if ((fd = open_dir_at(dfd, base, !untrusted(fn))) == -1)
		die_file("unable to open ", fn);
	if (fchmod(fd, mode) == -1)
		die_file("unable to set mode of ", fn);
	if (o->change && fchown(fd, o->uid, o->gid) == -1)
		die_file("unable to change owner of ", fn);
	return fd;
}

/* mkdir_owned - the same for the path fn */
static int
mkdir_owned(const char *fn, mode_t mode, const struct owner *o, int exist_ok)
{
	const char *base;
	int dfd, fd;

	if ((dfd = parent_open(fn, &base)) == -1)
		die_file("unable to create ", fn);
	fd = mkdir_at(dfd, base, fn, mode, o, exist_ok);
	(void)close(dfd);	/* only read */
	return fd;
}

/* rm_tree - remove dir and everything under it (dirfd-relative, no
 * symlinks followed) */
static int
rm_at(int dfd, const char *name)
{
	DIR *d;
	struct dirent *e;
	int fd, err;

	if (unlinkat(dfd, name, 0) == 0 || errno == ENOENT)
		return 0;
	if (errno != EISDIR && errno != EPERM)
		return -1;
	fd = openat(dfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd == -1)
		return -1;
	if ((d = fdopendir(fd)) == NULL) {
		err = errno;
		(void)close(fd);
		return errno = err, -1;
	}
	while ((errno = 0, e = readdir(d)) != NULL) {
		if (str_equal(e->d_name, ".") || str_equal(e->d_name, ".."))
			continue;
		if (rm_at(fd, e->d_name) == -1) {
			err = errno;
			(void)closedir(d);
			return errno = err, -1;
		}
	}
	err = errno;
	(void)closedir(d);	/* read-only */
	if (err)
		return errno = err, -1;
	if (unlinkat(dfd, name, AT_REMOVEDIR) == -1 && errno != ENOENT)
		return -1;
	return 0;
}

static void
rm_tree(const char *fn)
{
	const char *base;
	int dfd;

	if ((dfd = parent_open(fn, &base)) == -1) {
		if (errno == ENOENT)
			return;
		die_file("unable to remove ", fn);
	}
	if (rm_at(dfd, base) == -1 || fsync(dfd) == -1)
		die_file("unable to remove ", fn);
	(void)close(dfd);	/* only read and fsynced */
}

/* stat_nofollow - lstat, below domains/, alias/ and queue/ without
 * following a link on the way either; 0, or -1 with errno */
static int
stat_nofollow(const char *fn, struct stat *st)
{
	const char *base;
	int dfd, r;

	if (!untrusted(fn))
		return lstat(fn, st);
	if ((dfd = parent_open(fn, &base)) == -1)
		return -1;
	r = fstatat(dfd, base, st, AT_SYMLINK_NOFOLLOW);
	close_keep(dfd);
	return r;
}

static int
exists(const char *fn)
{
	struct stat st;

	if (stat_nofollow(fn, &st) == 0)
		return 1;
	if (errno != ENOENT)
		die_file("unable to stat ", fn);
	return 0;
}

/* dir_list - opendir, with dir_open's rules */
static DIR *
dir_list(const char *fn)
{
	DIR *d;
	int fd;

	if ((fd = dir_open(fn)) == -1)
		return NULL;
	if ((d = fdopendir(fd)) == NULL)
		close_keep(fd);
	return d;
}

/* ---- lines ---- */

/* line_next - the line at *pos (without newline) in t; 0 at the end */
static int
line_next(const struct str *t, size_t *pos, const char **l, size_t *n)
{
	size_t e;

	if (*pos >= t->len)
		return 0;
	e = str_chrb(t->s + *pos, t->len - *pos, '\n');
	*l = t->s + *pos;
	*n = e;
	*pos += e + 1;
	return 1;
}

/* keymatch - line begins with key followed by sep (sep 0: whole line) */
static int
keymatch(const char *l, size_t n, const char *key, size_t kl, char sep)
{
	if (sep == 0)
		return n == kl && str_caseeqb(l, key, kl);
	return n > kl && l[kl] == sep && str_caseeqb(l, key, kl);
}

/* lines_find - 1 when some line matches key/sep */
static int
lines_find(const struct str *t, const char *key, size_t kl, char sep)
{
	size_t pos = 0, n;
	const char *l;

	while (line_next(t, &pos, &l, &n))
		if (keymatch(l, n, key, kl, sep))
			return 1;
	return 0;
}

/* lines_drop - out = t without the lines matching key/sep (and without
 * lines equal to skip, when given); the number dropped */
static unsigned long
lines_drop(const struct str *t, struct str *out, const char *key, size_t kl,
    char sep, const char *skip)
{
	size_t pos = 0, n;
	const char *l;
	unsigned long dropped = 0;

	out->len = 0;
	while (line_next(t, &pos, &l, &n)) {
		if (keymatch(l, n, key, kl, sep) ||
		    (skip && n == strlen(skip) && memcmp(l, skip, n) == 0)) {
			dropped++;
			continue;
		}
		catb(out, l, n);
		catx(out, "\n");
	}
	return dropped;
}

/* ---- the install ---- */

static void
get_owner(struct owner *o)
{
	const char *name = auto_users[AUTO_VMAIL];
	struct passwd *pw;

	errno = 0;
	if ((pw = getpwnam(name)) == NULL) {
		if (!auto_single)
			die_sys(EXIT_TEMP, "unable to find user ", name);
		o->uid = getuid();
		o->gid = getgid();
	} else {
		o->uid = pw->pw_uid;
		o->gid = pw->pw_gid;
	}
	o->auid = (unsigned long)o->uid;
	o->agid = (unsigned long)o->gid;
	o->change = !auto_single && geteuid() == 0;
}

/* lock - one qmail-admin at a time; held until exit */
static void
lock(void)
{
	struct flock fl;
	int fd;

	fd = open("users/admin.lock", O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (fd == -1)
		die_sys(EXIT_TEMP, "unable to open users/admin.lock");
	memset(&fl, 0, sizeof fl);
	fl.l_type = F_WRLCK;
	fl.l_whence = SEEK_SET;
	while (fcntl(fd, F_SETLKW, &fl) == -1)
		if (errno != EINTR)
			die_sys(EXIT_TEMP, "unable to lock users/admin.lock");
}

/* newu - compile users/assign and users/recipients */
static void
newu(void)
{
	char *argv[] = { "qmail-newu", NULL };
	int fd[3] = { 0, 1, 2 }, status;
	pid_t pid;

	if ((pid = spawn("bin/qmail-newu", argv, NULL, fd, 3)) == -1)
		die_sys(EXIT_TEMP, "unable to run bin/qmail-newu");
	if (spawn_wait(pid, &status) == -1)
		die_sys(EXIT_TEMP, "unable to wait for bin/qmail-newu");
	if (spawn_exitcode(status) != 0)
		die(EXIT_TEMP, "bin/qmail-newu failed; fix users/assign or "
		    "users/recipients and run qmail-admin sync");
}

/* hup_send - qmail-send rereads control/ on SIGHUP; when it runs under
 * supervise in service/send, supervise delivers it (svc -h).
 * Without a supervised qmail-send there is nobody to tell. */
static void
hup_send(void)
{
	int fd;

	fd = open("service/send/supervise/control",
	    O_WRONLY | O_NONBLOCK | O_CLOEXEC);
	if (fd == -1) {
		if (errno != ENOENT && errno != ENXIO && errno != ENOTDIR)
			warn_sys("unable to tell qmail-send to reread control/");
		return;
	}
	if (write(fd, "h", 1) != 1)
		warn_sys("unable to tell qmail-send to reread control/");
	(void)close(fd);	/* a fifo: nothing buffered */
}

/* ---- names ---- */

struct addr {
	struct str user, domain;	/* NUL-terminated, lower case */
};

static void
check_domain(const char *d)
{
	if (!vpasswd_domain_ok(d, strlen(d)))
		die(EXIT_PERM, at_line, "not a domain name: ", d,
		    " (letters, digits, hyphens and dots, in lower case)");
}

/* parse_addr - user@domain, both checked and lowered */
static void
parse_addr(const char *a, struct addr *x)
{
	size_t n = strlen(a), at = str_rchrb(a, n, '@');

	if (at == n)
		die(EXIT_PERM, at_line, "not an address (user@domain): ", a);
	x->user.len = x->domain.len = 0;
	catb(&x->user, a, at);
	catb(&x->domain, a + at + 1, n - at - 1);
	str_lowerb(x->user.s, x->user.len);
	str_lowerb(x->domain.s, x->domain.len);
	nul(&x->user);
	nul(&x->domain);
	if (!vpasswd_user_ok(x->user.s, x->user.len))
		die(EXIT_PERM, at_line, "not a mailbox name: ", x->user.s,
		    " (1 to 64 of a-z 0-9 . _ -, not starting with . or -)");
	if (str_equal(x->user.s, "default") || str_start(x->user.s, "vpasswd"))
		die(EXIT_PERM, at_line, "reserved name: ", x->user.s);
	check_domain(x->domain.s);
}

/* check_new_name - a name a new mailbox, alias or list may take: the
 * file .qmail-NAME-default takes the mail of every NAME-anything
 * address (dot-qmail(5)), so a name ending in -default would catch
 * addresses nobody made */
static void
check_new_name(const struct addr *x)
{
	struct str pre = STR_ZERO;
	size_t n = x->user.len;

	if (n < 8 || !str_equal(x->user.s + n - 8, "-default"))
		return;
	catb(&pre, x->user.s, n - 8);
	nul(&pre);
	die(EXIT_PERM, at_line, "reserved name: ", x->user.s, " (a name ending in -default "
	    "would take the mail of every ", pre.s, "-...@", x->domain.s, " address)");
}

/* is_domain - 1 when DOMAIN is one of ours */
static int
is_domain(const char *d)
{
	struct str t = STR_ZERO, p = STR_ZERO;
	int r;

	readtext("control/virtualdomains", &t);
	r = lines_find(&t, d, strlen(d), ':') &&
	    exists(path3(&p, "domains", d, "vpasswd"));
	str_free(&t);
	str_free(&p);
	return r;
}

static void
need_domain(const char *d)
{
	if (!is_domain(d))
		die(EXIT_PERM, at_line, "no such virtual domain: ", d);
}

/* addr_full - user@domain of x into s, NUL-terminated */
static const char *
addr_full(struct str *s, const struct addr *x)
{
	s->len = 0;
	catx(s, x->user.s);
	catx(s, "@");
	catx(s, x->domain.s);
	nul(s);
	return s->s;
}

/* dotqmail - domains/DOMAIN/.qmail-LOCAL, dots written as colons the
 * way qmail-local looks for them */
static const char *
dotqmail(struct str *s, const struct addr *x)
{
	size_t i, start;

	s->len = 0;
	catx(s, "domains/");
	catx(s, x->domain.s);
	catx(s, "/.qmail-");
	start = s->len;
	catx(s, x->user.s);
	for (i = start; i < s->len; i++)
		if (s->s[i] == '.')
			s->s[i] = ':';
	nul(s);
	return s->s;
}

/* ---- vpasswd ---- */

/* vpasswd_rebuild - domains/D/vpasswd.cdb from domains/D/vpasswd */
static void
vpasswd_rebuild(const char *d, const struct owner *o)
{
	struct str fn = STR_ZERO, t = STR_ZERO;
	struct lcdb_make m;
	size_t pos = 0, n, ul, hl;
	const char *l, *h;
	unsigned long q;
	int dfd;

	readtext(path3(&fn, "domains", d, "vpasswd"), &t);
	if ((dfd = dir_open(path3(&fn, "domains", d, NULL))) == -1)
		die_file("unable to open ", fn.s);
	path3(&fn, "domains", d, "vpasswd.cdb");
	if (!lcdb_make_startat(&m, dfd, "vpasswd.cdb"))
		die_sys(EXIT_TEMP, "unable to create ", fn.s, ".tmp");
	/* readable by the group, for qmail-auth run by qmail-smtpd */
	if (fchmod(m.fd, 0640) == -1 ||
	    (o->change && fchown(m.fd, o->uid, o->gid) == -1))
		die_sys(EXIT_TEMP, "unable to set owner of ", fn.s, ".tmp");
	while (line_next(&t, &pos, &l, &n)) {
		if (n == 0)
			continue;
		if (!vpasswd_split(l, n, &ul, &h, &hl, &q))
			die(EXIT_PERM, "bad line in domains/", d, "/vpasswd");
		if (!lcdb_make_add(&m, l, ul, l + ul + 1, n - ul - 1))
			die_sys(EXIT_TEMP, "unable to write ", fn.s, ".tmp");
	}
	if (!lcdb_make_finish(&m))
		die_file("unable to write ", fn.s);
	(void)close(dfd);	/* only read and fsynced */
	str_free(&fn);
	str_free(&t);
}

/* vpasswd_get - the line of user (without newline) or 0 */
static int
vpasswd_get(const struct addr *x, struct str *line)
{
	struct str fn = STR_ZERO, t = STR_ZERO;
	size_t pos = 0, n;
	const char *l;
	int r = 0;

	readtext(path3(&fn, "domains", x->domain.s, "vpasswd"), &t);
	while (line_next(&t, &pos, &l, &n))
		if (keymatch(l, n, x->user.s, x->user.len, ':')) {
			line->len = 0;
			catb(line, l, n);
			r = 1;
			break;
		}
	str_free(&fn);
	str_free(&t);
	return r;
}

/* vpasswd_put - domains/D/vpasswd without the line of user (NULL:
 * none goes) and with the lines add (NULL: none; the last without its
 * newline) at its end, then its cdb: one write of each, however many
 * lines change */
static void
vpasswd_put(const char *d, const char *user, const struct str *add,
    const struct owner *o)
{
	struct str fn = STR_ZERO, t = STR_ZERO, out = STR_ZERO;

	path3(&fn, "domains", d, "vpasswd");
	readtext(fn.s, &t);
	/* no user: "" matches only the empty lines, which go anyway */
	lines_drop(&t, &out, user ? user : "", user ? strlen(user) : 0,
	    user ? ':' : 0, "");
	if (add) {
		catb(&out, add->s, add->len);
		catx(&out, "\n");
	}
	write_atomic(fn.s, out.s, out.len, 0600, o);
	vpasswd_rebuild(d, o);
	str_free(&fn);
	str_free(&t);
	str_free(&out);
}

/* ---- passwords ---- */

/* read_line_fd - one line from fd, without its newline (the last may
 * lack it), NUL-terminated; 1, 0 at EOF */
static int
read_line_fd(int fd, char *x, size_t size, size_t *n)
{
	char c;
	long r;

	*n = 0;
	for (;;) {
		r = fd_read(fd, &c, 1, 0);
		if (r == -1)
			die_sys(EXIT_TEMP, "unable to read the password");
		if (r == 0) {
			if (*n == 0)
				return 0;
			break;	/* a last line without its newline */
		}
		if (c == '\n')
			break;
		if (*n + 1 >= size)
			die(EXIT_PERM, "password too long");
		x[(*n)++] = c;
	}
	if (*n > 0 && x[*n - 1] == '\r')
		(*n)--;
	x[*n] = 0;
	return 1;
}

static void
wipe(char *p, size_t n)
{
	volatile char *v = p;

	while (n-- > 0)
		*v++ = 0;
}

/* ask - prompt on the terminal with echo off; echo goes off before the
 * prompt appears, so nothing typed after the prompt is echoed or lost */
static void
ask(int tty, const char *prompt, char *x, size_t size)
{
	struct termios old, quiet;
	size_t n;
	int got;

	if (tcgetattr(tty, &old) == -1)
		die_sys(EXIT_TEMP, "unable to read terminal settings");
	quiet = old;
	quiet.c_lflag &= ~(tcflag_t)ECHO;
	quiet.c_lflag |= ECHONL;
	if (tcsetattr(tty, TCSADRAIN, &quiet) == -1)
		die_sys(EXIT_TEMP, "unable to turn off echo");
	if (!fd_writeall(tty, prompt, strlen(prompt), 0))
		die_sys(EXIT_TEMP, "unable to write to the terminal");
	got = read_line_fd(tty, x, size, &n);
	if (tcsetattr(tty, TCSADRAIN, &old) == -1)
		die_sys(EXIT_TEMP, "unable to restore terminal settings");
	if (!got)
		die(EXIT_PERM, "no password given");
}

/* min_length - control/minpasswordlength, 1 without it */
static unsigned long
min_length(void)
{
	unsigned long min = 1;

	if (control_readulong("control/minpasswordlength", &min) == -1)
		die_sys(EXIT_TEMP, "unable to read control/minpasswordlength");
	return min;
}

/* get_password - from standard input (--stdin) or twice from the
 * terminal; checked against the rules of pwrule.h for login */
static void
get_password(const struct opts *op, char *pw, size_t size, const char *login)
{
	const char *why;

	char again[VPASSWD_PASSMAX + 2];
	unsigned long min = min_length();
	size_t n;
	int tty;

	if (op->use_stdin) {
		if (!read_line_fd(0, pw, size, &n))
			die(EXIT_PERM, "no password on standard input");
	} else {
		tty = open("/dev/tty", O_RDWR | O_NOCTTY | O_CLOEXEC);
		if (tty == -1)
			die_sys(EXIT_PERM, "no terminal to ask for the password"
			    " (give it on standard input with --stdin)");
		ask(tty, "New password: ", pw, size);
		ask(tty, "Same password again: ", again, sizeof again);
		(void)close(tty);	/* read only what we needed */
		if (strcmp(pw, again) != 0) {
			wipe(again, sizeof again);
			die(EXIT_PERM, "the two passwords differ; nothing changed");
		}
		wipe(again, sizeof again);
	}
	if (op->use_stdin && strlen(pw) != n)
		die(EXIT_PERM, "the password holds a NUL byte; nothing changed");
	n = strlen(pw);
	if ((why = pwrule_check(pw, n, login, min)) != NULL) {
		wipe(pw, size);
		die(EXIT_PERM, "password refused: ", why, "; nothing changed");
	}
}

/* line_set - user:hash:quota, then tail: the fields after the quota
 * from their colon on, which vpasswd(5) keeps */
static void
line_set(struct str *line, const struct addr *x, const char *h, size_t hl,
    unsigned long quota, const char *tail, size_t tl)
{
	line->len = 0;
	catx(line, x->user.s);
	catx(line, ":");
	catb(line, h, hl);
	catx(line, ":");
	if (quota && !str_catulong(line, quota))
		die_nomem();
	catb(line, tail, tl);
}

/* make_line - user:hash:quota with a new hash of pw, then tail */
static void
make_line(const struct addr *x, const char *pw, unsigned long quota,
    const char *tail, size_t tl, struct str *line)
{
	struct str h = STR_ZERO;

	if (!vpasswd_hash(pw, &h))
		die_sys(EXIT_TEMP, "unable to hash the password");
	line_set(line, x, h.s, h.len, quota, tail, tl);
	str_free(&h);
}

/* ---- recipients and control files ---- */

/* users/recipients and control/rcpthosts stay, however few lines they
 * keep: a missing users/recipients turns the recipient check of every
 * virtual domain off, a missing control/rcpthosts makes qmail-smtpd take
 * mail for every domain of control/locals and control/virtualdomains.
 * Left without entries, each holds this comment. */
#define RECIPIENTS_NONE "# no address: every virtual domain refuses unknown recipients" \
	" (qmail-users(5)); a missing file would turn that check off\n"
#define RCPTHOSTS_NONE "# no domain: mail from other servers is refused" \
	" (qmail-control(5)); a missing file would mean those of locals and virtualdomains\n"

/* recipients_edit - users/recipients with the addresses of the set add
 * (lower case; NULL: none) at its end, and without the address drop and
 * those of the domain dropdomain: one write, however many change */
static void
recipients_edit(const struct names *add, const char *drop, const char *dropdomain)
{
	struct str t = STR_ZERO, out = STR_ZERO, low = STR_ZERO;
	size_t pos = 0, n, at, i;
	const char *l;

	/* no file and nothing to add: it stays missing, and with it the
	 * administrator's choice of no recipient checks */
	if (readtext("users/recipients", &t) == 0 && !add)
		return;
	out.len = 0;
	while (line_next(&t, &pos, &l, &n)) {
		if (n == 0)
			continue;
		if (drop && n == strlen(drop) && str_caseeqb(l, drop, n))
			continue;
		if (add && names_has(add, lowered(&low, l, n)))
			continue;	/* written again below */
		if (dropdomain) {
			at = str_rchrb(l, n, '@');
			if (at < n && n - at - 1 == strlen(dropdomain) &&
			    str_caseeqb(l + at + 1, dropdomain, n - at - 1))
				continue;
		}
		catb(&out, l, n);
		catx(&out, "\n");
	}
	for (i = 0; add && i < add->n; i++) {
		catx(&out, names_at(add, i));
		catx(&out, "\n");
	}
	if (out.len == 0)
		catx(&out, RECIPIENTS_NONE);
	write_atomic("users/recipients", out.s, out.len, 0644, NULL);
	str_free(&t);
	str_free(&out);
	str_free(&low);
}

/* recipients_add - the address a (lower case) into users/recipients */
static void
recipients_add(const char *a)
{
	struct names one = NAMES_ZERO;

	name_add(&one, a, strlen(a));
	recipients_edit(&one, NULL, NULL);
	names_free(&one);
}

/* cat_ids - "uid:gid" of the vmail user for users/assign */
static void
cat_ids(struct str *s, const struct owner *o)
{
	if (!str_catulong(s, o->auid) || !str_catc(s, ':') ||
	    !str_catulong(s, o->agid))
		die_nomem();
}

/* assign_edit - add or drop the +DOMAIN- line.  qmail-newu reads
 * users/assign up to its first line holding only a dot and ignores the
 * rest: the entry goes before that dot, what follows it stays as it is */
static void
assign_edit(const char *d, int add, const struct owner *o)
{
	struct str t = STR_ZERO, head = STR_ZERO, out = STR_ZERO, key = STR_ZERO;
	size_t pos = 0, n, tail;
	const char *l;

	readtext("users/assign", &t);
	tail = t.len;
	while (line_next(&t, &pos, &l, &n)) {
		if (n == 1 && l[0] == '.') {
			tail = pos;
			break;
		}
		catb(&head, l, n);
		catx(&head, "\n");
	}
	catx(&key, "+");
	catx(&key, d);
	catx(&key, "-");
	lines_drop(&head, &out, key.s, key.len, ':', NULL);
	if (add) {
		catb(&out, key.s, key.len);
		catx(&out, ":");
		catx(&out, auto_users[AUTO_VMAIL]);
		catx(&out, ":");
		cat_ids(&out, o);
		catx(&out, ":");
		catx(&out, auto_home);
		catx(&out, "/domains/");
		catx(&out, d);
		catx(&out, ":-::\n");
	}
	catx(&out, ".\n");
	if (tail < t.len)
		catb(&out, t.s + tail, t.len - tail);
	write_atomic("users/assign", out.s, out.len, 0644, NULL);
	str_free(&t);
	str_free(&head);
	str_free(&out);
	str_free(&key);
}

/* control_edit - add "line" to, or drop lines keyed by key from, fn */
static void
control_edit(const char *fn, const char *key, char sep, const char *line)
{
	struct str t = STR_ZERO, out = STR_ZERO;

	readtext(fn, &t);
	lines_drop(&t, &out, key, strlen(key), sep, "");
	if (line) {
		catx(&out, line);
		catx(&out, "\n");
	}
	write_or_remove(fn, out.s, out.len, 0644);
	str_free(&t);
	str_free(&out);
}

/* locals_read - the local domains as qmail-send and qmail-smtpd take
 * them, "a\0b\0": control/locals, or control/me when it is missing,
 * or localhost without either; *from says which */
static void
locals_read(struct str *t, const char **from)
{
	int r;

	*from = "control/locals";
	if ((r = control_readlist("control/locals", t)) == -1)
		die_sys(EXIT_TEMP, "unable to read control/locals");
	if (r == 0) {
		*from = "control/me (control/locals is missing, so control/me is the local domain)";
		if ((r = control_readline("control/me", t)) == -1)
			die_sys(EXIT_TEMP, "unable to read control/me");
		if (r == 0) {
			*from = "localhost (control/locals and control/me are missing)";
			if (!str_copys(t, "localhost"))
				die_nomem();
		}
		if (!str_catc(t, 0))
			die_nomem();
	}
}

/* rcpthosts_default - into out, as lines of control/rcpthosts, what
 * qmail-smtpd takes without that file: the domains of control/locals
 * (else control/me) and those control/virtualdomains maps to a prefix
 * (a ".suffix" entry covers the names below it in both).  0 when no
 * list says the same: a catch-all virtualdomains line takes every
 * domain, and control/morercpthosts.cdb counts only beside the file. */
static int
rcpthosts_default(struct str *out)
{
	struct str t = STR_ZERO;
	size_t i = 0, e, c;
	const char *from;
	int r;

	locals_read(&t, &from);
	while (i < t.len) {
		e = str_chrb(t.s + i, t.len - i, 0);
		if (!lines_find(out, t.s + i, e, 0)) {
			catb(out, t.s + i, e);
			catx(out, "\n");
		}
		i += e + 1;
	}
	if (control_readlist("control/virtualdomains", &t) == -1)
		die_sys(EXIT_TEMP, "unable to read control/virtualdomains");
	for (i = r = 0; i < t.len && r == 0; i += e + 1) {
		e = str_chrb(t.s + i, t.len - i, 0);
		c = str_chrb(t.s + i, e, ':');
		if (c == e || c + 1 == e)
			continue;	/* no prefix: not virtual */
		if (c == 0)
			r = -1;	/* the catch-all */
		else if (str_chrb(t.s + i, c, '@') == c && !lines_find(out, t.s + i, c, 0)) {
			catb(out, t.s + i, c);
			catx(out, "\n");
		}
	}
	str_free(&t);
	return r == 0 && !exists("control/morercpthosts.cdb");
}

/* rcpthosts_edit - add the domain to, or drop it from, control/rcpthosts.
 * A domain add without the file first writes down the default it stood
 * for (see rcpthosts_default), so that nothing taken before is refused
 * after; when the default cannot be written down, the file stays
 * missing, and the default takes the new domain from virtualdomains. */
static void
rcpthosts_edit(const char *d, int add)
{
	struct str t = STR_ZERO, out = STR_ZERO;

	if (readtext("control/rcpthosts", &t) == 0) {
		if (!add || !rcpthosts_default(&t))
			return;
	}
	lines_drop(&t, &out, d, strlen(d), 0, "");
	if (add) {
		catx(&out, d);
		catx(&out, "\n");
	}
	if (out.len == 0)
		catx(&out, RCPTHOSTS_NONE);
	write_atomic("control/rcpthosts", out.s, out.len, 0644, NULL);
	str_free(&t);
	str_free(&out);
}

/* webtotp_drop - the second factor of login forgotten (a deleted
 * postmaster, a deleted domain): a new one of that name starts without */
static void
webtotp_drop(const char *login)
{
	struct str t = STR_ZERO, out = STR_ZERO;

	readtext("users/webtotp", &t);
	if (lines_drop(&t, &out, login, strlen(login), ':', NULL) > 0)
		write_or_remove("users/webtotp", out.s, out.len, 0600);
	str_free(&t);
	str_free(&out);
}

/* ---- domain ---- */

/* vd_next - into d the next domain from *pos on in the text t of
 * control/virtualdomains that qmail-admin manages (a domain name, lower
 * case, with a domains/D/vpasswd); 0 at the end */
static int
vd_next(const struct str *t, size_t *pos, struct str *d)
{
	struct str p = STR_ZERO;
	size_t n, c;
	const char *l;
	int r = 0;

	while (!r && line_next(t, pos, &l, &n)) {
		c = str_chrb(l, n, ':');
		if (c == n || c == 0)
			continue;
		d->len = 0;
		catb(d, l, c);
		nul(d);
		str_lowerb(d->s, d->len);
		r = vpasswd_domain_ok(d->s, d->len) &&
		    exists(path3(&p, "domains", d->s, "vpasswd"));
	}
	str_free(&p);
	return r;
}

/* local_domain - 1 when qmail-send delivers d by local part: it is in
 * control/locals, or control/locals is missing and d is control/me */
static int
local_domain(const char *d, const char **why)
{
	struct str t = STR_ZERO;
	size_t i = 0, e, n = strlen(d);
	int found = 0;

	locals_read(&t, why);
	while (i < t.len) {
		e = str_chrb(t.s + i, t.len - i, 0);
		if (e == n && str_caseeqb(t.s + i, d, n))
			found = 1;
		i += e + 1;
	}
	str_free(&t);
	return found;
}

static void forwards_write(const char *, const char *, const struct str *,
    const struct owner *);

/* pm_alias - postmaster@d made an alias of the system's postmaster
 * (postmaster@ME), unless the name is taken: mail to a domain's
 * postmaster must reach someone (RFC 5321 4.5.1), and qmail-smtpd takes
 * it for every domain.  alias del makes the name free for a mailbox. */
static void
pm_alias(const char *d, const struct owner *o)
{
	struct addr x = { STR_ZERO, STR_ZERO };
	struct str me = STR_ZERO, fn = STR_ZERO, tg = STR_ZERO, full = STR_ZERO;
	int r;

	/* read as qmail-send reads it: comments and trailing blanks are no name */
	if ((r = control_readline("control/me", &me)) == -1)
		die_sys(EXIT_TEMP, "unable to read control/me");
	if (r == 0) {
		warn("no control/me: postmaster@", d, " is no alias of the system's postmaster");
		return;
	}
	catx(&full, "postmaster@");
	catx(&full, d);
	nul(&full);
	parse_addr(full.s, &x);
	if (!exists(dotqmail(&fn, &x)) && !vpasswd_get(&x, &tg)) {
		tg.len = 0;
		catx(&tg, "postmaster@");
		catb(&tg, me.s, me.len);
		catb(&tg, "", 1);
		recipients_add(full.s);
		forwards_write(fn.s, ALIAS_MARK, &tg, o);
	}
	str_free(&me);
	str_free(&fn);
	str_free(&tg);
	str_free(&full);
}

/* pm_default - the file fn is what pm_alias writes */
static int
pm_default(const char *fn)
{
	struct str t = STR_ZERO;
	const char *head = ALIAS_MARK "&postmaster@";
	int r = readtext(fn, &t) && t.len > strlen(head) && !memcmp(t.s, head, strlen(head)) &&
	    str_chrb(t.s + strlen(head), t.len - strlen(head), '\n') == t.len - strlen(head) - 1;

	str_free(&t);
	return r;
}

/* pm_take - postmaster@D is about to become a mailbox, alias or list:
 * the alias pm_alias made goes first */
static void
pm_take(const struct addr *x)
{
	struct str fn = STR_ZERO;

	if (str_equal(x->user.s, "postmaster") && pm_default(dotqmail(&fn, x)) &&
	    remove_file(fn.s))
		warn("postmaster@", x->domain.s, " is no longer the system's postmaster's alias");
	str_free(&fn);
}

/* domain_fresh - domains/D holds what domain add makes and nothing else
 * (an empty vpasswd and its cdb): what an add that stopped before
 * control/virtualdomains left */
static int
domain_fresh(const char *d)
{
	struct str p = STR_ZERO, t = STR_ZERO, q = STR_ZERO;
	struct dirent *e;
	DIR *dir;
	int fresh = 1;

	if ((dir = dir_list(path3(&p, "domains", d, NULL))) == NULL) {
		if (errno == ENOTDIR || errno == ELOOP)
			return 0;
		die_file("unable to read ", p.s);
	}
	while ((errno = 0, e = readdir(dir)) != NULL)
		if (!str_equal(e->d_name, ".") && !str_equal(e->d_name, "..") &&
		    !str_start(e->d_name, "vpasswd") && !(str_equal(e->d_name,
		    ".qmail-postmaster") && pm_default(path3(&q, "domains", d, e->d_name))))
			fresh = 0;
	if (errno)
		die_file("unable to read ", p.s);
	(void)closedir(dir);	/* read-only */
	if (fresh && readtext(path3(&p, "domains", d, "vpasswd"), &t) != 1)
		fresh = 0;
	if (t.len > 0)
		fresh = 0;
	str_free(&p);
	str_free(&t);
	str_free(&q);
	return fresh;
}

/* prefix_clash - d refused when it and a domain here are one the other
 * followed by a hyphen and more (shop.de, shop.de-luxe.com): mail to
 * luxe.com-info@shop.de has the local part shop.de-luxe.com-info, and
 * users/assign takes the longest prefix, +shop.de-luxe.com-, so that it
 * would reach info@shop.de-luxe.com */
static void
prefix_clash(const char *d)
{
	struct str t = STR_ZERO, e = STR_ZERO;
	size_t pos = 0, dl = strlen(d);

	readtext("control/virtualdomains", &t);
	while (vd_next(&t, &pos, &e)) {
		if (e.len + 1 < dl && !memcmp(d, e.s, e.len) && d[e.len] == '-')
			die(EXIT_PERM, "refused: ", d, " is the domain ", e.s,
			    " here, a hyphen and more: mail to ", d + e.len + 1,
			    "-USER@", e.s, " would go to USER@", d);
		if (dl + 1 < e.len && !memcmp(e.s, d, dl) && e.s[dl] == '-')
			die(EXIT_PERM, "refused: the domain ", e.s, " here is ", d,
			    ", a hyphen and more: mail to ", e.s + dl + 1, "-USER@",
			    d, " would go to USER@", e.s);
	}
	str_free(&t);
	str_free(&e);
}

/* domain_add - the directory, the users/assign entry, control/rcpthosts,
 * and last control/virtualdomains, which makes it a domain: an add that
 * stopped before that is finished by running it again */
static void
domain_add(const char *d, const struct owner *o)
{
	struct str t = STR_ZERO, tmp = STR_ZERO, p = STR_ZERO, l = STR_ZERO;
	const char *why;
	int fd;

	check_domain(d);
	readtext("control/virtualdomains", &t);
	if (lines_find(&t, d, strlen(d), ':'))
		die(EXIT_PERM, "domain exists already: ", d);
	if (local_domain(d, &why))
		die(EXIT_PERM, d, " is local by ", why, ": make it local nowhere first");
	prefix_clash(d);
	if (!exists(path3(&p, "domains", d, NULL))) {
		/* the directory appears whole, with an empty vpasswd and its cdb */
		path3(&tmp, "domains", ".new", NULL);
		if (exists(tmp.s))
			rm_tree(tmp.s);
		fd = mkdir_owned(tmp.s, 0750, o, 0);
		write_atomic(path3(&p, "domains", ".new", "vpasswd"), "", 0, 0600, o);
		vpasswd_rebuild(".new", o);
		(void)close(fd);	/* fsynced by the writes in it */
		path3(&p, "domains", d, NULL);
		if (rename(tmp.s, p.s) == -1 || fsync_dir_of(p.s) == -1)
			die_file("unable to create ", p.s);
	} else if (domain_fresh(d)) {
		warn("finishing the domain add of ", d, " that stopped part way");
		vpasswd_rebuild(d, o);
	} else
		die(EXIT_PERM, "domains/", d, " exists already; move it away first");

	assign_edit(d, 1, o);
	rcpthosts_edit(d, 1);
	catx(&l, d);
	catx(&l, ":");
	catx(&l, d);
	nul(&l);
	pm_alias(d, o);
	control_edit("control/virtualdomains", d, ':', l.s);
	newu();
	hup_send();
	str_free(&t);
	str_free(&tmp);
	str_free(&p);
	str_free(&l);
}

/* domain_used - 1 when the domain still has mailboxes, aliases or lists
 * (the postmaster alias domain add made does not count) */
static int
domain_used(const char *d)
{
	struct str p = STR_ZERO, t = STR_ZERO;
	DIR *dir;
	struct dirent *e;
	int used = 0;

	readtext(path3(&p, "domains", d, "vpasswd"), &t);
	if (t.len > 0)
		used = 1;
	if ((dir = dir_list(path3(&p, "domains", d, NULL))) != NULL) {
		while ((e = readdir(dir)) != NULL)
			if (str_start(e->d_name, ".qmail-") && !(str_equal(e->d_name,
			    ".qmail-postmaster") && pm_default(path3(&t, "domains", d,
			    e->d_name))))
				used = 1;
		(void)closedir(dir);	/* read-only */
	} else if (errno != ENOENT)
		die_file("unable to read ", p.s);
	str_free(&p);
	str_free(&t);
	return used;
}

/* set_aside - the entry name of the directory dir renamed to as in
 * it, and dir synced: gone from its place at once, whatever its removal
 * then meets (mail being written into it, a file that will not go);
 * deleted_sweep removes it.  0, or -1 with errno */
static int
set_aside(const char *dir, const char *name, const char *as)
{
	int dfd, r = 0;

	if ((dfd = dir_open(dir)) == -1)
		return -1;
	if (renameat(dfd, name, dfd, as) == -1 || fsync(dfd) == -1)
		r = -1;
	close_keep(dfd);
	return r;
}

/* deleted_sweep - every .deleted.* in dir removed: what this del set
 * aside, and what one that stopped part way left */
static void
deleted_sweep(const char *dir)
{
	struct str p = STR_ZERO;
	struct dirent *e;
	DIR *d;

	if ((d = dir_list(dir)) == NULL)
		die_file("unable to read ", dir);
	while ((errno = 0, e = readdir(d)) != NULL)
		if (str_start(e->d_name, ".deleted."))
			rm_tree(path3(&p, dir, e->d_name, NULL));
	if (errno)
		die_file("unable to read ", dir);
	(void)closedir(d);	/* read-only */
	str_free(&p);
}

static void
domain_del(const char *d, const struct opts *op, const struct owner *o)
{
	struct str p = STR_ZERO, gone = STR_ZERO;
	char num[FMT_ULONG];

	check_domain(d);
	/* a del that stopped part way dropped the virtualdomains line and
	 * left the directory: it is still one to finish */
	if (!is_domain(d) && !exists(path3(&p, "domains", d, "vpasswd")))
		die(EXIT_PERM, "no such virtual domain: ", d);
	if (!op->force && domain_used(d))
		die(EXIT_PERM, d, " still has mailboxes, aliases or lists "
		    "(delete them first, or use --force)");
	/* first nobody routes mail there, then it goes */
	control_edit("control/virtualdomains", d, ':', NULL);
	rcpthosts_edit(d, 0);
	assign_edit(d, 0, o);
	recipients_edit(NULL, NULL, d);
	newu();
	hup_send();
	/* its postmaster's second factor for the web pages goes with it */
	catx(&p, "postmaster@");
	catx(&p, d);
	nul(&p);
	webtotp_drop(p.s);
	catx(&gone, ".deleted.");
	catb(&gone, num, fmt_ulong(num, (unsigned long)getpid()));
	nul(&gone);
	if (set_aside("domains", d, gone.s) == -1)
		die_sys(EXIT_TEMP, "unable to remove ", path3(&p, "domains", d, NULL));
	deleted_sweep("domains");
	/* DKIM keys are not made again: their public half is in DNS, and
	 * the domain may come back or still send through here; they stay */
	if (exists(path3(&p, "control/dkim", d, NULL)))
		warn("control/dkim/", d, " still holds the domain's DKIM keys, and "
		    "qmail-dkim signs its mail with them: remove the directory "
		    "when the domain's mail no longer leaves from here");
	str_free(&p);
	str_free(&gone);
}

static void
domain_list(void)
{
	struct str t = STR_ZERO, out = STR_ZERO, d = STR_ZERO;
	size_t pos = 0;

	readtext("control/virtualdomains", &t);
	while (vd_next(&t, &pos, &d)) {
		catx(&out, d.s);
		catx(&out, "\n");
	}
	put_out(&out);
}

/* ---- user ---- */

/* mailbox_line - the .qmail-USER of a mailbox: ./USER/Maildir/ */
static void
mailbox_line(struct str *q, const struct addr *x)
{
	q->len = 0;
	catx(q, "./");
	catx(q, x->user.s);
	catx(q, "/Maildir/\n");
}

/* leftover - for a name without a vpasswd line, what a user add that
 * stopped part way leaves: .qmail-USER holding exactly the mailbox line
 * (*dq 1) or none (*dq 0), and USER/ with Maildir/tmp, new and cur (*box
 * 1; no link among them) or none (*box 0).  1 when that is all there
 * is; -1 when .qmail-USER is something else (an alias or a list), -2
 * when USER/ is no such mailbox */
static int
leftover(const struct addr *x, int *dq, int *box)
{
	static const char *const sub[] = { "", "/Maildir", "/Maildir/tmp",
	    "/Maildir/new", "/Maildir/cur" };
	struct str p = STR_ZERO, t = STR_ZERO, q = STR_ZERO;
	struct stat st;
	size_t i;
	int r = 1;

	*dq = readtext(dotqmail(&p, x), &t);
	mailbox_line(&q, x);
	if (*dq && !(t.len == q.len && memcmp(t.s, q.s, q.len) == 0))
		r = -1;
	*box = exists(path3(&p, "domains", x->domain.s, x->user.s));
	for (i = 0; r == 1 && *box && i < sizeof sub / sizeof sub[0]; i++) {
		path3(&p, "domains", x->domain.s, x->user.s);
		catx(&p, sub[i]);
		nul(&p);
		if (stat_nofollow(p.s, &st) == -1 || !S_ISDIR(st.st_mode))
			r = -2;
	}
	str_free(&p);
	str_free(&t);
	str_free(&q);
	return r;
}

/* fsync_close - a directory made durable (its entries; with sync 0
 * the caller does that later), then closed */
static void
fsync_close(int fd, const char *fn, int sync)
{
	if ((sync && fsync(fd) == -1) || close(fd) == -1)
		die_file("unable to sync ", fn);
}

/* domain_dir - domains/D open (its path into p) */
static int
domain_dir(struct str *p, const char *d)
{
	int fd;

	if ((fd = dir_open(path3(p, "domains", d, NULL))) == -1)
		die_file("unable to open ", p->s);
	return fd;
}

/* quota_write - Maildir++: the limit in the first line of maildirsize,
 * the file fn (synced as write_file says); no quota, no file */
static void
quota_write(const char *fn, unsigned long quota, const struct owner *o, int sync)
{
	struct str q = STR_ZERO;

	if (!quota)
		return;
	if (!str_catulong(&q, quota))
		die_nomem();
	catx(&q, "S\n");
	write_file(fn, q.s, q.len, 0600, o, sync);
	str_free(&q);
}

/* new_name - .new-USER, the name a mailbox is built under */
static const char *
new_name(struct str *s, const struct addr *x)
{
	s->len = 0;
	catx(s, ".new-");
	catx(s, x->user.s);
	nul(s);
	return s->s;
}

/* mailbox_make - domains/D/USER/ with Maildir/tmp, new and cur (and the
 * Maildir++ quota): built under .new-USER, every directory in it
 * fsynced, then renamed into place and the domain directory fsynced, so
 * the mailbox appears whole and stays after a crash.  With sync 0 it
 * is left as .new-USER, nothing synced: user import syncs all it built
 * at once, then renames. */
static void
mailbox_make(const struct addr *x, unsigned long quota, const struct owner *o,
    int sync)
{
	static const char *const sub[] = { "tmp", "new", "cur" };
	struct str tmp = STR_ZERO, p = STR_ZERO, name = STR_ZERO, dir = STR_ZERO;
	size_t i;
	int dfd, bfd, mfd;

	path3(&tmp, "domains", x->domain.s, new_name(&name, x));
	dfd = domain_dir(&dir, x->domain.s);
	if (rm_at(dfd, name.s) == -1)	/* what a stopped add left */
		die_file("unable to remove ", tmp.s);
	bfd = mkdir_at(dfd, name.s, tmp.s, 0750, o, 0);
	mfd = mkdir_at(bfd, "Maildir", path3(&p, tmp.s, "Maildir", NULL), 0700, o, 0);
	for (i = 0; i < 3; i++)
		fsync_close(mkdir_at(mfd, sub[i], path3(&p, tmp.s, "Maildir", sub[i]),
		    0700, o, 0), p.s, sync);
	quota_write(path3(&p, tmp.s, "Maildir", "maildirsize"), quota, o, sync);
	fsync_close(mfd, path3(&p, tmp.s, "Maildir", NULL), sync);
	fsync_close(bfd, tmp.s, sync);
	if (sync && renameat(dfd, name.s, dfd, x->user.s) == -1)
		die_file("unable to create ", path3(&p, dir.s, x->user.s, NULL));
	fsync_close(dfd, dir.s, sync);
	str_free(&tmp);
	str_free(&p);
	str_free(&name);
	str_free(&dir);
}

/* set_maildirsize - the Maildir++ quota line of x (usage is recounted
 * by whoever reads it next); no quota, no file */
static void
set_maildirsize(const struct addr *x, unsigned long quota, const struct owner *o)
{
	struct str p = STR_ZERO;

	path3(&p, "domains", x->domain.s, x->user.s);
	catx(&p, "/Maildir/maildirsize");
	nul(&p);
	(void)remove_file(p.s);	/* the old usage lines go with it */
	quota_write(p.s, quota, o, 1);
	str_free(&p);
}

/* name_free - what has the name of the new mailbox x is at most a
 * stopped add's leftover (see leftover).  The alias of the system's
 * postmaster that domain add made counts as free: pm_take removes it
 * first. */
static void
name_free(const struct addr *x, const char *a, int *dq, int *box)
{
	struct str p = STR_ZERO;

	*dq = *box = 0;
	if (!str_equal(x->user.s, "postmaster") || !pm_default(dotqmail(&p, x)))
		switch (leftover(x, dq, box)) {
		case -1:
			die(EXIT_PERM, at_line, "address exists already (an alias or list): ", a);
		case -2:
			die(EXIT_PERM, at_line, path3(&p, "domains", x->domain.s, x->user.s),
			    " exists already; move it away first");
		}
	str_free(&p);
}

/* user_free - user add's checks: the domain is ours, the name no
 * mailbox, and free (see name_free) */
static void
user_free(const struct addr *x, const char *a, int *dq, int *box)
{
	struct str line = STR_ZERO;

	need_domain(x->domain.s);
	if (vpasswd_get(x, &line))
		die(EXIT_PERM, "mailbox exists already: ", a);
	name_free(x, a, dq, box);
	str_free(&line);
}

/* user_add - the mailbox, its .qmail file, the address in
 * users/recipients, and last the vpasswd line.  An add that stopped
 * part way (exit 111) leaves no vpasswd line; run again, it takes what
 * is there and finishes. */
static void
user_add(const char *a, const struct opts *op, const struct owner *o)
{
	struct addr x = { STR_ZERO, STR_ZERO };
	struct str line = STR_ZERO, p = STR_ZERO, q = STR_ZERO, full = STR_ZERO;
	char pw[VPASSWD_PASSMAX + 2];
	unsigned long quota = op->have_quota ? op->quota : 0;
	int dq, box;

	parse_addr(a, &x);
	check_new_name(&x);
	user_free(&x, a, &dq, &box);
	get_password(op, pw, sizeof pw, a);
	/* the lock only now, so that an administrator at the password
	 * prompt holds up no other run; the checks again under it */
	lock();
	pm_take(&x);
	user_free(&x, a, &dq, &box);
	make_line(&x, pw, quota, "", 0, &line);
	wipe(pw, sizeof pw);
	if (dq || box)
		warn("finishing the user add of ", a, " that stopped part way");

	if (!box)
		mailbox_make(&x, quota, o, 1);
	else
		set_maildirsize(&x, quota, o);
	if (!dq) {
		mailbox_line(&q, &x);
		write_atomic(dotqmail(&p, &x), q.s, q.len, 0600, o);
	}
	recipients_add(addr_full(&full, &x));
	vpasswd_put(x.domain.s, x.user.s, &line, o);
	newu();
}

/* ---- user import ---- */

/* a mailbox of user import */
struct imp {
	struct addr x;
	struct str line;	/* the password, then the vpasswd line */
	int dq, box;	/* what a stopped add left (see leftover) */
};

/* imp_domain - the first time import meets the domain of x: it must
 * be ours, and its mailboxes go into have (as user@domain) */
static void
imp_domain(const struct addr *x, struct names *doms, struct names *have)
{
	struct str p = STR_ZERO, t = STR_ZERO, k = STR_ZERO;
	const char *d = x->domain.s, *l, *h;
	size_t pos = 0, n, ul, hl;
	unsigned long q;

	if (names_has(doms, d))
		return;
	need_domain(d);
	name_add(doms, d, x->domain.len);
	readtext(path3(&p, "domains", d, "vpasswd"), &t);
	while (line_next(&t, &pos, &l, &n)) {
		if (n == 0)
			continue;
		if (!vpasswd_split(l, n, &ul, &h, &hl, &q))
			die(EXIT_PERM, "bad line in domains/", d, "/vpasswd");
		k.len = 0;
		catb(&k, l, ul);
		str_lowerb(k.s, k.len);
		catx(&k, "@");
		catx(&k, d);
		name_add(have, k.s, k.len);
	}
	str_free(&p);
	str_free(&t);
	str_free(&k);
}

/* imp_line - line n (l[0..len) without its newline) of the input: into
 * e, checked as user add checks, the password by the rules of pwrule.h
 * (with --hashed: a crypt(3) hash of a method qmail-auth checks).  0
 * for an empty line or a comment. */
static int
imp_line(unsigned long n, const char *l, size_t len, struct imp *e,
    const struct opts *op, unsigned long min, struct names *doms,
    struct names *have, struct names *seen)
{
	struct str a = STR_ZERO;
	const char *why = NULL, *h;
	size_t sp, pw, ul, hl;
	unsigned long q;

	memcpy(at_line, "line ", 5);
	memcpy(at_line + 5 + fmt_ulong(at_line + 5, n), ": ", 3);
	if (len > 0 && l[len - 1] == '\r')
		len--;
	if (len == 0 || l[0] == '#')
		return 0;
	for (sp = 0; sp < len && l[sp] != ' ' && l[sp] != '\t'; sp++)
		;
	for (pw = sp; pw < len && (l[pw] == ' ' || l[pw] == '\t'); pw++)
		;
	if (pw == len || str_chrb(l, len, 0) < len)
		die(EXIT_PERM, at_line, "want an address, blanks, and a password",
		    op->hashed ? " hash" : "");
	if (len - pw > VPASSWD_PASSMAX)
		die(EXIT_PERM, at_line, "password too long");
	a.len = 0;
	catb(&a, l, sp);
	nul(&a);
	parse_addr(a.s, &e->x);
	check_new_name(&e->x);
	addr_full(&a, &e->x);
	if (names_has(seen, a.s))
		die(EXIT_PERM, at_line, a.s, " is on an earlier line too");
	name_add(seen, a.s, a.len);
	imp_domain(&e->x, doms, have);
	if (names_has(have, a.s))
		die(EXIT_PERM, at_line, "mailbox exists already: ", a.s);
	name_free(&e->x, a.s, &e->dq, &e->box);
	e->line.len = 0;
	catb(&e->line, l + pw, len - pw);
	nul(&e->line);
	if (!op->hashed)
		why = pwrule_check(e->line.s, e->line.len, a.s, min);
	else if (!vpasswd_usable(e->line.s))
		why = "of a method this build cannot check (see vpasswd(5))";
	else {
		line_set(&a, &e->x, l + pw, len - pw, op->quota, "", 0);
		if (!vpasswd_split(a.s, a.len, &ul, &h, &hl, &q))
			why = "not a crypt(3) hash";
		str_free(&e->line);
		e->line = a;
		a = (struct str)STR_ZERO;
	}
	if (why)
		die(EXIT_PERM, at_line, op->hashed ? "hash" : "password", " refused: ", why);
	str_free(&a);
	return 1;
}

/* user_import - a mailbox for each line "ADDRESS PASSWORD" of standard
 * input (with --hashed, "ADDRESS HASH"), every line checked before
 * anything is written; then each file written once, not once per
 * mailbox: the mailboxes and their .qmail files are made under
 * temporary names and all synced at once (sync(2), where one fsync(2)
 * per file would wait for the disk thousands of times), then renamed
 * into place and their directories synced; then users/recipients, each
 * domain's vpasswd and its cdb, and one qmail-newu.  An import that
 * stops before the vpasswd files leaves for each mailbox what a stopped
 * user add leaves: running it again finishes it. */
static void
user_import(const struct opts *op, const struct owner *o)
{
	static const struct imp none;
	struct names doms = NAMES_ZERO, have = NAMES_ZERO, seen = NAMES_ZERO;
	struct str t = STR_ZERO, p = STR_ZERO, q = STR_ZERO;
	struct imp *v = NULL, *e;
	size_t pos = 0, len, k, i, cnt = 0, cap = 0, left = 0;
	unsigned long n = 0, min = min_length();
	char num[FMT_ULONG + 1];
	const char *l, *d;
	int dfd;

	/* op->quota: 0 without --quota */
	slurp(0, &t, "standard input");
	lock();
	while (line_next(&t, &pos, &l, &len)) {
		if (cnt == cap) {
			cap = cap ? cap * 2 : 64;
			if (cap > ((size_t)-1) / 2 / sizeof *v ||
			    (e = realloc(v, cap * sizeof *v)) == NULL)
				die_nomem();
			v = e;
		}
		v[cnt] = none;
		if (imp_line(++n, l, len, &v[cnt], op, min, &doms, &have, &seen)) {
			if (v[cnt].dq || v[cnt].box)
				left++;
			cnt++;
		}
	}
	wipe(t.s, t.len);	/* the passwords */
	str_free(&t);
	at_line[0] = 0;
	if (cnt == 0)
		die(EXIT_PERM, "no mailbox on standard input");
	if (left > 0) {
		num[fmt_ulong(num, left)] = 0;
		warn("finishing ", num, " mailboxes that a user add or import "
		    "which stopped part way left");
	}

	/* the hashes, the slow part (by design of crypt(3)), once all is checked */
	for (k = 0; k < cnt && !op->hashed; k++) {
		struct str pw;

		e = &v[k];
		make_line(&e->x, e->line.s, op->quota, "", 0, &q);
		wipe(e->line.s, e->line.len);
		pw = e->line;	/* its buffer for the next hash */
		e->line = q;
		q = pw;
	}
	for (k = 0; k < cnt; k++) {
		e = &v[k];
		pm_take(&e->x);
		if (!e->box)
			mailbox_make(&e->x, op->quota, o, 0);
		else
			set_maildirsize(&e->x, op->quota, o);
		if (!e->dq) {
			mailbox_line(&q, &e->x);
			dotqmail(&p, &e->x);
			catx(&p, ".tmp");
			nul(&p);
			write_file(p.s, q.s, q.len, 0600, o, 0);
		}
	}
	sync();	/* every file and directory made above is on disk */
	for (k = 0; k < cnt; k++) {
		e = &v[k];
		dfd = domain_dir(&t, e->x.domain.s);
		if (!e->box && renameat(dfd, new_name(&q, &e->x), dfd, e->x.user.s) == -1)
			die_file("unable to create ", path3(&p, t.s, e->x.user.s, NULL));
		/* .qmail-USER.tmp to .qmail-USER */
		l = dotqmail(&p, &e->x) + t.len + 1;
		q.len = 0;
		catx(&q, l);
		catx(&q, ".tmp");
		nul(&q);
		if (!e->dq && renameat(dfd, q.s, dfd, l) == -1)
			die_file("unable to create ", p.s);
		fsync_close(dfd, t.s, 0);
	}
	for (i = 0; i < doms.n; i++)
		fsync_close(domain_dir(&p, names_at(&doms, i)), p.s, 1);
	recipients_edit(&seen, NULL, NULL);
	for (i = 0; i < doms.n; i++) {
		d = names_at(&doms, i);
		t.len = 0;
		for (k = 0; k < cnt; k++)
			if (str_equal(v[k].x.domain.s, d)) {
				if (t.len > 0)
					catx(&t, "\n");
				catb(&t, v[k].line.s, v[k].line.len);
			}
		vpasswd_put(d, NULL, &t, o);
	}
	newu();
}

/* user_del - the address out of users/recipients (no new mail), the
 * .qmail file (no delivery), the mailbox renamed to .deleted.USER in
 * the domain directory (gone from its place at once, whatever its
 * removal meets: mail being written into it, a file that will not go),
 * the password, and last the renamed mailbox removed.  A del that stops
 * part way is finished by running it again: before the password went
 * it finds the vpasswd line, after it the renamed mailbox.  What a
 * stopped user add left (see leftover) goes the same way. */
static void
user_del(const char *a, const struct owner *o)
{
	struct addr x = { STR_ZERO, STR_ZERO };
	struct str line = STR_ZERO, p = STR_ZERO, full = STR_ZERO;
	struct str dir = STR_ZERO, aside = STR_ZERO;
	int have, dq = 0, box = 0, left = 1, was_aside;

	parse_addr(a, &x);
	need_domain(x.domain.s);
	path3(&dir, "domains", x.domain.s, NULL);
	catx(&aside, ".deleted.");
	catx(&aside, x.user.s);
	nul(&aside);
	if (!(have = vpasswd_get(&x, &line)))
		left = leftover(&x, &dq, &box);
	was_aside = exists(path3(&p, dir.s, aside.s, NULL));
	if (!have && (left != 1 || (!dq && !box && !was_aside)))
		die(EXIT_PERM, "no such mailbox: ", a);
	if (!have && !dq && !box)
		warn("finishing the user del of ", a, " that stopped part way");
	/* what dels before this one set aside: the name is free again */
	deleted_sweep(dir.s);
	addr_full(&full, &x);
	recipients_edit(NULL, full.s, NULL);
	newu();
	(void)remove_file(dotqmail(&p, &x));
	if (set_aside(dir.s, x.user.s, aside.s) == -1 && errno != ENOENT)
		die_sys(EXIT_TEMP, "unable to rename ", path3(&p, dir.s,
		    x.user.s, NULL), " to ", aside.s);
	if (have)
		vpasswd_put(x.domain.s, x.user.s, NULL, o);
	if (str_equal(x.user.s, "postmaster")) {
		webtotp_drop(full.s);	/* the web pages' second factor of it */
		pm_alias(x.domain.s, o);	/* it must still reach someone */
		newu();
	}
	deleted_sweep(dir.s);
}

/* a mailbox's vpasswd line and where its fields are */
struct vline {
	struct str line;
	const char *hash;
	size_t hlen;
	size_t tail;	/* the fields after the quota, at their colon */
	unsigned long quota;
};

/* user_get - the vpasswd line of the mailbox x (a in messages) */
static void
user_get(const struct addr *x, const char *a, struct vline *v)
{
	size_t ul;

	need_domain(x->domain.s);
	if (!vpasswd_get(x, &v->line))
		die(EXIT_PERM, "no such mailbox: ", a);
	if (!vpasswd_split(v->line.s, v->line.len, &ul, &v->hash, &v->hlen,
	    &v->quota))
		die(EXIT_PERM, "bad line for ", a, " in vpasswd");
	/* user:hash[:quota[:more]] */
	v->tail = ul + 1 + v->hlen;
	if (v->tail < v->line.len) {
		v->tail++;
		v->tail += str_chrb(v->line.s + v->tail, v->line.len - v->tail, ':');
	}
}

/* maildir_reachable - the Maildir a quota goes into is there, and no
 * link on the way, before anything changes */
static void
maildir_reachable(const struct addr *x)
{
	struct str md = STR_ZERO;
	int fd;

	path3(&md, "domains", x->domain.s, x->user.s);
	catx(&md, "/Maildir");
	nul(&md);
	if ((fd = dir_open(md.s)) == -1)
		die_file("unable to open ", md.s);
	(void)close(fd);	/* only checked */
	str_free(&md);
}

static void
user_passwd(const char *a, const struct opts *op, const struct owner *o)
{
	struct addr x = { STR_ZERO, STR_ZERO };
	struct vline v = { STR_ZERO, NULL, 0, 0, 0 };
	struct str line = STR_ZERO;
	char pw[VPASSWD_PASSMAX + 2];

	parse_addr(a, &x);
	user_get(&x, a, &v);
	if (op->have_quota)
		maildir_reachable(&x);
	get_password(op, pw, sizeof pw, a);
	/* the lock only now (see user_add): the mailbox may have gone, or
	 * its line changed, meanwhile */
	lock();
	user_get(&x, a, &v);
	if (op->have_quota)
		maildir_reachable(&x);
	make_line(&x, pw, op->have_quota ? op->quota : v.quota,
	    v.line.s + v.tail, v.line.len - v.tail, &line);
	wipe(pw, sizeof pw);
	vpasswd_put(x.domain.s, x.user.s, &line, o);
	if (op->have_quota)
		set_maildirsize(&x, op->quota, o);
	str_free(&v.line);
	str_free(&line);
}

/* user_quota - a new quota (0: none), the password and the other
 * fields of the line kept */
static void
user_quota(const char *a, const char *bytes, const struct owner *o)
{
	struct addr x = { STR_ZERO, STR_ZERO };
	struct vline v = { STR_ZERO, NULL, 0, 0, 0 };
	struct str line = STR_ZERO;
	unsigned long quota;

	if (!scan_ulong(bytes, strlen(bytes), &quota))
		die(EXIT_PERM, "the quota is a number of bytes (0: none): ", bytes);
	parse_addr(a, &x);
	user_get(&x, a, &v);
	maildir_reachable(&x);
	line_set(&line, &x, v.hash, v.hlen, quota, v.line.s + v.tail,
	    v.line.len - v.tail);
	vpasswd_put(x.domain.s, x.user.s, &line, o);
	set_maildirsize(&x, quota, o);
	str_free(&v.line);
	str_free(&line);
}

static void
user_list(const char *d)
{
	struct str fn = STR_ZERO, t = STR_ZERO, out = STR_ZERO;
	size_t pos = 0, n, ul, hl;
	const char *l, *h;
	unsigned long q;
	struct str md = STR_ZERO;
	struct maildir_quota mq;
	int fd;

	check_domain(d);
	need_domain(d);
	readtext(path3(&fn, "domains", d, "vpasswd"), &t);
	while (line_next(&t, &pos, &l, &n)) {
		if (n == 0 || !vpasswd_split(l, n, &ul, &h, &hl, &q))
			continue;
		catb(&out, l, ul);
		catx(&out, "@");
		catx(&out, d);
		if (q) {
			catx(&out, " quota=");
			if (!str_catulong(&out, q))
				die_nomem();
			/* Maildir++ usage, read only: the delivery keeps the file */
			md.len = 0;
			catx(&md, "domains/");
			catx(&md, d);
			catx(&md, "/");
			catb(&md, l, ul);
			catx(&md, "/Maildir");
			nul(&md);
			/* not through a link the vmail user left (a mailbox
			 * directory that is one) */
			if ((fd = dir_open(md.s)) != -1 && close(fd) == 0 &&
			    maildir_quota_read(md.s, &mq) == 1 && mq.bytes >= 0 && mq.count >= 0) {
				catx(&out, " used=");
				if (!str_catulong(&out, (unsigned long)mq.bytes))
					die_nomem();
			}
		}
		catx(&out, "\n");
	}
	put_out(&out);
	str_free(&md);
}

/* ---- aliases and lists: .qmail files of forwards ---- */

/* check_target - a forwarding address: user@domain, printable, no blanks */
static void
check_target(const char *t)
{
	size_t i, n = strlen(t), at = str_rchrb(t, n, '@');

	if (n == 0 || n > 512 || at == 0 || at >= n - 1 || t[0] == '&' ||
	    t[0] == '|' || t[0] == '/' || t[0] == '.' || t[0] == '#')
		die(EXIT_PERM, "not an address (user@domain): ", t);
	for (i = 0; i < n; i++)
		if (t[i] <= ' ' || t[i] > '~')
			die(EXIT_PERM, "not an address (user@domain): ", t);
}

/* forwards_read - the kind mark and the targets (NUL-separated) of a
 * .qmail file; 0 when missing */
static int
forwards_read(const char *fn, const char *mark, struct str *targets)
{
	struct str t = STR_ZERO;
	size_t pos = 0, n;
	const char *l;

	targets->len = 0;
	if (!readtext(fn, &t))
		return 0;
	if (t.len < strlen(mark) || memcmp(t.s, mark, strlen(mark)) != 0)
		return -1;
	while (line_next(&t, &pos, &l, &n))
		if (n > 1 && l[0] == '&') {
			catb(targets, l + 1, n - 1);
			catb(targets, "", 1);
		}
	str_free(&t);
	return 1;
}

static void
forwards_write(const char *fn, const char *mark, const struct str *targets,
    const struct owner *o)
{
	struct str out = STR_ZERO;
	size_t i = 0, e;

	catx(&out, mark);
	while (i < targets->len) {
		e = str_chrb(targets->s + i, targets->len - i, 0);
		catx(&out, "&");
		catb(&out, targets->s + i, e);
		catx(&out, "\n");
		i += e + 1;
	}
	write_atomic(fn, out.s, out.len, 0600, o);
	str_free(&out);
}

/* targets_set - the targets (NUL-separated) into ns in lower case: a
 * list of thousands is searched member by member in constant time */
static void
targets_set(const struct str *targets, struct names *ns, struct str *low)
{
	size_t i = 0, e;

	while (i < targets->len) {
		e = str_chrb(targets->s + i, targets->len - i, 0);
		name_add(ns, lowered(low, targets->s + i, e), e);
		i += e + 1;
	}
}

/* forwards_add - alias add / list add */
static void
forwards_add(const char *a, char **tv, int tc, const char *mark,
    const struct owner *o)
{
	struct addr x = { STR_ZERO, STR_ZERO };
	struct str fn = STR_ZERO, targets = STR_ZERO, line = STR_ZERO;
	struct str full = STR_ZERO, low = STR_ZERO;
	struct names have = NAMES_ZERO;
	const char *other = str_equal(mark, ALIAS_MARK) ? LIST_MARK : ALIAS_MARK;
	int i, r;

	parse_addr(a, &x);
	need_domain(x.domain.s);
	if (tc < 1)
		die(EXIT_PERM, "name at least one target address");
	for (i = 0; i < tc; i++)
		check_target(tv[i]);
	if (vpasswd_get(&x, &line))
		die(EXIT_PERM, "a mailbox of that name exists: ", a);
	pm_take(&x);
	dotqmail(&fn, &x);
	r = forwards_read(fn.s, mark, &targets);
	if (r == -1)
		die(EXIT_PERM, a, str_equal(other, LIST_MARK) ?
		    " is a list, not an alias" : " is an alias, not a list");
	if (r == 1 && str_equal(mark, ALIAS_MARK))
		die(EXIT_PERM, "alias exists already: ", a);
	if (r == 0)
		check_new_name(&x);
	targets_set(&targets, &have, &low);
	for (i = 0; i < tc; i++)
		if (!names_has(&have, lowered(&low, tv[i], strlen(tv[i])))) {
			name_add(&have, low.s, low.len);
			catx(&targets, tv[i]);
			catb(&targets, "", 1);
		}
	addr_full(&full, &x);
	/* the recipient first: an add that stops before the .qmail file is
	 * written is finished by running it again */
	if (r == 0)
		recipients_add(full.s);
	forwards_write(fn.s, mark, &targets, o);
	if (r == 0)
		newu();
}

/* forwards_del - alias del / list del (members, or the whole list) */
static void
forwards_del(const char *a, char **tv, int tc, const char *mark,
    const struct owner *o)
{
	struct addr x = { STR_ZERO, STR_ZERO };
	struct str fn = STR_ZERO, targets = STR_ZERO, keep = STR_ZERO;
	struct str full = STR_ZERO, low = STR_ZERO;
	struct names have = NAMES_ZERO, drop = NAMES_ZERO;
	size_t i = 0, e;
	int k, r;

	parse_addr(a, &x);
	need_domain(x.domain.s);
	dotqmail(&fn, &x);
	r = forwards_read(fn.s, mark, &targets);
	if (r != 1)
		die(EXIT_PERM, str_equal(mark, ALIAS_MARK) ? "no such alias: " :
		    "no such list: ", a);
	targets_set(&targets, &have, &low);
	for (k = 0; k < tc; k++) {
		if (!names_has(&have, lowered(&low, tv[k], strlen(tv[k]))))
			die(EXIT_PERM, tv[k], " is not a member of ", a);
		name_add(&drop, low.s, low.len);
	}
	while (tc > 0 && i < targets.len) {
		e = str_chrb(targets.s + i, targets.len - i, 0);
		if (!names_has(&drop, lowered(&low, targets.s + i, e)))
			catb(&keep, targets.s + i, e + 1);
		i += e + 1;
	}
	if (keep.len > 0) {
		forwards_write(fn.s, mark, &keep, o);
		return;
	}
	/* an empty .qmail file would mean the default delivery: remove it */
	addr_full(&full, &x);
	recipients_edit(NULL, full.s, NULL);
	newu();
	(void)remove_file(fn.s);
	if (str_equal(x.user.s, "postmaster")) {
		pm_alias(x.domain.s, o);	/* it must still reach someone */
		newu();
	}
}

/* print_targets - "addr: t1 t2" for each alias, or the members of one list */
static void
print_targets(struct str *out, const struct str *targets, const char *sep)
{
	size_t i = 0, e;

	while (i < targets->len) {
		e = str_chrb(targets->s + i, targets->len - i, 0);
		catb(out, targets->s + i, e);
		catx(out, sep);
		i += e + 1;
	}
}

static void
alias_list(const char *d)
{
	struct str p = STR_ZERO, targets = STR_ZERO, out = STR_ZERO;
	DIR *dir;
	struct dirent *e;
	size_t i, start;

	check_domain(d);
	need_domain(d);
	if ((dir = dir_list(path3(&p, "domains", d, NULL))) == NULL)
		die_file("unable to read ", p.s);
	while ((errno = 0, e = readdir(dir)) != NULL) {
		if (!str_start(e->d_name, ".qmail-") ||
		    forwards_read(path3(&p, "domains", d, e->d_name), ALIAS_MARK,
		    &targets) != 1)
			continue;
		start = out.len;
		catx(&out, e->d_name + 7);
		for (i = start; i < out.len; i++)
			if (out.s[i] == ':')
				out.s[i] = '.';
		catx(&out, "@");
		catx(&out, d);
		catx(&out, ": ");
		print_targets(&out, &targets, " ");
		out.s[out.len - 1] = '\n';
	}
	if (errno)
		die_file("unable to read ", p.s);
	(void)closedir(dir);	/* read-only */
	put_out(&out);
}

static void
list_members(const char *a)
{
	struct addr x = { STR_ZERO, STR_ZERO };
	struct str fn = STR_ZERO, targets = STR_ZERO, out = STR_ZERO;

	parse_addr(a, &x);
	need_domain(x.domain.s);
	if (forwards_read(dotqmail(&fn, &x), LIST_MARK, &targets) != 1)
		die(EXIT_PERM, "no such list: ", a);
	print_targets(&out, &targets, "\n");
	put_out(&out);
}

/* list_make - a qmail-list(1) list in a virtual domain: bin/qmail-list
 * make writes domains/DOMAIN/.lists/NAME and the domain's .qmail-NAME
 * and .qmail-NAME-default, run as the vmail user (so that all of it is
 * the vmail user's, and root writes nothing in its directories); then
 * the address goes to users/recipients, and the RCPT check takes
 * NAME-anything through .qmail-NAME-default */
static void
list_make(const char *a, const char *owner, const struct owner *o)
{
	struct addr x = { STR_ZERO, STR_ZERO };
	struct str fn = STR_ZERO, home = STR_ZERO, dir = STR_ZERO, line = STR_ZERO, p = STR_ZERO;
	char *argv[10];
	int fd[3] = { 0, 1, 2 }, status, n = 0, code;
	pid_t pid;

	parse_addr(a, &x);
	check_new_name(&x);
	need_domain(x.domain.s);
	if (owner)
		check_target(owner);
	if (vpasswd_get(&x, &line))
		die(EXIT_PERM, "a mailbox of that name exists: ", a);
	pm_take(&x);
	if (exists(dotqmail(&fn, &x)))
		die(EXIT_PERM, "address exists already (an alias or list): ", a);
	(void)close(mkdir_owned(path3(&p, "domains", x.domain.s, ".lists"), 0700, o, 1));
	catx(&home, auto_home);
	catx(&home, "/domains/");
	catx(&home, x.domain.s);
	nul(&home);
	catx(&dir, home.s);
	catx(&dir, "/.lists/");
	catx(&dir, x.user.s);
	nul(&dir);
	argv[n++] = "qmail-list";
	argv[n++] = "make";
	argv[n++] = "-h";
	argv[n++] = home.s;
	argv[n++] = "-e";
	argv[n++] = x.user.s;
	if (owner) {
		argv[n++] = "-o";
		argv[n++] = (char *)owner;
	}
	argv[n++] = dir.s;
	argv[n++] = (char *)a;
	argv[n] = NULL;
	if ((pid = priv_spawn("bin/qmail-list", argv, fd, 3, o->change, o->uid,
	    o->gid, NULL)) == -1)
		die_sys(EXIT_TEMP, "unable to run bin/qmail-list");
	if (spawn_wait(pid, &status) == -1)
		die_sys(EXIT_TEMP, "unable to wait for bin/qmail-list");
	if ((code = spawn_exitcode(status)) != 0)
		die(code == EXIT_PERM ? EXIT_PERM : EXIT_TEMP, "bin/qmail-list make failed");
	recipients_add(addr_full(&p, &x));
	newu();
}

/* ---- sync ---- */

/* hashes_check - a warning for each mailbox of d whose hash, from a
 * file edited by hand or restored, this build cannot check: its method
 * is one crypt(3) here does not know (see vpasswd(5)), and no password
 * gets in until it is set again */
static void
hashes_check(const char *d)
{
	struct str fn = STR_ZERO, t = STR_ZERO, u = STR_ZERO, h = STR_ZERO;
	size_t pos = 0, n, ul, hl;
	const char *l, *hp;
	unsigned long q;

	readtext(path3(&fn, "domains", d, "vpasswd"), &t);
	while (line_next(&t, &pos, &l, &n)) {
		if (n == 0 || !vpasswd_split(l, n, &ul, &hp, &hl, &q))
			continue;	/* vpasswd_rebuild refused those */
		h.len = 0;
		catb(&h, hp, hl);
		nul(&h);
		if (vpasswd_usable(h.s))
			continue;
		u.len = 0;
		catb(&u, l, ul);
		catx(&u, "@");
		catx(&u, d);
		nul(&u);
		warn("the password hash of ", u.s, " is of a method this build "
		    "cannot check (see vpasswd(5)): no login until its password "
		    "is set again");
	}
	str_free(&fn);
	str_free(&t);
	str_free(&u);
	str_free(&h);
}

/* sync_everything - every vpasswd.cdb rebuilt (and its hashes checked),
 * the users cdbs compiled, qmail-send told */
static void
sync_everything(const struct owner *o)
{
	struct str t = STR_ZERO, d = STR_ZERO;
	size_t pos = 0;

	readtext("control/virtualdomains", &t);
	while (vd_next(&t, &pos, &d)) {
		vpasswd_rebuild(d.s, o);
		hashes_check(d.s);
	}
	newu();
	hup_send();
	str_free(&t);
	str_free(&d);
}

/* ---- backup and restore ---- */

/* a backup directory: control/ users/ alias/ domains/ [queue/] and,
 * written last, the file lanmail-backup that says it is complete (older
 * backups have no alias/) */
#define BACKUP_MARK "lanmail-backup"
#define BACKUP_VERSION "lanmail-backup 1\n"

/* names_sort - the offsets in the order of the names, for going
 * through them in order (names_has still answers) */
static const char *names_base;

static int
names_cmp(const void *a, const void *b)
{
	return strcmp(names_base + *(const size_t *)a,
	    names_base + *(const size_t *)b);
}

static void
names_sort(struct names *ns)
{
	names_base = ns->pool.s;
	if (ns->n > 1)
		qsort(ns->off, ns->n, sizeof *ns->off, names_cmp);
}

/* maildir base name: the unique part, before the ":2," flags */
static size_t
basename_len(const char *s)
{
	return str_chrb(s, strlen(s), ':');
}

/* idmap - the uid of each user and the gid of each group of conf-users
 * (by AUTO_* index) on the machine a backup was made on, [0], and on
 * this one, [1]: a restore gives a file of control/ or users/ owned by
 * one of them this machine's id of the same user or group (the DKIM
 * keys' group, say, which may have another number here).  idmapped
 * says restore set it. */
static unsigned long idmap[2][AUTO_NUSERS];
static int idmapped;

/* map_id - id mapped by idmap over the entries from to to */
static unsigned long
map_id(unsigned long id, int from, int to)
{
	for (; idmapped && from < to; from++)
		if (idmap[0][from] == id)
			return idmap[1][from];
	return id;
}

/* set_attr - owner and mode of a copy: the owner o when given (restore
 * into domains/ and alias/), else, when root copies, the owner of the
 * original (mapped, see idmap) */
static void
set_attr(int fd, const struct stat *st, const struct owner *o, const char *fn)
{
	if (o && o->change) {
		if (fchown(fd, o->uid, o->gid) == -1)
			die_file("unable to set owner of ", fn);
	} else if (!o && geteuid() == 0 &&
	    fchown(fd, (uid_t)map_id(st->st_uid, 0, AUTO_GQMAIL),
	    (gid_t)map_id(st->st_gid, AUTO_GQMAIL, AUTO_NUSERS)) == -1)
		die_file("unable to set owner of ", fn);
	if (fchmod(fd, st->st_mode & 07777) == -1)
		die_file("unable to set mode of ", fn);
}

/* copy_file_at - sname in sdir to dname in ddir (made new), with mode,
 * times and owner (see set_attr); 1 copied, 0 when the original vanished
 * (a message moved or deleted meanwhile), -1 when it is no regular file
 * (left out, with a warning).  from and to name them in messages. */
static int
copy_file_at(int sdir, const char *sname, int ddir, const char *dname,
    const char *from, const char *to, const struct owner *o)
{
	char x[65536];
	struct stat st;
	struct timespec ts[2];
	long r;
	int in, out;

	in = openat(sdir, sname, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
	if (in == -1) {
		if (errno == ENOENT)
			return 0;
		if (errno == ELOOP) {
			warn("left out ", from, ": it became a symbolic link");
			return -1;
		}
		die_file("unable to open ", from);
	}
	if (fstat(in, &st) == -1)
		die_file("unable to stat ", from);
	if (!S_ISREG(st.st_mode)) {
		(void)close(in);	/* read-only */
		warn("left out ", from, ": not a regular file");
		return -1;
	}
	if (unlinkat(ddir, dname, 0) == -1 && errno != ENOENT)
		die_file("unable to replace ", to);
	out = openat(ddir, dname, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
	    0600);
	if (out == -1)
		die_file("unable to create ", to);
	for (;;) {
		if ((r = fd_read(in, x, sizeof x, 0)) == -1)
			die_file("unable to read ", from);
		if (r == 0)
			break;
		if (!fd_writeall(out, x, (size_t)r, 0))
			die_file("unable to write ", to);
	}
	ts[0] = st.st_atim;
	ts[1] = st.st_mtim;
	set_attr(out, &st, o, to);
	if (futimens(out, ts) == -1)
		die_file("unable to set times of ", to);
	if (close(out) == -1)
		die_file("unable to write ", to);
	(void)close(in);	/* read-only */
	return 1;
}

/* copy_file - the same by path (a queue file) */
static int
copy_file(const char *from, const char *to, const struct owner *o)
{
	const char *sb, *db;
	int sfd, dfd, r;

	if ((sfd = parent_open(from, &sb)) == -1)
		die_file("unable to open the directory of ", from);
	if ((dfd = parent_open(to, &db)) == -1)
		die_file("unable to open the directory of ", to);
	r = copy_file_at(sfd, sb, dfd, db, from, to, o);
	(void)close(sfd);	/* read-only */
	(void)close(dfd);	/* the files in it are closed */
	return r;
}

/* copy_dirattr - the directory name in ddir made (or, when restoring
 * over an installed one, taken; below domains/ never through a link)
 * with the mode and owner of the open directory sfd (see set_attr);
 * returned open */
static int
copy_dirattr(int sfd, int ddir, const char *name, const char *to,
    const struct owner *o)
{
	struct stat st;
	int fd;

	if (fstat(sfd, &st) == -1)
		die_file("unable to stat the original of ", to);
	if (mkdirat(ddir, name, 0700) == -1 && errno != EEXIST)
		die_file("unable to create ", to);
	if ((fd = open_dir_at(ddir, name, !untrusted(to))) == -1)
		die_file("unable to open ", to);
	set_attr(fd, &st, o, to);
	return fd;
}

/* what a copy reads, by directory: the temporaries and locks are left
 * out only where qmail-admin, qmail-newu and the Maildir rules make
 * them, so that no mailbox, folder or file of the same name elsewhere
 * goes missing */
enum kind {
	K_TREE,		/* anything else: everything copied */
	K_CONTROL,	/* control/, alias/: NAME.tmp of write_atomic and of
			 * qmail-newaliases */
	K_USERS,	/* users/: the same, the lock files, authfail/ */
	K_DOMAINS,	/* domains/: .new (domain add), .deleted.PID (domain del) */
	K_DOMAIN,	/* domains/D/: NAME.tmp, .new-USER/ (user add),
			 * .deleted.USER/ (user del) */
	K_MAILDIR	/* a Maildir or Maildir++ folder: tmp/ copied empty */
};

static int
left_out(enum kind k, const char *n, const struct stat *st)
{
	size_t l = strlen(n);
	int tmp = S_ISREG(st->st_mode) && l > 4 && str_equal(n + l - 4, ".tmp");

	switch (k) {
	case K_CONTROL:
		return tmp;
	case K_USERS:
		/* authfail/: a day's failed-login counts, qmail-auth's to
		 * make and forget (install.sh makes the directory) */
		return tmp || str_equal(n, "admin.lock") || str_equal(n, "newu.lock") ||
		    str_equal(n, "webfail.lock") ||
		    (S_ISDIR(st->st_mode) && str_equal(n, "authfail"));
	case K_DOMAINS:
		return str_start(n, ".new") || str_start(n, ".deleted.");
	case K_DOMAIN:
		return tmp || (S_ISDIR(st->st_mode) && (str_start(n, ".new-") ||
		    str_start(n, ".deleted.")));
	default:
		return 0;
	}
}

/* is_maildir - the directory fd (named name, in a directory of kind k)
 * is a Maildir: it is called Maildir, or is a Maildir++ folder (.NAME in
 * a Maildir), and holds new/ cur/ tmp/.  A domain whose mailboxes are
 * called new, cur and tmp is none. */
static int
is_maildir(int fd, const char *name, enum kind k)
{
	static const char *const sub[] = { "new", "cur", "tmp" };
	struct stat st;
	size_t i;

	if (!str_equal(name, "Maildir") && !(k == K_MAILDIR && name[0] == '.'))
		return 0;
	for (i = 0; i < 3; i++)
		if (fstatat(fd, sub[i], &st, AT_SYMLINK_NOFOLLOW) == -1 ||
		    !S_ISDIR(st.st_mode))
			return 0;
	return 1;
}

/* restoring - set by restore: a Maildir's maildirsize keeps only its
 * quota line, so the usage is recounted from what was restored; and
 * restore_home, when the backup names the install root it was made in,
 * the paths in it are moved to this install's (see relocate) */
static int restoring;
static const char *restore_home;

/* under - the length of root when the path at p (n bytes on) lies
 * below it, else 0 */
static size_t
under(const char *p, size_t n, const char *root)
{
	size_t rl = strlen(root);

	return n > rl && p[rl] == '/' && memcmp(p, root, rl) == 0 ? rl : 0;
}

/* relocate - into out, t with each path below restore_home, the install
 * root of the backup, moved below this install's root.  A path starts a
 * line or follows a blank, '|' or ':': the home field of users/assign,
 * a Maildir or mbox line, the words of a program line of a .qmail file
 * (qmail-list's list lines name bin/qmail-list and the list directory).
 * A path below this root stays (it may lie below the backup's too); any
 * other stays as well, with a warning when it leads into a domains/
 * directory, which only an install has (fn names the file in it).  1
 * when a path moved */
static int
relocate(const struct str *t, struct str *out, const char *fn)
{
	const char *old = restore_home;
	struct str w = STR_ZERO;
	size_t i, e, rl;
	int moved = 0;

	out->len = 0;
	for (i = 0; i < t->len; i++) {
		if (i == 0 || str_chrb(" \t|:\n", 5, t->s[i - 1]) < 5) {
			for (e = i; e < t->len && str_chrb(" \t:\n", 4, t->s[e]) == 4; e++)
				;
			if (under(t->s + i, e - i, auto_home))
				;	/* this install's */
			else if ((rl = under(t->s + i, e - i, old)) != 0) {
				catx(out, auto_home);
				i += rl;
				moved = 1;
			} else if (t->s[i] == '/') {
				w.len = 0;
				catb(&w, t->s + i, e - i);
				nul(&w);
				if (strstr(w.s, "/domains/"))
					warn(fn, ": ", w.s, " lies in neither this install (",
					    auto_home, ") nor the backup's (", old,
					    "): left as it is");
			}
		}
		catb(out, t->s + i, 1);
	}
	str_free(&w);
	return moved;
}

/* relocate_file - the copy of a .qmail file (name in dfd) with the
 * paths of this install (see relocate), its mode and owner kept */
static void
relocate_file(int dfd, const char *name, const char *fn)
{
	struct str t = STR_ZERO, out = STR_ZERO;

	readtext(fn, &t);
	if (relocate(&t, &out, fn))
		write_atomic_at(dfd, name, fn, out.s, out.len, 0600, NULL, 1);
	str_free(&t);
	str_free(&out);
}

/* quota_recount - cut the copied maildirsize (name in dfd) to its first
 * line.  The usage lines of the backup were counted in the live mailbox
 * while it changed (mail arriving and read during the copy), so they
 * need not match the messages restored; without them qmail-local
 * recounts the sums at the next delivery and qmail-admin counts them for
 * a listing. */
static void
quota_recount(int dfd, const char *name, const char *fn)
{
	char x[MAILDIR_QUOTA_FILEMAX + 1];
	size_t n = 0, e;
	long r;
	int fd;

	if ((fd = openat(dfd, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC)) == -1)
		die_file("unable to open ", fn);
	while (n < sizeof x) {
		if ((r = fd_read(fd, x + n, sizeof x - n, 0)) == -1)
			die_file("unable to read ", fn);
		if (r == 0)
			break;
		n += (size_t)r;
	}
	(void)close(fd);	/* read-only */
	e = str_chrb(x, n, '\n');
	if (e == n || e + 1 == n)
		return;	/* no quota line, or nothing after it */
	write_atomic_at(dfd, name, fn, x, e + 1, 0600, NULL, 1);	/* keeps mode and owner */
}

/* reopen - a new open file description of the directory fd, for one
 * more pass of readdir from its start */
static DIR *
reopen(int fd, const char *fn)
{
	DIR *d;
	int nfd;

	if ((nfd = openat(fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC)) == -1 ||
	    (d = fdopendir(nfd)) == NULL)
		die_file("unable to read ", fn);
	return d;
}

/* copy_msgs - one Maildir subdirectory; the base names copied go into
 * done, and one in done already is not copied again (the same message
 * renamed, with other flags, while we read).  The number copied; *gone
 * counts those that vanished between readdir and open. */
static unsigned long
copy_msgs(int sfd, int dfd, const char *from, const char *to,
    struct names *done, unsigned long *gone, const struct owner *o)
{
	struct str f = STR_ZERO, t = STR_ZERO, b = STR_ZERO;
	unsigned long added = 0;
	struct dirent *e;
	DIR *d = reopen(sfd, from);

	while ((errno = 0, e = readdir(d)) != NULL) {
		if (e->d_name[0] == '.')
			continue;
		b.len = 0;
		catb(&b, e->d_name, basename_len(e->d_name));
		nul(&b);
		if (names_has(done, b.s))
			continue;
		switch (copy_file_at(sfd, e->d_name, dfd, e->d_name,
		    path3(&f, from, e->d_name, NULL), path3(&t, to, e->d_name, NULL), o)) {
		case 1:
			name_add(done, b.s, b.len);
			added++;
			break;
		case 0:
			(*gone)++;
		}
	}
	if (errno)
		die_file("unable to read ", from);
	(void)closedir(d);	/* read-only */
	str_free(&f);
	str_free(&t);
	str_free(&b);
	return added;
}

/* copy_maildir - new/ and cur/ as they stand, tmp/ empty.  A message
 * moves from new/ to cur/ or changes its flags by rename while we
 * read: cur/ is read again until a pass neither finds a message it
 * missed nor loses one that was renamed under it (at most ten passes),
 * and a message that made it into the copy from cur/ is dropped from
 * new/. */
static void
copy_maildir(int sfd, int dfd, const char *from, const char *to,
    const struct owner *o)
{
	static const char *const sub[] = { "tmp", "new", "cur" };
	struct str f[3] = { STR_ZERO, STR_ZERO, STR_ZERO };
	struct str t[3] = { STR_ZERO, STR_ZERO, STR_ZERO };
	struct names nnew = NAMES_ZERO, ncur = NAMES_ZERO;
	int s[3], d[3], pass;
	unsigned long gone = 0;
	struct dirent *e;
	struct str b = STR_ZERO;
	DIR *dir;
	size_t i;

	for (i = 0; i < 3; i++) {
		path3(&f[i], from, sub[i], NULL);
		path3(&t[i], to, sub[i], NULL);
		if ((s[i] = open_dir_at(sfd, sub[i], 0)) == -1)
			die_file("unable to open ", f[i].s);
		d[i] = copy_dirattr(s[i], dfd, sub[i], t[i].s, o);
	}
	(void)copy_msgs(s[1], d[1], f[1].s, t[1].s, &nnew, &gone, o);
	for (pass = 0; pass < 10; pass++) {
		gone = 0;
		if (copy_msgs(s[2], d[2], f[2].s, t[2].s, &ncur, &gone, o) == 0 &&
		    gone == 0 && pass > 0)
			break;
	}
	/* both copies of one message: keep the one from cur/ */
	dir = reopen(d[1], t[1].s);
	while ((errno = 0, e = readdir(dir)) != NULL) {
		if (e->d_name[0] == '.')
			continue;
		b.len = 0;
		catb(&b, e->d_name, basename_len(e->d_name));
		nul(&b);
		if (names_has(&ncur, b.s) && unlinkat(d[1], e->d_name, 0) == -1)
			die_sys(EXIT_TEMP, "unable to remove ", t[1].s, "/", e->d_name);
	}
	if (errno)
		die_file("unable to read ", t[1].s);
	(void)closedir(dir);	/* read-only */
	for (i = 0; i < 3; i++) {
		(void)close(s[i]);	/* read-only */
		(void)close(d[i]);	/* the files in it are closed */
		str_free(&f[i]);
		str_free(&t[i]);
	}
	names_free(&nnew);
	names_free(&ncur);
	str_free(&b);
}

/* copy_dir - what the open directory sfd (of kind k) holds, into the
 * open directory dfd: directories, regular files and symbolic links
 * (copied as links, never followed); from and to name them in messages */
static void
copy_dir(int sfd, int dfd, const char *from, const char *to, enum kind k,
    const struct owner *o)
{
	struct str f = STR_ZERO, t = STR_ZERO, l = STR_ZERO;
	struct dirent *e;
	struct stat st;
	enum kind ck;
	int cs, cd;
	ssize_t r;
	DIR *d;

	if (k == K_MAILDIR)
		copy_maildir(sfd, dfd, from, to, o);
	/* Maildir++ folders and maildirsize sit beside new/ cur/ tmp/ */
	d = reopen(sfd, from);
	while ((errno = 0, e = readdir(d)) != NULL) {
		if (str_equal(e->d_name, ".") || str_equal(e->d_name, ".."))
			continue;
		path3(&f, from, e->d_name, NULL);
		path3(&t, to, e->d_name, NULL);
		if (fstatat(sfd, e->d_name, &st, AT_SYMLINK_NOFOLLOW) == -1) {
			if (errno == ENOENT)
				continue;
			die_file("unable to stat ", f.s);
		}
		if (left_out(k, e->d_name, &st))
			continue;
		if (k == K_MAILDIR && S_ISDIR(st.st_mode) &&
		    (str_equal(e->d_name, "new") || str_equal(e->d_name, "cur") ||
		    str_equal(e->d_name, "tmp")))
			continue;
		if (S_ISDIR(st.st_mode)) {
			if ((cs = open_dir_at(sfd, e->d_name, 0)) == -1) {
				if (errno == ENOENT)
					continue;	/* gone meanwhile */
				if (errno == ELOOP || errno == ENOTDIR) {
					warn("left out ", f.s, ": it became something else while copied");
					continue;
				}
				die_file("unable to open ", f.s);
			}
			ck = k == K_DOMAINS ? K_DOMAIN :
			    is_maildir(cs, e->d_name, k) ? K_MAILDIR : K_TREE;
			cd = copy_dirattr(cs, dfd, e->d_name, t.s, o);
			copy_dir(cs, cd, f.s, t.s, ck, o);
			(void)close(cs);	/* read-only */
			(void)close(cd);	/* the files in it are closed */
		} else if (S_ISREG(st.st_mode)) {
			if (copy_file_at(sfd, e->d_name, dfd, e->d_name, f.s, t.s, o) != 1 ||
			    !restoring)
				continue;
			if (k == K_MAILDIR && str_equal(e->d_name, "maildirsize"))
				quota_recount(dfd, e->d_name, t.s);
			/* the .qmail files of a domain and of alias/ */
			if (restore_home && (k == K_DOMAIN || k == K_CONTROL) &&
			    str_start(e->d_name, ".qmail-"))
				relocate_file(dfd, e->d_name, t.s);
		} else if (S_ISLNK(st.st_mode)) {
			if (!str_readyplus(&l, 4096))
				die_nomem();
			if ((r = readlinkat(sfd, e->d_name, l.s, 4095)) == -1) {
				if (errno == ENOENT)
					continue;
				die_file("unable to read ", f.s);
			}
			l.s[r] = 0;
			if (symlinkat(l.s, dfd, e->d_name) == -1 && errno != EEXIST)
				die_file("unable to create ", t.s);
		}
		/* fifos, sockets, devices: nothing a mail system keeps */
	}
	if (errno)
		die_file("unable to read ", from);
	(void)closedir(d);	/* read-only */
	str_free(&f);
	str_free(&t);
	str_free(&l);
}

/* copy_tree - the directory from (of kind k) into to, made if missing
 * (its parent must exist) */
static void
copy_tree(const char *from, const char *to, enum kind k, const struct owner *o)
{
	struct stat st;
	int sfd, dfd;

	if ((sfd = dir_open(from)) == -1)
		die_file("unable to open ", from);
	if (fstat(sfd, &st) == -1)
		die_file("unable to stat ", from);
	if (mkdir(to, 0700) == -1 && errno != EEXIST)
		die_file("unable to create ", to);
	if ((dfd = dir_open(to)) == -1)
		die_file("unable to open ", to);
	set_attr(dfd, &st, o, to);
	copy_dir(sfd, dfd, from, to, k, o);
	(void)close(sfd);	/* read-only */
	(void)close(dfd);	/* the files in it are closed */
}

/* ---- the queue ---- */

/* queue_ids - the ids of every file in queue directory sub (split) */
static void
queue_ids(const char *base, const char *sub, struct names *ids)
{
	struct str p = STR_ZERO;
	struct dirent *e;
	unsigned long i, id, split = qpath_split();
	int flat = str_equal(sub, "bounce");
	DIR *d;

	for (i = 0; i < (flat ? 1 : split); i++) {
		p.len = 0;
		catx(&p, base);
		catx(&p, "/");
		catx(&p, sub);
		if (!flat) {
			catx(&p, "/");
			if (!str_catulong(&p, i))
				die_nomem();
		}
		nul(&p);
		if ((d = dir_list(p.s)) == NULL) {
			if (errno == ENOENT)
				continue;
			die_file("unable to read ", p.s);
		}
		while ((errno = 0, e = readdir(d)) != NULL)
			if (qpath_id(e->d_name, &id))
				name_add(ids, e->d_name, strlen(e->d_name));
		if (errno)
			die_file("unable to read ", p.s);
		(void)closedir(d);	/* read-only */
	}
	names_sort(ids);
	str_free(&p);
}

/* qfile - "base/SUB/S/ID" for a decimal id string */
static const char *
qfile(struct str *s, const char *base, const char *sub, const char *ids)
{
	unsigned long id;

	if (!qpath_id(ids, &id))
		die(EXIT_TEMP, "bad queue id ", ids);
	s->len = 0;
	if (base) {
		catx(s, base);
		catx(s, "/");
	}
	catx(s, sub);
	catx(s, "/");
	if (!str_equal(sub, "bounce")) {
		if (!str_catulong(s, id % qpath_split()))
			die_nomem();
		catx(s, "/");
	}
	catx(s, ids);
	nul(s);
	return s->s;
}

static void
mkqdirs(const char *base)
{
	static const char *const sub[] = { "mess", "todo", "info", "local", "remote" };
	struct str p = STR_ZERO;
	unsigned long i, k;

	path3(&p, base, "queue", NULL);
	if (mkdir(p.s, 0700) == -1)
		die_file("unable to create ", p.s);
	path3(&p, base, "queue", "bounce");
	if (mkdir(p.s, 0700) == -1)
		die_file("unable to create ", p.s);
	for (k = 0; k < 5; k++) {
		path3(&p, base, "queue", sub[k]);
		if (mkdir(p.s, 0700) == -1)
			die_file("unable to create ", p.s);
		for (i = 0; i < qpath_split(); i++) {
			path3(&p, base, "queue", sub[k]);
			catx(&p, "/");
			if (!str_catulong(&p, i))
				die_nomem();
			nul(&p);
			if (mkdir(p.s, 0700) == -1)
				die_file("unable to create ", p.s);
		}
	}
	str_free(&p);
}

/* backup_queue - envelopes first, messages last; then whatever does not
 * add up is dropped: a message whose todo/ made it is kept as todo/
 * only (qmail-send prepares it again), envelopes whose message went
 * meanwhile and messages without an envelope are left out */
static void
backup_queue(const char *dst)
{
	static const char *const order[] = { "todo", "info", "local", "remote", "bounce" };
	static const struct names zero = NAMES_ZERO;
	struct names ids[5], mess = NAMES_ZERO;
	struct names seen = NAMES_ZERO;
	struct names tcopied = NAMES_ZERO;	/* todo/ copied */
	struct names env = NAMES_ZERO;	/* todo/ or info/ copied */
	struct str qb = STR_ZERO, f = STR_ZERO, t = STR_ZERO;
	size_t i, k;
	const char *id;

	path3(&qb, dst, "queue", NULL);
	mkqdirs(dst);
	for (k = 0; k < 5; k++) {
		ids[k] = zero;
		queue_ids("queue", order[k], &ids[k]);
		for (i = 0; i < ids[k].n; i++) {
			id = ids[k].pool.s + ids[k].off[i];
			/* a todo/ message copied already stands alone.  One
			 * listed in todo/ but gone when copied was taken by
			 * qmail-send, which wrote its info/ (listed next)
			 * before removing todo/ */
			if (k > 0 && names_has(&tcopied, id))
				continue;
			if (copy_file(qfile(&f, "queue", order[k], id),
			    qfile(&t, qb.s, order[k], id), NULL) == 1 && k < 2) {
				name_add(k == 0 ? &tcopied : &env, id, strlen(id));
				if (k == 0)
					name_add(&env, id, strlen(id));
			}
		}
	}
	queue_ids("queue", "mess", &mess);
	for (i = 0; i < mess.n; i++) {
		id = mess.pool.s + mess.off[i];
		/* without an envelope it is being written or just finished:
		 * restored alone it would be a leftover nobody delivers */
		if (!names_has(&env, id))
			continue;
		if (copy_file(qfile(&f, "queue", "mess", id),
		    qfile(&t, qb.s, "mess", id), NULL) == 1)
			name_add(&seen, id, strlen(id));
	}
	/* envelopes of messages that were finished while we copied */
	for (k = 0; k < 5; k++)
		for (i = 0; i < ids[k].n; i++) {
			id = ids[k].pool.s + ids[k].off[i];
			if (!names_has(&seen, id) &&
			    unlink(qfile(&t, qb.s, order[k], id)) == -1 &&
			    errno != ENOENT)
				die_file("unable to remove ", t.s);
		}
	for (k = 0; k < 5; k++)
		names_free(&ids[k]);
	names_free(&mess);
	names_free(&seen);
	names_free(&tcopied);
	names_free(&env);
	str_free(&qb);
	str_free(&f);
	str_free(&t);
}

/* role_id - this machine's uid of the user, or gid of the group,
 * conf-users names at k (AUTO_*) */
static unsigned long
role_id(int k)
{
	const char *n = auto_users[k];
	struct passwd *pw;
	struct group *gr;

	if (k < AUTO_GQMAIL) {
		if ((pw = getpwnam(n)) == NULL)
			die(EXIT_TEMP, "unable to find user ", n);
		return pw->pw_uid;
	}
	if ((gr = getgrnam(n)) == NULL)
		die(EXIT_TEMP, "unable to find group ", n);
	return gr->gr_gid;
}

/* queue_owner - the user which and the qmail group, as the install
 * makes them: qmailq for mess/ todo/ intd/, qmails for the rest of the
 * queue, the alias user for alias/ */
static void
queue_owner(struct owner *q, int which)
{
	q->change = !auto_single && geteuid() == 0;
	if (!q->change)
		return;
	q->uid = (uid_t)role_id(which);
	q->gid = (gid_t)role_id(AUTO_GQMAIL);
}

/* link_file - from linked as to (below queue/, no link followed on
 * the way) */
static void
link_file(const char *from, const char *to)
{
	const char *fb, *tb;
	int ffd, tfd;

	if ((ffd = parent_open(from, &fb)) == -1)
		die_file("unable to open the directory of ", from);
	if ((tfd = parent_open(to, &tb)) == -1)
		die_file("unable to open the directory of ", to);
	if (linkat(ffd, fb, tfd, tb, 0) == -1)
		die_file("unable to link ", to);
	(void)close(ffd);	/* only read */
	(void)close(tfd);	/* only read */
}

/* unlink_file - the same for unlink, without remove_file's fsync: the
 * restore syncs once at its end */
static void
unlink_file(const char *fn)
{
	const char *base;
	int dfd;

	if ((dfd = parent_open(fn, &base)) == -1)
		die_file("unable to open the directory of ", fn);
	if (unlinkat(dfd, base, 0) == -1)
		die_file("unable to remove ", fn);
	(void)close(dfd);	/* only read */
}

/* restore_queue - each message gets a new id (the inode number of its
 * new file, as qmail-queue would give it), its envelopes follow it;
 * todo/ is linked in last, from intd/, as qmail-queue commits */
static void
restore_queue(const char *src)
{
	static const char *const late[] = { "info", "local", "remote", "bounce" };
	struct names mess = NAMES_ZERO;
	struct str qb = STR_ZERO, f = STR_ZERO, t = STR_ZERO, tmp = STR_ZERO;
	struct str nid = STR_ZERO;
	struct owner qq, qs;
	struct stat st;
	size_t i, k;
	const char *id;
	unsigned long newid;

	queue_owner(&qq, AUTO_QMAILQ);
	queue_owner(&qs, AUTO_QMAILS);
	path3(&qb, src, "queue", NULL);
	queue_ids(qb.s, "mess", &mess);
	for (i = 0; i < mess.n; i++) {
		id = mess.pool.s + mess.off[i];
		tmp.len = 0;
		catx(&tmp, "queue/pid/restore.");
		catx(&tmp, id);
		nul(&tmp);
		(void)copy_file(qfile(&f, qb.s, "mess", id), tmp.s, &qq);
		if (stat_nofollow(tmp.s, &st) == -1)
			die_file("unable to stat ", tmp.s);
		newid = (unsigned long)st.st_ino;
		nid.len = 0;
		if (!str_catulong(&nid, newid))
			die_nomem();
		nul(&nid);
		link_file(tmp.s, qfile(&t, "queue", "mess", nid.s));
		for (k = 0; k < 4; k++)
			if (exists(qfile(&f, qb.s, late[k], id)))
				(void)copy_file(f.s, qfile(&t, "queue", late[k],
				    nid.s), &qs);
		if (exists(qfile(&f, qb.s, "todo", id))) {
			(void)copy_file(f.s, qfile(&t, "queue", "intd", nid.s), &qq);
			link_file(t.s, qfile(&f, "queue", "todo", nid.s));
			unlink_file(t.s);
		}
		unlink_file(tmp.s);
	}
	sync();
	names_free(&mess);
	str_free(&qb);
	str_free(&f);
	str_free(&t);
	str_free(&tmp);
	str_free(&nid);
}

/* assign_fix - users/assign with the vmail uid and gid of this machine
 * and the paths of this install (see relocate) */
static void
assign_fix(const struct owner *o)
{
	struct str t = STR_ZERO, out = STR_ZERO, want = STR_ZERO;
	size_t pos = 0, n, c1, c2, c3, c4;
	const char *l;

	readtext("users/assign", &t);
	catx(&want, auto_users[AUTO_VMAIL]);
	while (line_next(&t, &pos, &l, &n)) {
		c1 = str_chrb(l, n, ':');
		c2 = c1 < n ? c1 + 1 + str_chrb(l + c1 + 1, n - c1 - 1, ':') : n;
		c3 = c2 < n ? c2 + 1 + str_chrb(l + c2 + 1, n - c2 - 1, ':') : n;
		c4 = c3 < n ? c3 + 1 + str_chrb(l + c3 + 1, n - c3 - 1, ':') : n;
		if ((l[0] == '+' || l[0] == '=') && c4 < n &&
		    c2 - c1 - 1 == want.len &&
		    memcmp(l + c1 + 1, want.s, want.len) == 0) {
			catb(&out, l, c2 + 1);
			cat_ids(&out, o);
			catb(&out, l + c4, n - c4);
		} else
			catb(&out, l, n);
		catx(&out, "\n");
	}
	if (restore_home && relocate(&out, &t, "users/assign"))
		write_atomic("users/assign", t.s, t.len, 0644, NULL);
	else
		write_atomic("users/assign", out.s, out.len, 0644, NULL);
	str_free(&t);
	str_free(&out);
	str_free(&want);
}

/* dir_names - " NAME" for each entry of the directory fn into out (none
 * when it is missing); names starting with a dot only when dots is 1,
 * and never . and .. */
static void
dir_names(const char *fn, int dots, struct str *out)
{
	struct dirent *e;
	DIR *d;

	out->len = 0;
	if ((d = dir_list(fn)) == NULL) {
		if (errno == ENOENT)
			return;
		die_file("unable to read ", fn);
	}
	while ((errno = 0, e = readdir(d)) != NULL)
		if (!(e->d_name[0] == '.' && (!dots || str_equal(e->d_name, ".") ||
		    str_equal(e->d_name, "..")))) {
			catx(out, " ");
			catx(out, e->d_name);
		}
	if (errno)
		die_file("unable to read ", fn);
	(void)closedir(d);	/* read-only */
	nul(out);
}

/* inside - 1 when dir is the directory top or lies below it, however
 * either is spelled (links, "..", double slashes): the directory that
 * dir names (else, when missing, its parent) and each directory above
 * it up to / are compared with top by device and inode */
static int
inside(const char *dir, const char *top)
{
	struct stat t, st, u;
	int fd, up, found = 0;

	if (stat(top, &t) == -1)
		die_file("unable to stat ", top);
	if ((fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) == -1) {
		struct str p = STR_ZERO;
		size_t n = strlen(dir);

		if (errno != ENOENT)
			die_file("unable to open ", dir);
		while (n > 1 && dir[n - 1] == '/')
			n--;
		n = str_rchrb(dir, n, '/');
		catb(&p, dir, n == 0 ? 1 : n);
		nul(&p);
		if ((fd = open(p.s, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) == -1)
			die_sys(EXIT_PERM, "unable to open ", p.s);
		str_free(&p);
	}
	for (;;) {
		if (fstat(fd, &st) == -1)
			die_file("unable to stat the directories above ", dir);
		if (st.st_dev == t.st_dev && st.st_ino == t.st_ino) {
			found = 1;
			break;
		}
		if ((up = openat(fd, "..", O_RDONLY | O_DIRECTORY | O_CLOEXEC)) == -1 ||
		    fstat(up, &u) == -1)
			die_file("unable to stat the directories above ", dir);
		(void)close(fd);	/* only read */
		fd = up;
		if (u.st_dev == st.st_dev && u.st_ino == st.st_ino)
			break;	/* / is its own parent */
	}
	(void)close(fd);
	return found;
}

/* mark_get - into v (NUL-terminated) the rest of the line "key ..." of
 * the backup's lanmail-backup m; 0 when it has none */
static int
mark_get(const struct str *m, const char *key, struct str *v)
{
	size_t pos = 0, n, kl = strlen(key);
	const char *l;

	while (line_next(m, &pos, &l, &n))
		if (keymatch(l, n, key, kl, ' ')) {
			v->len = 0;
			catb(v, l + kl + 1, n - kl - 1);
			nul(v);
			return 1;
		}
	return 0;
}

/* ids_read - idmap from the backup's "ids" line, in a multi-user
 * install restored by root (o->change): a backup without the line (or
 * from a single-user install) keeps its numbers */
static void
ids_read(const struct str *m, const struct owner *o)
{
	struct str v = STR_ZERO;
	size_t i = 0, e;
	int k;

	if (!o->change || !mark_get(m, "ids", &v))
		return;
	for (k = 0; k < AUTO_NUSERS; k++, i = e + 1) {
		e = i < v.len ? i + str_chrb(v.s + i, v.len - i, ' ') : i;
		if (!scan_ulong(v.s + i, e - i, &idmap[0][k]))
			die(EXIT_PERM, "bad ids line in lanmail-backup: ", v.s);
		idmap[1][k] = role_id(k);
	}
	idmapped = 1;
	str_free(&v);
}

static int
backup_main(const char *what, const char *dir, int queue)
{
	struct str abs = STR_ZERO, p = STR_ZERO, m = STR_ZERO, h = STR_ZERO;
	struct owner o, ao;
	char cwd[4096], num[FMT_ULONG];
	static const char *const part[] = { "control", "users", "alias", "domains" };
	static const enum kind kind[] = { K_CONTROL, K_USERS, K_CONTROL, K_DOMAINS };
	const struct owner *own[4] = { NULL, NULL, &ao, &o };
	int k, fd, have[4];

	if (dir[0] != '/') {
		if (getcwd(cwd, sizeof cwd) == NULL)
			die_sys(EXIT_TEMP, "unable to find the current directory");
		catx(&abs, cwd);
		catx(&abs, "/");
	}
	catx(&abs, dir);
	nul(&abs);
	/* a copy inside what it copies would never end */
	if (str_equal(what, "backup") && inside(abs.s, auto_home))
		die(EXIT_PERM, abs.s, " is inside ", auto_home,
		    "; give a directory outside the install");
	if (chdir(auto_home) == -1)
		die_file("unable to switch to ", auto_home);
	get_owner(&o);

	if (str_equal(what, "backup")) {
		dir_names(abs.s, 1, &p);
		if (p.len > 0)
			die(EXIT_PERM, abs.s, " is not empty; give a new directory");
		if (mkdir(abs.s, 0700) == -1 && errno != EEXIST)
			die_file("unable to create ", abs.s);
		lock();	/* no administrative change while we copy */
		/* the queue first: a message it no longer holds when copied
		 * was delivered before the Maildirs are copied */
		if (queue)
			backup_queue(abs.s);
		for (k = 0; k < 4; k++)
			copy_tree(part[k], path3(&p, abs.s, part[k], NULL), kind[k], NULL);
		sync();	/* every copy on disk before the mark says complete */
		catx(&m, BACKUP_VERSION);
		catx(&m, "home ");
		catx(&m, auto_home);
		catx(&m, "\ntime ");
		catb(&m, num, fmt_ulong(num, (unsigned long)time(NULL)));
		catx(&m, queue ? "\nqueue yes\n" : "\nqueue no\n");
		/* the owners' numbers here, for a restore on another machine */
		if (!auto_single) {
			catx(&m, "ids");
			for (k = 0; k < AUTO_NUSERS; k++)
				if (!str_catc(&m, ' ') || !str_catulong(&m, role_id(k)))
					die_nomem();
			catx(&m, "\n");
		}
		write_atomic(path3(&p, abs.s, BACKUP_MARK, NULL), m.s, m.len,
		    0600, NULL);
		return 0;
	}

	/* restore */
	if (control_readfile(path3(&p, abs.s, BACKUP_MARK, NULL), &m, 4096) != 1 ||
	    m.len < strlen(BACKUP_VERSION) ||
	    memcmp(m.s, BACKUP_VERSION, strlen(BACKUP_VERSION)) != 0)
		die(EXIT_PERM, abs.s, " holds no complete lanmail backup");
	lock();
	/* control/ and users/ are copied over this install's: domains it
	 * has would be left out of virtualdomains, rcpthosts, assign */
	dir_names("domains", 0, &h);
	if (h.len > 0)
		die(EXIT_PERM, "this install has domains:", h.s, "; restore replaces "
		    "control/ and users/, which would drop them: restore only into a "
		    "fresh install (domains/ empty)");
	/* everything there before anything changes; alias/ is missing in
	 * backups of older versions */
	for (k = 0; k < 4; k++) {
		have[k] = (fd = open(path3(&p, abs.s, part[k], NULL),
		    O_RDONLY | O_DIRECTORY | O_CLOEXEC)) != -1;
		if (have[k])
			(void)close(fd);	/* only checked */
		else if (k != 2 || errno != ENOENT)
			die_sys(EXIT_PERM, "unable to open ", p.s);
	}
	queue_owner(&ao, AUTO_ALIAS);
	ids_read(&m, &o);
	restoring = 1;
	if (mark_get(&m, "home", &h) && h.s[0] == '/')
		restore_home = h.s;
	for (k = 0; k < 4; k++)
		if (have[k])
			copy_tree(path3(&p, abs.s, part[k], NULL), part[k], kind[k], own[k]);
	assign_fix(&o);
	if (exists(path3(&p, abs.s, "queue", NULL)))
		restore_queue(abs.s);
	sync();
	sync_everything(&o);
	return 0;
}

/* ---- web administrators and their second factor ---- */

#define WEBADMINS "control/webadmins"
#define WEBTOTP "users/webtotp"

/* admin_name - an administrator's name: like a mailbox name */
static void
admin_name(const char *name)
{
	if (!vpasswd_user_ok(name, strlen(name)))
		die(EXIT_PERM, "bad administrator name (1 to 64 of a-z 0-9 . _ -): ",
		    name);
}

/* admin_find - control/webadmins into t, name in it (add 0) or not
 * (add 1) */
static void
admin_find(const char *name, int add, struct str *t)
{
	int found;

	readtext(WEBADMINS, t);
	found = lines_find(t, name, strlen(name), ':');
	if (add && found)
		die(EXIT_PERM, "administrator exists already: ", name);
	if (!add && !found)
		die(EXIT_PERM, "no such administrator: ", name);
}

/* admin_set - add (add 1), replace (add 0) or remove (del 1) the line
 * name:hash of control/webadmins.  With a password to ask for, the lock
 * is taken after asking (see user_add), and the checks made again. */
static void
admin_set(const char *name, const struct opts *op, int add, int del)
{
	struct str t = STR_ZERO, out = STR_ZERO, h = STR_ZERO;
	char pw[VPASSWD_PASSMAX + 2];

	admin_name(name);
	admin_find(name, add, &t);
	if (!del) {
		get_password(op, pw, sizeof pw, name);
		lock();
		admin_find(name, add, &t);
	}
	lines_drop(&t, &out, name, strlen(name), ':', NULL);
	if (!del) {
		if (!vpasswd_hash(pw, &h))
			die_sys(EXIT_TEMP, "unable to hash the password");
		wipe(pw, sizeof pw);
		catx(&out, name);
		catx(&out, ":");
		catb(&out, h.s, h.len);
		catx(&out, "\n");
	}
	write_or_remove(WEBADMINS, out.s, out.len, 0600);
	if (del)	/* and its second factor */
		webtotp_drop(name);
	str_free(&t);
	str_free(&out);
	str_free(&h);
}

static void
admin_list(void)
{
	struct str t = STR_ZERO, out = STR_ZERO;
	size_t pos = 0, n;
	const char *l;

	readtext(WEBADMINS, &t);
	while (line_next(&t, &pos, &l, &n)) {
		if (n == 0 || l[0] == '#')
			continue;
		catb(&out, l, str_chrb(l, n, ':'));
		catx(&out, "\n");
	}
	put_out(&out);
	str_free(&t);
	str_free(&out);
}

/* qr_print - the URI as a QR code on the terminal, when qrencode(1) is
 * installed; the URI goes on its standard input, not its command line */
static void
qr_print(const char *uri)
{
	static const char *const path[] = { "/usr/bin/qrencode",
	    "/usr/local/bin/qrencode", NULL };
	char *argv[] = { "qrencode", "-t", "UTF8", "-o", "-", NULL };
	int p[2], fd[3], status, i;
	pid_t pid;

	for (i = 0; path[i] != NULL && access(path[i], X_OK) == -1; i++)
		;
	if (path[i] == NULL) {
		warn("qrencode is not installed: type the secret in by hand");
		return;
	}
	if (pipe_cloexec(p) == -1)
		die_sys(EXIT_TEMP, "unable to make a pipe");
	fd[0] = p[0], fd[1] = 1, fd[2] = 2;
	if ((pid = spawn(path[i], argv, NULL, fd, 3)) == -1)
		die_file("unable to run ", path[i]);
	(void)close(p[0]);	/* the child's now */
	if (!fd_writeall(p[1], uri, strlen(uri), 10))
		warn_sys("unable to write to qrencode");
	(void)close(p[1]);	/* end of its input */
	if (spawn_wait(pid, &status) == -1 || spawn_exitcode(status) != 0)
		warn("qrencode failed");
}

/* totp_set - on: a new random 160-bit secret for login in users/webtotp,
 * printed as an otpauth:// URI (RFC 6238 defaults: SHA-1, 6 digits,
 * 30 s) and a QR code; off: the line removed */
static void
totp_set(const char *verb, const char *login)
{
	static const char b32[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
	unsigned char key[20];
	char sec[33];
	struct str t = STR_ZERO, out = STR_ZERO, uri = STR_ZERO;
	const char *at = strchr(login, '@');
	size_t i, k;
	int on = str_equal(verb, "on");

	if (!on && !str_equal(verb, "off"))
		usage();
	if (at == NULL) {
		admin_name(login);
		readtext(WEBADMINS, &t);
		if (!lines_find(&t, login, strlen(login), ':'))
			die(EXIT_PERM, "no such administrator: ", login);
	} else {
		if (at - login != 10 || memcmp(login, "postmaster", 10) != 0)
			die(EXIT_PERM, "only postmaster@DOMAIN or an administrator"
			    " signs in to the web pages: ", login);
		need_domain(at + 1);
	}
	readtext(WEBTOTP, &t);
	lines_drop(&t, &out, login, strlen(login), ':', NULL);
	if (on) {
		if (getrandom(key, sizeof key, 0) != (ssize_t)sizeof key)
			die_sys(EXIT_TEMP, "unable to get random bytes");
		for (i = 0, k = 0; i < sizeof key; i += 5) {	/* 5 bytes, 8 letters */
			unsigned long long v = 0;
			int j;

			for (j = 0; j < 5; j++)
				v = v << 8 | key[i + (size_t)j];
			for (j = 7; j >= 0; j--)
				sec[k++] = b32[(v >> (5 * j)) & 31];
		}
		sec[k] = 0;
		wipe((char *)key, sizeof key);
		catx(&out, login);
		catx(&out, ":");
		catx(&out, sec);
		catx(&out, ":0\n");
	}
	write_or_remove(WEBTOTP, out.s, out.len, 0600);
	if (on) {
		catx(&uri, "otpauth://totp/lanmail:");
		for (i = 0; login[i]; i++)
			catx(&uri, login[i] == '@' ? "%40" : (char[2]){ login[i], 0 });
		catx(&uri, "?secret=");
		catx(&uri, sec);
		catx(&uri, "&issuer=lanmail&algorithm=SHA1&digits=6&period=30\n");
		nul(&uri);
		put_out(&uri);
		qr_print(uri.s);
		wipe(uri.s, uri.len);
		wipe(sec, sizeof sec);
	}
	str_free(&t);
	str_free(&out);
	str_free(&uri);
}

/* dkim_add - qmail-dkimkey makes the key pair and prints the record: the
 * cryptography stays out of qmail-admin */
static int
dkim_add(char **args, int n)
{
	struct str prog = STR_ZERO;
	char *argv[4];

	catx(&prog, auto_home);
	catx(&prog, "/bin/qmail-dkimkey");
	nul(&prog);
	argv[0] = prog.s;
	argv[1] = args[0];
	argv[2] = n > 1 ? args[1] : NULL;
	argv[3] = NULL;
	execv(prog.s, argv);
	die_file("unable to run ", prog.s);
}

/* stdin_args - args with the lines of standard input after them, for
 * --stdin with alias and list add and del: members by the thousand,
 * beyond what a command line holds.  Empty lines and lines starting
 * with # are left out; none left is an error (list del without members
 * would remove the whole list). */
static char **
stdin_args(char **args, int *nargs)
{
	static struct str t;	/* the strings the new args point into */
	size_t pos = 0, n, lines = 1, i;
	const char *l;
	char **v;
	int k = *nargs;

	slurp(0, &t, "standard input");
	nul(&t);
	for (i = 0; i < t.len; i++)
		lines += t.s[i] == '\n';
	if (lines > (size_t)(0x7fffffff - k - 1) ||
	    (v = calloc((size_t)k + lines + 1, sizeof *v)) == NULL)
		die_nomem();
	memcpy(v, args, (size_t)k * sizeof *v);
	while (line_next(&t, &pos, &l, &n)) {
		if (n > 0 && l[n - 1] == '\r')
			n--;
		if (n == 0 || l[0] == '#')
			continue;
		if (str_chrb(l, n, 0) < n)
			die(EXIT_PERM, "a NUL byte on standard input");
		v[k] = (char *)l;	/* into t, which is ours */
		v[k++][n] = 0;
	}
	if (k == *nargs)
		die(EXIT_PERM, "no address on standard input");
	*nargs = k;
	return v;
}

int
main(int argc, char **argv)
{
	struct opts op = { 0, 0, 0, 0, 0, 0 };
	struct owner o;
	/* the arguments that are no option, moved down in argv itself:
	 * each goes where one was already read, so any number fits */
	char **args = argv + 1;
	int nargs = 0, i;
	const char *what, *verb;

	die_init(argv[0]);
	umask(077);
	for (i = 1; i < argc; i++) {
		if (str_equal(argv[i], "--force"))
			op.force = 1;
		else if (str_equal(argv[i], "--stdin"))
			op.use_stdin = 1;
		else if (str_equal(argv[i], "--queue"))
			op.queue = 1;
		else if (str_equal(argv[i], "--hashed"))
			op.hashed = 1;
		else if (str_equal(argv[i], "--quota") ||
		    str_start(argv[i], "--quota=")) {
			const char *v = argv[i][7] == '=' ? argv[i] + 8 :
			    (i + 1 < argc ? argv[++i] : "");

			if (!scan_ulong(v, strlen(v), &op.quota))
				die(EXIT_PERM, "--quota needs a number of bytes: ", v);
			op.have_quota = 1;
		} else if (str_start(argv[i], "--"))
			die(EXIT_PERM, "unknown option: ", argv[i]);
		else
			args[nargs++] = argv[i];
	}
	args[nargs] = NULL;
	if (nargs < 1)
		usage();
	what = args[0];
	verb = nargs > 1 ? args[1] : "";

	/* backup's DIR and restore's DIR are relative to where we started */
	if (str_equal(what, "backup") || str_equal(what, "restore")) {
		if (nargs != 2)
			usage();
		return backup_main(what, args[1], op.queue);
	}
	if (str_equal(what, "dkim")) {
		if (!str_equal(verb, "add") || nargs < 3 || nargs > 4)
			usage();
		return dkim_add(args + 2, nargs - 2);
	}
	/* standard input is read before the lock, as passwords are */
	if (op.use_stdin && nargs >= 3 && ((str_equal(what, "alias") &&
	    str_equal(verb, "add")) || (str_equal(what, "list") &&
	    (str_equal(verb, "add") || str_equal(verb, "del")))))
		args = stdin_args(args, &nargs);
	if (chdir(auto_home) == -1)
		die_file("unable to switch to ", auto_home);
	get_owner(&o);
	/* those that ask for a password, or read standard input, take the
	 * lock after that */
	if (!((str_equal(what, "user") || str_equal(what, "admin")) &&
	    (str_equal(verb, "add") || str_equal(verb, "passwd") ||
	    str_equal(verb, "import"))))
		lock();

	if (str_equal(what, "sync") && nargs == 1)
		sync_everything(&o);
	else if (str_equal(what, "domain") && str_equal(verb, "list") && nargs == 2)
		domain_list();
	else if (str_equal(what, "domain") && nargs == 3) {
		if (str_equal(verb, "add"))
			domain_add(args[2], &o);
		else if (str_equal(verb, "del"))
			domain_del(args[2], &op, &o);
		else
			usage();
	} else if (str_equal(what, "user") && str_equal(verb, "quota") &&
	    nargs == 4 && !op.have_quota)
		user_quota(args[2], args[3], &o);
	else if (str_equal(what, "user") && str_equal(verb, "import") && nargs == 2)
		user_import(&op, &o);
	else if (str_equal(what, "user") && nargs == 3) {
		if (str_equal(verb, "add"))
			user_add(args[2], &op, &o);
		else if (str_equal(verb, "del"))
			user_del(args[2], &o);
		else if (str_equal(verb, "passwd"))
			user_passwd(args[2], &op, &o);
		else if (str_equal(verb, "list"))
			user_list(args[2]);
		else
			usage();
	} else if (str_equal(what, "alias") && nargs >= 3) {
		if (str_equal(verb, "add"))
			forwards_add(args[2], args + 3, nargs - 3, ALIAS_MARK, &o);
		else if (str_equal(verb, "del") && nargs == 3)
			forwards_del(args[2], NULL, 0, ALIAS_MARK, &o);
		else if (str_equal(verb, "list") && nargs == 3)
			alias_list(args[2]);
		else
			usage();
	} else if (str_equal(what, "list") && nargs >= 3) {
		if (str_equal(verb, "add"))
			forwards_add(args[2], args + 3, nargs - 3, LIST_MARK, &o);
		else if (str_equal(verb, "del"))
			forwards_del(args[2], args + 3, nargs - 3, LIST_MARK, &o);
		else if (str_equal(verb, "members") && nargs == 3)
			list_members(args[2]);
		else if (str_equal(verb, "make") && (nargs == 3 || nargs == 4))
			list_make(args[2], nargs == 4 ? args[3] : NULL, &o);
		else
			usage();
	} else if (str_equal(what, "admin") && str_equal(verb, "list") &&
	    nargs == 2)
		admin_list();
	else if (str_equal(what, "admin") && nargs == 3) {
		if (str_equal(verb, "add"))
			admin_set(args[2], &op, 1, 0);
		else if (str_equal(verb, "passwd"))
			admin_set(args[2], &op, 0, 0);
		else if (str_equal(verb, "del"))
			admin_set(args[2], &op, 0, 1);
		else
			usage();
	} else if (str_equal(what, "totp") && nargs == 3)
		totp_set(verb, args[2]);
	else
		usage();
	return 0;
}
