/* qmail-pop3d.c - the POP3 transaction and update states on a Maildir
 * (RFC 1939, RFC 2449)
 *
 * Run after a successful login, by qmail-auth or another checkpassword
 * program, in the mailbox owner's home directory:
 *	qmail-pop3d maildirname
 * It moves new/ messages into cur/, answers the client on descriptors
 * 0 and 1 (commands untrusted), and removes the messages marked with
 * DELE only when the client ends with QUIT; a connection that drops
 * removes nothing.  Every change to the Maildir is a single rename or
 * unlink, so a second session, a delivery or another Maildir reader at
 * the same time cannot leave it damaged: a message another session
 * removed is reported as gone.  File names and contents are the
 * mailbox owner's and may be anything: one odd file costs only itself.
 * Exit 0 once it has spoken to the client, 111 when it could not even
 * start.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "auto.h"
#include "buf.h"
#include "control.h"
#include "die.h"
#include "maildir.h"
#include "pop3.h"
#include "sig.h"
#include "str.h"

#define TIMEOUT_DEFAULT 600
#define OUTSIZE 65536
#define TMP_OLD (36 * 3600)	/* a tmp/ file this old is an abandoned delivery */

struct msg {
	size_t name;		/* offset of "cur/NAME" (or "new/NAME") in the pool */
	unsigned long size;	/* octets in CRLF form, once known */
	time_t mtime;
	long mnsec;		/* the order of deliveries within a second */
	unsigned long bad;	/* command that found it unreadable, 0 none */
	unsigned sized:1, deleted:1, gone:1, warned:1;
};

/* the names in cur/, sorted by the part before ':', kept from one
 * command to the next: read first when a message is missing from its
 * name, and again only when a name is missing from it too, at most once
 * per command, so a client going through a mailbox another reader has
 * renamed costs one read of cur/, not one per command */
struct curdir {
	struct str pool;	/* NUL-terminated names */
	size_t *off;		/* where each name starts in pool */
	size_t n, cap;
	unsigned long cmd;	/* the command it was read for, 0 never */
};

struct box {
	struct str pool;	/* NUL-terminated "cur/NAME" (or "new/NAME") */
	struct msg *m;
	unsigned long n, cap;
	unsigned long cmd;	/* commands so far, counting from 1 */
	struct curdir cur;
	struct buf out;
	struct buf in;
};

static const char *pool_base;	/* for the qsort comparisons */

static int
msg_cmp(const void *a, const void *b)
{
	const struct msg *x = a, *y = b;

	if (x->mtime != y->mtime)
		return x->mtime < y->mtime ? -1 : 1;
	if (x->mnsec != y->mnsec)
		return x->mnsec < y->mnsec ? -1 : 1;
	return strcmp(pool_base + x->name, pool_base + y->name);
}

/* flush - the replies gathered so far, in one write when they fit */
static void
flush(struct box *b)
{
	if (!buf_flush(&b->out))
		_exit(0);	/* the client is gone: nothing was deleted */
}

static void
put(struct box *b, const char *s, size_t n)
{
	if (!buf_put(&b->out, s, n))
		_exit(0);
}

static void
puts_(struct box *b, const char *s)
{
	put(b, s, strlen(s));
}

static void
putnum(struct box *b, unsigned long u)
{
	char num[FMT_ULONG];

	put(b, num, fmt_ulong(num, u));
}

/* fail - a reply for trouble that ends the session */
static void __attribute__((noreturn))
fail(struct box *b, const char *reply, const char *why)
{
	puts_(b, reply);
	flush(b);
	die_sys(EXIT_OK, why);
}

/* add_msg - a message at dir/name.  A ",W=" size in the name is taken
 * when the file could have it (between its size and twice that plus a
 * line end): names are the owner's to change, and a wrong one only
 * misstates the size; RETR sends the file as it is. */
static void
add_msg(struct box *b, const char *dir, const char *name, const struct stat *st)
{
	unsigned long long w;
	struct msg *m;

	if (b->n == b->cap) {
		unsigned long cap = b->cap ? b->cap * 2 : 256;

		if (cap > ((size_t)-1) / sizeof *m ||
		    (m = realloc(b->m, cap * sizeof *m)) == NULL)
			fail(b, "-ERR [SYS/TEMP] out of memory\r\n", "out of memory");
		b->m = m;
		b->cap = cap;
	}
	m = &b->m[b->n++];
	m->name = b->pool.len;
	m->size = 0;
	m->sized = m->deleted = m->gone = m->warned = 0;
	m->bad = 0;
	m->mtime = st->st_mtime;
	m->mnsec = st->st_mtim.tv_nsec;
	if (maildir_name_wsize(name, &w) && w >= (unsigned long long)st->st_size &&
	    w <= 2 * (unsigned long long)st->st_size + 2 && w <= (unsigned long)-1) {
		m->size = (unsigned long)w;
		m->sized = 1;
	}
	if (!str_cats(&b->pool, dir) || !str_catc(&b->pool, '/') ||
	    !str_cats(&b->pool, name) || !str_catc(&b->pool, 0))
		fail(b, "-ERR [SYS/TEMP] out of memory\r\n", "out of memory");
}

/* sweep_tmp - remove what deliveries left in tmp/ long ago: a file not
 * read or written for 36 hours belongs to no delivery still running */
static void
sweep_tmp(void)
{
	struct dirent *e;
	struct stat st;
	time_t now = time(NULL);
	DIR *d;
	int dfd;

	if ((d = opendir("tmp")) == NULL)
		return;		/* nothing to sweep; new/ and cur/ are what matter */
	dfd = dirfd(d);
	while ((e = readdir(d)) != NULL) {	/* an error only ends the sweep */
		if (e->d_name[0] == '.' ||
		    fstatat(dfd, e->d_name, &st, AT_SYMLINK_NOFOLLOW) == -1 ||
		    !S_ISREG(st.st_mode) || now - st.st_atime <= TMP_OLD ||
		    now - st.st_mtime <= TMP_OLD)
			continue;
		if (unlinkat(dfd, e->d_name, 0) == -1)
			warn_sys("unable to remove tmp/", e->d_name);
	}
	(void)closedir(d);	/* read-only */
}

/* scan - new/ into cur/ (flags ":2,"), then every message in cur/ */
static void
scan(struct box *b)
{
	struct str from = STR_ZERO, to = STR_ZERO;
	struct dirent *e;
	struct stat st;
	DIR *d;
	int dfd;

	if ((d = opendir("new")) == NULL)
		fail(b, "-ERR [SYS/TEMP] unable to open the mailbox\r\n",
		    "unable to open new/");
	while ((errno = 0, e = readdir(d)) != NULL) {
		if (e->d_name[0] == '.')
			continue;
		from.len = to.len = 0;
		if (!str_cats(&from, "new/") || !str_cats(&from, e->d_name) ||
		    !str_nul(&from) || !str_cats(&to, "cur/") ||
		    !str_cats(&to, e->d_name) ||
		    (strchr(e->d_name, ':') == NULL && !str_cats(&to, ":2,")) ||
		    !str_nul(&to))
			fail(b, "-ERR [SYS/TEMP] out of memory\r\n", "out of memory");
		/* another session may have moved it first; one that cannot
		 * move (a name too long for the flags, a directory in the
		 * way) stays in new/ and is read from there */
		if (rename(from.s, to.s) == -1 && errno != ENOENT) {
			warn_sys("unable to move ", from.s, " into cur/");
			if (lstat(from.s, &st) == 0 && S_ISREG(st.st_mode))
				add_msg(b, "new", e->d_name, &st);
		}
	}
	if (errno)
		fail(b, "-ERR [SYS/TEMP] unable to read the mailbox\r\n",
		    "unable to read new/");
	(void)closedir(d);	/* read-only */
	str_free(&from);
	str_free(&to);

	if ((d = opendir("cur")) == NULL)
		fail(b, "-ERR [SYS/TEMP] unable to open the mailbox\r\n",
		    "unable to open cur/");
	dfd = dirfd(d);
	while ((errno = 0, e = readdir(d)) != NULL) {
		if (e->d_name[0] == '.')
			continue;
		if (fstatat(dfd, e->d_name, &st, AT_SYMLINK_NOFOLLOW) == -1) {
			if (errno != ENOENT)
				warn_sys("unable to stat cur/", e->d_name);
			continue;
		}
		if (S_ISREG(st.st_mode))
			add_msg(b, "cur", e->d_name, &st);
	}
	if (errno)
		fail(b, "-ERR [SYS/TEMP] unable to read the mailbox\r\n",
		    "unable to read cur/");
	(void)closedir(d);	/* read-only */
	pool_base = b->pool.s;
	if (b->n > 1)
		qsort(b->m, b->n, sizeof *b->m, msg_cmp);
}

/* keylen - the unique part of a Maildir name, before its ':' flags */
static size_t
keylen(const char *name)
{
	return strcspn(name, ":");
}

static int
cur_cmp(const void *a, const void *b)
{
	const char *x = pool_base + *(const size_t *)a;
	const char *y = pool_base + *(const size_t *)b;
	size_t xn = keylen(x), yn = keylen(y);
	int c = memcmp(x, y, xn < yn ? xn : yn);

	if (c != 0)
		return c;
	return xn < yn ? -1 : xn > yn;
}

/* cur_read - the names in cur/, read again unless this command did
 * already: 1, or 0 with errno (then the listing is empty) */
static int
cur_read(struct box *b)
{
	struct curdir *c = &b->cur;
	struct dirent *e;
	size_t *off;
	DIR *d;
	int err;

	if (c->cmd == b->cmd)
		return 1;
	c->pool.len = 0;
	c->n = 0;
	if ((d = opendir("cur")) == NULL)
		return 0;
	while ((errno = 0, e = readdir(d)) != NULL) {
		if (e->d_name[0] == '.')
			continue;
		if (c->n == c->cap) {
			size_t cap = c->cap ? c->cap * 2 : 256;

			if (cap > ((size_t)-1) / sizeof *off ||
			    (off = realloc(c->off, cap * sizeof *off)) == NULL)
				break;
			c->off = off;
			c->cap = cap;
		}
		c->off[c->n] = c->pool.len;
		if (!str_cats(&c->pool, e->d_name) || !str_catc(&c->pool, 0))
			break;
		c->n++;
	}
	err = errno;
	(void)closedir(d);	/* read-only */
	if ((errno = err) != 0) {
		c->n = 0;	/* a part, unsorted, would mislead the search */
		return 0;
	}
	pool_base = c->pool.s;
	if (c->n > 1)
		qsort(c->off, c->n, sizeof *c->off, cur_cmp);
	c->cmd = b->cmd;
	return 1;
}

/* cur_find - another name of message i in the listing of cur/: 1 with
 * the message moved to it, 0 none */
static int
cur_find(struct box *b, unsigned long i)
{
	const char *old = b->pool.s + b->m[i].name + 4, *x;
	size_t k = keylen(old), lo = 0, hi = b->cur.n, mid, n, at;
	int c;

	/* the first name whose key is not below old's */
	while (lo < hi) {
		mid = lo + (hi - lo) / 2;
		x = b->cur.pool.s + b->cur.off[mid];
		n = keylen(x);
		c = memcmp(x, old, n < k ? n : k);
		if (c < 0 || (c == 0 && n < k))
			lo = mid + 1;
		else
			hi = mid;
	}
	for (; lo < b->cur.n; lo++) {
		x = b->cur.pool.s + b->cur.off[lo];
		if (keylen(x) != k || memcmp(x, old, k) != 0)
			return 0;
		if (strcmp(x, old) == 0 && memcmp(b->pool.s + b->m[i].name, "cur/", 4) == 0)
			continue;	/* the name that just failed */
		at = b->pool.len;
		if (!str_cats(&b->pool, "cur/") || !str_cats(&b->pool, x) ||
		    !str_catc(&b->pool, 0))
			fail(b, "-ERR [SYS/TEMP] out of memory\r\n", "out of memory");
		b->m[i].name = at;
		return 1;
	}
	return 0;
}

/* relocate - message i is gone from its name: another reader (an IMAP
 * server setting flags) may have renamed it, or moved it from new/.
 * The listing kept from an earlier command is asked first; cur/ is read
 * again when the name is not in it, or when again is set (a name the
 * kept listing gave is gone too).  1 with the new name, 0 not there, -1
 * cur/ unreadable.  A name with nothing before the ':' is never looked
 * for: it identifies nothing. */
static int
relocate(struct box *b, unsigned long i, int again)
{
	int r;

	if (keylen(b->pool.s + b->m[i].name + 4) == 0)
		return 0;
	if (again && !cur_read(b))
		return -1;
	if ((r = cur_find(b, i)) == 1 || b->cur.cmd == b->cmd)
		return r;
	if (!cur_read(b))
		return -1;
	return cur_find(b, i);
}

/* relocated_last - a name relocate gave has failed: 1 when it came from
 * a listing read in this command (the message went again meanwhile) */
static int
relocated_last(const struct box *b, int tries)
{
	return tries > 0 && b->cur.cmd == b->cmd;
}

/* unreadable - message i cannot be read in this command: the client
 * hears it is unavailable, the log hears why (once) */
static void
unreadable(struct box *b, unsigned long i)
{
	b->m[i].bad = b->cmd;
	if (!b->m[i].warned)
		warn_sys("unable to read ", b->pool.s + b->m[i].name);
	b->m[i].warned = 1;
}

/* msg_open - the file of message i; -1 when another session removed
 * it (then marked gone for good) or it cannot be read now */
static int
msg_open(struct box *b, unsigned long i)
{
	struct stat st;
	int fd, r, tries;

	if (b->m[i].gone || b->m[i].bad == b->cmd)
		return -1;
	for (tries = 0;; tries++) {
		/* no symlinks out of the Maildir; no blocking on a FIFO */
		fd = open(b->pool.s + b->m[i].name,
		    O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
		if (fd != -1) {
			if (fstat(fd, &st) == -1)
				r = errno;
			else if (S_ISREG(st.st_mode))
				return fd;
			else
				r = S_ISDIR(st.st_mode) ? EISDIR : EINVAL;
			(void)close(fd);	/* read-only */
			errno = r;
			break;
		}
		if (errno != ENOENT || relocated_last(b, tries))
			break;
		if ((r = relocate(b, i, tries > 0)) == 0) {
			b->m[i].gone = 1;
			return -1;
		}
		if (r == -1)
			break;
	}
	if (errno == ENOENT) {	/* renamed away again meanwhile */
		b->m[i].gone = 1;
		return -1;
	}
	unreadable(b, i);
	return -1;
}

/* msg_size - the CRLF size of message i, read once and remembered: 1,
 * or 0 when it is gone or unreadable now */
static int
msg_size(struct box *b, unsigned long i, unsigned long *size)
{
	char x[16384];
	struct maildir_crlf c = MAILDIR_CRLF_ZERO;
	unsigned long long s;
	long r;
	int fd;

	/* a size known from the name or an earlier read says nothing of
	 * whether the message is still there: once RETR or TOP found it
	 * removed, STAT and LIST leave it out as they would a deleted one */
	if (b->m[i].gone)
		return 0;
	if (b->m[i].sized) {
		*size = b->m[i].size;
		return 1;
	}
	if ((fd = msg_open(b, i)) == -1)
		return 0;
	while ((r = fd_read(fd, x, sizeof x, 0)) > 0)
		maildir_crlf_put(&c, x, (size_t)r);
	if (r == -1) {
		unreadable(b, i);
		(void)close(fd);	/* read-only */
		return 0;
	}
	(void)close(fd);	/* read-only */
	s = maildir_crlf_total(&c);
	b->m[i].size = s > (unsigned long)-1 ? (unsigned long)-1 : (unsigned long)s;
	b->m[i].sized = 1;
	*size = b->m[i].size;
	return 1;
}

static void
gone(struct box *b)
{
	puts_(b, "-ERR [SYS/TEMP] message removed by another session\r\n");
}

/* unavailable - the reply for message i that could not be opened */
static void
unavailable(struct box *b, unsigned long i)
{
	if (b->m[i].gone) {
		gone(b);
		return;
	}
	puts_(b, "-ERR [SYS/TEMP] unable to read message ");
	putnum(b, i + 1);
	puts_(b, "\r\n");
}

/* pick - the message an argument names: 1 with its index, or 0 after
 * an -ERR reply.  A message known to be gone is refused unless any is
 * set (DELE: it is gone, as asked). */
static int
pick(struct box *b, const char *arg, size_t n, unsigned long *i, int any)
{
	unsigned long k;

	if (!pop3_num(arg, n, b->n, &k)) {
		puts_(b, "-ERR no such message\r\n");
		return 0;
	}
	if (b->m[k - 1].deleted) {
		puts_(b, "-ERR message ");
		putnum(b, k);
		puts_(b, " is deleted\r\n");
		return 0;
	}
	if (b->m[k - 1].gone && !any) {
		gone(b);
		return 0;
	}
	*i = k - 1;
	return 1;
}

/* stat_ - STAT counts what LIST lists: neither a deleted message nor
 * one that is gone or unreadable */
static void
stat_(struct box *b)
{
	unsigned long i, count = 0, total = 0, s;

	for (i = 0; i < b->n; i++)
		if (!b->m[i].deleted && msg_size(b, i, &s)) {
			count++;
			total += s;
		}
	puts_(b, "+OK ");
	putnum(b, count);
	puts_(b, " ");
	putnum(b, total);
	puts_(b, "\r\n");
}

/* list_one - pre, then "N SIZE" or "N UIDL" for message i; 0 (nothing
 * said) when it is gone or unreadable */
static int
list_one(struct box *b, unsigned long i, int uidl, const char *pre)
{
	char u[71];
	unsigned long s = 0;
	const char *name;

	if (uidl ? b->m[i].gone : !msg_size(b, i, &s))
		return 0;
	name = b->pool.s + b->m[i].name + 4;	/* after msg_size: it may move */
	puts_(b, pre);
	putnum(b, i + 1);
	puts_(b, " ");
	if (uidl)
		put(b, u, pop3_uidl(name, strlen(name), u));
	else
		putnum(b, s);
	return 1;
}

static void
list(struct box *b, const struct pop3_cmd *c, int uidl)
{
	unsigned long i;

	if (c->arglen > 0) {
		if (!pick(b, c->arg, c->arglen, &i, 0))
			return;
		if (list_one(b, i, uidl, "+OK "))
			puts_(b, "\r\n");
		else
			unavailable(b, i);
		return;
	}
	puts_(b, uidl ? "+OK unique-id listing follows\r\n" :
	    "+OK scan listing follows\r\n");
	for (i = 0; i < b->n; i++)
		if (!b->m[i].deleted && list_one(b, i, uidl, ""))
			puts_(b, "\r\n");
	puts_(b, ".\r\n");
}

/* retr - RETR n, or TOP n lines: status line and message together */
static void
retr(struct box *b, const struct pop3_cmd *c, int top)
{
	char x[16384];
	struct pop3_wire w;
	unsigned long i, lines = 0;
	long r;
	int fd;

	if (top) {
		if (!pop3_two(c->arg, c->arglen, b->n, &i, &lines)) {
			puts_(b, "-ERR TOP needs a message number and a line count\r\n");
			return;
		}
		if (!pick(b, c->arg, str_chrb(c->arg, c->arglen, ' '), &i, 0))
			return;
	} else if (!pick(b, c->arg, c->arglen, &i, 0))
		return;
	if ((fd = msg_open(b, i)) == -1) {
		unavailable(b, i);
		return;
	}
	/* the first read decides between +OK and -ERR */
	if ((r = fd_read(fd, x, sizeof x, 0)) == -1) {
		unreadable(b, i);
		(void)close(fd);	/* read-only */
		unavailable(b, i);
		return;
	}
	puts_(b, "+OK message follows\r\n");
	pop3_wire_init(&w, top, lines);
	while (r > 0 && !w.stop) {
		if (!pop3_wire_put(&w, x, (size_t)r, &b->out))
			_exit(0);
		r = fd_read(fd, x, sizeof x, 0);
	}
	if (r == -1)	/* the status line is out: all we can do is stop */
		die_sys(EXIT_OK, "unable to read ", b->pool.s + b->m[i].name);
	(void)close(fd);	/* read-only */
	if (!pop3_wire_end(&w, &b->out))
		_exit(0);
}

/* msg_remove - unlink message i, found again if another reader renamed
 * it: 1 this call removed it (*sized: st holds its size), 0 another
 * session removed it first, -1 error.  Only a removal of our own may
 * count in maildirsize: two sessions deleting one message must not
 * both subtract it. */
static int
msg_remove(struct box *b, unsigned long i, struct stat *st, int *sized)
{
	const char *fn;
	int r, tries;

	*sized = 0;
	if (b->m[i].gone)
		return 0;
	for (tries = 0;; tries++) {
		fn = b->pool.s + b->m[i].name;
		*sized = lstat(fn, st) == 0;
		if (unlink(fn) == 0)
			return 1;
		if (errno != ENOENT)
			return -1;
		if (relocated_last(b, tries))
			return 0;
		if ((r = relocate(b, i, tries > 0)) != 1)
			return r;
	}
}

/* quit - the UPDATE state: the marked messages go */
static void
quit(struct box *b)
{
	unsigned long i, deleted = 0, failed = 0;
	long long bytes = 0, gone = 0;
	struct stat st;
	int sized;

	for (i = 0; i < b->n; i++) {
		if (!b->m[i].deleted)
			continue;
		switch (msg_remove(b, i, &st, &sized)) {
		case 1:
			if (sized) {
				bytes += (long long)st.st_size;
				gone++;
			}
			/* fall through */
		case 0:
			deleted++;	/* gone, as the client asked */
			break;
		default:
			failed++;
		}
	}
	/* Maildir++: the space is free again.  A lost line leaves the sums
	 * too high; a delivery they would refuse recounts first, so no
	 * mail bounces for it, but the administrator should know. */
	if (gone && !maildir_quota_add(".", -bytes, -gone))
		warn_sys("unable to record the removals in maildirsize");
	if (failed) {
		puts_(b, "-ERR [SYS/TEMP] some deleted messages could not be removed\r\n");
	} else {
		puts_(b, "+OK bye, ");
		putnum(b, deleted);
		puts_(b, " messages deleted\r\n");
	}
	flush(b);
	_exit(0);
}

int
main(int argc, char **argv)
{
	static char outx[OUTSIZE], inx[4096];
	struct box b = { STR_ZERO, NULL, 0, 0, 0, { STR_ZERO, NULL, 0, 0, 0 },
	    { 0 }, { 0 } };
	struct str line = STR_ZERO, fn = STR_ZERO;
	struct pop3_cmd c;
	unsigned long t, i;
	size_t n;
	int r;

	die_init(argv[0]);
	if (argc != 2)
		die(EXIT_TEMP, "usage: qmail-pop3d maildirname");
	(void)sig_ignore(SIGPIPE);
	if (!str_copys(&fn, auto_home) || !str_cats(&fn, "/control/timeoutpop3") ||
	    !str_nul(&fn))
		die_nomem();
	switch (control_readulong(fn.s, &t)) {
	case 1:
		if (t > 0 && t < 86400)
			break;
		/* fall through */
	case 0:
		t = TIMEOUT_DEFAULT;
		break;
	default:
		t = TIMEOUT_DEFAULT;	/* unreadable to this user: the default */
	}
	buf_init(&b.out, 1, outx, sizeof outx, 1200);
	buf_init(&b.in, 0, inx, sizeof inx, (unsigned)t);
	if (chdir(argv[1]) == -1)
		fail(&b, "-ERR [SYS/TEMP] unable to open the mailbox\r\n",
		    "unable to open the Maildir");
	sweep_tmp();
	scan(&b);

	puts_(&b, "+OK ");
	putnum(&b, b.n);
	puts_(&b, " messages\r\n");
	flush(&b);

	for (;;) {
		line.len = 0;
		r = buf_getline(&b.in, &line, '\n', POP3_LINEMAX);
		if (r == -1 && errno == EMSGSIZE) {
			/* drop the rest of the long line */
			do {
				line.len = 0;
				r = buf_getline(&b.in, &line, '\n', POP3_LINEMAX);
			} while (r == -1 && errno == EMSGSIZE);
			if (r == 1) {
				puts_(&b, "-ERR line too long\r\n");
				flush(&b);
				continue;
			}
		}
		if (r == -1 && errno == ETIMEDOUT) {
			puts_(&b, "-ERR autologout: idle for too long\r\n");
			flush(&b);
			_exit(0);	/* nothing deleted */
		}
		if (r != 1)
			_exit(0);	/* dropped or unreadable: nothing deleted */
		b.cmd++;	/* cur/ is read at most once per command */
		n = line.len - 1;
		if (n > 0 && line.s[n - 1] == '\r')
			n--;
		if (!pop3_parse(line.s, n, &c)) {
			puts_(&b, "-ERR malformed command\r\n");
		} else switch (c.cmd) {
		case POP3_QUIT:
			quit(&b);
			break;
		case POP3_STAT:
			stat_(&b);
			break;
		case POP3_LIST:
			list(&b, &c, 0);
			break;
		case POP3_UIDL:
			list(&b, &c, 1);
			break;
		case POP3_RETR:
			retr(&b, &c, 0);
			break;
		case POP3_TOP:
			retr(&b, &c, 1);
			break;
		case POP3_DELE:
			if (pick(&b, c.arg, c.arglen, &i, 1)) {
				b.m[i].deleted = 1;
				puts_(&b, "+OK marked for deletion\r\n");
			}
			break;
		case POP3_NOOP:
			puts_(&b, "+OK\r\n");
			break;
		case POP3_RSET:
			for (i = 0; i < b.n; i++)
				b.m[i].deleted = 0;
			puts_(&b, "+OK\r\n");
			break;
		case POP3_CAPA:
			/* RFC 2449 section 5: what qmail-popup announced
			 * before the login is announced here too */
			puts_(&b, "+OK capability list follows\r\n"
			    "TOP\r\nUIDL\r\nUSER\r\nSASL PLAIN\r\nRESP-CODES\r\n"
			    "AUTH-RESP-CODE\r\nPIPELINING\r\n"
			    "IMPLEMENTATION lanmail\r\n.\r\n");
			break;
		case POP3_USER:
		case POP3_PASS:
		case POP3_APOP:
		case POP3_AUTH:
			puts_(&b, "-ERR already logged in\r\n");
			break;
		case POP3_UNKNOWN:
			puts_(&b, "-ERR unknown command\r\n");
			break;
		default:
			puts_(&b, "-ERR command not available here\r\n");
		}
		/* pipelined commands: answer all those read in one write */
		if (str_chrb(b.in.x + b.in.pos, buf_pending(&b.in), '\n') ==
		    buf_pending(&b.in))
			flush(&b);
	}
}
