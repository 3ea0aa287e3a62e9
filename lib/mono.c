/* mono.c - a clock no one sets (see mono.h) */
#include <limits.h>
#include <time.h>

#include "mono.h"

long long
mono_ms(void)
{
	struct timespec t;

	if (clock_gettime(CLOCK_MONOTONIC, &t) == -1)
		return 0;
	return (long long)t.tv_sec * 1000 + t.tv_nsec / 1000000;
}

int
mono_left(long long end)
{
	long long left = end - mono_ms();

	return left <= 0 ? 0 : left > INT_MAX ? INT_MAX : (int)left;
}
