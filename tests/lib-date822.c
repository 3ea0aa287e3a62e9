/* lib-date822 - prints date822_fmt of each argument (seconds since the
 * epoch) in the current TZ, one per line; tests/lib-date822.t checks the
 * lines against python's RFC 5322 date parser */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "date822.h"

int
main(int argc, char **argv)
{
	char buf[DATE822_LEN];
	size_t n;
	int i;

	for (i = 1; i < argc; i++) {
		memset(buf, 'X', sizeof buf);
		n = date822_fmt(buf, (time_t)strtoll(argv[i], NULL, 10));
		if (n != strlen(buf) || n >= DATE822_LEN)
			return 1;
		printf("%s\n", buf);
	}
	return 0;
}
