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
#include <stdlib.h>
#include <unistd.h>

#include "auto.h"
#include "buf.h"
#include "die.h"
#include "qpath.h"
#include "str.h"

struct tally {
	const char *skip;
	struct str fn;
	unsigned long n;
};

static void
one(unsigned long id, void *arg)
{
	struct tally *t = arg;

	if (t->skip) {
		if (!qpath(&t->fn, t->skip, id))
			die_nomem();
		if (access(t->fn.s, F_OK) == 0)
			return;
	}
	t->n++;
}

/* count - files named by an id in DIR/S/; with skip set, those whose
 * id also has a file in skip/ are left out */
static unsigned long
count(const char *dir, const char *skip)
{
	struct tally t = { skip, STR_ZERO, 0 };
	struct str d = STR_ZERO;
	int r;

	r = qpath_each(dir, one, &t, &d);
	if (r == 0)
		die_nomem();
	if (r < 0)
		die_sys(EXIT_TEMP, r == -1 ? "unable to open queue/" : "unable to read queue/", d.s);
	str_free(&d);
	str_free(&t.fn);
	return t.n;
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
