/* date822.c - RFC 5322 date-time; see date822.h */
#include <string.h>

#include "date822.h"
#include "str.h"

static const char days[] = "SunMonTueWedThuFriSat";
static const char months[] = "JanFebMarAprMayJunJulAugSepOctNovDec";

static size_t
two(char *p, int v)
{
	p[0] = (char)('0' + v / 10 % 10);
	p[1] = (char)('0' + v % 10);
	return 2;
}

size_t
date822_fmt(char buf[DATE822_LEN], time_t t)
{
	struct tm tm;
	long off;
	size_t n = 0;

	/* RFC 5322 wants a year of four digits; a time outside 0000-9999
	 * (or one localtime cannot convert) becomes the epoch */
	if (localtime_r(&t, &tm) == NULL || tm.tm_year < -1900 || tm.tm_year > 9999 - 1900) {
		memset(&tm, 0, sizeof tm);
		tm.tm_mday = 1;
		tm.tm_wday = 4;	/* 1 Jan 1970 was a Thursday */
		tm.tm_year = 70;
	}
	off = tm.tm_gmtoff / 60;
	memcpy(buf + n, days + 3 * (tm.tm_wday % 7), 3), n += 3;
	buf[n++] = ',';
	buf[n++] = ' ';
	n += fmt_ulong(buf + n, (unsigned long)tm.tm_mday);
	buf[n++] = ' ';
	memcpy(buf + n, months + 3 * (tm.tm_mon % 12), 3), n += 3;
	buf[n++] = ' ';
	n += two(buf + n, (tm.tm_year + 1900) / 100);
	n += two(buf + n, (tm.tm_year + 1900) % 100);
	buf[n++] = ' ';
	n += two(buf + n, tm.tm_hour);
	buf[n++] = ':';
	n += two(buf + n, tm.tm_min);
	buf[n++] = ':';
	n += two(buf + n, tm.tm_sec);
	buf[n++] = ' ';
	buf[n++] = off < 0 ? '-' : '+';
	if (off < 0)
		off = -off;
	n += two(buf + n, (int)(off / 60 % 100));
	n += two(buf + n, (int)(off % 60));
	buf[n] = 0;
	return n;
}
