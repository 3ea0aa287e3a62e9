/* env.c - environment helpers; see env.h */
#include <stdlib.h>
#include <string.h>

#include "env.h"
#include "str.h"

const char *
env_get(const char *name)
{
	return getenv(name);
}

int
env_set(const char *name, const char *value)
{
	return setenv(name, value, 1) == 0;
}

int
env_unset(const char *name)
{
	return unsetenv(name) == 0;
}

int
env_ulong(const char *name, unsigned long *out)
{
	const char *v = getenv(name);

	if (v == NULL)
		return 0;
	return scan_ulong(v, strlen(v), out) ? 1 : -1;
}
