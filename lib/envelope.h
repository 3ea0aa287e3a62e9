/* envelope.h - strict parsers of the two envelope forms
 *
 * (a) qmail-queue's input on descriptor 1 (qmail-queue(8)):
 *	"F" sender NUL, then "T" recipient NUL for each recipient, then a
 *	final NUL, and nothing after it.
 * (b) a committed queue/todo/ file (lanmail-queue(5)):
 *	"u" uid NUL "p" pid NUL "F" sender NUL ("T" recipient NUL)+,
 *	with no final NUL; uid and pid are decimal, no leading zeros.
 *
 * Both are untrusted.  Each form needs at least one recipient; an
 * address (sender or recipient, without its letter and NUL) holds at most
 * ENVELOPE_ADDR_MAX bytes, any byte but NUL; at most ENVELOPE_RCPT_MAX
 * recipients.  Nothing is copied or allocated: on success the struct
 * points into the caller's buffer, which must outlive it.
 *
 * The parsers return ENVELOPE_OK (0) or one of the errors below; the
 * checks run from the start of the buffer, so the first defect found
 * decides.  An address too long (or too many recipients) is reported as
 * soon as it is seen, even in a buffer cut short, so a reader that stops
 * after ENVELOPE_MAX + 1 bytes still learns the right reason.
 */
#ifndef ENVELOPE_H
#define ENVELOPE_H

#include <stddef.h>

#define ENVELOPE_ADDR_MAX 1000UL
#define ENVELOPE_RCPT_MAX 100000UL
/* the largest well-formed form (a): F record, every T record, final NUL */
#define ENVELOPE_MAX ((ENVELOPE_ADDR_MAX + 2) * (ENVELOPE_RCPT_MAX + 1) + 1)

enum {
	ENVELOPE_OK = 0,
	ENVELOPE_NOSENDER,	/* does not start with an F record */
	ENVELOPE_NORCPT,	/* no T record */
	ENVELOPE_BADRECORD,	/* a record other than T after F */
	ENVELOPE_NOEND,		/* ends inside a record, or (a) lacks its final NUL */
	ENVELOPE_TRAILING,	/* (a) bytes after the final NUL; (b) a final NUL */
	ENVELOPE_TOOLONG,	/* an address over ENVELOPE_ADDR_MAX bytes */
	ENVELOPE_TOOMANY,	/* more than ENVELOPE_RCPT_MAX recipients */
	ENVELOPE_BADHEAD	/* (b) the u or p record is missing or not a number */
};

struct envelope {
	unsigned long uid;	/* (b) only; 0 for (a) */
	unsigned long pid;	/* (b) only; 0 for (a) */
	const char *sender;	/* sender address, not NUL-terminated here ... */
	size_t senderlen;	/* ... but sender[senderlen] is its NUL */
	const char *rcpts;	/* the first T record (its 'T') */
	size_t rcptslen;	/* bytes of all T records, NULs included */
	unsigned long nrcpt;	/* number of T records, >= 1 */
};

/* envelope_parse_queue - form (a): p[0..n) is everything read from fd 1 */
int envelope_parse_queue(struct envelope *, const char *p, size_t n);
/* envelope_parse_todo - form (b): p[0..n) is the whole todo/ file */
int envelope_parse_todo(struct envelope *, const char *p, size_t n);

/* envelope_next - the recipients in order: set *pos = 0, then each call
 * gives one address (not NUL-terminated, addr[len] is NUL) and returns
 * 1, or 0 after the last.  Only for a struct a parser accepted. */
int envelope_next(const struct envelope *, size_t *pos, const char **addr, size_t *len);

/* envelope_strerror - a short English reason for a parser result */
const char *envelope_strerror(int);

#endif
