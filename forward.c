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
#include "die.h"
#include "helper.h"

int
main(int argc, char **argv)
{
	const char *sender, *dtline;

	die_init(argv[0]);
	if (argc < 2)
		die(EXIT_PERM, "usage: forward address [address ...]");
	sender = helper_sender();
	dtline = helper_env("DTLINE");
	helper_forward(sender, dtline, argv + 1, argc - 1);
	return 0;
}
