/* qfile.c - parsers of the queue files; see qfile.h
 *
 * The input is untrusted: a queue file may be damaged by a crash, a full
 * disk or a careless administrator.  Nothing here allocates.
 */
#include <errno.h>

#include "qfile.h"
#include "str.h"

int
qfile_field(const char *p, size_t n, size_t *pos, const char **f, size_t *fl)
{
	size_t i = *pos, k;

	if (i >= n)
		return 0;
	k = str_chrb(p + i, n - i, 0);
	if (k == n - i)
		return -1;
	*f = p + i;
	*fl = k;
	*pos = i + k + 1;
	return 1;
}

/* number - a tagged decimal field */
static int
number(const char *f, size_t fl, char tag, unsigned long *out)
{
	return fl >= 2 && f[0] == tag && (fl == 2 || f[1] != '0') &&
	    scan_ulong(f + 1, fl - 1, out);
}

int
qfile_info(const char *p, size_t n, struct qinfo *q)
{
	const char *f;
	size_t fl, pos = 0;
	unsigned long t;

	if (qfile_field(p, n, &pos, &f, &fl) != 1 || !number(f, fl, 't', &t))
		return errno = EINVAL, 0;
	q->arrival = (time_t)t;
	if ((unsigned long)q->arrival != t || q->arrival < 0)
		return errno = EINVAL, 0;
	if (qfile_field(p, n, &pos, &f, &fl) != 1 || fl < 1 || f[0] != 'F' ||
	    fl - 1 > QFILE_ADDRMAX || pos != n)
		return errno = EINVAL, 0;
	q->sender = f + 1;
	q->senderlen = fl - 1;
	return 1;
}

int
qfile_rcpt(const char *p, size_t n, size_t *pos, size_t *off, int *done,
    const char **addr, size_t *addrlen)
{
	const char *f;
	size_t fl, at = *pos;
	int r;

	if ((r = qfile_field(p, n, pos, &f, &fl)) != 1)
		return r == 0 ? 0 : (errno = EINVAL, -1);
	if (fl < 1 || (f[0] != 'T' && f[0] != 'D') || fl - 1 > QFILE_ADDRMAX)
		return errno = EINVAL, -1;
	*off = at;
	*done = f[0] == 'D';
	*addr = f + 1;
	*addrlen = fl - 1;
	return 1;
}

int
qfile_status_ok(const char *s, size_t n)
{
	size_t i = 2, d;

	if (n < 5 || (s[0] != '2' && s[0] != '4' && s[0] != '5') || s[1] != '.')
		return 0;
	for (d = 0; i < n && s[i] >= '0' && s[i] <= '9'; i++)
		d++;
	if (d < 1 || d > 3 || i >= n || s[i] != '.')
		return 0;
	for (i++, d = 0; i < n && s[i] >= '0' && s[i] <= '9'; i++)
		d++;
	return d >= 1 && d <= 3 && i == n;
}

int
qfile_bounce(const char *p, size_t n, size_t *pos, struct qbounce *b)
{
	static const char tags[4] = { 'R', 'S', 'M', 'X' };
	const char *f[4];
	size_t fl[4], at = *pos;
	int i, r;

	for (i = 0; i < 4; i++) {
		if ((r = qfile_field(p, n, &at, &f[i], &fl[i])) != 1) {
			if (i == 0 && r == 0)
				return 0;
			/* a torn last record: the crash came mid-append */
			*pos = n;
			return 0;
		}
		if (fl[i] < 1 || f[i][0] != tags[i])
			return errno = EINVAL, -1;
	}
	if (fl[0] - 1 > QFILE_ADDRMAX || fl[2] - 1 > QFILE_ADDRMAX ||
	    fl[3] - 1 > QFILE_TEXTMAX || !qfile_status_ok(f[1] + 1, fl[1] - 1))
		return errno = EINVAL, -1;
	b->rcpt = f[0] + 1, b->rcptlen = fl[0] - 1;
	b->status = f[1] + 1, b->statuslen = fl[1] - 1;
	b->mta = f[2] + 1, b->mtalen = fl[2] - 1;
	b->text = f[3] + 1, b->textlen = fl[3] - 1;
	*pos = at;
	return 1;
}
