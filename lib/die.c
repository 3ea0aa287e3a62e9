/* die.c - fatal errors and warnings on stderr; see die.h */
#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "die.h"

/* the one mutable global of lib/: set once by main */
static const char *progname = "lanmail";

void
die_init(const char *argv0)
{
	const char *p;

	if (argv0 == NULL || *argv0 == 0)
		return;
	p = strrchr(argv0, '/');
	progname = p ? p + 1 : argv0;
}

const char *
die_progname(void)
{
	return progname;
}

/* say - one line in one write, so lines from many processes do not mix */
static void
say(const char *kind, int sys, int err, const char *s, va_list ap)
{
	char line[1024];
	size_t n = 0;
	const char *parts[3] = { progname, ": ", kind };
	size_t i, k;

	for (i = 0; i < 3; i++)
		for (k = 0; parts[i][k] && n < sizeof line - 2; k++)
			line[n++] = parts[i][k];
	for (; s; s = va_arg(ap, const char *))
		for (k = 0; s[k] && n < sizeof line - 2; k++)
			line[n++] = s[k];
	if (sys) {
		const char *e = strerror(err);
		/* "No such file" goes lower case, an acronym ("I/O
		 * error", musl's) stays as it is */
		int lower = e[0] >= 'A' && e[0] <= 'Z' && !(e[1] >= 'A' && e[1] <= 'Z') && e[1] != '/';

		for (k = 0; ": "[k] && n < sizeof line - 2; k++)
			line[n++] = ": "[k];

		for (k = 0; e[k] && n < sizeof line - 2; k++)
			line[n++] = k == 0 && lower ? (char)(e[k] + 32) : e[k];
	}
	line[n++] = '\n';
	/* stderr may be gone; there is nobody left to tell */
	(void)!write(2, line, n);
}

void
die_(int code, int sys, const char *s, ...)
{
	int err = errno;
	va_list ap;

	va_start(ap, s);
	say("fatal: ", sys, err, s, ap);
	va_end(ap);
	_exit(code);
}

void
warn_(int sys, const char *s, ...)
{
	int err = errno;
	va_list ap;

	va_start(ap, s);
	say("warning: ", sys, err, s, ap);
	va_end(ap);
	errno = err;
}
