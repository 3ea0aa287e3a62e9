/* listcmd.h - the command addresses of a qmail-list mailing list, and
 * the message headers qmail-list reads and rewrites
 *
 * Mail to LIST-WORD@DOMAIN reaches qmail-list through the list owner's
 * .qmail-LIST-default with WORD in $DEFAULT.  WORD comes from anyone on
 * the network: listcmd_parse takes it apart without trusting it.  The
 * forms (command words in any case):
 *	help  subscribe  unsubscribe  get.N
 *	return-ADDR                   a bounce of a post (VERP)
 *	sc.TIME.COOKIE-ADDR           confirm a subscription
 *	uc.TIME.COOKIE-ADDR           confirm an unsubscription
 *	probe.TIME.COOKIE-ADDR        a bounce of a probe
 *	accept.ID.COOKIE  reject.ID.COOKIE   a moderator's answer
 * ADDR is an address written local=domain (qmail's VERP form; the last
 * '=' separates), COOKIE is lower-case hex.
 */
#ifndef LISTCMD_H
#define LISTCMD_H

#include <stddef.h>

#include "str.h"

enum {
	LISTCMD_BAD, LISTCMD_HELP, LISTCMD_SUB, LISTCMD_UNSUB, LISTCMD_GET,
	LISTCMD_RETURN, LISTCMD_SUBCONF, LISTCMD_UNSUBCONF, LISTCMD_PROBE,
	LISTCMD_ACCEPT, LISTCMD_REJECT
};

#define LISTCMD_MAX 1000	/* bytes of a command word */
#define LISTCMD_COOKIEMAX 64	/* hex digits of a cookie */

struct listcmd {
	int cmd;
	unsigned long num;	/* get.N, the TIME or the ID of a cookie form */
	const char *cookie;	/* inside the input, hex; cookielen 0 when none */
	size_t cookielen;
	const char *addr;	/* inside the input, local=domain; addrlen 0 when none */
	size_t addrlen;
};

/* listcmd_parse - n bytes of a command word; 1 with *c filled, 0 when the
 * word is no command (c->cmd is then LISTCMD_BAD) */
int listcmd_parse(const char *, size_t n, struct listcmd *c);

/* listcmd_addrok - n bytes are a plausible subscriber address: one
 * local@domain, printable, no blanks, no '/' in the domain, at most 320 */
int listcmd_addrok(const char *, size_t n);

/* listcmd_encode - local@domain as local=domain appended to out; 0 with
 * errno (EINVAL when the address is not listcmd_addrok) */
int listcmd_encode(struct str *out, const char *, size_t n);
/* listcmd_decode - local=domain as local@domain appended to out; 0 with
 * errno EINVAL when the result would not be listcmd_addrok */
int listcmd_decode(struct str *out, const char *, size_t n);

/* Messages (posts and commands) are untrusted too: LF line ends, any
 * bytes, possibly no blank line and no final newline. */

/* listcmd_headerlen - bytes of the header including its blank line; all
 * n when there is no blank line */
size_t listcmd_headerlen(const char *m, size_t n);
/* listcmd_field - the value of the first field called name (no colon)
 * in the header's hn bytes, unfolded, blanks trimmed, as a C string in
 * out: 1 found, 0 not found (out empty), -1 out of memory */
int listcmd_field(const char *m, size_t hn, const char *name, struct str *out);
/* listcmd_fieldnext - the same for the first such field at or after
 * offset *pos (a line start; 0 for the first), *pos then moved past it,
 * so that a loop sees every field of that name */
int listcmd_fieldnext(const char *m, size_t hn, size_t *pos, const char *name, struct str *out);
/* listcmd_has - needle (nn bytes) inside hay (n bytes), in any case */
int listcmd_has(const char *hay, size_t n, const char *needle, size_t nn);
/* listcmd_copy - the post m as a list sends it, appended to out: its
 * header less the Return-Path, List-* and Precedence fields (with their
 * folded lines), the Subject with prefix and a space in front unless it
 * holds prefix already anywhere in its unfolded value (a Subject of
 * prefix alone when there is none; pn 0: subjects untouched), every
 * line ended, a blank line, the body ended by a newline.  1, or 0 out
 * of memory */
int listcmd_copy(struct str *out, const char *m, size_t n, const char *prefix, size_t pn);

#endif
