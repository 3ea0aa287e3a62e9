/* qmail-qstat - how many messages are in the queue
 *
 * Run by the administrator (root, or qmails: it reads queue/info/).
 * Prints
 *	messages in queue: N
 *	messages in queue but not yet preprocessed: M
 * counting exactly the committed messages: an envelope in todo/ or an
 * info/ file, each message once.  What a failed qmail-queue left behind
 * is not a message and is not counted.
 */
#include <dirent.h>
#include <errno.h>
#include <stdlib.h>
#include <unistd.h>

#include "auto.h"
#include "buf.h"
#include "die.h"
#include "qpath.h"
#include "str.h"

/* count - files named by an id in DIR/S/; with skip set, those whose
 * id also has a file in skip/ are left out */
static unsigned long
count(const char *dir, const char *skip)
{
	struct str d = STR_ZERO, fn = STR_ZERO;
	struct dirent *de;
	unsigned long s, id, n = 0;
	DIR *dp;

	for (s = 0; s < qpath_split(); s++) {
		d.len = 0;
		if (!str_cats(&d, dir) || !str_catc(&d, '/') || !str_catulong(&d, s) || !str_nul(&d))
			die_nomem();
		if ((dp = opendir(d.s)) == NULL)
			die_sys(EXIT_TEMP, "unable to open queue/", d.s);
		for (;;) {
			errno = 0;
			if ((de = readdir(dp)) == NULL)
				break;
			if (!qpath_id(de->d_name, &id) || id % qpath_split() != s)
				continue;
			if (skip) {
				if (!qpath(&fn, skip, id))
					die_nomem();
				if (access(fn.s, F_OK) == 0)
					continue;
			}
			n++;
		}
		if (errno)
			die_sys(EXIT_TEMP, "unable to read queue/", d.s);
		(void)closedir(dp);	/* read-only stream */
	}
	str_free(&d);
	str_free(&fn);
	return n;
}

int
main(int argc, char **argv)
{
	struct str out = STR_ZERO;
	unsigned long todo, info;

	(void)argc;
	die_init(argv[0]);
	if (chdir(auto_home) == -1)
		die_sys(EXIT_TEMP, "unable to chdir to ", auto_home);
	if (chdir("queue") == -1)
		die_sys(EXIT_TEMP, "unable to chdir to queue");
	todo = count("todo", NULL);
	info = count("info", "todo");	/* taken over but not yet told to qmail-clean */
	if (!str_cats(&out, "messages in queue: ") || !str_catulong(&out, todo + info) ||
	    !str_cats(&out, "\nmessages in queue but not yet preprocessed: ") ||
	    !str_catulong(&out, todo) || !str_catc(&out, '\n'))
		die_nomem();
	if (!fd_writeall(1, out.s, out.len, 0))
		die_sys(EXIT_TEMP, "unable to write output");
	str_free(&out);
	return 0;
}
