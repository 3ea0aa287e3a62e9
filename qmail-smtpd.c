/* qmail-smtpd - the ESMTP server, one process per connection
 *
 * Run by tcpserver as qmaild with the connection on descriptors 0 and 1
 * and the client's address in TCPREMOTEIP and friends; see qmail-smtpd(8).
 * Everything the client sends is untrusted: commands, addresses, AUTH
 * data and the message.  Accepted messages go to qmail-queue (or
 * $QMAILQUEUE) with LF line ends, our Received line first, the envelope
 * after the message; the client hears 250 only once that program exited 0.
 * Given arguments, it offers SMTP AUTH (PLAIN, LOGIN) and checks the
 * client's password with them, a checkpassword program and its arguments.
 * Behind qmail-tls -s it offers STARTTLS (lib/starttls.h).
 * At MAIL it checks SPF (lib/spf.h) for clients that neither relay nor
 * authenticated, as control/spfbehavior says (default off), and records
 * the result in an Authentication-Results field after the Received line.
 * Authentication-Results fields naming us in the client's header are
 * removed (lib/authres.h), so that only we speak for ourselves.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "authnets.h"
#include "authres.h"
#include "auto.h"
#include "base64.h"
#include "buf.h"
#include "control.h"
#include "date822.h"
#include "die.h"
#include "dns.h"
#include "mono.h"
#include "env.h"
#include "qqfilter.h"
#include "rcptcheck.h"
#include "sig.h"
#include "smtpcmd.h"
#include "smtpdata.h"
#include "spawn.h"
#include "spf.h"
#include "starttls.h"
#include "str.h"

#define AUTHLINE_MAX 12288	/* RFC 4954: an AUTH line may be this long */
#define MAILEXTRA 540		/* MAIL may exceed the command limit by this */
#define HELO_MAX 255		/* bytes of the HELO name kept */
#define QQ_HOLD (1024 * 1024)	/* message bytes held before qmail-queue starts */
#define QQ_ABORTWAIT 5000	/* ms an abandoned qmail-queue gets to clean up */
#define LOG_MAX 4000		/* bytes of addresses in one log line */
#define LOGIN_MAX 255		/* bytes in an AUTH login */
#define PASS_MAX 1024		/* bytes in an AUTH password */
#define RCPT_HARDMAX 100000	/* recipients qmail-queue takes, whatever the settings */
#define SESSION_MAX 604800	/* control/timeoutsession at most: a week */
#define SPF_OFF 0		/* control/spfbehavior */
#define SPF_RECORD 1
#define SPF_REJECT 2
#define TROUBLE "421 4.3.0 temporary trouble, try later\r\n"
#define NOMEM "421 4.3.0 out of memory, try later\r\n"
#define NOUTF8 "553 5.6.7 non-ASCII address, and SMTPUTF8 is not offered here\r\n"

/* settings: control files, overridden per client by the environment */
struct limits {
	unsigned long databytes;	/* message size, 0 = any */
	unsigned long timeout;		/* seconds a command line, a read or a write may take */
	unsigned long session;		/* seconds the whole connection may take, 0 = any */
	unsigned long maxrcpt;		/* recipients per message */
	unsigned long maxconnrcpt;	/* recipients per connection */
	unsigned long maxmsgs;		/* messages per connection */
	unsigned long maxbad;		/* failed commands before hanging up */
	unsigned long maxauthfail;	/* failed AUTH before hanging up */
	unsigned long maxjunk;		/* commands that deliver nothing, per message */
	unsigned long linemax;		/* DATA line, CRLF included */
	unsigned long cmdmax;		/* command line, CRLF included */
	unsigned long greetdelay;	/* seconds of silence asked of the client */
	int spf;			/* SPF_OFF, SPF_RECORD, SPF_REJECT */
	int mfdnscheck;			/* the MAIL FROM domain must resolve */
};

struct qq {
	pid_t pid;		/* 0 until started */
	int mfd, efd;		/* message and envelope pipes */
	int broken;		/* a write failed: never 250, whatever the exit code */
	int starterr;		/* errno when it could not be started, else 0 */
	struct str hold;	/* bytes waiting for the start */
};

struct session {
	struct buf in, out;
	struct limits lim;
	struct rcptcheck rc;
	struct str me, greeting, badmailfrom, authfrom, defaultdomain;
	const char *remoteip, *remotehost, *remoteinfo, *relayclient;
	char *const *cpw;	/* checkpassword program and arguments, or NULL */
	int submission;
	int tlsfd;		/* qmail-tls control socket, -1: no STARTTLS */
	int tls;		/* the connection is encrypted */
	int plainok;		/* AUTH accepted before TLS (control/plaintextauthnets) */
	struct str helo;	/* sanitised; empty before HELO/EHLO */
	int heloliteral;	/* it is a proper address literal, whole */
	int esmtp;
	struct str login;	/* authenticated login, empty if none */
	unsigned long authfail;
	int inmail;		/* MAIL given */
	struct str sender;
	struct str spfhdr;	/* Authentication-Results for this message, or empty */
	struct str env;		/* "F" sender NUL ("T" rcpt NUL)... */
	struct str rcptlog;	/* recipients for the log line */
	unsigned long nrcpt, connrcpt, msgs, bad;
	unsigned long junk;	/* see junk(), since the last message taken */
	long long sessionend;	/* mono_ms() when the session is over, 0 never */
	struct str line;	/* the current command line */
};

static char inx[BUF_SIZE], outx[BUF_SIZE];

/* logline - one line on stderr in one write, so lines never mix */
static void
logline(const char *a, const char *b, const char *c, const char *d)
{
	struct str l = STR_ZERO;
	const char *parts[4] = { a, b, c, d };
	int i;

	if (!str_cats(&l, die_progname()) || !str_cats(&l, ": "))
		return;
	for (i = 0; i < 4; i++)
		if (parts[i] && !str_cats(&l, parts[i]))
			return;
	if (str_catc(&l, '\n'))
		(void)fd_writeall(2, l.s, l.len, 5);	/* a lost log line is no reason to stop */
	str_free(&l);
}

/* safe - b[0..n) for a header or a log line: printable ASCII, no
 * parentheses or brackets, bounded */
static int
safecat(struct str *to, const char *b, size_t n, size_t max)
{
	size_t i;

	for (i = 0; i < n && i < max; i++) {
		unsigned char c = (unsigned char)b[i];

		if (c < 33 || c > 126 || c == '(' || c == ')' || c == '[' || c == ']' || c == '\\')
			c = '?';
		if (!str_catc(to, (char)c))
			return 0;
	}
	return 1;
}

/* helocat - the HELO argument as kept: as safecat, but the brackets of
 * an address literal stay */
static int
helocat(struct str *to, const char *b, size_t n)
{
	size_t i;

	for (i = 0; i < n && i < HELO_MAX; i++)
		if (!(b[i] == '[' || b[i] == ']' ? str_catc(to, b[i]) : safecat(to, b + i, 1, 1)))
			return 0;
	return 1;
}

/* commentcat - b[0..n) in a comment of a header field: letters, digits
 * and "-._:@[]+=" stay, anything else becomes '?', so nothing in it can
 * close the comment, quote, or look like the ';' before the date */
static int
commentcat(struct str *to, const char *b, size_t n, size_t max)
{
	size_t i;

	for (i = 0; i < n && i < max; i++) {
		char c = b[i];

		if (!str_isalpha(c) && !str_isdigit(c) && (c == 0 || !strchr("-._:@[]+=", c)))
			c = '?';
		if (!str_catc(to, c))
			return 0;
	}
	return 1;
}

/* isdomain - b[0..n) is a host name: labels of letters, digits, '-' (and
 * '_', which many hosts put in their names) between single dots */
static int
isdomain(const char *b, size_t n)
{
	return smtpcmd_dotted(b, n, "-_", 0);
}

/* ispton - b[0..n) is an address of family af as inet_pton reads it:
 * a dotted quad (no leading zeros), or IPv6 text */
static int
ispton(int af, const char *b, size_t n)
{
	char a[64];
	unsigned char bin[16];

	if (n >= sizeof a)
		return 0;
	memcpy(a, b, n);
	a[n] = 0;
	return inet_pton(af, a, bin) == 1;
}

/* isliteral - b[0..n) is an RFC 5321 4.1.3 address literal: "[" an
 * IPv4 address, "IPv6:" and an IPv6 address, or a General-address-literal
 * (Standardized-tag ":" 1*dcontent) "]" */
static int
isliteral(const char *b, size_t n)
{
	size_t i, colon;

	if (n < 3 || b[0] != '[' || b[n - 1] != ']')
		return 0;
	b++;
	n -= 2;
	if ((colon = str_chrb(b, n, ':')) == n)
		return ispton(AF_INET, b, n);
	if (colon == 4 && str_caseeqb(b, "IPv6", 4))
		return ispton(AF_INET6, b + 5, n - 5);
	/* the tag is an Ldh-str: it ends in a letter or digit */
	if (colon == 0 || b[colon - 1] == '-' || colon + 1 == n)
		return 0;
	for (i = 0; i < colon; i++)
		if (!str_isalpha(b[i]) && !str_isdigit(b[i]) && b[i] != '-')
			return 0;
	/* dcontent: printable US-ASCII but "[", backslash and "]" */
	for (i = colon + 1; i < n; i++)
		if ((unsigned char)b[i] < 33 || (unsigned char)b[i] > 126 || b[i] == '[' ||
		    b[i] == '\\' || b[i] == ']')
			return 0;
	return 1;
}

/* isdotatom - b[0..n) is an RFC 5322 dot-atom: atext between single dots */
static int
isdotatom(const char *b, size_t n)
{
	return smtpcmd_dotted(b, n, SMTPCMD_ATEXT, 0);
}

/* pvaluecat - an RFC 8601 property value: addr[0..n) as it is when it is a
 * host name, or (with mailbox) dot-atom@host; else an RFC 2045
 * quoted-string, '"' and '\\' escaped, control bytes left out, 8-bit
 * bytes as '?', so that no ';' or '(' of the client's starts a result or
 * a comment of its own.  At most max bytes of addr are written. */
static int
pvaluecat(struct str *to, const char *b, size_t n, size_t max, int mailbox)
{
	size_t at = str_rchrb(b, n, '@'), i;

	if (n <= max && (mailbox ? at < n && isdotatom(b, at) && isdomain(b + at + 1, n - at - 1) :
	    isdomain(b, n)))
		return str_catb(to, b, n);
	if (!str_catc(to, '"'))
		return 0;
	for (i = 0; i < n && i < max; i++) {
		unsigned char c = (unsigned char)b[i];

		if (c < 32 || c == 127)
			continue;
		if (c > 127)
			c = '?';
		if ((c == '"' || c == '\\') && !str_catc(to, '\\'))
			return 0;
		if (!str_catc(to, (char)c))
			return 0;
	}
	return str_catc(to, '"');
}

/* safespace - as safecat, but spaces stay */
static int
safespace(struct str *to, const char *b, size_t n, size_t max)
{
	size_t i;

	for (i = 0; i < n && i < max; i++)
		if (!(b[i] == ' ' ? str_catc(to, ' ') : safecat(to, b + i, 1, 1)))
			return 0;
	return 1;
}

static void
nomem(void)
{
	(void)fd_writeall(1, NOMEM, sizeof NOMEM - 1, 5);
	die_nomem();
}

/* flush - send the replies waiting; a client that cannot take them is gone */
static void
flush(struct session *ss)
{
	if (!buf_flush(&ss->out)) {
		logline("end ip=", ss->remoteip, " reason=", "write failed");
		_exit(0);
	}
}

static void
out(struct session *ss, const char *s)
{
	if (!buf_puts(&ss->out, s)) {
		logline("end ip=", ss->remoteip, " reason=", "write failed");
		_exit(0);
	}
}

/* bye - end the connection after a last reply */
static void __attribute__((noreturn))
bye(struct session *ss, const char *reply, const char *why)
{
	struct str l = STR_ZERO;

	if (reply) {
		out(ss, reply);
		flush(ss);
	}
	if (!str_cats(&l, " helo=") || !safecat(&l, ss->helo.s, ss->helo.len, HELO_MAX) ||
	    !str_cats(&l, " msgs=") || !str_catulong(&l, ss->msgs) ||
	    !str_cats(&l, " rcpts=") || !str_catulong(&l, ss->connrcpt) ||
	    !str_cats(&l, " bad=") || !str_catulong(&l, ss->bad) ||
	    !str_cats(&l, " reason=") || !str_cats(&l, why) || !str_nul(&l))
		_exit(0);
	logline("end ip=", ss->remoteip, l.s, NULL);
	_exit(0);
}

/* failed - count a failed command; too many end the connection */
static void
failed(struct session *ss, const char *reply)
{
	out(ss, reply);
	ss->bad++;
	if (ss->lim.maxbad && ss->bad >= ss->lim.maxbad)
		bye(ss, "421 4.7.0 too many errors, closing the connection\r\n", "too many errors");
}

/* junkcount - one more command that delivers nothing (see junk()); past
 * the limit the connection ends, so that looping on such commands holds
 * no connection slot for long */
static void
junkcount(struct session *ss)
{
	ss->junk++;
	if (ss->lim.maxjunk && ss->junk >= ss->lim.maxjunk)
		bye(ss, "421 4.7.0 too many commands that deliver nothing, closing the connection\r\n",
		    "too many junk commands");
}

/* junk - answer such a command: NOOP, RSET, VRFY, HELP, HELO or EHLO
 * again, RCPT past the recipient limits, a temporary refusal */
static void
junk(struct session *ss, const char *reply)
{
	out(ss, reply);
	junkcount(ss);
}

/* deadline - seconds from now, or the session's end if that is sooner */
static long long
deadline(const struct session *ss, unsigned long seconds)
{
	long long d = mono_ms() + (long long)seconds * 1000;

	return ss->sessionend && ss->sessionend < d ? ss->sessionend : d;
}

/* sessionover - the session time limit has passed */
static int
sessionover(const struct session *ss)
{
	return ss->sessionend && mono_ms() >= ss->sessionend;
}

/* timedout - a read ran into its deadline: say which one, and end */
static void __attribute__((noreturn))
timedout(struct session *ss)
{
	if (sessionover(ss))
		bye(ss, "421 4.4.2 session time limit reached, closing the connection\r\n",
		    "session time limit");
	bye(ss, "421 4.4.2 timeout, closing the connection\r\n", "timeout");
}

/* getline - the next line into ss->line, flushing replies first when
 * the client must be waiting for them.  1 a line, 2 a line longer than
 * max (discarded); on end of file or timeout the connection ends.  The
 * whole line must come within the timeout, however it is cut into
 * pieces: a byte now and then holds no connection for ever.  Past the
 * session's end the next line gets 421. */
static int
getline_(struct session *ss, size_t max)
{
	size_t have = buf_pending(&ss->in), i;
	long long end;
	int found, toolong = 0;
	long r;

	if (have == 0 || str_chrb(ss->in.x + ss->in.pos, have, '\n') == have)
		flush(ss);
	if (sessionover(ss))
		timedout(ss);
	end = deadline(ss, ss->lim.timeout);
	ss->line.len = 0;
	for (;;) {
		if ((have = buf_pending(&ss->in)) == 0) {
			if ((r = buf_fill_by(&ss->in, end)) == 0)
				bye(ss, NULL, "disconnected");
			if (r < 0 && errno == ETIMEDOUT)
				timedout(ss);
			if (r < 0)
				bye(ss, NULL, "read failed");
			continue;
		}
		i = str_chrb(ss->in.x + ss->in.pos, have, '\n');
		if ((found = i < have))
			i++;	/* the LF travels with the line */
		/* a line too long is thrown away as it comes */
		if (!toolong && i > max - ss->line.len)
			toolong = 1;
		if (!toolong && !str_catb(&ss->line, ss->in.x + ss->in.pos, i))
			nomem();
		ss->in.pos += i;
		if (found)
			return toolong ? 2 : 1;
	}
}

/* trouble - a control file could not be read: tell the client, then die */
static void __attribute__((noreturn))
trouble(const char *fn)
{
	int err = errno;

	(void)fd_writeall(1, TROUBLE, sizeof TROUBLE - 1, 5);
	errno = err;
	die_sys(EXIT_TEMP, "unable to read ", fn);
}

/* readsetting - a number from the environment (per client) or a control file */
static void
readsetting(const char *var, const char *fn, unsigned long *v, unsigned long def)
{
	int r;

	*v = def;
	if (var && (r = env_ulong(var, v)) != 0) {
		if (r == -1) {
			warn("ignoring ", var, ": not a number");
			*v = def;
		} else
			return;
	}
	if ((r = control_readulong(fn, v)) == 0)
		*v = def;
	else if (r == -1)
		trouble(fn);
}

static void
readlist(const char *fn, struct str *l, int lower)
{
	if (control_readlist(fn, l) == -1)
		trouble(fn);
	if (lower)
		str_lowerb(l->s, l->len);
}

static void spfsetting(struct session *);

static void
setup(struct session *ss)
{
	struct limits *lim = &ss->lim;
	unsigned long u;
	const char *fn;
	int r;

	if ((r = control_readline("control/me", &ss->me)) == -1)
		trouble("control/me");
	if (r == 0 && !str_copys(&ss->me, "localhost"))
		nomem();
	if ((r = control_readline("control/smtpgreeting", &ss->greeting)) == -1)
		trouble("control/smtpgreeting");
	if (r == 0 && !str_copyb(&ss->greeting, ss->me.s, ss->me.len))
		nomem();
	if ((r = control_readline("control/defaultdomain", &ss->defaultdomain)) == -1)
		trouble("control/defaultdomain");
	if (r == 0 && !str_copyb(&ss->defaultdomain, ss->me.s, ss->me.len))
		nomem();
	if (!str_nul(&ss->me) || !str_nul(&ss->greeting) || !str_nul(&ss->defaultdomain))
		nomem();
	readlist("control/badmailfrom", &ss->badmailfrom, 1);
	readlist("control/smtpdauthfrom", &ss->authfrom, 1);
	if (!rcptcheck_load(&ss->rc, &fn))
		trouble(fn);

	readsetting("DATABYTES", "control/databytes", &lim->databytes, 52428800);
	readsetting(NULL, "control/timeoutsmtpd", &lim->timeout, 1200);
	if (lim->timeout == 0 || lim->timeout > 86400)
		lim->timeout = 1200;
	readsetting(NULL, "control/timeoutsession", &lim->session, 3600);
	if (lim->session > SESSION_MAX)
		lim->session = SESSION_MAX;
	readsetting("MAXRCPT", "control/smtpdmaxrcpt", &lim->maxrcpt, 1000);
	readsetting("MAXCONNRCPT", "control/smtpdmaxconnrcpt", &lim->maxconnrcpt, 10000);
	readsetting("MAXMSGS", "control/smtpdmaxmsgs", &lim->maxmsgs, 1000);
	readsetting("MAXBAD", "control/smtpdmaxbad", &lim->maxbad, 20);
	readsetting("MAXAUTHFAIL", "control/smtpdmaxauthfail", &lim->maxauthfail, 3);
	readsetting("MAXJUNK", "control/smtpdmaxjunk", &lim->maxjunk, 100);
	readsetting(NULL, "control/smtpdlinemax", &lim->linemax, 1000);
	readsetting(NULL, "control/smtpdcmdmax", &lim->cmdmax, 512);
	if (lim->cmdmax < 64)
		lim->cmdmax = 64;
	if (lim->cmdmax > AUTHLINE_MAX)
		lim->cmdmax = AUTHLINE_MAX;
	readsetting("GREETDELAY", "control/smtpgreetdelay", &lim->greetdelay, 0);
	if (lim->greetdelay > 300)
		lim->greetdelay = 300;
	readsetting("MFDNSCHECK", "control/mfdnscheck", &u, 0);
	lim->mfdnscheck = u != 0;
	spfsetting(ss);

	ss->remoteip = env_get("TCPREMOTEIP");
	if (!ss->remoteip || !*ss->remoteip)
		ss->remoteip = "unknown";
	ss->remotehost = env_get("TCPREMOTEHOST");
	ss->remoteinfo = env_get("TCPREMOTEINFO");
	ss->relayclient = env_get("RELAYCLIENT");
	ss->submission = env_get("SUBMISSION") != NULL;
	/* set here after an AUTH only, never inherited */
	if (!env_unset("SMTPAUTHUSER"))
		nomem();
}

/* spfsetting - control/spfbehavior: off (the default), record or reject;
 * $SPFBEHAVIOR (set per client by tcprules) overrides it */
static void
spfsetting(struct session *ss)
{
	struct str v = STR_ZERO;
	const char *e = env_get("SPFBEHAVIOR");
	int r;

	if (e) {
		r = 1;
		if (!str_copys(&v, e))
			nomem();
	} else if ((r = control_readline("control/spfbehavior", &v)) == -1)
		trouble("control/spfbehavior");
	ss->lim.spf = SPF_OFF;
	if (r == 1) {
		if (v.len == 3 && str_caseeqb(v.s, "off", 3))
			ss->lim.spf = SPF_OFF;
		else if (v.len == 6 && str_caseeqb(v.s, "reject", 6))
			ss->lim.spf = SPF_REJECT;
		else if (v.len == 6 && str_caseeqb(v.s, "record", 6))
			ss->lim.spf = SPF_RECORD;
		else {
			(void)fd_writeall(1, TROUBLE, sizeof TROUBLE - 1, 5);
			die(EXIT_TEMP, e ? "$SPFBEHAVIOR" : "control/spfbehavior",
			    " is not off, record or reject");
		}
	}
	str_free(&v);
}

/* spf - check the sender's domain (or, for <>, the HELO name); 1 go on,
 * 0 refused (the reply is out) */
static int
spf(struct session *ss, const char *d, size_t dn)
{
	struct spf_req req;
	struct str why = STR_ZERO, r = STR_ZERO;
	int res;

	ss->spfhdr.len = 0;
	if (ss->lim.spf == SPF_OFF || ss->relayclient || ss->login.len || ss->submission)
		return 1;
	if (!spf_ip(ss->remoteip, &req))
		return 1;	/* no address to check (not run by tcpserver) */
	req.helo = ss->helo.s;
	req.helolen = ss->helo.len;
	if (ss->sender.len > 0) {
		req.local = ss->sender.s;
		req.locallen = (size_t)(d - ss->sender.s) - 1;
		req.domain = d;
		req.domainlen = dn;
	} else {
		req.local = "postmaster";
		req.locallen = 10;
		req.domain = ss->helo.s;
		req.domainlen = ss->helo.len;
	}
	if (req.domainlen > 0 && req.domain[0] == '[')
		res = SPF_NONE;	/* an address literal: nothing to look up */
	else
		res = spf_check(&req, &why);
	if (!str_cats(&ss->spfhdr, "Authentication-Results: ") || !str_cat(&ss->spfhdr, &ss->me) ||
	    !str_cats(&ss->spfhdr, ";\n\tspf=") || !str_cats(&ss->spfhdr, spf_name(res)) ||
	    (why.len && (!str_cats(&ss->spfhdr, " (") ||
	    !safespace(&ss->spfhdr, why.s, why.len, 200) || !str_catc(&ss->spfhdr, ')'))) ||
	    !str_cats(&ss->spfhdr, ss->sender.len ? " smtp.mailfrom=" : " smtp.helo=") ||
	    !(ss->sender.len ? pvaluecat(&ss->spfhdr, ss->sender.s, ss->sender.len, 300, 1) :
	    pvaluecat(&ss->spfhdr, ss->helo.s, ss->helo.len, HELO_MAX, 0)) ||
	    !str_catc(&ss->spfhdr, '\n'))
		nomem();
	str_free(&why);
	if (ss->lim.spf != SPF_REJECT || (res != SPF_FAIL && res != SPF_TEMPERROR))
		return 1;
	ss->spfhdr.len = 0;
	if (res == SPF_TEMPERROR) {
		junk(ss, "451 4.4.3 SPF: temporary DNS failure for the sender's domain, try later\r\n");
		return 0;
	}
	if (!str_cats(&r, "550 5.7.23 SPF: ") ||
	    !safecat(&r, req.domain, req.domainlen, 255) ||
	    !str_cats(&r, " does not allow ") || !safecat(&r, ss->remoteip, strlen(ss->remoteip), 100) ||
	    !str_cats(&r, " to send its mail\r\n") || !str_nul(&r))
		nomem();
	failed(ss, r.s);
	str_free(&r);
	return 0;
}

/* greetdelay - wait in silence; a client that talks first is refused */
static void
greetdelay(struct session *ss)
{
	struct pollfd p;
	long long end = mono_ms() + (long long)ss->lim.greetdelay * 1000;
	int r, left;

	if (ss->lim.greetdelay == 0)
		return;
	for (;;) {
		if ((left = mono_left(end)) == 0)
			return;
		p.fd = 0;
		p.events = POLLIN;
		r = poll(&p, 1, left);
		if (r == -1 && errno == EINTR)
			continue;
		if (r == 0)
			return;
		if (r == -1)
			bye(ss, NULL, "poll failed");
		bye(ss, "554 5.7.1 you talked before my greeting, goodbye\r\n", "early talker");
	}
}

static void
reset(struct session *ss)
{
	ss->inmail = 0;
	ss->sender.len = 0;
	ss->env.len = 0;
	ss->rcptlog.len = 0;
	ss->nrcpt = 0;
}

/* helo - HELO and EHLO: remember the name, reset the transaction */
static void
helo(struct session *ss, const char *arg, size_t n, int esmtp)
{
	char num[FMT_ULONG];
	struct str r = STR_ZERO;
	int again = ss->helo.len > 0;

	if (n == 0) {
		failed(ss, esmtp ? "501 5.5.4 EHLO needs a domain name\r\n" :
		    "501 5.5.4 HELO needs a domain name\r\n");
		return;
	}
	reset(ss);
	ss->helo.len = 0;
	if (!helocat(&ss->helo, arg, n) || !str_nul(&ss->helo))
		nomem();
	/* judged as sent: helocat turns what a literal may not hold into
	 * '?', which one may */
	ss->heloliteral = n <= HELO_MAX && isliteral(arg, n);
	ss->esmtp = esmtp;
	if (!str_cats(&r, "250") || !str_cats(&r, esmtp ? "-" : " ") || !str_cats(&r, ss->me.s) ||
	    !str_cats(&r, "\r\n"))
		nomem();
	if (esmtp) {
		if (!str_cats(&r, "250-PIPELINING\r\n250-8BITMIME\r\n250-ENHANCEDSTATUSCODES\r\n"))
			nomem();
		if (ss->tlsfd >= 0 && !ss->tls && !str_cats(&r, "250-STARTTLS\r\n"))
			nomem();
		if (ss->cpw && (ss->tls || ss->plainok) && !str_cats(&r, "250-AUTH PLAIN LOGIN\r\n"))
			nomem();
		if (!str_cats(&r, "250 SIZE"))
			nomem();
		if (ss->lim.databytes) {
			if (!str_catc(&r, ' ') || !str_catb(&r, num, fmt_ulong(num, ss->lim.databytes)))
				nomem();
		}
		if (!str_cats(&r, "\r\n"))
			nomem();
	}
	if (!str_nul(&r))
		nomem();
	out(ss, r.s);
	str_free(&r);
	if (again)
		junkcount(ss);	/* a second HELO in the same state moves nothing forward */
}

/* domain_of - the domain of addr (after the last '@'), or NULL */
static const char *
domain_of(const struct str *a, size_t *n)
{
	size_t at = str_rchrb(a->s, a->len, '@');

	if (at == a->len)
		return NULL;
	*n = a->len - at - 1;
	return a->s + at + 1;
}

/* badmailfrom - the sender is listed as an address or as "@domain" */
static int
badmailfrom(struct session *ss, const struct str *a)
{
	const struct str *l = &ss->badmailfrom;
	size_t i = 0, e, at = str_rchrb(a->s, a->len, '@');

	while (i < l->len) {
		e = i + str_chrb(l->s + i, l->len - i, 0);
		if (e - i == a->len && str_caseeqb(l->s + i, a->s, a->len))
			return 1;
		if (at < a->len && l->s[i] == '@' && e - i == a->len - at &&
		    str_caseeqb(l->s + i, a->s + at, a->len - at))
			return 1;
		i = e + 1;
	}
	return 0;
}

/* reserved - local parts that speak for the mail system itself (RFC
 * 5321 4.5.1, RFC 3834): no login reaches them as an extension */
static int
reserved(const char *l, size_t n)
{
	return (n == 4 && str_caseeqb(l, "root", 4)) || (n == 10 && str_caseeqb(l, "postmaster", 10)) ||
	    (n == 13 && str_caseeqb(l, "mailer-daemon", 13));
}

/* extension_ours - is login-ext@domain (a[0..n), the login's part ulen
 * bytes long) the login's?  Delivery gives login-a-b to the longest of
 * login-a-b, login-a that users/recipients.cdb lists (lib/rcptcheck.c),
 * so none of those longer than the login may be listed, nor be a
 * reserved name.  1 yes, 0 no, -1 cannot tell. */
static int
extension_ours(const char *a, size_t n, size_t ulen)
{
	struct str key = STR_ZERO;
	size_t at = str_rchrb(a, n, '@'), p;
	int r = 1;

	for (p = ulen + 1; p <= at && r == 1; p++) {
		if (p < at && a[p] != '-')
			continue;
		if (reserved(a, p))
			r = 0;
		else if (!str_copyb(&key, a, p) || !str_catb(&key, a + at, n - at))
			r = -1;
		else if ((r = rcptcheck_mailbox(key.s, key.len)) != -1)
			r = !r;
	}
	str_free(&key);
	return r;
}

/* ownaddress - under SUBMISSION, may the login send as a?  Its own
 * address (a bare login in control/defaultdomain), with any extension
 * that is no other mailbox's, or what control/smtpdauthfrom grants:
 * "login:address", "login:@domain", "login:*", "*:..." for every login.
 * 1 yes, 0 no, -1 cannot tell now. */
static int
ownaddress(struct session *ss, const struct str *a)
{
	const struct str *lg = &ss->login, *l = &ss->authfrom;
	size_t at = str_rchrb(a->s, a->len, '@'), la = str_rchrb(lg->s, lg->len, '@');
	size_t i = 0, e, c, ulen, dl;
	const char *dom;

	if (a->len == 0)
		return 0;
	while (i < l->len) {
		e = i + str_chrb(l->s + i, l->len - i, 0);
		c = i + str_chrb(l->s + i, e - i, ':');
		if (c < e && ((c - i == 1 && l->s[i] == '*') ||
		    (c - i == lg->len && str_caseeqb(l->s + i, lg->s, lg->len)))) {
			const char *v = l->s + c + 1;
			size_t vn = e - c - 1;

			if (vn == 1 && v[0] == '*')
				return 1;
			if (vn == a->len && str_caseeqb(v, a->s, a->len))
				return 1;
			if (vn > 0 && v[0] == '@' && at < a->len && vn == a->len - at &&
			    str_caseeqb(v, a->s + at, vn))
				return 1;
		}
		i = e + 1;
	}
	if (at == a->len)
		return 0;
	if (la < lg->len) {
		ulen = la;
		dom = lg->s + la + 1;
		dl = lg->len - la - 1;
	} else {
		ulen = lg->len;
		dom = ss->defaultdomain.s;
		dl = ss->defaultdomain.len;
	}
	if (a->len - at - 1 != dl || !str_caseeqb(a->s + at + 1, dom, dl))
		return 0;
	if (at < ulen || !str_caseeqb(a->s, lg->s, ulen))
		return 0;
	if (at == ulen)
		return 1;	/* the login itself, even when it is postmaster */
	/* an extension of it, unless it is another mailbox's (or alias's):
	 * joe may send as neither joe-smith nor joe-smith-private */
	if (a->s[ulen] != '-')
		return 0;
	return extension_ours(a->s, a->len, ulen);
}

/* digits - p[0..n) is all ASCII digits */
static int
digits(const char *p, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (!str_isdigit(p[i]))
			return 0;
	return 1;
}

static void
mail(struct session *ss, const char *arg, size_t n)
{
	size_t rest, pos, k, kl, v, vl, dn = 0;
	unsigned long size;
	const char *d = NULL;
	int route, r;

	if (ss->helo.len == 0) {
		failed(ss, "503 5.5.1 send HELO or EHLO first\r\n");
		return;
	}
	if (ss->inmail) {
		failed(ss, "503 5.5.1 MAIL already given; RSET first\r\n");
		return;
	}
	if (ss->submission && ss->login.len == 0) {
		failed(ss, ss->tls || ss->plainok || !ss->cpw ? "530 5.7.0 authentication required\r\n" :
		    ss->tlsfd >= 0 ? "530 5.7.0 must issue a STARTTLS command first\r\n" :
		    "530 5.7.0 authentication required, and it needs TLS, which this port does not offer\r\n");
		return;
	}
	if (ss->lim.maxmsgs && ss->msgs >= ss->lim.maxmsgs)
		bye(ss, "421 4.7.0 too many messages in one connection, closing\r\n", "too many messages");
	if (n == 0 || smtpcmd_path(arg, n, &ss->sender, &rest, &route) != SMTPPATH_OK) {
		failed(ss, "501 5.1.7 bad sender address syntax; use MAIL FROM:<address>\r\n");
		return;
	}
	/* without SMTPUTF8 (RFC 6531), which is not offered, an address
	 * is ASCII only */
	if (!str_asciib(ss->sender.s, ss->sender.len)) {
		failed(ss, NOUTF8);
		return;
	}
	/* a source route in MAIL FROM is ignored, as RFC 5321 asks */
	for (pos = rest; smtpcmd_param(arg, n, &pos, &k, &kl, &v, &vl);) {
		if (kl == 4 && str_caseeqb(arg + k, "size", 4)) {
			if (vl == 0 || vl > 20 || !digits(arg + v, vl)) {
				failed(ss, "501 5.5.4 SIZE needs a number\r\n");
				return;
			}
			if (!scan_ulong(arg + v, vl, &size))
				size = (unsigned long)-1;	/* RFC 1870 allows 20 digits */
			if (ss->lim.databytes && size > ss->lim.databytes) {
				failed(ss, "552 5.3.4 message size exceeds the fixed maximum message size\r\n");
				return;
			}
		} else if (kl == 4 && str_caseeqb(arg + k, "body", 4)) {
			if (!(vl == 4 && str_caseeqb(arg + v, "7bit", 4)) &&
			    !(vl == 8 && str_caseeqb(arg + v, "8bitmime", 8))) {
				failed(ss, "501 5.5.4 BODY must be 7BIT or 8BITMIME\r\n");
				return;
			}
		} else if (kl == 4 && str_caseeqb(arg + k, "auth", 4)) {
			;	/* RFC 4954: may be ignored */
		} else {
			failed(ss, "555 5.5.4 unsupported MAIL parameter\r\n");
			return;
		}
	}
	if (ss->sender.len > 0 && (d = domain_of(&ss->sender, &dn)) == NULL) {
		failed(ss, "553 5.1.7 the sender address must contain a domain\r\n");
		return;
	}
	if (ss->sender.len > 0 && (dn == 0 || ss->sender.s[0] == '@')) {
		failed(ss, "553 5.1.7 bad sender address syntax\r\n");
		return;
	}
	if (badmailfrom(ss, &ss->sender)) {
		failed(ss, "553 5.7.1 sender refused by local policy (badmailfrom)\r\n");
		return;
	}
	if (ss->submission && (r = ownaddress(ss, &ss->sender)) != 1) {
		if (r == -1)
			junk(ss, "451 4.3.0 unable to check the sender address, try later\r\n");
		else
			failed(ss, "553 5.7.1 you may send only from your own address\r\n");
		return;
	}
	if (ss->lim.mfdnscheck && ss->sender.len > 0 && d[0] != '[') {
		if ((r = dns_domain_exists(d, dn)) == 0) {
			failed(ss, "553 5.1.8 the sender's domain does not exist in DNS\r\n");
			return;
		}
		if (r == -1) {
			junk(ss, "451 4.4.3 unable to look up the sender's domain, try later\r\n");
			return;
		}
	}
	if (!spf(ss, d, dn))
		return;
	if (!str_copys(&ss->env, "F") || !str_cat(&ss->env, &ss->sender) || !str_catc(&ss->env, 0))
		nomem();
	ss->inmail = 1;
	out(ss, "250 2.1.0 sender ok\r\n");
}

/* pmdomain - after "postmaster@" in a, a domain delivered here:
 * control/me when it is local or virtual, else the first line of
 * control/locals, else localhost.  With control/me in neither,
 * qmail-send would send postmaster@me out as remote mail. */
static int
pmdomain(struct session *ss, struct str *a)
{
	struct str prefix = STR_ZERO;
	const struct str *l = &ss->rc.locals;
	size_t len = a->len;
	int v;

	if (!str_cats(a, ss->me.s))
		return 0;
	if (rcptcheck_islocal(&ss->rc, ss->me.s, ss->me.len))
		return 1;
	v = rcptcheck_virtual(&ss->rc, a->s, a->len, &prefix);
	str_free(&prefix);
	if (v == 1)
		return 1;
	a->len = len;
	return l->len ? str_catb(a, l->s, str_chrb(l->s, l->len, 0)) : str_cats(a, "localhost");
}

static void
rcpt(struct session *ss, const char *arg, size_t n)
{
	struct str a = STR_ZERO;
	size_t rest, pos, k, kl, v, vl, at, dn = 0;
	const char *d;
	int route, r, pm = 0;

	if (!ss->inmail) {
		failed(ss, "503 5.5.1 MAIL first\r\n");
		return;
	}
	if (n == 0 || smtpcmd_path(arg, n, &a, &rest, &route) != SMTPPATH_OK || a.len == 0) {
		failed(ss, "501 5.1.3 bad recipient address syntax; use RCPT TO:<address>\r\n");
		goto out;
	}
	if (!str_asciib(a.s, a.len)) {
		failed(ss, NOUTF8);
		goto out;
	}
	if (route) {
		failed(ss, "553 5.7.1 source routes are not accepted\r\n");
		goto out;
	}
	pos = rest;
	if (smtpcmd_param(arg, n, &pos, &k, &kl, &v, &vl)) {
		failed(ss, "555 5.5.4 unsupported RCPT parameter\r\n");
		goto out;
	}
	at = str_rchrb(a.s, a.len, '@');
	if (at == a.len && a.len == 10 && str_caseeqb(a.s, "postmaster", 10)) {
		/* RFC 5321 4.5.1: plain "postmaster" means ours, and must
		 * be taken whether or not control/me is in rcpthosts */
		if (!str_catc(&a, '@') || !pmdomain(ss, &a))
			nomem();
		at = 10;
		pm = 1;
	}
	if (at == a.len || at == 0 || at + 1 == a.len) {
		failed(ss, "553 5.1.3 the recipient address must be local@domain\r\n");
		goto out;
	}
	if (str_chrb(a.s, at, '%') < at || str_chrb(a.s, at, '!') < at || str_chrb(a.s, at, '@') < at) {
		failed(ss, "553 5.7.1 the percent hack and bang paths are not accepted\r\n");
		goto out;
	}
	d = domain_of(&a, &dn);
	if (!ss->relayclient && ss->login.len == 0 && !pm) {
		if ((r = rcptcheck_relay(&ss->rc, d, dn)) == -1) {
			junk(ss, "451 4.3.0 unable to read the relay table, try later\r\n");
			goto out;
		}
		if (r == 0) {
			failed(ss, ss->cpw ?
			    "553 5.7.1 relaying denied: that domain is not handled here; authenticate first\r\n" :
			    "553 5.7.1 relaying denied: that domain is not handled here\r\n");
			goto out;
		}
	}
	if (ss->nrcpt >= RCPT_HARDMAX || (ss->lim.maxrcpt && ss->nrcpt >= ss->lim.maxrcpt) ||
	    (ss->lim.maxconnrcpt && ss->connrcpt >= ss->lim.maxconnrcpt)) {
		/* RFC 5321 4.5.3.1.10: the client sends DATA for those
		 * taken and the rest later, so this is no failed command */
		junk(ss, "452 4.5.3 too many recipients\r\n");
		goto out;
	}
	if ((r = rcptcheck_exists(&ss->rc, a.s, a.len)) == -1) {
		junk(ss, "451 4.3.0 unable to check the recipient, try later\r\n");
		goto out;
	}
	if (r == 0) {
		failed(ss, "550 5.1.1 no such user here\r\n");
		goto out;
	}
	/* qmail's convention: RELAYCLIENT's value is appended */
	if (ss->relayclient && !str_cats(&a, ss->relayclient))
		nomem();
	if (a.len > SMTPADDR_MAX) {
		failed(ss, "553 5.1.3 address too long\r\n");
		goto out;
	}
	if (!str_catc(&ss->env, 'T') || !str_cat(&ss->env, &a) || !str_catc(&ss->env, 0))
		nomem();
	if (ss->rcptlog.len < LOG_MAX) {
		if ((ss->rcptlog.len && !str_catc(&ss->rcptlog, ',')) ||
		    !str_catc(&ss->rcptlog, '<') || !safecat(&ss->rcptlog, a.s, a.len, 300) ||
		    !str_catc(&ss->rcptlog, '>'))
			nomem();
	}
	ss->nrcpt++;
	ss->connrcpt++;
	out(ss, "250 2.1.5 recipient ok\r\n");
out:
	str_free(&a);
}

/* qq_prog - the queue program: $QMAILQUEUE, else bin/qmail-queue */
static const char *
qq_prog(void)
{
	const char *prog = env_get("QMAILQUEUE");

	return prog && *prog ? prog : "bin/qmail-queue";
}

/* qq_start - run the queue program on two fresh pipes; 0 with
 * q->starterr set when it cannot be started */
static int
qq_start(struct qq *q)
{
	if ((q->pid = qq_spawn(qq_prog(), &q->mfd, &q->efd)) == -1) {
		q->pid = 0;
		q->starterr = errno ? errno : EAGAIN;
		return 0;
	}
	return 1;
}

/* qq_put - message bytes; small messages are held until the end, so a
 * message refused or cut off before that never starts qmail-queue.
 * When it cannot be started the rest is dropped: the client still
 * sends it, and hears 451 at the end.  0 only for lack of memory. */
static int
qq_put(struct qq *q, const char *p, size_t n)
{
	if (q->broken || q->starterr)
		return 1;
	if (q->pid == 0) {
		if (q->hold.len + n <= QQ_HOLD)
			return str_catb(&q->hold, p, n);
		if (!qq_start(q)) {
			q->hold.len = 0;
			return 1;
		}
		if (!fd_writeall(q->mfd, q->hold.s, q->hold.len, 0))
			q->broken = 1;
		q->hold.len = 0;
	}
	if (!q->broken && !fd_writeall(q->mfd, p, n, 0))
		q->broken = 1;	/* it stopped reading: never a 250 (see data) */
	return 1;
}

/* qq_gone - wait at most ms milliseconds for the queue program to end;
 * 1 when it did (or cannot be waited for), 0 when it still runs */
static int
qq_gone(pid_t pid, long long ms)
{
	struct timespec nap = { 0, 1000000 };
	long long end = mono_ms() + ms;
	int st;
	pid_t r;

	for (;;) {
		r = waitpid(pid, &st, WNOHANG);
		if (r > 0 || (r == -1 && errno != EINTR))
			return 1;
		if (mono_ms() >= end)
			return 0;
		(void)nanosleep(&nap, NULL);	/* an early wake-up only looks again */
		if (nap.tv_nsec < 64000000)
			nap.tv_nsec *= 2;
	}
}

/* qq_abort - drop the message.  Both pipes closed with no envelope
 * written tell qmail-queue (or a $QMAILQUEUE filter) the message is
 * abandoned: it removes what it wrote and exits, at once, whatever
 * stands in between.  A signal first could end a filter before its
 * cleanup, and leave a partial message file for qmail-send's 36-hour
 * sweep.  One that lingers gets TERM (qmail-queue cleans up on it),
 * and KILL as a last resort. */
static void
qq_abort(struct qq *q)
{
	q->hold.len = 0;
	if (q->pid == 0)
		return;
	(void)close(q->mfd);	/* pipes: nothing to lose */
	(void)close(q->efd);
	if (!qq_gone(q->pid, QQ_ABORTWAIT)) {
		(void)kill(q->pid, SIGTERM);
		if (!qq_gone(q->pid, 1000)) {
			(void)kill(q->pid, SIGKILL);
			(void)qq_gone(q->pid, 1000);	/* else init reaps it after us */
		}
	}
	q->pid = 0;
}

/* qq_finish - the envelope after the message; qmail-queue's exit code,
 * -1 when it could not run (q->starterr set) or died */
static int
qq_finish(struct qq *q, const struct str *env, unsigned long *qpid)
{
	int st, code;

	if (q->starterr)
		return -1;
	if (q->pid == 0) {
		if (!qq_start(q))
			return -1;
		if (!fd_writeall(q->mfd, q->hold.s, q->hold.len, 0))
			q->broken = 1;
		q->hold.len = 0;
	}
	*qpid = (unsigned long)q->pid;
	if (close(q->mfd) == -1)
		q->broken = 1;
	if (!fd_writeall(q->efd, env->s, env->len, 0) || !fd_writeall(q->efd, "", 1, 0))
		q->broken = 1;
	(void)close(q->efd);	/* a pipe: a loss showed in the writes */
	if (spawn_wait(q->pid, &st) == -1)
		code = -1;
	else
		code = spawn_exitcode(st);
	q->pid = 0;
	return code;
}

/* qq_putv - qq_put for authres_strip */
static int
qq_putv(void *q, const char *p, size_t n)
{
	return qq_put(q, p, n);
}

/* literal - the client's address as an address literal */
static int
literal(struct str *h, const char *ip)
{
	return str_catc(h, '[') && (!strchr(ip, ':') || str_cats(h, "IPv6:")) &&
	    safecat(h, ip, strlen(ip), 100) && str_catc(h, ']');
}

/* received - our trace header, LF-ended as the queue stores it.  RFC
 * 5321 4.4 wants a domain or an address literal after "from": a HELO
 * that is neither goes into the comment, defused, and the client's
 * address takes its place.  The client's ident answer and reverse name
 * are its own words too. */
static int
received(struct session *ss, struct str *h)
{
	char date[DATE822_LEN];
	const char *ip = ss->remoteip;
	int plain = isdomain(ss->helo.s, ss->helo.len) || ss->heloliteral;
	/* the protocol as registered (RFC 5321, RFC 3848): ESMTP, with S
	 * for TLS and A for AUTH; after HELO plain SMTP, as no SMTP with
	 * TLS or AUTH is registered.  A login is made after EHLO only,
	 * and outlives a later HELO. */
	int esmtp = ss->esmtp || ss->login.len > 0;

	date822_fmt(date, time(NULL));
	h->len = 0;
	if (!str_cats(h, "Received: from ") ||
	    !(plain ? str_catb(h, ss->helo.s, ss->helo.len) : literal(h, ip)) || !str_cats(h, " ("))
		return 0;
	if (!plain && (!str_cats(h, "helo=") || !commentcat(h, ss->helo.s, ss->helo.len, HELO_MAX) ||
	    !str_catc(h, ' ')))
		return 0;
	if (ss->remoteinfo && *ss->remoteinfo &&
	    (!commentcat(h, ss->remoteinfo, strlen(ss->remoteinfo), 100) || !str_catc(h, '@')))
		return 0;
	if (ss->remotehost && *ss->remotehost &&
	    (!commentcat(h, ss->remotehost, strlen(ss->remotehost), 255) || !str_catc(h, ' ')))
		return 0;
	if (!literal(h, ip) || !str_cats(h, ")\n\tby ") ||
	    !safecat(h, ss->me.s, ss->me.len, 255) || !str_cats(h, " (lanmail) with ") ||
	    !str_cats(h, esmtp ? "ESMTP" : "SMTP") || (esmtp && ss->tls && !str_catc(h, 'S')) ||
	    (ss->login.len && !str_catc(h, 'A')))
		return 0;
	if (ss->login.len && (!str_cats(h, " (authenticated user ") ||
	    !commentcat(h, ss->login.s, ss->login.len, LOGIN_MAX) || !str_catc(h, ')')))
		return 0;
	return str_cats(h, ";\n\t") && str_cats(h, date) && str_catc(h, '\n');
}

/* msglog - the per-message log line */
static void
msglog(struct session *ss, unsigned long size, const char *result, unsigned long qpid)
{
	struct str l = STR_ZERO;

	if (!str_cats(&l, " helo=") || !safecat(&l, ss->helo.s, ss->helo.len, HELO_MAX) ||
	    (ss->login.len && (!str_cats(&l, " auth=") || !safecat(&l, ss->login.s, ss->login.len, LOGIN_MAX))) ||
	    !str_cats(&l, " from=<") || !safecat(&l, ss->sender.s, ss->sender.len, 300) ||
	    !str_cats(&l, "> to=") || !str_cat(&l, &ss->rcptlog) ||
	    !str_cats(&l, " size=") || !str_catulong(&l, size) ||
	    !str_cats(&l, " result=") || !str_cats(&l, result) ||
	    (qpid && (!str_cats(&l, " qp=") || !str_catulong(&l, qpid))) || !str_nul(&l)) {
		str_free(&l);
		return;
	}
	logline("message ip=", ss->remoteip, l.s, NULL);
	str_free(&l);
}

static void
data(struct session *ss, size_t argn)
{
	struct smtpdata sd;
	struct qq q = { 0, -1, -1, 0, 0, STR_ZERO };
	struct authres_strip ar;
	struct str h = STR_ZERO;
	char o[BUF_SIZE + 1];
	unsigned long size = 0, qpid = 0;
	size_t took, olen;
	unsigned long long lfs;
	int toobig = 0, code;
	long r;

	if (!ss->inmail) {
		failed(ss, "503 5.5.1 MAIL first\r\n");
		return;
	}
	if (ss->nrcpt == 0) {
		failed(ss, "503 5.5.1 RCPT first (no valid recipients)\r\n");
		return;
	}
	if (argn) {
		failed(ss, "501 5.5.4 DATA takes no argument\r\n");
		return;
	}
	/* SPFRESULT tells a $QMAILQUEUE filter (qmail-dkimverify) that the
	 * field after our Received line is ours; best effort */
	if (ss->spfhdr.len)
		(void)env_set("SPFRESULT", "1");
	else
		(void)env_unset("SPFRESULT");
	if (!received(ss, &h) || !qq_put(&q, h.s, h.len) ||
	    (ss->spfhdr.len && !qq_put(&q, ss->spfhdr.s, ss->spfhdr.len)))
		nomem();
	str_free(&h);
	out(ss, "354 go ahead, end with <CRLF>.<CRLF>\r\n");
	flush(ss);
	smtpdata_init(&sd, ss->lim.linemax);
	/* RFC 8601 5: the client's Authentication-Results fields naming
	 * us go, whether or not we add one (a filter or the delivery may) */
	authres_strip_init(&ar, ss->me.s, ss->me.len);
	while (!sd.done) {
		/* the message may take long, each read not; nor may the
		 * session: past its end the message is dropped unqueued */
		if (buf_pending(&ss->in) == 0 && (r = buf_fill_by(&ss->in, deadline(ss, ss->lim.timeout))) <= 0) {
			int late = r == -1 && errno == ETIMEDOUT;

			qq_abort(&q);
			msglog(ss, size, r == 0 ? "dropped:disconnected" : !late ? "dropped:read-failed" :
			    sessionover(ss) ? "dropped:session-time-limit" : "dropped:timeout", 0);
			if (late)
				timedout(ss);
			bye(ss, NULL, r == 0 ? "disconnected in DATA" : "read failed in DATA");
		}
		lfs = sd.lfs;
		took = smtpdata_feed(&sd, ss->in.x + ss->in.pos, buf_pending(&ss->in), o, &olen);
		ss->in.pos += took;
		/* RFC 1870: the size counts each line end as CR LF, as SIZE
		 * does; o holds them as LF.  It is what the client sent: a
		 * forged field removed below still counts. */
		if (__builtin_add_overflow(size, olen + (sd.lfs - lfs), &size))
			size = (unsigned long)-1;
		if (ss->lim.databytes && size > ss->lim.databytes && !toobig) {
			toobig = 1;
			qq_abort(&q);
		}
		if (!toobig && !sd.flags && !authres_strip_feed(&ar, o, olen, qq_putv, &q))
			nomem();
		if (sd.flags && !toobig)
			qq_abort(&q);
	}
	ss->msgs++;
	if (toobig) {
		qq_abort(&q);
		msglog(ss, size, "refused:too-big", 0);
		failed(ss, "552 5.3.4 message too big: it exceeds the fixed maximum message size\r\n");
	} else if (sd.flags & SMTPDATA_BARELF) {
		msglog(ss, size, "refused:bare-LF", 0);
		failed(ss, "554 5.6.0 message refused: bare LF in the message; lines must end in CRLF\r\n");
	} else if (sd.flags & SMTPDATA_BARECR) {
		msglog(ss, size, "refused:bare-CR", 0);
		failed(ss, "554 5.6.0 message refused: bare CR in the message; lines must end in CRLF\r\n");
	} else if (sd.flags & SMTPDATA_LONGLINE) {
		msglog(ss, size, "refused:long-line", 0);
		failed(ss, "554 5.6.0 message refused: a line is longer than 1000 octets\r\n");
	} else {
		if (!authres_strip_end(&ar, qq_putv, &q))
			nomem();
		code = qq_finish(&q, &ss->env, &qpid);
		if (q.starterr) {
			errno = q.starterr;
			warn_sys("unable to run ", qq_prog());
			msglog(ss, size, "deferred:queue-start-failed", 0);
			out(ss, "451 4.3.0 queue trouble: the queue program could not be started, try later\r\n");
		} else if (code == 0 && q.broken) {
			/* a filter that stopped reading and exited 0 may have
			 * queued what it got: the client retries the whole
			 * message, and the log says a cut copy may be queued */
			msglog(ss, size, "deferred:queue-stopped-reading:cut-copy-may-be-queued", qpid);
			out(ss, "451 4.3.0 the queue program did not take the whole message, try later\r\n");
		} else if (code == 0) {
			char num[FMT_ULONG];
			struct str r2 = STR_ZERO;

			msglog(ss, size, "accepted", qpid);
			ss->junk = 0;	/* the client is doing its job */
			if (!str_cats(&r2, "250 2.0.0 ok: queued as qp ") ||
			    !str_catb(&r2, num, fmt_ulong(num, qpid)) || !str_cats(&r2, "\r\n") ||
			    !str_nul(&r2))
				nomem();
			out(ss, r2.s);
			str_free(&r2);
		} else if (qq_permanent(code)) {
			msglog(ss, size, "refused:queue", qpid);
			out(ss, "554 5.3.0 message refused\r\n");
		} else {
			msglog(ss, size, "deferred:queue-trouble", qpid);
			out(ss, "451 4.3.0 queue trouble, try later\r\n");
		}
	}
	str_free(&q.hold);
	reset(ss);
}

/* findprog - a checkpassword name without '/' is looked for in $PATH,
 * then in our bin/ */
static int
findprog(const char *name, struct str *path)
{
	const char *p = env_get("PATH");
	size_t n, i = 0, e;

	if (strchr(name, '/'))
		return str_copys(path, name) && str_nul(path);
	if (p == NULL)
		p = "/usr/bin:/bin";
	n = strlen(p);
	while (i <= n) {
		e = i + str_chrb(p + i, n - i, ':');
		path->len = 0;
		if (e > i && str_catb(path, p + i, e - i) && str_catc(path, '/') &&
		    str_cats(path, name) && str_nul(path) && access(path->s, X_OK) == 0)
			return 1;
		i = e + 1;
	}
	path->len = 0;
	return str_cats(path, auto_home) && str_cats(path, "/bin/") && str_cats(path, name) &&
	    str_nul(path);
}

/* checkpassword - run the checkpassword program with login NUL password
 * NUL timestamp NUL on descriptor 3; its exit code, or -1 */
static int
checkpassword(struct session *ss, const struct str *login, struct str *pass)
{
	struct str data = STR_ZERO, path = STR_ZERO;
	char num[FMT_ULONG];
	int p[2], fds[4], devnull, st, code = -1;
	pid_t pid;

	if (!findprog(ss->cpw[0], &path))
		nomem();
	if (!str_cat(&data, login) || !str_catc(&data, 0) || !str_cat(&data, pass) ||
	    !str_catc(&data, 0) || !str_catc(&data, '<') ||
	    !str_catb(&data, num, fmt_ulong(num, (unsigned long)getpid())) || !str_catc(&data, '.') ||
	    !str_catb(&data, num, fmt_ulong(num, (unsigned long)time(NULL))) ||
	    !str_catc(&data, '@') || !str_cats(&data, ss->me.s) || !str_catc(&data, '>') ||
	    !str_catc(&data, 0))
		nomem();
	if ((devnull = open("/dev/null", O_RDWR | O_CLOEXEC)) == -1)
		goto done;
	if (pipe_cloexec(p) == -1) {
		(void)close(devnull);
		goto done;
	}
	fds[0] = devnull;
	fds[1] = devnull;
	fds[2] = 2;
	fds[3] = p[0];
	pid = spawn(path.s, ss->cpw, NULL, fds, 4);
	(void)close(p[0]);
	(void)close(devnull);
	if (pid == -1) {
		warn_sys("unable to run ", path.s);
		(void)close(p[1]);
		goto done;
	}
	/* small enough for the pipe; a program that does not read it just exits */
	(void)fd_writeall(p[1], data.s, data.len, 10);
	(void)close(p[1]);
	if (spawn_wait(pid, &st) == 1)
		code = spawn_exitcode(st);
done:
	memset(data.s, 0, data.len);	/* the password goes no further */
	str_free(&data);
	str_free(&path);
	return code;
}

/* authline - a continuation line of AUTH, decoded; 1, 0 cancelled or
 * bad (reply sent) */
static int
authline(struct session *ss, const char *prompt, struct str *out_)
{
	size_t len;

	out(ss, prompt);
	if (getline_(ss, AUTHLINE_MAX) != 1) {
		failed(ss, "500 5.5.2 line too long\r\n");
		return 0;
	}
	if (smtpcmd_check(ss->line.s, ss->line.len, &len) != SMTPCMD_OK) {
		failed(ss, "501 5.5.2 lines must end in CRLF\r\n");
		return 0;
	}
	if (len == 1 && ss->line.s[0] == '*') {
		failed(ss, "501 5.7.0 authentication cancelled\r\n");
		return 0;
	}
	if (!base64_decode(ss->line.s, len, out_)) {
		if (errno != EINVAL)
			nomem();
		failed(ss, "501 5.5.2 invalid base64 data\r\n");
		return 0;
	}
	return 1;
}

/* authwait - the pause before the answer to the nth checked password of
 * the connection, when it fails: 1, 2, 4, 8, then 16 seconds.  Once one
 * failed, a success waits as long, so that a client which hangs up when
 * no quick success comes learns nothing from it.  Guessing across
 * connections is not counted here (see qmail-smtpd(8)). */
static void
authwait(struct session *ss, unsigned long n)
{
	flush(ss);
	sleep(n > 5 ? 16U : 1U << (n - 1));
}

static void
auth(struct session *ss, const char *arg, size_t n)
{
	struct str resp = STR_ZERO, login = STR_ZERO, pass = STR_ZERO;
	size_t m, r0, i;
	int plain, code;

	if (!ss->cpw) {
		failed(ss, "502 5.5.1 AUTH is not available here\r\n");
		return;
	}
	if (ss->login.len) {
		failed(ss, "503 5.5.1 already authenticated\r\n");
		return;
	}
	if (ss->inmail) {
		failed(ss, "503 5.5.1 AUTH is not allowed during a mail transaction\r\n");
		return;
	}
	if (!ss->esmtp) {
		/* not offered before EHLO, nor after HELO (RFC 5321 2.2) */
		failed(ss, "503 5.5.1 send EHLO first\r\n");
		return;
	}
	if (!ss->tls && !ss->plainok) {
		/* RFC 4954: passwords do not cross this network in clear */
		failed(ss, "538 5.7.11 encryption required for requested authentication mechanism\r\n");
		return;
	}
	m = 0;
	while (m < n && arg[m] != ' ' && arg[m] != '\t')
		m++;
	for (r0 = m; r0 < n && (arg[r0] == ' ' || arg[r0] == '\t'); r0++)
		;
	if (m == 0) {
		failed(ss, "501 5.5.4 AUTH needs a mechanism: PLAIN or LOGIN\r\n");
		return;
	}
	if (m == 5 && str_caseeqb(arg, "plain", 5))
		plain = 1;
	else if (m == 5 && str_caseeqb(arg, "login", 5))
		plain = 0;
	else {
		failed(ss, "504 5.5.4 unknown mechanism; use PLAIN or LOGIN\r\n");
		return;
	}
	if (str_chrb(arg + r0, n - r0, ' ') < n - r0) {
		failed(ss, "501 5.5.4 too many arguments\r\n");
		return;
	}
	if (plain) {
		if (r0 == n) {
			if (!authline(ss, "334 \r\n", &resp))
				goto out;
		} else if (n - r0 == 1 && arg[r0] == '=') {
			resp.len = 0;
		} else if (!base64_decode(arg + r0, n - r0, &resp)) {
			if (errno != EINVAL)
				nomem();
			failed(ss, "501 5.5.2 invalid base64 data\r\n");
			goto out;
		}
		/* authzid NUL authcid NUL password */
		i = str_chrb(resp.s, resp.len, 0);
		m = i < resp.len ? i + 1 + str_chrb(resp.s + i + 1, resp.len - i - 1, 0) : resp.len;
		if (i >= resp.len || m >= resp.len ||
		    str_chrb(resp.s + m + 1, resp.len - m - 1, 0) < resp.len - m - 1) {
			failed(ss, "501 5.5.2 malformed PLAIN response\r\n");
			goto out;
		}
		if (!str_copyb(&login, resp.s + i + 1, m - i - 1) ||
		    !str_copyb(&pass, resp.s + m + 1, resp.len - m - 1))
			nomem();
		if (i > 0 && (i != login.len || !str_caseeqb(resp.s, login.s, i))) {
			failed(ss, "535 5.7.8 authorization identity not permitted\r\n");
			goto out;
		}
	} else {
		if (r0 < n) {
			if (!base64_decode(arg + r0, n - r0, &login)) {
				if (errno != EINVAL)
					nomem();
				failed(ss, "501 5.5.2 invalid base64 data\r\n");
				goto out;
			}
		} else if (!authline(ss, "334 VXNlcm5hbWU6\r\n", &login))
			goto out;
		if (!authline(ss, "334 UGFzc3dvcmQ6\r\n", &pass))
			goto out;
	}
	if (login.len == 0 || login.len > LOGIN_MAX || pass.len > PASS_MAX ||
	    str_chrb(login.s, login.len, 0) < login.len || str_chrb(pass.s, pass.len, 0) < pass.len) {
		code = 1;	/* no checkpassword program could take it */
	} else
		code = checkpassword(ss, &login, &pass);
	if (code == 0) {
		if (!str_copyb(&ss->login, login.s, login.len) || !str_nul(&ss->login))
			nomem();
		(void)env_set("SMTPAUTHUSER", ss->login.s);	/* for a $QMAILQUEUE filter; best effort */
		{
			struct str l = STR_ZERO;

			if (safecat(&l, login.s, login.len, LOGIN_MAX) && str_nul(&l))
				logline("auth ip=", ss->remoteip, " result=ok login=", l.s);
			str_free(&l);
		}
		if (ss->authfail)
			authwait(ss, ss->authfail + 1);
		out(ss, "235 2.7.0 authentication successful\r\n");
		goto out;
	}
	{
		struct str l = STR_ZERO;

		if (safecat(&l, login.s, login.len, LOGIN_MAX) && str_nul(&l))
			logline("auth ip=", ss->remoteip, code == 1 || code == 2 ?
			    " result=failed login=" : " result=trouble login=", l.s);
		str_free(&l);
	}
	if (code != 1 && code != 2) {
		junk(ss, "454 4.7.0 temporary authentication failure, try later\r\n");
		goto out;
	}
	ss->authfail++;
	authwait(ss, ss->authfail);
	if (ss->lim.maxauthfail && ss->authfail >= ss->lim.maxauthfail)
		bye(ss, "535 5.7.8 authentication failed\r\n421 4.7.0 too many failed logins, closing\r\n",
		    "too many failed logins");
	failed(ss, "535 5.7.8 authentication failed\r\n");
out:
	if (ss->line.s)
		memset(ss->line.s, 0, ss->line.cap);	/* the base64 of the password */
	memset(ss->in.x, 0, ss->in.pos);	/* and its bytes as read: all taken */
	if (pass.s)
		memset(pass.s, 0, pass.cap);
	if (resp.s)
		memset(resp.s, 0, resp.cap);
	str_free(&resp);
	str_free(&login);
	str_free(&pass);
}

/* starttls - RFC 3207: qmail-tls sends our 220 and does the handshake;
 * then everything learnt in clear text is forgotten */
static void
starttls(struct session *ss, size_t argn)
{
	static const char go[] = "220 2.0.0 ready to start TLS\r\n";

	if (ss->tlsfd < 0 || ss->tls) {
		failed(ss, ss->tls ? "503 5.5.1 TLS is already on\r\n" :
		    "502 5.5.1 STARTTLS is not available here\r\n");
		return;
	}
	if (argn) {
		failed(ss, "501 5.5.4 STARTTLS takes no argument\r\n");
		return;
	}
	flush(ss);
	if (!starttls_request(ss->tlsfd, go, sizeof go - 1))
		bye(ss, NULL, "TLS handshake failed");
	ss->tlsfd = -1;
	ss->tls = 1;
	/* bytes read ahead in clear text are not the client's over TLS */
	ss->in.pos = ss->in.len = 0;
	reset(ss);
	ss->helo.len = 0;
	ss->esmtp = 0;
	ss->login.len = 0;
	/* RFC 3207 4.2: nothing from before TLS, an AUTH included, counts;
	 * a $QMAILQUEUE filter must not see a login that is forgotten */
	(void)env_unset("SMTPAUTHUSER");	/* cannot fail for lack of memory */
	logline("starttls ip=", ss->remoteip, " tls=", env_get("TLSVERSION") ? env_get("TLSVERSION") : "yes");
}

int
main(int argc, char **argv)
{
	struct session ss;
	size_t len, arg;
	int r;
	struct str l = STR_ZERO;

	die_init(argv[0]);
	memset(&ss, 0, sizeof ss);
	ss.cpw = argc > 1 ? argv + 1 : NULL;
	if (!sig_ignore(SIGPIPE))
		die_sys(EXIT_TEMP, "unable to ignore SIGPIPE");
	if (chdir(auto_home) == -1) {
		(void)fd_writeall(1, TROUBLE, sizeof TROUBLE - 1, 5);
		die_sys(EXIT_TEMP, "unable to chdir to ", auto_home);
	}
	setup(&ss);
	if (ss.lim.session)
		ss.sessionend = mono_ms() + (long long)ss.lim.session * 1000;
	errno = 0;
	if ((ss.tlsfd = starttls_fd()) == -1 && errno != 0)
		warn_sys("not offering STARTTLS: bad $", STARTTLS_ENV);
	/* behind qmail-tls with implicit TLS (smtps) the variables are set */
	ss.tls = env_get("TLSVERSION") != NULL;
	if (ss.cpw && !ss.tls) {
		int pr = authnets_plainok();

		if (pr == -1)
			warn_sys("refusing AUTH in clear: unable to read ", AUTHNETS_FILE);
		ss.plainok = pr == 1;
	}
	/* IPv6 networks of control/relaynets: tcprules matches no IPv6
	 * network exactly, so they are looked at here */
	if (!ss.relayclient) {
		int rr = authnets_relay6();

		if (rr == -1)
			warn_sys("not letting an IPv6 client relay: unable to read ", RELAYNETS_FILE);
		if (rr == 1)
			ss.relayclient = "";
	}
	/* reads wait in fill(), against a deadline per line or per session */
	buf_init(&ss.in, 0, inx, sizeof inx, 0);
	buf_init(&ss.out, 1, outx, sizeof outx, (unsigned)ss.lim.timeout);
	if (str_cats(&l, " host=") && safecat(&l, ss.remotehost ? ss.remotehost : "", ss.remotehost ? strlen(ss.remotehost) : 0, 255) &&
	    str_nul(&l))
		logline("connect ip=", ss.remoteip, l.s, NULL);
	str_free(&l);
	if (ss.submission && !ss.cpw)
		warn("SUBMISSION is set but no checkpassword program was given: every MAIL is refused");

	greetdelay(&ss);
	out(&ss, "220 ");
	out(&ss, ss.greeting.s);
	out(&ss, " ESMTP\r\n");

	for (;;) {
		if (getline_(&ss, AUTHLINE_MAX) == 2) {
			failed(&ss, "500 5.5.2 line too long\r\n");
			continue;
		}
		switch (smtpcmd_check(ss.line.s, ss.line.len, &len)) {
		case SMTPCMD_BARELF:
			failed(&ss, "500 5.5.2 bare LF in command; lines must end in CRLF\r\n");
			continue;
		case SMTPCMD_BARECR:
			failed(&ss, "500 5.5.2 bare CR in command; lines must end in CRLF\r\n");
			continue;
		case SMTPCMD_NUL:
			failed(&ss, "500 5.5.2 NUL in command\r\n");
			continue;
		}
		r = smtpcmd_verb(ss.line.s, len, &arg);
		/* RFC 1870, 6152 and 4954 let MAIL grow by 26, 14 and 500
		 * octets for SIZE=, BODY= and AUTH=; AUTH has its own,
		 * longer limit */
		if (r != SMTP_AUTH && ss.line.len > ss.lim.cmdmax + (r == SMTP_MAIL ? MAILEXTRA : 0)) {
			failed(&ss, "500 5.5.2 line too long\r\n");
			continue;
		}
		/* trailing blanks are not part of any argument */
		while (len > arg && (ss.line.s[len - 1] == ' ' || ss.line.s[len - 1] == '\t'))
			len--;
		switch (r) {
		case SMTP_HELO:
			helo(&ss, ss.line.s + arg, len - arg, 0);
			break;
		case SMTP_EHLO:
			helo(&ss, ss.line.s + arg, len - arg, 1);
			break;
		case SMTP_MAIL:
			mail(&ss, ss.line.s + arg, len - arg);
			break;
		case SMTP_RCPT:
			rcpt(&ss, ss.line.s + arg, len - arg);
			break;
		case SMTP_DATA:
			data(&ss, len - arg);
			break;
		case SMTP_RSET:
			if (len > arg) {
				failed(&ss, "501 5.5.4 RSET takes no argument\r\n");
				break;
			}
			reset(&ss);
			junk(&ss, "250 2.0.0 ok\r\n");
			break;
		case SMTP_NOOP:
			junk(&ss, "250 2.0.0 ok\r\n");
			break;
		case SMTP_QUIT:
			out(&ss, "221 2.0.0 ");
			out(&ss, ss.me.s);
			bye(&ss, " closing connection\r\n", "quit");
		case SMTP_VRFY:
			if (len == arg) {
				failed(&ss, "501 5.5.4 VRFY needs an argument\r\n");
				break;
			}
			junk(&ss, "252 2.5.0 cannot verify, but will take the message and try to deliver it\r\n");
			break;
		case SMTP_EXPN:
			failed(&ss, "502 5.5.1 EXPN is not available\r\n");
			break;
		case SMTP_HELP:
			junk(&ss, "214 2.0.0 commands: HELO EHLO MAIL RCPT DATA RSET NOOP QUIT VRFY HELP AUTH STARTTLS; see RFC 5321\r\n");
			break;
		case SMTP_AUTH:
			auth(&ss, ss.line.s + arg, len - arg);
			break;
		case SMTP_STARTTLS:
			starttls(&ss, len - arg);
			break;
		case SMTP_EMPTY:
			failed(&ss, "500 5.5.2 empty command\r\n");
			break;
		default:
			failed(&ss, "502 5.5.2 unrecognised command\r\n");
			break;
		}
	}
}
