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
#include <errno.h>
#include <string.h>

#include "buf.h"
#include "die.h"
#include "spawn.h"
#include "str.h"

int
main(int argc, char **argv)
{
	struct str text = STR_ZERO;
	int code;

	die_init(argv[0]);
	if (argc < 2)
		die(EXIT_PERM, "usage: bouncesaying error [program [arg ...]]");
	if (argc > 2) {
		if ((code = spawn_run(argv + 2)) == -1) {
			/* as documented: a program that does not exist does
			 * not say "bounce"; the log shows why */
			if (errno == ENOENT || errno == ENOTDIR) {
				warn("unable to run ", argv[2], ": no such program; not bouncing");
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
	}
	/* the text alone, as the sender is to read it, in one write; a
	 * bounce without it is still the bounce asked for */
	if (!str_cats(&text, argv[1]) || !str_catc(&text, '\n'))
		die(EXIT_PERM, argv[1]);
	if (!fd_writeall(2, text.s, text.len, 0))
		die_sys(EXIT_PERM, "unable to print the error text");
	return EXIT_PERM;
}
