/* lib-crypt512 - password hashing as qmail-admin links it ($(CRYPT512):
 * in the musl build, libcrypt with SHA-512 crypt as its only method).
 * Without arguments: TAP checks that vpasswd_hash makes a SHA-512 hash
 * that vpasswd_check accepts.  With "print PASSWORD": that hash, for
 * tests/lib-crypt.t to check with the complete libcrypt. */
#include <string.h>

#include "str.h"
#include "tap.h"
#include "vpasswd.h"

int
main(int argc, char **argv)
{
	struct str h = STR_ZERO, h2 = STR_ZERO;

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
	return tap_done();
}
