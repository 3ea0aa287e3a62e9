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
 * a line, and at DSN_HEADMAX bytes in all (see struct dsn_head).  The
 * MIME boundary has 128 random bits, and no quoted line starts with it
 * (RFC 2046 5.1.1).
 */
#ifndef DSN_H
#define DSN_H

#include <stddef.h>
#include <time.h>

#include "qfile.h"
#include "str.h"

#define DSN_HEADMAX 65536	/* bytes of the original header quoted */
#define DSN_KEEPROOM 1024	/* kept back for each of From, To, Subject, Date
				 * and Message-ID until it is quoted */

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

/* The failed message's header, quoted as it is read, in memory that does
 * not grow with it: the whole header is read (the lines up to the first
 * empty one), each line cut at 998 octets (RFC 5322 2.1.1), and whole
 * fields kept in order while they fit DSN_HEADMAX bytes.  When that cap
 * bites, the fields after the cut are left out (of a field cut there,
 * its continuation lines), except the first From, To, Subject, Date and
 * Message-ID: DSN_KEEPROOM bytes are kept back for each of them until it
 * comes, so that its first line is always quoted.  A line that is empty
 * once its control bytes are gone is left out, so the quoted header
 * never ends early. */
struct dsn_head {
	struct str out;		/* the header quoted so far */
	struct str field;	/* the field being read, quoted */
	size_t whole;		/* bytes of field in whole lines */
	size_t col;		/* octets of the current line in field */
	unsigned taken;		/* of From, To, ...: those quoted (bits) */
	int state;		/* where in a line the next byte is */
	int over;		/* field is past DSN_HEADMAX: its other lines dropped */
	int full;		/* a field was cut: no more but the five */
	int ended;		/* the empty line was read */
};

void dsn_head_init(struct dsn_head *);
/* dsn_head_add - the next n bytes of the message; 1 more header is
 * wanted, 0 the header has ended (the rest is body), -1 ENOMEM */
int dsn_head_add(struct dsn_head *, const char *p, size_t n);
/* dsn_head_end - no more bytes (the end of the message, or of what could
 * be read): the last field is taken; 1, or 0 ENOMEM */
int dsn_head_end(struct dsn_head *);
void dsn_head_free(struct dsn_head *);

/* dsn_report - the bounce for the n records r, quoting h (ended), into
 * out; 1 or 0 with errno (ENOMEM, or what getrandom(2) said) */
int dsn_report(struct str *out, const struct dsn *, const struct qbounce *r, size_t n,
    const struct dsn_head *h);
/* dsn_build - dsn_report, quoting the header of mess[0..messlen) */
int dsn_build(struct str *out, const struct dsn *, const struct qbounce *r, size_t n,
    const char *mess, size_t messlen);
/* dsn_status - an RFC 3463 code for a failure text: the first code the
 * text quotes whose class agrees with perm (5 permanent, 4 temporary),
 * else 5.0.0 or 4.0.0; out gets it NUL-terminated */
void dsn_status(const char *text, size_t n, int perm, char out[16]);

#endif
