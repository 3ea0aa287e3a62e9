/* except - run a program and turn its success into a failure
 *
 *	except program [arg ...]
 *
 * Run from a .qmail file, usually under bouncesaying or condredirect
 * (|bouncesaying 'No thanks.' except grep -q '^To: .*me@' ...).  The
 * program gets our descriptors as they are.  Its exit 0 becomes 100,
 * its 111 stays 111, anything else becomes 0.  One that cannot be run,
 * or that a signal ends, is a temporary failure (111): neither may pass
 * for "anything else" and so for success.  See except(1).
 */
#include <errno.h>

#include "die.h"
#include "spawn.h"

int
main(int argc, char **argv)
{
	int code;

	die_init(argv[0]);
	if (argc < 2)
		die(EXIT_PERM, "usage: except program [arg ...]");
	if ((code = spawn_run(argv + 1)) == -1) {
		if (errno == EINTR)
			die(EXIT_TEMP, argv[1], " was killed by a signal");
		die_sys(EXIT_TEMP, "unable to run ", argv[1]);
	}
	if (code == 0)
		return EXIT_PERM;
	if (code == EXIT_TEMP)
		return EXIT_TEMP;
	return 0;
}
