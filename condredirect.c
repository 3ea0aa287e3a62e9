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
#include <unistd.h>

#include "die.h"
#include "helper.h"

int
main(int argc, char **argv)
{
	const char *sender, *dtline;
	off_t start;

	die_init(argv[0]);
	if (argc < 3)
		die(EXIT_PERM, "usage: condredirect newaddress program [arg ...]");
	/* everything the forward needs is checked before the program runs */
	sender = helper_sender();
	dtline = helper_env("DTLINE");
	if ((start = lseek(0, 0, SEEK_CUR)) == -1)
		die_sys(EXIT_TEMP, "unable to seek in the message");

	if (!helper_ask(argv + 2, "redirecting"))
		return 0;

	/* the program has read the message: from the start again */
	if (lseek(0, start, SEEK_SET) == -1)
		die_sys(EXIT_TEMP, "unable to rewind the message");
	helper_forward(sender, dtline, argv + 1, 1);
	return 99;
}
