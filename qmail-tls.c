/* qmail-tls.c - TLS in front of a server program run by tcpserver,
 * and behind qmail-remote
 *
 *	qmail-tls [-s] [-c] [-r] [-d fd] [-t timeout] prog [arg ...]
 *	qmail-tls -C [-v] [-n name] [-a cafile] [-t timeout]
 *
 * tcpserver hands qmail-tls the client's connection on fds 0 and 1.
 * qmail-tls loads the certificate and key, drops root, and runs prog
 * (qmail-smtpd, qmail-popup) on a local socket pair, relaying bytes both
 * ways: decrypted ones once TLS is on.  prog never links a TLS library
 * and never sees the key.  Implicit TLS (the default): the handshake comes
 * first, then prog starts with the TLS* variables in its environment.
 * STARTTLS (-s): prog starts in clear text with a control socket; when it
 * asks (lib/starttls.h), qmail-tls stops reading the network, does the
 * handshake and hands prog a new data socket, so that nothing the client
 * sent in clear after the request can reach prog as if it were protected.
 *
 * Client mode (-C): qmail-remote has a connection to an SMTP server
 * that answered 220 to STARTTLS, on fds 0 and 1.  qmail-tls does the
 * client handshake (SNI, optionally a verified certificate for name),
 * writes the outcome to fd 4 in lib/starttls.h's answer format, closes
 * it, and relays decrypted bytes to and from the socket on fd 3.
 *
 * Untrusted: every byte from the network.  The requests on the control
 * socket come from prog, which talks to the network: one byte each,
 * anything unexpected ends the control channel.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>
#ifdef __linux__
#include <sys/prctl.h>
#endif

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "auto.h"
#include "buf.h"
#include "die.h"
#include "env.h"
#include "mono.h"
#include "priv.h"
#include "sig.h"
#include "spawn.h"
#include "starttls.h"
#include "str.h"

#define CERTFILE "control/servercert.pem"
#define KEYFILE "control/serverkey.pem"
#define RELAYBUF 16384
#define HANDSHAKE_TIMEOUT 60	/* seconds for the whole handshake */
#define DEFAULT_CTLFD 5
#define DEFAULT_IDLE 1200	/* seconds without a byte moving */
#define VALUEMAX 256
#define CLIENT_DATAFD 3		/* -C: the decrypted stream */
#define CLIENT_CTLFD 4		/* -C: the outcome */
#define CLIENT_TIMEOUT 60	/* -C: default handshake and idle limit */
#define CLIENT_CADIR "/etc/ssl/certs"	/* the system's trust anchors */

/* TLS 1.2 suites: forward secret and AEAD only; TLS 1.3 keeps OpenSSL's */
static const char ciphers12[] =
    "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:"
    "ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384:"
    "ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305";

/* one direction of the relay */
struct chan {
	char b[RELAYBUF];
	size_t pos;
	size_t len;
};

struct relay {
	SSL_CTX *ctx;
	SSL *ssl;		/* NULL while in clear text */
	int child;		/* our end of prog's data socket */
	int ctl;		/* our end of the control socket, or -1 */
	struct chan in;		/* network to prog */
	struct chan out;	/* prog to network */
	int net_eof;		/* no more input from the network */
	int net_dead;		/* the network can take nothing more */
	int child_eof;		/* no more output from prog */
	short rwant, wwant;	/* what the last network read/write waits for */
	int cwant;		/* POLLIN/POLLOUT wanted on the child socket */
	char req[STARTTLS_MAXLINE + 2];	/* the control request so far */
	size_t reqlen;
};

/* the other end, for messages: the client's address or the server's name */
static const char *peer = "unknown";

static void
usage(void)
{
	die(EXIT_PERM, "usage: qmail-tls [-s] [-c] [-r] [-d fd] [-t timeout] prog [arg ...]"
	    " or qmail-tls -C [-v] [-n name] [-a cafile] [-t timeout]");
}

static const char *
remote(void)
{
	return peer;
}

/* setwhy - a and b into why[0..n), cut to fit: a reason for a report */
static void
setwhy(char *why, size_t n, const char *a, const char *b)
{
	size_t k = 0, i;

	for (i = 0; a[i] && k + 1 < n; i++)
		why[k++] = a[i];
	for (i = 0; b && b[i] && k + 1 < n; i++)
		why[k++] = b[i];
	why[k] = 0;
}

/* tls_error - the oldest queued OpenSSL error as text, queue cleared */
static const char *
tls_error(char *b, size_t n)
{
	unsigned long e = ERR_get_error();

	if (e == 0) {
		if (errno != 0) {
			const char *s = strerror(errno);

			ERR_clear_error();
			return s;
		}
		return "connection closed";
	}
	ERR_error_string_n(e, b, n);
	ERR_clear_error();
	return b;
}

/* no_passphrase - an encrypted key is a configuration error, not a prompt */
static int
no_passphrase(char *buf, int size, int rw, void *u)
{
	(void)buf;
	(void)size;
	(void)rw;
	(void)u;
	return -1;
}

/* accept_any - with -c a client certificate is recorded, not verified */
static int
accept_any(int ok, X509_STORE_CTX *x)
{
	(void)ok;
	(void)x;
	return 1;
}

/* open_key - the key file, only when no one but us can read it */
static int
open_key(const char *fn)
{
	struct stat st;
	int fd;

	if ((fd = open(fn, O_RDONLY | O_CLOEXEC | O_NOCTTY)) == -1)
		return -1;
	if (fstat(fd, &st) == -1)
		die_sys(EXIT_TEMP, "unable to stat ", fn);
	if (!S_ISREG(st.st_mode))
		die(EXIT_TEMP, "refusing ", fn, ": not a regular file");
	if (st.st_uid != geteuid())
		die(EXIT_TEMP, "refusing ", fn, ": it must belong to the user qmail-tls runs as");
	if (st.st_mode & 077)
		die(EXIT_TEMP, "refusing ", fn, ": group or others may read it (chmod 600)");
	return fd;
}

/* load_key - the private key from fn (possibly after certificates) */
static void
load_key(SSL_CTX *ctx, const char *fn, int fd)
{
	char e[256];
	EVP_PKEY *k;
	BIO *b;

	if ((b = BIO_new_fd(fd, BIO_NOCLOSE)) == NULL)
		die_nomem();
	k = PEM_read_bio_PrivateKey(b, NULL, no_passphrase, NULL);
	BIO_free(b);
	if (k == NULL)
		die(EXIT_TEMP, "unable to read a private key from ", fn, ": ", tls_error(e, sizeof e));
	if (SSL_CTX_use_PrivateKey(ctx, k) != 1)
		die(EXIT_TEMP, "unable to use the key in ", fn, ": ", tls_error(e, sizeof e));
	EVP_PKEY_free(k);
	if (close(fd) == -1)
		die_sys(EXIT_TEMP, "unable to close ", fn);
	if (SSL_CTX_check_private_key(ctx) != 1)
		die(EXIT_TEMP, "the key in ", fn, " does not match ", CERTFILE);
}

/* ctx_make - the server context; 0 when no certificate is configured */
static SSL_CTX *
ctx_make(int askcert)
{
	char e[256];
	SSL_CTX *ctx;
	int fd;

	if (access(CERTFILE, F_OK) == -1) {
		if (errno == ENOENT)
			return NULL;
		die_sys(EXIT_TEMP, "unable to access ", CERTFILE);
	}
	if ((ctx = SSL_CTX_new(TLS_server_method())) == NULL)
		die(EXIT_TEMP, "unable to set up TLS: ", tls_error(e, sizeof e));
	if (SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION) != 1 ||
	    SSL_CTX_set_cipher_list(ctx, ciphers12) != 1)
		die(EXIT_TEMP, "unable to set up TLS: ", tls_error(e, sizeof e));
	SSL_CTX_set_options(ctx, SSL_OP_NO_COMPRESSION | SSL_OP_NO_RENEGOTIATION |
	    SSL_OP_NO_TICKET | SSL_OP_CIPHER_SERVER_PREFERENCE);
	/* one process per connection: a session cache could never hit, and
	 * TLS 1.3 tickets (SSL_OP_NO_TICKET only makes them stateful) could
	 * never be used: none are sent */
	SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
	if (SSL_CTX_set_num_tickets(ctx, 0) != 1)
		die(EXIT_TEMP, "unable to set up TLS: ", tls_error(e, sizeof e));
	SSL_CTX_set_mode(ctx, SSL_MODE_ENABLE_PARTIAL_WRITE |
	    SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
	if (askcert)
		SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, accept_any);
	if (SSL_CTX_use_certificate_chain_file(ctx, CERTFILE) != 1)
		die(EXIT_TEMP, "unable to load ", CERTFILE, ": ", tls_error(e, sizeof e));
	/* the key in its own file, or after the certificates */
	if ((fd = open_key(KEYFILE)) != -1)
		load_key(ctx, KEYFILE, fd);
	else if (errno != ENOENT)
		die_sys(EXIT_TEMP, "unable to open ", KEYFILE);
	else if ((fd = open_key(CERTFILE)) != -1)
		load_key(ctx, CERTFILE, fd);
	else
		die_sys(EXIT_TEMP, "unable to open ", CERTFILE);
	return ctx;
}

/* drop_root - as root, become $UID/$GID (envuidgid) before any peer
 * byte; a single-user install runs everything as its one user */
static void
drop_root(void)
{
	unsigned long uid, gid;
	gid_t g;

	if (geteuid() == 0 && !auto_single) {
		if (env_ulong("UID", &uid) != 1 || env_ulong("GID", &gid) != 1 || uid == 0)
			die(EXIT_TEMP, "refusing to talk TLS as root: set $UID and $GID (envuidgid)");
		g = (gid_t)gid;
		if (!priv_drop((uid_t)uid, g))
			die_sys(EXIT_TEMP, "unable to drop privileges");
	}
#ifdef __linux__
	/* prog runs as the same uid: keep it out of our memory */
	if (prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) == -1)
		die_sys(EXIT_TEMP, "unable to make the process undumpable");
#endif
}

static void
nonblock(int fd)
{
	int fl = fcntl(fd, F_GETFL);

	if (fl == -1 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) == -1)
		die_sys(EXIT_TEMP, "unable to make a descriptor non-blocking");
}

/* printable - at most VALUEMAX-1 bytes of s, anything odd as '?' */
static void
printable(char *out, const char *s, size_t n)
{
	size_t i;

	if (n > VALUEMAX - 1)
		n = VALUEMAX - 1;
	for (i = 0; i < n; i++)
		out[i] = s[i] >= 0x20 && s[i] <= 0x7e ? s[i] : '?';
	out[n] = 0;
}

/* addvar - "name" "suffix" "=" value NUL, appended to out */
static void
addvar(struct str *out, const char *name, const char *suffix, const char *value)
{
	if (!str_cats(out, name) || !str_cats(out, suffix) || !str_catc(out, '=') ||
	    !str_cats(out, value) || !str_catc(out, 0))
		die_nomem();
}

/* tls_vars - what the server program (or qmail-remote) may record, as
 * NAME=value items each ended by NUL, appended to out; the peer's
 * certificate as who ("TLSCLIENT" or "TLSPEER") SUBJECT and SHA256 */
static void
tls_vars(SSL *ssl, struct str *out, const char *who)
{
	char v[VALUEMAX], num[FMT_ULONG];
	const char *s;
	X509 *peer;

#define ADD(name, value) addvar(out, name, "", value)
	s = SSL_get_version(ssl);
	printable(v, s, strlen(s));
	ADD("TLSVERSION", v);
	s = SSL_get_cipher_name(ssl);
	printable(v, s, strlen(s));
	ADD("TLSCIPHER", v);
	num[fmt_ulong(num, (unsigned long)SSL_get_cipher_bits(ssl, NULL))] = 0;
	ADD("TLSCIPHERBITS", num);
	if ((s = SSL_get_servername(ssl, TLSEXT_NAMETYPE_host_name)) != NULL) {
		printable(v, s, strlen(s));
		ADD("TLSSERVERNAME", v);
	}
#if OPENSSL_VERSION_NUMBER >= 0x30000000L
	peer = SSL_get1_peer_certificate(ssl);
#else
	peer = SSL_get_peer_certificate(ssl);
#endif
	if (peer != NULL) {
		unsigned char md[EVP_MAX_MD_SIZE];
		unsigned int mdlen = 0, i;
		BIO *b = BIO_new(BIO_s_mem());
		char *p;
		long n;

		if (b == NULL)
			die_nomem();
		if (X509_NAME_print_ex(b, X509_get_subject_name(peer), 0, XN_FLAG_RFC2253) >= 0 &&
		    (n = BIO_get_mem_data(b, &p)) >= 0) {
			printable(v, p, (size_t)n);
			addvar(out, who, "SUBJECT", v);
		}
		BIO_free(b);
		if (X509_digest(peer, EVP_sha256(), md, &mdlen) == 1 && mdlen * 2 < sizeof v) {
			for (i = 0; i < mdlen; i++) {
				v[2 * i] = "0123456789abcdef"[md[i] >> 4];
				v[2 * i + 1] = "0123456789abcdef"[md[i] & 15];
			}
			v[2 * mdlen] = 0;
			addvar(out, who, "SHA256", v);
		}
		X509_free(peer);
	}
#undef ADD
}

/* tls_handshake - SSL_accept (or, client, SSL_connect) on fds 0/1
 * before deadline, a mono_ms() time: counted in whole seconds of the
 * wall clock, a limit of t seconds would end up to a second early;
 * 1 done, 0 failed with the reason in why[0..n) */
static int
tls_handshake(SSL *ssl, int client, long long deadline, char *why, size_t n)
{
	char e[256];
	struct pollfd p;
	long vr;
	int r;

	for (;;) {
		ERR_clear_error();
		errno = 0;
		if ((r = client ? SSL_connect(ssl) : SSL_accept(ssl)) == 1)
			return 1;
		switch (SSL_get_error(ssl, r)) {
		case SSL_ERROR_WANT_READ:
			p.fd = 0;
			p.events = POLLIN;
			break;
		case SSL_ERROR_WANT_WRITE:
			p.fd = 1;
			p.events = POLLOUT;
			break;
		default:
			/* a refused certificate says more than "verify failed" */
			if (client && (vr = SSL_get_verify_result(ssl)) != X509_V_OK) {
				ERR_clear_error();
				setwhy(why, n, "certificate not accepted: ",
				    X509_verify_cert_error_string(vr));
			} else
				setwhy(why, n, tls_error(e, sizeof e), NULL);
			return 0;
		}
		for (;;) {
			int left = mono_left(deadline);

			if (left == 0) {
				setwhy(why, n, "timed out", NULL);
				return 0;
			}
			r = poll(&p, 1, left);
			if (r == -1 && errno == EINTR)
				continue;
			if (r == -1)
				die_sys(EXIT_TEMP, "unable to poll");
			break;
		}
	}
}

/* handshake - TLS on fds 0/1 within HANDSHAKE_TIMEOUT; the SSL or NULL */
static SSL *
handshake(SSL_CTX *ctx)
{
	char e[256], why[256];
	SSL *ssl;

	if ((ssl = SSL_new(ctx)) == NULL)
		die_nomem();
	if (SSL_set_rfd(ssl, 0) != 1 || SSL_set_wfd(ssl, 1) != 1)
		die(EXIT_TEMP, "unable to set up TLS: ", tls_error(e, sizeof e));
	if (tls_handshake(ssl, 0, mono_ms() + HANDSHAKE_TIMEOUT * 1000LL, why, sizeof why))
		return ssl;
	warn("TLS handshake with ", remote(), " failed: ", why);
	SSL_free(ssl);
	return NULL;
}

/* net_read - from the client: >0 bytes, 0 end, -1 blocked (rwant), -2 broken */
static long
net_read(struct relay *r, char *p, size_t n)
{
	ssize_t k;
	int t;

	if (r->ssl == NULL) {
		if ((k = read(0, p, n)) >= 0)
			return (long)k;
		if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)
			return r->rwant = POLLIN, -1;
		return -2;
	}
	ERR_clear_error();
	if ((t = SSL_read(r->ssl, p, n > INT_MAX ? INT_MAX : (int)n)) > 0)
		return t;
	switch (SSL_get_error(r->ssl, t)) {
	case SSL_ERROR_WANT_READ:
		return r->rwant = POLLIN, -1;
	case SSL_ERROR_WANT_WRITE:
		return r->rwant = POLLOUT, -1;
	case SSL_ERROR_ZERO_RETURN:
		return 0;
	default:
		ERR_clear_error();
		return -2;
	}
}

/* net_write - to the client: >0 bytes taken, -1 blocked (wwant), -2 broken */
static long
net_write(struct relay *r, const char *p, size_t n)
{
	ssize_t k;
	int t;

	if (r->ssl == NULL) {
		if ((k = write(1, p, n)) >= 0)
			return (long)k;
		if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)
			return r->wwant = POLLOUT, -1;
		return -2;
	}
	ERR_clear_error();
	if ((t = SSL_write(r->ssl, p, n > INT_MAX ? INT_MAX : (int)n)) > 0)
		return t;
	switch (SSL_get_error(r->ssl, t)) {
	case SSL_ERROR_WANT_READ:
		return r->wwant = POLLIN, -1;
	case SSL_ERROR_WANT_WRITE:
		return r->wwant = POLLOUT, -1;
	default:
		ERR_clear_error();
		return -2;
	}
}

/* net_gone - the network failed: nothing more goes either way */
static void
net_gone(struct relay *r)
{
	r->net_eof = r->net_dead = 1;
	r->in.len = r->out.len = 0;
}

/* flush_clear - pending clear-text output to the network, then (drain)
 * whatever else prog wrote before its request; 1, or 0 network gone */
static int
flush_clear(struct relay *r, int drain)
{
	long long deadline = mono_ms() + HANDSHAKE_TIMEOUT * 1000LL;
	struct pollfd p;
	ssize_t k;
	long w;

	for (;;) {
		while (r->out.len > 0) {
			w = net_write(r, r->out.b + r->out.pos, r->out.len);
			if (w > 0) {
				r->out.pos += (size_t)w;
				r->out.len -= (size_t)w;
				continue;
			}
			if (w == -2 || mono_ms() >= deadline)
				return 0;
			p.fd = 1;
			p.events = POLLOUT;
			if (poll(&p, 1, 1000) == -1 && errno != EINTR)
				return 0;
		}
		if (r->child_eof || !drain)
			return 1;
		/* prog wrote its reply before asking: it is in the socket now */
		k = read(r->child, r->out.b, sizeof r->out.b);
		if (k > 0) {
			r->out.pos = 0;
			r->out.len = (size_t)k;
		} else if (k == 0)
			r->child_eof = 1;
		else if (errno == EINTR)
			continue;
		else
			return 1;
	}
}

/* answer - the control answer, with fd (or -1) riding on its first byte */
static int
answer(int ctl, const char *p, size_t n, int fd)
{
	union {
		struct cmsghdr h;
		char space[CMSG_SPACE(sizeof(int))];
	} cm;
	struct msghdr mh;
	struct cmsghdr *c;
	struct iovec iov;
	ssize_t w;

	while (n > 0) {
		memset(&mh, 0, sizeof mh);
		iov.iov_base = (char *)p;
		iov.iov_len = n;
		mh.msg_iov = &iov;
		mh.msg_iovlen = 1;
		if (fd != -1) {
			memset(&cm, 0, sizeof cm);
			mh.msg_control = cm.space;
			mh.msg_controllen = sizeof cm.space;
			c = CMSG_FIRSTHDR(&mh);
			c->cmsg_level = SOL_SOCKET;
			c->cmsg_type = SCM_RIGHTS;
			c->cmsg_len = CMSG_LEN(sizeof(int));
			memcpy(CMSG_DATA(c), &fd, sizeof fd);
		}
		if ((w = sendmsg(ctl, &mh, 0)) == -1) {
			if (errno == EINTR)
				continue;
			return 0;
		}
		fd = -1;
		p += w;
		n -= (size_t)w;
	}
	return 1;
}

/* start_tls - prog asked (its 220/+OK already written): the handshake,
 * then prog's new data socket */
static void
start_tls(struct relay *r)
{
	static const char failed[] = "Zhandshake failed\0";
	struct str msg = STR_ZERO;
	int sp[2];
	SSL *ssl;

	/* prog's earlier replies, then its go-ahead: from here on no byte
	 * from the network is read as clear text */
	if (!flush_clear(r, 1) || !str_copyb(&msg, r->req + 1, r->reqlen - 2)) {
		net_gone(r);
		(void)answer(r->ctl, failed, sizeof failed, -1);
		return;
	}
	r->out.pos = 0;
	r->out.len = msg.len;
	memcpy(r->out.b, msg.s, msg.len);
	if (!flush_clear(r, 0)) {
		net_gone(r);
		(void)answer(r->ctl, failed, sizeof failed, -1);
		return;
	}
	/* the client's bytes after the STARTTLS command that we hold die
	 * here; those prog holds die with its old socket */
	r->in.len = 0;
	if ((ssl = handshake(r->ctx)) == NULL) {
		net_gone(r);
		(void)answer(r->ctl, failed, sizeof failed, -1);
		return;
	}
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sp) == -1)
		die_sys(EXIT_TEMP, "unable to create a socket pair");
	nonblock(sp[0]);
	if (!str_copyb(&msg, "K", 2))
		die_nomem();
	tls_vars(ssl, &msg, "TLSCLIENT");
	if (!str_catc(&msg, 0))
		die_nomem();
	if (!answer(r->ctl, msg.s, msg.len, sp[1]))
		die_sys(EXIT_TEMP, "unable to answer on the control socket");
	str_free(&msg);
	if (close(sp[1]) == -1 || close(r->child) == -1)
		die_sys(EXIT_TEMP, "unable to close a socket");
	r->child = sp[0];
	r->child_eof = 0;
	r->in.len = r->out.len = 0;
	r->ssl = ssl;
}

/* control - more of a request from prog: 'S' reply NUL, once */
static void
control(struct relay *r)
{
	ssize_t k;

	k = read(r->ctl, r->req + r->reqlen, sizeof r->req - r->reqlen);
	if (k == -1 && (errno == EINTR || errno == EAGAIN))
		return;
	if (k > 0) {
		r->reqlen += (size_t)k;
		if (r->ssl == NULL)
			switch (starttls_scanreq(r->req, r->reqlen)) {
			case 0:
				return;	/* the rest is on its way */
			case 1:
				start_tls(r);
				return;
			}
		warn("unexpected control request: closing the control socket");
	}
	/* 0: prog closed it (exec of the next program), which is fine */
	if (close(r->ctl) == -1)
		die_sys(EXIT_TEMP, "unable to close the control socket");
	r->ctl = -1;
}

/* relay - move bytes both ways until prog is done or the client gone */
static void
relay(struct relay *r, unsigned idle)
{
	struct pollfd p[4];
	int progress, n;
	ssize_t k;
	long t;

	for (;;) {
		progress = 0;
		r->rwant = r->wwant = 0;
		r->cwant = 0;
		/* network to prog */
		if (r->in.len == 0 && !r->net_eof) {
			t = net_read(r, r->in.b, sizeof r->in.b);
			if (t > 0) {
				r->in.pos = 0;
				r->in.len = (size_t)t;
				progress = 1;
			} else if (t == 0 || t == -2) {
				if (t == -2)
					net_gone(r);
				r->net_eof = 1;
				/* prog reads its end of input; ENOTCONN when gone */
				(void)shutdown(r->child, SHUT_WR);
				progress = 1;
			}
		}
		if (r->in.len > 0) {
			k = write(r->child, r->in.b + r->in.pos, r->in.len);
			if (k > 0) {
				r->in.pos += (size_t)k;
				r->in.len -= (size_t)k;
				progress = 1;
			} else if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)
				r->cwant |= POLLOUT;
			else {
				/* prog stopped reading: stop reading for it */
				r->in.len = 0;
				r->net_eof = 1;
				progress = 1;
			}
		}
		/* prog to network */
		if (r->out.len == 0 && !r->child_eof) {
			k = read(r->child, r->out.b, sizeof r->out.b);
			if (k > 0) {
				r->out.pos = 0;
				r->out.len = (size_t)k;
				progress = 1;
			} else if (k == -1 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
				r->cwant |= POLLIN;
			else {
				r->child_eof = 1;
				progress = 1;
			}
		}
		if (r->out.len > 0) {
			t = net_write(r, r->out.b + r->out.pos, r->out.len);
			if (t > 0) {
				r->out.pos += (size_t)t;
				r->out.len -= (size_t)t;
				progress = 1;
			} else if (t == -2) {
				net_gone(r);
				progress = 1;
			}
		}
		if (r->child_eof && r->out.len == 0)
			return;
		if (r->net_dead)
			return;

		/* without progress, wait; with it, only look at the control
		 * socket, so that a busy client cannot starve prog's request */
		p[0].fd = (r->rwant | r->wwant) & POLLIN ? 0 : -1;
		p[0].events = POLLIN;
		p[1].fd = (r->rwant | r->wwant) & POLLOUT ? 1 : -1;
		p[1].events = POLLOUT;
		p[2].fd = r->cwant ? r->child : -1;
		p[2].events = (short)r->cwant;
		p[3].fd = r->ctl;
		p[3].events = POLLIN;
		p[0].revents = p[1].revents = p[2].revents = p[3].revents = 0;
		if (progress)
			p[0].fd = p[1].fd = p[2].fd = -1;
		n = poll(p, 4, progress ? 0 : idle > INT_MAX / 1000 ? INT_MAX : (int)idle * 1000);
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1)
			die_sys(EXIT_TEMP, "unable to poll");
		if (n == 0 && !progress) {
			warn("connection with ", remote(), " idle too long: closing it");
			return;
		}
		if (r->ctl != -1 && p[3].revents)
			control(r);
	}
}

/* run_later - the child of -r, still with the starting user's rights:
 * wait for "K" and the TLS variables on fd (end of file alone: the
 * handshake failed), then become prog with descriptors fds[0..nfd) */
static void __attribute__((noreturn))
run_later(int fd, const char *path, char **argv, const int *fds, int nfd)
{
	char b[STARTTLS_MAXREPLY];
	int hi[1001], i;
	size_t n = 0, pos, len, eq;
	ssize_t k;

	for (;;) {
		if (n == sizeof b)
			_exit(EXIT_TEMP);
		k = read(fd, b + n, sizeof b - n);
		if (k == -1 && errno == EINTR)
			continue;
		if (k == -1)
			die_sys(EXIT_TEMP, "unable to read from the TLS process");
		if (k == 0)
			break;
		n += (size_t)k;
	}
	if (n == 0 || b[0] != 'K')
		_exit(EXIT_TEMP);	/* the parent said why */
	for (pos = 1; pos < n; pos += len + 1) {
		len = str_chrb(b + pos, n - pos, 0);
		if (len == n - pos || !starttls_varok(b + pos, len))
			die(EXIT_TEMP, "bad variable from the TLS process");
		eq = str_chrb(b + pos, len, '=');
		b[pos + eq] = 0;
		if (!env_set(b + pos, b + pos + eq + 1))
			die_nomem();
	}
	/* as spawn() does: copies above every target first, then in place */
	for (i = 0; i < nfd; i++)
		if (fds[i] >= 0 && (hi[i] = fcntl(fds[i], F_DUPFD_CLOEXEC, nfd)) == -1)
			die_sys(EXIT_TEMP, "unable to duplicate a descriptor");
	for (i = 0; i < nfd; i++)
		if (fds[i] >= 0 ? dup2(hi[i], i) == -1 : close(i) == -1 && errno != EBADF)
			die_sys(EXIT_TEMP, "unable to move a descriptor");
	if (!sig_default(SIGPIPE))
		die_sys(EXIT_TEMP, "unable to reset SIGPIPE");
	execv(path, argv);
	die_sys(EXIT_TEMP, "unable to run ", path);
}

/* find_prog - prog as a path: as given when it holds a '/', else from $PATH */
static void
find_prog(const char *name, struct str *path)
{
	const char *s = env_get("PATH");
	size_t n, i;

	if (str_chrb(name, strlen(name), '/') < strlen(name) || s == NULL) {
		if (!str_copys(path, name) || !str_nul(path))
			die_nomem();
		return;
	}
	for (;;) {
		n = strlen(s);
		i = str_chrb(s, n, ':');
		if (!str_copyb(path, i ? s : ".", i ? i : 1) || !str_catc(path, '/') ||
		    !str_cats(path, name) || !str_nul(path))
			die_nomem();
		if (access(path->s, X_OK) == 0 || i == n)
			return;
		s += i + 1;
	}
}

/* outcome - the client handshake's result to qmail-remote, once */
static void
outcome(const char *p, size_t n, unsigned timeout)
{
	if (!fd_writeall(CLIENT_CTLFD, p, n, timeout))
		die_sys(EXIT_TEMP, "unable to report on descriptor 4");
	if (close(CLIENT_CTLFD) == -1)
		die_sys(EXIT_TEMP, "unable to close descriptor 4");
}

/* client_fail - the handshake did not happen: say why and stop */
static void __attribute__((noreturn))
client_fail(const char *a, const char *b, unsigned timeout)
{
	char why[VALUEMAX + 2];
	size_t n;

	why[0] = 'Z';
	setwhy(why + 1, VALUEMAX - 1, a, b);
	/* printable only: the reason ends up in a report and a log */
	for (n = 1; why[n]; n++)
		if (why[n] < 0x20 || why[n] > 0x7e)
			why[n] = '?';
	why[n++] = 0;
	why[n++] = 0;
	outcome(why, n, timeout);
	_exit(EXIT_TEMP);
}

/* client - -C: the client handshake on fds 0/1, the outcome on fd 4,
 * then the decrypted stream on fd 3 until either side is done */
static void __attribute__((noreturn))
client(const char *name, const char *cafile, int verify, unsigned timeout)
{
	static struct relay r;
	unsigned char ip[16];
	char e[256], why[256];
	struct str msg = STR_ZERO;
	X509_VERIFY_PARAM *vp;
	SSL_CTX *ctx;
	SSL *ssl;
	long vr;
	int trusted = 1;

	if (fcntl(CLIENT_DATAFD, F_GETFD) == -1 || fcntl(CLIENT_CTLFD, F_GETFD) == -1)
		die(EXIT_TEMP, "descriptors 3 and 4 must be open");
	if (!sig_ignore(SIGPIPE))
		die_sys(EXIT_TEMP, "unable to ignore SIGPIPE");
	if ((ctx = SSL_CTX_new(TLS_client_method())) == NULL)
		client_fail("unable to set up TLS: ", tls_error(e, sizeof e), timeout);
	if (SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION) != 1 ||
	    SSL_CTX_set_cipher_list(ctx, ciphers12) != 1)
		client_fail("unable to set up TLS: ", tls_error(e, sizeof e), timeout);
	SSL_CTX_set_options(ctx, SSL_OP_NO_COMPRESSION | SSL_OP_NO_RENEGOTIATION |
	    SSL_OP_NO_TICKET);
	SSL_CTX_set_mode(ctx, SSL_MODE_ENABLE_PARTIAL_WRITE |
	    SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
	/* trust anchors: the file given, or the system's */
	if (cafile != NULL) {
		if (SSL_CTX_load_verify_locations(ctx, cafile, NULL) != 1) {
			trusted = 0;
			setwhy(why, sizeof why, "unable to load ", cafile);
		}
	} else if (SSL_CTX_set_default_verify_paths(ctx) != 1 ||
	    SSL_CTX_load_verify_locations(ctx, NULL, CLIENT_CADIR) != 1) {
		trusted = 0;
		setwhy(why, sizeof why, "unable to load the trust anchors in ", CLIENT_CADIR);
	}
	ERR_clear_error();
	if (!trusted && verify)
		client_fail(why, NULL, timeout);
	SSL_CTX_set_verify(ctx, verify ? SSL_VERIFY_PEER : SSL_VERIFY_NONE, NULL);
	if ((ssl = SSL_new(ctx)) == NULL)
		die_nomem();
	if (SSL_set_rfd(ssl, 0) != 1 || SSL_set_wfd(ssl, 1) != 1)
		client_fail("unable to set up TLS: ", tls_error(e, sizeof e), timeout);
	if (name != NULL) {
		/* the name is checked even when not required: for the report */
		vp = SSL_get0_param(ssl);
		X509_VERIFY_PARAM_set_hostflags(vp, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
		if (inet_pton(AF_INET, name, ip) == 1 || inet_pton(AF_INET6, name, ip) == 1) {
			/* an address: no SNI (RFC 6066), an iPAddress to match */
			if (X509_VERIFY_PARAM_set1_ip_asc(vp, name) != 1)
				client_fail("unable to set up TLS: ", tls_error(e, sizeof e), timeout);
		} else if (SSL_set_tlsext_host_name(ssl, name) != 1 || SSL_set1_host(ssl, name) != 1)
			client_fail("unable to set up TLS: ", tls_error(e, sizeof e), timeout);
	}
	nonblock(0);
	nonblock(1);
	if (!tls_handshake(ssl, 1, mono_ms() + (long long)timeout * 1000, why, sizeof why))
		client_fail(why, NULL, timeout);
	vr = SSL_get_verify_result(ssl);
	if (verify && vr != X509_V_OK)	/* SSL_VERIFY_PEER has seen to it */
		client_fail("certificate not accepted: ", X509_verify_cert_error_string(vr), timeout);

	/* the outcome: "K", the variables, the final NUL */
	if (!str_copyb(&msg, "K", 2))
		die_nomem();
	tls_vars(ssl, &msg, "TLSPEER");
	if (vr == X509_V_OK && name == NULL)
		addvar(&msg, "TLSVERIFY", "", "no name to check");
	else if (vr == X509_V_OK)
		addvar(&msg, "TLSVERIFY", "", "ok");
	else if (!trusted)
		addvar(&msg, "TLSVERIFY", "", why);
	else
		addvar(&msg, "TLSVERIFY", "", X509_verify_cert_error_string(vr));
	if (!str_catc(&msg, 0))
		die_nomem();
	outcome(msg.s, msg.len, timeout);
	str_free(&msg);

	r.ctx = ctx;
	r.ssl = ssl;
	r.ctl = -1;
	r.child = CLIENT_DATAFD;
	nonblock(r.child);
	relay(&r, timeout);
	if (!r.net_dead) {
		ERR_clear_error();
		(void)SSL_shutdown(ssl);	/* best effort: the server may be gone */
	}
	_exit(EXIT_OK);
}

int
main(int argc, char **argv)
{
	static struct relay r;
	unsigned long ctlfd = DEFAULT_CTLFD, idle = DEFAULT_IDLE;
	int is_starttls = 0, askcert = 0, keeproot = 0, fds[1001], nfd, sp[2], cp[2], vp[2];
	int is_client = 0, verify = 0, have_t = 0;
	const char *name = NULL, *cafile = NULL;
	int i, status, code;
	struct str path = STR_ZERO, vars = STR_ZERO, rel = STR_ZERO;
	size_t pos, eq;
	pid_t pid = -1;

	die_init(argv[0]);
	for (i = 1; i < argc && argv[i][0] == '-' && argv[i][1] != 0; i++) {
		const char *o = argv[i];

		if (str_equal(o, "--")) {
			i++;
			break;
		}
		if (str_equal(o, "-s"))
			is_starttls = 1;
		else if (str_equal(o, "-c"))
			askcert = 1;
		else if (str_equal(o, "-r"))
			keeproot = 1;
		else if (str_equal(o, "-C"))
			is_client = 1;
		else if (str_equal(o, "-v"))
			verify = 1;
		else if (str_equal(o, "-n") && i + 1 < argc) {
			name = argv[++i];
			if (name[0] == 0 || strlen(name) > 253)
				usage();
		} else if (str_equal(o, "-a") && i + 1 < argc)
			cafile = argv[++i];
		else if (str_equal(o, "-d") && i + 1 < argc) {
			if (!scan_ulong(argv[i + 1], strlen(argv[i + 1]), &ctlfd) ||
			    ctlfd < 3 || ctlfd > 1000)
				usage();
			i++;
		} else if (str_equal(o, "-t") && i + 1 < argc) {
			if (!scan_ulong(argv[i + 1], strlen(argv[i + 1]), &idle) || idle == 0 ||
			    idle > 86400)
				usage();
			have_t = 1;
			i++;
		} else
			usage();
	}
	if (is_client) {
		if (i < argc || is_starttls || askcert || keeproot || (verify && name == NULL))
			usage();
		if (name != NULL)
			peer = name;
		client(name, cafile, verify, have_t ? (unsigned)idle : CLIENT_TIMEOUT);
	}
	if (i >= argc || verify || name != NULL || cafile != NULL)
		usage();
	argv += i;
	if (env_get("TCPREMOTEIP") != NULL)
		peer = env_get("TCPREMOTEIP");

	/* prog as the caller named it, from the caller's directory */
	find_prog(argv[0], &path);
	if (path.s[0] != '/') {
		char cwd[4096];

		if (getcwd(cwd, sizeof cwd) == NULL)
			die_sys(EXIT_TEMP, "unable to find the current directory");
		if (!str_copys(&rel, path.s) || !str_copys(&path, cwd) || !str_catc(&path, '/') ||
		    !str_cat(&path, &rel) || !str_nul(&path))
			die_nomem();
	}
	/* set up: certificate and key while we may read them, then drop */
	if (chdir(auto_home) == -1)
		die_sys(EXIT_TEMP, "unable to chdir to ", auto_home);
	r.ctx = ctx_make(askcert);
	if (!env_unset("TLSVERSION") || !env_unset("TLSCIPHER") ||
	    !env_unset("TLSCIPHERBITS") || !env_unset("TLSSERVERNAME") ||
	    !env_unset("TLSCLIENTSUBJECT") || !env_unset("TLSCLIENTSHA256") ||
	    !env_unset(STARTTLS_ENV))
		die_sys(EXIT_TEMP, "unable to clean the environment");

	if (r.ctx == NULL) {
		if (!is_starttls)
			die(EXIT_TEMP, "no certificate: ", CERTFILE, " is missing");
		/* STARTTLS is simply not offered; prog has the connection */
		warn("no certificate in ", CERTFILE, ": running without STARTTLS");
		if (!keeproot)
			drop_root();
		execv(path.s, argv);
		die_sys(EXIT_TEMP, "unable to run ", path.s);
	}
	if (!sig_ignore(SIGPIPE))
		die_sys(EXIT_TEMP, "unable to ignore SIGPIPE");
	nonblock(0);
	nonblock(1);
	r.ctl = -1;

	/* prog on a socket pair; with -s its control socket at fd ctlfd */
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sp) == -1)
		die_sys(EXIT_TEMP, "unable to create a socket pair");
	fds[0] = fds[1] = sp[1];
	fds[2] = 2;
	nfd = 3;
	if (is_starttls) {
		char num[FMT_ULONG];

		if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, cp) == -1)
			die_sys(EXIT_TEMP, "unable to create a socket pair");
		for (; nfd < (int)ctlfd; nfd++)
			fds[nfd] = -1;
		fds[nfd++] = cp[1];
		num[fmt_ulong(num, ctlfd)] = 0;
		if (!env_set(STARTTLS_ENV, num))
			die_nomem();
		r.ctl = cp[0];
	}
	/* -r: prog's process exists before we drop root, and waits */
	if (keeproot) {
		if (pipe_cloexec(vp) == -1)
			die_sys(EXIT_TEMP, "unable to create a pipe");
		if ((pid = fork()) == -1)
			die_sys(EXIT_TEMP, "unable to fork");
		if (pid == 0) {
			if (close(vp[1]) == -1)	/* or we would wait for ourselves */
				_exit(EXIT_TEMP);
			run_later(vp[0], path.s, argv, fds, nfd);
		}
		if (close(vp[0]) == -1)
			die_sys(EXIT_TEMP, "unable to close a pipe");
	}
	drop_root();

	/* implicit TLS: the handshake first, its outcome in the environment */
	if (!str_copys(&vars, "K"))
		die_nomem();
	if (!is_starttls) {
		if ((r.ssl = handshake(r.ctx)) == NULL)
			_exit(EXIT_TEMP);	/* prog, if waiting, reads end of file */
		tls_vars(r.ssl, &vars, "TLSCLIENT");
	}
	if (keeproot) {
		if (!fd_writeall(vp[1], vars.s, vars.len, HANDSHAKE_TIMEOUT) || close(vp[1]) == -1)
			die_sys(EXIT_TEMP, "unable to start ", path.s);
	} else {
		for (pos = 1; pos < vars.len; pos += strlen(vars.s + pos) + 1) {
			eq = str_chrb(vars.s + pos, strlen(vars.s + pos), '=');
			vars.s[pos + eq] = 0;
			if (!env_set(vars.s + pos, vars.s + pos + eq + 1))
				die_nomem();
		}
		if ((pid = spawn(path.s, argv, NULL, fds, nfd)) == -1)
			die_sys(EXIT_TEMP, "unable to run ", path.s);
	}
	if (close(sp[1]) == -1 || (is_starttls && close(cp[1]) == -1))
		die_sys(EXIT_TEMP, "unable to close a socket");
	r.child = sp[0];
	nonblock(r.child);

	relay(&r, (unsigned)idle);

	/* exit: tell the client we are done, let prog see its end */
	if (r.ssl != NULL && !r.net_dead) {
		ERR_clear_error();
		(void)SSL_shutdown(r.ssl);	/* best effort: the client may be gone */
	}
	if (close(r.child) == -1)
		warn_sys("unable to close the data socket");
	if (r.ctl != -1)
		(void)close(r.ctl);	/* read only */
	if (spawn_wait(pid, &status) == -1)
		die_sys(EXIT_TEMP, "unable to wait for ", path.s);
	code = spawn_exitcode(status);
	_exit(code == -1 ? EXIT_TEMP : code);
}
