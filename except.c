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
#include <stddef.h>

#include "die.h"
#include "helper.h"

int
main(int argc, char **argv)
{
	die_init(argv[0]);
	if (argc < 2)
		die(EXIT_PERM, "usage: except program [arg ...]");
	return helper_ask(argv + 1, NULL) ? EXIT_PERM : 0;
}
