/* lib-pwrule - the password rules */
#include <string.h>

#include "pwrule.h"
#include "tap.h"

static int
okpw(const char *pw, const char *login, unsigned long min)
{
	return pwrule_check(pw, strlen(pw), login, min) == NULL;
}

int
main(void)
{
	ok(okpw("Tulip-Harbor-51", "alice@example.org", 8), "a good password");
	ok(!okpw("short", "alice@example.org", 8), "shorter than the minimum");
	ok(okpw("x", "alice@example.org", 0) && okpw("x", "alice@example.org", 1),
	    "minimum 0 or 1: any non-empty one");
	ok(!okpw("", "alice@example.org", 0), "never empty");
	ok(!okpw("ALICE@example.org", "alice@example.org", 1), "the address");
	ok(!okpw("Alice", "alice@example.org", 1), "the local part");
	ok(!okpw("example.ORG", "alice@example.org", 1), "the domain");
	ok(!okpw("boss", "boss", 1), "an administrator's name");
	ok(!okpw("PassWord", "alice@example.org", 1), "a common one, any case");
	ok(!okpw("123456", "alice@example.org", 1), "digits");
	ok(okpw("alice-x", "alice@example.org", 1), "containing the name is allowed");
	ok(pwrule_check("a\0b", 3, "x", 1) != NULL, "a NUL byte");
	return tap_done();
}
