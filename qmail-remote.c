/* qmail-remote - deliver one message to one remote host over SMTP
 *
 *	qmail-remote host sender recip...
 *
 * Run by qmail-rspawn as qmailr, once per message and destination host.
 * The message is on descriptor 0 in the queue's LF form (normally the
 * queue file itself, read twice; a pipe is first copied into a temporary
 * file, lib/seekable).  host is a domain, routed by control/smtproutes
 * or by its MX records, or a literal [1.2.3.4] / [IPv6:::1].  The
 * results go to descriptor 1 in the report format of qmail-remote(8):
 * for each recipient in order r, h or s plus text and a NUL, then K, Z
 * or D plus text and a NUL.  Exit 0 once the report is written, 111
 * when it cannot be.
 *
 * TLS: when the server offers STARTTLS, qmail-remote asks for it and
 * runs bin/qmail-tls -C on the connection, which does the handshake and
 * hands back a local socket carrying the decrypted stream: qmail-remote
 * itself links no TLS library.  control/tlsroutes says per domain
 * whether TLS is optional, required, or required with a verified
 * certificate.  A failed handshake is a failure of that host, never a
 * reason to go on in clear text.
 *
 * AUTH: for a relay of control/smtproutes that control/smtpauth gives a
 * login, qmail-remote authenticates (PLAIN, else LOGIN) before MAIL,
 * never in clear text to an address that is not loopback.
 *
 * Untrusted: the DNS answers (lib/dns checks them), the peer's replies
 * (lib/smtpreply), qmail-tls's answer (lib/starttls) and the message.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <ifaddrs.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "auto.h"
#include "base64.h"
#include "buf.h"
#include "control.h"
#include "die.h"
#include "dns.h"
#include "mono.h"
#include "qpenc.h"
#include "seekable.h"
#include "sig.h"
#include "smtpcmd.h"
#include "smtpreply.h"
#include "spawn.h"
#include "starttls.h"
#include "str.h"

#define CAND_MAX 64		/* addresses tried for one host */
#define PIECE_MAX 8192		/* message read in lines of at most this */
#define REPLYLINE_MAX 4096	/* longest reply line accepted */
#define QUIT_TIMEOUT 10		/* seconds to wait for QUIT's answer */
#define TEXT_MAX 1000		/* bytes of a report record's text */
#define TLSHELPER "bin/qmail-tls"
#define TLSCAFILE "control/tlsca"
#define TLS_SLACK 10		/* seconds beyond qmail-tls's own deadline */

/* what control/tlsroutes asks for a domain */
enum { TLS_NONE, TLS_MAY, TLS_ENCRYPT, TLS_VERIFY };

/* one recipient and its result: 0 undecided, 'r', 'h' or 's' */
struct rcpt {
	const char *addr;
	char code;
	struct str text;
};

/* one address to try, with the MX preference it came from */
struct cand {
	unsigned pref;
	int tlsfailed;		/* its host failed TLS at another address */
	char name[DNS_NAME_MAX + 1];
	struct dns_ip ip;
};

/* the message, readable more than once: fd 0, or its copy (seekable.h) */
struct src {
	int fd;
	struct buf b;
	char x[BUF_SIZE * 4];
};

/* settings from control/ */
struct config {
	struct str helo, me, locals, routes, tlsroutes;
	struct str auth;	/* control/smtpauth lines */
	struct str login, pass;	/* the relay's, when have_auth */
	int have_auth;
	unsigned long tconnect, tremote;
	int have_helper;	/* bin/qmail-tls is there */
	int have_ca;		/* control/tlsca is there */
	int have_out;
	struct sockaddr_storage out;
	socklen_t outlen;
};

/* where the SMTP output goes: counted (SIZE) or written.  The current
 * line is held in line[] until it ends, or until it has more octets
 * than a line may (RFC 5321 4.5.3.1.6) and is broken as form says. */
struct sink {
	struct buf *b;
	unsigned long long n;
	int bol;		/* nothing of the current line is put yet */
	int cr;			/* the last byte given was a CR, not yet sent */
	int form;		/* what the line is: QPMIME_TEXT, _QP or _BASE64 */
	unsigned long broken;	/* lines broken */
	size_t hold;		/* octets of the current line in line[] */
	char line[QPMIME_LINE + 1];
};

/* the session with one peer */
struct smtp {
	int fd;
	struct buf in, out;
	char inx[BUF_SIZE], outx[BUF_SIZE];
	struct smtpreply rep;
	struct str where;	/* "name (ip)" for the reports */
};

static void
nomem(void)
{
	die_nomem();
}

/* --- results --------------------------------------------------------- */

/* scopy - dst becomes a copy of src */
static int
scopy(struct str *dst, const struct str *src)
{
	dst->len = 0;
	return str_cat(dst, src);
}

static void
settext(struct str *t, const char *a, const char *b, const char *c)
{
	if (!str_copys(t, a) || (b && !str_cats(t, b)) || (c && !str_cats(t, c)))
		nomem();
}

/* decide_all - every recipient still undecided gets code and text */
static void
decide_all(struct rcpt *r, int nr, char code, const char *a, const char *b, const char *c)
{
	int i;

	for (i = 0; i < nr; i++)
		if (r[i].code == 0) {
			r[i].code = code;
			settext(&r[i].text, a, b, c);
		}
}

/* report - write every result and the message result in one write and
 * exit 0; the accepted recipients share a failed message's fate.  Each
 * text is cut at TEXT_MAX bytes, so that 1000 recipients' records fit
 * what qmail-rspawn keeps (SPAWNER_OUTMAX). */
static void __attribute__((noreturn))
report(struct rcpt *r, int nr, char mcode, const struct str *mtext)
{
	struct str o = STR_ZERO;
	size_t k;
	char c;
	int i;

	for (i = 0; i < nr; i++) {
		c = r[i].code;
		if (c == 0 || (c == 'r' && mcode != 'K')) {
			c = mcode == 'D' ? 'h' : 's';
			if (!scopy(&r[i].text, mtext))
				nomem();
		}
		if (!str_catc(&o, c))
			nomem();
		for (k = 0; k < r[i].text.len && k < TEXT_MAX; k++)
			if (!str_catc(&o, r[i].text.s[k] ? r[i].text.s[k] : '?'))
				nomem();
		if (!str_catc(&o, 0))
			nomem();
	}
	if (!str_catc(&o, mcode))
		nomem();
	for (k = 0; k < mtext->len && k < TEXT_MAX; k++)
		if (!str_catc(&o, mtext->s[k] ? mtext->s[k] : '?'))
			nomem();
	if (!str_catc(&o, 0))
		nomem();
	if (!fd_writeall(1, o.s, o.len, 0))
		die_sys(EXIT_TEMP, "unable to write the report");
	_exit(EXIT_OK);
}

/* fail - one outcome for every undecided recipient and the message */
static void __attribute__((noreturn))
fail(struct rcpt *r, int nr, char mcode, const char *a, const char *b, const char *c)
{
	struct str t = STR_ZERO;

	settext(&t, a, b, c);
	decide_all(r, nr, mcode == 'D' ? 'h' : 's', a, b, c);
	report(r, nr, mcode, &t);
}


/* --- the message ----------------------------------------------------- */

/* src_open - the message on fd 0, seekable; 1, or 0 with errno and the
 * reason in *why */
static int
src_open(struct src *m, struct str *why)
{
	struct seekable sk;
	const char *what;

	if (seekable_open(&sk, 0, "qmail-remote")) {
		m->fd = sk.fd;
		buf_init(&m->b, m->fd, m->x, sizeof m->x, 0);
		return 1;
	}
	/* a pipe copied to a full disk: a temporary failure, as any */
	what = sk.failed == SEEKABLE_CREATE ? "Unable to create a temporary file in " :
	    sk.failed == SEEKABLE_WRITE ? "Unable to write a temporary file in " : NULL;
	if (!str_copys(why, what ? what : "Unable to read the message") ||
	    (what && !str_cats(why, sk.dir)) || !str_cats(why, ": ") ||
	    !str_cats(why, strerror(errno)) || !str_nul(why))
		nomem();
	return 0;
}

static int
src_rewind(struct src *m)
{
	if (lseek(m->fd, 0, SEEK_SET) == -1)
		return 0;
	buf_init(&m->b, m->fd, m->x, sizeof m->x, 0);
	return 1;
}

/* src_piece - the next line, or piece of a long line, without its LF
 * (and without a CR before the LF: a line stored with CRLF goes out with
 * one CRLF, not CR CR LF); *lf tells whether the line ended here.
 * 1 piece, 0 end, -1 error. */
static int
src_piece(struct src *m, struct str *line, int *lf)
{
	int r;

	line->len = 0;
	*lf = 0;
	r = buf_getline(&m->b, line, '\n', PIECE_MAX);
	if (r == 1) {
		line->len--;
		*lf = 1;
		if (line->len > 0 && line->s[line->len - 1] == '\r')
			line->len--;
		return 1;
	}
	if (r == 0)
		return line->len > 0;
	if (errno == EMSGSIZE)
		return 1;
	return -1;
}

/* scan - the first reading: what the MIME walker must learn */
static int
scan(struct src *m, struct qpmime *mi)
{
	struct str line = STR_ZERO;
	unsigned add;
	int r, lf, bol = 1;

	qpmime_init(mi);
	while ((r = src_piece(m, &line, &lf)) == 1) {
		(void)qpmime_piece(mi, line.s, line.len, bol, &add);
		bol = lf;
	}
	str_free(&line);
	return r == 0;
}

/* --- SMTP output ----------------------------------------------------- */

/* sink_init - to b, or only counted when b is NULL */
static void
sink_init(struct sink *s, struct buf *b)
{
	s->b = b;
	s->n = 0;
	s->bol = 1;
	s->cr = 0;
	s->form = QPMIME_TEXT;
	s->broken = 0;
	s->hold = 0;
}

static int
sink_put(struct sink *s, const char *p, size_t n)
{
	s->n += n;
	return s->b ? buf_put(s->b, p, n) : 1;
}

/* sink_lead - line[0..k) put, after the dot that stuffs a line starting
 * with one: that dot is sent but not counted (RFC 1870's size leaves
 * stuffing dots out) */
static int
sink_lead(struct sink *s, size_t k)
{
	if (k == 0)
		return 1;
	if (s->bol && s->line[0] == '.' && s->b && !buf_put(s->b, ".", 1))
		return 0;
	s->bol = 0;
	return sink_put(s, s->line, k);
}

/* sink_eol - end the line: what is held of it, then CRLF */
static int
sink_eol(struct sink *s)
{
	size_t k = s->hold;

	s->hold = 0;
	s->cr = 0;
	if (!sink_lead(s, k))
		return 0;
	s->bol = 1;
	return sink_put(s, "\r\n", 2);
}

/* sink_break - line[] holds an octet more than a line may: its first
 * part goes out as a line, the rest stays, as the form asks.  Text (a
 * header above all) is folded before a blank that comes after something
 * else (RFC 5322 2.2.3), or, with no such blank, broken by CRLF and a
 * space, which then belongs to the text; quoted-printable gets a soft
 * line break, "=" CRLF (RFC 2045 6.7), never inside an "=XX"; base64
 * any line end, which its decoder skips (RFC 2045 6.8). */
static int
sink_break(struct sink *s)
{
	char *l = s->line;
	size_t k, f, sp = 0;

	if (s->form == QPMIME_QP) {
		k = QPMIME_LINE - 1;	/* and the "=" */
		if (l[k - 1] == '=')
			k -= 1;
		else if (l[k - 2] == '=')
			k -= 2;
	} else if (s->form == QPMIME_BASE64)
		k = QPMIME_LINE;
	else {
		for (f = 0; f < s->hold && (l[f] == ' ' || l[f] == '\t'); f++)
			;
		for (k = QPMIME_LINE; k > f && l[k] != ' ' && l[k] != '\t'; k--)
			;
		if (k <= f) {
			k = QPMIME_LINE;
			sp = 1;
		}
	}
	if (!sink_lead(s, k) || (s->form == QPMIME_QP && !sink_put(s, "=", 1)) ||
	    !sink_put(s, "\r\n", 2))
		return 0;
	s->bol = 1;
	s->broken++;
	memmove(l + sp, l + k, s->hold - k);
	if (sp)
		l[0] = ' ';
	s->hold = s->hold - k + sp;
	return 1;
}

/* sink_seg - n bytes of the current line, none of them CR or LF */
static int
sink_seg(struct sink *s, const char *p, size_t n)
{
	size_t k;

	while (n > 0) {
		k = sizeof s->line - s->hold;
		if (k > n)
			k = n;
		memcpy(s->line + s->hold, p, k);
		s->hold += k;
		p += k;
		n -= k;
		if (s->hold == sizeof s->line && !sink_break(s))
			return 0;
	}
	return 1;
}

/* sink_text - text whose lines end in LF, as CRLF lines, dot-stuffed;
 * eol: the piece ends its line.  CR goes out only in CRLF (RFC 5321
 * 2.3.8): a CR right before the line's end is part of it, any other CR
 * ends a line, so no bare CR can carry a CR.CR or CR.CRLF to a receiver
 * that takes CR alone for a line end.  A CR that ends a piece waits for
 * the next piece to say which it is. */
static int
sink_text(struct sink *s, const char *p, size_t n, int eol)
{
	size_t i;

	if (s->cr && n > 0 && !sink_eol(s))
		return 0;
	while (n > 0) {
		for (i = 0; i < n && p[i] != '\n' && p[i] != '\r'; i++)
			;
		if (!sink_seg(s, p, i))
			return 0;
		if (i == n)
			break;
		if (p[i] == '\r' && i + 1 == n) {
			s->cr = 1;	/* the last byte: the line's end, or bare */
			break;
		}
		if (!sink_eol(s))
			return 0;
		/* CR LF, as in a piece of qp text, is one line end */
		if (p[i] == '\r' && p[i + 1] == '\n')
			i++;
		p += i + 1;
		n -= i + 1;
	}
	if (eol && !sink_eol(s))
		return 0;
	return 1;
}

/* message - the message as DATA content into s (sink_init'ed).  walk:
 * the walker mi (which has learned the message) says what each piece
 * is, and converts to quoted-printable the parts with a line too long,
 * and (conv8) those with 8-bit bytes.  -1 reading fails, 0 writing
 * fails, 1 ok */
static int
message(struct src *m, struct qpmime *mi, struct sink *s, int walk, int conv8)
{
	struct str line = STR_ZERO, enc = STR_ZERO;
	unsigned add = 0;
	int r, lf, bol = 1, act = QPMIME_COPY, res = 1, cr = 0;
	size_t col = 0, n;

	if (!src_rewind(m))
		return -1;
	if (walk)
		qpmime_rewind(mi, conv8);
	while ((r = src_piece(m, &line, &lf)) == 1) {
		if (walk) {
			act = qpmime_piece(mi, line.s, line.len, bol, &add);
			s->form = mi->form;
		}
		if ((add & QPMIME_ADD_CTE) &&
		    !sink_text(s, "Content-Transfer-Encoding: quoted-printable", 43, 1))
			goto wfail;
		if ((add & QPMIME_ADD_MIMEVER) && !sink_text(s, "MIME-Version: 1.0", 17, 1))
			goto wfail;
		if ((add & QPMIME_ADD_BLANK) && !sink_text(s, "", 0, 1))
			goto wfail;
		if (act == QPMIME_ENCODE) {
			/* a CR that ends a piece is held: right before the
			 * LF it is part of the line end, as src_piece has it */
			enc.len = 0;
			n = line.len;
			if (cr && (n > 0 || !lf) && !qpenc_piece(&enc, "\r", 1, &col, 1))
				nomem();
			cr = !lf && n > 0 && line.s[n - 1] == '\r';
			/* every piece as if it ended the line: a long line's
			 * piece may end in a blank that does */
			if (!qpenc_piece(&enc, line.s, n - (size_t)cr, &col, 1))
				nomem();
			if (!sink_text(s, enc.s, enc.len, lf))
				goto wfail;
			if (lf)
				col = 0;
		} else if (act == QPMIME_COPY && !sink_text(s, line.s, line.len, lf))
			goto wfail;
		bol = lf;
	}
	if (r == -1)
		res = -1;
	else if ((s->hold > 0 || !s->bol || s->cr) && !sink_eol(s))
		res = 0;
	str_free(&line);
	str_free(&enc);
	return res;
wfail:
	str_free(&line);
	str_free(&enc);
	return 0;
}

/* --- SMTP session ---------------------------------------------------- */

/* wholeline - wait until sm->in holds a whole reply line (or more than
 * one may be, or the peer has closed), but not past end (milliseconds
 * of mono_ms): 1, or -1 with errno, ETIMEDOUT when end passed */
static int
wholeline(struct smtp *sm, long long end)
{
	size_t have;
	long r;

	for (;;) {
		have = buf_pending(&sm->in);
		if (have > REPLYLINE_MAX || str_chrb(sm->in.x + sm->in.pos, have, '\n') < have)
			return 1;
		if ((r = buf_fill_by(&sm->in, end)) <= 0)
			return r == 0 ? 1 : -1;	/* end of file: buf_getline sees it */
	}
}

/* getreply - the next reply into sm->rep; its code, or -1 with errno.
 * The whole reply, every line of it, must come within sm->in.timeout
 * seconds of the moment we start to wait: a peer that sends a line or
 * a byte now and then holds us no longer than one that sends nothing. */
static int
getreply(struct smtp *sm)
{
	struct str line = STR_ZERO;
	long long end = mono_ms() + (long long)sm->in.timeout * 1000;
	int r;

	smtpreply_start(&sm->rep);
	for (;;) {
		line.len = 0;
		r = wholeline(sm, end);
		if (r == 1)
			r = buf_getline(&sm->in, &line, '\n', REPLYLINE_MAX);
		if (r == 0) {
			errno = ECONNRESET;
			r = -1;
		}
		if (r == -1)
			break;
		r = smtpreply_line(&sm->rep, line.s, line.len);
		if (r == -1)
			break;
		if (r == 1) {
			str_free(&line);
			return (int)sm->rep.code;
		}
	}
	str_free(&line);
	if (errno == EMSGSIZE)
		errno = EPROTO;
	return -1;
}

static int
put(struct smtp *sm, const char *a, const char *b, const char *c)
{
	return buf_puts(&sm->out, a) && (!b || buf_puts(&sm->out, b)) &&
	    (!c || buf_puts(&sm->out, c));
}

/* said - "Remote host NAME (IP) said: REPLY" into t */
static void
said(struct smtp *sm, struct str *t)
{
	if (!str_copys(t, "Remote host ") || !str_cat(t, &sm->where) ||
	    !str_cats(t, " said: ") || !str_cat(t, &sm->rep.text))
		nomem();
}

/* lost - the connection broke: temporary for whatever is left */
static void __attribute__((noreturn))
lost(struct smtp *sm, struct rcpt *r, int nr)
{
	struct str t = STR_ZERO;
	int err = errno;

	if (!str_copys(&t, "Connection to ") || !str_cat(&t, &sm->where) ||
	    !str_cats(&t, " failed: ") || !str_cats(&t, err == ETIMEDOUT ?
	    "timed out" : err == EPROTO ? "bad reply" : strerror(err)) || !str_nul(&t))
		nomem();
	fail(r, nr, 'Z', t.s, NULL, NULL);
}

static void __attribute__((noreturn))
quit(struct smtp *sm, struct rcpt *r, int nr, char mcode, const struct str *mtext)
{
	/* the outcome is known: QUIT's answer only ends the session politely */
	sm->in.timeout = sm->out.timeout = QUIT_TIMEOUT;
	if (put(sm, "QUIT\r\n", NULL, NULL) && buf_flush(&sm->out))
		(void)getreply(sm);
	(void)close(sm->fd);
	report(r, nr, mcode, mtext);
}

/* safe_addr - no byte that would break the SMTP command line */
static int
safe_addr(const char *a)
{
	for (; *a; a++)
		if ((unsigned char)*a < 32 || *a == '<' || *a == '>' || *a == 0x7f)
			return 0;
	return 1;
}

/* path - addr as it goes between < and > of MAIL or RCPT: the queue
 * keeps a local part unquoted, and one like "john doe" must go out
 * quoted again (lib/smtpcmd) */
static const char *
path(struct str *p, const char *addr)
{
	p->len = 0;
	if (!smtpcmd_pathcat(p, addr, strlen(addr)) || !str_nul(p))
		nomem();
	return p->s;
}

/* noutf8 - why an address beyond ASCII cannot go to this host */
static void
noutf8(struct smtp *sm, struct str *t, const char *whose)
{
	if (!str_copys(t, "Remote host ") || !str_cat(t, &sm->where) ||
	    !str_cats(t, " does not offer SMTPUTF8, which the ") || !str_cats(t, whose) ||
	    !str_cats(t, " address needs (#5.6.7)"))
		nomem();
}

/* hello - EHLO, or HELO when EHLO is refused; the extensions offered
 * (none after HELO).  Does not return when neither is accepted. */
static unsigned
hello(struct smtp *sm, const struct config *cf, struct rcpt *r, int nr)
{
	struct str t = STR_ZERO;
	int code;

	if (!put(sm, "EHLO ", cf->helo.s, "\r\n") || !buf_flush(&sm->out))
		lost(sm, r, nr);
	if ((code = getreply(sm)) == -1)
		lost(sm, r, nr);
	if (code >= 200 && code < 300)
		return sm->rep.ext;
	if (!put(sm, "HELO ", cf->helo.s, "\r\n") || !buf_flush(&sm->out))
		lost(sm, r, nr);
	if ((code = getreply(sm)) == -1)
		lost(sm, r, nr);
	if (code >= 300) {
		/* a refused name says nothing of the message or its
		 * recipients, and may be a mistake in control/helohost */
		said(sm, &t);
		if (!str_cats(&t, " (in reply to HELO)"))
			nomem();
		quit(sm, r, nr, 'Z', &t);
	}
	return 0;
}

/* hangup - leave a host we will not use: QUIT, briefly, then close */
static void
hangup(struct smtp *sm)
{
	sm->in.timeout = sm->out.timeout = QUIT_TIMEOUT;
	if (put(sm, "QUIT\r\n", NULL, NULL) && buf_flush(&sm->out))
		(void)getreply(sm);	/* a courtesy only */
	(void)close(sm->fd);	/* nothing written to keep */
}

/* tlsnote - one host given up for a TLS reason, for the final report */
static void
tlsnote(struct str *errs, const struct str *where, const char *a, const char *b)
{
	if (!str_cats(errs, errs->len ? "; " : "") || !str_cat(errs, where) ||
	    !str_cats(errs, ": ") || !str_cats(errs, a) || (b && !str_cats(errs, b)))
		nomem();
}

/* starttls - STARTTLS, then qmail-tls -C on the connection.  1: TLS is
 * on, sm talks through the local socket qmail-tls relays, and where
 * names the session.  0: this host failed (noted in errs, its
 * connection closed); nothing may go to it in clear text. */
static int
starttls(struct smtp *sm, const struct config *cf, int policy, const char *name,
    struct str *errs)
{
	char msg[STARTTLS_MAXREPLY], num[FMT_ULONG];
	struct starttls_reply a;
	const char *argv[12], *v, *c, *why;
	int fds[5], sp[2], cp[2], code, ac = 0, ok, st;
	size_t n;
	pid_t pid;

	if (!put(sm, "STARTTLS\r\n", NULL, NULL) || !buf_flush(&sm->out) ||
	    (code = getreply(sm)) == -1) {
		tlsnote(errs, &sm->where, "STARTTLS failed: ", errno == ETIMEDOUT ?
		    "timed out" : errno == EPROTO ? "bad reply" : strerror(errno));
		(void)close(sm->fd);
		return 0;
	}
	if (code != 220) {
		if (!str_nul(&sm->rep.text))
			nomem();
		tlsnote(errs, &sm->where, "STARTTLS refused: ", sm->rep.text.s);
		hangup(sm);
		return 0;
	}
	/* bytes after the 220 came in clear: they must not be read as if
	 * they came through TLS, and a server sending them is broken */
	if (buf_pending(&sm->in) > 0) {
		tlsnote(errs, &sm->where, "clear text after the 220 to STARTTLS", NULL);
		(void)close(sm->fd);
		return 0;
	}
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sp) == -1) {
		tlsnote(errs, &sm->where, "unable to start TLS: ", strerror(errno));
		(void)close(sm->fd);
		return 0;
	}
	if (pipe_cloexec(cp) == -1) {
		tlsnote(errs, &sm->where, "unable to start TLS: ", strerror(errno));
		(void)close(sp[0]);
		(void)close(sp[1]);
		(void)close(sm->fd);
		return 0;
	}
	num[fmt_ulong(num, cf->tremote)] = 0;
	argv[ac++] = "qmail-tls";
	argv[ac++] = "-C";
	argv[ac++] = "-t";
	argv[ac++] = num;
	argv[ac++] = "-n";
	argv[ac++] = name;
	if (policy == TLS_VERIFY)
		argv[ac++] = "-v";
	if (cf->have_ca) {
		argv[ac++] = "-a";
		argv[ac++] = TLSCAFILE;
	}
	argv[ac] = NULL;
	fds[0] = fds[1] = sm->fd;
	fds[2] = 2;
	fds[3] = sp[1];
	fds[4] = cp[1];
	pid = spawn(TLSHELPER, (char *const *)argv, NULL, fds, 5);
	if (pid == -1)
		tlsnote(errs, &sm->where, "unable to run " TLSHELPER ": ", strerror(errno));
	/* the network is qmail-tls's alone from here; our copies go (a
	 * failed close still frees the descriptor, and nothing was written) */
	(void)close(sp[1]);
	(void)close(cp[1]);
	(void)close(sm->fd);
	sm->fd = sp[0];
	if (pid == -1) {
		(void)close(sp[0]);
		(void)close(cp[0]);
		return 0;
	}
	ok = starttls_readanswer(cp[0], msg, sizeof msg, &n, (unsigned)cf->tremote + TLS_SLACK);
	why = errno == ETIMEDOUT ? "timed out" : "no answer from " TLSHELPER;
	if (ok && !starttls_parse(msg, n, &a)) {
		ok = 0;
		why = "bad answer from " TLSHELPER;
	}
	if (ok && !a.ok) {
		ok = 0;
		why = a.why;
	}
	v = ok ? starttls_var(&a, "TLSVERSION") : NULL;
	c = ok ? starttls_var(&a, "TLSCIPHER") : NULL;
	if (ok && (v == NULL || c == NULL)) {
		ok = 0;
		why = "bad answer from " TLSHELPER;
	}
	if (ok && policy == TLS_VERIFY && !str_equal(starttls_var(&a, "TLSVERIFY") ?
	    starttls_var(&a, "TLSVERIFY") : "", "ok")) {
		ok = 0;
		why = "certificate not verified";
	}
	(void)close(cp[0]);	/* read only */
	if (!ok) {
		tlsnote(errs, &sm->where, "TLS handshake failed: ", why);
		/* ours, and useless now: it must not linger */
		(void)kill(pid, SIGKILL);
		(void)spawn_wait(pid, &st);
		(void)close(sm->fd);
		return 0;
	}
	buf_init(&sm->in, sm->fd, sm->inx, sizeof sm->inx, (unsigned)cf->tremote);
	buf_init(&sm->out, sm->fd, sm->outx, sizeof sm->outx, (unsigned)cf->tremote);
	/* "name (ip)" becomes "name (ip; TLSv1.3 CIPHER; ...)" for the log */
	if (sm->where.len > 0 && sm->where.s[sm->where.len - 1] == ')')
		sm->where.len--;
	v = starttls_var(&a, "TLSVERIFY");
	if (!str_cats(&sm->where, "; ") || !str_cats(&sm->where, starttls_var(&a, "TLSVERSION")) ||
	    !str_catc(&sm->where, ' ') || !str_cats(&sm->where, starttls_var(&a, "TLSCIPHER")) ||
	    !str_cats(&sm->where, v && str_equal(v, "ok") ? "; certificate verified)" :
	    "; certificate not verified)"))
		nomem();
	return 1;
}

/* authcmd - one AUTH step: the line "pre" + base64(p[0..n)) + CRLF, and
 * the reply's code; the encoded secret is wiped after the write */
static int
authcmd(struct smtp *sm, const char *pre, const char *p, size_t n, struct rcpt *r, int nr)
{
	struct str b = STR_ZERO;
	int ok;

	if (!base64_encode(p, n, &b) || !str_catb(&b, "\r\n", 2))
		nomem();
	ok = put(sm, pre, NULL, NULL) && buf_put(&sm->out, b.s, b.len) && buf_flush(&sm->out);
	explicit_bzero(b.s, b.cap);
	str_free(&b);
	if (!ok)
		lost(sm, r, nr);
	return getreply(sm);
}

/* auth - log in to a relay with control/smtpauth's login: PLAIN when
 * offered, else LOGIN.  1 done.  0 this host cannot be used (noted in
 * errs, hung up): it offers neither, or the session is clear text to an
 * address that is not loopback.  A refused login defers the message: a
 * wrong password must not bounce mail. */
static int
auth(struct smtp *sm, const struct config *cf, unsigned ext, int safe, struct rcpt *r, int nr,
    struct str *errs)
{
	struct str t = STR_ZERO, plain = STR_ZERO;
	int code;

	if (!safe) {
		tlsnote(errs, &sm->where, "control/smtpauth has a login for this relay, ",
		    "and it is sent only over TLS or to a loopback address");
		hangup(sm);
		return 0;
	}
	if (ext & SMTPEXT_AUTHPLAIN) {
		/* RFC 4616: authorization id (empty), login, password */
		if (!str_catc(&plain, 0) || !str_cat(&plain, &cf->login) || !str_catc(&plain, 0) ||
		    !str_cat(&plain, &cf->pass))
			nomem();
		code = authcmd(sm, "AUTH PLAIN ", plain.s, plain.len, r, nr);
		explicit_bzero(plain.s, plain.cap);
		str_free(&plain);
	} else if (ext & SMTPEXT_AUTHLOGIN) {
		if (!put(sm, "AUTH LOGIN\r\n", NULL, NULL) || !buf_flush(&sm->out))
			lost(sm, r, nr);
		code = getreply(sm);
		if (code == 334)
			code = authcmd(sm, "", cf->login.s, cf->login.len, r, nr);
		if (code == 334)
			code = authcmd(sm, "", cf->pass.s, cf->pass.len, r, nr);
	} else {
		tlsnote(errs, &sm->where, "control/smtpauth has a login for this relay, ",
		    "and it offers neither AUTH PLAIN nor AUTH LOGIN");
		hangup(sm);
		return 0;
	}
	if (code == -1)
		lost(sm, r, nr);
	if (code == 235)
		return 1;
	said(sm, &t);
	if (!str_cats(&t, " (in reply to AUTH as ") || !str_cat(&t, &cf->login) ||
	    !str_cats(&t, ": check control/smtpauth)"))
		nomem();
	quit(sm, r, nr, 'Z', &t);
}

/* rcptcode - a recipient's result for the reply to its RCPT: 552 is
 * temporary there (RFC 5321 4.5.3.1.10: "too many recipients" from
 * servers that use it so) */
static char
rcptcode(int code)
{
	return code < 300 ? 'r' : code >= 500 && code != 552 ? 'h' : 's';
}

/* session - the SMTP dialogue after a 2xx greeting.  It returns only
 * when TLS could not be had from this host as policy asks, or when it
 * cannot log in as control/smtpauth asks (noted in errs, connection
 * closed): 1 when the host offered STARTTLS and failed it, else 0.
 * Otherwise it reports and exits.  tlsfailed: the host failed TLS on
 * another of its addresses, so TLS is required here. */
static int
session(struct smtp *sm, const struct config *cf, struct src *m, struct qpmime *mi,
    const char *sender, struct rcpt *r, int nr, int policy, int tlsfailed, const char *tlsname,
    int loopback, struct str *errs)
{
	struct str t = STR_ZERO, p = STR_ZERO;
	struct sink s;
	char num[FMT_ULONG + 1];
	unsigned ext;
	int code, i, accepted = 0, pipe, conv8, walk, rcode, res, tls = 0, utf8;

	ext = hello(sm, cf, r, nr);
	if (policy != TLS_NONE) {
		if ((ext & SMTPEXT_STARTTLS) && cf->have_helper) {
			if (!starttls(sm, cf, policy, tlsname, errs))
				return 1;
			/* RFC 3207: what the server said before TLS is void */
			ext = hello(sm, cf, r, nr);
			tls = 1;
		} else if (policy >= TLS_ENCRYPT || tlsfailed) {
			tlsnote(errs, &sm->where, ext & SMTPEXT_STARTTLS ?
			    TLSHELPER " is not installed" : "STARTTLS is not offered",
			    tlsfailed ? ", and this host failed TLS at another address" :
			    ", and control/tlsroutes requires TLS");
			hangup(sm);
			return 0;
		}
	}
	if (cf->have_auth && !auth(sm, cf, ext, tls || loopback, r, nr, errs))
		return 0;
	pipe = (ext & SMTPEXT_PIPELINING) != 0;
	/* 8-bit parts to quoted-printable for a server without 8BITMIME;
	 * lines too long for SMTP made shorter for any server */
	conv8 = mi->any && !(ext & SMTPEXT_8BITMIME);
	walk = conv8 || mi->longline;

	/* count what DATA will carry, for SIZE */
	sink_init(&s, NULL);
	if ((res = message(m, mi, &s, walk, conv8)) == -1)
		fail(r, nr, 'Z', "Unable to read the message: ", strerror(errno), NULL);

	/* RFC 6531: an address beyond ASCII only to a server that says
	 * SMTPUTF8, and then with MAIL's SMTPUTF8 parameter */
	utf8 = !str_asciib(sender, strlen(sender));
	if (utf8 && !(ext & SMTPEXT_SMTPUTF8)) {
		noutf8(sm, &t, "sender");
		quit(sm, r, nr, 'D', &t);
	}
	for (i = 0; i < nr; i++)
		if (!r[i].code && !str_asciib(r[i].addr, strlen(r[i].addr))) {
			if (ext & SMTPEXT_SMTPUTF8) {
				utf8 = 1;
				continue;
			}
			r[i].code = 'h';
			noutf8(sm, &r[i].text, "recipient");
		}
	if (!put(sm, "MAIL FROM:<", path(&p, sender), ">"))
		lost(sm, r, nr);
	if (utf8 && !put(sm, " SMTPUTF8", NULL, NULL))
		lost(sm, r, nr);
	if (ext & SMTPEXT_SIZE) {
		num[fmt_ulong(num, (unsigned long)s.n)] = 0;
		if (!put(sm, " SIZE=", num, NULL))
			lost(sm, r, nr);
	}
	if (mi->has8 && (ext & SMTPEXT_8BITMIME) && !put(sm, " BODY=8BITMIME", NULL, NULL))
		lost(sm, r, nr);
	if (!put(sm, "\r\n", NULL, NULL))
		lost(sm, r, nr);
	if (!pipe && !buf_flush(&sm->out))
		lost(sm, r, nr);
	if (!pipe && (code = getreply(sm)) == -1)
		lost(sm, r, nr);
	if (!pipe && code >= 300) {
		said(sm, &t);
		if (!str_cats(&t, " (in reply to MAIL)"))
			nomem();
		quit(sm, r, nr, code >= 500 ? 'D' : 'Z', &t);
	}
	for (i = 0; i < nr; i++) {
		if (r[i].code)
			continue;	/* refused before (a bad address) */
		if (!put(sm, "RCPT TO:<", path(&p, r[i].addr), ">\r\n"))
			lost(sm, r, nr);
		if (pipe)
			continue;
		if (!buf_flush(&sm->out) || (rcode = getreply(sm)) == -1)
			lost(sm, r, nr);
		r[i].code = rcptcode(rcode);
		accepted += rcode < 300;
		said(sm, &r[i].text);
	}
	if (pipe) {
		/* MAIL and every RCPT went in one write; the answers in order */
		if (!buf_flush(&sm->out) || (code = getreply(sm)) == -1)
			lost(sm, r, nr);
		said(sm, &t);
		if (!str_cats(&t, " (in reply to MAIL)"))
			nomem();
		for (i = 0; i < nr; i++) {
			if (r[i].code)
				continue;
			if ((rcode = getreply(sm)) == -1)
				lost(sm, r, nr);
			if (code >= 300) {
				r[i].code = code >= 500 ? 'h' : 's';
				if (!scopy(&r[i].text, &t))
					nomem();
				continue;
			}
			r[i].code = rcptcode(rcode);
			accepted += rcode < 300;
			said(sm, &r[i].text);
		}
		if (code >= 300)
			quit(sm, r, nr, code >= 500 ? 'D' : 'Z', &t);
	}
	if (accepted == 0) {
		/* nobody to send to: permanent only when every refusal was */
		code = 'D';
		for (i = 0; i < nr; i++)
			if (r[i].code != 'h')
				code = 'Z';
		settext(&t, "No recipient was accepted", NULL, NULL);
		quit(sm, r, nr, (char)code, &t);
	}
	if (!put(sm, "DATA\r\n", NULL, NULL) || !buf_flush(&sm->out) ||
	    (code = getreply(sm)) == -1)
		lost(sm, r, nr);
	if (code != 354) {
		said(sm, &t);
		if (!str_cats(&t, " (in reply to DATA)"))
			nomem();
		quit(sm, r, nr, code >= 500 ? 'D' : 'Z', &t);
	}
	sink_init(&s, &sm->out);
	res = message(m, mi, &s, walk, conv8);
	if (res == -1) {
		/* nothing sensible can follow a half message: hang up */
		(void)close(sm->fd);
		fail(r, nr, 'Z', "Unable to read the message: ", strerror(errno), NULL);
	}
	if (res == 0 || !buf_put(&sm->out, ".\r\n", 3) || !buf_flush(&sm->out) ||
	    (code = getreply(sm)) == -1)
		lost(sm, r, nr);
	said(sm, &t);
	if (code < 300) {
		if (!str_cats(&t, walk && mi->convany ? " (converted to quoted-printable)" : "") ||
		    !str_cats(&t, s.broken ? " (long lines broken)" : ""))
			nomem();
		quit(sm, r, nr, 'K', &t);
	}
	if (!str_cats(&t, " (in reply to the end of DATA)"))
		nomem();
	quit(sm, r, nr, code >= 500 ? 'D' : 'Z', &t);
}

/* --- routing --------------------------------------------------------- */

static int
lowereq(const char *a, size_t an, const char *b, size_t bn)
{
	return an == bn && (an == 0 || str_caseeqb(a, b, an));
}

/* route - the smtproutes entry for host: 1 found (relay, port set;
 * relay empty = use MX), 0 none, -1 junk line (errno EINVAL) */
static int
route(const struct str *routes, const char *host, size_t hn, struct str *relay, unsigned long *port)
{
	size_t i, e, c, k, rs, re;
	const char *l;

	for (k = 0; k <= hn; k++) {
		/* the host itself, then ".suffix" entries, then the default */
		if (k != 0 && k != hn && host[k] != '.')
			continue;
		for (i = 0; i < routes->len; i = e + 1) {
			l = routes->s + i;
			e = i + str_chrb(l, routes->len - i, 0);
			c = str_chrb(l, e - i, ':');
			if (c == e - i || !lowereq(l, c, host + k, hn - k))
				continue;
			rs = c + 1;
			if (rs < e - i && l[rs] == '[') {
				re = rs + str_chrb(l + rs, e - i - rs, ']');
				if (re == e - i)
					return errno = EINVAL, -1;
				re++;
			} else
				re = rs + str_chrb(l + rs, e - i - rs, ':');
			*port = 25;
			if (re < e - i) {
				if (l[re] != ':' || !scan_ulong(l + re + 1, e - i - re - 1, port) ||
				    *port == 0 || *port > 65535)
					return errno = EINVAL, -1;
			}
			if (!str_copyb(relay, l + rs, re - rs) || !str_nul(relay))
				return -1;
			return 1;
		}
	}
	return 0;
}

/* authlogin - the control/smtpauth line "relay:login:password" for
 * relay (as control/smtproutes writes it, any case; a literal in
 * brackets) into
 * cf->login and cf->pass: 1 found, 0 none, -1 a line without two colons */
static int
authlogin(struct config *cf, const struct str *relay)
{
	const char *l;
	size_t i, n, a, b;

	for (i = 0; i < cf->auth.len; i += n + 1) {
		l = cf->auth.s + i;
		n = str_chrb(l, cf->auth.len - i, 0);
		/* a bracketed literal may hold colons of its own */
		a = n > 0 && l[0] == '[' ? str_chrb(l, n, ']') : 0;
		a += str_chrb(l + a, n - a, ':');
		b = a < n ? a + 1 + str_chrb(l + a + 1, n - a - 1, ':') : n;
		if (b >= n)
			return -1;
		if (!lowereq(l, a, relay->s, relay->len))
			continue;
		if (!str_copyb(&cf->login, l + a + 1, b - a - 1) ||
		    !str_copyb(&cf->pass, l + b + 1, n - b - 1))
			nomem();
		return 1;
	}
	return 0;
}

/* isloopback - 127.0.0.0/8 or ::1 */
static int
isloopback(const struct dns_ip *ip)
{
	static const unsigned char one6[16] = { [15] = 1 };

	return ip->family == AF_INET ? ip->addr[0] == 127 : memcmp(ip->addr, one6, 16) == 0;
}

/* tlspolicy - the control/tlsroutes line for host: the host itself,
 * then ".suffix" entries, longest first, then the ":policy" default;
 * TLS_MAY without one, -1 when the line found names no policy.  The
 * policy follows the last colon, so "[IPv6:::1]:verify" works. */
static int
tlspolicy(const struct str *routes, const char *host, size_t hn)
{
	static const struct {
		const char *name;
		int policy;
	} words[] = {
		{ "none", TLS_NONE }, { "may", TLS_MAY },
		{ "encrypt", TLS_ENCRYPT }, { "verify", TLS_VERIFY },
	};
	size_t i, e, c, k, w;
	const char *l;

	for (k = 0; k <= hn; k++) {
		if (k != 0 && k != hn && host[k] != '.')
			continue;
		for (i = 0; i < routes->len; i = e + 1) {
			l = routes->s + i;
			e = i + str_chrb(l, routes->len - i, 0);
			for (c = e - i; c > 0 && l[c - 1] != ':'; c--)
				;
			if (c == 0 || !lowereq(l, c - 1, host + k, hn - k))
				continue;
			for (w = 0; w < sizeof words / sizeof words[0]; w++)
				if (lowereq(l + c, e - i - c, words[w].name, strlen(words[w].name)))
					return words[w].policy;
			return errno = EINVAL, -1;
		}
	}
	return TLS_MAY;
}

/* literal - "[1.2.3.4]", "[IPv6:...]" or "[...]" into ip; 1 or 0 */
static int
literal(const char *s, size_t n, struct dns_ip *ip)
{
	char a[INET6_ADDRSTRLEN + 1];

	if (n < 3 || s[0] != '[' || s[n - 1] != ']')
		return 0;
	s++;
	n -= 2;
	if (n > 5 && str_caseeqb(s, "IPv6:", 5)) {
		s += 5;
		n -= 5;
	}
	if (n >= sizeof a)
		return 0;
	memcpy(a, s, n);
	a[n] = 0;
	if (inet_pton(AF_INET, a, ip->addr) == 1) {
		ip->family = AF_INET;
		return 1;
	}
	if (inet_pton(AF_INET6, a, ip->addr) == 1) {
		ip->family = AF_INET6;
		return 1;
	}
	return 0;
}

/* isme_name - name is this host: control/me or a control/locals entry */
static int
isme_name(const struct config *cf, const char *name, size_t n)
{
	size_t i, e;

	if (lowereq(name, n, cf->me.s, cf->me.len))
		return 1;
	for (i = 0; i < cf->locals.len; i = e + 1) {
		e = i + str_chrb(cf->locals.s + i, cf->locals.len - i, 0);
		if (lowereq(name, n, cf->locals.s + i, e - i))
			return 1;
	}
	return 0;
}

/* isme_ip - ip is one of this machine's addresses, or unspecified */
static int
isme_ip(const struct dns_ip *ip)
{
	static const unsigned char zero[16];
	static const unsigned char mapped[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff };
	struct dns_ip v4;
	struct ifaddrs *ifa, *p;
	const unsigned char *a;
	int found = 0;

	/* ::ffff:a.b.c.d is a.b.c.d */
	if (ip->family == AF_INET6 && memcmp(ip->addr, mapped, 12) == 0) {
		v4.family = AF_INET;
		memcpy(v4.addr, ip->addr + 12, 4);
		return isme_ip(&v4);
	}
	if (memcmp(ip->addr, zero, ip->family == AF_INET ? 4 : 16) == 0)
		return 1;
	if (ip->family == AF_INET && ip->addr[0] == 127)
		return 1;	/* all of 127/8 is this machine's loopback */
	if (getifaddrs(&ifa) == -1)
		return 0;
	for (p = ifa; p && !found; p = p->ifa_next) {
		if (!p->ifa_addr || p->ifa_addr->sa_family != ip->family)
			continue;
		if (ip->family == AF_INET)
			a = (const unsigned char *)&((struct sockaddr_in *)(void *)p->ifa_addr)->sin_addr;
		else
			a = (const unsigned char *)&((struct sockaddr_in6 *)(void *)p->ifa_addr)->sin6_addr;
		found = memcmp(a, ip->addr, ip->family == AF_INET ? 4 : 16) == 0;
	}
	freeifaddrs(ifa);
	return found;
}

static void
addcand(struct cand *c, size_t *nc, unsigned pref, const char *name, const struct dns_ip *ip)
{
	size_t n = strlen(name);

	if (*nc >= CAND_MAX)
		return;
	c[*nc].pref = pref;
	c[*nc].tlsfailed = 0;
	if (n > DNS_NAME_MAX)
		n = DNS_NAME_MAX;
	memcpy(c[*nc].name, name, n);
	c[*nc].name[n] = 0;
	c[*nc].ip = *ip;
	(*nc)++;
}

/* cutat - this host is an exchanger of preference pref: it and every
 * exchanger as good or worse are out, including those already added */
static void
cutat(struct cand *c, size_t *nc, unsigned pref, int *cut, unsigned *cutpref)
{
	size_t i, j;

	*cut = 1;
	*cutpref = pref;
	for (i = j = 0; i < *nc; i++)
		if (c[i].pref < pref)
			c[j++] = c[i];
	*nc = j;
}

/* resolve - candidates for a host name with MX preference pref; 1 found,
 * 0 none, -1 temporary; a loop back to us cuts the list (*cut) */
static int
resolve(const struct config *cf, const char *name, unsigned pref, unsigned long port,
    struct cand *c, size_t *nc, int *cut, unsigned *cutpref)
{
	struct dns_ip ip[DNS_IP_MAX];
	size_t n, i;
	int r;

	if (isme_name(cf, name, strlen(name))) {
		cutat(c, nc, pref, cut, cutpref);
		return 0;
	}
	r = dns_ip(name, strlen(name), ip, DNS_IP_MAX, &n);
	if (r != 1)
		return r;
	for (i = 0; i < n; i++)
		if (port == 25 && isme_ip(&ip[i])) {
			cutat(c, nc, pref, cut, cutpref);
			return 0;
		}
	for (i = 0; i < n; i++)
		addcand(c, nc, pref, name, &ip[i]);
	return 1;
}

/* --- connecting ------------------------------------------------------ */

static int
tcpconnect(const struct config *cf, const struct dns_ip *ip, unsigned long port)
{
	struct sockaddr_storage ss;
	struct sockaddr_in *s4 = (struct sockaddr_in *)&ss;
	struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss;
	struct pollfd pfd;
	socklen_t sl;
	int fd, r, err, soerr, fl;

	memset(&ss, 0, sizeof ss);
	if (ip->family == AF_INET) {
		s4->sin_family = AF_INET;
		s4->sin_port = htons((unsigned short)port);
		memcpy(&s4->sin_addr, ip->addr, 4);
		sl = sizeof *s4;
	} else {
		s6->sin6_family = AF_INET6;
		s6->sin6_port = htons((unsigned short)port);
		memcpy(&s6->sin6_addr, ip->addr, 16);
		sl = sizeof *s6;
	}
	if ((fd = socket(ip->family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0)) == -1)
		return -1;
	if (cf->have_out && cf->out.ss_family == ip->family &&
	    bind(fd, (const struct sockaddr *)&cf->out, cf->outlen) == -1)
		goto fail;
	if (connect(fd, (struct sockaddr *)&ss, sl) == -1) {
		if (errno != EINPROGRESS)
			goto fail;
		pfd.fd = fd;
		pfd.events = POLLOUT;
		do
			r = poll(&pfd, 1, cf->tconnect > 2000000 ? 2000000000 : (int)cf->tconnect * 1000);
		while (r == -1 && errno == EINTR);
		if (r == -1)
			goto fail;
		if (r == 0) {
			errno = ETIMEDOUT;
			goto fail;
		}
		sl = sizeof soerr;
		if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &sl) == -1)
			goto fail;
		if (soerr) {
			errno = soerr;
			goto fail;
		}
	}
	/* back to blocking: buf's deadlines do the waiting from here */
	if ((fl = fcntl(fd, F_GETFL)) == -1 || fcntl(fd, F_SETFL, fl & ~O_NONBLOCK) == -1)
		goto fail;
	return fd;
fail:
	err = errno;
	(void)close(fd);
	errno = err;
	return -1;
}

static void
ipfmt(const struct dns_ip *ip, char *a, size_t n)
{
	if (!inet_ntop(ip->family, ip->addr, a, (socklen_t)n))
		a[0] = 0;
}

/* --- configuration --------------------------------------------------- */

static void
config(struct config *cf, struct rcpt *r, int nr)
{
	struct str o = STR_ZERO;
	struct sockaddr_in *s4 = (struct sockaddr_in *)&cf->out;
	struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&cf->out;
	int x;

	if ((x = control_readline("control/me", &cf->me)) == -1)
		fail(r, nr, 'Z', "Unable to read control/me: ", strerror(errno), NULL);
	if (x == 0)
		fail(r, nr, 'Z', "control/me is missing", NULL, NULL);
	if ((x = control_readline("control/helohost", &cf->helo)) == -1)
		fail(r, nr, 'Z', "Unable to read control/helohost: ", strerror(errno), NULL);
	if (x == 0 && !scopy(&cf->helo, &cf->me))
		nomem();
	if (!str_nul(&cf->helo) || !str_nul(&cf->me))
		nomem();
	if (control_readlist("control/locals", &cf->locals) == -1)
		fail(r, nr, 'Z', "Unable to read control/locals: ", strerror(errno), NULL);
	if (control_readlist("control/smtproutes", &cf->routes) == -1)
		fail(r, nr, 'Z', "Unable to read control/smtproutes: ", strerror(errno), NULL);
	if (control_readlist("control/tlsroutes", &cf->tlsroutes) == -1)
		fail(r, nr, 'Z', "Unable to read control/tlsroutes: ", strerror(errno), NULL);
	if (control_readlist("control/smtpauth", &cf->auth) == -1)
		fail(r, nr, 'Z', "Unable to read control/smtpauth: ", strerror(errno), NULL);
	cf->have_helper = access(TLSHELPER, X_OK) == 0;
	/* a trust file that is there but unreadable fails verification */
	cf->have_ca = access(TLSCAFILE, F_OK) == 0 || errno != ENOENT;
	cf->tconnect = 60;
	cf->tremote = 1200;
	if (control_readulong("control/timeoutconnect", &cf->tconnect) == -1)
		fail(r, nr, 'Z', "Unable to read control/timeoutconnect: ", strerror(errno), NULL);
	if (control_readulong("control/timeoutremote", &cf->tremote) == -1)
		fail(r, nr, 'Z', "Unable to read control/timeoutremote: ", strerror(errno), NULL);
	if (cf->tconnect == 0)
		cf->tconnect = 1;
	if (cf->tremote == 0)
		cf->tremote = 1;
	if (cf->tremote > 86400)
		cf->tremote = 86400;
	cf->have_out = 0;
	if ((x = control_readline("control/outgoingip", &o)) == -1)
		fail(r, nr, 'Z', "Unable to read control/outgoingip: ", strerror(errno), NULL);
	if (x == 1) {
		if (!str_nul(&o))
			nomem();
		memset(&cf->out, 0, sizeof cf->out);
		if (inet_pton(AF_INET, o.s, &s4->sin_addr) == 1) {
			s4->sin_family = AF_INET;
			cf->outlen = sizeof *s4;
		} else if (inet_pton(AF_INET6, o.s, &s6->sin6_addr) == 1) {
			s6->sin6_family = AF_INET6;
			cf->outlen = sizeof *s6;
		} else
			fail(r, nr, 'Z', "control/outgoingip is not an IP address: ", o.s, NULL);
		cf->have_out = 1;
	}
	str_free(&o);
}

/* relay_cands - the addresses of an smtproutes relay: a literal, or a
 * name's AAAA and A records (not its MX records) */
static void
relay_cands(const struct str *relay, struct cand *c, size_t *nc, struct rcpt *r, int nr)
{
	struct dns_ip ip[DNS_IP_MAX];
	size_t n, i;
	int x;

	if (relay->s[0] == '[') {
		if (!literal(relay->s, relay->len, &ip[0]))
			fail(r, nr, 'Z', "Bad relay in control/smtproutes: ", relay->s, NULL);
		addcand(c, nc, 0, relay->s, &ip[0]);
		return;
	}
	/* a bare dotted quad, as qmail's smtproutes allows */
	if (inet_pton(AF_INET, relay->s, ip[0].addr) == 1) {
		ip[0].family = AF_INET;
		addcand(c, nc, 0, relay->s, &ip[0]);
		return;
	}
	x = dns_ip(relay->s, relay->len, ip, DNS_IP_MAX, &n);
	if (x == -1)
		fail(r, nr, 'Z', "Temporary DNS failure looking up relay ", relay->s, NULL);
	if (x == 0)
		fail(r, nr, 'Z', "No address for relay ", relay->s, " (control/smtproutes)");
	for (i = 0; i < n; i++)
		addcand(c, nc, 0, relay->s, &ip[i]);
}

/* mx_cands - the addresses of host's exchangers, best first, without
 * this host and those no better than it */
static void
mx_cands(const struct config *cf, const char *host, size_t hn, unsigned long port,
    struct cand *c, size_t *nc, struct rcpt *r, int nr)
{
	struct dns_mx mx[DNS_MX_MAX];
	size_t nmx, i;
	unsigned cutpref = 0, temppref = 0;
	int x, cut = 0, temp = 0;

	if (dns_mx(host, hn, mx, DNS_MX_MAX, &nmx) == -1)
		fail(r, nr, 'Z', "Temporary DNS failure looking up MX for ", host, NULL);
	/* RFC 7505: a null MX is the domain's only MX record; beside
	 * others it is a mistake, and only the others count */
	if (nmx == 1 && mx[0].len == 0)
		fail(r, nr, 'D', "Domain ", host, " accepts no mail (null MX, RFC 7505) (#5.1.10)");
	if (nmx == 0) {
		/* no MX: the host itself, as if its sole MX */
		x = resolve(cf, host, 0, port, c, nc, &cut, &cutpref);
		if (x == -1)
			fail(r, nr, 'Z', "Temporary DNS failure looking up ", host, NULL);
		if (x == 0 && !cut)
			fail(r, nr, 'D', "No host by the name ", host, " (#5.1.2)");
	}
	for (i = 0; i < nmx; i++) {
		if (cut && mx[i].pref >= cutpref)
			break;
		if (mx[i].len == 0)
			continue;
		if (resolve(cf, mx[i].name, mx[i].pref, port, c, nc, &cut, &cutpref) == -1 &&
		    !temp++)
			temppref = mx[i].pref;
	}
	/* an exchanger better than this host that DNS could not answer for
	 * may be the one to take the mail: no loop can be said yet */
	if (*nc == 0 && temp && (!cut || temppref < cutpref))
		fail(r, nr, 'Z', "Temporary DNS failure looking up the MX hosts of ", host, NULL);
	if (*nc == 0 && cut)
		fail(r, nr, 'D', "Mail for ", host, " loops back to this host (its best MX"
		    " is this host, which does not take the domain) (#5.4.6)");
	if (*nc == 0)
		fail(r, nr, 'Z', "No MX host of ", host, " has an address");
}

/* note - one failed attempt, for the final report */
static void
note(struct str *errs, const char *what, const struct str *where, int err)
{
	const char *why = err == ETIMEDOUT ? "timed out" : err == EPROTO ? "bad reply" :
	    strerror(err);

	if (!str_cats(errs, errs->len ? "; " : "") || !str_cats(errs, what) ||
	    !str_cat(errs, where) || !str_cats(errs, ": ") || !str_cats(errs, why))
		nomem();
}

int
main(int argc, char **argv)
{
	static struct smtp sm;
	static struct src m;
	static struct qpmime mi;
	struct config cf;
	struct rcpt *r;
	struct cand c[CAND_MAX];
	struct str host = STR_ZERO, relay = STR_ZERO, errs = STR_ZERO, why = STR_ZERO;
	struct dns_ip lit;
	unsigned long port = 25;
	size_t nc = 0, i, j;
	int nr, k, x, code, policy;
	char a[INET6_ADDRSTRLEN + 1];

	die_init(argv[0]);
	if (argc < 4)
		die(EXIT_PERM, "usage: qmail-remote host sender recip...");
	if (!sig_ignore(SIGPIPE))
		die_sys(EXIT_TEMP, "unable to ignore SIGPIPE");
	nr = argc - 3;
	if ((r = calloc((size_t)nr, sizeof *r)) == NULL)
		nomem();
	for (k = 0; k < nr; k++) {
		r[k].addr = argv[k + 3];
		if (!safe_addr(r[k].addr)) {
			r[k].code = 'h';
			settext(&r[k].text, "Recipient address has bytes SMTP cannot carry",
			    NULL, NULL);
		}
	}
	if (!safe_addr(argv[2]))
		fail(r, nr, 'D', "Sender address has bytes SMTP cannot carry", NULL, NULL);
	if (chdir(auto_home) == -1)
		fail(r, nr, 'Z', "Unable to switch to the home directory: ", strerror(errno), NULL);
	memset(&cf, 0, sizeof cf);
	config(&cf, r, nr);
	if (!src_open(&m, &why))
		fail(r, nr, 'Z', why.s, NULL, NULL);
	if (!scan(&m, &mi))
		fail(r, nr, 'Z', "Unable to read the message: ", strerror(errno), NULL);

	/* where to: a literal, a route's relay, or the MX records */
	if (!str_copys(&host, argv[1]) || !str_nul(&host))
		nomem();
	str_lowerb(host.s, host.len);
	if (host.len > 0 && host.s[host.len - 1] == '.')
		host.s[--host.len] = 0;
	if (host.len > 0 && host.s[0] == '[') {
		if (!literal(host.s, host.len, &lit))
			fail(r, nr, 'D', "Bad address literal: ", host.s, " (#5.1.2)");
		/* qmail-send passes a literal of ours only when it is not
		 * in control/locals: sent on, it would come back here */
		if (isme_ip(&lit))
			fail(r, nr, 'D', "Mail for ", host.s, " loops back to this host (an"
			    " address of this host, not in control/locals) (#5.4.6)");
		addcand(c, &nc, 0, host.s, &lit);
	} else {
		if ((x = route(&cf.routes, host.s, host.len, &relay, &port)) == -1)
			fail(r, nr, 'Z', "Bad line in control/smtproutes for ", host.s, NULL);
		if (x == 1 && relay.len > 0) {
			if ((cf.have_auth = authlogin(&cf, &relay)) == -1)
				fail(r, nr, 'Z', "Bad line in control/smtpauth", NULL, NULL);
			relay_cands(&relay, c, &nc, r, nr);
		} else
			mx_cands(&cf, host.s, host.len, port, c, &nc, r, nr);
	}

	if ((policy = tlspolicy(&cf.tlsroutes, host.s, host.len)) == -1)
		fail(r, nr, 'Z', "Bad line in control/tlsroutes for ", host.s, NULL);

	/* each address in turn until one greets us (and gives TLS as asked) */
	for (i = 0; i < nc; i++) {
		ipfmt(&c[i].ip, a, sizeof a);
		if (!str_copys(&sm.where, c[i].name) || !str_cats(&sm.where, " (") ||
		    !str_cats(&sm.where, a) || !str_cats(&sm.where, ")"))
			nomem();
		if ((sm.fd = tcpconnect(&cf, &c[i].ip, port)) == -1) {
			note(&errs, "unable to connect to ", &sm.where, errno);
			continue;
		}
		buf_init(&sm.in, sm.fd, sm.inx, sizeof sm.inx, (unsigned)cf.tremote);
		buf_init(&sm.out, sm.fd, sm.outx, sizeof sm.outx, (unsigned)cf.tremote);
		code = getreply(&sm);
		if (code >= 200 && code < 300) {
			/* the certificate must name the MX or relay, or be
			 * for the address of a literal */
			if (session(&sm, &cf, &m, &mi, argv[2], r, nr, policy, c[i].tlsfailed,
			    c[i].name[0] == '[' ? a : c[i].name, isloopback(&c[i].ip), &errs))
				/* never in clear text to this host now,
				 * at any of its addresses */
				for (j = i + 1; j < nc; j++)
					if (!strcmp(c[j].name, c[i].name) ||
					    (c[j].ip.family == c[i].ip.family &&
					    !memcmp(c[j].ip.addr, c[i].ip.addr,
					    c[i].ip.family == AF_INET ? 4 : 16)))
						c[j].tlsfailed = 1;
			continue;	/* no session here: the next one */
		}
		if (code == -1)
			note(&errs, "no greeting from ", &sm.where, errno);
		else {
			if (!str_cats(&errs, errs.len ? "; " : "") ||
			    !str_cats(&errs, "greeting from ") || !str_cat(&errs, &sm.where) ||
			    !str_cats(&errs, ": ") || !str_cat(&errs, &sm.rep.text))
				nomem();
			sm.out.timeout = QUIT_TIMEOUT;
			if (put(&sm, "QUIT\r\n", NULL, NULL))
				(void)buf_flush(&sm.out);	/* a courtesy only */
		}
		(void)close(sm.fd);	/* a failed session: nothing to keep */
	}
	if (!str_nul(&errs))
		nomem();
	fail(r, nr, 'Z', "No host took the message: ", errs.s, NULL);
}
