/* authres.h - Authentication-Results fields (RFC 8601) that speak for us
 *
 * An MTA must delete, from mail entering its domain, every
 * Authentication-Results field whose authserv-id is its own (RFC 8601
 * section 5): only it may speak for itself.  authres_ours tells whether
 * a field names us; struct authres_strip removes every such field from
 * a message header as the message streams past, cut into chunks
 * anywhere.  Both read untrusted input: whatever a client wrote.
 */
#ifndef AUTHRES_H
#define AUTHRES_H

#include <stddef.h>

/* bytes of one Authentication-Results field held until its
 * authserv-id is known: a field whose id has not ended by then is
 * dropped as ours (no honest field hides its id that far in) */
#define AUTHRES_HOLD 8192

/* authres_ours - does the Authentication-Results field f[0..n) (name,
 * colon and value, folded with LF or CRLF) name me[0..melen) as its
 * authserv-id?  It is read the way a reader of the field might: after
 * comments (nested, with quoted pairs) and folding white space, a token
 * or a quoted string (quoted pairs and folding inside undone, blanks at
 * its ends ignored), in any case; whatever follows the id does not
 * hide it.  A field with no id that can be read (a comment or a quote
 * left open, nothing before the ';') names me when me occurs anywhere
 * in its value, as a less careful reader might see it there.
 * 1 yes, 0 no.  With partial set, f holds only the first n bytes of a
 * longer field: -1 when they do not tell. */
int authres_ours(const char *f, size_t n, const char *me, size_t melen, int partial);

/* where authres_strip sends the bytes it keeps: 1 ok, 0 failed (errno) */
typedef int authres_put(void *ctx, const char *p, size_t n);

struct authres_strip {
	const char *me;
	size_t melen;
	int state;
	int field;		/* what the current field's next line joins */
	size_t name;		/* bytes of the field name matched so far */
	size_t held;		/* bytes of hold in use */
	unsigned long removed;	/* fields removed so far */
	char hold[AUTHRES_HOLD];
};

/* authres_strip_init - a new message whose header is to lose the
 * fields naming me[0..melen) (which must stay valid while it is used) */
void authres_strip_init(struct authres_strip *, const char *me, size_t melen);

/* authres_strip_feed - the next n bytes of the message, LF-ended lines:
 * every byte but those of the fields to go reaches put, in order, some
 * of them later (a field is held until its end shows whether it goes).
 * Only the header, up to the first empty line, is looked at.  1 ok, 0
 * when put failed. */
int authres_strip_feed(struct authres_strip *, const char *in, size_t n, authres_put *put, void *ctx);

/* authres_strip_end - the message is complete: what is still held goes
 * to put, unless it goes.  1 ok, 0 when put failed. */
int authres_strip_end(struct authres_strip *, authres_put *put, void *ctx);

#endif
