/* qfile.h - the queue files qmail-send keeps (see lanmail-queue(5))
 *
 * (todo/ files are qmail-queue's: see envelope.h)
 *	info/S/ID	"t" arrival-time NUL "F" sender NUL
 *	local/S/ID	("T" or "D" address NUL)+; T pending, D done
 *	remote/S/ID	the same
 *	bounce/ID	("R" rcpt NUL "S" status NUL "M" mta NUL "X" text NUL)*
 *
 * Queue files are read as hostile input: every parser checks tags,
 * lengths and terminators and never reads past n.  Parsers return 1 for
 * a well-formed file, 0 (errno EINVAL) for a malformed one.
 */
#ifndef QFILE_H
#define QFILE_H

#include <stddef.h>
#include <time.h>

#define QFILE_ADDRMAX 1000	/* bytes in one address, as qmail-queue */
#define QFILE_TEXTMAX 1000	/* bytes of text in one bounce record */

/* qfile_field - the next NUL-terminated field at *pos in p[0..n): 1 with
 * f and fl set (fl excludes the NUL) and *pos moved past it, 0 at the end,
 * -1 when the remaining bytes lack a NUL */
int qfile_field(const char *p, size_t n, size_t *pos, const char **f, size_t *fl);

struct qinfo {
	time_t arrival;
	const char *sender;
	size_t senderlen;
};
int qfile_info(const char *p, size_t n, struct qinfo *);

/* qfile_rcpt - next record of a local/ or remote/ file: 1 with *done,
 * the address and its offset (where the T or D is), 0 at the end, -1 bad */
int qfile_rcpt(const char *p, size_t n, size_t *pos, size_t *off, int *done,
    const char **addr, size_t *addrlen);

struct qbounce {
	const char *rcpt, *status, *mta, *text;
	size_t rcptlen, statuslen, mtalen, textlen;
};
/* qfile_bounce - next complete record: 1, 0 at the end (an incomplete last
 * record, left by a crash while appending, counts as the end), -1 bad */
int qfile_bounce(const char *p, size_t n, size_t *pos, struct qbounce *);
/* qfile_status_ok - s[0..n) is an RFC 3463 code "c.sss.ddd", c 2, 4 or 5 */
int qfile_status_ok(const char *s, size_t n);

#endif
