/* qpath.c - queue file names; see qpath.h */
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
