/* smtpreply.h - parsing the replies of an SMTP server (RFC 5321 4.2)
 *
 * Client side: the reply lines come from a remote server and are
 * untrusted.  A reply is one or more lines "ddd-text" ending with a line
 * "ddd text" (or just "ddd"); every line carries the same code.  Feed the
 * lines one by one to smtpreply_line; the text kept is bounded (longer
 * replies are cut, still parsed to their end).  For an EHLO reply the
 * extensions lanmail uses are collected as the lines go by.
 */
#ifndef SMTPREPLY_H
#define SMTPREPLY_H

#include <stddef.h>

#include "str.h"

#define SMTPREPLY_TEXT_MAX 2048	/* bytes of reply text kept */
#define SMTPREPLY_LINES_MAX 200	/* lines in one reply before it is junk */

/* extensions seen in an EHLO reply */
#define SMTPEXT_PIPELINING 1
#define SMTPEXT_8BITMIME 2
#define SMTPEXT_SIZE 4
#define SMTPEXT_STARTTLS 8
#define SMTPEXT_AUTHPLAIN 16	/* AUTH offered with the PLAIN mechanism */
#define SMTPEXT_AUTHLOGIN 32	/* ... with LOGIN */
#define SMTPEXT_SMTPUTF8 64	/* RFC 6531 */

struct smtpreply {
	unsigned code;		/* 200..599 once the first line is in */
	size_t lines;		/* lines so far */
	unsigned ext;		/* SMTPEXT_ bits (EHLO replies) */
	unsigned long size;	/* the SIZE limit offered, 0 none */
	struct str text;	/* the lines, "ddd-..." joined by '\n', no CR */
};

#define SMTPREPLY_ZERO { 0, 0, 0, 0, STR_ZERO }

/* smtpreply_start - forget the previous reply (the memory is kept) */
void smtpreply_start(struct smtpreply *);
/* smtpreply_line - one line, with or without its CRLF or LF.
 * 1 the reply is complete, 0 more lines follow, -1 malformed (errno
 * EPROTO: bad code, code changed, too many lines) or out of memory. */
int smtpreply_line(struct smtpreply *, const char *, size_t);
void smtpreply_free(struct smtpreply *);

#endif
