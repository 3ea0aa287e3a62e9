/* qmail-local - deliver one message to one local recipient, as the
 * recipient's dot-qmail files say
 *
 *	qmail-local [-nN] user homedir local dash ext domain sender defaultdelivery
 *
 * Run by qmail-lspawn under the recipient's uid (or by hand, to test a
 * .qmail file with -n).  The message arrives on descriptor 0 in the
 * queue's LF form; it is untrusted, and so are the user's .qmail and
 * .forward files.  The outcome goes to stdout as one human-readable
 * report, and the exit code says it: 0 delivered, 100 permanent failure,
 * 111 temporary failure.  Steps: check the home directory, find the
 * .qmail file (extension fallbacks), make the message seekable, refuse
 * a loop, then follow each instruction in order (of the .qmail file, or
 * of a ~/.forward and the files it includes, or defaultdelivery);
 * forwards are collected and injected together at the end.  See
 * qmail-local(8), dot-qmail(5) and qmail-command(8).
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "account.h"
#include "auto.h"
#include "buf.h"
#include "control.h"
#include "die.h"
#include "dotqmail.h"
#include "env.h"
#include "fsync.h"
#include "maildir.h"
#include "mono.h"
#include "qqfilter.h"
#include "seekable.h"
#include "sig.h"
#include "spawn.h"
#include "str.h"

#define DOTQMAIL_MAX (16UL * 1024 * 1024)	/* bytes in a .qmail or .forward */
#define OUTPUT_MAX 2000		/* bytes of a program's output kept for the report */

struct ctx {
	const char *user, *home, *local, *dash, *ext, *domain, *sender, *deflt;
	int flag_doit;
	int flag_forwardonly;	/* the .qmail file has its x bit: forwards only */
	int msgfd;		/* the message, seekable; -1 before it is needed */
	int flag_env;		/* UFLINE, NEWSENDER and the environment are set */
	struct str recipient;	/* local@domain */
	struct str newsender;	/* the envelope sender of forwards */
	struct str ownerbase;	/* .qmail DASH EXT: its -owner files name a list's owner */
	struct str dtline, rpline, ufline;
	struct str forwards;	/* "T" address NUL, each */
	unsigned long nforwards, nfiles, nprograms;
	unsigned long tcommand;	/* control/timeoutcommand, 0 no limit; read for the first program */
	int flag_tcommand;	/* tcommand is read */
	unsigned long nentries;	/* instructions a .forward and its includes gave */
	int flag_self;		/* a .forward named the recipient: defaultdelivery done */
	int flag_check;		/* a dry run through a .forward: show nothing */
	struct str report;	/* what stdout will say */
};

static struct ctx c;	/* main's: the delivery in progress */

/* finish - the report and a last sentence on stdout in one write, then exit */
static void __attribute__((noreturn))
finish(int code, const char *s1, const char *s2, const char *s3)
{
	const char *s[3] = { s1, s2, s3 };
	int i;

	for (i = 0; i < 3; i++)
		if (s[i] && !str_cats(&c.report, s[i]))
			_exit(EXIT_TEMP);
	if (c.report.len == 0 || c.report.s[c.report.len - 1] != '\n')
		if (!str_catc(&c.report, '\n'))
			_exit(EXIT_TEMP);
	/* stdout gone: the exit code still tells */
	(void)fd_writeall(1, c.report.s, c.report.len, 0);
	_exit(code);
}

/* catwhy - strerror(err) into the report: "no such file", as die.h
 * writes it */
static void
catwhy(int err)
{
	const char *why = strerror(err);

	if (*why >= 'A' && *why <= 'Z') {
		if (!str_catc(&c.report, (char)(*why + 32)))
			_exit(EXIT_TEMP);
		why++;
	}
	if (!str_cats(&c.report, why))
		_exit(EXIT_TEMP);
}

static void __attribute__((noreturn))
fail_sys(int code, const char *what, const char *name)
{
	int err = errno;

	if (!str_cats(&c.report, what) || !str_cats(&c.report, name) ||
	    !str_cats(&c.report, ": "))
		_exit(EXIT_TEMP);
	catwhy(err);
	finish(code, NULL, NULL, NULL);
}

static void __attribute__((noreturn))
nomem(void)
{
	finish(EXIT_TEMP, "out of memory", NULL, NULL);
}

/* clean - header-safe: newlines in an address would start a new header */
static int
catclean(struct str *out, const char *s)
{
	for (; *s; s++)
		if (!str_catc(out, *s == '\n' || *s == '\r' ? '_' : *s))
			return 0;
	return 1;
}

/* setup_lines - RECIPIENT, DTLINE and RPLINE */
static void
setup_lines(void)
{
	if (!str_cats(&c.recipient, c.local) || !str_catc(&c.recipient, '@') ||
	    !str_cats(&c.recipient, c.domain) || !str_nul(&c.recipient))
		nomem();
	if (!str_cats(&c.dtline, "Delivered-To: ") || !catclean(&c.dtline, c.recipient.s) ||
	    !str_cats(&c.dtline, "\n") || !str_nul(&c.dtline))
		nomem();
	if (!str_cats(&c.rpline, "Return-Path: <") || !catclean(&c.rpline, c.sender) ||
	    !str_cats(&c.rpline, ">\n") || !str_nul(&c.rpline))
		nomem();
}

/* setup_ufline - UFLINE, the mbox From_ line: only an mbox or a program
 * needs it, and the local time costs the reading of the time zone */
static void
setup_ufline(void)
{
	char date[64];
	struct tm tm;
	time_t now = time(NULL);

	if (c.ufline.len)
		return;
	if (localtime_r(&now, &tm) == NULL ||
	    strftime(date, sizeof date, "%a %b %e %H:%M:%S %Y", &tm) == 0)
		finish(EXIT_TEMP, "unable to format the date", NULL, NULL);
	if (!str_cats(&c.ufline, "From "))
		nomem();
	/* the From_ line is split on blanks by readers */
	if (*c.sender == 0) {
		if (!str_cats(&c.ufline, "MAILER-DAEMON"))
			nomem();
	} else {
		const char *s;

		for (s = c.sender; *s; s++)
			if (!str_catc(&c.ufline, *s == ' ' || *s == '\t' || *s == '\n' ||
			    *s == '\r' ? '-' : *s))
				nomem();
	}
	if (!str_catc(&c.ufline, ' ') || !str_cats(&c.ufline, date) ||
	    !str_catc(&c.ufline, '\n') || !str_nul(&c.ufline))
		nomem();
}

/* check_home - qmail's rules: a sticky home means "being edited, wait"
 * (with -n, only a warning: that is how edits are tested); a group- or
 * world-writable one may hold .qmail files someone else planted */
static void
check_home(void)
{
	struct stat st;

	if (chdir(c.home) == -1)
		fail_sys(EXIT_TEMP, "unable to switch to home directory ", c.home);
	if (stat(".", &st) == -1)
		fail_sys(EXIT_TEMP, "unable to stat home directory ", c.home);
	if (st.st_mode & (S_IWGRP | S_IWOTH))
		finish(EXIT_TEMP, "home directory ", c.home,
		    " is group- or world-writable: deliveries wait until that is fixed");
	if (st.st_mode & S_ISVTX) {
		if (c.flag_doit)
			finish(EXIT_TEMP, "home directory ", c.home,
			    " is sticky: deliveries wait until the bit is cleared");
		if (!str_cats(&c.report, "warning: home directory is sticky: deliveries wait until the bit is cleared\n"))
			nomem();
	}
}

/* slurp - the rest of the file open on fd into out, then close it */
static void
slurp(int fd, const char *fn, struct str *out)
{
	char x[BUF_SIZE];
	long r;

	out->len = 0;
	for (;;) {
		if ((r = fd_read(fd, x, sizeof x, 0)) == -1)
			fail_sys(EXIT_TEMP, "unable to read ", fn);
		if (r == 0)
			break;
		if (out->len + (size_t)r > DOTQMAIL_MAX)
			finish(EXIT_TEMP, fn, " is too large", NULL);
		if (!str_catb(out, x, (size_t)r))
			nomem();
	}
	if (close(fd) == -1)
		fail_sys(EXIT_TEMP, "unable to read ", fn);
}

/* readfile - fn into out: 1 read, 0 missing (a name too long for a
 * file, from a long extension, is missing too: the RCPT check of
 * qmail-smtpd takes it so); trouble ends the delivery */
static int
readfile(const char *fn, struct str *out)
{
	struct stat st;
	int fd;

	out->len = 0;
	if ((fd = open(fn, O_RDONLY | O_CLOEXEC | O_NONBLOCK)) == -1) {
		if (errno == ENOENT || errno == ENOTDIR || errno == ENAMETOOLONG)
			return 0;
		fail_sys(EXIT_TEMP, "unable to open ", fn);
	}
	if (fstat(fd, &st) == -1)
		fail_sys(EXIT_TEMP, "unable to stat ", fn);
	if (!S_ISREG(st.st_mode))
		finish(EXIT_TEMP, fn, " is not a regular file", NULL);
	if (st.st_mode & (S_IWGRP | S_IWOTH))
		finish(EXIT_TEMP, fn, " is group- or world-writable: deliveries wait until that is fixed", NULL);
	c.flag_forwardonly = (st.st_mode & S_IXUSR) != 0;
	slurp(fd, fn, out);
	return 1;
}

/* read_include - a .forward's :include: file into out.  Its programs
 * run as the recipient, so it must be his or root's and writable by
 * nobody else; a missing one is trouble too, not an empty list. */
static void
read_include(const char *fn, struct str *out)
{
	struct stat st;
	int fd;

	if ((fd = open(fn, O_RDONLY | O_CLOEXEC | O_NONBLOCK)) == -1)
		fail_sys(EXIT_TEMP, "unable to open include file ", fn);
	if (fstat(fd, &st) == -1)
		fail_sys(EXIT_TEMP, "unable to stat include file ", fn);
	if (!S_ISREG(st.st_mode))
		finish(EXIT_TEMP, "include file ", fn, " is not a regular file");
	if (st.st_uid != geteuid() && st.st_uid != 0)
		finish(EXIT_TEMP, "include file ", fn,
		    " belongs to another user: deliveries wait until that is fixed");
	if (st.st_mode & (S_IWGRP | S_IWOTH))
		finish(EXIT_TEMP, "include file ", fn,
		    " is group- or world-writable: deliveries wait until that is fixed");
	slurp(fd, fn, out);
}

/* find_dotqmail - the file that applies, into text and fn; 0 when the
 * recipient has no .qmail of its own (defaultdelivery or .forward apply).
 * qmail's rules (account.h): with an empty dash, .qmailEXT or else
 * defaultdelivery; with a dash, .qmail-EXT, then the -default files, else
 * a bounce.  c.ownerbase becomes .qmail DASH EXT, where a list's -owner
 * files are. */
static int
find_dotqmail(struct str *text, struct str *fn)
{
	struct account_qmail q = ACCOUNT_QMAIL_ZERO;
	size_t def;
	int r;

	if ((r = account_qmailinit(&q, c.dash, c.ext, strlen(c.ext))) == -1)
		nomem();
	if (r == 0)
		finish(EXIT_PERM, "Sorry, no mailbox here by that name. (#5.1.1)", NULL, NULL);
	while ((r = account_qmailnext(&q, fn, &def)) > 0) {
		if (r == 1 && (!str_copyb(&c.ownerbase, fn->s, fn->len) || !str_nul(&c.ownerbase)))
			nomem();
		if (readfile(fn->s, text)) {
			if (r == 2 && !env_set("DEFAULT", c.ext + def))
				nomem();
			account_qmailfree(&q);
			return 1;
		}
	}
	if (r == -1)
		nomem();
	account_qmailfree(&q);
	if (*c.dash == 0)
		return 0;	/* an empty dash: a missing file means defaultdelivery */
	finish(EXIT_PERM, "Sorry, no mailbox here by that name. (#5.1.1)", NULL, NULL);
}

/* exists - fn is there (anything but a clear "no" counts as there) */
static int
exists(const struct str *base, const char *suffix)
{
	struct str fn = STR_ZERO;
	struct stat st;
	int r;

	if (!str_copyb(&fn, base->s, base->len) || !str_cats(&fn, suffix) || !str_nul(&fn))
		nomem();
	r = stat(fn.s, &st) == 0 || (errno != ENOENT && errno != ENOTDIR);
	str_free(&fn);
	return r;
}

/* setup_newsender - forwards keep the sender, except that a list with an
 * owner file (.qmail-list-owner) sends them from local-owner@domain, so
 * that bounces reach the owner rather than the author; with
 * .qmail-list-owner-default as well, from local-owner-@domain-@[], so
 * that each recipient's bounce comes back to its own address (VERP).
 * The null sender and the double-bounce sender #@[] are kept. */
static void
setup_newsender(void)
{
	if (!str_copys(&c.newsender, c.sender))
		nomem();
	if (*c.sender && strcmp(c.sender, "#@[]") != 0 && c.ownerbase.len &&
	    exists(&c.ownerbase, "-owner")) {
		int verp = exists(&c.ownerbase, "-owner-default");

		c.newsender.len = 0;
		if (!str_cats(&c.newsender, c.local) ||
		    !str_cats(&c.newsender, verp ? "-owner-@" : "-owner@") ||
		    !str_cats(&c.newsender, c.domain) || (verp && !str_cats(&c.newsender, "-@[]")))
			nomem();
	}
	if (!str_nul(&c.newsender))
		nomem();
}

/* seekable_message - fd 0 as a file we can rewind: the queue file itself,
 * or a copy in an unlinked temporary file when fd 0 is a pipe */
static void
seekable_message(void)
{
	struct seekable sk;

	if (seekable_open(&sk, 0, "qmail-local")) {
		c.msgfd = sk.fd;
		return;
	}
	switch (sk.failed) {
	case SEEKABLE_CREATE:
		fail_sys(EXIT_TEMP, "unable to create a temporary file in ", sk.dir);
	case SEEKABLE_WRITE:
		fail_sys(EXIT_TEMP, "unable to write a temporary file in ", sk.dir);
	case SEEKABLE_READ:
		fail_sys(EXIT_TEMP, "unable to read ", "the message");
	default:
		fail_sys(EXIT_TEMP, "unable to rewind ", "the message");
	}
}

static void
rewind_message(void)
{
	if (lseek(c.msgfd, 0, SEEK_SET) == -1)
		fail_sys(EXIT_TEMP, "unable to rewind ", "the message");
}

/* is_loop - the header already holds our Delivered-To line */
static int
is_loop(void)
{
	static const char dt[] = "delivered-to:";
	char x[BUF_SIZE], line[1100];
	size_t n = 0, i, s, e;
	int overflow = 0;
	long r, k;

	rewind_message();
	for (;;) {
		if ((r = fd_read(c.msgfd, x, sizeof x, 0)) == -1)
			fail_sys(EXIT_TEMP, "unable to read ", "the message");
		if (r == 0)
			return 0;
		for (k = 0; k < r; k++) {
			if (x[k] != '\n') {
				if (n < sizeof line)
					line[n++] = x[k];
				else
					overflow = 1;
				continue;
			}
			if (n == 0 || (n == 1 && line[0] == '\r'))
				return 0;	/* end of the header */
			if (!overflow && n > sizeof dt - 1 && str_caseeqb(line, dt, sizeof dt - 1)) {
				s = sizeof dt - 1;
				e = n;
				while (s < e && (line[s] == ' ' || line[s] == '\t'))
					s++;
				while (e > s && (line[e - 1] == ' ' || line[e - 1] == '\t' || line[e - 1] == '\r'))
					e--;
				i = e - s;
				if (i == c.recipient.len && str_caseeqb(line + s, c.recipient.s, i))
					return 1;
			}
			n = 0;
			overflow = 0;
		}
	}
}

/* setup_env - what qmail-command(8) promises a program */
static void
setup_env(void)
{
	const char *ext = c.ext, *p;
	struct str host = STR_ZERO;
	char name[] = "EXT2";
	size_t cut, i;
	int k;

	if (!env_set("RECIPIENT", c.recipient.s) || !env_set("SENDER", c.sender) ||
	    !env_set("NEWSENDER", c.newsender.s) ||
	    !env_set("LOCAL", c.local) || !env_set("HOST", c.domain) ||
	    !env_set("EXT", c.ext) || !env_set("USER", c.user) ||
	    !env_set("HOME", c.home) || !env_set("DTLINE", c.dtline.s) ||
	    !env_set("RPLINE", c.rpline.s) || !env_set("UFLINE", c.ufline.s))
		nomem();
	/* EXTn: EXT after its (n-1)th dash; empty when there is none */
	for (k = 2; k <= 4; k++) {
		name[3] = (char)('0' + k);
		if (ext && (p = strchr(ext, '-')) != NULL)
			ext = p + 1;
		else
			ext = NULL;
		if (!env_set(name, ext ? ext : ""))
			nomem();
	}
	/* HOSTn: HOST(n-1) before its last dot, as qmail has it: HOST
	 * itself when it has no dot left (localhost: all four the same) */
	cut = strlen(c.domain);
	for (k = 2; k <= 4; k++) {
		char hn[] = "HOST2";

		hn[4] = (char)('0' + k);
		if ((i = str_rchrb(c.domain, cut, '.')) < cut)
			cut = i;
		if (!str_copyb(&host, c.domain, cut) || !str_nul(&host))
			nomem();
		if (!env_set(hn, host.s))
			nomem();
	}
	str_free(&host);
}

/* setup_tcommand - control/timeoutcommand under the install root: the
 * seconds a |program may run before it is killed (0: no limit) */
static void
setup_tcommand(void)
{
	struct str fn = STR_ZERO;
	int r;

	if (c.flag_tcommand)
		return;
	if (!str_copys(&fn, auto_home) || !str_cats(&fn, "/control/timeoutcommand") ||
	    !str_nul(&fn))
		nomem();
	if ((r = control_readulong(fn.s, &c.tcommand)) == -1)
		fail_sys(EXIT_TEMP, "unable to read ", fn.s);
	if (r == 0)
		c.tcommand = CONTROL_TIMEOUTCOMMAND;
	c.flag_tcommand = 1;
	str_free(&fn);
}

/* setup_children - the forward sender, UFLINE and the environment of
 * qmail-command(8), before the first program or qmail-queue starts; a
 * delivery that starts none (a Maildir, an mbox) does without */
static void
setup_children(void)
{
	if (c.flag_env)
		return;
	setup_ufline();
	setup_newsender();
	setup_env();
	c.flag_env = 1;
}

/* permanent - qmail-command(8): the exit codes that mean "give up" */
static int
permanent(int code)
{
	switch (code) {
	case 64: case 65: case 70: case 76: case 77: case 78: case 100: case 112:
		return 1;
	}
	return 0;
}

/* catoutput - a program's output, control characters made visible */
static void
catoutput(const char *p, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (!str_catc(&c.report, (p[i] < ' ' && p[i] != '\n' && p[i] != '\t') ? '_' : p[i]))
			nomem();
	if (n && p[n - 1] != '\n' && !str_catc(&c.report, '\n'))
		nomem();
}

static volatile sig_atomic_t alarmed;

/* on_alarm - SIGALRM while a program is waited for or an mbox lock is:
 * its time is up */
static void
on_alarm(int sig)
{
	(void)sig;
	alarmed = 1;
}

/* alarm_ms - SIGALRM in ms milliseconds; 0 cancels */
static void
alarm_ms(int ms)
{
	struct itimerval it;

	memset(&it, 0, sizeof it);
	it.it_value.tv_sec = (time_t)(ms / 1000);
	it.it_value.tv_usec = (suseconds_t)(ms % 1000 * 1000);
	(void)setitimer(ITIMER_REAL, &it, NULL);
}

/* run_program - /bin/sh -c cmd with the message on its input, its output
 * (OUTPUT_MAX bytes of it) added to the report; its wait status, or -1
 * when it ran past control/timeoutcommand and was killed with all it
 * started (it leads a process group of its own).  The limit is kept to
 * the millisecond on the monotonic clock: a limit of 2 s is 2 s, whenever
 * in a second the program started and whatever the clock is set to. */
static int
run_program(const char *cmd)
{
	char out[OUTPUT_MAX], x[BUF_SIZE];
	char *argv[4];
	size_t have = 0;
	int p[2], fds[3], status, late = 0;
	long r;
	pid_t pid;
	long long deadline = 0;
	struct buf b;

	argv[0] = "sh", argv[1] = "-c", argv[2] = (char *)cmd, argv[3] = NULL;
	if (pipe_cloexec(p) == -1)
		fail_sys(EXIT_TEMP, "unable to create a pipe for ", "a program");
	fds[0] = c.msgfd, fds[1] = p[1], fds[2] = p[1];
	if (c.tcommand)
		deadline = mono_ms() + 1000LL * (long long)(c.tcommand > 86400UL * 365 ? 86400UL * 365 : c.tcommand);
	if ((pid = spawn_group("/bin/sh", argv, NULL, fds, 3)) == -1)
		fail_sys(EXIT_TEMP, "unable to run ", "/bin/sh");
	if (close(p[1]) == -1)
		fail_sys(EXIT_TEMP, "unable to close ", "a pipe");
	buf_init(&b, p[0], x, sizeof x, 0);
	for (;;) {
		b.pos = b.len;	/* what was read is taken */
		if ((r = deadline ? buf_fill_by(&b, deadline) : buf_fill(&b)) == -1) {
			if (errno == ETIMEDOUT) {
				late = 1;
				break;
			}
			fail_sys(EXIT_TEMP, "unable to read the output of ", cmd);
		}
		if (r == 0)
			break;
		if (have < sizeof out) {
			size_t k = (size_t)r < sizeof out - have ? (size_t)r : sizeof out - have;

			memcpy(out + have, b.x, k);
			have += k;
		}
	}
	(void)close(p[0]);
	catoutput(out, have);
	/* its output ended: wait for it, while time is left */
	if (!late && deadline) {
		int left = mono_left(deadline);

		alarmed = 0;
		if (left > 0) {
			pid_t w;

			alarm_ms(left);
			while ((w = waitpid(pid, &status, 0)) == -1 && errno == EINTR && !alarmed)
				;
			alarm_ms(0);
			if (w == pid)
				return status;
			if (!alarmed)
				fail_sys(EXIT_TEMP, "unable to wait for ", cmd);
		}
		late = 1;
	}
	if (late)
		(void)kill(-pid, SIGKILL);
	if (spawn_wait(pid, &status) == -1)
		fail_sys(EXIT_TEMP, "unable to wait for ", cmd);
	return late ? -1 : status;
}

/* deliver_program - |command through /bin/sh; 1 go on, 99 stop here */
static int
deliver_program(const char *cmd, size_t n)
{
	struct str s = STR_ZERO;
	int status, code;

	setup_children();
	setup_tcommand();
	if (!str_copyb(&s, cmd, n) || !str_nul(&s))
		nomem();
	rewind_message();
	status = run_program(s.s);
	c.nprograms++;
	if (status == -1) {
		char num[FMT_ULONG + 1];

		num[fmt_ulong(num, c.tcommand)] = 0;
		if (!str_cats(&c.report, "the program |") || !str_cats(&c.report, s.s) ||
		    !str_cats(&c.report, " ran longer than ") || !str_cats(&c.report, num))
			nomem();
		finish(EXIT_TEMP, " seconds (control/timeoutcommand) and was killed",
		    " with what it started; will try again", NULL);
	}
	code = spawn_exitcode(status);
	if (code == 0 || code == 99) {
		str_free(&s);
		return code == 0 ? 1 : 99;
	}
	if (code == -1)
		finish(EXIT_TEMP, "the program |", s.s, " was killed by a signal; will try again");
	{
		char num[FMT_ULONG + 1];

		num[fmt_ulong(num, (unsigned long)code)] = 0;
		if (!str_cats(&c.report, "the program |") || !str_cats(&c.report, s.s) ||
		    !str_cats(&c.report, " exited with status "))
			nomem();
		if (permanent(code))
			finish(EXIT_PERM, num, ": permanent failure", NULL);
		finish(EXIT_TEMP, num, ": temporary failure", NULL);
	}
}

/* put_gt - n '>' bytes */
static int
put_gt(struct buf *b, unsigned long n)
{
	for (; n > 0; n--)
		if (!buf_put(b, ">", 1))
			return 0;
	return 1;
}

/* mbox_write - the message in mbox form: a line that starts with "From ",
 * or with '>'s and then "From ", gets one more '>' in front, so that
 * removing one from each such line gives the message back.  With nl a
 * newline goes first, to end a partial line the file ends with. */
static int
mbox_write(int fd, int nl)
{
	static const char from[] = "From ";
	char in[BUF_SIZE], o[BUF_SIZE];
	struct buf b;
	unsigned long gt = 0;	/* '>' bytes at the line start, not written yet */
	int match = 0;	/* bytes of "From " seen at a line start; -1 mid-line */
	char last = '\n';
	long r, k;

	buf_init(&b, fd, o, sizeof o, 0);
	if ((nl && !buf_put(&b, "\n", 1)) || !buf_put(&b, c.ufline.s, c.ufline.len) ||
	    !buf_put(&b, c.rpline.s, c.rpline.len) || !buf_put(&b, c.dtline.s, c.dtline.len))
		return 0;
	if (lseek(c.msgfd, 0, SEEK_SET) == -1)
		return 0;
	for (;;) {
		/* a read error too must reach the caller, which cuts back */
		if ((r = fd_read(c.msgfd, in, sizeof in, 0)) == -1)
			return 0;
		if (r == 0)
			break;
		for (k = 0; k < r; k++) {
			char ch = in[k];

			if (match >= 0) {
				if (match == 0 && ch == '>') {
					gt++;	/* ">From " too gets one more '>' */
					last = ch;
					continue;
				}
				if (ch == from[match]) {
					if (++match == 5) {
						if (!put_gt(&b, gt + 1) || !buf_put(&b, from, 5))
							return 0;
						match = -1;
						gt = 0;
					}
					last = ch;
					continue;
				}
				if (!put_gt(&b, gt) || (match > 0 && !buf_put(&b, from, (size_t)match)))
					return 0;
				match = -1;
				gt = 0;
			}
			if (!buf_put(&b, &ch, 1))
				return 0;
			if (ch == '\n')
				match = 0;
			last = ch;
		}
	}
	if (match >= 0 && (!put_gt(&b, gt) || (match > 0 && !buf_put(&b, from, (size_t)match))))
		return 0;
	/* a complete last line, then the blank line that separates messages */
	if (last != '\n' && !buf_put(&b, "\n", 1))
		return 0;
	return buf_put(&b, "\n", 1) && buf_flush(&b);
}

#define MBOX_LOCKWAIT 30	/* seconds to wait for an mbox lock, as qmail */

/* mbox_damaged - the write failed and so did cutting the file back: the
 * administrator learns where the partial message starts, to repair it */
static void __attribute__((noreturn))
mbox_damaged(const char *fn, off_t pos, int werr, int terr)
{
	char num[3 * sizeof pos + 1];
	size_t i = sizeof num;
	off_t v = pos;

	do {
		num[--i] = (char)('0' + v % 10);
		v /= 10;
	} while (v > 0);
	if (!str_cats(&c.report, "unable to write mbox ") || !str_cats(&c.report, fn) ||
	    !str_cats(&c.report, ": "))
		_exit(EXIT_TEMP);
	catwhy(werr);
	if (!str_cats(&c.report, "; unable to cut it back: "))
		_exit(EXIT_TEMP);
	catwhy(terr);
	if (!str_cats(&c.report, "; it is left damaged at byte ") ||
	    !str_catb(&c.report, num + i, sizeof num - i) ||
	    !str_cats(&c.report, ", where a partial message starts: cut it to that length"))
		_exit(EXIT_TEMP);
	finish(EXIT_TEMP, NULL, NULL, NULL);
}

/* deliver_mbox - append under an fcntl lock; on trouble cut back */
static void
deliver_mbox(const char *path, size_t n)
{
	struct str fn = STR_ZERO;
	struct flock lk;
	off_t pos;
	ssize_t r;
	char last;
	int fd, err, nl = 0;

	setup_ufline();
	if (!str_copyb(&fn, path, n) || !str_nul(&fn))
		nomem();
	/* read too: the last byte tells whether a line is left open */
	if ((fd = open(fn.s, O_RDWR | O_APPEND | O_CREAT | O_CLOEXEC | O_NONBLOCK, 0600)) == -1)
		fail_sys(EXIT_TEMP, "unable to open mbox ", fn.s);
	memset(&lk, 0, sizeof lk);
	lk.l_type = F_WRLCK;
	lk.l_whence = SEEK_SET;
	/* a reader that holds its lock for ever must not hold this
	 * delivery slot for ever: give up after MBOX_LOCKWAIT seconds */
	alarmed = 0;
	alarm(MBOX_LOCKWAIT);
	while (fcntl(fd, F_SETLKW, &lk) == -1) {
		if (errno != EINTR)
			fail_sys(EXIT_TEMP, "unable to lock mbox ", fn.s);
		if (alarmed)
			finish(EXIT_TEMP, "mbox ", fn.s, " has been locked by another program for 30 seconds; will try again");
	}
	alarm(0);
	if ((pos = lseek(fd, 0, SEEK_END)) == -1)
		fail_sys(EXIT_TEMP, "unable to seek in mbox ", fn.s);
	/* a failed delivery that could not be cut back, or another
	 * program, may have left the last line open: our From_ line must
	 * start a line of its own, or a reader sees no new message */
	if (pos > 0) {
		if ((r = pread(fd, &last, 1, pos - 1)) == -1)
			fail_sys(EXIT_TEMP, "unable to read mbox ", fn.s);
		nl = r == 1 && last != '\n';
	}
	if (!mbox_write(fd, nl) || fsync(fd) == -1) {
		err = errno;
		/* leave the mailbox as it was: a half message would corrupt it */
		if (ftruncate(fd, pos) == -1)
			mbox_damaged(fn.s, pos, err, errno);
		errno = err;
		fail_sys(EXIT_TEMP, "unable to write mbox ", fn.s);
	}
	if (close(fd) == -1)
		fail_sys(EXIT_TEMP, "unable to write mbox ", fn.s);
	/* the name must be as durable as the message in it, and whether it
	 * is cannot be told: the file may be new, or made by an earlier
	 * attempt whose directory sync failed, or by a program that never
	 * synced it.  So always: an mbox delivery is rare, and a directory
	 * with nothing to write back costs little to sync. */
	if (fsync_dir_of(fn.s) == -1)
		fail_sys(EXIT_TEMP, "unable to sync the directory of mbox ", fn.s);
	c.nfiles++;
	str_free(&fn);
}

static void
deliver_maildir(const char *path, size_t n)
{
	struct str dir = STR_ZERO, hdr = STR_ZERO;

	while (n > 1 && path[n - 1] == '/')
		n--;
	if (!str_copyb(&dir, path, n) || !str_nul(&dir) ||
	    !str_cat(&hdr, &c.rpline) || !str_cat(&hdr, &c.dtline))
		nomem();
	rewind_message();
	if (!maildir_deliver(dir.s, hdr.s, hdr.len, c.msgfd, NULL)) {
		/* Maildir++ quota: bounced at once, as a full disk is not */
		if (errno == EDQUOT)
			finish(EXIT_PERM, "Sorry, the mailbox is full: the message would exceed its quota. (#5.2.2)",
			    NULL, NULL);
		fail_sys(EXIT_TEMP, "unable to deliver to Maildir ", dir.s);
	}
	c.nfiles++;
	str_free(&dir);
	str_free(&hdr);
}

static void
add_forward(const char *addr, size_t n)
{
	if (!str_catc(&c.forwards, 'T') || !str_catb(&c.forwards, addr, n) ||
	    !str_catc(&c.forwards, 0))
		nomem();
	c.nforwards++;
}

/* send_forwards - one new message to every forward, through qmail-queue:
 * the Delivered-To line, then the message */
static void
send_forwards(void)
{
	struct str qq = STR_ZERO, env = STR_ZERO, why = STR_ZERO;
	int mfd, efd, code;
	pid_t pid;

	setup_children();
	if (!qq_program(&qq) || !str_catc(&env, 'F') || !str_cat(&env, &c.newsender) ||
	    !str_catc(&env, 0) || !str_cat(&env, &c.forwards) || !str_catc(&env, 0))
		nomem();
	rewind_message();
	if ((pid = qq_spawn(qq.s, &mfd, &efd)) == -1)
		fail_sys(EXIT_TEMP, "unable to run ", qq.s);
	/* a qmail-queue that stops reading is reported by its exit code */
	code = qq_sendfd(pid, mfd, efd, c.msgfd, c.dtline.s, c.dtline.len, env.s, env.len);
	if (code == QQ_MSGREAD)
		fail_sys(EXIT_TEMP, "unable to read ", "the message");
	if (code == 0) {
		str_free(&qq);
		str_free(&env);
		return;
	}
	if (qq_permanent(code))
		finish(EXIT_PERM, "qmail-queue refused the forwarded message permanently", NULL, NULL);
	if (code >= QQ_SIGNALED) {
		if (!qq_failure(&why, "qmail-queue", code))
			nomem();
		finish(EXIT_TEMP, "unable to forward the message: ", why.s, "; will try again");
	}
	finish(EXIT_TEMP, "unable to forward the message: qmail-queue failed; will try again", NULL, NULL);
}

/* show - -n: one instruction per line */
static void
show(const struct dotqmail_inst *in)
{
	const char *mark = in->type == DQ_PROGRAM ? "|" : in->type == DQ_FORWARD ? "&" : "";

	if (c.flag_check)
		return;
	if (!str_cats(&c.report, mark) || !str_catb(&c.report, in->arg, in->len) ||
	    !str_catc(&c.report, '\n'))
		nomem();
}

/* do_inst - one instruction; 1 go on, 99 skip the rest */
static int
do_inst(const struct dotqmail_inst *in, const char *fn)
{
	if (c.flag_forwardonly && in->type != DQ_FORWARD)
		finish(EXIT_TEMP, fn, " has its execute bit set, so it may hold only forwards", NULL);
	if (!c.flag_doit) {
		show(in);
		return 1;
	}
	switch (in->type) {
	case DQ_PROGRAM:
		return deliver_program(in->arg, in->len);
	case DQ_FORWARD:
		add_forward(in->arg, in->len);
		return 1;
	case DQ_MBOX:
		deliver_mbox(in->arg, in->len);
		return 1;
	case DQ_MAILDIR:
		deliver_maildir(in->arg, in->len);
		return 1;
	case DQ_INCLUDE:
		break;	/* follow_forward's */
	}
	return 1;
}

#define LINE_SHOWN 200	/* bytes of a bad .forward entry the report quotes */

/* catshown - n bytes of a user's file for the report, control bytes
 * made visible, at most LINE_SHOWN of them */
static void
catshown(const char *p, size_t n)
{
	size_t i;

	for (i = 0; i < n && i < LINE_SHOWN; i++)
		if (!str_catc(&c.report, (unsigned char)p[i] < ' ' || p[i] == 127 ? '_' : p[i]))
			nomem();
	if (n > LINE_SHOWN && !str_cats(&c.report, "..."))
		nomem();
}

/* bad_line - the report names the line of fn that cannot be followed,
 * and what in it (n bytes at what, when there is one) */
static void __attribute__((noreturn))
bad_line(const char *fn, unsigned long lineno, const char *why, const char *what, size_t n)
{
	char num[FMT_ULONG + 1];

	num[fmt_ulong(num, lineno)] = 0;
	if (!str_cats(&c.report, fn) || !str_cats(&c.report, " line ") ||
	    !str_cats(&c.report, num) || !str_cats(&c.report, why))
		nomem();
	if (what)
		catshown(what, n);
	finish(EXIT_TEMP, "; fix the file", NULL, NULL);
}

/* follow_dotqmail - each instruction of a .qmail file, or of
 * defaultdelivery, in turn; 99 when a program asked to skip the rest */
static int
follow_dotqmail(const char *text, size_t n, const char *fn)
{
	struct dotqmail d;
	struct dotqmail_inst in;
	int r;

	dotqmail_init(&d, text, n);
	while ((r = dotqmail_next(&d, &in)) == 1)
		if (do_inst(&in, fn) == 99)
			return 99;
	if (r == -1)
		bad_line(fn, d.lineno, d.lineno == 1 ? ": blank first line or unusable instruction" :
		    ": unusable instruction", NULL, 0);
	return 0;
}

/* deliver_default - defaultdelivery: for an account without a .qmail
 * file (or with an empty one) and a .forward with entries, and once for
 * a .forward that names the account itself */
static void
deliver_default(void)
{
	c.flag_forwardonly = 0;
	if (*c.deflt == 0)
		finish(EXIT_TEMP, "no .qmail file and an empty defaultdelivery: nothing to deliver to", NULL, NULL);
	/* a program's exit 99 ends defaultdelivery, not a .forward around it */
	(void)follow_dotqmail(c.deflt, strlen(c.deflt), "defaultdelivery");
}

/* is_self - the address a (a local part locallen bytes long, then
 * "@domain" when has_domain) is the recipient: his local or user name,
 * case ignored, with no domain or with his */
static int
is_self(const struct str *a, size_t locallen, int has_domain)
{
	size_t dn = strlen(c.domain);

	if (has_domain && (a->len - locallen - 1 != dn ||
	    !str_caseeqb(a->s + locallen + 1, c.domain, dn)))
		return 0;
	return (locallen == strlen(c.local) && str_caseeqb(a->s, c.local, locallen)) ||
	    (locallen == strlen(c.user) && str_caseeqb(a->s, c.user, locallen));
}

/* forward_entry - an address of a .forward.  The recipient himself
 * (\joe, joe, joe@his.domain) means his own mailbox, defaultdelivery,
 * once: forwarding to himself would only bounce as a loop.  Anyone else
 * is a forward, a bare name in the recipient's domain (\bob too: the
 * queue cannot reach bob's mailbox past his own .forward). */
static void
forward_entry(const struct dotqmail_inst *in, const char *fn, unsigned long lineno)
{
	struct str a = STR_ZERO;
	struct dotqmail_inst fw;
	size_t locallen;
	int has_domain;

	if (!dotforward_addr(in->arg, in->len, &a, &locallen, &has_domain)) {
		if (errno != EINVAL)
			nomem();
		bad_line(fn, lineno, ": not an address: ", in->arg, in->len);
	}
	if (is_self(&a, locallen, has_domain)) {
		if (!c.flag_self) {
			c.flag_self = 1;
			deliver_default();
		}
		str_free(&a);
		return;
	}
	if (!has_domain && *c.domain && (!str_catc(&a, '@') || !str_cats(&a, c.domain)))
		nomem();
	fw.type = DQ_FORWARD;
	fw.arg = a.s;
	fw.len = a.len;
	(void)do_inst(&fw, fn);
	str_free(&a);
}

static int follow_include(const struct dotqmail_inst *, const char *, unsigned long, int);

/* follow_forward - each entry of a .forward (depth 0) or of a file it
 * includes (depth 1 and on) in turn; 99 when a program asked to skip
 * the rest.  c.nentries counts the instructions met. */
static int
follow_forward(const char *text, size_t n, const char *fn, int depth)
{
	struct dotqmail d;
	struct dotqmail_inst in;
	int r;

	dotqmail_init(&d, text, n);
	while ((r = dotforward_next(&d, &in)) == 1) {
		if (in.type == DQ_INCLUDE)
			r = follow_include(&in, fn, d.lineno, depth);
		else {
			c.nentries++;
			if (in.type == DQ_FORWARD)
				forward_entry(&in, fn, d.lineno);
			else
				r = do_inst(&in, fn);
		}
		if (r == 99)
			return 99;
	}
	if (r == -1)
		bad_line(fn, d.lineno, ": unusable entry (an empty one, a NUL byte, or a quote,"
		    " comment or < left open)", NULL, 0);
	return 0;
}

#define INCLUDE_DEPTH 5	/* :include: files in :include: files in ... */

/* follow_include - the :include: entry in at line lineno of fn, a file
 * depth includes deep: the entries of the file it names count as fn's */
static int
follow_include(const struct dotqmail_inst *in, const char *fn, unsigned long lineno, int depth)
{
	struct str path = STR_ZERO, text = STR_ZERO;
	int r;

	if (in->arg[0] != '/')
		bad_line(fn, lineno, ": an :include: file needs an absolute path: ", in->arg, in->len);
	if (depth >= INCLUDE_DEPTH)
		bad_line(fn, lineno, ": :include: files nested more than 5 deep (one includes itself?)",
		    NULL, 0);
	if (!str_copyb(&path, in->arg, in->len) || !str_nul(&path))
		nomem();
	read_include(path.s, &text);
	r = follow_forward(text.s, text.len, path.s, depth + 1);
	str_free(&path);
	str_free(&text);
	return r;
}

/* follow_dotforward - ~/.forward, for the account itself when it has no
 * .qmail file: 1 when it gave an instruction; 0 when it is missing or
 * gives none (blank or comments only: "echo > ~/.forward" is how
 * forwarding is turned off), and defaultdelivery applies */
static int
follow_dotforward(struct str *text)
{
	if (!readfile(".forward", text))
		return 0;
	c.flag_forwardonly = 0;	/* the execute bit means nothing on a .forward */
	if (c.flag_doit) {
		/* a dry run first, as -n: an entry that cannot be followed
		 * stops the delivery before anything is delivered, rather
		 * than after some copies, again at every retry */
		c.flag_doit = 0;
		c.flag_check = 1;
		(void)follow_forward(text->s, text->len, ".forward", 0);
		c.flag_doit = 1;
		c.flag_check = 0;
		c.nentries = 0;
		c.flag_self = 0;
	}
	(void)follow_forward(text->s, text->len, ".forward", 0);
	return c.nentries > 0;
}

static void __attribute__((noreturn))
usage(void)
{
	finish(EXIT_PERM, "usage: qmail-local [-nN] user homedir local dash ext domain sender defaultdelivery", NULL, NULL);
}

int
main(int argc, char **argv)
{
	struct str text = STR_ZERO, fn = STR_ZERO;
	char num[3][FMT_ULONG + 1];
	int i = 1, have;

	die_init(argv[0]);
	c.flag_doit = 1;
	c.msgfd = -1;
	for (; i < argc && argv[i][0] == '-' && argv[i][1]; i++) {
		const char *o;

		if (str_equal(argv[i], "--")) {
			i++;
			break;
		}
		for (o = argv[i] + 1; *o; o++)
			if (*o == 'n')
				c.flag_doit = 0;
			else if (*o == 'N')
				c.flag_doit = 1;
			else
				usage();
	}
	if (argc - i != 8)
		usage();
	c.user = argv[i], c.home = argv[i + 1], c.local = argv[i + 2];
	c.dash = argv[i + 3], c.ext = argv[i + 4], c.domain = argv[i + 5];
	c.sender = argv[i + 6], c.deflt = argv[i + 7];
	if (*c.home != '/')	/* qmail-local(8): a usage error */
		finish(EXIT_PERM, "home directory ", c.home, " is not an absolute path");
	/* SIGALRM ends a wait for a program or an mbox lock (alarmed) */
	if (!sig_ignore(SIGPIPE) || !sig_catch(SIGALRM, on_alarm))
		finish(EXIT_TEMP, "unable to set up signals", NULL, NULL);
	(void)env_unset("DEFAULT");	/* set only when a -default file matches */

	check_home();
	setup_lines();
	have = find_dotqmail(&text, &fn);
	if (c.flag_doit) {
		seekable_message();
		if (is_loop())
			finish(EXIT_PERM, "This message is looping: it already has my Delivered-To line. (#5.4.6)", NULL, NULL);
	}

	if (have && text.len > 0)
		(void)follow_dotqmail(text.s, text.len, fn.s);
	else if (*c.dash || *c.ext || !follow_dotforward(&text))
		deliver_default();

	if (!c.flag_doit)
		finish(EXIT_OK, NULL, NULL, NULL);
	if (c.nforwards)
		send_forwards();
	num[0][fmt_ulong(num[0], c.nfiles)] = 0;
	num[1][fmt_ulong(num[1], c.nforwards)] = 0;
	num[2][fmt_ulong(num[2], c.nprograms)] = 0;
	if (!str_cats(&c.report, "delivered: ") || !str_cats(&c.report, num[0]) ||
	    !str_cats(&c.report, " to mailboxes, ") || !str_cats(&c.report, num[1]) ||
	    !str_cats(&c.report, " forwarded, "))
		nomem();
	finish(EXIT_OK, num[2], " programs", NULL);
}
