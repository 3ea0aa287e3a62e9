/* helper.c - the common steps of the programs .qmail files call; see
 * helper.h.  Run under the recipient's uid; the message is untrusted
 * and only handed on. */
#include <errno.h>
#include <stdlib.h>

#include "buf.h"
#include "die.h"
#include "env.h"
#include "helper.h"
#include "qqfilter.h"
#include "spawn.h"
#include "str.h"

const char *
helper_env(const char *name)
{
	const char *v = env_get(name);

	if (v == NULL)
		die(EXIT_TEMP, name, " is not set: ", die_progname(), " is run from a .qmail file");
	return v;
}

const char *
helper_sender(void)
{
	const char *s;

	if ((s = env_get("NEWSENDER")) == NULL && (s = env_get("SENDER")) == NULL)
		s = helper_env("NEWSENDER");	/* which says so and exits */
	return s;
}

int
helper_ask(char *const argv[], const char *notdoing)
{
	int code;

	if ((code = spawn_run(argv)) == -1) {
		/* as documented: a program that is not there answers no
		 * question; the log shows why */
		if (notdoing != NULL && (errno == ENOENT || errno == ENOTDIR)) {
			warn("unable to run ", argv[0], ": no such program; not ", notdoing);
			exit(0);
		}
		if (errno == EINTR)
			die(EXIT_TEMP, argv[0], " was killed by a signal");
		die_sys(EXIT_TEMP, "unable to run ", argv[0]);
	}
	if (code == EXIT_TEMP)
		exit(EXIT_TEMP);
	return code == 0;
}

void
helper_forward(const char *sender, const char *dtline, char *const *addr, int n)
{
	struct str note = STR_ZERO;
	pid_t qp = qq_forward(sender, dtline, addr, n);

	if (str_cats(&note, die_progname()) && str_cats(&note, ": qp ") &&
	    str_catulong(&note, (unsigned long)qp) && str_catc(&note, '\n'))
		(void)fd_writeall(1, note.s, note.len, 0);	/* queued: a lost note is no failure */
	str_free(&note);
}
