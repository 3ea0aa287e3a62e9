/* lib-crypt512 - password hashing as qmail-admin links it ($(CRYPT512):
 * in the musl build, libcrypt with SHA-512 crypt as its only method).
 * Without arguments: TAP checks that vpasswd_hash makes a SHA-512 hash
 * that vpasswd_check accepts, and that vpasswd_usable knows the methods
 * the build's qmail-auth checks.  With "print PASSWORD": that hash, for
 * tests/lib-crypt.t to check with the complete libcrypt.  With "usable
 * HASH ...": vpasswd_usable of each, one per line. */
#include <stdio.h>
#include <string.h>

#include "str.h"
#include "tap.h"
#include "vpasswd.h"

int
main(int argc, char **argv)
{
	struct str h = STR_ZERO, h2 = STR_ZERO;
	int i;

	if (argc > 1 && strcmp(argv[1], "usable") == 0) {
		for (i = 2; i < argc; i++)
			printf("%d\n", vpasswd_usable(argv[i]));
		return 0;
	}
	if (argc > 2 && strcmp(argv[1], "print") == 0) {
		if (!vpasswd_hash(argv[2], &h))
			return 1;
		printf("%s\n", h.s);
		return 0;
	}
	ok(vpasswd_hash("secret", &h), "vpasswd_hash makes a hash");
	ok(h.s && strncmp(h.s, "$6$", 3) == 0 && strlen(h.s) == 3 + 16 + 1 + 86,
	    "a SHA-512 hash with a 16-character salt");
	ok(h.s && vpasswd_check("secret", h.s) == 1, "the password matches it");
	ok(h.s && vpasswd_check("Secret", h.s) == 0, "another password does not");
	ok(vpasswd_hash("secret", &h2) && h.s && strcmp(h.s, h2.s) != 0,
	    "a second hash of the same password has another salt");
	/* what every build's qmail-auth checks, linked here or not */
	ok(h.s && vpasswd_usable(h.s) == 1 &&
	    vpasswd_usable("$5$abcdefgh$sI6g8tHKrJ6RX7w.YoN9B7a/5wK5jYEOMmMnt3tPl0/") == 1 &&
	    vpasswd_usable("$y$j9T$F5Jx5fExrKuPp53xLKQ..1$6foLM1JhGupouWKMU70wxK61Kw9ZnecbACjJwRadqM2") == 1 &&
	    vpasswd_usable("$2b$05$CCCCCCCCCCCCCCCCCCCCC.Xn7FSvv79c6bu/kgV/.kBlx/ChE9.FW") == 1,
	    "vpasswd_usable: SHA-512, SHA-256, yescrypt and bcrypt hashes");
	ok(vpasswd_usable("!") == 1 && vpasswd_usable("*") == 1 &&
	    vpasswd_usable("!$6$abcdefgh$x") == 1, "and locks, which are meant to match nothing");
	ok(vpasswd_usable("$argon2id$v=19$m=65536,t=3,p=4$c2FsdHNhbHQ$aGFzaA") == 0 &&
	    vpasswd_usable("$9$junk") == 0, "not a method no build knows");
	return tap_done();
}
