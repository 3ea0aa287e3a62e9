/* qmail-rspawn - runs qmail-remote for each remote delivery qmail-send asks for
 *
 * Started by qmail-start as qmailr.  Requests and answers follow
 * spawner.h; a request's fields after slot and id are
 *	"H" host NUL "F" sender NUL ("T" recipient NUL)...
 * all recipients at that host, and qmail-remote runs once for them as
 *	qmail-remote host sender recipient...
 * with the message on descriptor 0.  Its report (untrusted: it carries
 * what a remote host said) is one record per recipient, r accepted,
 * h permanent or s temporary failure, then one for the message, K, Z or
 * D, each a letter, text and a NUL; it is turned into one K, Z or D per
 * recipient.  A recipient the report does not cover is a temporary failure.
 *
 * qmail-remote bounds each connection and each reply; the whole run is
 * bounded here: one that runs longer than control/timeoutremotetotal
 * seconds (however many hosts it tries, however slowly a peer keeps it
 * busy) is killed, and each of its recipients deferred with the reason.
 */
#include <unistd.h>

#include "auto.h"
#include "control.h"
#include "die.h"
#include "qfile.h"
#include "sig.h"
#include "spawn.h"
#include "spawner.h"
#include "str.h"

#define RCPTS_MAX 1000
#define TOTAL_DEFAULT 7200	/* control/timeoutremotetotal's default, seconds */
#define TOTAL_FILE "control/timeoutremotetotal"

static size_t
rcpts(void *ctx, char **f, size_t nf)
{
	size_t i;

	(void)ctx;
	if (nf < 3 || nf - 2 > RCPTS_MAX || f[0][0] != 'H' || f[0][1] == 0 ||
	    f[0][1] == '-' || f[1][0] != 'F')
		return 0;
	for (i = 2; i < nf; i++)
		if (f[i][0] != 'T' || f[i][1] == 0)
			return 0;
	return nf - 2;
}

static int
start(void *ctx, char **f, size_t nf, int msgfd, int outfd, pid_t *pid, struct str *res)
{
	char *argv[RCPTS_MAX + 4];
	size_t i;
	int fd[3];

	argv[0] = "qmail-remote";
	for (i = 0; i < nf; i++)
		argv[i + 1] = f[i] + 1;	/* without the tag */
	argv[nf + 1] = NULL;
	fd[0] = msgfd;
	fd[1] = outfd;
	fd[2] = 2;
	if ((*pid = spawn(ctx, argv, NULL, fd, 3)) != -1)
		return 1;
	for (i = 2; i < nf; i++)
		if (!spawner_record(res, 'Z', "unable to start qmail-remote", 28))
			die_nomem();
	return 0;
}

/* killed - Z for each of nr recipients: qmail-remote was killed past the
 * limit, why being the spawner's words */
static void
killed(const char *why, size_t n, size_t nr, struct str *res)
{
	struct str t = STR_ZERO;
	size_t i;

	if (!str_cats(&t, "qmail-remote: ") || !str_catb(&t, why, n) ||
	    !str_cats(&t, " (" TOTAL_FILE ")"))
		die_nomem();
	for (i = 0; i < nr; i++)
		if (!spawner_record(res, 'Z', t.s, t.len))
			die_nomem();
	str_free(&t);
}

static void
finish(void *ctx, char **f, size_t nf, int status, int overdue, const char *out, size_t n,
    struct str *res)
{
	const char *rf[RCPTS_MAX], *mf = NULL, *p;
	size_t rl[RCPTS_MAX], ml = 0, pos = 0, got = 0, nr = nf - 2, i, fl;
	struct str crash = STR_ZERO;
	char letter;

	(void)ctx, (void)f;
	/* the recipients' records, then the message's */
	while (qfile_field(out, n, &pos, &p, &fl) == 1 && fl > 0) {
		if (got < nr && (p[0] == 'r' || p[0] == 'h' || p[0] == 's')) {
			rf[got] = p, rl[got++] = fl;
			continue;
		}
		if (got == nr && (p[0] == 'K' || p[0] == 'Z' || p[0] == 'D'))
			mf = p, ml = fl;
		break;
	}
	/* a run killed past the limit: its report is the spawner's
	 * reason, and every recipient is deferred with it */
	if (overdue) {
		killed(out, n, nr, res);
		return;
	}
	for (i = 0; i < nr; i++) {
		const char *gap = NULL;	/* our words: the report says nothing */

		p = NULL, fl = 0;
		if (i >= got) {
			if (mf && mf[0] != 'K')
				letter = mf[0], p = mf + 1, fl = ml - 1;
			else
				letter = 'Z', gap = "qmail-remote did not report on this recipient";
		} else if (rf[i][0] == 'h') {
			letter = 'D', p = rf[i] + 1, fl = rl[i] - 1;
		} else if (rf[i][0] == 's') {
			letter = 'Z', p = rf[i] + 1, fl = rl[i] - 1;
		} else if (mf) {
			/* accepted; the message's fate decides */
			letter = mf[0], p = mf + 1, fl = ml - 1;
		} else
			letter = 'Z', gap = "qmail-remote did not report on the message";
		/* a signal ended it: a deferral says so first, then what it
		 * had reported, if anything.  A K or D stands as reported:
		 * the server had answered. */
		if (letter == 'Z' && spawn_exitcode(status) == -1) {
			if (!spawner_crash(&crash, "qmail-remote", status, p, fl))
				die_nomem();
			p = crash.s, fl = crash.len;
		} else if (gap)
			p = gap, fl = str_chrb(gap, 100, 0);
		if (!spawner_record(res, letter, p, fl))
			die_nomem();
	}
	str_free(&crash);
}

int
main(int argc, char **argv)
{
	static const struct spawner_ops ops = { rcpts, start, finish };
	struct str bin = STR_ZERO;
	unsigned long total;
	int r;

	(void)argc;
	die_init(argv[0]);
	/* qmail-send ends us by closing the pipe, not by a signal */
	if (!sig_helper())
		die_sys(EXIT_TEMP, "unable to set signals");
	if (chdir(auto_home) == -1)
		die_sys(EXIT_TEMP, "unable to chdir to ", auto_home);
	if (!str_cats(&bin, auto_home) || !str_cats(&bin, "/bin/qmail-remote") || !str_nul(&bin))
		die_nomem();
	if ((r = control_readulong(TOTAL_FILE, &total)) == -1)
		die_sys(EXIT_TEMP, "unable to read " TOTAL_FILE);
	if (r == 0)
		total = TOTAL_DEFAULT;
	return spawner_run(&ops, bin.s, total);	/* 0: no limit */
}
