/* qmail-webadmin.c - remote administration in a web browser
 *
 * Run by tcpserver, one process per connection, as root (behind
 * qmail-tls -r for HTTPS) or as the owner of a single-user install:
 *	qmail-webadmin
 * It forks.  The child drops to the qmaild user and speaks HTTP/1.1 on
 * fds 0 and 1: every byte it reads is untrusted, and it never holds more
 * privilege than qmaild.  The parent keeps root, never reads the
 * network, and answers small requests from the child on a socket pair:
 * sign in, look up a session, read a page of a domain's mailboxes, make
 * a change.  It checks each request field by field (session, CSRF
 * token, who may touch which domain, the shape of every name) and
 * carries changes out by running bin/qmail-admin with fixed arguments,
 * a password on its standard input, so that every rule lives in one
 * place.
 *
 * Sessions are files users/websessions/TOKEN (mode 600, root's), the
 * token 256 random bits, the file's mtime its last use.  Administrators
 * are in control/webadmins, TOTP secrets in users/webtotp (see
 * qmail-admin(8)); a domain's postmaster@ mailbox signs in with its own
 * password and manages that domain only.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "authfail.h"
#include "auto.h"
#include "buf.h"
#include "control.h"
#include "die.h"
#include "env.h"
#include "http.h"
#include "maildir.h"
#include "names.h"
#include "priv.h"
#include "spawn.h"
#include "statefile.h"
#include "str.h"
#include "vpasswd.h"

#define REQTIME 30		/* seconds for one request, head and body */
#define OUTMAX (1024UL * 1024)	/* output of a qmail-admin run we keep */
/* A request to the privileged half is a form's worth; an answer holds
 * a listing, or a page of one (long when an alias or a list has many
 * targets), which the privileged half cuts (and says so) at LISTMAX. */
#define ASKMAX 65536
#define IPCMAX (4UL * 1024 * 1024)
#define LISTMAX (IPCMAX - 4096)
#define LOCKWAIT 5		/* seconds to wait for a lock, then trouble */
#define SESSIONS "users/websessions"
/* Failed sign-ins, counted per login and per client address: after
 * LOGINFREE failures of a login, or PEERFREE from an address, every
 * further attempt waits WAITFIRST seconds after the last failure,
 * doubled for each failure since, at most WAITMAX.  A count is
 * forgotten FAILKEEP seconds after its last failure; the file keeps
 * FAILLINES lines at most. */
#define FAILFILE "users/webfail"
#define FAILLOCK "users/webfail.lock"
#define FAILFILEMAX (512UL * 1024)
#define FAILLINES 1000
#define FAILKEEP 86400
#define LOGINFREE 5
#define PEERFREE 20
#define WAITFIRST 60
#define WAITMAX 900
#define TOKENLEN 64		/* hex digits of a session token */
#define CSRFLEN 32
#define ARGSMAX 24		/* targets or members in one change */
#define PAGEROWS 100		/* mailboxes, aliases or lists on one page */
#define SEARCHMAX 64		/* a name's longest: a longer search finds none */
#define VPASSWDMAX (64UL * 1024 * 1024)	/* a domain's vpasswd we read */

/* ===================================================================
 * shared: messages between the halves, "LEN:bytes," with NUL-separated
 * fields, at most ASKMAX bytes one way and IPCMAX the other
 * =================================================================== */

static void
cat(struct str *s, const char *a)
{
	if (!str_cats(s, a))
		die_nomem();
}

static void
catb(struct str *s, const char *a, size_t n)
{
	if (!str_catb(s, a, n))
		die_nomem();
}

static void
catf(struct str *s, const char *a)	/* a field: bytes and a NUL */
{
	cat(s, a);
	catb(s, "", 1);
}

static void
catnum(struct str *s, unsigned long u)
{
	if (!str_catulong(s, u))
		die_nomem();
}

static int
ipc_send(int fd, const struct str *m)
{
	struct str f = STR_ZERO;
	int ok;

	catnum(&f, (unsigned long)m->len);
	cat(&f, ":");
	catb(&f, m->s, m->len);
	cat(&f, ",");
	ok = fd_writeall(fd, f.s, f.len, 0);
	str_free(&f);
	return ok;
}

/* ipc_recv - one message of at most max bytes into m: 1, 0 at a clean
 * end, -1 junk, too long, or error */
static int
ipc_recv(int fd, struct str *m, unsigned long max)
{
	unsigned long len = 0;
	size_t got = 0;
	char c;
	long r;
	int digits = 0;

	m->len = 0;
	for (;;) {
		if ((r = fd_read(fd, &c, 1, 0)) <= 0)
			return r == 0 && digits == 0 ? 0 : -1;
		if (c == ':')
			break;
		if (c < '0' || c > '9' || ++digits > 9)
			return -1;
		len = len * 10 + (unsigned long)(c - '0');
	}
	if (digits == 0 || len > max || !str_readyplus(m, len + 1))
		return -1;
	while (got < len) {
		if ((r = fd_read(fd, m->s + got, len - got, 0)) <= 0)
			return -1;
		got += (size_t)r;
	}
	if (fd_read(fd, &c, 1, 0) != 1 || c != ',')
		return -1;
	m->len = len;
	m->s[len] = 0;
	return 1;
}

/* fields - split m into at most max NUL-ended fields; the count, or -1
 * when a field is not ended */
static int
fields(const struct str *m, const char **f, int max)
{
	size_t i = 0, e;
	int n = 0;

	while (i < m->len) {
		if (n == max)
			return -1;
		e = str_chrb(m->s + i, m->len - i, 0);
		if (i + e == m->len)
			return -1;
		f[n++] = m->s + i;
		i += e + 1;
	}
	return n;
}

static int
hexstr(const char *s, size_t want)
{
	size_t i;

	for (i = 0; s[i]; i++)
		if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
			return 0;
	return i == want;
}

static void
randhex(char *out, size_t nbytes)
{
	unsigned char b[64];
	static const char hex[] = "0123456789abcdef";
	size_t i;

	if (nbytes > sizeof b || getrandom(b, nbytes, 0) != (ssize_t)nbytes)
		die_sys(EXIT_TEMP, "unable to get random bytes");
	for (i = 0; i < nbytes; i++) {
		out[2 * i] = hex[b[i] >> 4];
		out[2 * i + 1] = hex[b[i] & 15];
	}
	out[2 * nbytes] = 0;
}

/* page_count - the pages a listing of total names takes (an empty one
 * too has its page) */
static unsigned long
page_count(unsigned long total)
{
	return total == 0 ? 1 : (total - 1) / PAGEROWS + 1;
}

/* ===================================================================
 * the privileged half
 * =================================================================== */

struct who {
	char login[VPASSWD_USERMAX + 1 + VPASSWD_DOMAINMAX + 1];
	char csrf[CSRFLEN + 1];
	const char *domain;	/* postmaster's domain; NULL: administrator */
};

static const char *peer = "unknown";	/* the client's address, set by main */
static unsigned long session_life = 1800;
static unsigned reqtime = REQTIME;	/* control/timeoutwebadmin */

static void
wipe(void *p, size_t n)
{
	volatile char *v = p;

	while (n-- > 0)
		*v++ = 0;
}

/* readfile - a whole small file; 1, 0 missing, -1 error */
static int
readfile(const char *fn, struct str *out, size_t max)
{
	out->len = 0;
	return control_readfile(fn, out, max);
}

/* write_atomic - fn replaced by data, mode 600 */
static int
write_atomic(const char *fn, const char *data, size_t n)
{
	return statefile_write(fn, data, n, 0600);
}

/* lock_wait - the lock file fn, locked: its descriptor (closing it
 * unlocks), or -1 when it cannot be had within LOCKWAIT seconds:
 * qmail-admin holds users/admin.lock for as long as a backup takes, and
 * a sign-in must not hang on it. */
static int
lock_wait(const char *fn)
{
	return statefile_lock(fn, 0600, LOCKWAIT);
}

/* line_of - the rest of the line "key:..." of text t (without "key:"),
 * NUL-terminated in out: 1 found, 0 not */
static int
line_of(const struct str *t, const char *key, struct str *out)
{
	size_t pos = 0, e, kl = strlen(key);

	while (pos < t->len) {
		e = str_chrb(t->s + pos, t->len - pos, '\n');
		if (e > kl && t->s[pos + kl] == ':' &&
		    memcmp(t->s + pos, key, kl) == 0) {
			out->len = 0;
			catb(out, t->s + pos + kl + 1, e - kl - 1);
			if (!str_nul(out))
				die_nomem();
			return 1;
		}
		pos += e + 1;
	}
	return 0;
}

/* b32dec - RFC 4648 base32 without padding; the byte count or 0 */
static size_t
b32dec(const char *s, unsigned char *out, size_t size)
{
	unsigned long acc = 0;
	int bits = 0;
	size_t n = 0;
	const char *p;
	static const char a[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";

	for (; *s && *s != ':'; s++) {
		if ((p = strchr(a, *s)) == NULL || *s == 0)
			return 0;
		acc = (acc << 5 | (unsigned long)(p - a)) & 0xffff;
		if ((bits += 5) >= 8) {
			if (n == size)
				return 0;
			out[n++] = (unsigned char)(acc >> (bits - 8));
			bits -= 8;
		}
	}
	return n;
}

/* totp_code - RFC 4226 HOTP of the step counter (RFC 6238: SHA-1, 6 digits) */
static unsigned long
totp_code(const unsigned char *key, size_t kn, unsigned long long step)
{
	unsigned char msg[8], md[EVP_MAX_MD_SIZE];
	unsigned int mdlen = 0;
	unsigned long v;
	int i, off;

	for (i = 7; i >= 0; i--, step >>= 8)
		msg[i] = (unsigned char)(step & 0xff);
	if (HMAC(EVP_sha1(), key, (int)kn, msg, sizeof msg, md, &mdlen) == NULL ||
	    mdlen < 20)
		return 1000000;	/* matches no code */
	off = md[mdlen - 1] & 15;
	v = ((unsigned long)(md[off] & 0x7f) << 24) |
	    ((unsigned long)md[off + 1] << 16) |
	    ((unsigned long)md[off + 2] << 8) | md[off + 3];
	return v % 1000000;
}

/* totp_check - 1 when login has no second factor or code is right for
 * the step before, now or after and newer than the last one used (which
 * then becomes this one); 0 wrong; -1 trouble */
static int
totp_check(const char *login, const char *code)
{
	struct str t = STR_ZERO, rest = STR_ZERO, out = STR_ZERO;
	unsigned char key[64];
	unsigned long long now, s, last = 0;
	unsigned long want;
	size_t kn, pos, e, kl = strlen(login);
	const char *c;
	int lk, r = 0, i;

	if ((lk = lock_wait("users/admin.lock")) == -1) {
		warn_sys("unable to lock users/admin.lock");
		return -1;
	}
	switch (readfile("users/webtotp", &t, 65536)) {
	case -1:
		r = -1;
		goto done;
	case 0:
		r = 1;
		goto done;
	}
	if (!line_of(&t, login, &rest)) {
		r = 1;
		goto done;
	}
	kn = b32dec(rest.s, key, sizeof key);
	c = strchr(rest.s, ':');
	if (kn < 10 || c == NULL) {
		r = -1;
		goto done;
	}
	for (c++; *c >= '0' && *c <= '9'; c++)
		last = last * 10 + (unsigned long long)(*c - '0');
	if (strlen(code) != 6 || !scan_ulong(code, 6, &want))
		goto done;
	now = (unsigned long long)time(NULL) / 30;
	for (i = -1; i <= 1 && r == 0; i++) {
		s = now + (unsigned long long)(long long)i;
		if (s > last && totp_code(key, kn, s) == want)
			r = 1, last = s;
	}
	if (r == 1) {	/* this code, and those before it, are used up */
		for (pos = 0; pos < t.len; pos += e + 1) {
			e = str_chrb(t.s + pos, t.len - pos, '\n');
			if (e > kl && t.s[pos + kl] == ':' &&
			    memcmp(t.s + pos, login, kl) == 0) {
				size_t colon = str_rchrb(t.s + pos, e, ':');

				catb(&out, t.s + pos, colon + 1);
				catnum(&out, (unsigned long)last);
			} else
				catb(&out, t.s + pos, e);
			cat(&out, "\n");
		}
		if (!write_atomic("users/webtotp", out.s, out.len))
			r = -1;
	}
done:
	wipe(key, sizeof key);
	(void)close(lk);	/* releases the lock */
	str_free(&t);
	str_free(&rest);
	str_free(&out);
	return r;
}

/* The failure counts (see authfail.h), per login ("l:LOGIN") and per
 * address ("a:ADDRESS").  A right password clears its login's count,
 * never the rest of the address's.  FAILLOCK is not users/admin.lock:
 * qmail-admin may hold that one for minutes. */
static const struct authfail webfail = {
	.file = FAILFILE, .lock = FAILLOCK, .mode = 0600, .lockwait = LOCKWAIT,
	.waitfirst = WAITFIRST, .waitmax = WAITMAX, .keep = FAILKEEP,
	.lines = FAILLINES, .filemax = FAILFILEMAX
};

/* fail_update - authfail_update for login key lk (NULL when the name
 * cannot be a login) and address key ak; *who 'l' or 'a', the one over
 * its limit when a try must wait.  -1 trouble, logged: the caller
 * refuses the sign-in. */
static int
fail_update(const char *lk, const char *ak, enum authfail_op op,
    unsigned long *wait, char *who)
{
	struct authfail_key k[2] = { { lk, LOGINFREE, 1 }, { ak, PEERFREE, 0 } };
	struct authfail_result r;
	int ret;

	ret = authfail_update(&webfail, k, 2, op, (unsigned long)time(NULL), &r);
	if (ret == -1)
		warn_sys(r.failed, r.fn);
	*wait = r.wait;
	if (ret == 0)
		*who = r.which == 0 ? 'l' : 'a';
	return ret;
}

/* check_password - 1 right, 0 wrong or unknown (same cost), -1 trouble */
static int
check_password(const char *login, const char *pw)
{
	struct str t = STR_ZERO, h = STR_ZERO, fn = STR_ZERO;
	const char *at = strchr(login, '@');
	unsigned long quota;
	int r;

	if (at == NULL) {
		r = readfile("control/webadmins", &t, 1024 * 1024);
		if (r == -1)
			return -1;
		r = vpasswd_user_ok(login, strlen(login)) && r == 1 &&
		    line_of(&t, login, &h);
		r = vpasswd_check(pw, r ? h.s : NULL);
	} else {
		r = 0;
		if (at - login == 10 && memcmp(login, "postmaster", 10) == 0 &&
		    vpasswd_domain_ok(at + 1, strlen(at + 1))) {
			cat(&fn, "domains/");
			cat(&fn, at + 1);
			cat(&fn, "/vpasswd.cdb");
			if (!str_nul(&fn))
				die_nomem();
			r = vpasswd_lookup(fn.s, "postmaster", 10, &h, &quota);
		}
		if (r == -1)
			return -1;
		r = vpasswd_check(pw, r == 1 ? h.s : NULL);
	}
	str_free(&t);
	str_free(&h);
	str_free(&fn);
	return r;
}

static int
session_path(struct str *p, const char *token)
{
	if (!hexstr(token, TOKENLEN))
		return 0;
	p->len = 0;
	cat(p, SESSIONS "/");
	cat(p, token);
	if (!str_nul(p))
		die_nomem();
	return 1;
}

/* session_get - the session of token, still valid: 1 (w filled, its
 * time renewed), 0 none, -1 trouble */
static int
session_get(const char *token, struct who *w)
{
	struct str p = STR_ZERO, t = STR_ZERO, h = STR_ZERO;
	struct stat st;
	size_t nl, e;
	int r = 0;
	const char *at;

	if (!session_path(&p, token))
		goto done;
	if (stat(p.s, &st) == -1) {
		r = errno == ENOENT ? 0 : -1;
		goto done;
	}
	if ((unsigned long)st.st_mtime + session_life < (unsigned long)time(NULL)) {
		(void)unlink(p.s);	/* expired: gone either way */
		goto done;
	}
	if ((r = readfile(p.s, &t, 1024)) != 1)
		goto done;
	r = 0;
	nl = str_chrb(t.s, t.len, '\n');
	if (nl >= sizeof w->login || nl == t.len)
		goto done;
	e = str_chrb(t.s + nl + 1, t.len - nl - 1, '\n');
	if (e != CSRFLEN)
		goto done;
	memcpy(w->login, t.s, nl);
	w->login[nl] = 0;
	memcpy(w->csrf, t.s + nl + 1, CSRFLEN);
	w->csrf[CSRFLEN] = 0;
	at = strchr(w->login, '@');
	w->domain = at ? at + 1 : NULL;
	/* an administrator or a postmaster removed meanwhile is signed out */
	if (w->domain == NULL) {
		if (readfile("control/webadmins", &t, 1024 * 1024) != 1 ||
		    !line_of(&t, w->login, &h)) {
			(void)unlink(p.s);
			goto done;
		}
	} else {
		unsigned long quota;

		t.len = 0;
		cat(&t, "domains/");
		cat(&t, w->domain);
		cat(&t, "/vpasswd.cdb");
		if (!str_nul(&t))
			die_nomem();
		if ((r = vpasswd_lookup(t.s, "postmaster", 10, &h, &quota)) != 1) {
			if (r == 0)
				(void)unlink(p.s);
			goto done;
		}
		r = 0;
	}
	(void)utimensat(AT_FDCWD, p.s, NULL, 0);	/* renewed; failure only shortens it */
	r = 1;
done:
	str_free(&p);
	str_free(&t);
	str_free(&h);
	return r;
}

/* session_new - a new session file for login; token and csrf filled */
static int
session_new(const char *login, char *token, char *csrf)
{
	struct str p = STR_ZERO, t = STR_ZERO;
	DIR *d;
	struct dirent *de;
	struct stat st;
	int ok;

	if (mkdir(SESSIONS, 0700) == -1 && errno != EEXIST)
		return 0;
	/* sweep the expired ones */
	if ((d = opendir(SESSIONS)) != NULL) {
		while ((de = readdir(d)) != NULL)
			if (session_path(&p, de->d_name) && stat(p.s, &st) == 0 &&
			    (unsigned long)st.st_mtime + session_life <
			    (unsigned long)time(NULL))
				(void)unlink(p.s);	/* a race with another sweep is harmless */
		(void)closedir(d);
	}
	randhex(token, TOKENLEN / 2);
	randhex(csrf, CSRFLEN / 2);
	cat(&t, login);
	cat(&t, "\n");
	cat(&t, csrf);
	cat(&t, "\n");
	ok = session_path(&p, token) && write_atomic(p.s, t.s, t.len);
	str_free(&p);
	str_free(&t);
	return ok;
}

/* run_admin - bin/qmail-admin with argv, pw (or NULL) on stdin; its
 * stdout in out (the first OUTMAX bytes; *cut set when there was more),
 * the last line of its stderr in err; the exit code */
static int
run_admin(char *const argv[], const char *pw, struct str *out, struct str *err,
    int *cut)
{
	int in[2], po[2], pe[2], fd[3], status;
	char x[4096];
	pid_t pid;
	long r;

	out->len = err->len = 0;
	*cut = 0;
	if (pipe_cloexec(in) == -1 || pipe_cloexec(po) == -1 ||
	    pipe_cloexec(pe) == -1)
		return -1;
	fd[0] = in[0], fd[1] = po[1], fd[2] = pe[1];
	pid = spawn("bin/qmail-admin", argv, NULL, fd, 3);
	(void)close(in[0]);	/* the child's copies stay open there */
	(void)close(po[1]);
	(void)close(pe[1]);
	if (pid == -1) {
		(void)close(in[1]);
		(void)close(po[0]);
		(void)close(pe[0]);
		return -1;
	}
	if (pw != NULL) {
		if (!fd_writeall(in[1], pw, strlen(pw), 10) ||
		    !fd_writeall(in[1], "\n", 1, 10))
			warn_sys("unable to hand qmail-admin the password");
	}
	(void)close(in[1]);	/* end of its input */
	while ((r = fd_read(po[0], x, sizeof x, 60)) > 0)	/* read to the end all the same */
		if (out->len + (size_t)r <= OUTMAX)
			catb(out, x, (size_t)r);
		else {
			catb(out, x, OUTMAX - out->len);
			*cut = 1;
		}
	while ((r = fd_read(pe[0], x, sizeof x, 60)) > 0)
		if (err->len < 8192)
			catb(err, x, (size_t)r);
	(void)close(po[0]);
	(void)close(pe[0]);
	if (spawn_wait(pid, &status) == -1)
		return -1;
	while (err->len > 0 && err->s[err->len - 1] == '\n')
		err->len--;
	return spawn_exitcode(status);
}

/* addr_ok - local@domain with a mailbox-name local part (plus + and =
 * for targets elsewhere) and a domain name */
static int
addr_ok(const char *a, int strict)
{
	const char *at = strrchr(a, '@');
	size_t i;

	if (at == NULL || at == a || at - a > 64)
		return 0;
	if (strict)
		return vpasswd_user_ok(a, (size_t)(at - a)) &&
		    vpasswd_domain_ok(at + 1, strlen(at + 1));
	for (i = 0; a + i < at; i++)
		if (!strchr("abcdefghijklmnopqrstuvwxyz0123456789._-+=", a[i]))
			return 0;
	return vpasswd_domain_ok(at + 1, strlen(at + 1));
}

/* may - 1 when who may change things in domain d */
static int
may(const struct who *w, const char *d)
{
	return w->domain == NULL || str_equal(w->domain, d);
}

static void
reply(int fd, char status, const char *text, size_t n)
{
	struct str m = STR_ZERO;

	catb(&m, &status, 1);
	catb(&m, "", 1);
	catb(&m, text, n);
	if (!ipc_send(fd, &m))
		die_sys(EXIT_TEMP, "unable to answer the web half");
	str_free(&m);
}

static void
replys(int fd, char status, const char *text)
{
	reply(fd, status, text, strlen(text));
}

static void
logline(const char *a, const char *b, const char *c, const char *d)
{
	struct str l = STR_ZERO;

	cat(&l, die_progname());
	cat(&l, ": ");
	cat(&l, a);
	cat(&l, b);
	cat(&l, c);
	cat(&l, d);
	cat(&l, "\n");
	(void)fd_writeall(2, l.s, l.len, 5);	/* a lost log line stops nothing */
	str_free(&l);
}

/* login_ok - 1 when login could name someone: an administrator's name
 * or a mailbox address.  Only such names get a count of their own; the
 * rest are counted by address only, so junk cannot fill the file. */
static int
login_ok(const char *login, size_t ln)
{
	const char *at = memchr(login, '@', ln);

	if (at == NULL)
		return vpasswd_user_ok(login, ln);
	return vpasswd_user_ok(login, (size_t)(at - login)) &&
	    vpasswd_domain_ok(at + 1, ln - (size_t)(at - login) - 1);
}

/* refuse_many - the answer to an attempt over the limit: 'L' and
 * "SECONDS NUL message" */
static void
refuse_many(int fd, unsigned long wait, char who)
{
	struct str m = STR_ZERO;

	catnum(&m, wait);
	catb(&m, "", 1);
	cat(&m, who == 'l' ? "Too many failed sign-ins for this login; try again in " :
	    "Too many failed sign-ins from your address; try again in ");
	if (wait < 120) {
		catnum(&m, wait);
		cat(&m, " seconds.");
	} else {
		catnum(&m, (wait + 59) / 60);
		cat(&m, " minutes.");
	}
	reply(fd, 'L', m.s, m.len);
	str_free(&m);
}

/* do_login - fields: user password code */
static void
do_login(int fd, const char **f, int n)
{
	char token[TOKENLEN + 1], csrf[CSRFLEN + 1];
	char login[sizeof ((struct who *)0)->login], shown[sizeof login];
	struct str m = STR_ZERO, lk = STR_ZERO, ak = STR_ZERO;
	unsigned long wait;
	size_t i, ln;
	char who = 'a';
	int r;

	if (n != 4) {
		replys(fd, 'P', "bad request");
		return;
	}
	ln = strlen(f[1]);
	if (ln == 0 || ln >= sizeof login) {
		replys(fd, 'A', "Wrong login or password.");
		return;
	}
	for (i = 0; i <= ln; i++) {
		login[i] = (f[1][i] >= 'A' && f[1][i] <= 'Z') ? (char)(f[1][i] + 32) : f[1][i];
		/* the log shows what was typed, tamed */
		shown[i] = i < ln && ((unsigned char)login[i] < 0x21 ||
		    (unsigned char)login[i] > 0x7e) ? '?' : login[i];
	}
	if (login_ok(login, ln)) {
		cat(&lk, "l:");
		cat(&lk, login);
		if (!str_nul(&lk))
			die_nomem();
	}
	cat(&ak, "a:");
	cat(&ak, peer);
	if (!str_nul(&ak))
		die_nomem();
	switch (fail_update(lk.len ? lk.s : NULL, ak.s, AUTHFAIL_TRY, &wait, &who)) {
	case -1:
		logline("warning: sign-in trouble for ", shown, " from ", peer);
		replys(fd, 'T', "Temporary trouble; try again later.");
		goto done;
	case 0:
		logline("sign-in refused after too many failures: ", shown,
		    " from ", peer);
		refuse_many(fd, wait, who);
		goto done;
	}
	r = check_password(login, f[2]);
	if (r == 1)
		r = totp_check(login, f[3]);
	/* the attempt was counted as a failure: a right password, or
	 * trouble, takes that back (should that fail, the count stays one
	 * too high, which only errs on the safe side) */
	if (r != 0)
		(void)fail_update(lk.len ? lk.s : NULL, ak.s,
		    r == 1 ? AUTHFAIL_OK : AUTHFAIL_UNDO, &wait, &who);
	if (r == -1) {
		logline("warning: sign-in trouble for ", shown, " from ", peer);
		replys(fd, 'T', "Temporary trouble; try again later.");
		goto done;
	}
	if (r == 0) {
		logline("sign-in failed for ", shown, " from ", peer);
		replys(fd, 'A', "Wrong login, password or code.");
		goto done;
	}
	if (!session_new(login, token, csrf)) {
		replys(fd, 'T', "Unable to start a session; try again later.");
		goto done;
	}
	logline("signed in: ", login, " from ", peer);
	catf(&m, token);
	catf(&m, csrf);
	cat(&m, login);
	reply(fd, '0', m.s, m.len);
done:
	str_free(&m);
	str_free(&lk);
	str_free(&ak);
}

/* ---- listings: one page of a domain's mailboxes, aliases or lists ----
 *
 * A domain may have tens of thousands of mailboxes: the web half asks
 * for one page of PAGEROWS names at a time, and only the mailboxes on
 * that page have their Maildirs looked at.  The names come from
 * domains/D/vpasswd and the domain's .qmail files, read here rather
 * than through qmail-admin, whose listing looks at every Maildir.  The
 * vmail user owns all of it: none of these files, nor the domain's or a
 * mailbox's directory, is reached through a symbolic link. */

/* nameset - a listing's names: a set (lib/names) that answers whether
 * a name is in it, and the same names in the order of their bytes
 * (row), so that a page keeps its names however vpasswd or the
 * directory is reordered; a mailbox's quota beside each */
struct row {
	const char *name;
	unsigned long quota;
};
struct nameset {
	struct names set;
	unsigned long *quota;	/* in the order added */
	size_t qcap;
	struct row *row;	/* made by nameset_sort */
};
#define NAMESET_ZERO { NAMES_ZERO, NULL, 0, NULL }

static void
nameset_add(struct nameset *ls, const char *s, size_t n, unsigned long quota)
{
	unsigned long *p;
	size_t cap, bytes;

	if (ls->set.n == ls->qcap) {
		cap = ls->qcap ? 2 * ls->qcap : 128;
		if (__builtin_mul_overflow(cap, sizeof *p, &bytes))
			die_nomem();
		if ((p = realloc(ls->quota, bytes)) == NULL)
			die_nomem();
		ls->quota = p;
		ls->qcap = cap;
	}
	if (!names_add(&ls->set, s, n))
		die_nomem();
	ls->quota[ls->set.n - 1] = quota;
}

static int
row_cmp(const void *a, const void *b)
{
	return strcmp(((const struct row *)a)->name, ((const struct row *)b)->name);
}

static void
nameset_sort(struct nameset *ls)
{
	size_t i;

	if (ls->set.n == 0)
		return;
	if ((ls->row = calloc(ls->set.n, sizeof *ls->row)) == NULL)
		die_nomem();
	for (i = 0; i < ls->set.n; i++) {
		ls->row[i].name = names_at(&ls->set, i);
		ls->row[i].quota = ls->quota[i];
	}
	qsort(ls->row, ls->set.n, sizeof *ls->row, row_cmp);
}

static void
nameset_free(struct nameset *ls)
{
	names_free(&ls->set);
	free(ls->quota);
	free(ls->row);
}

/* domain_open - the directory domains/d, the last step not through a
 * link (domains/ itself sits in the install root and may be one); -1
 * with errno */
static int
domain_open(const char *d)
{
	int top, fd, err;

	if ((top = open("domains", O_RDONLY | O_DIRECTORY | O_CLOEXEC)) == -1)
		return -1;
	fd = openat(top, d, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	err = errno;
	(void)close(top);	/* only read */
	errno = err;
	return fd;
}

/* read_at - the regular file name in the directory dfd, not through a
 * link, into out: all of it (a file over max bytes is -1 and EFBIG), or
 * with whole 0 its first max bytes; 1, 0 missing, -1 with errno */
static int
read_at(int dfd, const char *name, struct str *out, size_t max, int whole)
{
	char x[4096];
	struct stat st;
	long r;
	int fd, err;

	out->len = 0;
	if ((fd = openat(dfd, name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC)) == -1)
		return errno == ENOENT ? 0 : -1;
	if (fstat(fd, &st) == -1) {
		err = errno;
		goto fail;
	}
	if (!S_ISREG(st.st_mode)) {
		err = EINVAL;
		goto fail;
	}
	for (;;) {
		if ((r = fd_read(fd, x, sizeof x, 0)) == -1) {
			err = errno;
			goto fail;
		}
		if (r == 0)
			break;
		if ((size_t)r > max - out->len) {
			if (whole) {
				err = EFBIG;
				goto fail;
			}
			catb(out, x, max - out->len);
			break;
		}
		catb(out, x, (size_t)r);
	}
	(void)close(fd);	/* only read */
	return 1;
fail:
	(void)close(fd);
	errno = err;
	return -1;
}

/* users_load - the mailboxes of the domain directory dfd, from its
 * vpasswd (lines that are not user:hash[:quota] left out): 1, 0 no
 * vpasswd, -1 with errno */
static int
users_load(int dfd, struct nameset *ls)
{
	struct str t = STR_ZERO;
	size_t pos, e, ul, hl;
	const char *h;
	unsigned long quota;
	int r;

	if ((r = read_at(dfd, "vpasswd", &t, VPASSWDMAX, 1)) == 1) {
		for (pos = 0; pos < t.len; pos += e + 1) {
			e = str_chrb(t.s + pos, t.len - pos, '\n');
			if (!vpasswd_split(t.s + pos, e, &ul, &h, &hl, &quota))
				continue;
			nameset_add(ls, t.s + pos, ul, quota);
		}
		nameset_sort(ls);
	}
	str_free(&t);
	return r;
}

/* forward_name - the name of an alias or list from its file name
 * ".qmail-NAME" (a dot written as a colon) into out: 1, or 0 when it
 * is no such name */
static int
forward_name(const char *fn, char *out)
{
	size_t i;

	if (strncmp(fn, ".qmail-", 7) != 0)
		return 0;
	fn += 7;
	for (i = 0; fn[i] && i <= VPASSWD_USERMAX; i++)
		out[i] = fn[i] == ':' ? '.' : fn[i];
	out[i] = 0;
	return i <= VPASSWD_USERMAX && vpasswd_user_ok(out, i);
}

/* forward_file - ".qmail-NAME" for name, into out */
static void
forward_file(const char *name, struct str *out)
{
	size_t i;

	out->len = 0;
	cat(out, ".qmail-");
	for (i = 0; name[i]; i++)
		catb(out, name[i] == '.' ? ":" : name + i, 1);
	if (!str_nul(out))
		die_nomem();
}

/* forwards_load - the aliases (mark "# alias\n") or lists ("# list\n")
 * of the domain directory dfd whose names hold q: those of its
 * .qmail-NAME files that start with mark.  A mailbox's own .qmail file
 * (NAME in boxes) is not even opened.  1, -1 with errno */
static int
forwards_load(int dfd, const char *mark, const struct nameset *boxes,
    const char *q, struct nameset *ls)
{
	char name[VPASSWD_USERMAX + 2];
	struct str t = STR_ZERO;
	struct dirent *de;
	DIR *dp;
	size_t ml = strlen(mark);
	int fd, r = 1, err;

	/* a descriptor of its own: closedir closes it */
	if ((fd = openat(dfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC)) == -1)
		return -1;
	if ((dp = fdopendir(fd)) == NULL) {
		err = errno;
		(void)close(fd);
		errno = err;
		return -1;
	}
	for (;;) {
		errno = 0;
		if ((de = readdir(dp)) == NULL) {
			if (errno)
				r = -1;
			break;
		}
		if (!forward_name(de->d_name, name) || strstr(name, q) == NULL ||
		    names_has(&boxes->set, name))
			continue;
		if (read_at(dfd, de->d_name, &t, ml, 0) == 1 && t.len == ml &&
		    memcmp(t.s, mark, ml) == 0)
			nameset_add(ls, name, strlen(name), 0);
	}
	err = errno;
	(void)closedir(dp);	/* only read */
	str_free(&t);
	nameset_sort(ls);
	errno = err;
	return r;
}

/* usage - what the Maildir of mailbox user in the domain directory dfd
 * holds: its maildirsize's sums when that sets a quota (recounted, in
 * memory only, when they cannot be trusted), else counted from its
 * files.  1 with q's bytes and count, 0 unknown. */
static int
usage(int dfd, const char *d, const char *user, struct maildir_quota *q)
{
	struct str p = STR_ZERO;
	int ufd, mfd, r = 0;

	/* no link on the way (the same check as qmail-admin's listing);
	 * then the path, which lib/maildir takes */
	if ((ufd = openat(dfd, user, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)) == -1)
		return 0;
	mfd = openat(ufd, "Maildir", O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	(void)close(ufd);	/* only read */
	if (mfd == -1)
		return 0;
	(void)close(mfd);
	cat(&p, "domains/");
	cat(&p, d);
	cat(&p, "/");
	cat(&p, user);
	cat(&p, "/Maildir");
	if (!str_nul(&p))
		die_nomem();
	switch (maildir_quota_read(p.s, q)) {
	case 1:
		r = q->bytes >= 0 && q->count >= 0;
		break;
	case 0:
		r = maildir_quota_count(p.s, q);
		break;
	}
	str_free(&p);
	return r;
}

/* user_line - "user@d quota=N size=N messages=N" (quota when set, size
 * and messages when known) for the mailbox of row r */
static void
user_line(int dfd, const char *d, const struct row *r, struct str *l)
{
	struct maildir_quota mq;

	l->len = 0;
	cat(l, r->name);
	cat(l, "@");
	cat(l, d);
	if (r->quota != 0) {
		cat(l, " quota=");
		catnum(l, r->quota);
	}
	if (usage(dfd, d, r->name, &mq)) {
		cat(l, " size=");
		catnum(l, (unsigned long)mq.bytes);
		cat(l, " messages=");
		catnum(l, (unsigned long)mq.count);
	}
	cat(l, "\n");
}

/* forward_line - "name@d: target ..." of an alias or list, its targets
 * the "&address" lines of its file */
static void
forward_line(int dfd, const char *d, const char *name, struct str *l)
{
	struct str fn = STR_ZERO, t = STR_ZERO;
	size_t pos, e;

	l->len = 0;
	cat(l, name);
	cat(l, "@");
	cat(l, d);
	cat(l, ":");
	forward_file(name, &fn);
	if (read_at(dfd, fn.s, &t, 1024 * 1024, 1) == 1)
		for (pos = 0; pos < t.len; pos += e + 1) {
			e = str_chrb(t.s + pos, t.len - pos, '\n');
			if (e > 1 && t.s[pos] == '&') {
				cat(l, " ");
				catb(l, t.s + pos + 1, e - 1);
			}
		}
	cat(l, "\n");
	str_free(&fn);
	str_free(&t);
}

/* list_add - line l (newline included) onto the listing res, unless
 * that would pass LISTMAX: then *cut is set and every later line is
 * left off too */
static void
list_add(struct str *res, const struct str *l, int *cut)
{
	if (*cut || res->len + l->len > LISTMAX)
		*cut = 1;
	else
		catb(res, l->s, l->len);
}

/* do_list - fields "users" (or "aliases", "lists"), token, domain,
 * page, search: a line "TOTAL PAGE", the count of names that hold the
 * search ("" every name) and the page shown (1 the first; a page past
 * the last shows the last, 0 the first), then that page's lines,
 * PAGEROWS at most, in the order of the names: user_line's or
 * forward_line's.  Status 'C' instead of '0' when the lines had to be
 * cut at LISTMAX. */
static void
do_list(int fd, const struct who *w, const char **f, int n)
{
	struct nameset boxes = NAMESET_ZERO, fw = NAMESET_ZERO;
	const struct nameset *ls = &fw;
	struct str res = STR_ZERO, l = STR_ZERO;
	const char *d = f[2], *q = f[4];
	unsigned long page, pages, total = 0, k = 0;
	size_t i;
	int dfd, users, cut = 0, r;

	if (n != 5 || !vpasswd_domain_ok(d, strlen(d)) || !may(w, d) ||
	    !scan_ulong(f[3], strlen(f[3]), &page)) {
		replys(fd, 'P', "Not allowed.");
		return;
	}
	if ((dfd = domain_open(d)) == -1) {
		if (errno == ENOENT || errno == ENOTDIR || errno == ELOOP)
			replys(fd, 'P', "No such domain.");
		else {
			warn_sys("unable to open domains/", d);
			replys(fd, 'T', "Unable to read the domain's directory.");
		}
		return;
	}
	users = str_equal(f[0], "users");
	r = users_load(dfd, &boxes);
	if (r == 1 && !users)
		r = forwards_load(dfd, str_equal(f[0], "aliases") ? "# alias\n" :
		    "# list\n", &boxes, q, &fw);
	if (r != 1) {
		if (r == 0)
			replys(fd, 'P', "No such domain.");
		else {
			warn_sys("unable to read the files of domains/", d);
			replys(fd, 'T', "Unable to read the domain's files.");
		}
		goto done;
	}
	if (users)
		ls = &boxes;
	for (i = 0; i < ls->set.n; i++)
		if (strstr(ls->row[i].name, q) != NULL)
			total++;
	pages = page_count(total);
	if (page > pages)
		page = pages;
	if (page == 0)
		page = 1;
	catnum(&res, total);
	cat(&res, " ");
	catnum(&res, page);
	cat(&res, "\n");
	for (i = 0; i < ls->set.n && !cut && k < page * PAGEROWS; i++) {
		if (strstr(ls->row[i].name, q) == NULL || k++ < (page - 1) * PAGEROWS)
			continue;
		if (users)
			user_line(dfd, d, &ls->row[i], &l);
		else
			forward_line(dfd, d, ls->row[i].name, &l);
		list_add(&res, &l, &cut);
	}
	reply(fd, cut ? 'C' : '0', res.s, res.len);
done:
	(void)close(dfd);	/* only read */
	nameset_free(&boxes);
	nameset_free(&fw);
	str_free(&res);
	str_free(&l);
}

/* do_read - "domains": the domains the signed-in user may manage */
static void
do_read(int fd, const struct who *w, const char **f, int n)
{
	struct str out = STR_ZERO, err = STR_ZERO, res = STR_ZERO;
	char *argv[] = { "qmail-admin", "domain", "list", NULL };
	size_t e;
	int rc, outcut;

	if (!str_equal(f[0], "domains") || n != 2) {
		replys(fd, 'P', "Not allowed.");
		return;
	}
	if (w->domain != NULL) {
		cat(&res, w->domain);
		cat(&res, "\n");
		reply(fd, '0', res.s, res.len);
		str_free(&res);
		return;
	}
	rc = run_admin(argv, NULL, &out, &err, &outcut);
	if (rc != 0) {
		reply(fd, rc == 100 ? 'P' : 'T', err.s, err.len);
		goto done;
	}
	/* whole lines only: a last one without its newline was cut */
	e = out.len ? str_rchrb(out.s, out.len, '\n') : 0;
	reply(fd, outcut ? 'C' : '0', out.len ? out.s : "", e == out.len ? 0 : e + 1);
done:
	str_free(&out);
	str_free(&err);
	str_free(&res);
}

/* do_change - fields: "do" token csrf password quota what verb arg
 * [target ...]; checked, then one run of qmail-admin */
static void
do_change(int fd, const struct who *w, const char **f, int n)
{
	char *argv[ARGSMAX + 8];
	struct str out = STR_ZERO, err = STR_ZERO, l = STR_ZERO;
	const char *pw = f[3], *quota = f[4], *what = f[5], *verb = f[6];
	const char *arg = f[7], *at;
	unsigned long q;
	int na = 0, i, rc, extra = n - 8, need_pw = 0, cut;

	if (extra < 0 || extra > ARGSMAX)
		goto bad;
	argv[na++] = "qmail-admin";
	argv[na++] = (char *)what;
	argv[na++] = (char *)verb;
	argv[na++] = (char *)arg;
	if (str_equal(what, "domain")) {
		if (w->domain != NULL) {
			replys(fd, 'P', "Only an administrator adds or deletes domains.");
			return;
		}
		if (!vpasswd_domain_ok(arg, strlen(arg)) || extra != 0)
			goto bad;
		if (str_equal(verb, "del"))
			argv[na++] = "--force";	/* the page asked for confirmation */
		else if (!str_equal(verb, "add"))
			goto bad;
	} else {
		if (!addr_ok(arg, 1))
			goto bad;
		at = strchr(arg, '@');
		if (!may(w, at + 1)) {
			logline("refused: ", w->login, " tried to change ", arg);
			replys(fd, 'P', "You may manage your own domain only.");
			return;
		}
		if (str_equal(what, "user")) {
			if (extra != 0)
				goto bad;
			if (str_equal(verb, "add") || str_equal(verb, "passwd"))
				need_pw = 1;
			else if (!str_equal(verb, "del"))
				goto bad;
			if (*quota) {
				if (!scan_ulong(quota, strlen(quota), &q) ||
				    str_equal(verb, "del"))
					goto bad;
				argv[na++] = "--quota";
				argv[na++] = (char *)quota;
			}
		} else if (str_equal(what, "alias") || str_equal(what, "list")) {
			if (str_equal(verb, "add")) {
				if (extra < 1)
					goto bad;
			} else if (!str_equal(verb, "del") ||
			    (str_equal(what, "alias") && extra != 0))
				goto bad;
			for (i = 0; i < extra; i++)
				if (!addr_ok(f[8 + i], 0))
					goto bad;
				else
					argv[na++] = (char *)f[8 + i];
		} else
			goto bad;
	}
	if (need_pw) {
		if (*pw == 0) {
			replys(fd, 'P', "A password is needed.");
			return;
		}
		argv[na++] = "--stdin";
	}
	argv[na] = NULL;
	rc = run_admin(argv, need_pw ? pw : NULL, &out, &err, &cut);
	/* the log says who did what; never the password */
	cat(&l, what);
	cat(&l, " ");
	cat(&l, verb);
	cat(&l, " ");
	cat(&l, arg);
	for (i = 0; i < extra; i++) {
		cat(&l, " ");
		cat(&l, f[8 + i]);
	}
	if (*quota) {
		cat(&l, " quota ");
		cat(&l, quota);
	}
	if (!str_nul(&l))
		die_nomem();
	logline(rc == 0 ? "change by " : "change refused for ", w->login, " from ", peer);
	logline("  ", l.s, rc == 0 ? "" : ": ", rc == 0 ? "" : (str_nul(&err), err.s));
	if (rc == 0)
		replys(fd, '0', "Done.");
	else if (rc == -1)
		replys(fd, 'T', "Unable to run qmail-admin.");
	else
		reply(fd, rc == 100 ? 'P' : 'T', err.s, err.len);
	str_free(&out);
	str_free(&err);
	str_free(&l);
	return;
bad:
	replys(fd, 'P', "Bad request: a name or address is not valid.");
}

/* log_open - dir/current for reading, or -1.  dir belongs to the log
 * user (multilog runs as qmaill), who could put a symbolic or hard link
 * to any file there: this process is root, so current must be no link
 * and a regular file of dir's owner. */
static int
log_open(const char *dir)
{
	struct stat ds, fs;
	int dfd, fd;

	if ((dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) == -1)
		return -1;
	fd = openat(dfd, "current", O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
	if (fd != -1 && (fstat(dfd, &ds) == -1 || fstat(fd, &fs) == -1 ||
	    !S_ISREG(fs.st_mode) || fs.st_uid != ds.st_uid)) {
		(void)close(fd);
		fd = -1;
	}
	(void)close(dfd);
	return fd;
}

/* do_queue - qmail-qstat's report, the oldest message's age and the
 * last lines of every service's log */
static void
do_queue(int fd)
{
	struct str res = STR_ZERO, p = STR_ZERO, t = STR_ZERO, err = STR_ZERO;
	char *argv[] = { "qmail-qstat", NULL };
	int io[2], fdv[3], status;
	char x[4096];
	long r;
	pid_t pid;
	DIR *dp, *sp;
	struct dirent *de, *se;
	struct stat st;
	time_t oldest = 0;
	int fdl, lines;
	off_t from;
	size_t i, start;

	if (pipe_cloexec(io) == -1)
		die_sys(EXIT_TEMP, "unable to make a pipe");
	fdv[0] = -1, fdv[1] = io[1], fdv[2] = io[1];
	pid = spawn("bin/qmail-qstat", argv, NULL, fdv, 3);
	(void)close(io[1]);	/* the child's copy stays */
	if (pid != -1) {
		while ((r = fd_read(io[0], x, sizeof x, 30)) > 0)
			if (res.len < 65536)
				catb(&res, x, (size_t)r);
		(void)spawn_wait(pid, &status);	/* its words say how it went */
	}
	(void)close(io[0]);
	catb(&res, "", 1);
	/* oldest message: the oldest file in queue/mess/ */
	if ((dp = opendir("queue/mess")) != NULL) {
		while ((de = readdir(dp)) != NULL) {
			if (de->d_name[0] == '.')
				continue;
			p.len = 0;
			cat(&p, "queue/mess/");
			cat(&p, de->d_name);
			if (!str_nul(&p))
				die_nomem();
			if ((sp = opendir(p.s)) == NULL)
				continue;
			start = p.len;
			while ((se = readdir(sp)) != NULL) {
				if (se->d_name[0] == '.')
					continue;
				p.len = start;
				cat(&p, "/");
				cat(&p, se->d_name);
				if (!str_nul(&p))
					die_nomem();
				if (stat(p.s, &st) == 0 &&
				    (oldest == 0 || st.st_mtime < oldest))
					oldest = st.st_mtime;
			}
			(void)closedir(sp);
		}
		(void)closedir(dp);
	}
	if (oldest != 0)
		catnum(&res, (unsigned long)(time(NULL) - oldest));
	catb(&res, "", 1);
	/* logs: log/NAME/current, the last 8 lines of its last 4 kB */
	if ((dp = opendir("log")) != NULL) {
		while ((de = readdir(dp)) != NULL) {
			if (de->d_name[0] == '.')
				continue;
			p.len = 0;
			cat(&p, "log/");
			cat(&p, de->d_name);
			if (!str_nul(&p))
				die_nomem();
			if ((fdl = log_open(p.s)) == -1)
				continue;
			t.len = 0;
			if (fstat(fdl, &st) == 0) {
				from = st.st_size > 4096 ? st.st_size - 4096 : 0;
				if (lseek(fdl, from, SEEK_SET) != -1 &&
				    (r = fd_read(fdl, x, sizeof x, 5)) > 0)
					catb(&t, x, (size_t)r);
			}
			(void)close(fdl);
			lines = 0;
			for (i = t.len; i > 0; i--)
				if (t.s[i - 1] == '\n' && i != t.len && ++lines == 8)
					break;
			catf(&res, de->d_name);
			catb(&res, t.s + i, t.len - i);
			catb(&res, "", 1);
		}
		(void)closedir(dp);
	}
	reply(fd, '0', res.s, res.len);
	str_free(&res);
	str_free(&p);
	str_free(&t);
	str_free(&err);
}

/* serve_root - the privileged half: one request, one answer, until the
 * web half hangs up */
static void
serve_root(int fd)
{
	struct str m = STR_ZERO;
	const char *f[ARGSMAX + 12];
	struct who w;
	int n, r;

	while ((r = ipc_recv(fd, &m, ASKMAX)) == 1) {
		n = fields(&m, f, (int)(sizeof f / sizeof f[0]));
		if (n < 1) {
			replys(fd, 'P', "bad request");
			continue;
		}
		if (str_equal(f[0], "login")) {
			do_login(fd, f, n);
			wipe(m.s, m.len);
			continue;
		}
		/* everything else: a session first */
		if (n < 2 || (r = session_get(f[1], &w)) != 1) {
			replys(fd, r == -1 ? 'T' : 'A', "Please sign in.");
			continue;
		}
		if (str_equal(f[0], "who"))
{
			struct str a = STR_ZERO;

			catf(&a, w.login);
			catb(&a, w.csrf, CSRFLEN);
			reply(fd, '0', a.s, a.len);
			str_free(&a);
		}
		else if (str_equal(f[0], "logout")) {
			struct str p = STR_ZERO;

			if (n == 3 && strlen(f[2]) == CSRFLEN &&
			    CRYPTO_memcmp(f[2], w.csrf, CSRFLEN) == 0 && session_path(&p, f[1]) &&
			    unlink(p.s) == 0) {
				logline("signed out: ", w.login, " from ", peer);
				replys(fd, '0', "Signed out.");
			} else
				replys(fd, 'P', "Bad request.");
			str_free(&p);
		} else if (str_equal(f[0], "do")) {
			if (n < 8 || strlen(f[2]) != CSRFLEN ||
			    CRYPTO_memcmp(f[2], w.csrf, CSRFLEN) != 0) {
				logline("refused: bad form token for ", w.login,
				    " from ", peer);
				replys(fd, 'P', "The form has expired; please try again.");
			} else
				do_change(fd, &w, f, n);
			wipe(m.s, m.len);
		} else if (str_equal(f[0], "queue") && n == 2) {
			if (w.domain != NULL)
				replys(fd, 'P', "Not allowed.");
			else
				do_queue(fd);
		} else if (str_equal(f[0], "users") || str_equal(f[0], "aliases") ||
		    str_equal(f[0], "lists"))
			do_list(fd, &w, f, n);
		else
			do_read(fd, &w, f, n);
	}
	str_free(&m);
	if (r == -1)
		die(EXIT_TEMP, "bad request from the web half");
}

/* ===================================================================
 * the web half: HTTP on fds 0 and 1, as qmaild
 * =================================================================== */

struct web {
	int ipc;
	int tls;
	const char *me;		/* control/me */
	struct http_req req;
	const char *body;
	size_t bodylen;
	char token[TOKENLEN + 1];	/* from the cookie, "" none */
	char login[VPASSWD_USERMAX + VPASSWD_DOMAINMAX + 2];
	char csrf[CSRFLEN + 1];
	int admin;		/* signed in as an administrator */
	unsigned long retry;	/* a Retry-After, 0 none */
};

/* ask - a request to the privileged half; the answer's status char
 ('0' done, 'A' sign in first, 'P' refused, 'T' trouble), its text in out */
static char
ask(struct web *wb, const char *const *f, int n, struct str *out)
{
	struct str m = STR_ZERO;
	char status;
	int i;

	for (i = 0; i < n; i++)
		catf(&m, f[i]);
	if (!ipc_send(wb->ipc, &m) || ipc_recv(wb->ipc, out, IPCMAX) != 1 ||
	    out->len < 2 || out->s[1] != 0)
		die(EXIT_TEMP, "the privileged half is gone");
	wipe(m.s, m.len);
	str_free(&m);
	status = out->s[0];
	memmove(out->s, out->s + 2, out->len - 2);
	out->len -= 2;
	out->s[out->len] = 0;
	return status;
}

/* esc - s[0..n) escaped for HTML text and quoted attribute values */
static void
escb(struct str *o, const char *s, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		switch (s[i]) {
		case '&': cat(o, "&amp;"); break;
		case '<': cat(o, "&lt;"); break;
		case '>': cat(o, "&gt;"); break;
		case '"': cat(o, "&quot;"); break;
		case '\'': cat(o, "&#39;"); break;
		default:
			if ((unsigned char)s[i] < 0x20 && s[i] != '\n')
				cat(o, "?");
			else
				catb(o, s + i, 1);
		}
}

static void
esc(struct str *o, const char *s)
{
	escb(o, s, strlen(s));
}

/* urlenc - s for a query string value (names and addresses only) */
static void
urlenc(struct str *o, const char *s)
{
	static const char hex[] = "0123456789ABCDEF";
	char e[3];

	for (; *s; s++)
		if ((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') ||
		    (*s >= '0' && *s <= '9') || strchr(".-_@", *s))
			catb(o, s, 1);
		else {
			e[0] = '%';
			e[1] = hex[(unsigned char)*s >> 4];
			e[2] = hex[*s & 15];
			catb(o, e, 3);
		}
}

static const char css[] =
	"*{box-sizing:border-box}"
	"body{font-family:system-ui,sans-serif;margin:0;background:#f4f5f7;color:#222}"
	"header{background:#1d3557;color:#fff;padding:.6em 1em;display:flex;"
	"flex-wrap:wrap;gap:1em;align-items:center}"
	"header a,header button{color:#fff;background:none;border:0;font:inherit;"
	"cursor:pointer;text-decoration:underline;padding:0}"
	"header b{margin-right:auto}"
	"main{max-width:52em;margin:1em auto;padding:0 .8em}"
	"section{background:#fff;border-radius:6px;padding:.8em 1em;margin-bottom:1em;"
	"box-shadow:0 1px 2px #0002}"
	"h1{font-size:1.3em}h2{font-size:1.1em;margin:1em 0 .4em}"
	"h3{font-size:1em;margin:.6em 0 .2em}.pager{margin:.6em 0}"
	"section h2:first-child{margin-top:0}"
	"table{border-collapse:collapse;width:100%}"
	"td,th{text-align:left;padding:.3em;border-bottom:1px solid #ddd;vertical-align:top}"
	"input{font:inherit;padding:.3em;margin:.15em 0;max-width:100%}"
	"button{font:inherit;padding:.3em .8em;margin:.15em 0}"
	"form.inline{display:inline}"
	".msg{padding:.6em 1em;border-radius:6px;margin-bottom:1em;background:#e7f5e9}"
	".err{background:#fde8e8}"
	".warn{background:#fff3cd;padding:.5em 1em;text-align:center}"
	"pre{white-space:pre-wrap;word-break:break-all;font-size:.85em;margin:0}"
	"label{display:block;margin:.3em 0}"
	"td{overflow-wrap:break-word}"
	"@media (max-width:40em){table,tbody,tr,td,th{display:block}"
	"tr:first-child{display:none}td{border:0;padding:.15em 0}"
	"tr{border-bottom:1px solid #ddd;padding:.4em 0}}";

struct page {
	struct str h;	/* the HTML */
	int status;
	const char *setcookie;	/* a Set-Cookie value, or NULL */
	const char *location;	/* 303 to here */
	const char *ctype;
};

static void
page_start(struct web *wb, struct page *pg, const char *title)
{
	cat(&pg->h, "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
	    "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
	    "<title>");
	esc(&pg->h, title);
	cat(&pg->h, " - lanmail</title><style>");
	cat(&pg->h, css);
	cat(&pg->h, "</style></head><body>");
	if (!wb->tls)
		cat(&pg->h, "<div class=\"warn\">This connection is not encrypted: "
		    "use it only on this machine or a network you trust.</div>");
	cat(&pg->h, "<header><b>lanmail ");
	esc(&pg->h, wb->me);
	cat(&pg->h, "</b>");
	if (wb->login[0]) {
		cat(&pg->h, "<a href=\"/domains\">Domains</a>");
		if (wb->admin)
			cat(&pg->h, "<a href=\"/queue\">Queue and logs</a>");
		cat(&pg->h, "<span>");
		esc(&pg->h, wb->login);
		cat(&pg->h, "</span><form class=\"inline\" method=\"post\" action=\"/logout\">"
		    "<input type=\"hidden\" name=\"csrf\" value=\"");
		esc(&pg->h, wb->csrf);
		cat(&pg->h, "\"><button id=\"signout\">Sign out</button></form>");
	}
	cat(&pg->h, "</header><main><h1>");
	esc(&pg->h, title);
	cat(&pg->h, "</h1>");
}

static void
page_msg(struct page *pg, char status, const char *text)
{
	if (text == NULL || *text == 0)
		return;
	cat(&pg->h, status == '0' ? "<div class=\"msg\" id=\"msg\">" :
	    "<div class=\"msg err\" id=\"msg\">");
	esc(&pg->h, text);
	cat(&pg->h, "</div>");
}

/* listed - 1 when an answer st, text is a listing to show (with a
 * notice when it was cut), 0 when it is a refusal, shown instead */
static int
listed(struct page *pg, char st, const char *text)
{
	if (st == 'C')
		page_msg(pg, st, "This list is too long to show whole: "
		    "only its first part is shown here.");
	else if (st != '0') {
		page_msg(pg, st, text);
		return 0;
	}
	return 1;
}

static void
hidden(struct page *pg, const char *name, const char *value)
{
	cat(&pg->h, "<input type=\"hidden\" name=\"");
	cat(&pg->h, name);
	cat(&pg->h, "\" value=\"");
	esc(&pg->h, value);
	cat(&pg->h, "\">");
}

static void
form_start(struct web *wb, struct page *pg, const char *action, const char *cls)
{
	cat(&pg->h, "<form method=\"post\" action=\"");
	cat(&pg->h, action);
	cat(&pg->h, "\"");
	if (cls) {
		cat(&pg->h, " class=\"");
		cat(&pg->h, cls);
		cat(&pg->h, "\"");
	}
	cat(&pg->h, ">");
	hidden(pg, "csrf", wb->csrf);
}

/* respond - the whole response in one write, then the connection ends */
static void
respond(struct web *wb, struct page *pg)
{
	struct str r = STR_ZERO;
	static const char *const reason[] = { "200 OK", "303 See Other",
	    "400 Bad Request", "403 Forbidden", "404 Not Found",
	    "405 Method Not Allowed", "413 Content Too Large",
	    "503 Service Unavailable", "408 Request Timeout",
	    "431 Request Header Fields Too Large", "429 Too Many Requests", NULL };
	char num[4];
	int i;

	if (pg->location == NULL && pg->ctype == NULL)
		cat(&pg->h, "</main></body></html>\n");
	num[0] = (char)('0' + pg->status / 100);
	num[1] = (char)('0' + pg->status / 10 % 10);
	num[2] = (char)('0' + pg->status % 10);
	num[3] = 0;
	for (i = 0; reason[i] && strncmp(reason[i], num, 3) != 0; i++)
		;
	cat(&r, "HTTP/1.1 ");
	cat(&r, reason[i] ? reason[i] : "500 Internal Server Error");
	cat(&r, "\r\nConnection: close\r\nCache-Control: no-store\r\n"
	    "X-Content-Type-Options: nosniff\r\nX-Frame-Options: DENY\r\n"
	    "Referrer-Policy: no-referrer\r\n"
	    "Content-Security-Policy: default-src 'none'; style-src 'unsafe-inline';"
	    " form-action 'self'; frame-ancestors 'none'\r\n");
	if (wb->tls)
		cat(&r, "Strict-Transport-Security: max-age=31536000\r\n");
	if (pg->location) {
		cat(&r, "Location: ");
		cat(&r, pg->location);
		cat(&r, "\r\n");
	}
	if (wb->retry) {
		cat(&r, "Retry-After: ");
		catnum(&r, wb->retry);
		cat(&r, "\r\n");
	}
	if (pg->setcookie) {
		cat(&r, "Set-Cookie: ");
		cat(&r, pg->setcookie);
		cat(&r, "\r\n");
	}
	cat(&r, "Content-Type: ");
	cat(&r, pg->ctype ? pg->ctype : "text/html; charset=utf-8");
	cat(&r, "\r\nContent-Length: ");
	catnum(&r, (unsigned long)pg->h.len);
	cat(&r, "\r\n\r\n");
	if (wb->req.method != HTTP_HEAD)
		catb(&r, pg->h.s, pg->h.len);
	(void)fd_writeall(1, r.s, r.len, REQTIME);	/* the client may be gone: nothing to do */
	str_free(&r);
	str_free(&pg->h);
	_exit(0);
}

static void
fail(struct web *wb, int status, const char *text)
{
	struct page pg = { STR_ZERO, 0, NULL, NULL, "text/plain; charset=utf-8" };

	pg.status = status;
	cat(&pg.h, text);
	cat(&pg.h, "\n");
	respond(wb, &pg);
}

/* param - a form (POST) or query (GET) value; "" when absent; a
 * malformed one is a 400 */
static void
param(struct web *wb, const char *name, char *out, size_t size)
{
	int r;

	if (wb->req.method == HTTP_POST)
		r = http_param(wb->body, wb->bodylen, name, out, size);
	else if (wb->req.query)
		r = http_param(wb->req.query, wb->req.querylen, name, out, size);
	else
		r = 0;
	if (r == -1)
		fail(wb, 400, "bad form field");
	if (r == 0)
		out[0] = 0;
}

static void
lower(char *s)
{
	for (; *s; s++)
		if (*s >= 'A' && *s <= 'Z')
			*s = (char)(*s + 32);
}

static void
set_session_cookie(struct web *wb, struct page *pg, struct str *c,
    const char *token, unsigned long age)
{
	cat(c, "lm_s=");
	cat(c, token);
	cat(c, "; Path=/; HttpOnly; SameSite=Strict; Max-Age=");
	catnum(c, age);
	if (wb->tls)
		cat(c, "; Secure");
	if (!str_nul(c))
		die_nomem();
	pg->setcookie = c->s;
}

/* page_login - the sign-in form, with a fresh pre-session token kept in
 * a cookie and in the form (double submit); status 'L' (too many
 * failures) makes it a 429 */
static void
page_login(struct web *wb, char status, const char *msg)
{
	struct page pg = { STR_ZERO, 200, NULL, NULL, NULL };
	struct str c = STR_ZERO;
	char pre[CSRFLEN + 1];

	if (status == 'L')
		pg.status = 429;
	randhex(pre, CSRFLEN / 2);
	cat(&c, "lm_pre=");
	cat(&c, pre);
	cat(&c, "; Path=/login; HttpOnly; SameSite=Strict; Max-Age=3600");
	if (wb->tls)
		cat(&c, "; Secure");
	if (!str_nul(&c))
		die_nomem();
	pg.setcookie = c.s;
	wb->login[0] = 0;
	page_start(wb, &pg, "Sign in");
	page_msg(&pg, status, msg);
	cat(&pg.h, "<section><form method=\"post\" action=\"/login\">");
	hidden(&pg, "csrf", pre);
	cat(&pg.h, "<label>Login (administrator, or postmaster@your.domain)<br>"
	    "<input name=\"user\" id=\"user\" autocomplete=\"username\" required></label>"
	    "<label>Password<br><input type=\"password\" name=\"password\" id=\"password\" "
	    "autocomplete=\"current-password\" required></label>"
	    "<label>Code from your authenticator app (when turned on)<br>"
	    "<input name=\"code\" id=\"code\" inputmode=\"numeric\" autocomplete=\"one-time-code\" "
	    "maxlength=\"6\"></label>"
	    "<button id=\"signin\">Sign in</button></form></section>");
	respond(wb, &pg);
}

static void
redirect(struct web *wb, const char *to)
{
	struct page pg = { STR_ZERO, 303, NULL, NULL, "text/plain; charset=utf-8" };

	pg.location = to;
	respond(wb, &pg);
}

static void
do_login_post(struct web *wb)
{
	char user[300], pw[VPASSWD_PASSMAX + 1], code[16], csrf[CSRFLEN + 4];
	const char *f[4], *v;
	struct str out = STR_ZERO, c = STR_ZERO;
	struct page pg = { STR_ZERO, 303, NULL, "/domains", "text/plain; charset=utf-8" };
	size_t vn, k;
	unsigned long secs;
	char st;

	param(wb, "csrf", csrf, sizeof csrf);
	if (wb->req.cookie == NULL ||
	    !http_cookie(wb->req.cookie, wb->req.cookielen, "lm_pre", &v, &vn) ||
	    vn != CSRFLEN || strlen(csrf) != CSRFLEN ||
	    CRYPTO_memcmp(v, csrf, CSRFLEN) != 0)
		page_login(wb, 'P', "The form has expired; please sign in again.");
	param(wb, "user", user, sizeof user);
	param(wb, "password", pw, sizeof pw);
	param(wb, "code", code, sizeof code);
	f[0] = "login", f[1] = user, f[2] = pw, f[3] = code;
	st = ask(wb, f, 4, &out);
	wipe(pw, sizeof pw);
	if (st == 'L') {	/* seconds NUL message */
		k = strlen(out.s);
		if (k == out.len || !scan_ulong(out.s, k, &secs) || secs == 0)
			fail(wb, 503, "unexpected answer");
		wb->retry = secs;
		page_login(wb, st, out.s + k + 1);
	}
	if (st != '0')
		page_login(wb, st, out.s);
	/* token NUL csrf NUL login */
	k = strlen(out.s);
	if (k != TOKENLEN)
		fail(wb, 503, "unexpected answer");
	set_session_cookie(wb, &pg, &c, out.s, session_life);
	respond(wb, &pg);
}

/* whoami - the session from the cookie: 1 signed in, 0 not */
static int
whoami(struct web *wb)
{
	const char *v, *f[2];
	size_t vn, k;
	struct str out = STR_ZERO;

	wb->login[0] = 0;
	if (wb->req.cookie == NULL ||
	    !http_cookie(wb->req.cookie, wb->req.cookielen, "lm_s", &v, &vn) ||
	    vn != TOKENLEN)
		return 0;
	memcpy(wb->token, v, TOKENLEN);
	wb->token[TOKENLEN] = 0;
	if (!hexstr(wb->token, TOKENLEN))
		return 0;
	f[0] = "who", f[1] = wb->token;
	if (ask(wb, f, 2, &out) != '0')
		return 0;
	k = strlen(out.s);
	if (k == 0 || k >= sizeof wb->login || out.len != k + 1 + CSRFLEN)
		return 0;
	memcpy(wb->login, out.s, k + 1);
	memcpy(wb->csrf, out.s + k + 1, CSRFLEN);
	wb->csrf[CSRFLEN] = 0;
	wb->admin = strchr(wb->login, '@') == NULL;
	str_free(&out);
	return 1;
}

static void
human(struct str *o, unsigned long b)
{
	if (b >= 10UL * 1024 * 1024) {
		catnum(o, b / (1024 * 1024));
		cat(o, " MB");
	} else if (b >= 10UL * 1024) {
		catnum(o, b / 1024);
		cat(o, " kB");
	} else {
		catnum(o, b);
		cat(o, " bytes");
	}
}

/* field_value - "key=N" in line l[0..n): 1 found */
static int
field_value(const char *l, size_t n, const char *key, unsigned long *v)
{
	size_t kl = strlen(key), i, e;

	for (i = 0; i + kl < n; i++)
		if ((i == 0 || l[i - 1] == ' ') && memcmp(l + i, key, kl) == 0) {
			for (e = i + kl; e < n && l[e] != ' '; e++)
				;
			return scan_ulong(l + i + kl, e - i - kl, v);
		}
	return 0;
}

static void
page_domains(struct web *wb, char status, const char *msg)
{
	struct page pg = { STR_ZERO, 200, NULL, NULL, NULL };
	struct str out = STR_ZERO, d = STR_ZERO;
	const char *f[2];
	size_t pos, e;
	char st;
	int ok;

	f[0] = "domains", f[1] = wb->token;
	st = ask(wb, f, 2, &out);
	page_start(wb, &pg, "Domains");
	page_msg(&pg, status, msg);
	ok = listed(&pg, st, out.s);
	cat(&pg.h, "<section><table id=\"domains\"><tr><th>Domain</th><th></th></tr>");
	for (pos = 0; ok && pos < out.len; pos += e + 1) {
		e = str_chrb(out.s + pos, out.len - pos, '\n');
		if (e == 0)
			continue;
		d.len = 0;
		catb(&d, out.s + pos, e);
		if (!str_nul(&d))
			die_nomem();
		cat(&pg.h, "<tr><td><a href=\"/domain?d=");
		urlenc(&pg.h, d.s);
		cat(&pg.h, "\">");
		esc(&pg.h, d.s);
		cat(&pg.h, "</a></td><td>");
		if (wb->admin) {
			cat(&pg.h, "<a href=\"/domain/del?d=");
			urlenc(&pg.h, d.s);
			cat(&pg.h, "\">delete…</a>");
		}
		cat(&pg.h, "</td></tr>");
	}
	cat(&pg.h, "</table></section>");
	if (wb->admin) {
		cat(&pg.h, "<section><h2>Add a domain</h2>");
		form_start(wb, &pg, "/domain/add", NULL);
		cat(&pg.h, "<input name=\"d\" id=\"newdomain\" placeholder=\"example.org\" required> "
		    "<button id=\"adddomain\">Add</button></form></section>");
	}
	str_free(&out);
	str_free(&d);
	respond(wb, &pg);
}

/* A domain's page shows one page of each listing, PAGEROWS rows at
 * most, of the names that hold a search: the query (or, after a change,
 * the form) says which, "q" the search, "p", "pa" and "pl" the pages of
 * mailboxes, aliases and lists, 1 the first. */
enum { MAILBOXES, ALIASES, LISTS, KINDS };

static const struct kind {
	const char *ask;	/* the privileged half's name for it */
	const char *key;	/* its page in the query */
	const char *title, *table, *head;
	const char *del;	/* a row's delete form */
} kinds[KINDS] = {
	{ "users", "p", "Mailboxes", "mailboxes",
	    "<th>Address</th><th>Use</th><th></th>", "/user/del" },
	{ "aliases", "pa", "Aliases", "aliases",
	    "<th>Alias</th><th>Goes to</th><th></th>", "/alias/del" },
	{ "lists", "pl", "Lists", "lists",
	    "<th>List</th><th>Members</th><th></th>", "/list/del" },
};

struct view {
	char q[SEARCHMAX + 1];	/* lower case, "" none */
	unsigned long page[KINDS];
};

/* view_read - the search and pages asked for; a malformed page number
 * is a 400, one past the last shows the last (ULONG_MAX here when
 * its digits overflow) */
static void
view_read(struct web *wb, struct view *v)
{
	char x[24];
	int k;

	param(wb, "q", v->q, sizeof v->q);
	lower(v->q);
	for (k = 0; k < KINDS; k++) {
		param(wb, kinds[k].key, x, sizeof x);
		if (x[0] == 0)
			v->page[k] = 1;
		else if (!scan_ulong(x, strlen(x), &v->page[k])) {
			if (errno != ERANGE)
				fail(wb, 400, "bad page number");
			v->page[k] = (unsigned long)-1;
		}
	}
}

/* view_hidden - the view as hidden fields of a form that changes a row:
 * the page after the change is the same page */
static void
view_hidden(struct page *pg, const struct view *v)
{
	char x[FMT_ULONG];
	int k;

	if (v->q[0])
		hidden(pg, "q", v->q);
	for (k = 0; k < KINDS; k++)
		if (v->page[k] != 1) {
			x[fmt_ulong(x, v->page[k])] = 0;
			hidden(pg, kinds[k].key, x);
		}
}

/* view_link - an <a> to the domain page of view v with listing kind on
 * page to, its text text */
static void
view_link(struct page *pg, const char *d, const struct view *v, int kind,
    unsigned long to, const char *rel, const char *text)
{
	unsigned long p;
	int k;

	cat(&pg->h, "<a rel=\"");
	cat(&pg->h, rel);
	cat(&pg->h, "\" href=\"/domain?d=");
	urlenc(&pg->h, d);
	if (v->q[0]) {
		cat(&pg->h, "&amp;q=");
		urlenc(&pg->h, v->q);
	}
	for (k = 0; k < KINDS; k++)
		if ((p = k == kind ? to : v->page[k]) != 1) {
			cat(&pg->h, "&amp;");
			cat(&pg->h, kinds[k].key);
			cat(&pg->h, "=");
			catnum(&pg->h, p);
		}
	cat(&pg->h, "#s-");
	cat(&pg->h, kinds[kind].table);
	cat(&pg->h, "\">");
	cat(&pg->h, text);
	cat(&pg->h, "</a> ");
}

/* listing - a listing's answer (see do_list): its status, the count of
 * names and the page shown, out left holding only the rows */
struct listing {
	char st;
	unsigned long total, page;
	struct str out;
};

static void
listing_get(struct web *wb, const char *d, const struct view *v, int kind,
    struct listing *ls)
{
	char x[FMT_ULONG];
	const char *f[5];
	size_t e, sp;

	x[fmt_ulong(x, v->page[kind])] = 0;
	f[0] = kinds[kind].ask, f[1] = wb->token, f[2] = d, f[3] = x, f[4] = v->q;
	ls->total = 0, ls->page = 1;
	ls->st = ask(wb, f, 5, &ls->out);
	if (ls->st != '0' && ls->st != 'C')
		return;
	e = str_chrb(ls->out.s, ls->out.len, '\n');
	sp = str_chrb(ls->out.s, e, ' ');
	if (e == ls->out.len || sp == e || !scan_ulong(ls->out.s, sp, &ls->total) ||
	    !scan_ulong(ls->out.s + sp + 1, e - sp - 1, &ls->page) || ls->page == 0 ||
	    ls->page > page_count(ls->total))
		fail(wb, 503, "unexpected answer");
	memmove(ls->out.s, ls->out.s + e + 1, ls->out.len - e - 1);
	ls->out.len -= e + 1;
	ls->out.s[ls->out.len] = 0;
}

/* pager - where this page is in the listing, and links to the first,
 * previous, next and last pages */
static void
pager(struct page *pg, const char *d, const struct view *v, int kind,
    const struct listing *ls)
{
	unsigned long pages = page_count(ls->total);

	if (ls->total == 0) {
		cat(&pg->h, v->q[0] ? "<p>None of these names holds &ldquo;" :
		    "<p>None yet.");
		if (v->q[0]) {
			esc(&pg->h, v->q);
			cat(&pg->h, "&rdquo;.");
		}
		cat(&pg->h, "</p>");
		return;
	}
	cat(&pg->h, "<p class=\"pager\">");
	catnum(&pg->h, (ls->page - 1) * PAGEROWS + 1);
	cat(&pg->h, " to ");
	catnum(&pg->h, ls->page == pages ? ls->total : ls->page * PAGEROWS);
	cat(&pg->h, " of ");
	catnum(&pg->h, ls->total);
	if (pages > 1) {
		cat(&pg->h, " (page ");
		catnum(&pg->h, ls->page);
		cat(&pg->h, " of ");
		catnum(&pg->h, pages);
		cat(&pg->h, ") ");
	}
	if (ls->page > 1) {
		view_link(pg, d, v, kind, 1, "first", "&laquo; First");
		view_link(pg, d, v, kind, ls->page - 1, "prev", "&lsaquo; Previous");
	}
	if (ls->page < pages) {
		view_link(pg, d, v, kind, ls->page + 1, "next", "Next &rsaquo;");
		view_link(pg, d, v, kind, pages, "last", "Last &raquo;");
	}
	cat(&pg->h, "</p>");
}

static void
mailbox_row(struct web *wb, struct page *pg, const char *d, const struct view *v,
    const char *l, size_t n)
{
	size_t sp = str_chrb(l, n, ' ');
	unsigned long quota = 0, size = 0, msgs = 0;
	struct str a = STR_ZERO;

	catb(&a, l, sp);
	if (!str_nul(&a))
		die_nomem();
	(void)field_value(l, n, "quota=", &quota);	/* absent: none */
	cat(&pg->h, "<tr><td>");
	esc(&pg->h, a.s);
	cat(&pg->h, "</td><td>");
	if (field_value(l, n, "size=", &size) && field_value(l, n, "messages=", &msgs)) {
		human(&pg->h, size);
		cat(&pg->h, " in ");
		catnum(&pg->h, msgs);
		cat(&pg->h, " messages");
	} else
		cat(&pg->h, "unknown (no Maildir?)");
	if (quota) {
		cat(&pg->h, " of ");
		human(&pg->h, quota);
		cat(&pg->h, " (");
		catnum(&pg->h, (unsigned long)((double)size * 100 / (double)quota));
		cat(&pg->h, "%)");
	}
	cat(&pg->h, "</td><td>");
	form_start(wb, pg, "/user/passwd", "inline");
	hidden(pg, "d", d);
	hidden(pg, "a", a.s);
	view_hidden(pg, v);
	cat(&pg->h, "<input type=\"password\" name=\"password\" placeholder=\"new password\" "
	    "autocomplete=\"new-password\" required> <button>Set password</button></form> ");
	form_start(wb, pg, "/user/del", "inline");
	hidden(pg, "d", d);
	hidden(pg, "a", a.s);
	view_hidden(pg, v);
	cat(&pg->h, "<label><input type=\"checkbox\" name=\"confirm\" value=\"yes\" required> "
	    "sure</label><button>Delete with its mail</button></form></td></tr>");
	str_free(&a);
}

static void
forward_rows(struct web *wb, struct page *pg, const char *d, const struct view *v,
    const struct str *out, const char *delaction, int members)
{
	size_t pos, e, colon;
	struct str a = STR_ZERO;

	for (pos = 0; pos < out->len; pos += e + 1) {
		e = str_chrb(out->s + pos, out->len - pos, '\n');
		colon = str_chrb(out->s + pos, e, ':');
		if (colon == e)
			continue;
		a.len = 0;
		catb(&a, out->s + pos, colon);
		if (!str_nul(&a))
			die_nomem();
		cat(&pg->h, "<tr><td>");
		esc(&pg->h, a.s);
		cat(&pg->h, "</td><td>");
		escb(&pg->h, out->s + pos + colon + 1, e - colon - 1);
		cat(&pg->h, "</td><td>");
		form_start(wb, pg, delaction, "inline");
		hidden(pg, "d", d);
		hidden(pg, "a", a.s);
		view_hidden(pg, v);
		if (members)
			cat(&pg->h, "<input name=\"to\" placeholder=\"members to remove (empty: all)\"> ");
		cat(&pg->h, "<button>Delete</button></form></td></tr>");
	}
	str_free(&a);
}

/* add_form - the form that adds a mailbox, an alias or a list */
static void
add_form(struct web *wb, struct page *pg, const char *d, int kind)
{
	static const char *const action[KINDS] = { "/user/add", "/alias/add", "/list/add" };

	form_start(wb, pg, action[kind], NULL);
	hidden(pg, "d", d);
	switch (kind) {
	case MAILBOXES:
		cat(&pg->h, "<h3>Add a mailbox</h3><label>Name<br>"
		    "<input name=\"u\" id=\"newuser\" required> @");
		esc(&pg->h, d);
		cat(&pg->h, "</label><label>Password<br><input type=\"password\" name=\"password\" "
		    "id=\"newpassword\" autocomplete=\"new-password\" required></label>"
		    "<label>Quota in MB (empty: none)<br><input name=\"quota\" id=\"newquota\" "
		    "inputmode=\"numeric\"></label><button id=\"adduser\">Add mailbox</button></form>");
		break;
	case ALIASES:
		cat(&pg->h, "<h3>Add an alias</h3><label>Alias<br>"
		    "<input name=\"u\" id=\"newalias\" required> @");
		esc(&pg->h, d);
		cat(&pg->h, "</label><label>Goes to (addresses, separated by spaces)<br>"
		    "<input name=\"to\" id=\"aliasto\" size=\"40\" required></label>"
		    "<button id=\"addalias\">Add alias</button></form>");
		break;
	default:
		cat(&pg->h, "<h3>Add a list, or members to one</h3><label>List<br>"
		    "<input name=\"u\" id=\"newlist\" required> @");
		esc(&pg->h, d);
		cat(&pg->h, "</label><label>Members (separated by spaces)<br>"
		    "<input name=\"to\" id=\"listto\" size=\"40\" required></label>"
		    "<button id=\"addlist\">Add members</button></form>");
	}
}

/* section - a listing's section: its heading, what the privileged half
 * said when it refused, the form that adds one (above the rows, so that
 * no page of them is in its way), then the page of rows between two
 * pagers */
static void
section(struct web *wb, struct page *pg, const char *d, const struct view *v,
    int kind, const struct listing *ls)
{
	const struct kind *k = &kinds[kind];
	size_t pos, e;
	int ok;

	cat(&pg->h, "<section id=\"s-");
	cat(&pg->h, k->table);
	cat(&pg->h, "\"><h2>");
	cat(&pg->h, k->title);
	cat(&pg->h, "</h2>");
	ok = listed(pg, ls->st, ls->out.s);
	add_form(wb, pg, d, kind);
	if (ok)
		pager(pg, d, v, kind, ls);
	cat(&pg->h, "<table id=\"");
	cat(&pg->h, k->table);
	cat(&pg->h, "\"><tr>");
	cat(&pg->h, k->head);
	cat(&pg->h, "</tr>");
	if (ok && kind == MAILBOXES)
		for (pos = 0; pos < ls->out.len; pos += e + 1) {
			e = str_chrb(ls->out.s + pos, ls->out.len - pos, '\n');
			if (e > 0)
				mailbox_row(wb, pg, d, v, ls->out.s + pos, e);
		}
	else if (ok)
		forward_rows(wb, pg, d, v, &ls->out, k->del, kind == LISTS);
	cat(&pg->h, "</table>");
	if (ok && ls->total > PAGEROWS)
		pager(pg, d, v, kind, ls);
	cat(&pg->h, "</section>");
}

static void
page_domain(struct web *wb, const char *d, struct view *v, char status, const char *msg)
{
	struct page pg = { STR_ZERO, 200, NULL, NULL, NULL };
	struct listing ls[KINDS];
	struct str t = STR_ZERO;
	int k;

	if (!vpasswd_domain_ok(d, strlen(d)))
		fail(wb, 404, "no such domain");
	/* the pages shown, brought within range, are the view of every link */
	for (k = 0; k < KINDS; k++) {
		ls[k].out = (struct str)STR_ZERO;
		listing_get(wb, d, v, k, &ls[k]);
		v->page[k] = ls[k].page;
	}
	cat(&t, "Domain ");
	cat(&t, d);
	if (!str_nul(&t))
		die_nomem();
	page_start(wb, &pg, t.s);
	page_msg(&pg, status, msg);

	/* find: a GET form, so no token; the search echoed escaped */
	cat(&pg.h, "<section><form method=\"get\" action=\"/domain\">");
	hidden(&pg, "d", d);
	cat(&pg.h, "<label>Find mailboxes, aliases and lists by a part of their name<br>"
	    "<input type=\"search\" name=\"q\" id=\"q\" maxlength=\"64\" value=\"");
	esc(&pg.h, v->q);
	cat(&pg.h, "\"></label><button id=\"find\">Find</button>");
	if (v->q[0]) {
		cat(&pg.h, " <a href=\"/domain?d=");
		urlenc(&pg.h, d);
		cat(&pg.h, "\">Show all</a>");
	}
	cat(&pg.h, "</form><p>");
	for (k = 0; k < KINDS; k++) {
		cat(&pg.h, "<a href=\"#s-");
		cat(&pg.h, kinds[k].table);
		cat(&pg.h, "\">");
		cat(&pg.h, kinds[k].title);
		cat(&pg.h, "</a> (");
		catnum(&pg.h, ls[k].total);
		cat(&pg.h, k < KINDS - 1 ? ") &middot; " : ")");
	}
	cat(&pg.h, "</p></section>");
	for (k = 0; k < KINDS; k++) {
		section(wb, &pg, d, v, k, &ls[k]);
		str_free(&ls[k].out);
	}
	str_free(&t);
	respond(wb, &pg);
}

static void
page_domain_del(struct web *wb, const char *d)
{
	struct page pg = { STR_ZERO, 200, NULL, NULL, NULL };

	if (!vpasswd_domain_ok(d, strlen(d)))
		fail(wb, 404, "no such domain");
	page_start(wb, &pg, "Delete a domain");
	cat(&pg.h, "<section><p>Delete <b>");
	esc(&pg.h, d);
	cat(&pg.h, "</b> with every mailbox, all their mail, every alias and list? "
	    "This cannot be undone.</p>");
	form_start(wb, &pg, "/domain/del", NULL);
	hidden(&pg, "d", d);
	hidden(&pg, "confirm", "yes");
	cat(&pg.h, "<button id=\"confirmdel\">Yes, delete it</button> "
	    "<a href=\"/domains\">No, keep it</a></form></section>");
	respond(wb, &pg);
}

static void
page_queue(struct web *wb)
{
	struct page pg = { STR_ZERO, 200, NULL, NULL, NULL };
	struct str out = STR_ZERO;
	const char *f[2];
	size_t pos, e, k;
	unsigned long age;
	char st;

	f[0] = "queue", f[1] = wb->token;
	st = ask(wb, f, 2, &out);
	page_start(wb, &pg, "Queue and logs");
	if (st != '0') {
		page_msg(&pg, st, out.s);
		respond(wb, &pg);
	}
	/* qstat NUL oldest NUL (name NUL lines NUL)* */
	cat(&pg.h, "<section><h2>Queue</h2><pre id=\"qstat\">");
	pos = strlen(out.s);
	escb(&pg.h, out.s, pos);
	cat(&pg.h, "</pre><p id=\"oldest\">");
	pos++;
	if (pos < out.len && (e = strlen(out.s + pos)) > 0 &&
	    scan_ulong(out.s + pos, e, &age)) {
		cat(&pg.h, "Oldest message: ");
		if (age >= 86400) {
			catnum(&pg.h, age / 86400);
			cat(&pg.h, " days ");
		}
		catnum(&pg.h, age % 86400 / 3600);
		cat(&pg.h, " h ");
		catnum(&pg.h, age % 3600 / 60);
		cat(&pg.h, " min old.");
		pos += e;
	} else
		cat(&pg.h, "The queue is empty.");
	pos++;
	cat(&pg.h, "</p></section>");
	while (pos < out.len) {
		k = strlen(out.s + pos);
		cat(&pg.h, "<section><h2>Log: ");
		escb(&pg.h, out.s + pos, k);
		cat(&pg.h, "</h2><pre>");
		pos += k + 1;
		if (pos > out.len)
			break;
		k = strlen(out.s + pos);
		escb(&pg.h, out.s + pos, k);
		cat(&pg.h, "</pre></section>");
		pos += k + 1;
	}
	str_free(&out);
	respond(wb, &pg);
}

/* change - one POST that changes something; the domain page (or the
 * domain list) again, with the outcome */
static void
change(struct web *wb, const char *what, const char *verb)
{
	char d[VPASSWD_DOMAINMAX + 1], u[VPASSWD_USERMAX + 1], a[400];
	char pw[VPASSWD_PASSMAX + 1], quota[24], to[4096], csrf[CSRFLEN + 4], conf[8];
	const char *f[ARGSMAX + 8];
	struct str out = STR_ZERO, arg = STR_ZERO, q = STR_ZERO;
	struct view v;
	unsigned long mb;
	char st, *p, *tok;
	int n = 0;

	param(wb, "csrf", csrf, sizeof csrf);
	param(wb, "d", d, sizeof d);
	param(wb, "u", u, sizeof u);
	param(wb, "a", a, sizeof a);
	param(wb, "password", pw, sizeof pw);
	param(wb, "quota", quota, sizeof quota);
	param(wb, "to", to, sizeof to);
	param(wb, "confirm", conf, sizeof conf);
	view_read(wb, &v);	/* before the change: a bad one is a 400 */
	lower(d), lower(u), lower(a), lower(to);
	if (str_equal(verb, "del") && !str_equal(conf, "yes") &&
	    (str_equal(what, "domain") || str_equal(what, "user"))) {
		if (str_equal(what, "domain"))
			page_domain_del(wb, d);
		page_domain(wb, d, &v, 'P', "Tick the box to confirm.");
	}
	if (str_equal(what, "domain"))
		cat(&arg, d);
	else if (a[0])
		cat(&arg, a);
	else {
		cat(&arg, u);
		cat(&arg, "@");
		cat(&arg, d);
	}
	if (!str_nul(&arg))
		die_nomem();
	if (quota[0]) {
		if (!scan_ulong(quota, strlen(quota), &mb) || mb > 1024UL * 1024 ||
		    mb > (unsigned long)-1 / (1024 * 1024))
			page_domain(wb, d, &v, 'P', "The quota is a number of MB.");
		catnum(&q, mb * 1024 * 1024);
	}
	if (!str_nul(&q))
		die_nomem();
	f[n++] = "do", f[n++] = wb->token, f[n++] = csrf, f[n++] = pw;
	f[n++] = q.s, f[n++] = what, f[n++] = verb, f[n++] = arg.s;
	for (p = to; (tok = strtok(p, " ,\t")) != NULL; p = NULL) {
		if (n == ARGSMAX + 8)
			fail(wb, 400, "too many addresses");
		f[n++] = tok;
	}
	st = ask(wb, f, n, &out);
	wipe(pw, sizeof pw);
	if (st == 'A')
		page_login(wb, 'P', "Your session has ended; please sign in again.");
	if (str_equal(what, "domain"))
		page_domains(wb, st, out.s);
	page_domain(wb, d, &v, st, out.s);
}

/* autoconfig - Thunderbird's config-v1.1.xml and Outlook's autodiscover
 * answer: submission on 587 with STARTTLS, POP3 over TLS on 995, the
 * whole address as the login */
static void
autoconfig(struct web *wb, int outlook)
{
	struct page pg = { STR_ZERO, 200, NULL, NULL, "application/xml; charset=utf-8" };
	char addr[400];
	const char *at;

	addr[0] = 0;
	if (!outlook)
		param(wb, "emailaddress", addr, sizeof addr);
	else if (wb->req.method == HTTP_POST) {
		/* <EMailAddress>a@b</EMailAddress> in the request body */
		const char *s = NULL, *e = NULL;
		size_t i;

		for (i = 0; i + 14 <= wb->bodylen; i++)
			if (memcmp(wb->body + i, "<EMailAddress>", 14) == 0) {
				s = wb->body + i + 14;
				break;
			}
		if (s != NULL)
			e = memchr(s, '<', wb->bodylen - (size_t)(s - wb->body));
		if (e != NULL && (size_t)(e - s) < sizeof addr) {
			memcpy(addr, s, (size_t)(e - s));
			addr[e - s] = 0;
		}
	}
	lower(addr);
	if (addr[0] && !addr_ok(addr, 0))
		fail(wb, 400, "bad address");
	at = strchr(addr, '@');
	if (!outlook) {
		cat(&pg.h, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
		    "<clientConfig version=\"1.1\">\n <emailProvider id=\"");
		esc(&pg.h, at ? at + 1 : wb->me);
		cat(&pg.h, "\">\n  <domain>");
		esc(&pg.h, at ? at + 1 : wb->me);
		cat(&pg.h, "</domain>\n  <displayName>lanmail ");
		esc(&pg.h, wb->me);
		cat(&pg.h, "</displayName>\n  <incomingServer type=\"pop3\">\n   <hostname>");
		esc(&pg.h, wb->me);
		cat(&pg.h, "</hostname>\n   <port>995</port>\n   <socketType>SSL</socketType>\n"
		    "   <username>%EMAILADDRESS%</username>\n"
		    "   <authentication>password-cleartext</authentication>\n"
		    "  </incomingServer>\n  <outgoingServer type=\"smtp\">\n   <hostname>");
		esc(&pg.h, wb->me);
		cat(&pg.h, "</hostname>\n   <port>587</port>\n   <socketType>STARTTLS</socketType>\n"
		    "   <username>%EMAILADDRESS%</username>\n"
		    "   <authentication>password-cleartext</authentication>\n"
		    "  </outgoingServer>\n </emailProvider>\n</clientConfig>\n");
	} else {
		cat(&pg.h, "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n"
		    "<Autodiscover xmlns=\"http://schemas.microsoft.com/exchange/autodiscover/responseschema/2006\">\n"
		    " <Response xmlns=\"http://schemas.microsoft.com/exchange/autodiscover/outlook/responseschema/2006a\">\n"
		    "  <Account>\n   <AccountType>email</AccountType>\n   <Action>settings</Action>\n"
		    "   <Protocol>\n    <Type>POP3</Type>\n    <Server>");
		esc(&pg.h, wb->me);
		cat(&pg.h, "</Server>\n    <Port>995</Port>\n    <LoginName>");
		esc(&pg.h, addr);
		cat(&pg.h, "</LoginName>\n    <SPA>off</SPA>\n    <SSL>on</SSL>\n"
		    "    <AuthRequired>on</AuthRequired>\n   </Protocol>\n"
		    "   <Protocol>\n    <Type>SMTP</Type>\n    <Server>");
		esc(&pg.h, wb->me);
		cat(&pg.h, "</Server>\n    <Port>587</Port>\n    <LoginName>");
		esc(&pg.h, addr);
		cat(&pg.h, "</LoginName>\n    <SPA>off</SPA>\n    <Encryption>TLS</Encryption>\n"
		    "    <AuthRequired>on</AuthRequired>\n    <UsePOPAuth>on</UsePOPAuth>\n"
		    "   </Protocol>\n  </Account>\n </Response>\n</Autodiscover>\n");
	}
	respond(wb, &pg);
}

/* read_request - the head (at most HTTP_HEADMAX bytes) and the body (at
 * most HTTP_BODYMAX, exactly Content-Length) into x */
static void
read_request(struct web *wb, char *x, size_t size)
{
	size_t n = 0, end = 0, need, i, head;
	long r;

	while ((end = http_head_end(x, n)) == 0) {
		if (n == HTTP_HEADMAX)
			fail(wb, 431, "request head too large");
		r = fd_read(0, x + n, HTTP_HEADMAX - n, REQTIME);
		if (r <= 0)
			_exit(0);	/* gone or silent: nothing to answer */
		/* bare LF: fail now, not at the deadline; but only in the
		 * head: the same read may bring the body, which is free to
		 * hold one */
		if ((head = http_head_end(x, n + (size_t)r)) == 0)
			head = n + (size_t)r;
		for (i = n; i < head; i++)
			if (x[i] == '\n' && (i == 0 || x[i - 1] != '\r'))
				fail(wb, 400, "bare LF in the request head");
		n += (size_t)r;
		/* a request line longer than the limit fails early */
		if (memchr(x, '\n', n) == NULL && n > HTTP_LINEMAX)
			fail(wb, 400, "request line too long");
	}
	if (!http_parse(x, end, &wb->req))
		fail(wb, 400, "malformed request");
	if (wb->req.method == 0)
		fail(wb, 405, "method not allowed");
	if (wb->req.method != HTTP_POST) {
		if (wb->req.has_length && wb->req.length > 0)
			fail(wb, 400, "a body where none belongs");
		return;
	}
	if (!wb->req.has_length)
		fail(wb, 400, "a POST needs a Content-Length");
	if (wb->req.length > HTTP_BODYMAX || end + wb->req.length > size)
		fail(wb, 413, "request body too large");
	need = end + (size_t)wb->req.length;
	if (n > need)
		fail(wb, 400, "bytes after the request");	/* no pipelining */
	while (n < need) {
		r = fd_read(0, x + n, need - n, REQTIME);
		if (r <= 0)
			_exit(0);
		n += (size_t)r;
	}
	wb->body = x + end;
	wb->bodylen = (size_t)wb->req.length;
}

static int
path_is(const struct web *wb, const char *p)
{
	return wb->req.pathlen == strlen(p) && memcmp(wb->req.path, p, wb->req.pathlen) == 0;
}

/* serve_web - one request, one answer */
static void
serve_web(struct web *wb)
{
	static char x[HTTP_HEADMAX + HTTP_BODYMAX];
	char d[VPASSWD_DOMAINMAX + 1], csrf[CSRFLEN + 4];
	const char *f[3];
	struct str out = STR_ZERO, c = STR_ZERO;
	struct page pg = { STR_ZERO, 303, NULL, "/login", "text/plain; charset=utf-8" };
	struct view v;
	int post;

	read_request(wb, x, sizeof x);
	post = wb->req.method == HTTP_POST;
	if (path_is(wb, "/mail/config-v1.1.xml") ||
	    path_is(wb, "/.well-known/autoconfig/mail/config-v1.1.xml"))
		autoconfig(wb, 0);
	if (path_is(wb, "/autodiscover/autodiscover.xml") ||
	    path_is(wb, "/Autodiscover/Autodiscover.xml"))
		autoconfig(wb, 1);
	if (path_is(wb, "/login")) {
		if (post)
			do_login_post(wb);
		page_login(wb, '0', NULL);
	}
	if (!whoami(wb)) {
		if (post)
			page_login(wb, 'P', "Your session has ended; please sign in again.");
		redirect(wb, "/login");
	}
	if (path_is(wb, "/logout") && post) {
		param(wb, "csrf", csrf, sizeof csrf);
		f[0] = "logout", f[1] = wb->token, f[2] = csrf;
		if (ask(wb, f, 3, &out) != '0')
			fail(wb, 403, "bad form token");
		set_session_cookie(wb, &pg, &c, "", 0);
		respond(wb, &pg);
	}
	if (!post) {
		if (path_is(wb, "/") || path_is(wb, "/domains"))
			page_domains(wb, '0', NULL);
		param(wb, "d", d, sizeof d);
		lower(d);
		if (path_is(wb, "/domain")) {
			view_read(wb, &v);
			page_domain(wb, d, &v, '0', NULL);
		}
		if (path_is(wb, "/domain/del") && wb->admin)
			page_domain_del(wb, d);
		if (path_is(wb, "/queue") && wb->admin)
			page_queue(wb);
		fail(wb, 404, "not found");
	}
	if (path_is(wb, "/domain/add"))
		change(wb, "domain", "add");
	if (path_is(wb, "/domain/del"))
		change(wb, "domain", "del");
	if (path_is(wb, "/user/add"))
		change(wb, "user", "add");
	if (path_is(wb, "/user/del"))
		change(wb, "user", "del");
	if (path_is(wb, "/user/passwd"))
		change(wb, "user", "passwd");
	if (path_is(wb, "/alias/add"))
		change(wb, "alias", "add");
	if (path_is(wb, "/alias/del"))
		change(wb, "alias", "del");
	if (path_is(wb, "/list/add"))
		change(wb, "list", "add");
	if (path_is(wb, "/list/del"))
		change(wb, "list", "del");
	fail(wb, 404, "not found");
}

/* drop - the web half becomes qmaild (in a single-user install it is
 * that user already) */
static void
drop(void)
{
	uid_t uid;
	gid_t gid;

	if (auto_single || geteuid() != 0)
		return;
	if (priv_user(auto_users[AUTO_QMAILD], &uid, &gid) != 1)
		die(EXIT_TEMP, "unable to find user ", auto_users[AUTO_QMAILD]);
	if (uid == 0)
		die(EXIT_TEMP, "unable to drop privileges: ", auto_users[AUTO_QMAILD], " is root");
	if (!priv_drop(uid, gid))
		die_sys(EXIT_TEMP, "unable to drop privileges");
}

int
main(int argc, char **argv)
{
	struct str me = STR_ZERO;
	struct web wb;
	int sv[2], status;
	pid_t pid;
	unsigned long life;
	const char *ip;

	(void)argc;
	die_init(argv[0]);
	umask(077);
	if (signal(SIGPIPE, SIG_IGN) == SIG_ERR)
		die_sys(EXIT_TEMP, "unable to ignore SIGPIPE");
	if (chdir(auto_home) == -1)
		die_sys(EXIT_TEMP, "unable to switch to ", auto_home);
	switch (control_readline("control/me", &me)) {
	case -1:
		die_sys(EXIT_TEMP, "unable to read control/me");
	case 0:
		if (!str_copys(&me, "localhost"))
			die_nomem();
	}
	if (!str_nul(&me))
		die_nomem();
	switch (control_readulong("control/timeoutwebadmin", &life)) {
	case -1:
		die_sys(EXIT_TEMP, "unable to read control/timeoutwebadmin");
	case 1:
		if (life > 0 && life < 3600)
			reqtime = (unsigned)life;
	}
	switch (control_readulong("control/webadmintimeout", &life)) {
	case -1:
		die_sys(EXIT_TEMP, "unable to read control/webadmintimeout");
	case 1:
		if (life > 0)
			session_life = life;
	}
	if ((ip = env_get("TCPREMOTEIP")) != NULL && *ip && strlen(ip) < 64)
		peer = ip;
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) == -1)
		die_sys(EXIT_TEMP, "unable to make a socket pair");
	if ((pid = fork()) == -1)
		die_sys(EXIT_TEMP, "unable to fork");
	if (pid == 0) {
		(void)close(sv[0]);	/* the parent's end */
		drop();
		memset(&wb, 0, sizeof wb);
		wb.ipc = sv[1];
		wb.me = me.s;
		wb.tls = env_get("TLSVERSION") != NULL;
		alarm(reqtime);	/* the whole request, however slow the client */
		serve_web(&wb);
		_exit(0);
	}
	/* the privileged half never touches the network */
	(void)close(sv[1]);
	if (close(0) == -1 || open("/dev/null", O_RDONLY | O_CLOEXEC) != 0)
		die_sys(EXIT_TEMP, "unable to close the connection");
	if (dup2(0, 1) == -1)
		die_sys(EXIT_TEMP, "unable to close the connection");
	serve_root(sv[0]);
	if (spawn_wait(pid, &status) == -1)
		die_sys(EXIT_TEMP, "unable to wait for the web half");
	return 0;
}
