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
 * removed is reported as gone.  Exit 0 once it has spoken to the
 * client, 111 when it could not even start.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
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

struct msg {
	size_t name;		/* offset of "cur/NAME" in the name pool */
	unsigned long size;	/* octets in CRLF form, once known */
	time_t mtime;
	long mnsec;		/* the order of deliveries within a second */
	int sized, deleted;
};

struct box {
	struct str pool;	/* NUL-terminated "cur/NAME" strings */
	struct msg *m;
	unsigned long n, cap;
	struct buf out;
	struct buf in;
};

static const char *pool_base;

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

static void
add_msg(struct box *b, const char *name, const struct stat *st)
{
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
	m->sized = 0;
	m->deleted = 0;
	m->mtime = st->st_mtime;
	m->mnsec = st->st_mtim.tv_nsec;
	if (!str_cats(&b->pool, "cur/") || !str_cats(&b->pool, name) ||
	    !str_catc(&b->pool, 0))
		fail(b, "-ERR [SYS/TEMP] out of memory\r\n", "out of memory");
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
		/* another session may have moved it first */
		if (rename(from.s, to.s) == -1 && errno != ENOENT)
			fail(b, "-ERR [SYS/TEMP] unable to move new mail\r\n",
			    "unable to move new mail");
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
			if (errno == ENOENT)
				continue;
			fail(b, "-ERR [SYS/TEMP] unable to read the mailbox\r\n",
			    "unable to stat a message");
		}
		if (S_ISREG(st.st_mode))
			add_msg(b, e->d_name, &st);
	}
	if (errno)
		fail(b, "-ERR [SYS/TEMP] unable to read the mailbox\r\n",
		    "unable to read cur/");
	(void)closedir(d);	/* read-only */
	pool_base = b->pool.s;
	if (b->n > 1)
		qsort(b->m, b->n, sizeof *b->m, msg_cmp);
}

/* relocate - message i is gone from its name: another reader (an IMAP
 * server setting flags) may have renamed it.  1 with the new name. */
static int
relocate(struct box *b, unsigned long i)
{
	const char *old = b->pool.s + b->m[i].name + 4;
	size_t base = str_chrb(old, strlen(old), ':'), at;
	struct dirent *e;
	DIR *d;
	int found = 0;

	if ((d = opendir("cur")) == NULL)
		return 0;
	while ((e = readdir(d)) != NULL) {
		if (strncmp(e->d_name, old, base) != 0 ||
		    (e->d_name[base] != ':' && e->d_name[base] != 0) ||
		    strcmp(e->d_name, old) == 0)
			continue;
		at = b->pool.len;
		if (!str_cats(&b->pool, "cur/") || !str_cats(&b->pool, e->d_name) ||
		    !str_catc(&b->pool, 0))
			break;
		b->m[i].name = at;
		found = 1;
		break;
	}
	(void)closedir(d);	/* read-only */
	return found;
}

/* msg_open - the file of message i; -1 when another session removed it */
static int
msg_open(struct box *b, unsigned long i)
{
	int fd = open(b->pool.s + b->m[i].name, O_RDONLY | O_CLOEXEC);

	if (fd == -1 && errno == ENOENT && relocate(b, i))
		fd = open(b->pool.s + b->m[i].name, O_RDONLY | O_CLOEXEC);
	if (fd == -1 && errno != ENOENT)
		fail(b, "-ERR [SYS/TEMP] unable to read a message\r\n",
		    "unable to open a message");
	return fd;
}

/* msg_size - the CRLF size of message i, read once and remembered */
static int
msg_size(struct box *b, unsigned long i, unsigned long *size)
{
	char x[16384];
	unsigned long s = 0;
	long r;
	int fd, cr = 0;
	char last = '\n';

	if (b->m[i].sized) {
		*size = b->m[i].size;
		return 1;
	}
	if ((fd = msg_open(b, i)) == -1)
		return 0;
	while ((r = fd_read(fd, x, sizeof x, 0)) > 0) {
		pop3_wire_size(x, (size_t)r, &cr, &s);
		last = x[r - 1];
	}
	if (r == -1)
		fail(b, "-ERR [SYS/TEMP] unable to read a message\r\n",
		    "unable to read a message");
	(void)close(fd);	/* read-only */
	if (last != '\n')
		s += cr ? 1 : 2;	/* the line end RETR adds */
	b->m[i].size = s;
	b->m[i].sized = 1;
	*size = s;
	return 1;
}

/* pick - the message an argument names: 1 with its index, or 0 after
 * an -ERR reply */
static int
pick(struct box *b, const char *arg, size_t n, unsigned long *i)
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
	*i = k - 1;
	return 1;
}

static void
gone(struct box *b)
{
	puts_(b, "-ERR [SYS/TEMP] message removed by another session\r\n");
}

static void
stat_(struct box *b)
{
	unsigned long i, count = 0, total = 0, s;

	for (i = 0; i < b->n; i++)
		if (!b->m[i].deleted) {
			count++;
			if (msg_size(b, i, &s))
				total += s;
		}
	puts_(b, "+OK ");
	putnum(b, count);
	puts_(b, " ");
	putnum(b, total);
	puts_(b, "\r\n");
}

static void
list_one(struct box *b, unsigned long i, int uidl)
{
	char u[71];
	unsigned long s;
	const char *name = b->pool.s + b->m[i].name + 4;

	if (uidl) {
		putnum(b, i + 1);
		puts_(b, " ");
		put(b, u, pop3_uidl(name, strlen(name), u));
		return;
	}
	if (!msg_size(b, i, &s))
		s = 0;
	putnum(b, i + 1);
	puts_(b, " ");
	putnum(b, s);
}

static void
list(struct box *b, const struct pop3_cmd *c, int uidl)
{
	unsigned long i;

	if (c->arglen > 0) {
		if (!pick(b, c->arg, c->arglen, &i))
			return;
		puts_(b, "+OK ");
		list_one(b, i, uidl);
		puts_(b, "\r\n");
		return;
	}
	puts_(b, uidl ? "+OK unique-id listing follows\r\n" :
	    "+OK scan listing follows\r\n");
	for (i = 0; i < b->n; i++)
		if (!b->m[i].deleted) {
			list_one(b, i, uidl);
			puts_(b, "\r\n");
		}
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
		if (!pick(b, c->arg, str_chrb(c->arg, c->arglen, ' '), &i))
			return;
	} else if (!pick(b, c->arg, c->arglen, &i))
		return;
	if ((fd = msg_open(b, i)) == -1) {
		gone(b);
		return;
	}
	puts_(b, "+OK message follows\r\n");
	pop3_wire_init(&w, top, lines);
	while ((r = fd_read(fd, x, sizeof x, 0)) > 0 && !w.stop)
		if (!pop3_wire_put(&w, x, (size_t)r, &b->out))
			_exit(0);
	if (r == -1)	/* the status line is out: all we can do is stop */
		die_sys(EXIT_OK, "unable to read a message");
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
	const char *fn = b->pool.s + b->m[i].name;

	*sized = lstat(fn, st) == 0;
	if (unlink(fn) == 0)
		return 1;
	if (errno != ENOENT)
		return -1;
	if (!relocate(b, i))
		return 0;
	fn = b->pool.s + b->m[i].name;
	*sized = lstat(fn, st) == 0;
	if (unlink(fn) == 0)
		return 1;
	return errno == ENOENT ? 0 : -1;
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
	/* Maildir++: the space is free again (a lost line only means a recount) */
	if (gone)
		(void)maildir_quota_add(".", -bytes, -gone);
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
	struct box b = { STR_ZERO, NULL, 0, 0, { 0 }, { 0 } };
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
			if (pick(&b, c.arg, c.arglen, &i)) {
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
