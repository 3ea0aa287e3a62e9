/* qmail-list - a mailing list manager run from the list owner's .qmail files
 *
 *	qmail-list make [-h home] [-e ext] [-o owner] dir address
 *	qmail-list deliver dir            (from .qmail-EXT and .qmail-EXT-default)
 *	qmail-list add dir address...     qmail-list remove dir address...
 *	qmail-list show dir
 *
 * The list directory holds one file per setting (see qmail-list(1)).
 * In deliver mode the message on descriptor 0, $SENDER and $DEFAULT come
 * from anyone on the network and are untrusted; the command word in
 * $DEFAULT is parsed by lib/listcmd.  A post is checked (sender, size,
 * loop, robots' mail, membership), then either held for the moderators or sent once
 * through qmail-queue to every subscriber with the VERP sender
 * LIST-return-@DOMAIN-@[], which qmail-send rewrites per recipient so a
 * bounce names its subscriber; only mail with a null sender to those
 * addresses counts as a bounce.  Confirmation, probe and moderation
 * cookies are HMAC-SHA256 (OpenSSL's libcrypto) with the list's secret,
 * and each works once (usedcookies, or the held post gone).  Exit codes
 * are qmail-command's: 0 done, 100 refused (qmail-local bounces it), 111
 * try again later; what happened is printed on stdout for the log.
 *
 * Deliveries run as the list's owner, who must be able to read and
 * replace every file in the list directory.  So when root runs it (the
 * administrator adding subscribers), it first becomes the user who owns
 * the directory, and every file it makes is that user's.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "auto.h"
#include "buf.h"
#include "control.h"
#include "date822.h"
#include "die.h"
#include "env.h"
#include "listcmd.h"
#include "maildir.h"
#include "priv.h"
#include "qqfilter.h"
#include "spawn.h"
#include "statefile.h"
#include "str.h"

#define COOKIE_HEX 32			/* hex digits of a cookie: 128 bits */
#define COOKIE_DAYS 7			/* confirmations expire */
#define MAXBYTES_DEFAULT 1000000UL	/* a post's size limit */
#define BOUNCELIMIT_DEFAULT 3		/* bounces before a probe */
#define BOUNCEDAYS 30			/* bounces older than this are forgotten */
#define SUBSCRIBERS_MAX 100000		/* addresses in one list */
#define QUOTE_MAX 20000			/* bytes of a post shown to a moderator */
#define QUOTE_MARK "\n--- the message follows ---\n\n"

struct list {
	const char *dir;
	struct str addr;	/* the list's address, local@domain */
	size_t at;		/* index of '@' in addr */
	struct str owner;
	struct str secret;
	struct str prefix;	/* subject prefix, may be empty */
	struct str subs;	/* subscribers, each ended by NUL */
	int lockfd;
};

static void
usage(void)
{
	die(EXIT_PERM, "usage: qmail-list make [-h home] [-e ext] [-o owner] dir address | "
	    "deliver dir | add dir address... | remove dir address... | show dir");
}

/* path - dir/name as a C string in out */
static const char *
path(struct str *out, const struct list *l, const char *name)
{
	if (!str_copys(out, l->dir) || !str_catc(out, '/') || !str_cats(out, name) || !str_nul(out))
		die_nomem();
	return out->s;
}

/* setting - dir/name's first line, or dflt when the file is missing */
static void
setting(const struct list *l, const char *name, struct str *out, const char *dflt)
{
	struct str fn = STR_ZERO;

	switch (control_readline(path(&fn, l, name), out)) {
	case 0:
		if (!str_copys(out, dflt))
			die_nomem();
		break;
	case -1:
		die_sys(EXIT_TEMP, "unable to read ", fn.s);
	}
	if (!str_nul(out))
		die_nomem();
	str_free(&fn);
}

static unsigned long
setting_ulong(const struct list *l, const char *name, unsigned long dflt)
{
	struct str fn = STR_ZERO;
	unsigned long u;

	switch (control_readulong(path(&fn, l, name), &u)) {
	case 0:
		u = dflt;
		break;
	case -1:
		die_sys(EXIT_TEMP, "unable to read ", fn.s);
	}
	str_free(&fn);
	return u;
}

static int
setting_flag(const struct list *l, const char *name, int dflt)
{
	return setting_ulong(l, name, (unsigned long)dflt) != 0;
}

static void
lock(struct list *l)
{
	struct str fn = STR_ZERO;
	struct flock fl;

	if ((l->lockfd = open(path(&fn, l, "lock"), O_RDWR | O_CREAT | O_CLOEXEC, 0600)) == -1)
		die_sys(EXIT_TEMP, "unable to open ", fn.s);
	memset(&fl, 0, sizeof fl);
	fl.l_type = F_WRLCK;
	fl.l_whence = SEEK_SET;
	while (fcntl(l->lockfd, F_SETLKW, &fl) == -1)
		if (errno != EINTR)
			die_sys(EXIT_TEMP, "unable to lock ", fn.s);
	str_free(&fn);
}

/* writefile - name replaced atomically by n bytes */
static void
writefile(const struct list *l, const char *name, const char *p, size_t n)
{
	struct str fn = STR_ZERO;

	path(&fn, l, name);
	if (!statefile_write(fn.s, p, n, 0600))
		die_sys(EXIT_TEMP, "unable to write ", fn.s);
	str_free(&fn);
}

/* addreq - the same address: local part exactly, domain in any case
 * (qmail lower-cases command addresses, so the local part too) */
static int
addreq(const char *a, size_t an, const char *b, size_t bn)
{
	return an == bn && str_caseeqb(a, b, an);
}

static void
load(struct list *l, const char *dir)
{
	struct str fn = STR_ZERO;

	memset(l, 0, sizeof *l);
	l->dir = dir;
	l->lockfd = -1;
	setting(l, "address", &l->addr, "");
	l->at = str_rchrb(l->addr.s, l->addr.len, '@');
	if (l->addr.len == 0 || !listcmd_addrok(l->addr.s, l->addr.len))
		die(EXIT_TEMP, "no valid list address in ", path(&fn, l, "address"));
	setting(l, "owner", &l->owner, "");
	setting(l, "secret", &l->secret, "");
	if (l->secret.len < 32)
		die(EXIT_TEMP, "the list secret is missing or short: ", path(&fn, l, "secret"));
	setting(l, "prefix", &l->prefix, "");
	if (control_readlist(path(&fn, l, "subscribers"), &l->subs) == -1)
		die_sys(EXIT_TEMP, "unable to read ", fn.s);
	str_free(&fn);
}

/* find - the subscriber entry equal to a, or NULL */
static const char *
find(const struct str *subs, const char *a, size_t n)
{
	size_t i, k;

	for (i = 0; i < subs->len; i += k + 1) {
		k = str_chrb(subs->s + i, subs->len - i, 0);
		if (addreq(subs->s + i, k, a, n))
			return subs->s + i;
	}
	return NULL;
}

/* subs_text - l->subs as the subscribers file into out, leaving out the
 * entries equal to drop (may be NULL) and the i-th entry when gone[i]
 * is set (gone may be NULL): the number kept */
static size_t
subs_text(struct str *out, const struct list *l, const char *drop, size_t dn,
    const unsigned char *gone)
{
	size_t i, k, e, count = 0;

	for (i = e = 0; i < l->subs.len; i += k + 1, e++) {
		k = str_chrb(l->subs.s + i, l->subs.len - i, 0);
		if ((drop && addreq(l->subs.s + i, k, drop, dn)) || (gone && gone[e]))
			continue;
		if (!str_catb(out, l->subs.s + i, k) || !str_catc(out, '\n'))
			die_nomem();
		count++;
	}
	return count;
}

/* save_subs - subscribers file from l->subs, leaving out drop (may be NULL),
 * adding add (may be NULL) */
static void
save_subs(struct list *l, const char *drop, size_t dn, const char *add, size_t an)
{
	struct str out = STR_ZERO;

	if (subs_text(&out, l, drop, dn, NULL) >= SUBSCRIBERS_MAX && add)
		die(EXIT_PERM, "the list is full: ", l->addr.s);
	if (add && (!str_catb(&out, add, an) || !str_catc(&out, '\n')))
		die_nomem();
	writefile(l, "subscribers", out.s ? out.s : "", out.len);
	if (control_parselist(out.s ? out.s : "", out.len, &l->subs) == -1)
		die_nomem();
	str_free(&out);
}

/* cmdaddr - LOCAL-word@DOMAIN of the list into out (C string) */
static const char *
cmdaddr(struct str *out, const struct list *l, const char *w1, const char *w2)
{
	if (!str_copyb(out, l->addr.s, l->at) || !str_catc(out, '-') || !str_cats(out, w1) ||
	    (w2 && !str_cats(out, w2)) || !str_catb(out, l->addr.s + l->at, l->addr.len - l->at) ||
	    !str_nul(out))
		die_nomem();
	return out->s;
}

/* cookie - hex HMAC-SHA256 of action, number and lower-cased address with
 * the list's secret, COOKIE_HEX digits, into out (C string) */
static void
cookie(struct str *out, const struct list *l, const char *action, unsigned long num,
    const char *a, size_t an)
{
	static const char digits[] = "0123456789abcdef";
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int mdlen = 0, i;
	struct str data = STR_ZERO;

	if (!str_cats(&data, action) || !str_catc(&data, '\n') || !str_catulong(&data, num) ||
	    !str_catc(&data, '\n') || !str_catb(&data, a, an))
		die_nomem();
	str_lowerb(data.s, data.len);
	if (l->secret.len > 1024 || HMAC(EVP_sha256(), l->secret.s, (int)l->secret.len,
	    (const unsigned char *)data.s, data.len, md, &mdlen) == NULL || mdlen * 2 < COOKIE_HEX)
		die(EXIT_TEMP, "HMAC-SHA256 failed");
	out->len = 0;
	for (i = 0; i < COOKIE_HEX / 2; i++)
		if (!str_catc(out, digits[md[i] >> 4]) || !str_catc(out, digits[md[i] & 15]))
			die_nomem();
	if (!str_nul(out))
		die_nomem();
	str_free(&data);
}

/* cookie_ok - the command's cookie is right for action, its number and a */
static int
cookie_ok(const struct list *l, const struct listcmd *c, const char *action, const char *a, size_t an)
{
	struct str want = STR_ZERO, got = STR_ZERO;
	int ok;

	cookie(&want, l, action, c->num, a, an);
	if (!str_copyb(&got, c->cookie, c->cookielen))
		die_nomem();
	str_lowerb(got.s, got.len);
	ok = got.len == want.len && CRYPTO_memcmp(got.s, want.s, want.len) == 0;
	str_free(&want);
	str_free(&got);
	return ok;
}

/* Used cookies: a confirmation or probe code works once.  usedcookies
 * holds a line "EXPIRY COOKIE" for each code used, kept until the code
 * would be refused as too old anyway (EXPIRY, in seconds since the epoch)
 * and pruned at each write; changed only under the lock. */
#define USED_MAX (16UL * 1024 * 1024)	/* bytes of usedcookies */

/* used_read - usedcookies into u (empty when missing) */
static void
used_read(const struct list *l, struct str *u)
{
	struct str fn = STR_ZERO;

	if (control_readfile(path(&fn, l, "usedcookies"), u, USED_MAX) == -1)
		die_sys(EXIT_TEMP, "unable to read ", fn.s);
	str_free(&fn);
}

/* used_line - the line at u->s + i (k bytes) as "EXPIRY COOKIE": 1 with
 * the cookie's place, 0 for a damaged line */
static int
used_line(const struct str *u, size_t i, size_t k, unsigned long *expiry, size_t *ck, size_t *ckn)
{
	size_t sp = str_chrb(u->s + i, k, ' ');

	if (sp == k || !scan_ulong(u->s + i, sp, expiry) || k - sp - 1 != COOKIE_HEX)
		return 0;
	*ck = i + sp + 1;
	*ckn = k - sp - 1;
	return 1;
}

/* cookie_used - the command's cookie has been used already */
static int
cookie_used(const struct list *l, const struct listcmd *c)
{
	struct str u = STR_ZERO;
	unsigned long expiry;
	size_t i, k, ck, ckn;
	int r = 0;

	used_read(l, &u);
	for (i = 0; !r && i < u.len; i += k + 1) {
		k = str_chrb(u.s + i, u.len - i, '\n');
		r = used_line(&u, i, k, &expiry, &ck, &ckn) && ckn == c->cookielen &&
		    str_caseeqb(u.s + ck, c->cookie, ckn);
	}
	str_free(&u);
	return r;
}

/* cookie_spend - the command's (checked) cookie recorded as used until
 * expiry; expired and damaged lines left out.  Call under the lock. */
static void
cookie_spend(const struct list *l, const struct listcmd *c, unsigned long expiry)
{
	struct str u = STR_ZERO, out = STR_ZERO;
	unsigned long now = (unsigned long)time(NULL), e;
	size_t i, k, ck, ckn;

	used_read(l, &u);
	for (i = 0; i < u.len; i += k + 1) {
		k = str_chrb(u.s + i, u.len - i, '\n');
		if (used_line(&u, i, k, &e, &ck, &ckn) && e >= now &&
		    (!str_catb(&out, u.s + i, k) || !str_catc(&out, '\n')))
			die_nomem();
	}
	if (!str_catulong(&out, expiry) || !str_catc(&out, ' ') ||
	    !str_catb(&out, c->cookie, c->cookielen))
		die_nomem();
	str_lowerb(out.s + out.len - c->cookielen, c->cookielen);
	if (!str_catc(&out, '\n'))
		die_nomem();
	writefile(l, "usedcookies", out.s, out.len);
	str_free(&u);
	str_free(&out);
}

/* inject - message from fd (read from its start) to the recipients
 * (each ended by NUL) with sender; exits on failure */
static void
inject(int fd, const char *sender, const char *rcpts, size_t rn)
{
	struct str qq = STR_ZERO, env = STR_ZERO;
	char *argv[2];
	int e[2], fds[3], code;
	size_t i, k;
	pid_t pid;

	if (!qq_program(&qq) || !str_catc(&env, 'F') || !str_cats(&env, sender) || !str_catc(&env, 0))
		die_nomem();
	for (i = 0; i < rn; i += k + 1) {
		k = str_chrb(rcpts + i, rn - i, 0);
		if (!str_catc(&env, 'T') || !str_catb(&env, rcpts + i, k) || !str_catc(&env, 0))
			die_nomem();
	}
	if (!str_catc(&env, 0))
		die_nomem();
	if (lseek(fd, 0, SEEK_SET) == -1)
		die_sys(EXIT_TEMP, "unable to rewind a message");
	if (pipe_cloexec(e) == -1)
		die_sys(EXIT_TEMP, "unable to create a pipe");
	argv[0] = qq.s;
	argv[1] = NULL;
	fds[0] = fd;
	fds[1] = e[0];
	fds[2] = 2;
	if ((pid = spawn(qq.s, argv, NULL, fds, 3)) == -1)
		die_sys(EXIT_TEMP, "unable to run ", qq.s);
	if (close(e[0]) == -1)
		die_sys(EXIT_TEMP, "unable to close a pipe");
	/* qmail-queue reads the message first, then this */
	if (!fd_writeall(e[1], env.s, env.len, 0))
		warn_sys("unable to write the envelope to ", qq.s);
	if (close(e[1]) == -1)
		warn_sys("unable to close the envelope pipe");
	if ((code = qq_reap(pid)) == -1)
		die_sys(EXIT_TEMP, "unable to wait for ", qq.s);
	if (code != 0) {
		struct str why = STR_ZERO;

		if (!qq_failure(&why, qq.s, code))
			die_nomem();
		die(qq_permanent(code) ? EXIT_PERM : EXIT_TEMP, why.s);
	}
	str_free(&qq);
	str_free(&env);
}

/* tmpfile_for - an unlinked read-write file in the list directory */
static int
tmpfile_for(const struct list *l)
{
	struct str fn = STR_ZERO;
	int fd;

	path(&fn, l, "tmpXXXXXX");
	if ((fd = mkstemp(fn.s)) == -1)
		die_sys(EXIT_TEMP, "unable to create a file in ", l->dir);
	if (fcntl(fd, F_SETFD, FD_CLOEXEC) == -1 || unlink(fn.s) == -1)
		die_sys(EXIT_TEMP, "unable to set up ", fn.s);
	str_free(&fn);
	return fd;
}

static int
str_tofile(const struct list *l, const struct str *m)
{
	int fd = tmpfile_for(l);

	if (!fd_writeall(fd, m->s, m->len, 0))
		die_sys(EXIT_TEMP, "unable to write a temporary file");
	return fd;
}

/* headers common to what the list writes itself */
static void
listheaders(struct str *m, const struct list *l)
{
	struct str a = STR_ZERO;
	size_t i;

	if (!str_cats(m, "List-Id: <") || !str_catb(m, l->addr.s, l->at) || !str_catc(m, '.') ||
	    !str_catb(m, l->addr.s + l->at + 1, l->addr.len - l->at - 1) || !str_cats(m, ">\n"))
		die_nomem();
	/* RFC 2919: no '@' in a list-id; the local part's own dots are fine */
	if (!str_cats(m, "List-Post: <mailto:") || !str_cat(m, &l->addr) || !str_cats(m, ">\n") ||
	    !str_cats(m, "List-Help: <mailto:") || !str_cats(m, cmdaddr(&a, l, "help", NULL)) ||
	    !str_cats(m, ">\nList-Subscribe: <mailto:") || !str_cats(m, cmdaddr(&a, l, "subscribe", NULL)) ||
	    !str_cats(m, ">\nList-Unsubscribe: <mailto:") ||
	    !str_cats(m, cmdaddr(&a, l, "unsubscribe", NULL)) || !str_cats(m, ">\nPrecedence: list\n"))
		die_nomem();
	for (i = 0; i < m->len; i++)
		if (m->s[i] == '\r')
			m->s[i] = ' ';
	str_free(&a);
}

/* compose - the header and body of a message from the list to one
 * address into m.  subject may carry further header lines after a
 * newline (a Reply-To). */
static void
compose(struct str *m, const struct list *l, const char *to, const char *subject, const char *body)
{
	struct str a = STR_ZERO;
	char date[DATE822_LEN];

	(void)date822_fmt(date, time(NULL));
	if (!str_cats(m, "From: ") || !str_cats(m, cmdaddr(&a, l, "help", NULL)) ||
	    !str_cats(m, "\nTo: ") || !str_cats(m, to) || !str_cats(m, "\nSubject: ") ||
	    !str_cats(m, subject) || !str_cats(m, "\nDate: ") || !str_cats(m, date) ||
	    !str_cats(m, "\nAuto-Submitted: auto-replied\nMIME-Version: 1.0\n"
	    "Content-Type: text/plain; charset=us-ascii\n"))
		die_nomem();
	listheaders(m, l);
	if (!str_catc(m, '\n') || !str_cats(m, body))
		die_nomem();
	str_free(&a);
}

/* send_reply - the message in fd to one address, with the null envelope
 * sender (RFC 3834: nothing answers it); fd is closed */
static void
send_reply(int fd, const char *to)
{
	struct str a = STR_ZERO;

	if (!str_copys(&a, to) || !str_catc(&a, 0))
		die_nomem();
	inject(fd, "", a.s, a.len);
	if (close(fd) == -1)
		die_sys(EXIT_TEMP, "unable to close a temporary file");
	str_free(&a);
}

/* reply - a message from the list to one address, with the first
 * QUOTE_MAX bytes of quote (qn bytes, may be NULL) after the body */
static void
reply(const struct list *l, const char *to, const char *subject, const char *body,
    const char *quote, size_t qn)
{
	struct str m = STR_ZERO;

	compose(&m, l, to, subject, body);
	if (quote && qn) {
		if (!str_cats(&m, QUOTE_MARK) || !str_catb(&m, quote, qn < QUOTE_MAX ? qn : QUOTE_MAX))
			die_nomem();
		if (m.s[m.len - 1] != '\n' && !str_catc(&m, '\n'))
			die_nomem();
	}
	send_reply(str_tofile(l, &m), to);
	str_free(&m);
}

static void __attribute__((noreturn))
done(int code, const char *s1, const char *s2, const char *s3)
{
	struct str r = STR_ZERO;

	if (!str_cats(&r, s1) || (s2 && !str_cats(&r, s2)) || (s3 && !str_cats(&r, s3)) ||
	    !str_catc(&r, '\n'))
		_exit(EXIT_TEMP);
	(void)fd_writeall(1, r.s, r.len, 0);	/* stdout gone: the exit code still tells */
	_exit(code);
}

/* field - listcmd_field, out of memory fatal */
static int
field(const char *m, size_t hn, const char *name, struct str *out)
{
	int r = listcmd_field(m, hn, name, out);

	if (r == -1)
		die_nomem();
	return r;
}

/* fieldnext - listcmd_fieldnext, out of memory fatal */
static int
fieldnext(const char *m, size_t hn, size_t *pos, const char *name, struct str *out)
{
	int r = listcmd_fieldnext(m, hn, pos, name, out);

	if (r == -1)
		die_nomem();
	return r;
}

/* keyword - the value v starts with the word w (any case), then ends or
 * goes on with a blank, ';' or a comment */
static int
keyword(const char *v, const char *w)
{
	size_t n = strlen(w);

	return str_casestart(v, w) && (v[n] == 0 || v[n] == ' ' || v[n] == '\t' || v[n] == ';' ||
	    v[n] == '(');
}

/* autoreply - a reply a program made: an Auto-Submitted other than no
 * (RFC 3834) or a Precedence of junk (vacation's); every such field
 * counts, not just the first */
static int
autoreply(const char *m, size_t hn)
{
	struct str v = STR_ZERO;
	size_t pos;
	int r = 0;

	for (pos = 0; !r && fieldnext(m, hn, &pos, "Precedence", &v);)
		r = keyword(v.s, "junk");
	for (pos = 0; !r && fieldnext(m, hn, &pos, "Auto-Submitted", &v);)
		r = !keyword(v.s, "no");
	str_free(&v);
	return r;
}

/* automatic - mail no robot should answer: an auto-reply, a Precedence
 * of bulk or list, or a List-Id */
static int
automatic(const char *m, size_t hn)
{
	struct str v = STR_ZERO;
	size_t pos;
	int r = autoreply(m, hn);

	for (pos = 0; !r && fieldnext(m, hn, &pos, "Precedence", &v);)
		r = keyword(v.s, "bulk") || keyword(v.s, "list");
	if (!r && field(m, hn, "List-Id", &v))
		r = 1;
	str_free(&v);
	return r;
}

/* answerable - a sender a robot may write to: not empty, not a double
 * bounce, not one of the list's own addresses */
static int
answerable(const struct list *l, const char *sender)
{
	size_t n = strlen(sender);

	if (n == 0 || str_equal(sender, "#@[]") || !listcmd_addrok(sender, n))
		return 0;
	/* LIST@DOMAIN or LIST-anything@DOMAIN, but not LISTanything@DOMAIN
	 * (joe-teamster is not one of joe-team's addresses) */
	if (n > l->addr.len - l->at && str_caseeqb(sender + n - (l->addr.len - l->at),
	    l->addr.s + l->at, l->addr.len - l->at) && str_caseeqb(sender, l->addr.s, l->at) &&
	    (sender[l->at] == '@' || sender[l->at] == '-'))
		return 0;
	return 1;
}

/* helptext - how to use the list */
static void
helptext(struct str *b, const struct list *l)
{
	struct str a = STR_ZERO;

	if (!str_cats(b, "This is the mailing list ") || !str_cat(b, &l->addr) ||
	    !str_cats(b, ".\n\nTo post, write to ") || !str_cat(b, &l->addr) ||
	    !str_cats(b, ".\nTo subscribe, send any message to ") ||
	    !str_cats(b, cmdaddr(&a, l, "subscribe", NULL)) ||
	    !str_cats(b, ".\nTo unsubscribe, send any message to ") ||
	    !str_cats(b, cmdaddr(&a, l, "unsubscribe", NULL)) ||
	    !str_cats(b, ".\nTo fetch archived post N (when the list keeps an archive), write to ") ||
	    !str_cats(b, cmdaddr(&a, l, "get.N", NULL)) ||
	    !str_cats(b, ".\nBoth subscribing and unsubscribing are confirmed by a reply from\n"
	    "the address concerned.\n"))
		die_nomem();
	if (l->owner.len && (!str_cats(b, "The list's owner is ") || !str_cat(b, &l->owner) ||
	    !str_cats(b, ".\n")))
		die_nomem();
	str_free(&a);
}

/* deliveredto - the Delivered-To line qmail-local writes, and checks for
 * loops, when it delivers to the list address itself: never the line of
 * the delivery at hand, which for an accepted post is the moderator's
 * accept address with its cookie.  Under qmail-local the list address as
 * it sees it (in a virtual domain, with the domain's prefix) is
 * $RECIPIENT less "-$DEFAULT"; run otherwise, the list's address. */
static void
deliveredto(struct str *out, const struct list *l)
{
	const char *r = env_get("RECIPIENT"), *d = env_get("DEFAULT");
	const char *local = l->addr.s, *dom = l->addr.s + l->at;
	size_t ln = l->at, dn = l->addr.len - l->at, start, i;

	if (r) {
		size_t rn = strlen(r), at = str_rchrb(r, rn, '@'), xn = d ? strlen(d) : 0;

		if (at < rn && (d == NULL || (xn + 1 < at && r[at - xn - 1] == '-' &&
		    memcmp(r + at - xn, d, xn) == 0))) {
			local = r;
			ln = d ? at - xn - 1 : at;
			dom = r + at;
			dn = rn - at;
		}
	}
	if (!str_cats(out, "Delivered-To: "))
		die_nomem();
	start = out->len;
	if (!str_catb(out, local, ln) || !str_catb(out, dom, dn))
		die_nomem();
	/* as qmail-local does: a line end in an address would start a field */
	for (i = start; i < out->len; i++)
		if (out->s[i] == '\n' || out->s[i] == '\r')
			out->s[i] = '_';
	if (!str_catc(out, '\n'))
		die_nomem();
}

/* distribute - one post to every subscriber, through the archive if on */
static unsigned long
distribute(struct list *l, const char *m, size_t n)
{
	struct str out = STR_ZERO, a = STR_ZERO, fn = STR_ZERO;
	unsigned long num = 0;
	int fd;

	deliveredto(&out, l);
	listheaders(&out, l);
	/* the post's own header, less what the list replaces, and the body */
	if (!listcmd_copy(&out, m, n, l->prefix.s, l->prefix.len))
		die_nomem();
	fd = str_tofile(l, &out);

	if (setting_flag(l, "archive", 0)) {
		struct str where = STR_ZERO, idx = STR_ZERO;
		char nb[FMT_ULONG + 1];
		int ifd;

		if (l->lockfd == -1)
			lock(l);	/* two posts at once must not share a number */
		num = setting_ulong(l, "num", 0) + 1;
		nb[fmt_ulong(nb, num)] = 0;
		if (lseek(fd, 0, SEEK_SET) == -1)
			die_sys(EXIT_TEMP, "unable to rewind a message");
		if (!maildir_deliver(path(&fn, l, "Maildir"), "", 0, fd, &where))
			die_sys(EXIT_TEMP, "unable to archive into ", fn.s);
		if (!str_cats(&idx, nb) || !str_catc(&idx, ' ') || !str_cat(&idx, &where) ||
		    !str_catc(&idx, '\n'))
			die_nomem();
		if ((ifd = open(path(&fn, l, "archive.index"), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC,
		    0600)) == -1 || !fd_writeall(ifd, idx.s, idx.len, 0) || fsync(ifd) == -1 ||
		    close(ifd) == -1)
			die_sys(EXIT_TEMP, "unable to write ", fn.s);
		if (!str_copys(&idx, nb) || !str_catc(&idx, '\n'))
			die_nomem();
		writefile(l, "num", idx.s, idx.len);
		str_free(&where);
		str_free(&idx);
	}
	/* VERP: qmail-send writes LIST-return-SUBSCRIBER@DOMAIN per copy */
	if (l->subs.len) {
		if (!str_copyb(&a, l->addr.s, l->at) || !str_cats(&a, "-return-") ||
		    !str_catb(&a, l->addr.s + l->at, l->addr.len - l->at) || !str_cats(&a, "-@[]") ||
		    !str_nul(&a))
			die_nomem();
		inject(fd, a.s, l->subs.s, l->subs.len);
	}
	if (close(fd) == -1)
		die_sys(EXIT_TEMP, "unable to close a temporary file");
	str_free(&out);
	str_free(&a);
	str_free(&fn);
	return num;
}

/* readmsg - descriptor 0 into m, at most max bytes; 0 when larger */
static int
readmsg(struct str *m, unsigned long max)
{
	for (;;) {
		long r;

		if (!str_readyplus(m, 65536))
			die_nomem();
		if ((r = fd_read(0, m->s + m->len, 65536, 0)) == -1)
			die_sys(EXIT_TEMP, "unable to read the message");
		if (r == 0)
			return 1;
		m->len += (size_t)r;
		if (m->len > max)
			return 0;
	}
}


/* moderators - every moderator (NUL-ended) into out, or the owner */
static void
moderators(const struct list *l, struct str *out)
{
	struct str fn = STR_ZERO;

	if (control_readlist(path(&fn, l, "moderators"), out) == -1)
		die_sys(EXIT_TEMP, "unable to read ", fn.s);
	if (out->len == 0 && l->owner.len &&
	    (!str_cat(out, &l->owner) || !str_catc(out, 0)))
		die_nomem();
	str_free(&fn);
}

/* hold - the post waits in held/ID; the moderators get accept/reject addresses */
static void __attribute__((noreturn))
hold(struct list *l, const char *sender, const char *m, size_t n, const char *why)
{
	struct str mods = STR_ZERO, fn = STR_ZERO, held = STR_ZERO, body = STR_ZERO, a = STR_ZERO;
	struct str ck = STR_ZERO, w = STR_ZERO;
	char nb[FMT_ULONG + 1];
	unsigned long id;
	size_t i, k;
	int fd;

	moderators(l, &mods);
	if (mods.len == 0)
		done(EXIT_PERM, "the list ", l->addr.s, " has no moderator or owner to approve this post");
	lock(l);
	id = setting_ulong(l, "heldnum", 0) + 1;
	nb[fmt_ulong(nb, id)] = 0;
	if (!str_copys(&held, nb) || !str_catc(&held, '\n'))
		die_nomem();
	writefile(l, "heldnum", held.s, held.len);
	if (!str_copys(&held, "held/") || !str_cats(&held, nb) || !str_nul(&held))
		die_nomem();
	path(&fn, l, held.s);
	if ((fd = open(fn.s, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600)) == -1)
		die_sys(EXIT_TEMP, "unable to create ", fn.s);
	if (!fd_writeall(fd, sender, strlen(sender), 0) || !fd_writeall(fd, "\n", 1, 0) ||
	    !fd_writeall(fd, m, n, 0) || fsync(fd) == -1 || close(fd) == -1)
		die_sys(EXIT_TEMP, "unable to write ", fn.s);
	cookie(&ck, l, "accept", id, "", 0);
	if (!str_copys(&w, "accept.") || !str_cats(&w, nb) || !str_catc(&w, '.') || !str_cat(&w, &ck) ||
	    !str_nul(&w))
		die_nomem();
	if (!str_cats(&body, "A post to ") || !str_cat(&body, &l->addr) || !str_cats(&body, " from <") ||
	    !str_cats(&body, sender) || !str_cats(&body, "> waits for a moderator: ") ||
	    !str_cats(&body, why) || !str_cats(&body, ".\n\nTo send it to the list, write to\n    ") ||
	    !str_cats(&body, cmdaddr(&a, l, w.s, NULL)) || !str_cats(&body, "\n"))
		die_nomem();
	cookie(&ck, l, "reject", id, "", 0);
	if (!str_copys(&w, "reject.") || !str_cats(&w, nb) || !str_catc(&w, '.') || !str_cat(&w, &ck) ||
	    !str_nul(&w))
		die_nomem();
	if (!str_cats(&body, "To refuse it, write to\n    ") || !str_cats(&body, cmdaddr(&a, l, w.s, NULL)) ||
	    !str_cats(&body, "\n"))
		die_nomem();
	if (!str_copys(&a, "moderate post ") || !str_cats(&a, nb) || !str_cats(&a, " to ") ||
	    !str_cat(&a, &l->addr) || !str_nul(&a))
		die_nomem();
	for (i = 0; i < mods.len; i += k + 1) {
		k = str_chrb(mods.s + i, mods.len - i, 0);
		reply(l, mods.s + i, a.s, body.s, m, n);
	}
	if (answerable(l, sender) && !automatic(m, listcmd_headerlen(m, n))) {
		body.len = 0;
		if (!str_cats(&body, "Your post to ") || !str_cat(&body, &l->addr) ||
		    !str_cats(&body, " waits for a moderator's approval: ") || !str_cats(&body, why) ||
		    !str_cats(&body, ".\n") || !str_nul(&body))
			die_nomem();
		reply(l, sender, "your post awaits moderation", body.s, NULL, 0);
	}
	done(EXIT_OK, "qmail-list: post held for moderation as ", held.s, NULL);
}

/* post - a message to the list address */
static void __attribute__((noreturn))
post(struct list *l, const char *sender)
{
	struct str m = STR_ZERO, v = STR_ZERO, lid = STR_ZERO;
	unsigned long max = setting_ulong(l, "maxbytes", MAXBYTES_DEFAULT), num;
	size_t hn, pos;
	char nb[FMT_ULONG + 1];

	/* before the size: refusing it would bounce a bounce */
	if (*sender == 0 || str_equal(sender, "#@[]"))
		done(EXIT_OK, "qmail-list: dropped a post without a sender (a bounce sent to the list)", NULL, NULL);
	if (!readmsg(&m, max)) {
		nb[fmt_ulong(nb, max)] = 0;
		done(EXIT_PERM, "Sorry, the message is larger than the list accepts (", nb,
		    " bytes). (#5.3.4)");
	}
	hn = listcmd_headerlen(m.s, m.len);
	if (!str_copyb(&lid, l->addr.s, l->at) || !str_catc(&lid, '.') ||
	    !str_catb(&lid, l->addr.s + l->at + 1, l->addr.len - l->at - 1) || !str_nul(&lid))
		die_nomem();
	/* our List-Id in any of the fields: another list may have added its own first */
	for (pos = 0; fieldnext(m.s, hn, &pos, "List-Id", &v);)
		if (listcmd_has(v.s, v.len, lid.s, lid.len))
			done(EXIT_PERM, "This message has already been through the list ", l->addr.s,
			    ": a loop. (#5.4.6)");
	/* an out-of-office reply is for nobody on the list; it is not held
	 * either, as moderators would drown in them.  Bulk and list mail is
	 * posted as usual: a list may be subscribed to another. */
	if (autoreply(m.s, hn))
		done(EXIT_OK, "qmail-list: dropped an automatic reply posted to the list", NULL, NULL);
	if (setting_flag(l, "moderated", 0))
		hold(l, sender, m.s, m.len, "the list is moderated");
	if (setting_flag(l, "subonly", 1) && find(&l->subs, sender, strlen(sender)) == NULL)
		hold(l, sender, m.s, m.len, "the sender is not subscribed");
	num = distribute(l, m.s, m.len);
	nb[fmt_ulong(nb, num)] = 0;
	done(EXIT_OK, "qmail-list: post sent to the list", num ? " as archive number " : NULL,
	    num ? nb : NULL);
}

/* confirm_request - reply with a confirmation address for action (sc/uc) */
static void __attribute__((noreturn))
confirm_request(struct list *l, const char *sender, const char *action)
{
	struct str ck = STR_ZERO, w = STR_ZERO, enc = STR_ZERO, b = STR_ZERO, a = STR_ZERO;
	unsigned long now = (unsigned long)time(NULL);
	int sub = action[0] == 's';

	if (!listcmd_encode(&enc, sender, strlen(sender)))
		done(EXIT_OK, "qmail-list: ignored a request from an unusable sender", NULL, NULL);
	cookie(&ck, l, action, now, sender, strlen(sender));
	if (!str_copys(&w, action) || !str_catc(&w, '.') || !str_catulong(&w, now) ||
	    !str_catc(&w, '.') || !str_cat(&w, &ck) || !str_catc(&w, '-') || !str_cat(&w, &enc) ||
	    !str_nul(&w))
		die_nomem();
	if (!str_cats(&b, "Someone, probably you, asked to ") || !str_cats(&b, sub ? "subscribe " :
	    "unsubscribe ") || !str_cats(&b, sender) || !str_cats(&b, sub ? " to " : " from ") ||
	    !str_cat(&b, &l->addr) || !str_cats(&b, ".\n\nTo confirm, reply to this message, or send "
	    "any message from that\naddress to\n    ") || !str_cats(&b, cmdaddr(&a, l, w.s, NULL)) ||
	    !str_cats(&b, "\nwithin 7 days.  If you did not ask, ignore this message.\n") ||
	    !str_nul(&b))
		die_nomem();
	/* Reply-To so that "reply" in a mail reader confirms */
	{
		struct str subj = STR_ZERO;

		if (!str_copys(&subj, "confirm ") || !str_cats(&subj, sub ? "subscription to " :
		    "unsubscription from ") || !str_cat(&subj, &l->addr) || !str_cats(&subj, "\nReply-To: ") ||
		    !str_cats(&subj, a.s) || !str_nul(&subj))
			die_nomem();
		reply(l, sender, subj.s, b.s, NULL, 0);
		str_free(&subj);
	}
	done(EXIT_OK, "qmail-list: confirmation sent to ", sender, NULL);
}

/* confirm_refuse - a confirmation that changes nothing, and why */
static void __attribute__((noreturn))
confirm_refuse(const struct list *l, const char *sender, const char *why)
{
	struct str b = STR_ZERO;

	if (answerable(l, sender)) {
		if (!str_cats(&b, "Your confirmation for ") || !str_cat(&b, &l->addr) ||
		    !str_cats(&b, " was refused: ") || !str_cats(&b, why) ||
		    !str_cats(&b, ".\nNothing was changed.\n\n") )
			die_nomem();
		helptext(&b, l);
		if (!str_nul(&b))
			die_nomem();
		reply(l, sender, "confirmation refused", b.s, NULL, 0);
	}
	done(EXIT_OK, "qmail-list: refused a confirmation: ", why, NULL);
}

/* confirm - a reply to a confirmation address */
static void __attribute__((noreturn))
confirm(struct list *l, const struct listcmd *c, const char *sender)
{
	struct str a = STR_ZERO;
	int sub = c->cmd == LISTCMD_SUBCONF;
	unsigned long now = (unsigned long)time(NULL);

	if (!listcmd_decode(&a, c->addr, c->addrlen) || !str_nul(&a))
		confirm_refuse(l, sender, "the address in it is not valid");
	if (!cookie_ok(l, c, sub ? "sc" : "uc", a.s, a.len))
		confirm_refuse(l, sender, "the confirmation code is not valid");
	if (c->num > now + 3600 || now - c->num > COOKIE_DAYS * 86400UL)
		confirm_refuse(l, sender, "the confirmation has expired; ask again");
	if (!addreq(sender, strlen(sender), a.s, a.len))
		confirm_refuse(l, sender, "it must come from the address being confirmed");
	lock(l);
	load(l, l->dir);	/* again, under the lock */
	/* else whoever saw the address could undo a later change with it */
	if (cookie_used(l, c))
		confirm_refuse(l, sender, "the confirmation has been used already; ask again");
	if (sub && find(&l->subs, sender, strlen(sender)) == NULL)
		save_subs(l, NULL, 0, sender, strlen(sender));
	else if (!sub && find(&l->subs, sender, strlen(sender)) != NULL)
		save_subs(l, sender, strlen(sender), NULL, 0);
	{
		struct str b = STR_ZERO;

		if (!str_cats(&b, sub ? "You are now subscribed to " : "You are no longer subscribed to ") ||
		    !str_cat(&b, &l->addr) || !str_cats(&b, ".\n\n"))
			die_nomem();
		helptext(&b, l);
		if (!str_nul(&b))
			die_nomem();
		reply(l, sender, sub ? "welcome" : "goodbye", b.s, NULL, 0);
		str_free(&b);
	}
	/* last: should the reply fail, the retried delivery finds the code
	 * unused, changes nothing more and answers again */
	cookie_spend(l, c, c->num + COOKIE_DAYS * 86400UL);
	done(EXIT_OK, sub ? "qmail-list: subscribed " : "qmail-list: unsubscribed ", sender, NULL);
}

/* bouncefile - bounce/ADDRESS-IN-HEX into out */
static void
bouncefile(struct str *out, const char *a, size_t n)
{
	static const char digits[] = "0123456789abcdef";
	size_t i;

	if (!str_copys(out, "bounce/"))
		die_nomem();
	for (i = 0; i < n; i++) {
		unsigned char ch = (unsigned char)a[i];

		if (ch >= 'A' && ch <= 'Z')
			ch = (unsigned char)(ch + 32);
		if (!str_catc(out, digits[ch >> 4]) || !str_catc(out, digits[ch & 15]))
			die_nomem();
	}
	if (!str_nul(out))
		die_nomem();
}

/* bounce - a post to a subscriber bounced: count, probe at the limit */
static void __attribute__((noreturn))
bounce(struct list *l, const struct listcmd *c)
{
	struct str a = STR_ZERO, bf = STR_ZERO, fn = STR_ZERO, st = STR_ZERO, w = STR_ZERO;
	struct str ck = STR_ZERO, enc = STR_ZERO, b = STR_ZERO;
	unsigned long now = (unsigned long)time(NULL), count = 0, first = now, limit;
	const char *sub;
	char nb[FMT_ULONG + 1];
	int r;

	if (!listcmd_decode(&a, c->addr, c->addrlen) || !str_nul(&a))
		done(EXIT_OK, "qmail-list: ignored a bounce for an unusable address", NULL, NULL);
	lock(l);
	load(l, l->dir);
	if ((sub = find(&l->subs, a.s, a.len)) == NULL)
		done(EXIT_OK, "qmail-list: ignored a bounce for ", a.s, ", not subscribed");
	if (!str_copys(&a, sub) || !str_nul(&a))	/* the subscriber as written */
		die_nomem();
	bouncefile(&bf, a.s, a.len);
	r = control_readline(path(&fn, l, bf.s), &st);
	if (r == -1 && errno != EINVAL)
		die_sys(EXIT_TEMP, "unable to read ", fn.s);
	if (r == 1) {
		size_t sp = str_chrb(st.s, st.len, ' ');

		if (sp == st.len || !scan_ulong(st.s, sp, &count) ||
		    !scan_ulong(st.s + sp + 1, st.len - sp - 1, &first) || first > now)
			count = 0, first = now;
	}
	if (now - first > BOUNCEDAYS * 86400UL)
		count = 0, first = now;
	count++;
	limit = setting_ulong(l, "bouncelimit", BOUNCELIMIT_DEFAULT);
	if (!str_catulong(&w, count) || !str_catc(&w, ' ') || !str_catulong(&w, first) ||
	    !str_catc(&w, '\n'))
		die_nomem();
	writefile(l, bf.s, w.s, w.len);
	nb[fmt_ulong(nb, count)] = 0;
	if (count < limit)
		done(EXIT_OK, "qmail-list: bounce counted for ", a.s, count == 1 ? " (1)" : "");
	/* the probe: its own bounce address, with a cookie, removes */
	if (!listcmd_encode(&enc, a.s, a.len))
		done(EXIT_OK, "qmail-list: cannot probe ", a.s, NULL);
	cookie(&ck, l, "probe", now, a.s, a.len);
	if (!str_copys(&w, "probe.") || !str_catulong(&w, now) || !str_catc(&w, '.') ||
	    !str_cat(&w, &ck) || !str_catc(&w, '-') || !str_cat(&w, &enc) || !str_nul(&w))
		die_nomem();
	if (!str_cats(&b, "Mail from the list ") || !str_cat(&b, &l->addr) || !str_cats(&b, " to ") ||
	    !str_cat(&b, &a) || !str_cats(&b, " has bounced ") || !str_cats(&b, nb) ||
	    !str_cats(&b, " times.\nThis message is a probe: if it bounces too, the address is "
	    "removed from the list.\nNothing needs to be done if it arrives.\n\n"))
		die_nomem();
	helptext(&b, l);
	{
		struct str m = STR_ZERO, from = STR_ZERO, rc = STR_ZERO;
		char date[DATE822_LEN];
		int fd;

		(void)date822_fmt(date, time(NULL));
		if (!str_cats(&m, "From: ") || !str_cats(&m, cmdaddr(&from, l, "help", NULL)) ||
		    !str_cats(&m, "\nTo: ") || !str_cat(&m, &a) || !str_cats(&m, "\nSubject: probe: mail to you from ") ||
		    !str_cat(&m, &l->addr) || !str_cats(&m, " bounced\nDate: ") || !str_cats(&m, date) ||
		    !str_cats(&m, "\nAuto-Submitted: auto-generated\n"))
			die_nomem();
		listheaders(&m, l);
		if (!str_catc(&m, '\n') || !str_cat(&m, &b))
			die_nomem();
		fd = str_tofile(l, &m);
		if (!str_copyb(&rc, a.s, a.len) || !str_catc(&rc, 0))
			die_nomem();
		inject(fd, cmdaddr(&from, l, w.s, NULL), rc.s, rc.len);
		if (close(fd) == -1)
			die_sys(EXIT_TEMP, "unable to close a temporary file");
		str_free(&m);
		str_free(&from);
		str_free(&rc);
	}
	done(EXIT_OK, "qmail-list: probe sent to ", a.s, NULL);
}

/* probe_bounce - the probe bounced too: the subscriber goes */
static void __attribute__((noreturn))
probe_bounce(struct list *l, const struct listcmd *c)
{
	struct str a = STR_ZERO, bf = STR_ZERO, fn = STR_ZERO, b = STR_ZERO;
	const char *sub;
	unsigned long now = (unsigned long)time(NULL);

	if (!listcmd_decode(&a, c->addr, c->addrlen) || !str_nul(&a))
		done(EXIT_OK, "qmail-list: ignored a probe bounce for an unusable address", NULL, NULL);
	if (!cookie_ok(l, c, "probe", a.s, a.len) || c->num > now + 3600 ||
	    now - c->num > BOUNCEDAYS * 86400UL)
		done(EXIT_OK, "qmail-list: ignored a probe bounce with a bad or old code for ", a.s, NULL);
	lock(l);
	load(l, l->dir);
	/* a probe's code removes once: not again after a new subscription */
	if (cookie_used(l, c))
		done(EXIT_OK, "qmail-list: ignored a probe bounce whose code was used already for ", a.s, NULL);
	if ((sub = find(&l->subs, a.s, a.len)) == NULL) {
		cookie_spend(l, c, c->num + BOUNCEDAYS * 86400UL);
		done(EXIT_OK, "qmail-list: probe bounced for ", a.s, ", no longer subscribed");
	}
	if (!str_copys(&a, sub) || !str_nul(&a))
		die_nomem();
	save_subs(l, a.s, a.len, NULL, 0);
	bouncefile(&bf, a.s, a.len);
	if (unlink(path(&fn, l, bf.s)) == -1 && errno != ENOENT)
		die_sys(EXIT_TEMP, "unable to remove ", fn.s);
	cookie_spend(l, c, c->num + BOUNCEDAYS * 86400UL);
	if (l->owner.len && answerable(l, l->owner.s)) {
		if (!str_cats(&b, "The address ") || !str_cat(&b, &a) || !str_cats(&b,
		    " was removed from ") || !str_cat(&b, &l->addr) ||
		    !str_cats(&b, ": its mail bounced repeatedly and so did a probe.\n") || !str_nul(&b))
			die_nomem();
		reply(l, l->owner.s, "subscriber removed after bounces", b.s, NULL, 0);
	}
	done(EXIT_OK, "qmail-list: removed ", a.s, " after repeated bounces");
}

/* moderate - a moderator accepts or rejects held post c->num */
static void __attribute__((noreturn))
moderate(struct list *l, const struct listcmd *c, const char *sender)
{
	struct str fn = STR_ZERO, held = STR_ZERO, m = STR_ZERO, b = STR_ZERO;
	int acc = c->cmd == LISTCMD_ACCEPT, r;
	size_t nl;
	char nb[FMT_ULONG + 1];

	nb[fmt_ulong(nb, c->num)] = 0;
	if (!cookie_ok(l, c, acc ? "accept" : "reject", "", 0)) {
		if (answerable(l, sender)) {
			if (!str_cats(&b, "The moderation code for post ") || !str_cats(&b, nb) ||
			    !str_cats(&b, " is not valid; nothing was done.\n") || !str_nul(&b))
				die_nomem();
			reply(l, sender, "moderation refused", b.s, NULL, 0);
		}
		done(EXIT_OK, "qmail-list: refused a moderation with a bad code", NULL, NULL);
	}
	lock(l);
	if (!str_copys(&held, "held/") || !str_cats(&held, nb) || !str_nul(&held))
		die_nomem();
	r = control_readfile(path(&fn, l, held.s), &m, 64UL * 1024 * 1024);
	if (r == -1)
		die_sys(EXIT_TEMP, "unable to read ", fn.s);
	if (r == 0) {
		if (answerable(l, sender)) {
			if (!str_cats(&b, "Post ") || !str_cats(&b, nb) ||
			    !str_cats(&b, " is no longer waiting: it was accepted or rejected already.\n") ||
			    !str_nul(&b))
				die_nomem();
			reply(l, sender, "nothing to moderate", b.s, NULL, 0);
		}
		done(EXIT_OK, "qmail-list: held post ", nb, " already handled");
	}
	nl = str_chrb(m.s, m.len, '\n');
	if (nl == m.len)
		die(EXIT_TEMP, "damaged held post ", fn.s);
	m.s[nl] = 0;
	if (acc)
		(void)distribute(l, m.s + nl + 1, m.len - nl - 1);	/* and archived when that is on */
	else if (answerable(l, m.s)) {
		if (!str_cats(&b, "Your post to ") || !str_cat(&b, &l->addr) ||
		    !str_cats(&b, " was not accepted by the moderator.\n") || !str_nul(&b))
			die_nomem();
		reply(l, m.s, "your post was rejected", b.s, NULL, 0);
	}
	if (unlink(fn.s) == -1)
		die_sys(EXIT_TEMP, "unable to remove ", fn.s);
	done(EXIT_OK, acc ? "qmail-list: accepted held post " : "qmail-list: rejected held post ", nb, NULL);
}

/* archived_open - the archived post at Maildir/where (where from
 * archive.index, "new/NAME"), or where a mail reader moved it, cur/NAME:
 * flags; a descriptor, or -1 with errno (ENOENT: it is gone) */
static int
archived_open(const struct list *l, const char *where)
{
	struct str fn = STR_ZERO;
	struct dirent *e;
	const char *name;
	size_t n;
	DIR *d;
	int fd, err;

	if (!str_copys(&fn, l->dir) || !str_cats(&fn, "/Maildir/") || !str_cats(&fn, where) ||
	    !str_nul(&fn))
		die_nomem();
	if ((fd = open(fn.s, O_RDONLY | O_CLOEXEC)) != -1 || errno != ENOENT || !str_start(where, "new/"))
		goto out;
	name = where + 4;
	n = strlen(name);
	if ((d = opendir(path(&fn, l, "Maildir/cur"))) == NULL)
		goto out;
	errno = ENOENT;
	while ((e = readdir(d)) != NULL)
		if (str_start(e->d_name, name) && e->d_name[n] == ':') {
			if (!str_copys(&fn, l->dir) || !str_cats(&fn, "/Maildir/cur/") ||
			    !str_cats(&fn, e->d_name) || !str_nul(&fn))
				die_nomem();
			fd = open(fn.s, O_RDONLY | O_CLOEXEC);
			break;
		}
	err = errno;
	(void)closedir(d);	/* read-only */
	errno = err;
out:
	str_free(&fn);
	return fd;
}

/* archived_find - the place (new/NAME) of archived post nb in archive.index
 * into where: 1 found, 0 not */
static int
archived_find(const struct list *l, const char *nb, struct str *where)
{
	struct str fn = STR_ZERO, idx = STR_ZERO;
	size_t i, k, sp, nn = strlen(nb);
	int found = 0;

	if (control_readfile(path(&fn, l, "archive.index"), &idx, 64UL * 1024 * 1024) == -1)
		die_sys(EXIT_TEMP, "unable to read ", fn.s);
	for (i = 0; !found && i < idx.len; i += k + 1) {
		k = str_chrb(idx.s + i, idx.len - i, '\n');
		sp = str_chrb(idx.s + i, k, ' ');
		if (sp < k && sp == nn && memcmp(idx.s + i, nb, nn) == 0) {
			if (!str_copyb(where, idx.s + i + sp + 1, k - sp - 1) || !str_nul(where))
				die_nomem();
			found = 1;
		}
	}
	str_free(&fn);
	str_free(&idx);
	return found;
}

/* get - archived post N to the sender, all of it: the copy is streamed
 * from the archive into the reply, not held in memory */
static void __attribute__((noreturn))
get(struct list *l, const struct listcmd *c, const char *sender)
{
	struct str where = STR_ZERO, m = STR_ZERO, b = STR_ZERO, subj = STR_ZERO;
	char nb[FMT_ULONG + 1], x[65536], last = '\n';
	int fd = -1, out;
	long r;

	nb[fmt_ulong(nb, c->num)] = 0;
	if (!answerable(l, sender))
		done(EXIT_OK, "qmail-list: ignored get from an unusable sender", NULL, NULL);
	if (!setting_flag(l, "archive", 0)) {
		reply(l, sender, "no archive", "This list keeps no archive.\n", NULL, 0);
		done(EXIT_OK, "qmail-list: answered get.", nb, NULL);
	}
	if (archived_find(l, nb, &where) && (fd = archived_open(l, where.s)) == -1 && errno != ENOENT)
		die_sys(EXIT_TEMP, "unable to read archived post ", nb);
	if (fd == -1) {
		if (!str_cats(&b, "There is no archived post ") || !str_cats(&b, nb) ||
		    !str_cats(&b, ".\n") || !str_nul(&b))
			die_nomem();
		reply(l, sender, "no such archived post", b.s, NULL, 0);
		done(EXIT_OK, "qmail-list: answered get.", nb, NULL);
	}
	if (!str_copys(&subj, "archived post ") || !str_cats(&subj, nb) || !str_cats(&subj, " of ") ||
	    !str_cat(&subj, &l->addr) || !str_nul(&subj) || !str_cats(&b, "Archived post ") ||
	    !str_cats(&b, nb) || !str_cats(&b, ":\n") || !str_nul(&b))
		die_nomem();
	compose(&m, l, sender, subj.s, b.s);
	if (!str_cats(&m, QUOTE_MARK))
		die_nomem();
	out = str_tofile(l, &m);
	while ((r = fd_read(fd, x, sizeof x, 0)) > 0) {
		if (!fd_writeall(out, x, (size_t)r, 0))
			die_sys(EXIT_TEMP, "unable to write a temporary file");
		last = x[r - 1];
	}
	if (r == -1)
		die_sys(EXIT_TEMP, "unable to read archived post ", nb);
	if (close(fd) == -1)
		die_sys(EXIT_TEMP, "unable to close archived post ", nb);
	if (last != '\n' && !fd_writeall(out, "\n", 1, 0))
		die_sys(EXIT_TEMP, "unable to write a temporary file");
	send_reply(out, sender);
	done(EXIT_OK, "qmail-list: answered get.", nb, NULL);
}

/* deliver - mail to the list or one of its command addresses */
static void __attribute__((noreturn))
deliver(const char *dir)
{
	struct list l;
	struct listcmd c;
	struct str m = STR_ZERO, b = STR_ZERO;
	const char *sender = env_get("SENDER"), *ext = env_get("DEFAULT");

	if (sender == NULL)
		die(EXIT_TEMP, "$SENDER is not set: run me from a .qmail file");
	load(&l, dir);
	if (ext == NULL)
		post(&l, sender);
	if (listcmd_parse(ext, strlen(ext), &c) == 0) {
		/* garbage: say how to use the list, unless nobody may be told */
		(void)readmsg(&m, 1UL << 20);	/* only the header matters */
		if (answerable(&l, sender) && !automatic(m.s ? m.s : "", listcmd_headerlen(m.s ? m.s : "", m.len))) {
			if (!str_cats(&b, "The command address you wrote to is not one this list knows.\n\n"))
				die_nomem();
			helptext(&b, &l);
			if (!str_nul(&b))
				die_nomem();
			reply(&l, sender, "unknown list command", b.s, NULL, 0);
			done(EXIT_OK, "qmail-list: unknown command; help sent to ", sender, NULL);
		}
		done(EXIT_OK, "qmail-list: unknown command from an automatic sender; dropped", NULL, NULL);
	}
	switch (c.cmd) {
	case LISTCMD_RETURN:
	case LISTCMD_PROBE:
		/* A delivery status notification has a null envelope sender (RFC
		 * 5321 4.5.5, RFC 3464); mail with a sender (an out-of-office
		 * reply, a person) is no bounce and must never cost a subscriber. */
		if (*sender && !str_equal(sender, "#@[]"))
			done(EXIT_OK, "qmail-list: dropped mail with a sender sent to a ",
			    c.cmd == LISTCMD_RETURN ? "bounce address: not a bounce" :
			    "probe address: not a bounce", NULL);
		if (c.cmd == LISTCMD_RETURN)
			bounce(&l, &c);
		probe_bounce(&l, &c);
	default:
		break;
	}
	/* the rest answer a person: never a bounce, a robot or the list itself */
	(void)readmsg(&m, 1UL << 20);	/* only the header matters */
	if (!answerable(&l, sender) || automatic(m.s ? m.s : "", listcmd_headerlen(m.s ? m.s : "", m.len)))
		done(EXIT_OK, "qmail-list: command from an automatic or unusable sender dropped", NULL, NULL);
	switch (c.cmd) {
	case LISTCMD_HELP:
		helptext(&b, &l);
		if (!str_nul(&b))
			die_nomem();
		reply(&l, sender, "help", b.s, NULL, 0);
		done(EXIT_OK, "qmail-list: help sent to ", sender, NULL);
	case LISTCMD_SUB:
		confirm_request(&l, sender, "sc");
	case LISTCMD_UNSUB:
		confirm_request(&l, sender, "uc");
	case LISTCMD_SUBCONF:
	case LISTCMD_UNSUBCONF:
		confirm(&l, &c, sender);
	case LISTCMD_ACCEPT:
	case LISTCMD_REJECT:
		moderate(&l, &c, sender);
	case LISTCMD_GET:
		get(&l, &c, sender);
	}
	die(EXIT_TEMP, "internal error: unhandled command");
}

/* become_owner - run by root, act as the user who owns dir from here on:
 * setgroups, setgid to dir's group, setuid to its owner.  A dir that
 * root owns is worked in as root, but only when no one else may write
 * in it (else anyone who may could put a link there for root to follow);
 * one owned by a user but in group root is refused, for running in that
 * group would give the owner root's group. */
static void
become_owner(const char *dir)
{
	struct stat st;

	if (geteuid() != 0)
		return;
	if (stat(dir, &st) == -1)
		die_sys(EXIT_TEMP, "unable to stat ", dir);
	if (!S_ISDIR(st.st_mode))
		die(EXIT_TEMP, "not a directory: ", dir);
	if (st.st_uid == 0) {
		if ((st.st_mode & S_IWOTH) || ((st.st_mode & S_IWGRP) && st.st_gid != 0))
			die(EXIT_TEMP, "refusing to work as root in ", dir,
			    ": users other than root may write in it");
		return;
	}
	if (st.st_gid == 0)
		die(EXIT_TEMP, "refusing to work in group root in ", dir,
		    ": give the directory its owner's group");
	if (!priv_drop(st.st_uid, st.st_gid))
		die_sys(EXIT_TEMP, "unable to become the owner of ", dir);
}

/* safe - a path fit for a .qmail line run by /bin/sh, unquoted */
static int
safe(const char *s)
{
	if (*s != '/')
		return 0;
	for (; *s; s++)
		if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') || (*s >= '0' && *s <= '9') ||
		    *s == '/' || *s == '.' || *s == '_' || *s == '-' || *s == '+' || *s == ','))
			return 0;
	return 1;
}

static void
putfile(const char *fn, const char *s, int excl)
{
	int fd;

	if ((fd = open(fn, O_WRONLY | O_CREAT | O_CLOEXEC | (excl ? O_EXCL : O_TRUNC), 0600)) == -1)
		die_sys(EXIT_PERM, "unable to create ", fn);
	if (!fd_writeall(fd, s, strlen(s), 0) || fsync(fd) == -1 || close(fd) == -1)
		die_sys(EXIT_TEMP, "unable to write ", fn);
}

/* dotqmail_name - the part after the last '/' lower-cased, dots to colons
 * (the leading ".qmail" keeps its dot) */
static void
dotqmail_name(struct str *fn)
{
	size_t i = str_rchrb(fn->s, fn->len, '/') + 2;

	str_lowerb(fn->s + i - 1, fn->len - i + 1);
	for (; i < fn->len; i++)
		if (fn->s[i] == '.')
			fn->s[i] = ':';
}

/* mkparents - the missing directories above the last component of path
 * (trailing slashes aside), mode 700, as mkdir -p makes them; 1, or 0
 * with errno and path cut at the directory that could not be made */
static int
mkparents(char *path)
{
	size_t n = strlen(path), i;

	while (n > 1 && path[n - 1] == '/')
		n--;
	while (n > 0 && path[n - 1] != '/')
		n--;
	/* path[0..n) ends in the '/' before the last component */
	for (i = 1; i < n; i++) {
		if (path[i] != '/')
			continue;
		path[i] = 0;
		if (mkdir(path, 0700) == -1 && errno != EEXIST)
			return 0;
		path[i] = '/';
	}
	return 1;
}

/* make - a new list directory and the two .qmail files */
static void
make(int argc, char **argv)
{
	const char *home = env_get("HOME"), *ext = NULL, *owner = NULL, *dir, *addr;
	struct str d = STR_ZERO, fn = STR_ZERO, s = STR_ZERO, q1 = STR_ZERO, q2 = STR_ZERO, cwd = STR_ZERO;
	struct str e = STR_ZERO;
	unsigned char rnd[32];
	size_t at, i, dash;
	int fd, opt;

	while ((opt = getopt(argc, argv, "h:e:o:")) != -1)
		switch (opt) {
		case 'h': home = optarg; break;
		case 'e': ext = optarg; break;
		case 'o': owner = optarg; break;
		default: usage();
		}
	if (argc - optind != 2)
		usage();
	dir = argv[optind];
	addr = argv[optind + 1];
	if (!listcmd_addrok(addr, strlen(addr)) || str_chrb(addr, strlen(addr), '=') != strlen(addr))
		die(EXIT_PERM, "not a usable list address: ", addr);
	at = str_rchrb(addr, strlen(addr), '@');
	dash = str_chrb(addr, at, '-');
	if (ext == NULL) {
		if (dash == at)
			die(EXIT_PERM, "cannot tell the .qmail extension from ", addr, ": give -e");
		if (!str_copyb(&e, addr + dash + 1, at - dash - 1) || !str_nul(&e))
			die_nomem();
		ext = e.s;
	}
	if (*ext == 0 || str_chrb(ext, strlen(ext), '/') != strlen(ext) || ext[0] == '.')
		die(EXIT_PERM, "not a usable extension: ", ext);
	if (home == NULL || *home == 0)
		die(EXIT_PERM, "$HOME is not set: give -h");
	/* the .qmail files are the home owner's, and so is the list */
	become_owner(home);
	if (dir[0] != '/') {
		if (!str_readyplus(&cwd, 4096) || getcwd(cwd.s, cwd.cap) == NULL)
			die_sys(EXIT_TEMP, "unable to find the current directory");
		cwd.len = strlen(cwd.s);
		if (!str_catc(&cwd, '/'))
			die_nomem();
	}
	if (!str_cat(&d, &cwd) || !str_cats(&d, dir) || !str_nul(&d))
		die_nomem();
	if (!safe(d.s))
		die(EXIT_PERM, "the list directory's path may hold only letters, digits and / . _ - + , : ", d.s);
	/* the .qmail files first: a name taken stops everything */
	if (!str_copys(&q1, home) || !str_cats(&q1, "/.qmail-") || !str_cats(&q1, ext) || !str_nul(&q1) ||
	    !str_copyb(&q2, q1.s, q1.len) || !str_cats(&q2, "-default") || !str_nul(&q2))
		die_nomem();
	/* dot-qmail(5): the extension in lower case, each dot a colon */
	dotqmail_name(&q1);
	dotqmail_name(&q2);
	if (access(q1.s, F_OK) == 0 || access(q2.s, F_OK) == 0)
		die(EXIT_PERM, q1.s, " or its -default already exists: not touched");
	/* only an existing directory is the caller's mistake; a missing
	 * parent is made, and any other failure may pass */
	if (!mkparents(d.s))
		die_sys(EXIT_TEMP, "unable to create ", d.s);
	if (mkdir(d.s, 0700) == -1)
		die_sys(errno == EEXIST ? EXIT_PERM : EXIT_TEMP, "unable to create ", d.s);
	for (i = 0; i < 3; i++) {
		static const char *const sub[] = { "held", "bounce", "Maildir" };

		if (!str_copys(&fn, d.s) || !str_catc(&fn, '/') || !str_cats(&fn, sub[i]) || !str_nul(&fn))
			die_nomem();
		if (i < 2 ? mkdir(fn.s, 0700) == -1 : !maildir_make(fn.s))
			die_sys(EXIT_TEMP, "unable to create ", fn.s);
	}
#define PUT(name, text) do { \
	if (!str_copys(&fn, d.s) || !str_cats(&fn, "/" name) || !str_nul(&fn)) die_nomem(); \
	putfile(fn.s, (text), 1); } while (0)
	if (!str_copys(&s, addr) || !str_catc(&s, '\n') || !str_nul(&s))
		die_nomem();
	PUT("address", s.s);
	if (owner == NULL) {
		if (!str_copyb(&s, addr, dash < at ? dash : 0) || (dash == at && !str_cats(&s, "postmaster")) ||
		    !str_cats(&s, addr + at))
			die_nomem();
	} else if (!str_copys(&s, owner))
		die_nomem();
	if (!str_catc(&s, '\n') || !str_nul(&s))
		die_nomem();
	PUT("owner", s.s);
	PUT("subscribers", "");
	PUT("moderators", "");
	PUT("subonly", "1\n");
	PUT("moderated", "0\n");
	PUT("archive", "0\n");
	PUT("maxbytes", "1000000\n");
	PUT("bouncelimit", "3\n");
	if (!str_copys(&s, "[") || !str_cats(&s, ext) || !str_cats(&s, "]\n") || !str_nul(&s))
		die_nomem();
	PUT("prefix", s.s);
	if ((fd = open("/dev/urandom", O_RDONLY | O_CLOEXEC)) == -1 ||
	    fd_read(fd, (char *)rnd, sizeof rnd, 0) != (long)sizeof rnd || close(fd) == -1)
		die_sys(EXIT_TEMP, "unable to read /dev/urandom");
	s.len = 0;
	for (i = 0; i < sizeof rnd; i++)
		if (!str_catc(&s, "0123456789abcdef"[rnd[i] >> 4]) ||
		    !str_catc(&s, "0123456789abcdef"[rnd[i] & 15]))
			die_nomem();
	if (!str_catc(&s, '\n') || !str_nul(&s))
		die_nomem();
	PUT("secret", s.s);
#undef PUT
	if (!str_copys(&s, "|") || !str_cats(&s, auto_home) || !str_cats(&s, "/bin/qmail-list deliver ") ||
	    !str_cat(&s, &d) || !str_catc(&s, '\n') || !str_nul(&s))
		die_nomem();
	putfile(q1.s, s.s, 1);
	putfile(q2.s, s.s, 1);
	if (chmod(q1.s, 0644) == -1 || chmod(q2.s, 0644) == -1)
		die_sys(EXIT_TEMP, "unable to set the mode of ", q1.s);
}

/* an address of an owner's edit: a subscriber (pos its place in the
 * file) or an argument (pos its place on the command line) */
struct key {
	const char *s;
	size_t n;
	size_t pos;
};

/* key_cmp - the order of addreq (ASCII case folded), then of pos, so the
 * first of equal arguments is the one named first */
static int
key_cmp(const void *a, const void *b)
{
	const struct key *x = a, *y = b;
	size_t i, n = x->n < y->n ? x->n : y->n;
	unsigned char cx, cy;

	for (i = 0; i < n; i++) {
		cx = (unsigned char)str_lowerc(x->s[i]);
		cy = (unsigned char)str_lowerc(y->s[i]);
		if (cx != cy)
			return cx < cy ? -1 : 1;
	}
	if (x->n != y->n)
		return x->n < y->n ? -1 : 1;
	return x->pos < y->pos ? -1 : x->pos > y->pos;
}

/* subs_keys - the subscribers as keys, sorted: their number */
static size_t
subs_keys(const struct list *l, struct key **out)
{
	size_t i, k, n = 0;
	struct key *v;

	for (i = 0; i < l->subs.len; i += k + 1, n++)
		k = str_chrb(l->subs.s + i, l->subs.len - i, 0);
	if ((v = calloc(n ? n : 1, sizeof *v)) == NULL)
		die_nomem();
	for (i = n = 0; i < l->subs.len; i += k + 1, n++) {
		k = str_chrb(l->subs.s + i, l->subs.len - i, 0);
		v[n].s = l->subs.s + i;
		v[n].n = k;
		v[n].pos = n;
	}
	qsort(v, n, sizeof *v, key_cmp);
	*out = v;
	return n;
}

/* subs_lower - the first subscriber key not below a's address */
static size_t
subs_lower(const struct key *sub, size_t n, const struct key *a)
{
	struct key x = *a;
	size_t lo = 0, hi = n, mid;

	x.pos = 0;	/* below every subscriber of that address */
	while (lo < hi) {
		mid = lo + (hi - lo) / 2;
		if (key_cmp(&sub[mid], &x) < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

#define EDIT_BAD 0	/* not a usable address */
#define EDIT_DO 1	/* added or removed */
#define EDIT_NOOP 2	/* already in, or not in, the list */

/* edit_plan - what each argument does, decided all at once from the
 * sorted subscribers and arguments, so a run of n addresses costs
 * O(n log n), not a pass over the list each; *gone marks the
 * subscribers (in file order) that a removal drops: their number */
static size_t
edit_plan(const struct list *l, char **addrs, size_t na, int add,
    unsigned char *what, unsigned char **gone)
{
	struct key *sub, *arg;
	size_t ns, nv = 0, i, j, k;
	int in;

	ns = subs_keys(l, &sub);
	if ((arg = calloc(na, sizeof *arg)) == NULL ||
	    (*gone = calloc(ns ? ns : 1, 1)) == NULL)
		die_nomem();
	for (i = 0; i < na; i++) {
		arg[nv].s = addrs[i];
		arg[nv].n = strlen(addrs[i]);
		arg[nv].pos = i;
		what[i] = listcmd_addrok(arg[nv].s, arg[nv].n) ? EDIT_NOOP : EDIT_BAD;
		if (what[i] != EDIT_BAD)
			nv++;
	}
	qsort(arg, nv, sizeof *arg, key_cmp);
	for (i = 0; i < nv; i = j) {
		for (j = i + 1; j < nv && addreq(arg[j].s, arg[j].n, arg[i].s, arg[i].n); j++)
			;
		k = subs_lower(sub, ns, &arg[i]);
		in = k < ns && addreq(sub[k].s, sub[k].n, arg[i].s, arg[i].n);
		/* the first naming of an address acts; a repeat finds it done */
		if (add ? !in : in)
			what[arg[i].pos] = EDIT_DO;
		for (; !add && k < ns && addreq(sub[k].s, sub[k].n, arg[i].s, arg[i].n); k++)
			(*gone)[sub[k].pos] = 1;
	}
	free(sub);
	free(arg);
	return ns;
}

/* edit_write - the subscribers file after the first upto arguments */
static void
edit_write(const struct list *l, char **addrs, size_t upto, int add,
    const unsigned char *what, const unsigned char *gone)
{
	struct str out = STR_ZERO;
	size_t i;

	(void)subs_text(&out, l, NULL, 0, gone);
	for (i = 0; add && i < upto; i++)
		if (what[i] == EDIT_DO && (!str_cats(&out, addrs[i]) || !str_catc(&out, '\n')))
			die_nomem();
	writefile(l, "subscribers", out.s ? out.s : "", out.len);
	str_free(&out);
}

/* owner_edit - qmail-list add/remove DIR ADDRESS...: every change of
 * the run made in memory, the file written once, the messages and the
 * exit code those of one change at a time */
static void
owner_edit(const char *dir, char **addrs, int add)
{
	struct list l;
	unsigned char *what, *gone;
	size_t na, i, count;
	int bad = 0, changed = 0;

	load(&l, dir);
	lock(&l);
	load(&l, dir);
	for (na = 0; addrs[na]; na++)
		;
	if ((what = calloc(na, 1)) == NULL)
		die_nomem();
	count = edit_plan(&l, addrs, na, add, what, &gone);
	for (i = 0; i < na; i++) {
		if (what[i] == EDIT_BAD) {
			warn("not a usable address, skipped: ", addrs[i]);
			bad = 1;
		} else if (what[i] == EDIT_NOOP) {
			warn(add ? "already subscribed: " : "not subscribed: ", addrs[i]);
		} else if (add && count >= SUBSCRIBERS_MAX) {
			/* the ones before it are in, as if added one by one */
			if (changed)
				edit_write(&l, addrs, i, add, what, gone);
			die(EXIT_PERM, "the list is full: ", l.addr.s);
		} else {
			count++;
			changed = 1;
		}
	}
	if (changed)
		edit_write(&l, addrs, na, add, what, gone);
	if (bad)
		_exit(EXIT_PERM);
}

int
main(int argc, char **argv)
{
	struct list l;
	struct buf b;
	char bb[BUF_SIZE];
	size_t i, k;

	die_init(argv[0]);
	if (argc < 3)
		usage();
	/* qmail-local runs deliver as the list's owner already; run as root
	 * by hand it becomes the owner too, but not in a single-user
	 * install, whose one user (root, then) makes every delivery and
	 * alone may run its bin/qmail-queue */
	if (str_equal(argv[1], "deliver") && argc == 3) {
		if (!auto_single)
			become_owner(argv[2]);
		deliver(argv[2]);
	}
	if (str_equal(argv[1], "make")) {
		make(argc - 1, argv + 1);
		return EXIT_OK;
	}
	if (str_equal(argv[1], "add") && argc >= 4) {
		become_owner(argv[2]);
		owner_edit(argv[2], argv + 3, 1);
	} else if (str_equal(argv[1], "remove") && argc >= 4) {
		become_owner(argv[2]);
		owner_edit(argv[2], argv + 3, 0);
	} else if (str_equal(argv[1], "show") && argc == 3) {
		become_owner(argv[2]);
		load(&l, argv[2]);
		buf_init(&b, 1, bb, sizeof bb, 0);
		for (i = 0; i < l.subs.len; i += k + 1) {
			k = str_chrb(l.subs.s + i, l.subs.len - i, 0);
			if (!buf_put(&b, l.subs.s + i, k) || !buf_put(&b, "\n", 1))
				die_sys(EXIT_TEMP, "unable to write to stdout");
		}
		if (!buf_flush(&b))
			die_sys(EXIT_TEMP, "unable to write to stdout");
	} else
		usage();
	return EXIT_OK;
}
