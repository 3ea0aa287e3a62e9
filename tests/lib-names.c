/* lib-names - the set of names: members found, others not, across the
 * table's growth; insertion order kept; bytes compared exactly */
#include <stdio.h>
#include <string.h>

#include "names.h"
#include "tap.h"

int
main(void)
{
	struct names ns = NAMES_ZERO;
	char k[32];
	int i, all, order, none;

	ok(!names_has(&ns, "x") && !names_has(&ns, ""), "an empty set has nothing");
	ok(names_add(&ns, "alice", 5) && names_has(&ns, "alice"), "a name added is there");
	ok(!names_has(&ns, "Alice") && !names_has(&ns, "alic") && !names_has(&ns, "alice2"),
	    "other case, a prefix, a longer name: not there");
	ok(names_add(&ns, "", 0) && names_has(&ns, ""), "the empty name");
	ok(names_add(&ns, "bob:x", 3) && names_has(&ns, "bob") && !names_has(&ns, "bob:x"),
	    "n bytes are added, not the rest");
	names_free(&ns);
	ok(ns.n == 0 && !names_has(&ns, "alice"), "freed: empty again");

	/* 20000 names: the table grows many times over */
	all = 1;
	for (i = 0; i < 20000; i++) {
		snprintf(k, sizeof k, "n%d", i);
		if (!names_add(&ns, k, strlen(k)) || !names_has(&ns, k))
			all = 0;
	}
	ok(all && ns.n == 20000, "20000 added, each there at once");
	all = order = 1;
	none = 0;
	for (i = 0; i < 20000; i++) {
		snprintf(k, sizeof k, "n%d", i);
		all &= names_has(&ns, k);
		order &= strcmp(names_at(&ns, (size_t)i), k) == 0;
		snprintf(k, sizeof k, "m%d", i);
		none |= names_has(&ns, k);
	}
	ok(all, "every one still there after the growth");
	ok(order, "names_at gives them in the order added");
	ok(!none, "and 20000 others are not");
	ok(ns.tcap >= 2 * ns.n, "the table is at most half full (%zu of %zu)", ns.n, ns.tcap);
	ok(names_add(&ns, "n5", 2) && ns.n == 20001, "a name added twice is kept twice");
	names_free(&ns);
	return tap_done();
}
