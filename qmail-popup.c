/* qmail-popup.c - the POP3 authorization state (RFC 1939, 2449, 5034)
 *
 * Run by tcpserver as
 *	qmail-popup hostname subprogram [arg ...]
 * e.g. qmail-popup mail.example.org qmail-auth qmail-pop3d Maildir.
 * Greets the client, reads USER and PASS or AUTH PLAIN, and hands the
 * login to subprogram through the checkpassword interface: descriptor 3
 * carries "login\0password\0timestamp\0".  When subprogram exits 0 the
 * session was served; 1 means a bad login, and the client may try again.
 * Behind qmail-tls -s it offers STLS (RFC 2595, lib/starttls.h).
 * Everything the client sends is untrusted.  Input is never read past
 * the end of the current line (see take), so that nothing the client
 * sent after its login is lost to the subprogram, which reads the same
 * descriptor.
 */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "auto.h"
#include "authnets.h"
#include "base64.h"
#include "buf.h"
#include "control.h"
#include "die.h"
#include "env.h"
#include "mono.h"
#include "pop3.h"
#include "sig.h"
#include "spawn.h"
#include "starttls.h"
#include "str.h"
#include "vpasswd.h"

#define TIMEOUT_DEFAULT 600
#define FAILURES_MAX 5
/* what qmail-admin creates and qmail-auth accepts (lib/vpasswd.h):
 * user@domain, and the password */
#define LOGIN_MAX (VPASSWD_USERMAX + 1 + VPASSWD_DOMAINMAX)
#define LOGIN_MAX_S "318"	/* LOGIN_MAX, for the reply */
#define PASS_MAX VPASSWD_PASSMAX
/* hostname in the timestamp <pid.time@hostname>: a domain name */
#define HOST_MAX VPASSWD_DOMAINMAX
#define STAMP_MAX (1 + FMT_ULONG + 1 + FMT_ULONG + 1 + HOST_MAX + 1)
/* qmail-auth reads at most this much from descriptor 3 */
#define CHECKPW_MAX 1024
/* login NUL password NUL timestamp NUL fits in what qmail-auth reads,
 * and LOGIN_MAX_S is right, or this does not compile */
typedef char checkpw_fits[LOGIN_MAX + PASS_MAX + STAMP_MAX + 3 <= CHECKPW_MAX &&
    LOGIN_MAX == 318 ? 1 : -1];
/* RFC 5034 section 4: a SASL response may be as long as the mechanism
 * needs, whatever the command line limit: the base64 of PLAIN's
 * authzid NUL authcid NUL password, and CRLF */
#define PLAIN_MAX (LOGIN_MAX + 1 + LOGIN_MAX + 1 + PASS_MAX)
#define SASL_LINEMAX ((PLAIN_MAX + 2) / 3 * 4 + 2)

struct session {
	const char *hostname;
	char **sub;		/* subprogram argv */
	unsigned timeout;
	long long end;		/* mono_ms by which the login must be done */
	struct str stamp;	/* <pid.time@hostname> */
	struct str user;	/* from USER */
	unsigned failures;
	int tlsfd;		/* qmail-tls control socket, -1: no STLS */
	int tls;		/* the connection is encrypted */
	int plainok;		/* credentials are accepted (TLS, or a trusted network) */
	int peek;		/* fd 0 may be a socket: see take */
};

#define NEEDTLS "-ERR [AUTH] plaintext logins are refused here: send STLS first\r\n"
#define NOTLS "-ERR [AUTH] plaintext logins are refused here, and this port offers no TLS: use POP3 over TLS\r\n"

/* out - one reply, one write; a client that is gone ends the session */
static void
out(const char *s)
{
	if (!fd_writeall(1, s, strlen(s), 1200))
		_exit(0);
}

static void
wipe(char *p, size_t n)
{
	volatile char *v = p;

	while (n-- > 0)
		*v++ = 0;
}

/* take - up to n bytes of the client's input, never past a LF, so that
 * whatever the client sends after its login is left for the subprogram,
 * which reads the same descriptor, and nothing sent in clear after STLS
 * is taken; within wait milliseconds.  On a socket (tcpserver's,
 * qmail-tls's) a recv(MSG_PEEK) sees what has come and a read takes it
 * up to the first LF: a long line costs a read per block, not per byte.
 * Anything else (a pipe) is read a byte at a time.  Like read(2); -1
 * with errno ETIMEDOUT when nothing came in time. */
static long
take(struct session *ss, char *p, size_t n, int wait)
{
	struct pollfd pf;
	ssize_t r;
	size_t m;

	pf.fd = 0;
	pf.events = POLLIN;
	while ((r = poll(&pf, 1, wait)) == -1)
		if (errno != EINTR)
			return -1;
	if (r == 0)
		return errno = ETIMEDOUT, -1;
	/* input is there: the reads below take it without waiting */
	if (!ss->peek)
		return fd_read(0, p, 1, 0);
	while ((r = recv(0, p, n, MSG_PEEK)) == -1 && errno == EINTR)
		;
	if (r == -1 && errno == ENOTSOCK) {
		ss->peek = 0;
		return fd_read(0, p, 1, 0);
	}
	if (r <= 0)
		return (long)r;
	m = str_chrb(p, (size_t)r, '\n');
	return fd_read(0, p, m < (size_t)r ? m + 1 : (size_t)r, 0);
}

/* autologout - the client was idle, or its login took too long */
static void __attribute__((noreturn))
autologout(void)
{
	out("-ERR autologout: idle, or the login took too long\r\n");
	_exit(0);
}

/* getline_ - a line from the client, without its line end, into
 * x[0..size); 1, or 0 when it was too long: more than size octets, LF
 * included (the rest of it is read and dropped).  The whole login must
 * be done within timeoutpop3 of the connection: a byte now and then, or
 * CAPA after CAPA, holds no connection for longer. */
static int
getline_(struct session *ss, char *x, size_t size, size_t *n)
{
	char y[BUF_SIZE];
	/* idle is below a day (see main): it fits an int */
	int left, idle = (int)ss->timeout * 1000;
	long r, i;
	int toolong = 0, done = 0;

	*n = 0;
	for (;;) {
		/* checked once the line is in too: a line that came in one
		 * block after the deadline is not answered either */
		if ((left = mono_left(ss->end)) == 0)
			autologout();
		if (done)
			break;
		r = take(ss, y, sizeof y, left < idle ? left : idle);
		if (r == -1 && errno == ETIMEDOUT)
			autologout();
		if (r <= 0)
			_exit(0);	/* the client left */
		for (i = 0; i < r && !done; i++) {
			if (y[i] == '\n')
				done = 1;	/* the last byte: take stops there */
			else if (*n + 1 >= size)
				toolong = 1;
			else
				x[(*n)++] = y[i];
		}
		wipe(y, (size_t)r);	/* it may hold a password */
	}
	if (*n > 0 && x[*n - 1] == '\r')
		(*n)--;
	x[*n] = 0;
	return !toolong;
}

/* login - run the subprogram with the login on descriptor 3.  Returns
 * only after a bad login. */
static void
login(struct session *ss, const char *user, size_t ul, const char *pass, size_t pl)
{
	struct str data = STR_ZERO;
	int pi[2], fd[4], status, code;
	pid_t pid;

	if (ul == 0 || ul > LOGIN_MAX || pl > PASS_MAX ||
	    str_chrb(user, ul, 0) != ul || str_chrb(pass, pl, 0) != pl) {
		code = 1;
		goto bad;
	}
	if (!str_catb(&data, user, ul) || !str_catc(&data, 0) ||
	    !str_catb(&data, pass, pl) || !str_catc(&data, 0) ||
	    !str_cat(&data, &ss->stamp) || !str_catc(&data, 0)) {
		out("-ERR [SYS/TEMP] out of memory\r\n");
		_exit(111);
	}
	if (pipe_cloexec(pi) == -1) {
		out("-ERR [SYS/TEMP] unable to check the password, try later\r\n");
		_exit(111);
	}
	fd[0] = 0;
	fd[1] = 1;
	fd[2] = 2;
	fd[3] = pi[0];
	pid = spawn(ss->sub[0], ss->sub, NULL, fd, 4);
	(void)close(pi[0]);	/* the child has its copy */
	if (pid == -1) {
		warn_sys("unable to run ", ss->sub[0]);
		out("-ERR [SYS/TEMP] unable to check the password, try later\r\n");
		_exit(111);
	}
	/* a child that exits without reading gives EPIPE: its status tells */
	(void)fd_writeall(pi[1], data.s, data.len, 60);
	(void)close(pi[1]);	/* the child sees end of input */
	wipe(data.s, data.len);
	str_free(&data);
	if (spawn_wait(pid, &status) == -1)
		_exit(111);
	code = spawn_exitcode(status);
	if (code == 0)
		_exit(0);	/* the session was served */
bad:
	if (code != 1) {
		out("-ERR [SYS/TEMP] unable to check the password, try later\r\n");
		_exit(111);
	}
	ss->user.len = 0;
	if (++ss->failures >= FAILURES_MAX) {
		out("-ERR [AUTH] authentication failed; too many failures, goodbye\r\n");
		_exit(0);
	}
	sleep(1);	/* slows down guessing */
	out("-ERR [AUTH] authentication failed\r\n");
}

/* plain_response - check a PLAIN response (base64, n bytes at resp)
 * and try the login it holds */
static void
plain_response(struct session *ss, const char *resp, size_t n)
{
	struct str dec = STR_ZERO;
	const char *az, *u, *p;
	size_t azl, ul, pl;

	if (n == 1 && resp[0] == '*') {
		out("-ERR AUTH cancelled\r\n");
		return;
	}
	if (n == 1 && resp[0] == '=')
		n = 0;
	if (!base64_decode(resp, n, &dec)) {
		out("-ERR malformed base64 in AUTH response\r\n");
		return;
	}
	if (!pop3_plain(dec.s, dec.len, &az, &azl, &u, &ul, &p, &pl))
		out("-ERR malformed PLAIN response\r\n");
	else if (azl > 0 && (azl != ul || memcmp(az, u, ul) != 0))
		out("-ERR [AUTH] authorization identity must be empty or the login\r\n");
	else
		login(ss, u, ul, p, pl);
	wipe(dec.s, dec.len);
	str_free(&dec);
}

/* auth_plain - RFC 5034 AUTH PLAIN, with or without initial response.
 * The response on a line of its own may be longer than a command: as
 * long as the longest login and password need. */
static void
auth_plain(struct session *ss, const char *resp, size_t n)
{
	char x[SASL_LINEMAX];
	size_t got;

	if (n > 0) {
		plain_response(ss, resp, n);
		return;
	}
	out("+ \r\n");
	if (!getline_(ss, x, sizeof x, &got))
		out("-ERR line too long\r\n");
	else
		plain_response(ss, x, got);
	wipe(x, sizeof x);
}

static void
auth(struct session *ss, const struct pop3_cmd *c)
{
	size_t sp = str_chrb(c->arg, c->arglen, ' ');

	if (c->arglen == 0) {
		out("+OK SASL mechanisms follow\r\nPLAIN\r\n.\r\n");
		return;
	}
	if (sp != 5 || !str_caseeqb(c->arg, "PLAIN", 5)) {
		out("-ERR unsupported SASL mechanism (PLAIN is offered)\r\n");
		return;
	}
	auth_plain(ss, sp < c->arglen ? c->arg + 6 : "",
	    sp < c->arglen ? c->arglen - 6 : 0);
}

/* stls - RFC 2595: qmail-tls sends our +OK and does the handshake.
 * Input is never read past the STLS line, so nothing sent in clear
 * after it was read ahead; it dies with the old descriptor.  A USER
 * given in clear is forgotten. */
static void
stls(struct session *ss, const struct pop3_cmd *c)
{
	static const char go[] = "+OK begin TLS negotiation\r\n";

	if (ss->tls) {
		out("-ERR TLS is already on\r\n");
		return;
	}
	if (ss->tlsfd < 0) {
		out("-ERR STLS is not offered here\r\n");
		return;
	}
	if (c->arglen) {
		out("-ERR STLS takes no argument\r\n");
		return;
	}
	if (!starttls_request(ss->tlsfd, go, sizeof go - 1)) {
		warn_sys("TLS handshake failed");
		_exit(0);
	}
	ss->tlsfd = -1;
	ss->tls = 1;
	ss->plainok = 1;
	ss->user.len = 0;
}

/* capa - RFC 2449; USER and SASL only where a login will be accepted */
static void
capa(const struct session *ss)
{
	struct str r = STR_ZERO;

	if (!str_copys(&r, "+OK capability list follows\r\n") ||
	    (ss->plainok && !str_cats(&r, "USER\r\nSASL PLAIN\r\n")) ||
	    (ss->tlsfd >= 0 && !ss->tls && !str_cats(&r, "STLS\r\n")) ||
	    !str_cats(&r, "TOP\r\nUIDL\r\nRESP-CODES\r\nAUTH-RESP-CODE\r\n"
		"IMPLEMENTATION lanmail\r\n.\r\n") || !str_nul(&r))
		die_nomem();
	out(r.s);
	str_free(&r);
}

int
main(int argc, char **argv)
{
	struct session ss;
	struct pop3_cmd c;
	char x[POP3_LINEMAX];	/* RFC 2449: the limit counts CRLF */
	char num[FMT_ULONG];
	unsigned long t;
	size_t n;

	die_init(argv[0]);
	if (argc < 3)
		die(EXIT_PERM, "usage: qmail-popup hostname subprogram [arg ...]");
	(void)sig_ignore(SIGPIPE);	/* a gone client shows as a write error */
	ss.hostname = argv[1];
	if (strlen(ss.hostname) > HOST_MAX)
		die(EXIT_PERM, "hostname is longer than a domain name may be");
	ss.sub = argv + 2;
	ss.failures = 0;
	ss.peek = 1;
	ss.user.s = ss.stamp.s = NULL;
	ss.user.len = ss.user.cap = ss.stamp.len = ss.stamp.cap = 0;
	errno = 0;
	if ((ss.tlsfd = starttls_fd()) == -1 && errno != 0)
		warn_sys("not offering STLS: bad $", STARTTLS_ENV);
	/* behind qmail-tls with implicit TLS (pop3s) the variables are set */
	ss.tls = env_get("TLSVERSION") != NULL;
	if (chdir(auto_home) == -1) {
		out("-ERR [SYS/TEMP] server trouble, try later\r\n");
		die_sys(EXIT_TEMP, "unable to switch to ", auto_home);
	}
	switch (control_readulong("control/timeoutpop3", &t)) {
	case 1:
		if (t > 0 && t < 86400)
			break;
		/* fall through */
	case 0:
		t = TIMEOUT_DEFAULT;
		break;
	default:
		out("-ERR [SYS/TEMP] server trouble, try later\r\n");
		die_sys(EXIT_TEMP, "unable to read control/timeoutpop3");
	}
	ss.timeout = (unsigned)t;
	/* to the millisecond: counted in whole seconds of the clock, a
	 * connection that came as a second was about to turn lost up to a
	 * second of its timeoutpop3 */
	ss.end = mono_ms() + (long long)t * 1000;
	/* control/ is read from the install root */
	ss.plainok = ss.tls;
	if (!ss.tls) {
		int r = authnets_plainok();

		if (r == -1)
			warn_sys("refusing logins in clear: unable to read ", AUTHNETS_FILE);
		ss.plainok = r == 1;
	}

	/* the timestamp is unique per session, as APOP wants (RFC 1939) */
	if (!str_copys(&ss.stamp, "<") ||
	    !str_catb(&ss.stamp, num, fmt_ulong(num, (unsigned long)getpid())) ||
	    !str_catc(&ss.stamp, '.') ||
	    !str_catb(&ss.stamp, num, fmt_ulong(num, (unsigned long)time(NULL))) ||
	    !str_catc(&ss.stamp, '@') || !str_cats(&ss.stamp, ss.hostname) ||
	    !str_catc(&ss.stamp, '>') || !str_nul(&ss.stamp))
		die_nomem();
	{
		struct str g = STR_ZERO;

		if (!str_copys(&g, "+OK ") || !str_cat(&g, &ss.stamp) ||
		    !str_cats(&g, "\r\n") || !str_nul(&g))
			die_nomem();
		out(g.s);
		str_free(&g);
	}

	for (;;) {
		if (!getline_(&ss, x, sizeof x, &n)) {
			ss.user.len = 0;
			wipe(x, sizeof x);
			out("-ERR line too long\r\n");
			continue;
		}
		if (!pop3_parse(x, n, &c)) {
			ss.user.len = 0;
			wipe(x, sizeof x);
			out("-ERR malformed command\r\n");
			continue;
		}
		/* RFC 1939: PASS only immediately after a successful USER */
		if (c.cmd != POP3_PASS)
			ss.user.len = 0;
		switch (c.cmd) {
		case POP3_QUIT:
			out("+OK bye\r\n");
			return 0;
		case POP3_CAPA:
			capa(&ss);
			break;
		case POP3_USER:
			if (!ss.plainok) {
				out(ss.tlsfd >= 0 ? NEEDTLS : NOTLS);
				break;
			}
			if (c.arglen == 0) {
				out("-ERR USER needs a login name\r\n");
				break;
			}
			if (c.arglen > LOGIN_MAX) {
				out("-ERR login name too long: user@domain is at"
				    " most " LOGIN_MAX_S " octets\r\n");
				break;
			}
			if (!str_copyb(&ss.user, c.arg, c.arglen))
				die_nomem();
			out("+OK send PASS\r\n");
			break;
		case POP3_PASS:
			if (!ss.plainok) {
				out(ss.tlsfd >= 0 ? NEEDTLS : NOTLS);
				wipe(x, sizeof x);
				break;
			}
			if (ss.user.len == 0) {
				wipe(x, sizeof x);
				out("-ERR USER first: PASS must follow it directly\r\n");
				break;
			}
			login(&ss, ss.user.s, ss.user.len, c.arg, c.arglen);
			wipe(x, sizeof x);
			break;
		case POP3_AUTH:
			if (!ss.plainok) {
				out(ss.tlsfd >= 0 ? NEEDTLS : NOTLS);
				wipe(x, sizeof x);
				break;
			}
			auth(&ss, &c);
			wipe(x, sizeof x);
			break;
		case POP3_APOP:
			out("-ERR APOP is not offered; use USER and PASS, or AUTH PLAIN\r\n");
			break;
		case POP3_STLS:
			stls(&ss, &c);
			break;
		case POP3_UNKNOWN:
			out("-ERR unknown command\r\n");
			break;
		default:
			out("-ERR log in first (USER and PASS, or AUTH PLAIN)\r\n");
		}
	}
}
