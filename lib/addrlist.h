/* addrlist.h - the mailboxes of an RFC 5322 address list
 *
 * The body of a To, Cc, Bcc, From, Reply-To ... field, folded lines
 * included, read as hostile input: comments (nested), quoted strings,
 * domain literals, display names with <angle addresses>, obsolete source
 * routes ("<@a,@b:u@c>") and groups ("team: a@x, b@y;") are understood.
 * Empty list members (",,") and an empty "<>" are skipped.
 *
 * For every mailbox, in order, the caller's function gets its addr-spec
 * as the SMTP envelope carries it (no comments, no white space, the
 * quotes and quoted-pairs of a quoted local part removed) and where in
 * the field its local part and its domain end, so that an unqualified
 * address can be completed in place.
 */
#ifndef ADDRLIST_H
#define ADDRLIST_H

#include <stddef.h>

struct addrlist_addr {
	const char *addr;	/* local part, then '@' and domain when there is one */
	size_t len;		/* bytes of addr; addr[len] is NUL */
	size_t locallen;	/* bytes of the local part */
	int has_domain;		/* an '@' and a domain followed the local part */
	int literal;		/* the domain is a [literal] */
	size_t localend;	/* field offset just past the local part's last token */
	size_t domend;		/* field offset just past the domain (has_domain) */
};

/* addrlist_parse - fn(arg, mailbox) for each mailbox of p[0..n) in
 * order.  1 when the whole field is an address list; 0 with errno EINVAL
 * when it is not (an unterminated comment, quote, literal or <, a word
 * where none may be, an '@' with no domain, a control byte), or ENOMEM;
 * a function returning 0 stops the walk, and then 0 is returned with the
 * function's errno.  Mailboxes before a defect have already been given. */
int addrlist_parse(const char *p, size_t n, int (*fn)(void *, const struct addrlist_addr *), void *arg);

#endif
