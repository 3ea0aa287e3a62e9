/* lib-qpath - unit tests for lib/qpath and the compiled-in lib/auto */
#include <limits.h>
#include <stdio.h>
#include <string.h>

#include "auto.h"
#include "qpath.h"
#include "tap.h"

static int
is(const struct str *s, const char *want)
{
	return s->len == strlen(want) && memcmp(s->s, want, s->len) == 0 && s->s[s->len] == 0;
}

int
main(void)
{
	struct str s = STR_ZERO;
	unsigned long id, sp = qpath_split();
	char want[128];
	int i;

	ok(auto_home[0] == '/', "auto_home is absolute: %s", auto_home);
	ok(auto_split > 0 && sp == auto_split, "split %lu", sp);
	ok(auto_single == 0 || auto_single == 1, "auto_single is 0 or 1");
	for (i = 0; i < AUTO_NUSERS; i++)
		if (auto_users[i] == NULL || auto_users[i][0] == 0)
			break;
	ok(i == AUTO_NUSERS, "every user named");
	if (auto_single)
		ok(strcmp(auto_users[0], auto_users[AUTO_GNOFILES]) == 0, "single-user: one login everywhere");
	else
		ok(1, "multi-user install");

	snprintf(want, sizeof want, "mess/%lu/12345", 12345 % sp);
	ok(qpath(&s, "mess", 12345) && is(&s, want), "mess: %s", want);
	snprintf(want, sizeof want, "todo/%lu/%lu", ULONG_MAX % sp, ULONG_MAX);
	ok(qpath(&s, "todo", ULONG_MAX) && is(&s, want), "largest id: %s", want);
	ok(qpath(&s, "intd", 0) && is(&s, "intd/0/0"), "id 0");
	ok(qpath(&s, "pid", 77) && is(&s, "pid/77"), "pid is not split");
	ok(qpath(&s, "bounce", 77) && is(&s, "bounce/77"), "bounce is not split");
	ok(qpath(&s, "info", sp) && s.s[5] == '0' && s.s[6] == '/', "id == split goes to 0");

	ok(qpath_id("mess/3/123", &id) && id == 123, "id of a path");
	ok(qpath_id("123", &id) && id == 123, "id of a bare name");
	ok(qpath_id("0", &id) && id == 0, "id 0");
	ok(!qpath_id("0123", &id), "leading zero refused (one id, one name)");
	ok(!qpath_id("mess/3/", &id), "empty last component refused");
	ok(!qpath_id("", &id), "empty name refused");
	ok(!qpath_id("12a", &id), "junk refused");
	ok(!qpath_id("123.tmp", &id), "suffix refused");
	ok(!qpath_id("-1", &id), "negative refused");
	ok(!qpath_id("18446744073709551616", &id), "overflow refused");
	ok(qpath_id("18446744073709551615", &id) && id == ULONG_MAX, "ULONG_MAX");
	str_free(&s);
	return tap_done();
}
