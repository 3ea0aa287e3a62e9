/* qmail-qread - list the messages in the queue
 *
 * Run by the administrator (root, or qmails: it reads queue/info/).
 * For each committed message, oldest first, one line
 *	DATE  #ID  SIZE  <SENDER>  [preprocessing pending] [bounce pending]
 * (DATE of arrival in UTC, SIZE of the message file in bytes), then one
 * line per recipient, a tab, its state and the address:
 *	todo	addr		not yet sorted (the envelope is still in todo/)
 *	local	addr	remote	addr		not yet delivered
 *	done local	addr	done remote	addr	delivered or failed for good
 * Queue files are parsed as untrusted input; leftovers of a failed
 * qmail-queue are not messages and are not listed.
 */
#include <stdlib.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "auto.h"
#include "buf.h"
#include "control.h"
#include "die.h"
#include "envelope.h"
#include "qfile.h"
#include "qpath.h"
#include "str.h"

#define ENVMAX (110UL * 1024 * 1024)

struct entry {
	unsigned long id;
	time_t when;
};

static int
by_age(const void *a, const void *b)
{
	const struct entry *x = a, *y = b;

	if (x->when != y->when)
		return x->when < y->when ? -1 : 1;
	return x->id < y->id ? -1 : x->id > y->id;
}

struct idlist {
	struct entry **e;
	size_t *n, *cap;
};

static void
add(unsigned long id, void *arg)
{
	struct idlist *l = arg;
	struct entry **e = l->e;
	size_t *n = l->n, *cap = l->cap;

	if (*n == *cap) {
		struct entry *p;
		size_t nc = *cap ? *cap * 2 : 64;

		if (nc < *cap || nc > (size_t)-1 / sizeof **e ||
		    (p = realloc(*e, nc * sizeof **e)) == NULL)
			die_nomem();
		*e = p, *cap = nc;
	}
	(*e)[*n].id = id;
	(*e)[(*n)++].when = 0;
}

/* ids - every id with a file in dir (split), appended to *e */
static void
ids(const char *dir, struct entry **e, size_t *n, size_t *cap)
{
	struct idlist l = { e, n, cap };
	struct str d = STR_ZERO;
	int r;

	r = qpath_each(dir, add, &l, &d);
	if (r == 0)
		die_nomem();
	if (r < 0)
		die_sys(EXIT_TEMP, r == -1 ? "unable to open queue/" : "unable to read queue/", d.s);
	str_free(&d);
}

static void
put(struct buf *b, const char *s, size_t n)
{
	if (!buf_put(b, s, n))
		die_sys(EXIT_TEMP, "unable to write output");
}

static void
puts_(struct buf *b, const char *s)
{
	put(b, s, str_chrb(s, (size_t)-1, 0));
}

/* putaddr - an address from a queue file, every unprintable byte as ? */
static void
putaddr(struct buf *b, const char *a, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		put(b, (unsigned char)a[i] < 0x20 || (unsigned char)a[i] > 0x7e ? "?" : a + i, 1);
}

static void
head(struct buf *b, unsigned long id, time_t when, const char *sender, size_t sl,
    const char *notes)
{
	struct str fn = STR_ZERO;
	struct stat st;
	struct tm *tm;
	char date[64], num[FMT_ULONG];

	if ((tm = gmtime(&when)) == NULL || strftime(date, sizeof date, "%d %b %Y %H:%M:%S GMT", tm) == 0)
		date[0] = '?', date[1] = 0;
	puts_(b, date);
	put(b, "  #", 3);
	put(b, num, fmt_ulong(num, id));
	put(b, "  ", 2);
	if (!qpath(&fn, "mess", id))
		die_nomem();
	if (stat(fn.s, &st) == 0)
		put(b, num, fmt_ulong(num, (unsigned long)st.st_size));
	else
		put(b, "?", 1);
	put(b, "  <", 3);
	putaddr(b, sender, sl);
	put(b, ">", 1);
	puts_(b, notes);
	put(b, "\n", 1);
	str_free(&fn);
}

/* show - one message; 0 when it is not a committed message (any more) */
static int
show(struct buf *b, unsigned long id, struct str *raw)
{
	struct str fn = STR_ZERO;
	struct stat st;
	struct envelope t;
	struct qinfo qi;
	const char *f, *a;
	size_t pos, fl, off, al;
	int r, ch, d, ok = 0;

	if (!qpath(&fn, "todo", id))
		die_nomem();
	if (stat(fn.s, &st) == 0 && control_readfile(fn.s, raw, ENVMAX) == 1) {
		if (envelope_parse_todo(&t, raw->s, raw->len) != ENVELOPE_OK) {
			head(b, id, st.st_mtime, "", 0, "  [damaged envelope]");
			goto out1;
		}
		head(b, id, st.st_mtime, t.sender, t.senderlen, "  [preprocessing pending]");
		for (pos = 0; envelope_next(&t, &pos, &f, &fl) == 1; ) {
			put(b, "\ttodo\t", 6);
			putaddr(b, f, fl);
			put(b, "\n", 1);
		}
out1:
		str_free(&fn);
		return 1;
	}
	if (!qpath(&fn, "info", id))
		die_nomem();
	if ((r = control_readfile(fn.s, raw, 4 * QFILE_ADDRMAX)) != 1) {
		if (r == -1)
			warn_sys("unable to read ", fn.s);
		goto out;
	}
	if (!qfile_info(raw->s, raw->len, &qi)) {
		head(b, id, 0, "", 0, "  [damaged info file]");
		ok = 1;
		goto out;
	}
	if (!qpath(&fn, "bounce", id))
		die_nomem();
	head(b, id, qi.arrival, qi.sender, qi.senderlen,
	    access(fn.s, F_OK) == 0 ? "  [bounce pending]" : "");
	for (ch = 0; ch < 2; ch++) {
		if (!qpath(&fn, ch ? "remote" : "local", id))
			die_nomem();
		if (control_readfile(fn.s, raw, ENVMAX) != 1)
			continue;
		for (pos = 0; (r = qfile_rcpt(raw->s, raw->len, &pos, &off, &d, &a, &al)) == 1; ) {
			puts_(b, d ? "\tdone " : "\t");
			puts_(b, ch ? "remote\t" : "local\t");
			putaddr(b, a, al);
			put(b, "\n", 1);
		}
		if (r == -1)
			puts_(b, ch ? "\t[damaged remote file]\n" : "\t[damaged local file]\n");
	}
	ok = 1;
out:
	str_free(&fn);
	return ok;
}

int
main(int argc, char **argv)
{
	char outx[BUF_SIZE];
	struct buf b;
	struct entry *e = NULL;
	struct str raw = STR_ZERO, fn = STR_ZERO;
	struct stat st;
	struct qinfo qi;
	size_t n = 0, cap = 0, i;

	(void)argc;
	die_init(argv[0]);
	if (chdir(auto_home) == -1)
		die_sys(EXIT_TEMP, "unable to chdir to ", auto_home);
	if (chdir("queue") == -1)
		die_sys(EXIT_TEMP, "unable to chdir to queue");
	ids("todo", &e, &n, &cap);
	ids("info", &e, &n, &cap);
	/* arrival times, for the order */
	for (i = 0; i < n; i++) {
		if (!qpath(&fn, "info", e[i].id))
			die_nomem();
		if (control_readfile(fn.s, &raw, 4 * QFILE_ADDRMAX) == 1 &&
		    qfile_info(raw.s, raw.len, &qi))
			e[i].when = qi.arrival;
		else {
			if (!qpath(&fn, "todo", e[i].id))
				die_nomem();
			if (stat(fn.s, &st) == 0)
				e[i].when = st.st_mtime;
		}
	}
	if (n)
		qsort(e, n, sizeof *e, by_age);
	buf_init(&b, 1, outx, sizeof outx, 0);
	for (i = 0; i < n; i++) {
		/* an id in both todo/ and info/ is one message; its two
		 * entries sort next to each other */
		if (i == 0 || e[i - 1].id != e[i].id)
			(void)show(&b, e[i].id, &raw);
	}
	if (!buf_flush(&b))
		die_sys(EXIT_TEMP, "unable to write output");
	free(e);
	str_free(&raw);
	str_free(&fn);
	return 0;
}
