/* smtpcmd.h - SMTP command lines: parsed as a server receives them,
 * and the path of MAIL FROM / RCPT TO written as a client sends it
 *
 * The parsers read client input and trust none of it.  A command
 * line is read up to and including LF; smtpcmd_check decides whether it
 * is a proper CRLF-ended line, smtpcmd_verb names the command, and
 * smtpcmd_path takes the <path> of MAIL FROM and RCPT TO apart, with the
 * ESMTP parameters after it read by smtpcmd_param.  smtpcmd_pathcat
 * undoes what smtpcmd_path removed: the quotes a local part needs.
 */
#ifndef SMTPCMD_H
#define SMTPCMD_H

#include <stddef.h>

#include "str.h"

/* smtpcmd_check results */
#define SMTPCMD_OK 0
#define SMTPCMD_BARELF 1	/* LF without CR before it (or no LF at all) */
#define SMTPCMD_BARECR 2	/* CR not followed by LF */
#define SMTPCMD_NUL 3		/* a NUL byte */

/* smtpcmd_check - a line as read, LF included; SMTPCMD_OK and *len set
 * to its length without CRLF, or the first problem found */
int smtpcmd_check(const char *s, size_t n, size_t *len);

enum smtpverb {
	SMTP_UNKNOWN, SMTP_HELO, SMTP_EHLO, SMTP_MAIL, SMTP_RCPT, SMTP_DATA,
	SMTP_RSET, SMTP_NOOP, SMTP_QUIT, SMTP_VRFY, SMTP_HELP, SMTP_AUTH,
	SMTP_EXPN, SMTP_STARTTLS, SMTP_EMPTY
};

/* smtpcmd_verb - the command of a checked line (CRLF removed); *arg is
 * the offset of its argument (after the verb and its blanks).  For MAIL
 * and RCPT *arg points past "FROM:" / "TO:" and any blanks; without
 * them it is n (an empty argument, which the caller refuses). */
enum smtpverb smtpcmd_verb(const char *s, size_t n, size_t *arg);

#define SMTPADDR_MAX 1000	/* bytes in one address, as qmail-queue allows */

/* smtpcmd_path results */
#define SMTPPATH_OK 0
#define SMTPPATH_SYNTAX 1	/* not a path */
#define SMTPPATH_LONG 2		/* longer than SMTPADDR_MAX */
#define SMTPPATH_CTRL 3		/* control character or blank in the address */

/* smtpcmd_path - "<local@domain> params" (brackets optional, a source
 * route "<@a,@b:local@domain>" skipped, with *route set to 1) into addr:
 * quotes and backslash escapes of a quoted local part removed, no NUL
 * added.  *rest is the offset of the parameters (blanks skipped). */
int smtpcmd_path(const char *s, size_t n, struct str *addr, size_t *rest, int *route);

/* smtpcmd_param - the next "KEY[=VALUE]" of s[*pos..n): 1 with offsets
 * and lengths set and *pos advanced past it and the blanks after,
 * 0 when none is left */
int smtpcmd_param(const char *s, size_t n, size_t *pos, size_t *key, size_t *klen,
    size_t *val, size_t *vlen);

/* the bytes RFC 5322 allows in an atom besides letters and digits */
#define SMTPCMD_ATEXT "!#$%&'*+-/=?^_`{|}~"

/* smtpcmd_dotted - b[0..n) is words between single dots, none first or
 * last, of letters, digits, the bytes of more and (with high) bytes
 * beyond ASCII: a Dot-string with SMTPCMD_ATEXT, a host name with "-_" */
int smtpcmd_dotted(const char *b, size_t n, const char *more, int high);

/* smtpcmd_pathcat - the envelope address a[0..n) (as smtpcmd_path and
 * the queue keep it: unquoted) appended to out as it goes between < and
 * > (RFC 5321 4.1.2): a local part (before the last '@', or all of a
 * without one) that is no Dot-string becomes a Quoted-string, '"' and
 * backslash escaped; the domain and the null address stay as they are.
 * Bytes beyond ASCII count as atext (RFC 6531).  a must hold no control
 * character: a Quoted-string cannot carry one.  1, or 0 with errno (and
 * part of it appended). */
int smtpcmd_pathcat(struct str *out, const char *a, size_t n);

#endif
