/* qpath.c - queue file names; see qpath.h */
#include <dirent.h>
#include <errno.h>
#include <string.h>

#include "auto.h"
#include "qpath.h"

unsigned long
qpath_split(void)
{
	return auto_split ? auto_split : 1;
}

int
qpath(struct str *out, const char *dir, unsigned long id)
{
	int split = !str_equal(dir, "pid") && !str_equal(dir, "bounce");

	out->len = 0;
	if (!str_cats(out, dir) || !str_catc(out, '/'))
		return 0;
	if (split && (!str_catulong(out, id % qpath_split()) || !str_catc(out, '/')))
		return 0;
	return str_catulong(out, id) && str_nul(out);
}

int
qpath_id(const char *name, unsigned long *id)
{
	size_t n = strlen(name), slash = str_rchrb(name, n, '/');

	if (slash < n)
		name += slash + 1, n -= slash + 1;
	/* no leading zeros: one id, one name */
	if (n > 1 && name[0] == '0')
		return 0;
	return scan_ulong(name, n, id);
}

int
qpath_each(const char *dir, void (*fn)(unsigned long id, void *arg), void *arg,
    struct str *where)
{
	struct dirent *de;
	unsigned long s, id;
	DIR *dp;
	int e;

	for (s = 0; s < qpath_split(); s++) {
		where->len = 0;
		if (!str_cats(where, dir) || !str_catc(where, '/') || !str_catulong(where, s) ||
		    !str_nul(where))
			return 0;
		if ((dp = opendir(where->s)) == NULL)
			return -1;
		for (;;) {
			errno = 0;
			if ((de = readdir(dp)) == NULL)
				break;
			if (qpath_id(de->d_name, &id) && id % qpath_split() == s)
				fn(id, arg);
		}
		e = errno;
		(void)closedir(dp);	/* read-only stream */
		if (e) {
			errno = e;
			return -2;
		}
	}
	return 1;
}
