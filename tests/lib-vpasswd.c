/* lib-vpasswd - mailbox and domain names, vpasswd lines, the cdb
 * look-up and the password hash, with hostile input */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "lcdb.h"
#include "tap.h"
#include "vpasswd.h"

static int
user(const char *u)
{
	return vpasswd_user_ok(u, strlen(u));
}

static int
dom(const char *d)
{
	return vpasswd_domain_ok(d, strlen(d));
}

int
main(void)
{
	struct str h = STR_ZERO, h2 = STR_ZERO, got = STR_ZERO;
	struct lcdb_make m;
	char dir[128], fn[160], big[300];
	size_t dl;
	const char *hash;
	size_t ul, hl;
	unsigned long q;
	int unknown;
	static const char line1[] = "joe:$6$abc$def:1000";

	ok(user("joe") && user("j.o_e-1") && user("a"), "plain mailbox names");
	ok(!user("") && !user(".joe") && !user("-joe") && !user("joe.") && !user("jo..e"),
	    "empty, leading dot or hyphen, final dot, two dots");
	ok(!user("Joe") && !user("jo e") && !user("jo/e") && !user("jo:e") && !user("jo@e"),
	    "upper case, blank, slash, colon, at sign");
	ok(!vpasswd_user_ok("jo\0e", 4), "a NUL");
	memset(big, 'a', sizeof big);
	ok(vpasswd_user_ok(big, 64) && !vpasswd_user_ok(big, 65), "64 octets at most");
	ok(dom("example.org") && dom("a-b.c0") && dom("localhost"), "domain names");
	ok(!dom("") && !dom(".example") && !dom("example.") && !dom("a..b") &&
	    !dom("-a.b") && !dom("a-.b") && !dom("a_b.c") && !dom("A.b") && !dom("../x"),
	    "empty labels, hyphens at the ends, underscore, upper case, a path");
	memset(big, 'a', sizeof big);
	ok(vpasswd_domain_ok(big, 63) && !vpasswd_domain_ok(big, 64), "labels of 63 octets at most");
	for (ul = 63; ul < 260; ul += 64)
		big[ul] = '.';
	ok(vpasswd_domain_ok(big, 253) && !vpasswd_domain_ok(big, 254), "253 octets at most");

	ok(vpasswd_split(line1, strlen(line1), &ul, &hash, &hl, &q) && ul == 3 &&
	    hl == 10 && memcmp(hash, "$6$abc$def", 10) == 0 && q == 1000, "user:hash:quota");
	ok(vpasswd_split("joe:h", 5, &ul, &hash, &hl, &q) && q == 0, "no quota field");
	ok(vpasswd_split("joe:h::extra", 12, &ul, &hash, &hl, &q) && q == 0, "empty quota, extra fields");
	ok(!vpasswd_split("joe", 3, &ul, &hash, &hl, &q) && !vpasswd_split("joe:", 4, &ul, &hash, &hl, &q),
	    "no hash");
	ok(!vpasswd_split("joe:h:x", 7, &ul, &hash, &hl, &q) &&
	    !vpasswd_split("joe:h:99999999999999999999999", 29, &ul, &hash, &hl, &q),
	    "junk and overflowing quotas");
	ok(!vpasswd_split("Joe:h", 5, &ul, &hash, &hl, &q) && !vpasswd_split(":h", 2, &ul, &hash, &hl, &q),
	    "bad user names");
	ok(!vpasswd_split("joe:h h", 7, &ul, &hash, &hl, &q) &&
	    !vpasswd_split("joe:h\001", 6, &ul, &hash, &hl, &q), "blanks and control bytes in the hash");

	ok(vpasswd_hash("secret", &h) && strncmp(h.s, "$6$", 3) == 0 && h.len > 80,
	    "a SHA-512 crypt hash");
	ok(vpasswd_hash("secret", &h2) && strcmp(h.s, h2.s) != 0, "with a fresh salt each time");
	ok(vpasswd_check("secret", h.s) == 1, "the password matches");
	ok(vpasswd_check("Secret", h.s) == 0 && vpasswd_check("", h.s) == 0 &&
	    vpasswd_check("secret ", h.s) == 0, "others do not");
	ok(vpasswd_check("secret", NULL) == 0, "an unknown user matches nothing");
	ok(vpasswd_check("secret", "!") == 0 && vpasswd_check("", "*") == 0 &&
	    vpasswd_check("x", "$6$") == 0, "locked and broken hashes match nothing");
	ok(vpasswd_verify("secret", h.s, &unknown) == 1 && unknown == 0 &&
	    vpasswd_verify("Secret", h.s, &unknown) == 0 && unknown == 0 &&
	    vpasswd_verify("secret", NULL, &unknown) == 0 && unknown == 0,
	    "vpasswd_verify: a known method, an unknown user");
	ok(vpasswd_verify("secret", "$argon2id$v=19$m=65536,t=3,p=4$c2FsdHNhbHQ$aGFzaA",
	    &unknown) == 0 && unknown == 1, "a method crypt does not know: no match, and said so");
	ok(vpasswd_verify("secret", "!", &unknown) == 0 && unknown == 0 &&
	    vpasswd_verify("", "*", &unknown) == 0 && unknown == 0 &&
	    vpasswd_verify("x", "!$6$abc$def", &unknown) == 0 && unknown == 0,
	    "a lock is no unknown method");

	/* the cdb */
	ok(tap_tmpname(dir, sizeof dir, "lib-vpasswd") && mkdtemp(dir) != NULL,
	    "scratch directory");
	dl = strlen(dir);	/* under 128: fn has room for 13 more */
	memcpy(fn, dir, dl);
	memcpy(fn + dl, "/vpasswd.cdb", 13);
	ok(lcdb_make_start(&m, fn) && lcdb_make_add(&m, "joe", 3, h.s, h.len) &&
	    lcdb_make_add(&m, "ann", 3, "$6$x$y:5000", 11) &&
	    lcdb_make_add(&m, "bad", 3, "has space:1", 11) &&
	    lcdb_make_add(&m, "badq", 4, "$6$x$y:lots", 11) &&
	    lcdb_make_finish(&m), "a vpasswd.cdb");
	ok(vpasswd_lookup(fn, "joe", 3, &got, &q) == 1 && strcmp(got.s, h.s) == 0 && q == 0,
	    "look-up without quota");
	ok(vpasswd_lookup(fn, "ann", 3, &got, &q) == 1 && strcmp(got.s, "$6$x$y") == 0 && q == 5000,
	    "look-up with quota");
	ok(vpasswd_lookup(fn, "nobody", 6, &got, &q) == 0, "an unknown user");
	ok(vpasswd_lookup(fn, "Joe", 3, &got, &q) == 0 && vpasswd_lookup(fn, "../x", 4, &got, &q) == 0,
	    "names that are not mailbox names are not looked up");
	ok(vpasswd_lookup(fn, "bad", 3, &got, &q) == -1 && vpasswd_lookup(fn, "badq", 4, &got, &q) == -1,
	    "a damaged value is an error, not a match");
	memcpy(fn + dl, "/missing.cdb", 13);
	ok(vpasswd_lookup(fn, "joe", 3, &got, &q) == 0, "no cdb: not found");
	memcpy(fn + dl, "/vpasswd.cdb", 13);
	(void)unlink(fn);
	(void)rmdir(dir);
	str_free(&h);
	str_free(&h2);
	str_free(&got);
	return tap_done();
}
