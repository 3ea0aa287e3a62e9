/* forward - send the message on to the addresses given
 *
 *	forward address ...
 *
 * Run from a .qmail file under the recipient's uid.  It does what one
 * &address line per address does, for addresses the shell makes up
 * (|forward "$EXT@lists.example.org").  The new message is DTLINE, then
 * the message on descriptor 0 (untrusted, only copied, never held
 * whole), from the envelope sender NEWSENDER, handed to qmail-queue (or
 * $QMAILQUEUE) as qmail-local hands its own forwards.  See forward(1).
 */
#include "buf.h"
#include "die.h"
#include "env.h"
#include "qqfilter.h"
#include "str.h"

int
main(int argc, char **argv)
{
	struct str note = STR_ZERO;
	const char *sender, *dtline;
	pid_t qp;

	die_init(argv[0]);
	if (argc < 2)
		die(EXIT_PERM, "usage: forward address [address ...]");
	/* qmail-local sets all three; SENDER alone is an older one's */
	if ((sender = env_get("NEWSENDER")) == NULL && (sender = env_get("SENDER")) == NULL)
		die(EXIT_TEMP, "NEWSENDER is not set: forward is run from a .qmail file");
	if ((dtline = env_get("DTLINE")) == NULL)
		die(EXIT_TEMP, "DTLINE is not set: forward is run from a .qmail file");

	qp = qq_forward(sender, dtline, argv + 1, argc - 1);

	/* the queue program's pid, which its Received line names, goes
	 * into qmail-local's report, so the log tells where the copy went */
	if (str_cats(&note, "forward: qp ") && str_catulong(&note, (unsigned long)qp) &&
	    str_catc(&note, '\n'))
		(void)fd_writeall(1, note.s, note.len, 0);	/* queued: a lost note is no failure */
	return 0;
}
