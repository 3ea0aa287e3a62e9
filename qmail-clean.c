/* qmail-clean - removes queue files on qmail-send's request
 *
 * Started by qmail-start as qmailq, the owner of queue/mess, todo, intd
 * and pid, which qmail-send may read but not change.  Requests arrive on
 * descriptor 0, each a letter, a queue id and a NUL:
 *	T id	the envelope was taken over: remove todo/ and intd/
 *	M id	the message is finished: remove mess/ (and intd/)
 *	D id	the message was delivered straight from todo/: remove todo/
 *		and intd/, then mess/ (only if todo/ has gone)
 *	S	sweep pid/ and intd/ of leftovers older than 36 hours
 * and for each the answer on descriptor 1 is one byte, "+" done or "!"
 * not done.  The requests come from qmail-send, but are checked anyway.
 * End of file on descriptor 0 ends the program.
 */
#include <dirent.h>
#include <errno.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "auto.h"
#include "buf.h"
#include "die.h"
#include "qpath.h"
#include "sig.h"
#include "str.h"

#define LEFTOVER_AGE (36L * 3600)	/* a qmail-queue gives up after 24 hours */

/* gone - unlink, where a missing file is as good as removed */
static int
gone(const char *fn)
{
	if (unlink(fn) == 0 || errno == ENOENT)
		return 1;
	warn_sys("unable to remove ", fn);
	return 0;
}

/* sweepdir - remove old files of dir; with todo set, only those whose
 * todo/ file is gone too */
static void
sweepdir(const char *dir, int todo, time_t now)
{
	struct str fn = STR_ZERO, t = STR_ZERO;
	struct dirent *de;
	struct stat st;
	unsigned long id;
	DIR *d;

	if ((d = opendir(dir)) == NULL) {
		warn_sys("unable to open ", dir);
		return;
	}
	for (;;) {
		errno = 0;
		if ((de = readdir(d)) == NULL)
			break;
		if (!qpath_id(de->d_name, &id))
			continue;
		fn.len = 0;
		if (!str_cats(&fn, dir) || !str_catc(&fn, '/') ||
		    !str_cats(&fn, de->d_name) || !str_nul(&fn))
			break;
		if (stat(fn.s, &st) == -1 || !S_ISREG(st.st_mode) ||
		    st.st_mtime + LEFTOVER_AGE > now)
			continue;
		if (todo && (!qpath(&t, "todo", id) || access(t.s, F_OK) == 0 || errno != ENOENT))
			continue;
		(void)gone(fn.s);	/* gone() warned */
	}
	if (errno)
		warn_sys("unable to read ", dir);
	(void)closedir(d);	/* read-only directory stream */
	str_free(&fn);
	str_free(&t);
}

static void
sweep(void)
{
	struct str dir = STR_ZERO;
	unsigned long i;
	time_t now = time(NULL);

	sweepdir("pid", 0, now);
	for (i = 0; i < qpath_split(); i++) {
		dir.len = 0;
		if (!str_cats(&dir, "intd/") || !str_catulong(&dir, i) || !str_nul(&dir))
			die_nomem();
		sweepdir(dir.s, 1, now);
	}
	str_free(&dir);
}

static int
request(const char *r, size_t n)
{
	struct str fn = STR_ZERO;
	unsigned long id;
	int ok = 0;

	if (n == 1 && r[0] == 'S') {
		sweep();
		return 1;
	}
	if (n < 2 || (r[0] != 'T' && r[0] != 'M' && r[0] != 'D') || (r[1] == '0' && n > 2) ||
	    !scan_ulong(r + 1, n - 1, &id)) {
		warn("ignoring a malformed request");
		return 0;
	}
	if (!qpath(&fn, "intd", id))
		die_nomem();
	ok = gone(fn.s);
	if (r[0] == 'T' || r[0] == 'D') {
		if (!qpath(&fn, "todo", id))
			die_nomem();
		if (!gone(fn.s)) {
			/* with todo/ still there, mess/ must stay: the
			 * envelope names it */
			str_free(&fn);
			return 0;
		}
	}
	if (r[0] == 'M' || r[0] == 'D') {
		if (!qpath(&fn, "mess", id))
			die_nomem();
		ok = gone(fn.s) && ok;
	}
	str_free(&fn);
	return ok;
}

int
main(int argc, char **argv)
{
	char inx[BUF_SIZE];
	struct buf in;
	struct str line = STR_ZERO;
	int r, answering = 1;

	(void)argc;
	die_init(argv[0]);
	/* qmail-send ends us by closing the pipe, not by a signal */
	if (!sig_helper())
		die_sys(EXIT_TEMP, "unable to set signals");
	if (chdir(auto_home) == -1)
		die_sys(EXIT_TEMP, "unable to chdir to ", auto_home);
	if (chdir("queue") == -1)
		die_sys(EXIT_TEMP, "unable to chdir to queue");
	buf_init(&in, 0, inx, sizeof inx, 0);
	for (;;) {
		line.len = 0;
		r = buf_getline(&in, &line, 0, 64);
		if (r == 0)
			return 0;
		if (r == -1)
			die_sys(EXIT_TEMP, "unable to read request");
		r = request(line.s, line.len - 1);
		/* qmail-send gone (killed): the removals it asked for are
		 * still due, each for a finished message that the next
		 * qmail-send would otherwise deliver again; so go on to end
		 * of file, answering nobody */
		if (answering && !fd_writeall(1, r ? "+" : "!", 1, 0)) {
			if (errno != EPIPE)
				die_sys(EXIT_TEMP, "unable to answer");
			answering = 0;
		}
	}
}
