/* names.c - a set of names; see names.h */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "names.h"

/* hash - FNV-1a over the bytes of s */
static size_t
hash(const char *s)
{
	size_t h = 2166136261u;

	while (*s)
		h = (h ^ (unsigned char)*s++) * 16777619u;
	return h;
}

static void
put(size_t *tab, size_t tcap, const char *pool, size_t off)
{
	size_t i = hash(pool + off) & (tcap - 1);

	while (tab[i] != 0)
		i = (i + 1) & (tcap - 1);
	tab[i] = off + 1;
}

int
names_add(struct names *ns, const char *s, size_t n)
{
	size_t *p, i, cap;

	if (ns->n == ns->cap) {
		cap = ns->cap ? ns->cap * 2 : 64;
		/* cap offsets, and below a table of 2 * cap slots */
		if (cap > ((size_t)-1) / (4 * sizeof *p))
			return errno = ENOMEM, 0;
		if ((p = realloc(ns->off, cap * sizeof *p)) == NULL)
			return 0;
		ns->off = p;
		ns->cap = cap;
	}
	if (2 * (ns->n + 1) > ns->tcap) {	/* at most half full */
		cap = ns->tcap ? ns->tcap * 2 : 128;
		if ((p = calloc(cap, sizeof *p)) == NULL)
			return 0;
		for (i = 0; i < ns->n; i++)
			put(p, cap, ns->pool.s, ns->off[i]);
		free(ns->tab);
		ns->tab = p;
		ns->tcap = cap;
	}
	if (!str_catb(&ns->pool, s, n) || !str_catc(&ns->pool, 0))
		return 0;
	ns->off[ns->n] = ns->pool.len - n - 1;
	put(ns->tab, ns->tcap, ns->pool.s, ns->off[ns->n++]);
	return 1;
}

int
names_has(const struct names *ns, const char *s)
{
	size_t i;

	if (ns->tcap == 0)
		return 0;
	for (i = hash(s) & (ns->tcap - 1); ns->tab[i] != 0; i = (i + 1) & (ns->tcap - 1))
		if (strcmp(ns->pool.s + ns->tab[i] - 1, s) == 0)
			return 1;
	return 0;
}

const char *
names_at(const struct names *ns, size_t i)
{
	return ns->pool.s + ns->off[i];
}

void
names_free(struct names *ns)
{
	str_free(&ns->pool);
	free(ns->off);
	free(ns->tab);
	ns->off = ns->tab = NULL;
	ns->n = ns->cap = ns->tcap = 0;
}
