/* bouncesaying - bounce the message with a given text, perhaps
 *
 *	bouncesaying error [program [arg ...]]
 *
 * Run from a .qmail file under the recipient's uid.  Without a program
 * it bounces every message: it prints error, which qmail-local puts into
 * the bounce, and exits 100.  With one it runs the program on the
 * message (descriptor 0, passed on as it is) and bounces only when the
 * program exits 0; the program's 111 is passed on, so the delivery is
 * tried again later, and anything else lets qmail-local go on with the
 * next line.  See bouncesaying(1).
 */
#include "buf.h"
#include "die.h"
#include "helper.h"
#include "str.h"

int
main(int argc, char **argv)
{
	struct str text = STR_ZERO;

	die_init(argv[0]);
	if (argc < 2)
		die(EXIT_PERM, "usage: bouncesaying error [program [arg ...]]");
	if (argc > 2 && !helper_ask(argv + 2, "bouncing"))
		return 0;
	/* the text alone, as the sender is to read it, in one write; a
	 * bounce without it is still the bounce asked for */
	if (!str_cats(&text, argv[1]) || !str_catc(&text, '\n'))
		die(EXIT_PERM, argv[1]);
	if (!fd_writeall(2, text.s, text.len, 0))
		die_sys(EXIT_PERM, "unable to print the error text");
	return EXIT_PERM;
}
