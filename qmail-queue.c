/* qmail-queue - put one message and its envelope into the queue, durably
 *
 * Run by qmail-smtpd, qmail-inject, qmail-local (forwards), qmail-send
 * (bounces) and filters, setuid to qmailq in a multi-user install.  The
 * message arrives on descriptor 0, then the envelope on descriptor 1:
 * "F" sender NUL, "T" recipient NUL for each recipient, and a final NUL.
 * Both are untrusted (any local user may run this).  Exit 0 only once the
 * message, its envelope and the directory entries that make them visible
 * are on disk; see qmail-queue(8) for every exit code and
 * lanmail-queue(5) for the files.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE	/* O_TMPFILE in glibc; musl shows it already */
#endif
#include <errno.h>
#include <fcntl.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>	/* rename */
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "auto.h"
#include "buf.h"
#include "date822.h"
#include "die.h"
#include "envelope.h"
#include "fsync.h"
#include "qpath.h"
#include "sig.h"
#include "str.h"

/* the exit codes of qmail-queue(8), kept as qmail defined them */
#define QQ_ADDRTOOLONG 11
#define QQ_REFUSED 31
#define QQ_NOMEM 51
#define QQ_TIMEOUT 52
#define QQ_WRITE 53
#define QQ_READ 54
#define QQ_HOME 61
#define QQ_QUEUE 62
#define QQ_PID 63
#define QQ_MESS 64
#define QQ_INTD 65
#define QQ_TODO 66
#define QQ_BUG 81
#define QQ_FORMAT 91

#define DEADLINE 86400		/* seconds before giving up on a slow writer */

/* Files to remove when we fail before the commit: the message and the
 * envelope being written.  Set and cleared by main only.  A process that
 * is killed by SIGKILL leaves them; they are invisible and qmail-send
 * sweeps them, but only 36 hours later. */
static const char *leftover[2];

/* The whole input must arrive within DEADLINE seconds (alarm), and a
 * caller may stop us with TERM, HUP or INT.  The handler only ends the
 * reads in progress: it puts /dev/null (devnull, opened by main) on
 * descriptors 0 and 1, so they reach an end of file, and records the
 * signal in stopped, which main checks after each read and before the
 * commit; then it fails with its cleanup (halt), so a stopped attempt
 * leaves no file behind.  A signal after the commit changes nothing: the
 * message is queued.  dup2 is async-signal-safe. */
static int devnull = -1;
static volatile sig_atomic_t stopped;

static void
on_signal(int sig)
{
	stopped = sig;
	(void)dup2(devnull, 0);
	(void)dup2(devnull, 1);
}

/* cleanup - forget a failed attempt; errno is kept for the message */
static void
cleanup(void)
{
	int err = errno, i;

	for (i = 0; i < 2; i++)
		if (leftover[i])
			(void)unlink(leftover[i]);	/* else qmail-send sweeps it */
	errno = err;
}

#define fail(code, ...) (cleanup(), die((code), __VA_ARGS__))
#define fail_sys(code, ...) (cleanup(), die_sys((code), __VA_ARGS__))

/* halt - give up on a signal (on_signal), with waiting names what we
 * were waiting for: 52 for the deadline, else we die of the signal, as
 * without a handler, once our files are gone */
static void __attribute__((noreturn))
halt(const char *waiting)
{
	int sig = stopped;

	if (sig == SIGALRM)
		fail(QQ_TIMEOUT, waiting, " did not arrive within 24 hours");
	cleanup();
	if (!sig_default(sig) || raise(sig) != 0)
		die_sys(QQ_BUG, "unable to end on a signal");
	die(QQ_BUG, "still alive after a signal");	/* it was blocked */
}

/* open_dir_of - the directory holding queue file fn, for a sync */
static int
open_dir_of(const struct str *fn, int code)
{
	struct str dir = STR_ZERO;
	int fd;

	if (!str_copyb(&dir, fn->s, str_rchrb(fn->s, fn->len, '/')) || !str_nul(&dir))
		fail_sys(QQ_NOMEM, "out of memory");
	if ((fd = open(dir.s, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) == -1)
		fail_sys(code, "unable to open ", dir.s);
	str_free(&dir);
	return fd;
}

/* sync_dir_of - make the entry just created for queue file fn durable */
static void
sync_dir_of(const struct str *fn, int code)
{
	int fd = open_dir_of(fn, code);

	if (fsync(fd) == -1)
		fail_sys(QQ_WRITE, "unable to sync ", fn->s, "'s directory");
	if (close(fd) == -1)
		fail_sys(QQ_WRITE, "unable to close ", fn->s, "'s directory");
}

/* received - our own trace line: who handed us the message, and when */
static void
received(struct buf *out, unsigned long pid)
{
	struct str line = STR_ZERO;
	struct passwd *pw;
	char date[DATE822_LEN];
	uid_t uid = getuid();
	const char *how = "invoked by uid ";

	/* in a multi-user install qmaild means the network, qmails a bounce */
	if (!auto_single && (pw = getpwnam(auto_users[AUTO_QMAILD])) && pw->pw_uid == uid)
		how = "invoked from network by uid ";
	else if (!auto_single && (pw = getpwnam(auto_users[AUTO_QMAILS])) && pw->pw_uid == uid)
		how = "invoked for bounce by uid ";
	date822_fmt(date, time(NULL));
	if (!str_cats(&line, "Received: (lanmail ") || !str_catulong(&line, pid) ||
	    !str_catc(&line, ' ') || !str_cats(&line, how) ||
	    !str_catulong(&line, (unsigned long)uid) || !str_cats(&line, "); ") ||
	    !str_cats(&line, date) || !str_catc(&line, '\n'))
		fail_sys(QQ_NOMEM, "out of memory");
	if (!buf_put(out, line.s, line.len))
		fail_sys(QQ_WRITE, "unable to write message");
	str_free(&line);
}

/* copy_message - descriptor 0 to the message file (main syncs it) */
static void
copy_message(int fd, unsigned long pid)
{
	char inx[BUF_SIZE], outx[BUF_SIZE];
	struct buf out;
	long r;

	buf_init(&out, fd, outx, sizeof outx, 0);
	received(&out, pid);
	for (;;) {
		r = fd_read(0, inx, sizeof inx, 0);
		if (r == -1)
			fail_sys(QQ_READ, "unable to read message");
		if (r == 0)
			break;
		if (!buf_put(&out, inx, (size_t)r))
			fail_sys(QQ_WRITE, "unable to write message");
	}
	if (!buf_flush(&out))
		fail_sys(QQ_WRITE, "unable to write message");
}

/* read_envelope - descriptor 1 up to its final NUL (two NULs in a row:
 * no address holds one), or its end, at most one byte past the largest
 * valid envelope (enough for the parser to name the defect), checked.
 * It does not wait for the end of file after the final NUL, as qmail's
 * did not: a caller may keep the pipe open until we exit.  Bytes that
 * came with the final NUL and follow it make the envelope malformed. */
static void
read_envelope(struct str *raw, struct envelope *env)
{
	char x[BUF_SIZE];
	size_t want, i;
	long r;

	for (;;) {
		want = ENVELOPE_MAX + 1 - raw->len;
		if (want == 0)
			break;
		r = fd_read(1, x, want < sizeof x ? want : sizeof x, 0);
		if (r == -1)
			fail_sys(QQ_READ, "unable to read envelope");
		if (r == 0)
			break;
		i = raw->len > 0 ? raw->len - 1 : 0;
		if (!str_catb(raw, x, (size_t)r))
			fail_sys(QQ_NOMEM, "out of memory");
		for (; i + 1 < raw->len; i++)
			if (raw->s[i] == 0 && raw->s[i + 1] == 0)
				break;
		if (i + 1 < raw->len)
			break;	/* the final NUL is in */
	}
	if (stopped)
		halt("the envelope");
	/* an envelope closed unwritten is how a caller abandons a message:
	 * an expected end (qmail-smtpd refusing a big message), not worth
	 * a word */
	if (raw->len == 0) {
		cleanup();
		_exit(QQ_FORMAT);
	}
	switch (r = envelope_parse_queue(env, raw->s, raw->len)) {
	case ENVELOPE_OK:
		return;
	case ENVELOPE_TOOLONG:
		fail(QQ_ADDRTOOLONG, envelope_strerror((int)r));
	case ENVELOPE_TOOMANY:
		fail(QQ_REFUSED, envelope_strerror((int)r));
	default:
		fail(QQ_FORMAT, envelope_strerror((int)r));
	}
}

#ifdef O_TMPFILE
/* tmp_open - an unnamed file on dir's file system; -1 with errno
 * EOPNOTSUPP when the kernel or the file system cannot make one */
static int
tmp_open(const char *dir)
{
	int fd = open(dir, O_TMPFILE | O_WRONLY | O_CLOEXEC, 0644);

	/* a kernel without O_TMPFILE sees O_DIRECTORY and says EISDIR */
	if (fd == -1 && (errno == EISDIR || errno == EINVAL || errno == EOPNOTSUPP))
		errno = EOPNOTSUPP;
	return fd;
}

/* tmp_link - give the unnamed file fd the name fn, like link(2), through
 * /proc as open(2) shows: any process may do that on any Linux with
 * O_TMPFILE (linkat with AT_EMPTY_PATH needs privilege before 6.10) */
static int
tmp_link(int fd, const char *fn)
{
	char proc[sizeof "/proc/self/fd/" + FMT_ULONG];
	size_t n = sizeof "/proc/self/fd/" - 1;

	memcpy(proc, "/proc/self/fd/", n);
	proc[n + fmt_ulong(proc + n, (unsigned long)fd)] = 0;
	return linkat(AT_FDCWD, proc, AT_FDCWD, fn, AT_SYMLINK_FOLLOW);
}
#endif

/* make_mess - the message file, open for writing and already linked as
 * mess/S/ID, where ID is its inode number; sets *id and messfn */
static int
make_mess(struct str *messfn, unsigned long pid, unsigned long *id)
{
	struct str pidfn = STR_ZERO;
	struct stat st;
	int fd;

#ifdef O_TMPFILE
	/* No name in pid/ to create and remove, and no lock on pid/ held
	 * while the file system looks for a free inode. */
	if ((fd = tmp_open("pid")) == -1 && errno != EOPNOTSUPP)
		die_sys(QQ_PID, "unable to create a file in pid");
	if (fd != -1) {
		if (fstat(fd, &st) == -1)
			die_sys(QQ_PID, "unable to stat a new file in pid");
		*id = (unsigned long)st.st_ino;
		if (!qpath(messfn, "mess", *id))
			die(QQ_NOMEM, "out of memory");
		if (tmp_link(fd, messfn->s) == 0)
			return fd;
		/* No /proc (or no right to use it), or trouble with mess/S:
		 * the named way either works or says what is wrong. */
		(void)close(fd);	/* unnamed and empty: it vanishes */
	}
#endif
	/* A fresh file named by our pid gives a unique inode: the id. */
	if (!qpath(&pidfn, "pid", pid))
		die(QQ_NOMEM, "out of memory");
	(void)unlink(pidfn.s);	/* only a dead process left this name */
	fd = open(pidfn.s, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
	if (fd == -1)
		die_sys(QQ_PID, "unable to create ", pidfn.s);
	leftover[0] = pidfn.s;
	if (fstat(fd, &st) == -1)
		fail_sys(QQ_PID, "unable to stat ", pidfn.s);
	*id = (unsigned long)st.st_ino;
	if (!qpath(messfn, "mess", *id))
		fail(QQ_NOMEM, "out of memory");
	if (link(pidfn.s, messfn->s) == -1)
		fail_sys(QQ_MESS, "unable to link ", pidfn.s, " to ", messfn->s);
	leftover[1] = messfn->s;
	if (unlink(pidfn.s) == -1)
		fail_sys(QQ_PID, "unable to remove ", pidfn.s);
	leftover[0] = NULL;
	str_free(&pidfn);
	return fd;
}

int
main(int argc, char **argv)
{
	struct str messfn = STR_ZERO, intdfn = STR_ZERO;
	struct str todofn = STR_ZERO, raw = STR_ZERO, head = STR_ZERO;
	struct envelope env;
	unsigned long pid = (unsigned long)getpid(), id;
	struct stat st;
	int fd, sfd[3], sok[3];

	(void)argc;
	die_init(argv[0]);
	umask(033);
	/* a file size limit must give EFBIG (exit 53), not a silent death */
	/* above 2: a caller may have closed 0 or 1, and must see that */
	if ((fd = open("/dev/null", O_RDONLY | O_CLOEXEC)) == -1 ||
	    (devnull = fcntl(fd, F_DUPFD_CLOEXEC, 3)) == -1 || close(fd) == -1)
		die_sys(QQ_BUG, "unable to open /dev/null");
	if (!sig_catch(SIGALRM, on_signal) || !sig_catch(SIGTERM, on_signal) ||
	    !sig_catch(SIGHUP, on_signal) || !sig_catch(SIGINT, on_signal) ||
	    !sig_ignore(SIGPIPE) || !sig_ignore(SIGXFSZ))
		die_sys(QQ_BUG, "unable to set signals");
	alarm(DEADLINE);
	if (chdir(auto_home) == -1)
		die_sys(QQ_HOME, "unable to chdir to ", auto_home);
	if (chdir("queue") == -1)
		die_sys(QQ_QUEUE, "unable to chdir to queue");

	fd = make_mess(&messfn, pid, &id);
	leftover[1] = messfn.s;
	if (!qpath(&intdfn, "intd", id) || !qpath(&todofn, "todo", id))
		fail(QQ_NOMEM, "out of memory");

	/* The message first; without an envelope it stays invisible. */
	copy_message(fd, pid);
	if (stopped)
		halt("the message");
	sfd[0] = fd;
	sfd[1] = open_dir_of(&messfn, QQ_MESS);

	read_envelope(&raw, &env);
	alarm(0);	/* the deadline was for the input, and it is in */
	if (!str_cats(&head, "u") || !str_catulong(&head, (unsigned long)getuid()) ||
	    !str_catc(&head, 0) || !str_cats(&head, "p") || !str_catulong(&head, pid) ||
	    !str_catc(&head, 0))
		fail_sys(QQ_NOMEM, "out of memory");
	fd = open(intdfn.s, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
	if (fd == -1)
		fail_sys(QQ_INTD, "unable to create ", intdfn.s);
	leftover[0] = intdfn.s;
	/* todo/ form: our u and p records, then F and T records, no final NUL */
	if (!fd_writeall(fd, head.s, head.len, 0) || !fd_writeall(fd, raw.s, raw.len - 1, 0))
		fail_sys(QQ_WRITE, "unable to write envelope");
	sfd[2] = fd;
	/* The message, its name in mess/ and the envelope on disk before
	 * todo/ names them.  One after another: for three files that costs
	 * less CPU than a thread each, and here no more time. */
	if (!sync_each(sfd, sok, 3))
		fail_sys(QQ_WRITE, !sok[0] ? "unable to sync message" :
		    !sok[1] ? "unable to sync the message's directory" : "unable to sync envelope");
	/* qmail-send's sweep takes a message file without an envelope for a
	 * crash's leftover once it is 36 hours old; a clock set forward by
	 * that much under us could have had this one removed: then todo/
	 * must not name it */
	if (fstat(sfd[0], &st) == -1)
		fail_sys(QQ_WRITE, "unable to stat message");
	if (st.st_nlink == 0) {
		errno = ENOENT;
		fail_sys(QQ_WRITE, "the message file was removed before the commit");
	}
	if (close(sfd[0]) == -1)
		fail_sys(QQ_WRITE, "unable to close message");
	if (close(sfd[1]) == -1)
		fail_sys(QQ_WRITE, "unable to close the message's directory");
	if (close(sfd[2]) == -1)
		fail_sys(QQ_WRITE, "unable to close envelope");

	if (stopped)
		halt("the input");	/* TERM, HUP or INT while we synced */
	/* The commit: once todo/ names it, the message exists.  A rename,
	 * not a link and an unlink: from then on qmail-send may deliver the
	 * message and have it removed, and its id may go to a new message
	 * whose envelope is intd/S/ID again, which an unlink here would hit. */
	if (rename(intdfn.s, todofn.s) == -1)
		fail_sys(QQ_TODO, "unable to rename ", intdfn.s, " to ", todofn.s);
	leftover[0] = leftover[1] = NULL;	/* remove nothing from here on */
	/* after the commit every failure is 53, the one code documented as
	 * "may be queued all the same" */
	sync_dir_of(&todofn, QQ_WRITE);

	/* Wake qmail-send; if nobody listens it finds the message on its scan. */
	if ((fd = open("lock/trigger", O_WRONLY | O_NONBLOCK | O_CLOEXEC)) != -1) {
		/* the byte names the split directory to look in, plus one */
		char b = qpath_split() < 255 ? (char)(id % qpath_split() + 1) : 0;

		(void)!write(fd, &b, 1);	/* a full pipe already says "look" */
		(void)close(fd);	/* write-only fifo: nothing to lose */
	}
	return 0;
}
