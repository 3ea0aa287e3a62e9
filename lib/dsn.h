/* dsn.h - RFC 3464 delivery status notifications (bounces)
 *
 * dsn_build writes a complete message, LF line ends, ready for
 * qmail-queue: RFC 5322 header, then a multipart/report with a
 * human-readable part, a message/delivery-status part with one block
 * per failed recipient, and the original header as text/rfc822-headers
 * (message/global-headers, RFC 6533, when it has 8-bit bytes).
 * Texts come from other programs and remote hosts: every byte that is
 * not printable ASCII is replaced, and long texts are cut.  The quoted
 * header loses its NUL and other control bytes and is cut at 998 octets
 * a line.  The MIME boundary has 128 random bits, and no quoted line
 * starts with it (RFC 2046 5.1.1).
 */
#ifndef DSN_H
#define DSN_H

#include <stddef.h>
#include <time.h>

#include "qfile.h"
#include "str.h"

#define DSN_HEADMAX 65536	/* bytes of the original header quoted */

struct dsn {
	const char *me;		/* the reporting host (control/me) */
	const char *from;	/* bouncefrom@bouncehost */
	const char *to;		/* the bounce's recipient */
	const char *sender;	/* the failed message's sender ("" for a bounce) */
	time_t now, arrival;
	unsigned long id;	/* the failed message's queue id */
	unsigned long seq;	/* distinguishes bounces made in the same second */
	unsigned long more;	/* failed recipients not in r, said in the text */
	int dbl;		/* 1: a double bounce to the postmaster */
};

/* dsn_build - the bounce for the n records r into out; 1 or 0 with errno
 * (ENOMEM, or what getrandom(2) said) */
int dsn_build(struct str *out, const struct dsn *, const struct qbounce *r, size_t n,
    const char *mess, size_t messlen);
/* dsn_status - an RFC 3463 code for a failure text: the first code the
 * text quotes whose class agrees with perm (5 permanent, 4 temporary),
 * else 5.0.0 or 4.0.0; out gets it NUL-terminated */
void dsn_status(const char *text, size_t n, int perm, char out[16]);

#endif
