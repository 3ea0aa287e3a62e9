/* qmail-send - the scheduler: every committed message to every recipient
 *
 * Started by qmail-start as qmails, with these descriptors:
 *	1 the log (one line per event)	2 errors
 *	3 requests to qmail-lspawn	4 its answers
 *	5 requests to qmail-rspawn	6 its answers
 *	7 requests to qmail-clean	8 its answers
 * It takes each new envelope from todo/ (woken by lock/trigger, and on a
 * timer), splits the recipients local/remote by control/locals and
 * control/virtualdomains, and delivers straight from todo/: while every
 * attempt succeeds or fails for good, todo/ stands for the whole message
 * and nothing else is written.  Deliveries run within the concurrency
 * limits: one qmail-local per local recipient, one qmail-remote per
 * message and domain.  A failure is first recorded in bounce/ID.  When a
 * recipient has to wait for a retry, info/, local/ and remote/ are
 * written durably (recipients done marked D) and qmail-clean removes the
 * todo/ file; from then on a finished recipient is marked in place.
 * Temporary failures are retried on a growing schedule until
 * control/queuelifetime has passed.  When no recipient is left, the
 * failures go back to the sender as one RFC 3464 report, and the
 * message's files are removed.  Queue files are parsed as untrusted
 * input; see lanmail-queue(5) for their formats and qmail-send(8).
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "auto.h"
#include "buf.h"
#include "control.h"
#include "die.h"
#include "dsn.h"
#include "envelope.h"
#include "qfile.h"
#include "qpath.h"
#include "qqfilter.h"
#include "sig.h"
#include "spawn.h"
#include "str.h"
#include "syncall.h"

#define LOCAL 0
#define REMOTE 1
#define SLOTS 500		/* the most deliveries at once per channel */
#define GROUPMAX 100		/* recipients in one qmail-remote run */
#define BATCH 16		/* todo/ files taken in between looks at the spawners */
#define DIRECTMAX 256		/* messages held from todo/ at once */
#define TODO_SCAN 30		/* seconds between looks into todo/ */
#define SWEEP_EVERY 3600	/* seconds between sweeps for leftovers */
#define LEFTOVER_AGE (36L * 3600)
#define BOUNCE_RETRY 60		/* seconds before a failed bounce is tried again */
#define LOAD_RETRY 10		/* seconds before unreadable queue files are read again */
#define LOAD_RETRYMAX 3600	/* the most that delay doubles to */
#define ENVMAX (110UL * 1024 * 1024)	/* qmail-queue's bound on an envelope */
#define BOUNCEMAX (64UL * 1024 * 1024)	/* bytes of bounce/ID reported on */
#define HEADREAD (4UL * 1024 * 1024)	/* bytes of a message read for its header */

enum { PENDING, BUSY, DONE };

struct bouncing;

struct rcpt {
	char *addr;		/* as the envelope gave it; NUL-terminated */
	size_t off;		/* where its T or D is in local/ or remote/;
				 * held from todo/: its place in the envelope */
	time_t next;		/* no attempt before this */
	int state;
};

struct msg {
	unsigned long id;
	time_t arrival;
	char *sender;
	struct rcpt *r[2];
	size_t n[2];
	size_t left;		/* recipients not done */
	int busy;		/* deliveries running */
	int bounce;		/* bounce/ID may hold records */
	int bounce_synced;	/* bounce/ has been synced since bounce/ID was made */
	int direct;		/* only in todo/: no info/, local/, remote/ yet */
	int wrote;		/* direct, but files of its own may exist */
	time_t bounce_next;	/* a failed bounce is tried again then */
	struct bouncing *bs;	/* its reports under way, or NULL */
	struct msg *prev, *next;
};

struct job {
	struct msg *m;		/* NULL: free */
	size_t idx[GROUPMAX];
	size_t n;
	unsigned long number;	/* for the log */
	char *host;		/* remote: the domain */
};

struct vd {
	char *key;		/* lower case: "user@domain", "domain", ".suffix" or "" */
	char *prefix;		/* "" means: not a virtual domain */
};

struct config {
	struct str me, bouncefrom, bouncehost, doublebounceto, doublebouncehost;
	int dbl_discard;	/* control/doublebounceto exists and is empty */
	struct str locals;	/* lower case, NUL-separated */
	struct vd *vd;
	size_t nvd;
	struct str vdraw;
	unsigned long conc[2], retry[2], lifetime;
};

/* what main owns */
static struct config cf;
static struct msg *head, *tail;
static struct job jobs[2][SLOTS];
static unsigned long busy[2], jobnumber, bounceseq;
static int reqfd[2] = { 3, 5 }, ansfd[2] = { 4, 6 };
static struct str ans[2];
static int selfpipe[2];
static volatile sig_atomic_t flag_term, flag_hup, flag_alrm;
/* a helper that has gone (end of file or error on its answer pipe):
 * LOCAL, REMOTE, or CLEANER; qmail-send then stops and exits 111 */
#define CLEANER 2
static int gone[3];
static const char *const helper[3] = { "qmail-lspawn", "qmail-rspawn", "qmail-clean" };

static void say(const char *, ...);
static void materialize(struct msg *);
static void bouncing_free(struct bouncing *);

/* helper_gone - note that a helper has gone: no new work is started,
 * and qmail-send exits once the deliveries it can still account for
 * have ended */
static void
helper_gone(int h)
{
	if (gone[h])
		return;
	gone[h] = 1;
	flag_term = 1;
	say("alert: ", helper[h], " has gone: stopping", NULL);
}

static void
on_signal(int sig)
{
	int err = errno;

	if (sig == SIGTERM)
		flag_term = 1;
	else if (sig == SIGHUP)
		flag_hup = 1;
	else if (sig == SIGALRM)
		flag_alrm = 1;
	(void)!write(selfpipe[1], "", 1);	/* a full pipe already wakes us */
	errno = err;
}

/* say - one log line, from C strings up to a NULL, in one write */
static void
say(const char *s, ...)
{
	struct str line = STR_ZERO;
	va_list ap;
	size_t i;
	int ok = 1;

	va_start(ap, s);
	for (; s && ok; s = va_arg(ap, const char *))
		ok = str_cats(&line, s);
	va_end(ap);
	if (!ok)
		die_nomem();
	/* log lines are lines: no byte from a message may break one */
	for (i = 0; i < line.len; i++)
		if ((unsigned char)line.s[i] < 0x20 || (unsigned char)line.s[i] > 0x7e)
			line.s[i] = '?';
	if (!str_catc(&line, '\n'))
		die_nomem();
	if (!fd_writeall(1, line.s, line.len, 0))
		warn_sys("unable to write to the log");
	str_free(&line);
}

static const char *
ul(char buf[FMT_ULONG + 1], unsigned long u)
{
	buf[fmt_ulong(buf, u)] = 0;
	return buf;
}

/* dupb - p[0..n) as a new C string (no NUL inside: the callers' parsers
 * saw to it) */
static char *
dupb(const char *p, size_t n)
{
	char *d;

	if (n == (size_t)-1 || (d = malloc(n + 1)) == NULL)
		die_nomem();
	memcpy(d, p, n);
	d[n] = 0;
	return d;
}

/* ---- control files ---- */

/* the control file config_read could not read, for the message */
static const char *cfbad = "the control files";

static int
readline_default(const char *fn, struct str *out, const char *def)
{
	int r = control_readline(fn, out);

	cfbad = fn;

	if (r == 0 && !str_copys(out, def))
		return -1;
	if (r == -1)
		return -1;
	return str_nul(out) ? 1 : -1;
}

static int
readnum(const char *fn, unsigned long *out, unsigned long def, unsigned long min, unsigned long max)
{
	int r = control_readulong(fn, out);

	cfbad = fn;
	if (r == 0)
		*out = def;
	if (r == -1)
		return -1;
	if (*out < min)
		*out = min;
	if (*out > max)
		*out = max;
	return 1;
}

static void
config_free(struct config *c)
{
	str_free(&c->me);
	str_free(&c->bouncefrom);
	str_free(&c->bouncehost);
	str_free(&c->doublebounceto);
	str_free(&c->doublebouncehost);
	str_free(&c->locals);
	str_free(&c->vdraw);
	free(c->vd);
	c->vd = NULL;
	c->nvd = 0;
}

/* config_read - every control file qmail-send uses; 1, or 0 with errno */
static int
config_read(struct config *c)
{
	size_t i, n, colon;
	int r;

	if (readline_default("control/me", &c->me, "localhost") != 1 ||
	    readline_default("control/bouncefrom", &c->bouncefrom, "MAILER-DAEMON") != 1 ||
	    readline_default("control/bouncehost", &c->bouncehost, c->me.s) != 1 ||
	    readline_default("control/doublebouncehost", &c->doublebouncehost, c->me.s) != 1)
		return 0;
	cfbad = "control/doublebounceto";
	r = control_readline(cfbad, &c->doublebounceto);
	if (r == -1)
		return 0;
	c->dbl_discard = 0;
	if (r == 0) {
		struct stat st;

		if (stat("control/doublebounceto", &st) == 0)
			c->dbl_discard = 1;	/* present but empty: discard */
		if (!str_copys(&c->doublebounceto, "postmaster"))
			return 0;
	}
	if (!str_nul(&c->doublebounceto))
		return 0;
	cfbad = "control/locals";
	if ((r = control_readlist(cfbad, &c->locals)) == -1)
		return 0;
	if (r == 0 && (!str_cats(&c->locals, c->me.s) || !str_catc(&c->locals, 0)))
		return 0;
	str_lowerb(c->locals.s, c->locals.len);
	cfbad = "control/virtualdomains";
	if (control_readlist(cfbad, &c->vdraw) == -1)
		return 0;
	for (n = 0, i = 0; i < c->vdraw.len; i += str_chrb(c->vdraw.s + i, c->vdraw.len - i, 0) + 1)
		n++;
	if (n && (c->vd = calloc(n, sizeof *c->vd)) == NULL)
		return 0;
	for (i = 0; i < c->vdraw.len; ) {
		char *line = c->vdraw.s + i;
		size_t len = str_chrb(line, c->vdraw.len - i, 0);

		i += len + 1;
		colon = str_chrb(line, len, ':');
		if (colon == len) {
			warn("ignoring a line without a colon in control/virtualdomains");
			continue;
		}
		line[colon] = 0;
		str_lowerb(line, colon);
		c->vd[c->nvd].key = line;
		c->vd[c->nvd++].prefix = line + colon + 1;
	}
	if (readnum("control/concurrencylocal", &c->conc[LOCAL], 10, 1, SLOTS) != 1 ||
	    readnum("control/concurrencyremote", &c->conc[REMOTE], 20, 1, SLOTS) != 1 ||
	    readnum("control/queuelifetime", &c->lifetime, 604800, 0, 100UL * 365 * 86400) != 1 ||
	    readnum("control/retrylocal", &c->retry[LOCAL], 20, 1, 86400) != 1 ||
	    readnum("control/retryremote", &c->retry[REMOTE], 400, 1, 86400) != 1)
		return 0;
	return 1;
}

/* ---- where a recipient goes ---- */

static int
is_local_domain(const char *d, size_t n)
{
	size_t i;

	for (i = 0; i < cf.locals.len; i += str_chrb(cf.locals.s + i, cf.locals.len - i, 0) + 1)
		if (str_chrb(cf.locals.s + i, cf.locals.len - i, 0) == n &&
		    str_caseeqb(cf.locals.s + i, d, n))
			return 1;
	return 0;
}

static const struct vd *
vd_find(const char *k, size_t n)
{
	size_t i;

	for (i = 0; i < cf.nvd; i++)
		if (str_chrb(cf.vd[i].key, n + 1, 0) == n && str_caseeqb(cf.vd[i].key, k, n))
			return &cf.vd[i];
	return NULL;
}

/* classify - LOCAL or REMOTE; for LOCAL, out (when not NULL) gets the
 * address qmail-lspawn is to see, rewritten by control/virtualdomains */
static int
classify(const char *addr, struct str *out)
{
	size_t n = str_chrb(addr, QFILE_ADDRMAX + 1, 0), at = str_rchrb(addr, n, '@'), i;
	const char *dom = addr + at + 1;
	size_t dn = at < n ? n - at - 1 : 0;
	const struct vd *v = NULL;

	if (out && (!str_copyb(out, addr, n) || !str_nul(out)))
		die_nomem();
	if (at == n || is_local_domain(dom, dn))
		return LOCAL;
	v = vd_find(addr, n);
	if (v == NULL)
		v = vd_find(dom, dn);
	for (i = 0; v == NULL && i < dn; i++)
		if (dom[i] == '.')
			v = vd_find(dom + i, dn - i);
	if (v == NULL)
		v = vd_find("", 0);
	if (v == NULL || v->prefix[0] == 0)
		return REMOTE;
	if (out) {
		out->len = 0;
		if (!str_cats(out, v->prefix) || !str_catc(out, '-') ||
		    !str_catb(out, addr, n) || !str_nul(out))
			die_nomem();
	}
	return LOCAL;
}

/* is_verp - a sender in qmail's VERP form, PREFIX@HOST-@[] */
static int
is_verp(const char *sender)
{
	size_t n = str_chrb(sender, QFILE_ADDRMAX + 1, 0);

	return n > 4 && str_equal(sender + n - 4, "-@[]");
}

/* verp - the sender one recipient's copy gets into out (C string): for
 * PREFIX@HOST-@[] and LOCAL@DOMAIN that is PREFIX LOCAL=DOMAIN @HOST
 * (LOCAL alone when the recipient has no @); other senders unchanged */
static void
verp(const char *sender, const char *rcpt, struct str *out)
{
	size_t n = str_chrb(sender, QFILE_ADDRMAX + 1, 0), at;
	size_t rn = str_chrb(rcpt, QFILE_ADDRMAX + 1, 0), ra = str_rchrb(rcpt, rn, '@');

	out->len = 0;
	if (!is_verp(sender)) {
		if (!str_copyb(out, sender, n) || !str_nul(out))
			die_nomem();
		return;
	}
	n -= 4;
	at = str_rchrb(sender, n, '@');
	if (!str_catb(out, sender, at) || !str_catb(out, rcpt, ra) ||
	    (ra < rn && (!str_catc(out, '=') || !str_catb(out, rcpt + ra + 1, rn - ra - 1))) ||
	    (at < n && !str_catb(out, sender + at, n - at)) || !str_nul(out))
		die_nomem();
}

/* ---- queue files ---- */

static void
path(struct str *fn, const char *dir, unsigned long id)
{
	if (!qpath(fn, dir, id))
		die_nomem();
}

/* sync_dir - make the entries of a directory durable; 1 or 0 */
static int
sync_dir(const char *dir)
{
	int fd, ok;

	if ((fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) == -1)
		return 0;
	ok = fsync(fd) == 0;
	return close(fd) == 0 && ok;
}

/* the ids of the messages delivered straight from todo/ (struct msg's
 * direct): todo_ids() passes them over; todo_room says one has gone */
static unsigned long held[DIRECTMAX];
static size_t nheld;
static int todo_room;

/* the split directories of todo/ that may hold new envelopes: those a
 * trigger byte named, every one on the timer, one whose last look
 * stopped before its end, and one where a held id was let go */
static unsigned char *dirty;

/* id_in - 1 when id is in the unordered set a[0..n) */
static int
id_in(const unsigned long *a, size_t n, unsigned long id)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (a[i] == id)
			return 1;
	return 0;
}

/* id_drop - take id out of the unordered set a[0..*n); 1 when it was in */
static int
id_drop(unsigned long *a, size_t *n, unsigned long id)
{
	size_t i;

	for (i = 0; i < *n; i++)
		if (a[i] == id) {
			a[i] = a[--*n];
			return 1;
		}
	return 0;
}

static void
unhold(unsigned long id)
{
	if (!id_drop(held, &nheld, id))
		return;
	todo_room = 1;
	/* a new message may have this id already (the old one's mess/ is
	 * gone): passed over while the id was held, it is looked for again */
	dirty[id % qpath_split()] = 1;
}

/* mark - the recipient is done, in place */
static void
mark(struct msg *m, int ch, size_t i)
{
	struct str fn = STR_ZERO;
	int fd;

	m->r[ch][i].state = DONE;
	m->left--;
	if (m->direct)
		return;	/* its todo/ entry stands for every recipient */
	path(&fn, ch == LOCAL ? "local" : "remote", m->id);
	/* a mark lost to a crash means one more delivery, never a lost one */
	if ((fd = open(fn.s, O_WRONLY | O_CLOEXEC)) == -1 ||
	    pwrite(fd, "D", 1, (off_t)m->r[ch][i].off) != 1)
		warn_sys("unable to mark a recipient done in ", fn.s);
	if (fd != -1 && close(fd) == -1)
		warn_sys("unable to mark a recipient done in ", fn.s);
	str_free(&fn);
}

/* clean_ask - a request to qmail-clean; it answers requests in order,
 * one byte each (see clean_answer) */
static void
clean_ask(char what, unsigned long id)
{
	struct str req = STR_ZERO;

	if (gone[CLEANER])
		return;
	if (!str_catc(&req, what) || (what != 'S' && !str_catulong(&req, id)) ||
	    !str_catc(&req, 0))
		die_nomem();
	if (!fd_writeall(7, req.s, req.len, 0)) {
		if (errno != EPIPE)
			die_sys(EXIT_TEMP, "unable to talk to qmail-clean");
		helper_gone(CLEANER);
	}
	str_free(&req);
}

/* removals of finished messages (M and D requests) asked for and not
 * yet answered, oldest first: a finished message does not wait for
 * qmail-clean */
#define MQ 256
static unsigned long mq[MQ];
static char mqwhat[MQ];
static size_t mq_head, mq_n;

/* clean_drain - read at least one answer to a pending removal
 * (waits for it), and no more of them than are pending */
static void
clean_drain(void)
{
	char c[MQ], idb[FMT_ULONG + 1];
	long r, k;

	if (gone[CLEANER])
		return;
	do
		r = read(8, c, mq_n > 0 ? mq_n : 1);
	while (r == -1 && errno == EINTR);
	if (r <= 0) {
		/* the removals asked for stay undone: leftovers, swept later */
		helper_gone(CLEANER);
		mq_n = 0;
		return;
	}
	if ((size_t)r > mq_n)
		die(EXIT_TEMP, "unexpected answer from qmail-clean");
	for (k = 0; k < r; k++) {
		if (c[k] != '+')
			say("warning: qmail-clean could not remove the files of msg ",
			    ul(idb, mq[mq_head]), NULL);
		/* todo/ gone: todo() may look again without meeting it.  Not
		 * gone, it stays held, so that it is not delivered again
		 * (a new qmail-send takes it afresh). */
		else if (mqwhat[mq_head] == 'D')
			unhold(mq[mq_head]);
		mq_head = (mq_head + 1) % MQ;
		mq_n--;
	}
}

/* clean_later - ask for a finished message's removal (what is M or D),
 * the answer read later */
static void
clean_later(char what, unsigned long id)
{
	if (mq_n == MQ)
		clean_drain();
	clean_ask(what, id);
	mqwhat[(mq_head + mq_n) % MQ] = what;
	mq[(mq_head + mq_n) % MQ] = id;
	mq_n++;
}

/* clean_answer - the answer to the oldest request not deferred; 1 done,
 * 0 not */
static int
clean_answer(void)
{
	char c;
	long r;

	while (mq_n > 0 && !gone[CLEANER])
		clean_drain();
	if (gone[CLEANER])
		return 0;
	do
		r = fd_read(8, &c, 1, 0);
	while (r == -1 && errno == EINTR);
	if (r != 1) {
		helper_gone(CLEANER);
		return 0;
	}
	return c == '+';
}

/* clean - ask qmail-clean and wait; 1 done, 0 not */
static int
clean(char what, unsigned long id)
{
	clean_ask(what, id);
	return clean_answer();
}

static void
msg_free(struct msg *m)
{
	size_t i;
	int ch;

	for (ch = 0; ch < 2; ch++) {
		for (i = 0; i < m->n[ch]; i++)
			free(m->r[ch][i].addr);
		free(m->r[ch]);
	}
	free(m->sender);
	bouncing_free(m->bs);
	free(m);
}

static void
msg_unlink(struct msg *m)
{
	if (m->prev)
		m->prev->next = m->next;
	else
		head = m->next;
	if (m->next)
		m->next->prev = m->prev;
	else
		tail = m->prev;
}

static void
msg_append(struct msg *m)
{
	m->prev = tail;
	m->next = NULL;
	if (tail)
		tail->next = m;
	else
		head = m;
	tail = m;
}

/* domain_of - what follows the last @ of a, "" without one */
static const char *
domain_of(const char *a)
{
	size_t n = str_chrb(a, QFILE_ADDRMAX + 1, 0), at = str_rchrb(a, n, '@');

	return at < n ? a + at + 1 : "";
}

/* by_domain - qsort order of remote recipients: by domain, A-Z and a-z
 * alike (as start() compares them), then by off */
static int
by_domain(const void *a, const void *b)
{
	const struct rcpt *x = a, *y = b;
	const char *dx = domain_of(x->addr), *dy = domain_of(y->addr);
	unsigned char cx, cy;

	do {
		cx = (unsigned char)str_lowerc(*dx++);
		cy = (unsigned char)str_lowerc(*dy++);
		if (cx != cy)
			return cx < cy ? -1 : 1;
	} while (cx != 0);
	/* qsort is not stable: off keeps a domain's recipients in order */
	return x->off < y->off ? -1 : x->off > y->off;
}

/* group - the remote recipients in runs of one domain each, in the
 * order of their off within a run: start() gathers a domain's
 * recipients from its run alone, so that a message to many domains
 * costs no more than its recipients.  Nothing depends on the order
 * otherwise: mark() writes at each recipient's own off. */
static void
group(struct msg *m)
{
	if (m->n[REMOTE] > 1)
		qsort(m->r[REMOTE], m->n[REMOTE], sizeof *m->r[REMOTE], by_domain);
}

/* rcpts_load - the records of a local/ or remote/ file into m */
static int
rcpts_load(struct msg *m, int ch, const struct str *raw)
{
	size_t pos = 0, off, al, k = 0;
	const char *a;
	int d, r;

	while ((r = qfile_rcpt(raw->s, raw->len, &pos, &off, &d, &a, &al)) == 1)
		k++;
	if (r == -1)
		return 0;
	if (k && (m->r[ch] = calloc(k, sizeof *m->r[ch])) == NULL)
		die_nomem();
	for (pos = 0; qfile_rcpt(raw->s, raw->len, &pos, &off, &d, &a, &al) == 1; ) {
		struct rcpt *rc = &m->r[ch][m->n[ch]++];

		rc->addr = dupb(a, al);
		rc->off = off;
		rc->next = 0;
		rc->state = d ? DONE : PENDING;
		if (!d)
			m->left++;
	}
	return 1;
}

/* load_file - one of a message's queue files into raw: 1, 0 when it is
 * missing, -1 when it cannot be read now, -2 when it is too big to be
 * one of ours (both warned) */
static int
load_file(const char *fn, struct str *raw, size_t max)
{
	int r = control_readfile(fn, raw, max), e = errno;

	if (r != -1)
		return r;
	warn_sys("unable to read ", fn);
	return e == EFBIG ? -2 : -1;
}

/* msg_load - a message whose todo/ was taken over, into *mp: 1; 0 when
 * its files are missing or damaged (said: it is left alone); -1 when
 * they cannot be read now (warned: out of memory or descriptors, an I/O
 * error), so that it is tried again later */
static int
msg_load(unsigned long id, struct msg **mp)
{
	struct str fn = STR_ZERO, raw = STR_ZERO;
	struct qinfo qi;
	struct msg *m;
	char idb[FMT_ULONG + 1];
	int ch, r, ret = -1;

	if ((m = calloc(1, sizeof *m)) == NULL)
		die_nomem();
	m->id = id;
	path(&fn, "info", id);
	if ((r = load_file(fn.s, &raw, 2 * QFILE_ADDRMAX)) == -1)
		goto out;
	if (r != 1 || !qfile_info(raw.s, raw.len, &qi))
		goto bad;
	m->arrival = qi.arrival;
	m->sender = dupb(qi.sender, qi.senderlen);
	for (ch = 0; ch < 2; ch++) {
		path(&fn, ch == LOCAL ? "local" : "remote", id);
		if ((r = load_file(fn.s, &raw, ENVMAX)) == -1)
			goto out;
		if (r == -2 || (r == 1 && !rcpts_load(m, ch, &raw)))
			goto bad;
	}
	group(m);
	/* a bounce/ file not seen would be removed unreported at the end */
	path(&fn, "bounce", id);
	if (access(fn.s, F_OK) == 0)
		m->bounce = 1;
	else if (errno != ENOENT) {
		warn_sys("unable to look for ", fn.s);
		goto out;
	}
	*mp = m;
	m = NULL;
	ret = 1;
	goto out;
bad:
	say("warning: message ", ul(idb, id), " has damaged queue files: left alone", NULL);
	ret = 0;
out:
	str_free(&fn);
	str_free(&raw);
	if (m)
		msg_free(m);
	return ret;
}

/* ---- bounces ---- */

/* inject - the message in mess to qmail-queue: 0 queued, 1 try later,
 * 2 refused for good */
static int
inject(const struct str *mess, const char *sender, const char *rcpt, unsigned long *qp)
{
	struct str env = STR_ZERO, bin = STR_ZERO;
	char *argv[2];
	int in[2], ev[2], fd[3], st, code, ok;
	pid_t pid;

	if (!str_catc(&env, 'F') || !str_cats(&env, sender) || !str_catc(&env, 0) ||
	    !str_catc(&env, 'T') || !str_cats(&env, rcpt) || !str_catc(&env, 0) ||
	    !str_catc(&env, 0) || !str_cats(&bin, auto_home) ||
	    !str_cats(&bin, "/bin/qmail-queue") || !str_nul(&bin))
		die_nomem();
	if (pipe_cloexec(in) == -1)
		return str_free(&env), str_free(&bin), 1;
	if (pipe_cloexec(ev) == -1) {
		(void)close(in[0]), (void)close(in[1]);	/* unused pipe */
		return str_free(&env), str_free(&bin), 1;
	}
	argv[0] = "qmail-queue";
	argv[1] = NULL;
	fd[0] = in[0];
	fd[1] = ev[0];
	fd[2] = 2;
	pid = spawn(bin.s, argv, NULL, fd, 3);
	(void)close(in[0]);	/* the child's ends */
	(void)close(ev[0]);
	if (pid == -1) {
		(void)close(in[1]), (void)close(ev[1]);	/* nobody reads them */
		str_free(&env), str_free(&bin);
		return 1;
	}
	*qp = (unsigned long)pid;
	/* qmail-queue reads all of the message, then the envelope, and
	 * commits nothing without a whole envelope: when the message did
	 * not all go in, it gets none, or it would queue what it got */
	ok = fd_writeall(in[1], mess->s, mess->len, 0);
	ok = close(in[1]) == 0 && ok;
	if (ok)
		ok = fd_writeall(ev[1], env.s, env.len, 0);
	ok = close(ev[1]) == 0 && ok;
	if (!ok)
		warn_sys("unable to write to qmail-queue");
	str_free(&env);
	str_free(&bin);
	if (spawn_wait(pid, &st) == -1)
		return 1;
	code = spawn_exitcode(st);
	/* a write that failed: whatever qmail-queue said, the report it
	 * had may not be the whole one */
	if (!ok)
		return 1;
	if (code == 0)
		return 0;
	return qq_permanent(code) ? 2 : 1;
}

/* count_nul - the NUL bytes in p[0..n) */
static unsigned long
count_nul(const char *p, size_t n)
{
	unsigned long c = 0;
	size_t i;

	for (i = 0; i < n; i++)
		c += p[i] == 0;
	return c;
}

/* quote_header - the header of the message file fn, quoted for a bounce
 * into h: read to its end, or HEADREAD bytes of it (lib/dsn keeps
 * DSN_HEADMAX bytes of it; the bound keeps a message without an empty
 * line from holding up the scheduler while it is read).  Without its
 * message file a failure is still reported, headerless.  1, or 0 when
 * the file cannot be read (said) */
static int
quote_header(struct dsn_head *h, const char *fn)
{
	char buf[65536];
	unsigned long read = 0;
	long got;
	int fd, r = 1;

	if ((fd = open(fn, O_RDONLY | O_CLOEXEC)) == -1 && errno != ENOENT) {
		warn_sys("unable to open ", fn);
		return 0;
	}
	while (fd != -1 && r == 1 && read < HEADREAD) {
		if ((got = fd_read(fd, buf, sizeof buf, 0)) == -1) {
			warn_sys("unable to read ", fn);
			(void)close(fd);	/* read-only */
			return 0;
		}
		if (got == 0)
			break;
		read += (unsigned long)got;
		if ((r = dsn_head_add(h, buf, (size_t)got)) == -1)
			die_nomem();
	}
	if (fd != -1)
		(void)close(fd);	/* read-only */
	if (!dsn_head_end(h))
		die_nomem();
	return 1;
}

/* read_bounce - bounce/ID into raw, at most BOUNCEMAX bytes: 1, 0 when
 * there is none, -1 with errno.  *cut is 1 when the file goes on, and
 * *restnul then counts the NUL bytes after the first BOUNCEMAX: with
 * four fields to a record they tell how many records were left out */
static int
read_bounce(const char *fn, struct str *raw, int *cut, unsigned long *restnul)
{
	char buf[65536];
	long got = 0;
	int fd;

	*cut = 0;
	*restnul = 0;
	raw->len = 0;
	if ((fd = open(fn, O_RDONLY | O_CLOEXEC)) == -1)
		return errno == ENOENT ? 0 : -1;
	while (raw->len < BOUNCEMAX) {
		size_t want = BOUNCEMAX - raw->len < sizeof buf ? BOUNCEMAX - raw->len : sizeof buf;

		if (!str_readyplus(raw, want))
			die_nomem();
		if ((got = fd_read(fd, raw->s + raw->len, want, 0)) <= 0)
			break;
		raw->len += (size_t)got;
	}
	/* a file too big to report on whole: the count of the others */
	while (raw->len >= BOUNCEMAX && (got = fd_read(fd, buf, sizeof buf, 0)) > 0) {
		*cut = 1;
		*restnul += count_nul(buf, (size_t)got);
	}
	(void)close(fd);	/* read-only */
	return got == -1 ? -1 : 1;
}

/* by_rcpt - qsort order of records: address bytes, then place in the file */
static int
by_rcpt(const void *a, const void *b)
{
	const struct qbounce *x = *(const struct qbounce *const *)a;
	const struct qbounce *y = *(const struct qbounce *const *)b;
	size_t n = x->rcptlen < y->rcptlen ? x->rcptlen : y->rcptlen;
	int c = memcmp(x->rcpt, y->rcpt, n);

	if (c != 0)
		return c;
	if (x->rcptlen != y->rcptlen)
		return x->rcptlen < y->rcptlen ? -1 : 1;
	return x < y ? -1 : x > y;
}

/* dedupe - rec[0..n) without the later records of an address already
 * listed, in file order; the count left.  A recipient tried again after
 * a crash may be listed twice.  Addresses are compared byte for byte:
 * a local part is case-sensitive (RFC 5321 2.4). */
static size_t
dedupe(struct qbounce *rec, size_t n)
{
	struct qbounce **p;
	char *drop;
	size_t i, k;

	if (n < 2)
		return n;
	if ((p = calloc(n, sizeof *p)) == NULL || (drop = calloc(n, 1)) == NULL)
		die_nomem();
	for (i = 0; i < n; i++)
		p[i] = rec + i;
	qsort(p, n, sizeof *p, by_rcpt);
	for (i = 1; i < n; i++)
		if (p[i]->rcptlen == p[i - 1]->rcptlen &&
		    memcmp(p[i]->rcpt, p[i - 1]->rcpt, p[i]->rcptlen) == 0)
			drop[p[i] - rec] = 1;
	for (i = 0, k = 0; i < n; i++)
		if (!drop[i])
			rec[k++] = rec[i];
	free(p);
	free(drop);
	return k;
}

/* the reports (qmail-queue runs) made in one pass of the main loop, at
 * most: the loop reads the spawners' answers and starts deliveries in
 * between, so that a message with thousands of VERP reports, or
 * thousands of messages expiring together, do not hold up other mail */
#define INJECT_BATCH 16
static unsigned long inject_left;
static int bounce_due;		/* schedule() left reports to make now */

/* bouncing - a report (or a VERP message's reports) under way: bounce/ID
 * as read when it began, and how far the reports have gone.  Kept in
 * memory only: bounce/ID stays until the last report is queued, so that
 * after a crash every report is made again (at worst twice, never lost) */
struct bouncing {
	struct str raw;		/* bounce/ID; rec points into it */
	struct dsn_head head;	/* the message's header, quoted */
	struct str from, to;
	struct qbounce *rec;
	size_t k;		/* records, without repeats */
	size_t sent;		/* rec[0..sent) reported */
	size_t step;		/* records to a report: 1 for VERP, else k */
	int each;		/* VERP: each report to its own sender */
	unsigned long more;	/* records left out of a bounce/ID too big */
};

static void
bouncing_free(struct bouncing *bs)
{
	if (bs == NULL)
		return;
	str_free(&bs->raw);
	dsn_head_free(&bs->head);
	str_free(&bs->from);
	str_free(&bs->to);
	free(bs->rec);
	free(bs);
}

/* bounce_begin - read bounce/ID and the message's header into a new
 * m->bs: 2 begun; 1 nothing to report (none listed, or a double
 * bounce discarded); 0 try again later (warned) */
static int
bounce_begin(struct msg *m)
{
	struct str fn = STR_ZERO;
	struct bouncing *bs;
	size_t pos = 0, n = 0, k;
	unsigned long restnul, total;
	struct qbounce b;
	char idb[FMT_ULONG + 1], nb[FMT_ULONG + 1];
	int r, ret = 0, cut;

	if ((bs = calloc(1, sizeof *bs)) == NULL)
		die_nomem();
	dsn_head_init(&bs->head);
	path(&fn, "bounce", m->id);
	if ((r = read_bounce(fn.s, &bs->raw, &cut, &restnul)) != 1) {
		if (r == 0)
			ret = 1;
		else
			warn_sys("unable to read ", fn.s);
		goto out;
	}
	while ((r = qfile_bounce(bs->raw.s, bs->raw.len, &pos, &b)) == 1)
		n++;
	if (n && (bs->rec = calloc(n, sizeof *bs->rec)) == NULL)
		die_nomem();
	for (pos = 0, k = 0; k < n && qfile_bounce(bs->raw.s, bs->raw.len, &pos, &b) == 1; )
		bs->rec[k++] = b;
	if (cut && r != -1) {
		/* the record cut at BOUNCEMAX is among those left out */
		total = (count_nul(bs->raw.s, bs->raw.len) + restnul) / 4;
		bs->more = total > n ? total - n : 0;
		say("warning: bounce/", ul(idb, m->id), " is too big: ", ul(nb, bs->more),
		    " recipients left out of the bounce", NULL);
	}
	bs->k = dedupe(bs->rec, n);
	if (r == -1)
		say("warning: bounce/", ul(idb, m->id), " is damaged after ",
		    ul(nb, (unsigned long)bs->k), " records", NULL);
	if (bs->k == 0) {
		ret = 1;
		goto out;
	}
	if (str_equal(m->sender, "#@[]")) {
		say("discarding double bounce of msg ", ul(idb, m->id), NULL);
		ret = 1;
		goto out;
	}
	if (m->sender[0] == 0 && cf.dbl_discard) {
		say("discarding double bounce of msg ", ul(idb, m->id), ": control/doublebounceto is empty", NULL);
		ret = 1;
		goto out;
	}
	if (!str_cats(&bs->from, cf.bouncefrom.s) || !str_catc(&bs->from, '@') ||
	    !str_cats(&bs->from, cf.bouncehost.s) || !str_nul(&bs->from))
		die_nomem();
	if (m->sender[0] == 0) {
		if (!str_cats(&bs->to, cf.doublebounceto.s) ||
		    (str_chrb(bs->to.s, bs->to.len, '@') == bs->to.len &&
		    (!str_catc(&bs->to, '@') || !str_cats(&bs->to, cf.doublebouncehost.s))) ||
		    !str_nul(&bs->to))
			die_nomem();
	} else if (!str_copys(&bs->to, m->sender) || !str_nul(&bs->to))
		die_nomem();
	/* VERP: each failed recipient's bounce goes to its own sender */
	bs->each = is_verp(m->sender);
	bs->step = bs->each ? 1 : bs->k;
	path(&fn, "mess", m->id);
	if (!quote_header(&bs->head, fn.s))
		goto out;
	m->bs = bs;
	bs = NULL;
	ret = 2;
out:
	bouncing_free(bs);
	str_free(&fn);
	return ret;
}

/* bounce_more - the reports of m->bs not yet made, while inject_left
 * allows: 1 all made; 0 try again later (warned; the reports made stay
 * made); -1 more to make in a later pass */
static int
bounce_more(struct msg *m)
{
	struct bouncing *bs = m->bs;
	struct str out = STR_ZERO, rcpt = STR_ZERO;
	struct dsn d;
	unsigned long qp = 0;
	char idb[FMT_ULONG + 1], qpb[FMT_ULONG + 1];
	int r, ret = 1;

	for (; bs->sent < bs->k; bs->sent += bs->step) {
		if (inject_left == 0) {
			ret = -1;
			break;
		}
		inject_left--;
		if (bs->each) {
			if (!str_copyb(&rcpt, bs->rec[bs->sent].rcpt, bs->rec[bs->sent].rcptlen) ||
			    !str_nul(&rcpt))
				die_nomem();
			verp(m->sender, rcpt.s, &bs->to);
		}
		d.me = cf.me.s;
		d.from = bs->from.s;
		d.to = bs->to.s;
		d.sender = m->sender;
		d.now = time(NULL);
		d.arrival = m->arrival;
		d.id = m->id;
		d.seq = ++bounceseq;
		d.dbl = m->sender[0] == 0;
		d.more = bs->each ? 0 : bs->more;
		out.len = 0;
		if (!dsn_report(&out, &d, bs->rec + bs->sent, bs->step, &bs->head)) {
			if (errno == ENOMEM)
				die_nomem();
			warn_sys("unable to build the bounce for msg ", ul(idb, m->id));
			ret = 0;
			break;
		}
		r = inject(&out, d.dbl ? "#@[]" : "", bs->to.s, &qp);
		if (r == 1) {
			say("warning: unable to inject bounce for msg ", ul(idb, m->id), ": will try again", NULL);
			ret = 0;
			break;
		}
		if (r == 2)
			say("warning: qmail-queue refused the bounce for msg ", ul(idb, m->id),
			    ": discarded", NULL);
		else
			say(d.dbl ? "double bounce msg " : "bounce msg ", ul(idb, m->id), " to <",
			    bs->to.s, "> qp ", ul(qpb, qp), NULL);
	}
	str_free(&out);
	str_free(&rcpt);
	return ret;
}

/* bounce - tell the sender about the failures in bounce/ID, a few
 * reports a pass; 1 done (or nothing to do), 0 try again later, -1 to
 * be continued in a later pass */
static int
bounce(struct msg *m)
{
	struct str fn = STR_ZERO;
	int r;

	if (m->bs == NULL) {
		if (inject_left == 0)
			return -1;	/* reading bounce/ID waits for its turn too */
		if ((r = bounce_begin(m)) == 0)
			return 0;
	} else
		r = 2;
	if (r == 2 && (r = bounce_more(m)) != 1)
		return r;
	bouncing_free(m->bs);
	m->bs = NULL;
	path(&fn, "bounce", m->id);
	m->bounce_synced = 0;	/* a new bounce/ID would be a new entry */
	r = 1;
	if (unlink(fn.s) == -1 && errno != ENOENT) {
		warn_sys("unable to remove ", fn.s);
		r = 0;	/* or it would bounce again after a restart */
	}
	str_free(&fn);
	return r;
}

/* finish - nothing left to deliver: bounce, remove the files; 1 when m
 * is gone (freed), 0 when it stays (its bounce to go on or be tried
 * again) */
static int
finish(struct msg *m)
{
	struct str fn = STR_ZERO;
	char idb[FMT_ULONG + 1];
	unsigned long before = inject_left;
	int ch, r;

	if (m->bounce) {
		if ((r = bounce(m)) == 0) {
			m->bounce_next = time(NULL) + BOUNCE_RETRY;
			return 0;
		}
		if (r == -1) {
			/* the next pass goes on.  Messages whose bounces are
			 * due take turns: one that used up this pass's
			 * reports waits behind the others. */
			if (inject_left < before) {
				msg_unlink(m);
				msg_append(m);
			}
			return 0;
		}
		m->bounce = 0;
	}
	/* without qmail-clean mess/ would stay behind as a leftover: keep
	 * every file, so that the next start finds the message done and
	 * finishes it */
	if (gone[CLEANER])
		return 0;
	if (m->direct) {
		/* files of a materialize() that did not finish */
		for (ch = 0; m->wrote && ch < 3; ch++) {
			path(&fn, ch == 2 ? "info" : ch == LOCAL ? "local" : "remote", m->id);
			if (unlink(fn.s) == -1 && errno != ENOENT) {
				warn_sys("unable to remove ", fn.s);
				str_free(&fn);
				m->bounce_next = time(NULL) + BOUNCE_RETRY;
				return 0;
			}
		}
		/* qmail-clean removes todo/, then mess/ only if todo/ went */
		clean_later('D', m->id);	/* held until it is answered */
		goto done;
	}
	/* mess/ goes last: while it exists no new message can get this
	 * inode number, so no later message can meet these files.  A crash
	 * before it is removed leaves a leftover, swept after 36 hours. */
	for (ch = 0; ch < 2; ch++) {
		path(&fn, ch == LOCAL ? "local" : "remote", m->id);
		if (unlink(fn.s) == -1 && errno != ENOENT)
			warn_sys("unable to remove ", fn.s);
	}
	path(&fn, "info", m->id);
	if (unlink(fn.s) == -1 && errno != ENOENT)
		warn_sys("unable to remove ", fn.s);
	clean_later('M', m->id);
done:
	str_free(&fn);
	say("end msg ", ul(idb, m->id), NULL);
	msg_unlink(m);
	msg_free(m);
	return 1;
}

/* record_failure - a permanent failure into bounce/ID, durably, before
 * the recipient is marked done; 1 or 0 */
static int
record_failure(struct msg *m, const char *rcpt, const char *status, const char *mta,
    const char *text, size_t tl)
{
	struct str fn = STR_ZERO, rec = STR_ZERO;
	struct stat st;
	int fd, ok;

	if (tl > QFILE_TEXTMAX)
		tl = QFILE_TEXTMAX;
	if (!str_catc(&rec, 'R') || !str_cats(&rec, rcpt) || !str_catc(&rec, 0) ||
	    !str_catc(&rec, 'S') || !str_cats(&rec, status) || !str_catc(&rec, 0) ||
	    !str_catc(&rec, 'M') || !str_cats(&rec, mta) || !str_catc(&rec, 0) ||
	    !str_catc(&rec, 'X') || !str_catb(&rec, text, tl) || !str_catc(&rec, 0))
		die_nomem();
	path(&fn, "bounce", m->id);
	/* one write per record: a crash leaves at most a torn last one,
	 * which the parser takes for the end */
	if ((fd = open(fn.s, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600)) == -1) {
		warn_sys("unable to open ", fn.s);
		str_free(&fn), str_free(&rec);
		return 0;
	}
	/* a short write (a full disk) leaves part of a record: cut it off,
	 * or the next append would land behind it and the parser, stopping
	 * there, would lose every later record */
	if (fstat(fd, &st) == -1) {
		warn_sys("unable to stat ", fn.s);
		(void)close(fd);	/* nothing written */
		str_free(&fn), str_free(&rec);
		return 0;
	}
	ok = fd_writeall(fd, rec.s, rec.len, 0) && fsync(fd) == 0;
	if (!ok) {
		int e = errno;

		if (ftruncate(fd, st.st_size) == 0)
			(void)fsync(fd);
		errno = e;
	}
	ok = close(fd) == 0 && ok;
	/* the file's entry in bounce/ is durable once a sync of the
	 * directory has succeeded since the file was made; whether it was
	 * made by this append, by an earlier one that failed, or by a run
	 * before a crash cannot be told from the file */
	if (ok && !m->bounce_synced) {
		if (!sync_dir("bounce"))
			ok = 0;
		else
			m->bounce_synced = 1;
	}
	if (!ok)
		warn_sys("unable to write ", fn.s);
	m->bounce = 1;
	str_free(&fn);
	str_free(&rec);
	return ok;
}

/* ---- remote deliveries per domain ---- */

/* the remote deliveries running per domain, for the fair share in
 * schedule(): an entry lives while its domain has one running, so the
 * table holds at most concurrencyremote entries.  Domains are compared
 * as start() groups them, A-Z and a-z alike. */
struct dombusy {
	char *dom;
	unsigned long n;
	struct dombusy *next;
};
#define DOMHASH 1024
static struct dombusy *dombusy[DOMHASH];

static struct dombusy **
dom_find(const char *d)
{
	size_t n = str_chrb(d, QFILE_ADDRMAX + 1, 0), i;
	unsigned long h = 5381;
	struct dombusy **p;

	for (i = 0; i < n; i++)
		h = h * 33 ^ (unsigned char)str_lowerc(d[i]);
	for (p = &dombusy[h % DOMHASH]; *p; p = &(*p)->next)
		if (str_chrb((*p)->dom, n + 1, 0) == n && str_caseeqb((*p)->dom, d, n))
			break;
	return p;
}

/* dom_busy - the remote deliveries running for domain d */
static unsigned long
dom_busy(const char *d)
{
	struct dombusy *e = *dom_find(d);

	return e ? e->n : 0;
}

/* dom_count - a delivery to j's host starts (1) or ends (-1) */
static void
dom_count(const struct job *j, int delta)
{
	struct dombusy **p = dom_find(j->host), *e = *p;

	if (delta > 0) {
		if (e == NULL) {
			if ((e = calloc(1, sizeof *e)) == NULL)
				die_nomem();
			e->dom = dupb(j->host, str_chrb(j->host, QFILE_ADDRMAX + 1, 0));
			*p = e;
		}
		e->n++;
		return;
	}
	if (e == NULL || e->n == 0)
		return;
	if (--e->n == 0) {
		*p = e->next;
		free(e->dom);
		free(e);
	}
}

/* ---- results ---- */

static time_t
isqrt_next(time_t arrival, time_t now, unsigned long base)
{
	unsigned long age = now > arrival ? (unsigned long)(now - arrival) : 0, k = 0, t;

	/* the attempts fall at arrival + base * k * k, k = 1, 2, ... */
	t = age / base;
	while ((k + 1) * (k + 1) <= t)
		k++;
	k++;
	return arrival + (time_t)(base * k * k);
}

/* fail_now - a recipient that cannot be tried at all fails for good */
static void
fail_now(struct msg *m, int ch, size_t i, const char *why)
{
	struct rcpt *rc = &m->r[ch][i];
	size_t n = str_chrb(why, 1000, 0);
	char status[16];

	say("failure without a delivery: ", rc->addr, ": ", why, NULL);
	dsn_status(why, n, 1, status);
	if (!record_failure(m, rc->addr, status, "", why, n)) {
		rc->next = time(NULL) + BOUNCE_RETRY;
		if (m->direct)
			materialize(m);
		return;
	}
	mark(m, ch, i);
}

/* result - one recipient's outcome: letter K, Z or D */
static void
result(struct job *j, int ch, size_t i, char letter, const char *text, size_t tl)
{
	struct msg *m = j->m;
	struct rcpt *rc = &m->r[ch][j->idx[i]];
	char nb[FMT_ULONG + 1], status[16];
	time_t now = time(NULL);
	int perm = letter == 'D';
	const char *why = text;

	if (letter == 'K') {
		say("delivery ", ul(nb, j->number), ": success: ", rc->addr, ": ", text, NULL);
		mark(m, ch, j->idx[i]);
		return;
	}
	if (!perm && now >= m->arrival + (time_t)cf.lifetime) {
		say("delivery ", ul(nb, j->number), ": failure: ", rc->addr, ": ", text,
		    " (giving up: the message is older than control/queuelifetime)", NULL);
		dsn_status(text, tl, 0, status);
		if (str_equal(status, "4.0.0"))
			status[2] = '4', status[4] = '7';	/* 4.4.7: delivery time expired */
		perm = 1;
		why = text;
	} else if (perm) {
		say("delivery ", ul(nb, j->number), ": failure: ", rc->addr, ": ", text, NULL);
		dsn_status(text, tl, 1, status);
	} else {
		say("delivery ", ul(nb, j->number), ": deferral: ", rc->addr, ": ", text, NULL);
		rc->state = PENDING;
		rc->next = isqrt_next(m->arrival, now, cf.retry[ch]);
		if (m->direct)
			materialize(m);	/* a retry can be far off: not held for it */
		return;
	}
	if (!record_failure(m, rc->addr, status, ch == REMOTE ? j->host : "", why, tl)) {
		/* not recorded, so not done: try the delivery again later */
		rc->state = PENDING;
		rc->next = now + BOUNCE_RETRY;
		if (m->direct)
			materialize(m);
		return;
	}
	mark(m, ch, j->idx[i]);
}

/* answers_read - what a spawner has answered, into ans[ch]; 1 when
 * something was read, 0 when nothing was there yet or the spawner has
 * gone */
static int
answers_read(int ch)
{
	char chunk[8192];
	long r;

	r = read(ansfd[ch], chunk, sizeof chunk);
	if (r == -1 && (errno == EINTR || errno == EAGAIN))
		return 0;
	if (r <= 0) {
		helper_gone(ch);
		return 0;
	}
	if (!str_catb(&ans[ch], chunk, (size_t)r))
		die_nomem();
	return 1;
}

/* answer - act on the answer at *done in ans[ch] and move *done past
 * it: 1; 0 when it is not complete yet */
static int
answer(int ch, size_t *done)
{
	const char *p, *f, *t;
	size_t n = ans[ch].len - *done, pos = 0, k, sl, tl, i;
	unsigned long slot;
	struct job *j;

	if (n == 0)
		return 0;
	p = ans[ch].s + *done;
	if (qfile_field(p, n, &pos, &f, &sl) != 1)
		return 0;
	if (!scan_ulong(f, sl, &slot) || slot >= SLOTS || jobs[ch][slot].m == NULL)
		die(EXIT_TEMP, "garbled answer from a spawner");
	j = &jobs[ch][slot];
	/* wait for all the records of this answer */
	for (k = 0, i = pos; k < j->n; k++)
		if (qfile_field(p, n, &i, &t, &tl) != 1)
			return 0;
	for (k = 0; k < j->n; k++) {
		(void)qfile_field(p, n, &pos, &t, &tl);
		if (tl == 0 || (t[0] != 'K' && t[0] != 'Z' && t[0] != 'D'))
			result(j, ch, k, 'Z', "garbled report from a spawner", 29);
		else
			result(j, ch, k, t[0], t + 1, tl - 1);
	}
	*done += pos;
	j->m->busy--;
	busy[ch]--;
	if (ch == REMOTE)
		dom_count(j, -1);
	if (j->m->left == 0 && j->m->busy == 0)
		finish(j->m);
	j->m = NULL;
	free(j->host);
	j->host = NULL;
	return 1;
}

/* answers - act on the complete answers in ans[ch], then drop them
 * from its front in one move (a move per answer would copy the rest
 * of a long buffer again and again) */
static void
answers(int ch)
{
	struct str *a = &ans[ch];
	size_t done = 0;

	while (answer(ch, &done))
		;
	if (done > 0) {
		memmove(a->s, a->s + done, a->len - done);
		a->len -= done;
	}
}

/* job_drop - a delivery whose result will never come: its recipients
 * are undone again and its slot is free */
static void
job_drop(int ch, struct job *j)
{
	size_t k;

	for (k = 0; k < j->n; k++)
		j->m->r[ch][j->idx[k]].state = PENDING;
	j->m->busy--;
	busy[ch]--;
	if (ch == REMOTE)
		dom_count(j, -1);
	j->m = NULL;
	free(j->host);
	j->host = NULL;
}

/* jobs_drop - the deliveries of a spawner that has gone: their results
 * are lost, so their recipients stay undone and are tried again by the
 * next qmail-send (at worst a delivery twice, never a lost one) */
static void
jobs_drop(int ch)
{
	size_t s;

	for (s = 0; s < SLOTS; s++)
		if (jobs[ch][s].m != NULL)
			job_drop(ch, &jobs[ch][s]);
	ans[ch].len = 0;
}

/* ---- starting deliveries ---- */

/* helper_died - a spawner's request pipe has no reader: it has died.
 * Answers it wrote before are still in its answer pipe, which has no
 * writer left: they are read to its end, so that the deliveries they
 * report are not made again after the restart. */
static void
helper_died(int ch)
{
	while (!gone[ch] && answers_read(ch))
		;
	helper_gone(ch);
}

/* send_req - a request to a spawner; while its pipe is full, answers
 * are read (not acted on), so neither side can wait for the other.
 * 1 sent; 0 the spawner has gone, and the request with it.  That is
 * no reason to die: the other spawner's deliveries still report (see
 * helper_gone). */
static int
send_req(int ch, const char *p, size_t n)
{
	struct pollfd pfd[2];
	ssize_t w;

	while (n > 0 && !gone[ch]) {
		if ((w = write(reqfd[ch], p, n)) > 0) {
			p += w;
			n -= (size_t)w;
			continue;
		}
		if (w == -1 && errno == EPIPE) {
			helper_died(ch);
			break;
		}
		if (w == -1 && errno != EAGAIN && errno != EINTR)
			die_sys(EXIT_TEMP, "unable to talk to ", helper[ch]);
		pfd[0].fd = reqfd[ch], pfd[0].events = POLLOUT;
		pfd[1].fd = ansfd[ch], pfd[1].events = POLLIN;
		if (poll(pfd, 2, -1) == -1 && errno != EINTR)
			die_sys(EXIT_TEMP, "unable to poll");
		if (pfd[1].revents)
			(void)answers_read(ch);	/* acted on in the main loop */
	}
	return !gone[ch];
}

/* remote_ok - a domain qmail-remote can be given */
static int
remote_ok(const char *addr)
{
	const char *d = domain_of(addr);

	return d[0] != 0 && d[0] != '-';
}

/* notlocal - a recipient waiting for a local delivery whose domain has
 * since left control/locals and control/virtualdomains (a virtual domain
 * deleted, say, or a control file edited badly).  Handed to qmail-lspawn
 * as it stands, its local part would be taken for a system account (root
 * and postmaster for the alias user); nor is it sent on as remote mail,
 * as the sender asked this host, not another, to deliver it.  It waits
 * as after a temporary failure, so that a mistake put right still gets
 * it delivered, and bounces once the message is older than
 * control/queuelifetime. */
static void
notlocal(struct msg *m, size_t i, time_t now)
{
	struct rcpt *rc = &m->r[LOCAL][i];
	struct str why = STR_ZERO;
	const char *d = domain_of(rc->addr);
	size_t dl = str_chrb(d, QFILE_ADDRMAX + 1, 0);
	int last = now >= m->arrival + (time_t)cf.lifetime;

	/* no domain name is longer; a cut one keeps the status in the
	 * text, which record_failure cuts at QFILE_TEXTMAX */
	if (dl > 255)
		dl = 255;
	if (!str_cats(&why, "this host no longer handles mail for ") || !str_catb(&why, d, dl) ||
	    !str_cats(&why, last ? " (#5.1.2)" : " (#4.1.2)") || !str_nul(&why))
		die_nomem();
	if (last)
		fail_now(m, LOCAL, i, why.s);
	else {
		say("deferral without a delivery: ", rc->addr, ": ", why.s,
		    "; it waits in case that is a mistake", NULL);
		rc->next = isqrt_next(m->arrival, now, cf.retry[LOCAL]);
		if (m->direct)
			materialize(m);
	}
	str_free(&why);
}

static void
start(struct msg *m, int ch, size_t first)
{
	struct str req = STR_ZERO, addr = STR_ZERO, snd = STR_ZERO;
	struct job *j = NULL;
	const char *dom;
	char nb[FMT_ULONG + 1], ib[FMT_ULONG + 1], cb[FMT_ULONG + 1];
	size_t s, i, dl;
	time_t now = time(NULL);

	for (s = 0; s < SLOTS; s++)
		if (jobs[ch][s].m == NULL) {
			j = &jobs[ch][s];
			break;
		}
	if (j == NULL)
		return;
	j->m = m;
	j->n = 0;
	j->number = ++jobnumber;
	j->idx[j->n++] = first;
	if (!str_catulong(&req, s) || !str_catc(&req, 0) || !str_catulong(&req, m->id) ||
	    !str_catc(&req, 0))
		die_nomem();
	if (ch == LOCAL) {
		/* still local: schedule() has failed it otherwise */
		(void)classify(m->r[ch][first].addr, &addr);
		verp(m->sender, m->r[ch][first].addr, &snd);
		if (!str_catc(&req, 'F') || !str_cats(&req, snd.s) || !str_catc(&req, 0) ||
		    !str_catc(&req, 'T') || !str_cats(&req, addr.s) || !str_catc(&req, 0))
			die_nomem();
		say("starting delivery ", ul(nb, j->number), ": msg ", ul(ib, m->id),
		    " to local ", addr.s, NULL);
	} else {
		/* every due recipient at the same domain travels together:
		 * they follow first in its domain's run (see group), and
		 * those before first are not due or already taken.  A VERP
		 * sender differs per recipient: one per delivery. */
		dom = domain_of(m->r[ch][first].addr);
		dl = str_chrb(dom, QFILE_ADDRMAX + 1, 0);
		for (i = first + 1; i < m->n[ch] && j->n < GROUPMAX && !is_verp(m->sender); i++) {
			const char *d2 = domain_of(m->r[ch][i].addr);

			if (str_chrb(d2, dl + 1, 0) != dl || !str_caseeqb(d2, dom, dl))
				break;	/* the end of the run */
			if (m->r[ch][i].state == PENDING && m->r[ch][i].next <= now)
				j->idx[j->n++] = i;
		}
		j->host = dupb(dom, dl);
		verp(m->sender, m->r[ch][first].addr, &snd);
		if (!str_catc(&req, 'H') || !str_cats(&req, j->host) || !str_catc(&req, 0) ||
		    !str_catc(&req, 'F') || !str_cats(&req, snd.s) || !str_catc(&req, 0))
			die_nomem();
		for (i = 0; i < j->n; i++)
			if (!str_catc(&req, 'T') || !str_cats(&req, m->r[ch][j->idx[i]].addr) ||
			    !str_catc(&req, 0))
				die_nomem();
		say("starting delivery ", ul(nb, j->number), ": msg ", ul(ib, m->id),
		    " to remote ", j->host, " (", ul(cb, j->n), j->n == 1 ? " recipient)" :
		    " recipients)", NULL);
	}
	if (!str_catc(&req, 0))
		die_nomem();
	for (i = 0; i < j->n; i++)
		m->r[ch][j->idx[i]].state = BUSY;
	m->busy++;
	busy[ch]++;
	if (ch == REMOTE)
		dom_count(j, 1);
	/* not handed over: the message waits for the next qmail-send */
	if (!send_req(ch, req.s, req.len))
		job_drop(ch, j);
	str_free(&req);
	str_free(&addr);
	str_free(&snd);
}

/* walk - one walk over the messages for schedule(), oldest first.  In
 * the first (fair) walk a domain gets at most half of
 * concurrencyremote, rounded up, so that one slow or dead host cannot
 * hold every slot while mail to other domains waits behind it; it
 * returns the first message with a due recipient passed over for that,
 * or NULL.  The second walk, made only when slots are still free, lets
 * a domain have the rest: no recipient of another domain is then due.
 * It starts at that message: slots are only taken during a walk, so
 * when some are still free at its end, every due recipient before it
 * was started in the first. */
static struct msg *
walk(struct msg *from, time_t now, time_t *wake, int fair)
{
	struct msg *m, *next, *passed = NULL;
	unsigned long share = (cf.conc[REMOTE] + 1) / 2;
	size_t i;
	int ch;

	for (m = from; m; m = next) {
		next = m->next;
		if (m->left == 0) {
			/* a bounce under way goes on while qmail-send stops:
			 * begun again after a restart, its reports made so
			 * far would be made twice */
			if (!fair || m->busy != 0 || (flag_term && m->bs == NULL))
				continue;
			if (m->bounce_next <= now && finish(m))
				continue;	/* freed */
			if (m->bounce_next <= now) {
				*wake = now;	/* more reports in the next pass */
				bounce_due = 1;
			} else if (m->bounce_next < *wake)
				*wake = m->bounce_next;
			continue;
		}
		for (ch = 0; ch < 2; ch++)
			for (i = 0; i < m->n[ch]; i++) {
				struct rcpt *rc = &m->r[ch][i];

				if (rc->state != PENDING)
					continue;
				if (rc->next > now) {
					if (rc->next < *wake)
						*wake = rc->next;
					continue;
				}
				if (busy[ch] >= cf.conc[ch] || flag_term)
					continue;
				if (ch == REMOTE && !remote_ok(rc->addr))
					fail_now(m, ch, i, "5.1.2 the recipient's domain is not a usable host name");
				else if (ch == LOCAL && classify(rc->addr, NULL) == REMOTE) {
					notlocal(m, i, now);
					if (rc->state == PENDING && rc->next < *wake)
						*wake = rc->next;
				} else if (ch == REMOTE && fair && dom_busy(domain_of(rc->addr)) >= share) {
					if (passed == NULL)
						passed = m;	/* it stays: left > 0 */
					continue;
				} else {
					start(m, ch, i);
					continue;
				}
				if (m->left == 0 && m->busy == 0) {
					/* its bounce may go on in later passes */
					if (!finish(m) && m->bounce_next <= now) {
						*wake = now;
						bounce_due = 1;
					}
					goto next;
				}
			}
next:
		;
	}
	return passed;
}

/* schedule - start what is due; returns the next time something falls due */
static time_t
schedule(time_t now)
{
	time_t wake = now + TODO_SCAN;
	struct msg *passed;

	bounce_due = 0;
	passed = walk(head, now, &wake, 1);
	if (passed != NULL && busy[REMOTE] < cf.conc[REMOTE] && !flag_term)
		(void)walk(passed, now, &wake, 0);
	return wake;
}

/* ---- new mail ---- */

/* ids whose todo/ entry was there at the start together with info/,
 * local/, remote/ or bounce/ files: an earlier run wrote those for it
 * and was stopped before todo/ was removed (see take) */
static unsigned long *stale;
static size_t nstale, stalecap;

static void
stale_note(unsigned long id)
{
	if (id_in(stale, nstale, id))
		return;
	if (nstale == stalecap) {
		unsigned long *n;

		stalecap = stalecap ? 2 * stalecap : 16;
		if (stalecap > (size_t)-1 / sizeof *stale ||
		    (n = realloc(stale, stalecap * sizeof *stale)) == NULL)
			die_nomem();
		stale = n;
	}
	stale[nstale++] = id;
}

/* stale_add - a file of id in local/, remote/ or bounce/: a leftover
 * when todo/ has id too (info/ is seen to by load_one) */
static void
stale_add(unsigned long id, void *arg)
{
	struct str *fn = arg;

	path(fn, "todo", id);
	if (access(fn->s, F_OK) == 0)
		stale_note(id);
}

/* stale_find - the leftovers of earlier runs in local/, remote/ and
 * bounce/, at the start */
static void
stale_find(void)
{
	static const char *const dirs[2] = { "local", "remote" };
	struct str dir = STR_ZERO, fn = STR_ZERO;
	struct dirent *de;
	unsigned long id;
	DIR *d;
	int k, r;

	for (k = 0; k < 2; k++) {
		r = qpath_each(dirs[k], stale_add, &fn, &dir);
		if (r == 0)
			die_nomem();
		if (r < 0)
			die_sys(EXIT_TEMP, r == -1 ? "unable to open " : "unable to read ", dir.s);
	}
	if ((d = opendir("bounce")) == NULL)
		die_sys(EXIT_TEMP, "unable to open bounce");
	for (;;) {
		errno = 0;
		if ((de = readdir(d)) == NULL)
			break;
		if (qpath_id(de->d_name, &id))
			stale_add(id, &fn);
	}
	if (errno)
		die_sys(EXIT_TEMP, "unable to read bounce");
	(void)closedir(d);	/* read-only stream */
	str_free(&dir);
	str_free(&fn);
}

/* take - the envelope todo/S/ID as a message held in memory and
 * delivered straight from todo/; NULL when it cannot be read (warned) */
static struct msg *
take(unsigned long id)
{
	static const char *const left[4] = { "info", "local", "remote", "bounce" };
	struct str fn = STR_ZERO, raw = STR_ZERO;
	struct envelope e;
	struct stat st;
	struct msg *m = NULL;
	const char *f;
	size_t pos, fl, k, n = 0;
	int ch, r;

	path(&fn, "todo", id);
	if (stat(fn.s, &st) == -1 || (r = control_readfile(fn.s, &raw, ENVMAX)) != 1) {
		warn_sys("unable to read ", fn.s);
		goto out;
	}
	if ((r = envelope_parse_todo(&e, raw.s, raw.len)) != ENVELOPE_OK) {
		warn("ignoring the malformed ", fn.s, ": ", envelope_strerror(r));
		goto out;
	}
	/* what an interrupted earlier run left for this message: while
	 * todo/ exists, it alone counts (no other message can have this
	 * id, since mess/ is removed last) */
	for (k = 0; k < 4 && id_in(stale, nstale, id); k++) {
		path(&fn, left[k], id);
		if (unlink(fn.s) == -1 && errno != ENOENT) {
			warn_sys("unable to remove ", fn.s);
			goto out;	/* tried again at the next look */
		}
	}
	(void)id_drop(stale, &nstale, id);
	if ((m = calloc(1, sizeof *m)) == NULL)
		die_nomem();
	m->id = id;
	m->arrival = st.st_mtime;
	m->direct = 1;
	m->sender = dupb(e.sender, e.senderlen);
	/* room for every recipient in either kind, then each where it goes */
	for (pos = 0; envelope_next(&e, &pos, &f, &fl) == 1; )
		n++;
	for (ch = 0; ch < 2; ch++)
		if ((m->r[ch] = calloc(n, sizeof *m->r[ch])) == NULL)
			die_nomem();
	for (pos = 0; envelope_next(&e, &pos, &f, &fl) == 1; ) {
		char *a = dupb(f, fl);

		ch = classify(a, NULL);
		m->r[ch][m->n[ch]].addr = a;
		/* the place in the envelope, until materialize() sets the
		 * place in local/ or remote/: group() keeps to it */
		m->r[ch][m->n[ch]].off = m->n[ch];
		m->r[ch][m->n[ch]++].state = PENDING;
		m->left++;
	}
	group(m);
out:
	str_free(&fn);
	str_free(&raw);
	return m;
}

/* materialize - a message held from todo/ gets its info/, local/ and
 * remote/ (the recipients done so far marked D), synced together with
 * their directories; then qmail-clean removes todo/, and the message
 * waits for its retries like one taken in after a restart.  Not done
 * (warned), it stays held: todo/ still stands for all of it.  Nor is it
 * done once qmail-clean has gone: qmail-send is stopping, and the next
 * one takes the message from todo/. */
static void
materialize(struct msg *m)
{
	static const char *const name[3] = { "local", "remote", "info" };
	struct str fn = STR_ZERO, data[3] = { STR_ZERO, STR_ZERO, STR_ZERO };
	int fds[6], oks[6], k, ok = 0;
	size_t nf = 0, nfiles = 0, i;
	char idb[FMT_ULONG + 1];

	if (gone[CLEANER])
		return;
	for (k = 0; k < 2; k++)
		for (i = 0; i < m->n[k]; i++) {
			m->r[k][i].off = data[k].len;
			if (!str_catc(&data[k], m->r[k][i].state == DONE ? 'D' : 'T') ||
			    !str_cats(&data[k], m->r[k][i].addr) || !str_catc(&data[k], 0))
				die_nomem();
		}
	if (!str_catc(&data[2], 't') || !str_catulong(&data[2], (unsigned long)m->arrival) ||
	    !str_catc(&data[2], 0) || !str_catc(&data[2], 'F') || !str_cats(&data[2], m->sender) ||
	    !str_catc(&data[2], 0))
		die_nomem();
	m->wrote = 1;	/* from here on, files of its own may exist */
	for (k = 0; k < 3; k++) {
		if (data[k].len == 0)
			continue;	/* no recipient of that kind: no file */
		path(&fn, name[k], m->id);
		if ((fds[nf] = open(fn.s, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600)) == -1 ||
		    (nf++, !fd_writeall(fds[nf - 1], data[k].s, data[k].len, 0))) {
			warn_sys("unable to write ", fn.s);
			goto out;
		}
	}
	nfiles = nf;
	for (k = 0; k < 3; k++) {
		if (data[k].len == 0)
			continue;
		fn.len = 0;
		if (!str_cats(&fn, name[k]) || !str_catc(&fn, '/') ||
		    !str_catulong(&fn, m->id % qpath_split()) || !str_nul(&fn))
			die_nomem();
		if ((fds[nf] = open(fn.s, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) == -1) {
			warn_sys("unable to open ", fn.s);
			goto out;
		}
		nf++;
	}
	if (!sync_all(fds, oks, nf)) {
		warn_sys("unable to sync the queue files of msg ", ul(idb, m->id));
		goto out;
	}
	ok = 1;
out:
	for (i = 0; i < nf; i++)
		if (close(fds[i]) == -1 && i < nfiles && ok) {
			warn_sys("unable to write the queue files of msg ", ul(idb, m->id));
			ok = 0;
		}
	str_free(&fn);
	for (k = 0; k < 3; k++)
		str_free(&data[k]);
	if (!ok)
		return;
	if (!clean('T', m->id)) {
		/* qmail-clean gone meanwhile: said once already */
		if (!gone[CLEANER])
			say("warning: qmail-clean could not remove todo for msg ", ul(idb, m->id), NULL);
		return;
	}
	m->direct = 0;
	unhold(m->id);
}

static void
look_all(void)
{
	unsigned long s;

	for (s = 0; s < qpath_split(); s++)
		dirty[s] = 1;
}

static int
any_dirty(void)
{
	unsigned long s;

	for (s = 0; s < qpath_split(); s++)
		if (dirty[s])
			return 1;
	return 0;
}

/* look_trigger - what qmail-queue wrote to lock/trigger: each byte the
 * split of a new message plus one; any other byte means every split */
static void
look_trigger(const char *x, long n)
{
	long i;

	for (i = 0; i < n; i++) {
		unsigned char b = (unsigned char)x[i];

		if (b >= 1 && b <= qpath_split())
			dirty[b - 1] = 1;
		else
			look_all();
	}
}

/* todo_ids - up to max ids from the dirty splits of todo/, not
 * counting those held; the count.  Each look starts in the split where
 * the last one stopped, so that no split waits behind the others. */
static size_t
todo_ids(unsigned long *ids, size_t max)
{
	static unsigned long s0;
	struct str dir = STR_ZERO;
	struct dirent *de;
	unsigned long s = s0, k, id;
	size_t n = 0;
	DIR *d;

	for (k = 0; k < qpath_split() && n < max; k++) {
		s = (s0 + k) % qpath_split();
		if (!dirty[s])
			continue;
		dir.len = 0;
		if (!str_cats(&dir, "todo/") || !str_catulong(&dir, s) || !str_nul(&dir))
			die_nomem();
		if ((d = opendir(dir.s)) == NULL) {
			warn_sys("unable to open ", dir.s);
			continue;
		}
		while (n < max && (de = readdir(d)) != NULL)
			if (qpath_id(de->d_name, &id) && id % qpath_split() == s && !id_in(held, nheld, id))
				ids[n++] = id;
		if (n < max || readdir(d) == NULL)
			dirty[s] = 0;	/* seen to its end */
		(void)closedir(d);	/* read-only stream */
	}
	s0 = s;
	str_free(&dir);
	return n;
}

/* todo - take in a batch of new envelopes, as many as may be held; 1
 * when more may wait */
/* held_first - the oldest message held from todo/ (or NULL): held
 * messages are appended as they are taken, behind every message loaded
 * from the queue, so the list is searched from its end, and stops once
 * it has met as many as are held (with tens of thousands of messages
 * waiting, a walk from the head cost more than the new mail) */
static struct msg *
held_first(void)
{
	struct msg *m, *first = NULL;
	size_t seen = 0;

	for (m = tail; m && seen < nheld; m = m->prev)
		if (m->direct) {
			first = m;
			seen++;
		}
	return first;
}

static int
todo(void)
{
	unsigned long ids[BATCH];
	struct str fn = STR_ZERO;
	size_t n, i, want = DIRECTMAX - nheld, got = 0, tries = 0;
	struct msg *m;
	struct stat st;
	char idb[FMT_ULONG + 1], sb[FMT_ULONG + 1], lb[FMT_ULONG + 1], rb[FMT_ULONG + 1];

	todo_room = 0;
	if (want == 0 && any_dirty()) {
		/* Every slot is held, and new mail may wait in todo/: the
		 * held messages waiting for a delivery slot (behind a slow
		 * remote host, say) are written out as for a retry, so that
		 * they do not keep new mail from its deliveries. */
		for (m = held_first(); m && tries < BATCH; m = m->next)
			if (m->direct && m->busy == 0 && m->left > 0) {
				tries++;	/* a full disk would fail every one */
				materialize(m);
				if (!m->direct)
					want++;
			}
	}
	if (want > BATCH)
		want = BATCH;
	if (want == 0)
		return 0;	/* todo_room says when one has gone */
	n = todo_ids(ids, want);
	for (i = 0; i < n; i++) {
		if ((m = take(ids[i])) == NULL)
			continue;	/* tried again at the next look */
		got++;
		held[nheld++] = m->id;
		path(&fn, "mess", m->id);
		st.st_size = 0;
		if (stat(fn.s, &st) == -1)
			warn_sys("unable to stat ", fn.s);
		say("new msg ", ul(idb, m->id), " from <", m->sender, "> size ",
		    ul(sb, (unsigned long)st.st_size), " local ", ul(lb, m->n[LOCAL]),
		    " remote ", ul(rb, m->n[REMOTE]), NULL);
		msg_append(m);
	}
	str_free(&fn);
	return n == want && got == n;
}

/* the messages whose files could not be read at the start (a failed
 * read says nothing about the data): each is read again after a delay
 * that doubles from LOAD_RETRY up to LOAD_RETRYMAX seconds, and at
 * SIGALRM, until it is loaded or found damaged */
struct unread {
	unsigned long id;
	unsigned long delay;
	time_t next;
};
static struct unread *unread;
static size_t nunread, unreadcap;

/* unread_later - note when msg id is to be read again, and say so */
static void
unread_later(struct unread *u, time_t now)
{
	char idb[FMT_ULONG + 1], db[FMT_ULONG + 1];

	u->next = now + (time_t)u->delay;
	say("warning: unable to load msg ", ul(idb, u->id), ": will try again in ",
	    ul(db, u->delay), " seconds", NULL);
}

static void
unread_add(unsigned long id)
{
	struct unread *n;

	if (nunread == unreadcap) {
		unreadcap = unreadcap ? 2 * unreadcap : 16;
		if (unreadcap > (size_t)-1 / sizeof *unread ||
		    (n = realloc(unread, unreadcap * sizeof *unread)) == NULL)
			die_nomem();
		unread = n;
	}
	unread[nunread].id = id;
	unread[nunread].delay = LOAD_RETRY;
	unread_later(&unread[nunread++], time(NULL));
}

/* load_one - message id from info/: 1 taken in, or nothing to take (a
 * leftover, or damaged); 0 not readable now */
static int
load_one(unsigned long id, struct str *fn)
{
	struct msg *m;

	/* a todo/ file still there: it is taken over afresh, and this
	 * info/ (and local/, remote/, bounce/) is a leftover */
	path(fn, "todo", id);
	if (access(fn->s, F_OK) == 0) {
		stale_note(id);
		return 1;
	}
	switch (msg_load(id, &m)) {
	case 1:
		msg_append(m);
		return 1;
	case 0:
		return 1;
	}
	return 0;
}

static void
load_each(unsigned long id, void *arg)
{
	if (!load_one(id, arg))
		unread_add(id);
}

/* load_all - every message taken over before a restart */
static void
load_all(void)
{
	struct str dir = STR_ZERO, fn = STR_ZERO;
	int r;

	r = qpath_each("info", load_each, &fn, &dir);
	if (r == 0)
		die_nomem();
	if (r < 0)
		die_sys(EXIT_TEMP, r == -1 ? "unable to open " : "unable to read ", dir.s);
	str_free(&dir);
	str_free(&fn);
}

/* load_again - read the unreadable messages that are due again; the
 * time the next one falls due, or 0 when none is left */
static time_t
load_again(time_t now)
{
	struct str fn = STR_ZERO;
	time_t wake = 0;
	size_t i;

	for (i = 0; i < nunread; ) {
		struct unread *u = &unread[i];

		if (u->next <= now) {
			if (load_one(u->id, &fn)) {
				unread[i] = unread[--nunread];
				continue;
			}
			u->delay = u->delay * 2 < LOAD_RETRYMAX ? u->delay * 2 : LOAD_RETRYMAX;
			unread_later(u, now);
		}
		if (wake == 0 || u->next < wake)
			wake = u->next;
		i++;
	}
	str_free(&fn);
	return wake;
}

/* sweep - leftovers of qmail-queue runs that never committed */
static void
sweep(void)
{
	struct str dir = STR_ZERO, fn = STR_ZERO;
	struct dirent *de;
	unsigned long s, id;
	struct stat st;
	time_t now = time(NULL);
	char idb[FMT_ULONG + 1];
	DIR *d;

	(void)clean('S', 0);	/* pid/ and intd/ */
	for (s = 0; s < qpath_split(); s++) {
		dir.len = 0;
		if (!str_cats(&dir, "mess/") || !str_catulong(&dir, s) || !str_nul(&dir))
			die_nomem();
		if ((d = opendir(dir.s)) == NULL) {
			warn_sys("unable to open ", dir.s);
			continue;
		}
		while ((de = readdir(d)) != NULL) {
			if (!qpath_id(de->d_name, &id) || id % qpath_split() != s)
				continue;
			path(&fn, "mess", id);
			if (stat(fn.s, &st) == -1 || st.st_mtime + LEFTOVER_AGE > now)
				continue;
			path(&fn, "todo", id);
			if (access(fn.s, F_OK) == 0 || errno != ENOENT)
				continue;
			path(&fn, "info", id);
			if (access(fn.s, F_OK) == 0 || errno != ENOENT)
				continue;
			if (clean('M', id))
				say("removed leftover mess/", ul(idb, s), "/", de->d_name, NULL);
		}
		(void)closedir(d);	/* read-only stream */
	}
	str_free(&dir);
	str_free(&fn);
}

static int
trigger_open(void)
{
	static int wfd = -1;
	int fd = open("lock/trigger", O_RDONLY | O_NONBLOCK | O_CLOEXEC);

	if (fd == -1) {
		warn_sys("unable to open lock/trigger");
		return -1;
	}
	/* a writer of our own, never used: with it the pipe never shows
	 * end of file, so the read end stays open and no qmail-queue finds
	 * the pipe without a reader (its byte would be lost, and with it
	 * the split to look in) */
	if (wfd != -1)
		(void)close(wfd);	/* unused write end */
	if ((wfd = open("lock/trigger", O_WRONLY | O_NONBLOCK | O_CLOEXEC)) == -1)
		warn_sys("unable to open lock/trigger for writing");
	return fd;
}

int
main(int argc, char **argv)
{
	struct pollfd pfd[6];
	struct flock lk;
	struct msg *m;
	time_t now, wake, next_todo = 0, next_sweep = 0, next_load = 0;
	char x[256];
	int trig, lockfd, more = 1, np, ci, ti, i, t;
	pid_t parent;

	(void)argc;
	die_init(argv[0]);
	umask(077);
	if (chdir(auto_home) == -1)
		die_sys(EXIT_TEMP, "unable to chdir to ", auto_home);
	if (!config_read(&cf))
		die_sys(EXIT_TEMP, "unable to read ", cfbad);
	if (chdir("queue") == -1)
		die_sys(EXIT_TEMP, "unable to chdir to queue");
	if ((lockfd = open("lock/sendmutex", O_WRONLY | O_CLOEXEC)) == -1)
		die_sys(EXIT_TEMP, "unable to open lock/sendmutex");
	lk.l_type = F_WRLCK;
	lk.l_whence = SEEK_SET;
	lk.l_start = 0;
	lk.l_len = 0;
	if (fcntl(lockfd, F_SETLK, &lk) == -1)
		die_sys(EXIT_TEMP, "unable to lock lock/sendmutex: is another qmail-send running?");
	if (pipe_cloexec(selfpipe) == -1 || fcntl(selfpipe[0], F_SETFL, O_NONBLOCK) == -1 ||
	    fcntl(selfpipe[1], F_SETFL, O_NONBLOCK) == -1)
		die_sys(EXIT_TEMP, "unable to create a pipe");
	if (!sig_ignore(SIGPIPE) || !sig_catch(SIGTERM, on_signal) ||
	    !sig_catch(SIGHUP, on_signal) || !sig_catch(SIGALRM, on_signal))
		die_sys(EXIT_TEMP, "unable to set signals");
	for (i = 0; i < 2; i++)
		if (fcntl(ansfd[i], F_SETFL, O_NONBLOCK) == -1 ||
		    fcntl(reqfd[i], F_SETFL, O_NONBLOCK) == -1)
			die_sys(EXIT_TEMP, "unable to use the spawner pipes");
	/* inherited, so not yet close-on-exec: a bounce's qmail-queue must
	 * not hold the helpers' pipes open */
	for (i = 3; i <= 8; i++)
		if (fcntl(i, F_SETFD, FD_CLOEXEC) == -1)
			die_sys(EXIT_TEMP, "unable to use the helper pipes");
	if ((dirty = malloc(qpath_split())) == NULL)
		die_nomem();
	look_all();
	trig = trigger_open();
	parent = getppid();
	say("status: starting", NULL);
	load_all();
	stale_find();
	for (;;) {
		now = time(NULL);
		if (flag_hup) {
			struct config nc = { 0 };

			flag_hup = 0;
			if (chdir(auto_home) == 0 && config_read(&nc)) {
				config_free(&cf);
				cf = nc;
				say("status: control files read again", NULL);
			} else {
				warn_sys("keeping the old control files: unable to read ", cfbad);
				config_free(&nc);
			}
			if (chdir(auto_home) == -1 || chdir("queue") == -1)
				die_sys(EXIT_TEMP, "unable to chdir to queue");
		}
		if (flag_alrm) {
			flag_alrm = 0;
			for (m = head; m; m = m->next) {
				for (i = 0; i < 2; i++)
					for (size_t k = 0; k < m->n[i]; k++)
						m->r[i][k].next = 0;
				m->bounce_next = 0;
			}
			for (size_t k = 0; k < nunread; k++)
				unread[k].next = 0;
			say("status: trying every recipient now", NULL);
		}
		/* qmail-start gone (killed): stop as on SIGTERM, so that a new
		 * one can start a new qmail-send */
		if (!flag_term && getppid() != parent) {
			flag_term = 1;
			say("status: qmail-start has gone: stopping", NULL);
		}
		if (flag_term && busy[LOCAL] == 0 && busy[REMOTE] == 0 && !bounce_due) {
			/* the removals asked for are done before we go: qmail-clean
			 * dies of its first answer nobody reads, and a finished
			 * message whose todo/ stays would be delivered again by the
			 * next qmail-send */
			while (mq_n > 0 && !gone[CLEANER])
				clean_drain();
			for (i = 0; i < 3; i++)
				if (gone[i]) {
					say("status: exiting: ", helper[i], " has gone", NULL);
					return EXIT_TEMP;
				}
			say("status: exiting", NULL);
			return 0;
		}
		if (!flag_term) {
			if (now >= next_sweep) {
				sweep();
				next_sweep = now + SWEEP_EVERY;
			}
			if (now >= next_todo) {
				look_all();
				next_todo = now + TODO_SCAN;
				more = 1;
			}
			if (more || todo_room)
				more = todo();
			next_load = load_again(now);
		}
		inject_left = INJECT_BATCH;
		wake = schedule(now);
		if (wake > next_todo)
			wake = next_todo;
		if (next_load != 0 && wake > next_load)
			wake = next_load;
		now = time(NULL);
		t = (more || todo_room) && !flag_term ? 0 : wake <= now ? 0 : wake - now > 5 ? 5000 : (int)(wake - now) * 1000;
		np = 0;
		pfd[np].fd = selfpipe[0], pfd[np++].events = POLLIN;
		/* every helper's answer pipe, busy or not: its end of file
		 * says the helper has gone (a negative fd is not polled) */
		pfd[np].fd = gone[LOCAL] ? -1 : ansfd[LOCAL], pfd[np++].events = POLLIN;
		pfd[np].fd = gone[REMOTE] ? -1 : ansfd[REMOTE], pfd[np++].events = POLLIN;
		ti = np;
		if (trig != -1)
			pfd[np].fd = trig, pfd[np++].events = POLLIN;
		ci = np;
		pfd[np].fd = gone[CLEANER] ? -1 : 8, pfd[np++].events = POLLIN;
		if (poll(pfd, (nfds_t)np, t) == -1) {
			if (errno == EINTR)
				continue;
			die_sys(EXIT_TEMP, "unable to poll");
		}
		if (pfd[0].revents)
			while (read(selfpipe[0], x, sizeof x) > 0)
				;
		if (ci < np && pfd[ci].revents)
			clean_drain();
		for (i = 0; i < 2; i++) {
			if (pfd[1 + i].revents)
				(void)answers_read(i);	/* acted on next */
			answers(i);
			if (gone[i])
				jobs_drop(i);
		}
		if (trig != -1 && pfd[ti].revents) {
			long r;

			while ((r = read(trig, x, sizeof x)) > 0)
				look_trigger(x, r);
			if (r == 0) {
				/* no writer: bytes may have been lost while the
				 * pipe had no reader */
				(void)close(trig);	/* read end; reopened to wait again */
				trig = trigger_open();
				look_all();
			}
			more = 1;
		} else if (trig == -1 && time(NULL) >= next_todo)
			trig = trigger_open();
	}
}
