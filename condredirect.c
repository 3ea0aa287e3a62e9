/* condredirect - send the message elsewhere when a program says so
 *
 *	condredirect newaddress program [arg ...]
 *
 * Run from a .qmail file under the recipient's uid.  It runs the program
 * on the message (descriptor 0, passed on as it is).  When the program
 * exits 0 the message goes to newaddress as forward(1) sends it, and
 * condredirect exits 99, so that qmail-local skips the rest of the file;
 * the program's 111 is passed on, so the delivery is tried again later;
 * anything else lets qmail-local go on with the next line.  The message
 * is read twice, so descriptor 0 must be seekable: qmail-local gives a
 * file.  See condredirect(1).
 */
#include <errno.h>
#include <unistd.h>

#include "buf.h"
#include "die.h"
#include "env.h"
#include "qqfilter.h"
#include "spawn.h"
#include "str.h"

int
main(int argc, char **argv)
{
	struct str note = STR_ZERO;
	const char *sender, *dtline;
	off_t start;
	int code;
	pid_t qp;

	die_init(argv[0]);
	if (argc < 3)
		die(EXIT_PERM, "usage: condredirect newaddress program [arg ...]");
	/* everything the forward needs is checked before the program runs */
	if ((sender = env_get("NEWSENDER")) == NULL && (sender = env_get("SENDER")) == NULL)
		die(EXIT_TEMP, "NEWSENDER is not set: condredirect is run from a .qmail file");
	if ((dtline = env_get("DTLINE")) == NULL)
		die(EXIT_TEMP, "DTLINE is not set: condredirect is run from a .qmail file");
	if ((start = lseek(0, 0, SEEK_CUR)) == -1)
		die_sys(EXIT_TEMP, "unable to seek in the message");

	if ((code = spawn_run(argv + 2)) == -1) {
		/* as documented: a program that does not exist does not say
		 * "redirect"; the log shows why */
		if (errno == ENOENT || errno == ENOTDIR) {
			warn("unable to run ", argv[2], ": no such program; not redirecting");
			return 0;
		}
		if (errno == EINTR)
			die(EXIT_TEMP, argv[2], " was killed by a signal");
		die_sys(EXIT_TEMP, "unable to run ", argv[2]);
	}
	if (code == EXIT_TEMP)
		return EXIT_TEMP;
	if (code != 0)
		return 0;

	/* the program has read the message: from the start again */
	if (lseek(0, start, SEEK_SET) == -1)
		die_sys(EXIT_TEMP, "unable to rewind the message");
	qp = qq_forward(sender, dtline, argv + 1, 1);
	if (str_cats(&note, "condredirect: qp ") && str_catulong(&note, (unsigned long)qp) &&
	    str_catc(&note, '\n'))
		(void)fd_writeall(1, note.s, note.len, 0);	/* queued: a lost note is no failure */
	return 99;
}
