/* lib-env - unit tests for lib/env: numeric settings reject junk */
#include <errno.h>
#include <limits.h>
#include <string.h>

#include "env.h"
#include "tap.h"

int
main(void)
{
	unsigned long u = 9;

	ok(env_unset("LIBENV_X"), "unset an unset variable");
	ok(env_get("LIBENV_X") == NULL, "get unset: NULL");
	ok(env_ulong("LIBENV_X", &u) == 0 && u == 9, "ulong unset: 0, out untouched");
	ok(env_set("LIBENV_X", "") && env_get("LIBENV_X") && *env_get("LIBENV_X") == 0, "set empty");
	ok(env_ulong("LIBENV_X", &u) == -1, "ulong empty: -1");
	ok(env_set("LIBENV_X", "1024") && env_ulong("LIBENV_X", &u) == 1 && u == 1024, "ulong 1024");
	ok(env_set("LIBENV_X", "18446744073709551615") && env_ulong("LIBENV_X", &u) == 1 && u == ULONG_MAX, "ulong ULONG_MAX");
	u = 3;
	ok(env_set("LIBENV_X", "18446744073709551616") && env_ulong("LIBENV_X", &u) == -1 && u == 3, "ulong overflow: -1");
	ok(env_set("LIBENV_X", "10M") && env_ulong("LIBENV_X", &u) == -1, "ulong with a unit: -1");
	ok(env_set("LIBENV_X", " 5") && env_ulong("LIBENV_X", &u) == -1, "ulong leading blank: -1");
	ok(env_set("LIBENV_X", "-5") && env_ulong("LIBENV_X", &u) == -1, "ulong negative: -1");
	ok(env_set("LIBENV_X", "a=b") && strcmp(env_get("LIBENV_X"), "a=b") == 0, "value holding =");
	errno = 0;
	ok(!env_set("A=B", "x") && errno == EINVAL, "name holding =: 0 EINVAL");
	errno = 0;
	ok(!env_set("", "x") && errno == EINVAL, "empty name: 0 EINVAL");
	ok(env_unset("LIBENV_X") && env_get("LIBENV_X") == NULL, "unset");
	return tap_done();
}
