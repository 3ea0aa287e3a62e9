/* date822.h - RFC 5322 dates: "Sat, 28 Nov 2026 17:16:59 +0100" */
#ifndef DATE822_H
#define DATE822_H

#include <stddef.h>
#include <time.h>

#define DATE822_LEN 40

/* date822_fmt - t in local time with its numeric offset, NUL-terminated;
 * returns the length */
size_t date822_fmt(char buf[DATE822_LEN], time_t t);

#endif
