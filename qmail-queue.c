/* qmail-queue - put one message and its envelope into the queue, durably
 *
 * Run by qmail-smtpd, qmail-inject, qmail-local (forwards), qmail-send
 * (bounces) and filters, usually setuid to qmailq.  The message arrives
 * on descriptor 0, then the envelope on descriptor 1: "F" sender NUL,
 * "T" recipient NUL for each recipient, and a final NUL.  Both are
 * untrusted.  Exit 0 only once the message, its envelope and the
 * directory entries that make it visible are on disk; see qmail-queue(8)
 * for the layout and for every exit code.
 */
#include <errno.h>
#include <fcntl.h>
#include <pwd.h>
#include <signal.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "auto.h"
#include "buf.h"
#include "date822.h"
#include "die.h"
#include "qpath.h"
#include "sig.h"
#include "str.h"

/* the exit codes of qmail-queue(8), kept as qmail defined them */
#define QQ_ADDRTOOLONG 11
#define QQ_TOOMANY 31
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

#define ADDR_MAX 1000		/* bytes in one address */
#define RCPT_MAX 100000		/* recipients in one envelope */
#define DEADLINE 86400		/* seconds before giving up on a slow writer */

static void
on_alarm(int sig)
{
	(void)sig;
	_exit(QQ_TIMEOUT);	/* leftovers are invisible and swept later */
}

/* sync_dir - make the entries just created in dir durable */
static void
sync_dir(const char *dir, int code)
{
	int fd;

	if ((fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) == -1)
		die_sys(code, "unable to open ", dir);
	if (fsync(fd) == -1)
		die_sys(QQ_WRITE, "unable to sync ", dir);
	if (close(fd) == -1)
		die_sys(QQ_WRITE, "unable to close ", dir);
}

/* sync_dir_of - sync the directory of a queue file name */
static void
sync_dir_of(const struct str *fn, int code)
{
	struct str dir = STR_ZERO;

	if (!str_copyb(&dir, fn->s, str_rchrb(fn->s, fn->len, '/')) || !str_nul(&dir))
		die(QQ_NOMEM, "out of memory");
	sync_dir(dir.s, code);
	str_free(&dir);
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
		die_sys(QQ_NOMEM, "out of memory");
	if (!buf_put(out, line.s, line.len))
		die_sys(QQ_WRITE, "unable to write message");
	str_free(&line);
}

/* copy_message - descriptor 0 to the message file, then make it durable */
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
			die_sys(QQ_READ, "unable to read message");
		if (r == 0)
			break;
		if (!buf_put(&out, inx, (size_t)r))
			die_sys(QQ_WRITE, "unable to write message");
	}
	if (!buf_flush(&out))
		die_sys(QQ_WRITE, "unable to write message");
	if (fsync(fd) == -1 || close(fd) == -1)
		die_sys(QQ_WRITE, "unable to sync message");
}

/* read_envelope - all of descriptor 1, checked; the parsed form is
 * what we store, so nothing malformed ever reaches the queue */
static void
read_envelope(struct str *env)
{
	char x[BUF_SIZE];
	struct str raw = STR_ZERO;
	size_t i, n, rcpts = 0;
	long r;

	for (;;) {
		r = fd_read(1, x, sizeof x, 0);
		if (r == -1)
			die_sys(QQ_READ, "unable to read envelope");
		if (r == 0)
			break;
		if (raw.len + (size_t)r > (size_t)(ADDR_MAX + 2) * (RCPT_MAX + 1) + 1)
			die(QQ_TOOMANY, "envelope too large");
		if (!str_catb(&raw, x, (size_t)r))
			die_sys(QQ_NOMEM, "out of memory");
	}
	/* F sender NUL, then T rcpt NUL ..., then the final NUL */
	if (raw.len == 0 || raw.s[0] != 'F')
		die(QQ_FORMAT, "envelope does not start with F");
	for (i = 0;;) {
		if (i >= raw.len)
			die(QQ_FORMAT, "envelope lacks its final NUL");
		if (raw.s[i] == 0) {
			if (i + 1 != raw.len)
				die(QQ_FORMAT, "data after the end of the envelope");
			break;
		}
		if (i > 0 && raw.s[i] != 'T')
			die(QQ_FORMAT, "envelope record is not T");
		n = str_chrb(raw.s + i, raw.len - i, 0);
		if (i + n == raw.len)
			die(QQ_FORMAT, "envelope lacks its final NUL");
		if (n - 1 > ADDR_MAX)
			die(QQ_ADDRTOOLONG, "address too long");
		if (i > 0 && ++rcpts > RCPT_MAX)
			die(QQ_TOOMANY, "too many recipients");
		if (!str_catb(env, raw.s + i, n + 1))
			die_sys(QQ_NOMEM, "out of memory");
		i += n + 1;
	}
	if (rcpts == 0)
		die(QQ_FORMAT, "envelope has no recipient");
	str_free(&raw);
}

int
main(int argc, char **argv)
{
	struct str pidfn = STR_ZERO, messfn = STR_ZERO, intdfn = STR_ZERO;
	struct str todofn = STR_ZERO, env = STR_ZERO, head = STR_ZERO;
	struct stat st;
	unsigned long pid = (unsigned long)getpid(), id;
	int fd;

	(void)argc;
	die_init(argv[0]);
	umask(033);
	if (!sig_catch(SIGALRM, on_alarm) || !sig_ignore(SIGPIPE))
		die_sys(QQ_BUG, "unable to set signals");
	alarm(DEADLINE);
	if (chdir(auto_home) == -1)
		die_sys(QQ_HOME, "unable to chdir to ", auto_home);
	if (chdir("queue") == -1)
		die_sys(QQ_QUEUE, "unable to chdir to queue");

	/* A fresh file named by our pid gives a unique inode: the id. */
	if (!qpath(&pidfn, "pid", pid))
		die(QQ_NOMEM, "out of memory");
	(void)unlink(pidfn.s);	/* only a dead process left this name */
	fd = open(pidfn.s, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
	if (fd == -1)
		die_sys(QQ_PID, "unable to create ", pidfn.s);
	if (fstat(fd, &st) == -1)
		die_sys(QQ_PID, "unable to stat ", pidfn.s);
	id = (unsigned long)st.st_ino;
	if (!qpath(&messfn, "mess", id) || !qpath(&intdfn, "intd", id) ||
	    !qpath(&todofn, "todo", id))
		die(QQ_NOMEM, "out of memory");
	if (link(pidfn.s, messfn.s) == -1)
		die_sys(QQ_MESS, "unable to link ", pidfn.s, " to ", messfn.s);
	if (unlink(pidfn.s) == -1)
		die_sys(QQ_PID, "unable to remove ", pidfn.s);

	/* The message first; without an envelope it stays invisible. */
	copy_message(fd, pid);
	sync_dir_of(&messfn, QQ_MESS);

	read_envelope(&env);
	if (!str_cats(&head, "u") || !str_catulong(&head, (unsigned long)getuid()) ||
	    !str_catc(&head, 0) || !str_cats(&head, "p") || !str_catulong(&head, pid) ||
	    !str_catc(&head, 0))
		die(QQ_NOMEM, "out of memory");
	fd = open(intdfn.s, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
	if (fd == -1)
		die_sys(QQ_INTD, "unable to create ", intdfn.s);
	if (!fd_writeall(fd, head.s, head.len, 0) || !fd_writeall(fd, env.s, env.len, 0))
		die_sys(QQ_WRITE, "unable to write envelope");
	if (fsync(fd) == -1 || close(fd) == -1)
		die_sys(QQ_WRITE, "unable to sync envelope");

	/* The commit: once todo/ names it, the message exists. */
	if (link(intdfn.s, todofn.s) == -1)
		die_sys(QQ_TODO, "unable to link ", intdfn.s, " to ", todofn.s);
	sync_dir_of(&todofn, QQ_TODO);
	(void)unlink(intdfn.s);	/* todo/ holds the envelope; a leftover is swept */

	/* Wake qmail-send; if nobody listens it finds the message on its scan. */
	if ((fd = open("lock/trigger", O_WRONLY | O_NONBLOCK | O_CLOEXEC)) != -1) {
		(void)!write(fd, "", 1);	/* a full pipe already says "look" */
		(void)close(fd);	/* write-only fifo: nothing to lose */
	}
	return 0;
}
