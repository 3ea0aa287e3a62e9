/* qpenc.h - message bodies to 7-bit quoted-printable (RFC 2045)
 *
 * qmail-remote uses it when a message holds 8-bit data and the peer did
 * not offer 8BITMIME (RFC 6152), and for a part with a line longer than
 * SMTP may carry (RFC 5321 4.5.3.1.6).  The body is encoded a line at a
 * time (a line may come in pieces); lines are LF-terminated here, the
 * SMTP writer makes them CRLF.
 */
#ifndef QPENC_H
#define QPENC_H

#include <stddef.h>

#include "str.h"

#define QPENC_LINE 76	/* longest encoded line, soft break included */

/* qpenc_piece - append the encoding of p[0..n) to out.  *col is the
 * column the output line is at (0 at the start of a line; carried
 * between pieces of one line).  last: this piece ends the line, so a
 * final space or tab is encoded.  The caller appends the line's "\n"
 * and sets *col to 0.  1 ok, 0 out of memory. */
int qpenc_piece(struct str *out, const char *p, size_t n, size_t *col, int last);

/* qpenc_convertible - whether a body with these header values (the
 * unfolded values of Content-Type and Content-Transfer-Encoding, either
 * may be empty) is a single part that may be re-encoded: not multipart
 * or message, not already base64 or quoted-printable. */
int qpenc_convertible(const char *ct, size_t ctn, const char *cte, size_t cten);

/* The MIME walker: the message is read twice, a line (or piece of a long
 * line) at a time.  The first pass learns which entities (the message,
 * or the parts of multipart bodies, nested up to QPMIME_DEPTH) are
 * single parts that may be re-encoded, and whether their body holds
 * 8-bit bytes or a line longer than QPMIME_LINE; the second pass tells,
 * for every piece, whether to copy it, drop it (the
 * Content-Transfer-Encoding field of a converted part) or encode it as
 * quoted-printable, which lines to add before it, and how a line too
 * long of what is copied may be broken (m->form).  Header fields are
 * never changed otherwise; parts past QPMIME_ENTITIES stay as they
 * are. */
#define QPMIME_DEPTH 8
#define QPMIME_ENTITIES 1024
#define QPMIME_BOUNDARY 70	/* RFC 2046's limit */
#define QPMIME_FIELD 255	/* header value bytes looked at */
#define QPMIME_LINE 998		/* octets of a line SMTP carries, CRLF not
				 * counted (RFC 5321 4.5.3.1.6) */

/* m->form: what a copied piece is, so how a line too long may be broken */
#define QPMIME_TEXT 0		/* a header, or text: fold it */
#define QPMIME_QP 1		/* a quoted-printable body: a soft line break */
#define QPMIME_BASE64 2		/* a base64 body: any line break */

#define QPMIME_COPY 0
#define QPMIME_DROP 1
#define QPMIME_ENCODE 2

/* lines to put before the piece (bits of *add) */
#define QPMIME_ADD_CTE 1	/* "Content-Transfer-Encoding: quoted-printable" */
#define QPMIME_ADD_MIMEVER 2	/* "MIME-Version: 1.0" */
#define QPMIME_ADD_BLANK 4	/* an empty line: the header ended without one */

struct qpmime {
	int rewrite;		/* 0 first pass, 1 second */
	int inhead, first, cur, drop, inleaf, conv, mimever;
	int form;		/* second pass: QPMIME_TEXT, _QP or _BASE64 */
	int bodyform;		/* the form of the current entity's body */
	size_t entity, depth;
	size_t col;		/* octets of the current line so far */
	char bnd[QPMIME_DEPTH][QPMIME_BOUNDARY + 1];
	size_t bndn[QPMIME_DEPTH];
	char ct[QPMIME_FIELD + 1], cte[QPMIME_FIELD + 1];
	size_t ctn, cten;
	int has8;		/* learned: an 8-bit byte anywhere */
	int any;		/* learned: an entity that may be re-encoded has 8-bit bytes */
	int longline;		/* learned: a line anywhere is longer than QPMIME_LINE */
	int convany;		/* second pass: some entity is converted */
	unsigned char okbit[QPMIME_ENTITIES / 8];	/* may be re-encoded */
	unsigned char bit8[QPMIME_ENTITIES / 8];	/* body has 8-bit bytes */
	unsigned char longbit[QPMIME_ENTITIES / 8];	/* body has a line too long */
	unsigned char convbit[QPMIME_ENTITIES / 8];	/* second pass: converted */
};

/* qpmime_init - before the first pass */
void qpmime_init(struct qpmime *);
/* qpmime_rewind - after the first pass, before the second (which may be
 * made more than once): the entities that may be re-encoded are, when
 * their body has a line too long, or (conv8) 8-bit bytes */
void qpmime_rewind(struct qpmime *, int conv8);
/* qpmime_piece - one piece p[0..n) without its LF; bol: it starts a
 * line.  Returns QPMIME_COPY, _DROP or _ENCODE (the first pass: always
 * COPY) and sets *add. */
int qpmime_piece(struct qpmime *, const char *p, size_t n, int bol, unsigned *add);

/* qpenc_field - when line (one header line) starts field name (any
 * case), the offset of the value after the colon and blanks; else 0 */
size_t qpenc_field(const char *line, size_t n, const char *name);

#endif
