/* dkim.h - the parts of DKIM (RFC 6376) that need no cryptography:
 * tag lists, the header fields of a message, and canonicalisation
 *
 * qmail-dkim (signing) and qmail-dkimverify (verifying) hash what these
 * functions produce.  Every input is untrusted: DKIM-Signature fields
 * come from anyone, key records from anyone's DNS.  Messages are in the
 * queue's form: each LF is a line end (CRLF on the wire), and any CR is
 * text, as qmail-remote sends it.
 */
#ifndef DKIM_H
#define DKIM_H

#include <stddef.h>

#include "str.h"

/* one tag=value of a tag list; offsets into the parsed text */
struct dkim_tag {
	size_t name, namelen;
	size_t val, vallen;	/* the value without surrounding white space */
	size_t rawval, rawend;	/* everything between '=' and ';' or the end */
};

#define DKIM_TAGS_MAX 64

/* dkim_tags - parse a tag list (RFC 6376 3.2) in p[0..n) into t (room
 * for max); 1 ok (*count set), 0 malformed: a bad tag name, a missing
 * '=', a character outside the value syntax, a tag given twice, more
 * than max tags */
int dkim_tags(const char *p, size_t n, struct dkim_tag *t, size_t max, size_t *count);
/* dkim_tag - the tag named name among t[0..count), or NULL */
const struct dkim_tag *dkim_tag(const char *p, const struct dkim_tag *t, size_t count, const char *name);

/* the header fields of a message: each field with its continuation
 * lines, offsets into the message */
struct dkim_field {
	size_t start, len;	/* including the final line end */
	size_t namelen;		/* the name before ':' (trailing blanks trimmed) */
};

#define DKIM_FIELDS_MAX 1000

/* dkim_field_next - the header field of msg[0..n) at *pos into f, *pos
 * moved past it; 0 at the end of the header, *pos then the offset of
 * the body (after the empty line, or n).  Needs no room: for headers of
 * any number of fields. */
int dkim_field_next(const char *msg, size_t n, size_t *pos, struct dkim_field *f);

/* dkim_fields - split the header of msg[0..n) into f (room for max);
 * *body is the offset of the body (after the empty line, or n).  0 when
 * there are more than max fields (errno E2BIG). */
int dkim_fields(const char *msg, size_t n, struct dkim_field *f, size_t max, size_t *count, size_t *body);

/* dkim_canon_header - field p[0..n) canonicalised, appended to out with
 * CRLF: relaxed (RFC 6376 3.4.2) when relaxed, else simple (3.4.1,
 * only the line ends made CRLF).  0 with errno on ENOMEM. */
int dkim_canon_header(const char *p, size_t n, int relaxed, struct str *out);

/* dkim_select - the signed header data: for each name in the colon
 * separated list h[0..hn), the next unused field of that name from the
 * bottom (RFC 6376 5.4.2), canonicalised and appended to out; names
 * with no field left add nothing.  0 with errno (ENOMEM, E2BIG). */
int dkim_select(const char *msg, const struct dkim_field *f, size_t count,
    const char *h, size_t hn, int relaxed, struct str *out);

/* body canonicalisation, fed in pieces of any size.  The output goes
 * to put through a buffer of DKIM_BODY_BUF bytes, so that the memory
 * used does not grow with the body: a run of empty lines is only
 * counted until content follows it, then written out piece by piece. */
typedef int dkim_put(void *ctx, const char *p, size_t n);	/* 1 ok, 0 failed */

#define DKIM_BODY_BUF 4096

struct dkim_body {
	int relaxed;
	int wsp;		/* relaxed: blanks wait */
	int inline_;		/* the current line has content */
	int any;		/* simple: a line was written */
	unsigned long long blank;	/* empty lines held back */
	dkim_put *put;
	void *ctx;
	size_t len;		/* bytes of buf not yet put */
	char buf[DKIM_BODY_BUF];
};

/* dkim_body_init - a new body, canonicalised relaxed or simple, the
 * output to put(ctx, ...) */
void dkim_body_init(struct dkim_body *, int relaxed, dkim_put *put, void *ctx);
/* dkim_body_feed - the next n bytes of the body (LF line ends); 1, or
 * 0 when put failed */
int dkim_body_feed(struct dkim_body *, const char *p, size_t n);
/* dkim_body_end - the body is complete: the rest of the output put;
 * 1, or 0 when put failed */
int dkim_body_end(struct dkim_body *);

/* dkim_addr_domain - the domain of the (first) address in a From
 * field's value p[0..n), lower-cased into out; 0 when there is none */
int dkim_addr_domain(const char *p, size_t n, struct str *out);

/* dkim_domain_ok - 1 when d[0..n) is a plausible domain name for a
 * file name: letters, digits, '-', '.', no leading dot, no "..", 1..253 */
int dkim_domain_ok(const char *d, size_t n);

#endif
