/* spawner.c - the request loop of qmail-lspawn and qmail-rspawn; see
 * spawner.h
 *
 * Requests come from qmail-send, reports from child programs; both are
 * parsed with bounds.  A child is finished when waitpid says it exited;
 * its report is whatever it wrote before, so a grandchild that keeps
 * the pipe open delays nothing.  A child's end of file on its pipe
 * comes a moment before the child can be reaped, so SIGCHLD writes a
 * byte to a pipe that poll watches too: the answer goes out as soon as
 * the child is gone, without a timer.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "buf.h"
#include "die.h"
#include "mono.h"
#include "qpath.h"
#include "spawn.h"
#include "spawner.h"

#define FIELDS_MAX 1100		/* slot, id, host, sender, 1000 recipients and more */
#define FIELD_MAX 1100

/* the write end of the SIGCHLD pipe: the one thing a signal handler
 * needs, so it cannot be passed as an argument; set once by spawner_run */
static int chld_fd = -1;

struct job {
	pid_t pid;		/* 0: slot free */
	int out;		/* read end of the child's descriptor 1, -1 closed */
	int exited;
	int status;
	struct str rep;
	int full;		/* rep reached SPAWNER_OUTMAX: keep no more */
	long long started;	/* mono_ms() at the start */
	int killed;		/* ran past the limit: SIGKILL sent */
	struct str req;		/* the fields, NUL-separated */
	size_t nrcpt;
	unsigned long slot;
};

/* table - every slot, and the busy ones listed so that a pass over the
 * children costs what is running, not SPAWNER_SLOTS */
struct table {
	uid_t qowner;		/* owner of queue/mess and its files */
	struct job jobs[SPAWNER_SLOTS];
	size_t busy[SPAWNER_SLOTS];	/* slots with a child, nbusy of them, unordered */
	size_t nbusy;
};

int
spawner_record(struct str *res, char letter, const char *text, size_t n)
{
	size_t i, w = 0;

	if (!str_catc(res, letter))
		return 0;
	while (n > 0 && (text[n - 1] == '\n' || text[n - 1] == ' '))
		n--;
	for (i = 0; i < n && w < 1000; i++, w++) {
		char c = text[i];

		if (c == '\n')
			c = '/';
		else if ((unsigned char)c < 0x20 || (unsigned char)c > 0x7e)
			c = '?';
		if (!str_catc(res, c))
			return 0;
	}
	return str_catc(res, 0);
}

int
spawner_crash(struct str *out, const char *prog, int status, const char *said, size_t n)
{
	int sig = spawn_termsig(status);

	out->len = 0;
	if (!str_cats(out, prog))
		return 0;
	/* no signal: it cannot be, as only a stopped child is neither
	 * exited nor signalled, and wait does not report those here */
	if (sig == 0 && !str_cats(out, " crashed"))
		return 0;
	if (sig != 0 && (!str_cats(out, " was killed by signal ") ||
	    !str_catulong(out, (unsigned long)sig)))
		return 0;
	if (n > 0 && (!str_cats(out, "; it had said: ") || !str_catb(out, said, n)))
		return 0;
	return 1;
}

/* fields - pointers to the NUL-separated fields of s */
static size_t
fields(struct str *s, char **f, size_t max)
{
	size_t i = 0, n = 0;

	while (i < s->len && n < max) {
		f[n++] = s->s + i;
		i += str_chrb(s->s + i, s->len - i, 0) + 1;
	}
	return n;
}

static int
answer(unsigned long slot, const struct str *res)
{
	struct str a = STR_ZERO;
	int ok;

	ok = str_catulong(&a, slot) && str_catc(&a, 0) && str_cat(&a, res) &&
	    fd_writeall(1, a.s, a.len, 0);
	str_free(&a);
	/* qmail-send gone: it will redo the delivery; nothing to tell */
	return ok || errno == EPIPE;
}

/* drain - what the child has written so far, without blocking */
static void
drain(struct job *j)
{
	char x[4096];
	ssize_t r;

	while (j->out != -1) {
		r = read(j->out, x, sizeof x);
		if (r == -1 && errno == EINTR)
			continue;
		if (r <= 0) {
			if (r == 0 || errno != EAGAIN) {
				(void)close(j->out);	/* read end: nothing to lose */
				j->out = -1;
			}
			return;
		}
		/* past the limit nothing more is kept: a later, smaller piece
		 * would join records that do not belong together */
		if (j->full || j->rep.len + (size_t)r > SPAWNER_OUTMAX)
			j->full = 1;
		else if (!str_catb(&j->rep, x, (size_t)r))
			die_nomem();
	}
}

static void
done(const struct spawner_ops *ops, void *ctx, struct job *j)
{
	char *f[FIELDS_MAX];
	struct str res = STR_ZERO;
	size_t nf;

	drain(j);
	if (j->out != -1) {
		(void)close(j->out);	/* a grandchild may keep writing: ignored */
		j->out = -1;
	}
	nf = fields(&j->req, f, FIELDS_MAX);
	ops->finish(ctx, f + 2, nf - 2, j->status, j->killed, j->rep.s ? j->rep.s : "", j->rep.len,
	    &res);
	if (!answer(j->slot, &res))
		die_sys(EXIT_TEMP, "unable to write report");
	str_free(&res);
	j->pid = 0;
	j->exited = 0;
	j->rep.len = 0;
	j->full = 0;
	if (j->rep.cap > 65536)
		str_free(&j->rep);	/* a rare large report: give it back */
}

/* overdue - kill every child past limit seconds; its report becomes
 * the reason.  The time a child has run is counted to the millisecond:
 * in whole seconds, one started late in a second was past a limit of 2
 * a little over 1 s later.  Milliseconds / 1000 is below limit exactly
 * when the milliseconds are below limit * 1000, which could overflow. */
static void
overdue(struct table *t, unsigned long limit)
{
	char num[FMT_ULONG];
	struct job *j;
	long long tn;
	size_t k;

	if (limit == 0)
		return;
	tn = mono_ms();
	for (k = 0; k < t->nbusy; k++) {
		j = &t->jobs[t->busy[k]];
		if (j->exited || j->killed ||
		    (tn <= j->started ? 0UL : (unsigned long)((tn - j->started) / 1000)) < limit)
			continue;
		(void)kill(j->pid, SIGKILL);	/* a stopped child dies too */
		j->killed = 1;
		num[fmt_ulong(num, limit)] = 0;
		j->rep.len = 0;
		j->full = 1;	/* what it writes from now on is not kept */
		if (!str_cats(&j->rep, "the delivery ran longer than ") || !str_cats(&j->rep, num) ||
		    !str_cats(&j->rep, " seconds and was killed"))
			die_nomem();
	}
}

/* message_open - the message file fn for reading, when it is a regular
 * file of the queue's owner; else -1.  The spawners run as root and the
 * queue belongs to qmailq: a link planted there must not hand a
 * delivery a file only root may read, nor a FIFO hang the spawner. */
static int
message_open(const char *fn, uid_t owner)
{
	struct stat st;
	int fd;

	if ((fd = open(fn, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK)) == -1)
		return -1;
	if (fstat(fd, &st) == -1 || !S_ISREG(st.st_mode) || st.st_uid != owner ||
	    fcntl(fd, F_SETFL, 0) == -1) {
		(void)close(fd);	/* read-only */
		errno = EPERM;
		return -1;
	}
	return fd;
}

/* begin - one request: start its child, or answer at once */
static void
begin(const struct spawner_ops *ops, void *ctx, struct table *t, struct str *req)
{
	char *f[FIELDS_MAX];
	struct str res = STR_ZERO, fn = STR_ZERO;
	unsigned long slot, id;
	size_t nf, nrcpt, i;
	int p[2], msg, r;
	struct job *j;
	pid_t pid;

	nf = fields(req, f, FIELDS_MAX);
	if (nf < 3 || !scan_ulong(f[0], str_chrb(f[0], FIELD_MAX, 0), &slot) ||
	    slot >= SPAWNER_SLOTS || !scan_ulong(f[1], str_chrb(f[1], FIELD_MAX, 0), &id) ||
	    (nrcpt = ops->rcpts(ctx, f + 2, nf - 2)) == 0) {
		warn("ignoring a malformed request");
		return;
	}
	j = &t->jobs[slot];
	if (j->pid != 0) {
		warn("ignoring a request for a busy slot");
		return;
	}
	if (!qpath(&fn, "queue/mess", id))
		die_nomem();
	if ((msg = message_open(fn.s, t->qowner)) == -1) {
		for (i = 0; i < nrcpt; i++)
			if (!spawner_record(&res, 'Z', "unable to open the message file", 31))
				die_nomem();
		goto answer;
	}
	if (pipe_cloexec(p) == -1) {
		(void)close(msg);	/* read-only */
		for (i = 0; i < nrcpt; i++)
			if (!spawner_record(&res, 'Z', "unable to create a pipe", 23))
				die_nomem();
		goto answer;
	}
	r = ops->start(ctx, f + 2, nf - 2, msg, p[1], &pid, &res);
	(void)close(msg);	/* the child has its copy */
	(void)close(p[1]);
	if (r == 0) {
		(void)close(p[0]);
		goto answer;
	}
	if (fcntl(p[0], F_SETFL, O_NONBLOCK) == -1)
		die_sys(EXIT_TEMP, "unable to set a pipe non-blocking");
	j->pid = pid;
	j->out = p[0];
	j->exited = 0;
	j->killed = 0;
	j->started = mono_ms();
	j->nrcpt = nrcpt;
	j->slot = slot;
	t->busy[t->nbusy++] = slot;	/* room: slot was not busy */
	if (!str_copyb(&j->req, req->s, req->len))
		die_nomem();
	str_free(&fn);
	return;
answer:
	if (!answer(slot, &res))
		die_sys(EXIT_TEMP, "unable to write report");
	str_free(&res);
	str_free(&fn);
}

static void
on_chld(int sig)
{
	int err = errno;

	(void)sig;
	(void)!write(chld_fd, "", 1);	/* a full pipe already wakes poll */
	errno = err;
}

/* chld_pipe - the pipe SIGCHLD writes to, both ends non-blocking; SA_RESTART
 * keeps every other call as it was (poll is interrupted all the same) */
static int
chld_pipe(int p[2])
{
	struct sigaction sa;

	if (pipe_cloexec(p) == -1 || fcntl(p[0], F_SETFL, O_NONBLOCK) == -1 ||
	    fcntl(p[1], F_SETFL, O_NONBLOCK) == -1)
		return 0;
	chld_fd = p[1];
	sa.sa_handler = on_chld;
	sa.sa_flags = SA_RESTART | SA_NOCLDSTOP;
	sigemptyset(&sa.sa_mask);
	return sigaction(SIGCHLD, &sa, NULL) == 0;
}

/* reap - note every child that has exited */
static void
reap(struct table *t)
{
	struct job *j;
	size_t k;
	pid_t pid;
	int st;

	for (;;) {
		pid = waitpid(-1, &st, WNOHANG);
		if (pid <= 0)
			return;	/* none left, or ECHILD */
		for (k = 0; k < t->nbusy; k++) {
			j = &t->jobs[t->busy[k]];
			if (j->pid == pid && !j->exited) {
				j->exited = 1;
				j->status = st;
				break;
			}
		}
	}
}

int
spawner_run(const struct spawner_ops *ops, void *ctx, unsigned long limit)
{
	static struct table t;
	static struct pollfd pfd[SPAWNER_SLOTS + 2];
	static size_t map[SPAWNER_SLOTS + 2];
	char inx[BUF_SIZE];
	struct str req = STR_ZERO, field = STR_ZERO;
	struct buf in;
	struct job *j;
	struct stat st;
	size_t i, k, np;
	int eof = 0, r, children, exiting, chld[2];

	for (i = 0; i < SPAWNER_SLOTS; i++)
		t.jobs[i].out = -1;
	if (stat("queue/mess", &st) == -1)
		die_sys(EXIT_TEMP, "unable to stat queue/mess");
	t.qowner = st.st_uid;
	if (!chld_pipe(chld))
		die_sys(EXIT_TEMP, "unable to catch SIGCHLD");
	buf_init(&in, 0, inx, sizeof inx, 0);
	for (;;) {
		/* finished children first, so their slots are free again */
		overdue(&t, limit);
		reap(&t);
		children = exiting = 0;
		for (k = 0; k < t.nbusy;) {
			j = &t.jobs[t.busy[k]];
			if (j->exited) {
				done(ops, ctx, j);
				t.busy[k] = t.busy[--t.nbusy];
				continue;
			}
			if (j->out == -1)
				exiting = 1;
			else
				children = 1;
			k++;
		}
		/* whole requests already read ahead */
		while (!eof && buf_pending(&in) > 0) {
			field.len = 0;
			r = buf_getline(&in, &field, 0, FIELD_MAX + 1);
			if (r == -1)
				die_sys(EXIT_TEMP, "unable to read request");
			if (r == 0) {
				eof = 1;
				break;
			}
			if (field.len == 1) {
				begin(ops, ctx, &t, &req);
				req.len = 0;
				children = 1;
			} else if (req.len + field.len > (size_t)FIELDS_MAX * FIELD_MAX ||
			    !str_cat(&req, &field))
				die(EXIT_TEMP, "request too large");
		}
		if (eof && !children && !exiting) {
			str_free(&req);
			str_free(&field);
			return 0;
		}
		np = 0;
		pfd[np].fd = chld[0];
		pfd[np].events = POLLIN;
		map[np++] = SPAWNER_SLOTS + 1;
		if (!eof) {
			pfd[np].fd = 0;
			pfd[np].events = POLLIN;
			map[np++] = SPAWNER_SLOTS;
		}
		for (k = 0; k < t.nbusy; k++)
			if (t.jobs[t.busy[k]].out != -1) {
				pfd[np].fd = t.jobs[t.busy[k]].out;
				pfd[np].events = POLLIN;
				map[np++] = t.busy[k];
			}
		/* SIGCHLD wakes us for every exit; the timer is only a
		 * safety net */
		r = poll(pfd, np, children || exiting ? 1000 : -1);
		if (r == -1) {
			if (errno == EINTR)
				continue;
			die_sys(EXIT_TEMP, "unable to poll");
		}
		for (i = 0; i < np; i++) {
			if (!pfd[i].revents)
				continue;
			if (map[i] == SPAWNER_SLOTS + 1) {
				char x[64];

				while (read(chld[0], x, sizeof x) > 0)
					;	/* emptied; reap() sees who exited */
			} else if (map[i] == SPAWNER_SLOTS) {
				long got = buf_fill(&in);

				if (got == 0)
					eof = 1;	/* qmail-send has gone */
				else if (got < 0)
					die_sys(EXIT_TEMP, "unable to read request");
			} else {
				drain(&t.jobs[map[i]]);
			}
		}
	}
}
