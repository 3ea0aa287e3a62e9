/* smtpdata.h - the DATA state machine of an SMTP server
 *
 * Bytes from the client after "354" go through smtpdata_feed, which
 * removes dot-stuffing, turns each CRLF into LF and stops exactly after
 * the end-of-data marker CRLF "." CRLF (the DATA command counts as the
 * CRLF before the first line).  Nothing else ends a message: a bare LF
 * or a bare CR never starts a line, so none of the SMTP smuggling
 * patterns (LF.LF, LF.CRLF, CR.CR, CRLF.LF, ...) can end the message
 * early.  A bare LF, a bare CR or an over-long line is flagged, and the
 * caller must then refuse the whole message.
 */
#ifndef SMTPDATA_H
#define SMTPDATA_H

#include <stddef.h>

#define SMTPDATA_BARELF 1
#define SMTPDATA_BARECR 2
#define SMTPDATA_LONGLINE 4

struct smtpdata {
	int state;
	int flags;		/* SMTPDATA_* seen so far */
	int done;		/* 1 once the end-of-data marker was read */
	size_t col;		/* octets of the current line, as sent */
	size_t linemax;		/* octets allowed in a line, CRLF included (0 = any) */
	unsigned long long lfs;	/* LF bytes put out so far: the line ends */
};

void smtpdata_init(struct smtpdata *, size_t linemax);

/* smtpdata_feed - take bytes from in[0..n) up to and including the end
 * marker; message bytes go to out (room for n + 1 bytes needed), their
 * count to *outlen.  Returns the number of bytes taken from in; the rest
 * (pipelined commands) belongs to the caller.  d->done says whether the
 * end was reached. */
size_t smtpdata_feed(struct smtpdata *, const char *in, size_t n, char *out, size_t *outlen);

#endif
