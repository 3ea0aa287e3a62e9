/* preline - run a program on the message with the From_, Return-Path
 * and Delivered-To lines in front of it
 *
 *	preline [-dfr] program [arg ...]
 *
 * Run from a .qmail file (|preline procmail) under the recipient's uid,
 * for mailbox programs that know nothing of qmail-command(8): they get
 * the lines qmail-local leaves in UFLINE, RPLINE and DTLINE, then the
 * message from descriptor 0.  The message is untrusted but only copied,
 * through a pipe and never held whole, so its size does not matter.
 * preline exits with the program's exit code, for qmail-local to read as
 * the program's own.  See preline(1).
 */
#include <errno.h>
#include <signal.h>
#include <string.h>
#include <unistd.h>

#include "buf.h"
#include "die.h"
#include "helper.h"
#include "sig.h"
#include "spawn.h"
#include "str.h"

/* what a -d, -f or -r leaves out, in the order the lines go in */
static const char *const var[3] = { "UFLINE", "RPLINE", "DTLINE" };
static const char opt[3] = { 'f', 'r', 'd' };

enum { FED, STOPPED, NOREAD, NOWRITE };

/* feed - head, then the rest of descriptor 0, into out: FED all of it;
 * STOPPED the program closed its input first (its exit code says
 * whether it minded); NOREAD, NOWRITE with errno */
static int
feed(int out, const struct str *head)
{
	char x[8 * BUF_SIZE];
	long r;

	if (!fd_writeall(out, head->s, head->len, 0))
		return errno == EPIPE ? STOPPED : NOWRITE;
	for (;;) {
		if ((r = fd_read(0, x, sizeof x, 0)) == -1)
			return NOREAD;
		if (r == 0)
			return FED;
		if (!fd_writeall(out, x, (size_t)r, 0))
			return errno == EPIPE ? STOPPED : NOWRITE;
	}
}

static void __attribute__((noreturn))
usage(void)
{
	die(EXIT_PERM, "usage: preline [-dfr] program [arg ...]");
}

int
main(int argc, char **argv)
{
	struct str head = STR_ZERO;
	int want[3] = { 1, 1, 1 };
	int i, k, p[2], status, fed, err, code;
	const char *o;
	pid_t pid;

	die_init(argv[0]);
	for (i = 1; i < argc && argv[i][0] == '-' && argv[i][1]; i++) {
		if (str_equal(argv[i], "--")) {
			i++;
			break;
		}
		for (o = argv[i] + 1; *o; o++) {
			for (k = 0; k < 3 && opt[k] != *o; k++)
				;
			if (k == 3)
				usage();
			want[k] = 0;
		}
	}
	if (i >= argc)
		usage();
	/* qmail-local sets all three: one missing means preline was not
	 * run from a .qmail file, which is for the administrator to fix */
	for (k = 0; k < 3; k++) {
		if (!want[k])
			continue;
		if (!str_cats(&head, helper_env(var[k])))
			die_nomem();
	}

	/* a program that stops reading must not kill us: its exit code
	 * is what qmail-local is to hear (the child gets SIGPIPE back) */
	if (!sig_ignore(SIGPIPE))
		die_sys(EXIT_TEMP, "unable to ignore SIGPIPE");
	/* above 2: started with 1 and 2 closed, the program gets them
	 * closed too, not the write end of its own input */
	if (pipe_high(p) == -1)
		die_sys(EXIT_TEMP, "unable to create a pipe");
	if ((pid = spawn_std(argv + i, p[0])) == -1)
		die_sys(EXIT_TEMP, "unable to run ", argv[i]);
	if (close(p[0]) == -1)
		die_sys(EXIT_TEMP, "unable to close a pipe");

	fed = feed(p[1], &head);
	err = errno;
	/* a cut message must not pass for the whole: the program is
	 * stopped before it can see the end of its input */
	if (fed == NOREAD || fed == NOWRITE)
		(void)kill(pid, SIGTERM);	/* gone already: the wait tells */
	if (close(p[1]) == -1 && fed == FED)
		fed = NOWRITE, err = errno;
	if (spawn_wait(pid, &status) == -1)
		die_sys(EXIT_TEMP, "unable to wait for ", argv[i]);
	errno = err;
	if (fed == NOREAD)
		die_sys(EXIT_TEMP, "unable to read the message");
	if (fed == NOWRITE)
		die_sys(EXIT_TEMP, "unable to write the message to ", argv[i]);
	if ((code = spawn_exitcode(status)) == -1)
		die(EXIT_TEMP, argv[i], " was killed by a signal");
	return code;
}
