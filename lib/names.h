/* names.h - a set of names (NUL-free strings) with insertion order
 *
 * The names are kept one after another in a pool, their offsets in the
 * order they were added, and an open-addressing hash table over the
 * pool answers names_has in constant time on average, also between
 * adds: a program that checks each new name against those before it
 * does n look-ups, not n * n / 2 comparisons.  The table is at most
 * half full and doubles as it fills.
 */
#ifndef NAMES_H
#define NAMES_H

#include <stddef.h>

#include "str.h"

struct names {
	struct str pool;	/* the names, each NUL-terminated */
	size_t *off;	/* their offsets in pool, in the order added */
	size_t n, cap;
	size_t *tab;	/* offset + 1 per slot, 0 for an empty one */
	size_t tcap;	/* slots: a power of two, or 0 */
};

#define NAMES_ZERO { STR_ZERO, NULL, 0, 0, NULL, 0 }

/* names_add - s[0..n) added (no NUL in it; a name there already is
 * added again): 1, or 0 with errno */
int names_add(struct names *ns, const char *s, size_t n);
/* names_has - 1 when the NUL-terminated s was added, else 0; bytes
 * compared as they are (fold case before adding and asking, for a set
 * without regard to case) */
int names_has(const struct names *ns, const char *s);
/* names_at - the i-th name added (i < ns->n), NUL-terminated */
const char *names_at(const struct names *ns, size_t i);
void names_free(struct names *ns);

#endif
