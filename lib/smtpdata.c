/* smtpdata.c - the DATA state machine; see smtpdata.h
 *
 * Input is the client's message, untrusted and arbitrarily split into
 * chunks; the state carries everything a chunk boundary may cut.
 */
#include "smtpdata.h"

enum {
	S_BOL,		/* at the start of a line (after CRLF) */
	S_DOT,		/* "." at the start of a line */
	S_DOTCR,	/* "." CR at the start of a line */
	S_MID,		/* inside a line */
	S_CR		/* CR inside a line, LF expected */
};

void
smtpdata_init(struct smtpdata *d, size_t linemax)
{
	d->state = S_BOL;
	d->flags = 0;
	d->done = 0;
	d->col = 0;
	d->linemax = linemax;
	d->lfs = 0;
}

/* count - one more octet in the current line */
static void
count(struct smtpdata *d)
{
	d->col++;
	if (d->linemax && d->col + 2 > d->linemax)
		d->flags |= SMTPDATA_LONGLINE;
}

size_t
smtpdata_feed(struct smtpdata *d, const char *in, size_t n, char *out, size_t *outlen)
{
	size_t i = 0, o = 0;

	while (i < n && !d->done) {
		char c = in[i];

		switch (d->state) {
		case S_BOL:
			d->col = 0;
			if (c == '.') {
				/* RFC 5321 4.5.3.1.6: the stuffing dot does not
				 * count toward the line length */
				d->state = S_DOT;
				i++;
				continue;
			}
			d->state = S_MID;
			continue;	/* the same byte, inside the line */
		case S_DOT:
			if (c == '\r') {
				d->state = S_DOTCR;
				i++;
				continue;
			}
			/* the dot was stuffing: drop it, the byte is data */
			d->state = S_MID;
			continue;
		case S_DOTCR:
			if (c == '\n') {
				d->done = 1;
				i++;
				continue;
			}
			/* "." then a bare CR: not the end */
			d->flags |= SMTPDATA_BARECR;
			out[o++] = '\r';
			count(d);
			d->state = S_MID;
			continue;
		case S_MID:
			if (c == '\r') {
				d->state = S_CR;
			} else if (c == '\n') {
				/* a bare LF does not start a line */
				d->flags |= SMTPDATA_BARELF;
				out[o++] = '\n';
				d->lfs++;
				count(d);
			} else {
				out[o++] = c;
				count(d);
			}
			i++;
			continue;
		case S_CR:
			if (c == '\n') {
				out[o++] = '\n';
				d->lfs++;
				d->state = S_BOL;
				i++;
				continue;
			}
			d->flags |= SMTPDATA_BARECR;
			out[o++] = '\r';
			count(d);
			if (c == '\r') {
				i++;	/* still a CR waiting for its LF */
				continue;
			}
			d->state = S_MID;
			continue;
		}
	}
	*outlen = o;
	return i;
}
