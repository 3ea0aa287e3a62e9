/* pop3.h - the POP3 protocol pieces shared by qmail-popup and qmail-pop3d
 * (RFC 1939, RFC 2449, RFC 5034)
 *
 * Command lines come from the network and are untrusted; message files
 * are converted to the wire form (CRLF line ends, a '.' doubled at the
 * start of a line, ".\r\n" at the end) without trusting their shape.
 */
#ifndef POP3_H
#define POP3_H

#include <stddef.h>

#include "buf.h"

/* longest command line, CRLF included (RFC 2449 allows 255 octets; SASL
 * responses are longer) */
#define POP3_LINEMAX 512

enum {
	POP3_UNKNOWN, POP3_USER, POP3_PASS, POP3_APOP, POP3_AUTH, POP3_CAPA,
	POP3_QUIT, POP3_STAT, POP3_LIST, POP3_UIDL, POP3_RETR, POP3_TOP,
	POP3_DELE, POP3_NOOP, POP3_RSET, POP3_STLS, POP3_LAST
};

struct pop3_cmd {
	int cmd;		/* POP3_* */
	const char *arg;	/* after the keyword and one space; "" if none */
	size_t arglen;
};

/* pop3_parse - one command line with its line end (CRLF or LF) already
 * removed: 1 parsed (cmd may be POP3_UNKNOWN), 0 malformed (empty, NUL
 * or other control bytes, keyword not followed by a single space).  A
 * tab is a control byte too, except in the argument of PASS, which is
 * the rest of the line whatever it holds. */
int pop3_parse(const char *line, size_t n, struct pop3_cmd *c);

/* pop3_num - a message number: decimal digits only, at least 1, at
 * most max; 1 or 0 */
int pop3_num(const char *s, size_t n, unsigned long max, unsigned long *out);

/* pop3_two - "N M" for TOP: 1 with both, 0 malformed */
int pop3_two(const char *s, size_t n, unsigned long max, unsigned long *msg,
    unsigned long *lines);

/* pop3_plain - a decoded SASL PLAIN response authzid NUL authcid NUL
 * passwd: 1 with the three parts, 0 malformed (not exactly two NULs,
 * empty authcid) */
int pop3_plain(const char *s, size_t n, const char **authz, size_t *authzlen,
    const char **user, size_t *userlen, const char **pass, size_t *passlen);

/* pop3_uidl - a unique-id for a Maildir file name: the name before its
 * ":2," flags when that is 1 to 70 printable characters, else a hash of
 * it, or of the whole name when nothing comes before the ':'; out must
 * have room for 71 bytes; returns the length */
size_t pop3_uidl(const char *name, size_t n, char out[71]);

/* the wire form of a message, chunk by chunk */
struct pop3_wire {
	int bol;		/* at the start of a line */
	int cr;			/* the last byte written was CR */
	int body;		/* past the empty line ending the header */
	size_t linelen;		/* bytes of the current line, CR not counted */
	int top;		/* TOP: stop after lines body lines */
	unsigned long lines;
	int stop;		/* TOP limit reached */
};

void pop3_wire_init(struct pop3_wire *, int top, unsigned long lines);
/* pop3_wire_put - convert and append n bytes to out; 1, 0 write error */
int pop3_wire_put(struct pop3_wire *, const char *p, size_t n, struct buf *out);
/* pop3_wire_end - finish the last line and add ".\r\n"; 1, 0 write error */
int pop3_wire_end(struct pop3_wire *, struct buf *out);
/* the size RETR sends, less dot-stuffing and terminator: maildir_crlf
 * in maildir.h */

#endif
