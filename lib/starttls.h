/* starttls.h - a server program asks qmail-tls(8) to start TLS
 *
 * qmail-tls -s runs the server program (qmail-smtpd, qmail-popup) in
 * clear text behind a relay and hands it a control socket, whose number
 * is in the environment variable TLSCONTROL.  The server:
 *
 *	tls = starttls_fd();		once, at start: -1 = STARTTLS not offered
 *	...client says STARTTLS / STLS; the server flushes what it has
 *	written to fd 1, and hands its positive reply to the helper
 *	(reply = "220 2.0.0 ready to start TLS\r\n" or "+OK begin TLS\r\n"):
 *	if (!starttls_request(tls, reply, strlen(reply)))
 *		exit: the connection is lost
 *	...discard every byte read ahead from fd 0 (the input buffer),
 *	forget the session state the protocol says to forget, go on reading
 *	commands from fd 0 and writing replies to fd 1...
 *
 * The helper writes that reply to the client itself, once it has
 * stopped reading clear text: so no byte the client sends after seeing
 * it can be taken for clear-text input.
 * starttls_request puts a new descriptor on 0 and 1: whatever the client
 * sent in clear after the STARTTLS command and the server had not read
 * yet dies with the old one, and from then on fd 0 and 1 carry only
 * decrypted data.  The server must still drop its own read-ahead.
 *
 * The control protocol (see qmail-tls(8)): the server writes 'S', the
 * reply (at most STARTTLS_MAXLINE bytes, no NUL) and a NUL; the helper
 * answers with NUL-terminated items, the last one empty:
 *	"K" NUL ("NAME=value" NUL)* NUL	TLS is on; the new data socket comes
 *					with the first byte (SCM_RIGHTS)
 *	"Z" text NUL NUL		the handshake failed
 * NAME is upper case and starts with "TLS"; values are printable ASCII.
 * starttls_request puts each NAME=value into the environment, as
 * qmail-tls does for implicit TLS, so a server reads TLSVERSION and
 * TLSCIPHER the same way in both cases.
 */
#ifndef STARTTLS_H
#define STARTTLS_H

#include <stddef.h>

#define STARTTLS_ENV "TLSCONTROL"
#define STARTTLS_REQUEST 'S'
#define STARTTLS_MAXLINE 1000	/* bytes in the reply the helper sends */
#define STARTTLS_MAXREPLY 4096	/* bytes in one answer */
#define STARTTLS_MAXVARS 16	/* NAME=value items in one answer */
#define STARTTLS_MAXNAME 32	/* bytes in a NAME */

/* starttls_fd - the control descriptor named by $TLSCONTROL, made
 * close-on-exec (children never see it); -1 with errno 0 when STARTTLS
 * is not offered, -1 with errno set when the variable is junk or names
 * no socket.  The variable is removed from the environment whenever it
 * was set, valid or not. */
int starttls_fd(void);

/* starttls_request - have the helper send reply[0..n) (the 220 / +OK,
 * CRLF included) in clear, do the handshake, and wait for its outcome.
 * 1: TLS is on; fds 0 and 1 are the new channel, the TLS* variables
 * are set and fd is closed.  0 with errno: EPROTO the handshake failed
 * or the answer was malformed, anything else a system error; the
 * connection is unusable then, and fd is closed.  EINVAL: reply is
 * empty, too long or holds a NUL (nothing was sent; fd stays open). */
int starttls_request(int fd, const char *reply, size_t n);

/* starttls_parse - check an answer (n bytes at p, untrusted) and point
 * into it; 1 well formed, 0 with errno EPROTO.  ok is 1 for "K";
 * why is the text after "Z"; var[] are the NAME=value items. */
struct starttls_reply {
	int ok;
	const char *why;
	size_t nvar;
	const char *var[STARTTLS_MAXVARS];
};
int starttls_parse(const char *p, size_t n, struct starttls_reply *r);

/* starttls_scanreq - the helper's check of a request received so far
 * (n bytes at p, untrusted): 1 complete and well formed, 0 a correct
 * beginning, -1 malformed (wrong first byte, empty or over-long reply,
 * bytes after the NUL) */
int starttls_scanreq(const char *p, size_t n);

/* starttls_varok - 1 when s[0..n) is a well-formed "NAME=value" item */
int starttls_varok(const char *s, size_t n);

/* starttls_var - the value of NAME in a parsed answer, or NULL */
const char *starttls_var(const struct starttls_reply *r, const char *name);

/* The client side.  qmail-remote runs "qmail-tls -C" on a connection
 * whose server has said 220 to STARTTLS; qmail-tls does the handshake
 * and writes its outcome to a pipe, in the answer format above without
 * a descriptor: "K" NUL (NAME=value NUL)... NUL, or "Z" reason NUL NUL.
 * The variables of the client side are listed in qmail-tls(8).
 *
 * starttls_readanswer - one answer from fd (untrusted) into msg[0..max)
 * within timeout seconds (0: none); 1 with *n set when it ended in NUL
 * NUL, 0 with errno: EPROTO longer than max, EPIPE end of file first,
 * ETIMEDOUT, or the read error.  The caller then checks it with
 * starttls_parse. */
int starttls_readanswer(int fd, char *msg, size_t max, size_t *n, unsigned timeout);

#endif
