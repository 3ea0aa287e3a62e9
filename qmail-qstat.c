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

/* the ids of todo/, sorted, so that a message qmail-send moves from
 * todo/ to info/ while we look is counted once */
struct ids {
	struct str a;		/* the ids, as an array (malloc aligns it) */
	const unsigned long *v;	/* a.s once all are in */
	size_t n;
};

static void
add_id(unsigned long id, void *arg)
{
	struct ids *t = arg;

	if (!str_catb(&t->a, (const char *)&id, sizeof id))
		die_nomem();
	t->n++;
}

static int
cmp_id(const void *a, const void *b)
{
	unsigned long x = *(const unsigned long *)a, y = *(const unsigned long *)b;

	return x < y ? -1 : x > y;
}

struct tally {
	const struct ids *todo;
	unsigned long n;
};

/* count_info - an info/ file whose id was not in todo/ when we looked */
static void
count_info(unsigned long id, void *arg)
{
	struct tally *t = arg;

	if (t->todo->n == 0 || !bsearch(&id, t->todo->v, t->todo->n, sizeof id, cmp_id))
		t->n++;
}

/* each - every id of queue/DIR/S/ to fn */
static void
each(const char *dir, void (*fn)(unsigned long, void *), void *arg)
{
	struct str d = STR_ZERO;
	int r;

	r = qpath_each(dir, fn, arg, &d);
	if (r == 0)
		die_nomem();
	if (r < 0)
		die_sys(EXIT_TEMP, r == -1 ? "unable to open queue/" : "unable to read queue/", d.s);
	str_free(&d);
}

int
main(int argc, char **argv)
{
	struct str out = STR_ZERO;
	struct ids ids = { STR_ZERO, NULL, 0 };
	struct tally t;
	unsigned long todo, info;

	(void)argc;
	die_init(argv[0]);
	if (chdir(auto_home) == -1)
		die_sys(EXIT_TEMP, "unable to chdir to ", auto_home);
	if (chdir("queue") == -1)
		die_sys(EXIT_TEMP, "unable to chdir to queue");
	/* todo/ first: a message moves from there to info/, never back */
	each("todo", add_id, &ids);
	ids.v = (const unsigned long *)(void *)ids.a.s;
	if (ids.n > 0)
		qsort(ids.a.s, ids.n, sizeof *ids.v, cmp_id);
	todo = ids.n;
	t.todo = &ids;
	t.n = 0;
	each("info", count_info, &t);	/* taken over, not yet sent to qmail-clean */
	info = t.n;
	if (!str_cats(&out, "messages in queue: ") || !str_catulong(&out, todo + info) ||
	    !str_cats(&out, "\nmessages in queue but not yet preprocessed: ") ||
	    !str_catulong(&out, todo) || !str_catc(&out, '\n'))
		die_nomem();
	if (!fd_writeall(1, out.s, out.len, 0))
		die_sys(EXIT_TEMP, "unable to write output");
	str_free(&out);
	str_free(&ids.a);
	return 0;
}
