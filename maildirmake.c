/* maildirmake - create a Maildir: DIR with tmp/, new/ and cur/, mode 0700
 *
 *	maildirmake dir
 *
 * Run by users and by the administrator; refuses a directory that
 * already exists, so it never adopts something that is not a Maildir.
 */
#include <errno.h>
#include <sys/stat.h>

#include "die.h"
#include "maildir.h"

int
main(int argc, char **argv)
{
	die_init(argv[0]);
	if (argc != 2 || argv[1][0] == 0)
		die(EXIT_PERM, "usage: maildirmake dir");
	/* mkdir honours the umask: with 077 every directory is 0700, the
	 * subdirectories too, whatever the caller's umask was */
	umask(077);
	if (mkdir(argv[1], 0700) == -1) {
		if (errno == EEXIST)
			die(EXIT_PERM, argv[1], " already exists");
		die_sys(EXIT_TEMP, "unable to create ", argv[1]);
	}
	if (!maildir_make(argv[1]))
		die_sys(EXIT_TEMP, "unable to create the subdirectories of ", argv[1]);
	return 0;
}
