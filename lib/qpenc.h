/* qpenc.h - 8-bit message bodies to 7-bit quoted-printable (RFC 2045)
 *
 * qmail-remote uses it when a message holds 8-bit data and the peer did
 * not offer 8BITMIME (RFC 6152).  The body is encoded a line at a time
 * (a line may come in pieces); lines are LF-terminated here, the SMTP
 * writer makes them CRLF.
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

/* qpenc_field - when line (one header line) starts field name (any
 * case), the offset of the value after the colon and blanks; else 0 */
size_t qpenc_field(const char *line, size_t n, const char *name);

#endif
