/* qmail-inject - a message from a local program into the queue, its
 * header completed; by the name sendmail (or send-mail), the sendmail
 * command line; by the names mailq and newaliases, qmail-qread and
 * qmail-newaliases
 *
 * Run by any local user (cron, mail(1), scripts, web applications), with
 * the message on descriptor 0.  The message and the arguments are the
 * caller's and may be malformed; nothing here is privileged: the queue
 * program ($QMAILQUEUE, else bin/qmail-queue) checks the envelope again.
 * The header is read into memory (at most HEADMAX bytes), completed and
 * written; the body is copied through; then the envelope.  See
 * qmail-inject(8) and sendmail(8).
 */
#include <errno.h>
#include <fcntl.h>
#include <pwd.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "addrlist.h"
#include "auto.h"
#include "base64.h"
#include "buf.h"
#include "control.h"
#include "date822.h"
#include "die.h"
#include "env.h"
#include "envelope.h"
#include "qqfilter.h"
#include "sig.h"
#include "str.h"

#define HEADMAX (1024 * 1024)	/* bytes of header held in memory */
#define FIELDNAME_MAX 998	/* a longer name would not fit a line (RFC 5322 2.1.1) */

/* header fields by what is done with them (a field may be several) */
#define F_RCPT 1	/* To, Cc, Bcc: recipients of a new message */
#define F_RRCPT 2	/* Resent-To, -Cc, -Bcc: of a forwarded one */
#define F_DROP 4	/* not passed on (Bcc, Return-Path, Content-Length) */
#define F_ADDR 8	/* an address list: unqualified addresses completed */
#define F_FROM 16
#define F_DATE 32
#define F_MSGID 64
#define F_RFROM 128
#define F_RDATE 256
#define F_RMSGID 512
#define F_RETPATH 1024

static const struct {
	const char *name;
	int what;
} fields[] = {
	{ "to", F_RCPT | F_ADDR }, { "cc", F_RCPT | F_ADDR }, { "bcc", F_RCPT | F_ADDR | F_DROP },
	{ "resent-to", F_RRCPT | F_ADDR }, { "resent-cc", F_RRCPT | F_ADDR },
	{ "resent-bcc", F_RRCPT | F_ADDR | F_DROP },
	{ "from", F_FROM | F_ADDR }, { "sender", F_ADDR }, { "reply-to", F_ADDR },
	{ "resent-from", F_RFROM | F_ADDR }, { "resent-sender", F_ADDR },
	{ "resent-reply-to", F_ADDR }, { "mail-followup-to", F_ADDR }, { "mail-reply-to", F_ADDR },
	{ "errors-to", F_ADDR }, { "disposition-notification-to", F_ADDR },
	{ "return-receipt-to", F_ADDR }, { "date", F_DATE }, { "message-id", F_MSGID },
	{ "resent-date", F_RDATE }, { "resent-message-id", F_RMSGID },
	{ "return-path", F_RETPATH | F_DROP }, { "content-length", F_DROP },
};

struct field {
	size_t s, e;	/* in the header: the whole field, its final LF included */
	size_t colon;	/* offset of its ':' */
	int what;
};

struct inject {
	/* the command line */
	int print;		/* -n: write the message out, queue nothing */
	int use_args;		/* recipients from the arguments ... */
	int use_heads;		/* ... from the header */
	int dotend;		/* sendmail without -i: a line "." ends the message */
	const char *fsender;	/* -f, or NULL */
	const char *name;	/* -F, or NULL */
	const char *flags;	/* $QMAILINJECT */
	/* settings */
	struct str defaulthost, defaultdomain, plusdomain, idhost;
	struct str ours;	/* this machine's own names, "a\0b\0" */
	/* the message */
	struct str head;	/* the header fields, LF line ends */
	struct field *f;	/* in->fields, as an array of nf */
	struct str fields;
	size_t nf;
	int seen;		/* F_ bits of the fields present */
	struct str firstbody;	/* a body line that ended the header, with its LF */
	int midline;		/* ... or the start of one too long to hold, without */
	int ended;		/* the input ended in the header */
	/* the envelope */
	struct str sender;
	int have_sender;
	struct str rcpts;	/* "T" address NUL for each */
	unsigned long nrcpt;
	struct str fixed;	/* a field being rewritten */
	size_t copied;
	const char *field;	/* the field value parsed, NULL for an argument */
	int collect;		/* the field's addresses are recipients */
};

static void
nomem(void)
{
	die_nomem();
}

static void
usage(int sendmail)
{
	if (sendmail)
		die(EXIT_PERM, "usage: sendmail [-t] [-i] [-f sender] [-F name] [-bm|-bs|-bp] [recipient ...]");
	die(EXIT_PERM, "usage: qmail-inject [-nNaAhH] [-f sender] [-F name] [recipient ...]");
}

static int
has_flag(const struct inject *in, char c)
{
	return in->flags && strchr(in->flags, c) != NULL;
}

/* first_env - the first of the variables that is set and not empty */
static const char *
first_env(const char *a, const char *b, const char *c, const char *d)
{
	const char *names[4] = { a, b, c, d }, *v;
	int i;

	for (i = 0; i < 4 && names[i]; i++)
		if ((v = env_get(names[i])) && *v)
			return v;
	return NULL;
}

/* setting - control/NAME, else control/me, else "localhost"; an
 * environment variable, when set, first */
static void
setting(struct str *out, const char *var, const char *fn)
{
	const char *v = env_get(var);
	int r;

	if (v && *v) {
		if (!str_copys(out, v) || !str_nul(out))
			nomem();
		return;
	}
	if ((r = control_readline(fn, out)) == 0)
		r = control_readline(fn = "control/me", out);
	if (r == -1)
		die_sys(EXIT_TEMP, "unable to read ", fn);
	if ((r == 0 && !str_copys(out, "localhost")) || !str_nul(out))
		nomem();
}

static void
settings(struct inject *in)
{
	struct str me = STR_ZERO;

	if (chdir(auto_home) == -1)
		die_sys(EXIT_TEMP, "unable to switch to ", auto_home);
	setting(&in->defaulthost, "QMAILDEFAULTHOST", "control/defaulthost");
	setting(&in->defaultdomain, "QMAILDEFAULTDOMAIN", "control/defaultdomain");
	setting(&in->plusdomain, "QMAILPLUSDOMAIN", "control/plusdomain");
	setting(&in->idhost, "QMAILIDHOST", "control/idhost");
	/* names a dotless host is never completed from: a machine called
	 * "vm" must not send postmaster@vm to vm.vm */
	if (control_readlist("control/locals", &in->ours) == -1)
		die_sys(EXIT_TEMP, "unable to read ", "control/locals");
	if (control_readline("control/me", &me) == -1)
		die_sys(EXIT_TEMP, "unable to read ", "control/me");
	if (!str_catb(&in->ours, "localhost", 10) ||
	    !str_catb(&in->ours, me.s, me.len) || !str_catc(&in->ours, 0) ||
	    !str_catb(&in->ours, in->defaulthost.s, in->defaulthost.len + 1) ||
	    !str_catb(&in->ours, in->defaultdomain.s, in->defaultdomain.len + 1))
		nomem();
	str_free(&me);
}

/* ours - host[0..n) is one of this machine's own names (any case) */
static int
ours(const struct inject *in, const char *host, size_t n)
{
	size_t pos, len;

	for (pos = 0; pos < in->ours.len; pos += len + 1) {
		len = str_chrb(in->ours.s + pos, in->ours.len - pos, 0);
		if (len == n && str_caseeqb(in->ours.s + pos, host, n))
			return 1;
	}
	return 0;
}

/* passwd_entry - the passwd entry of our uid, NULL when there is none;
 * a lookup that failed (the name service down, a file unreadable) is
 * temporary trouble, not a missing entry: the sender would be wrong */
static struct passwd *
passwd_entry(void)
{
	struct passwd *pw;

	errno = 0;
	if ((pw = getpwuid(getuid())) != NULL)
		return pw;
	/* POSIX lets these, besides 0, mean "no such entry" */
	if (errno != 0 && errno != ENOENT && errno != ESRCH && errno != EBADF && errno != EPERM)
		die_sys(EXIT_TEMP, "unable to look up the passwd entry of our uid");
	return NULL;
}

/* the local user: $QMAILUSER, $MAILUSER, $USER, $LOGNAME, else the login
 * of our uid; the host: $QMAILHOST, $MAILHOST, else control/defaulthost */
static const char *
mailuser(void)
{
	const char *u = first_env("QMAILUSER", "MAILUSER", "USER", "LOGNAME");
	struct passwd *pw;

	if (u)
		return u;
	/* a uid without a passwd entry (a container, a cleared environment)
	 * is no reason to refuse, and one that will not pass: as qmail */
	if ((pw = passwd_entry()) == NULL)
		return "anonymous";
	return pw->pw_name;
}

static const char *
mailhost(const struct inject *in)
{
	const char *h = first_env("QMAILHOST", "MAILHOST", NULL, NULL);

	return h ? h : in->defaulthost.s;
}

/* --- addresses --- */

/* qualify - m's address completed into out: "user" gets @defaulthost,
 * "user@host+" becomes user@host.plusdomain, a host without a dot gets
 * .defaultdomain unless it is one of ours.  With in->fixed active, the
 * same edit is made there. */
static void
qualify(struct inject *in, const struct addrlist_addr *m, const char *field, struct str *out)
{
	const struct str *add = NULL;
	size_t at = 0, del = 0;
	const char *dot = ".";

	if (!str_copyb(out, m->addr, m->len))
		nomem();
	if (!m->has_domain) {
		add = &in->defaulthost, at = m->localend, dot = "@";
	} else if (!m->literal && m->addr[m->len - 1] == '+') {
		add = &in->plusdomain, at = m->domend - 1, del = 1;
		out->len--;
	} else if (!m->literal && str_chrb(m->addr + m->locallen + 1, m->len - m->locallen - 1, '.') ==
	    m->len - m->locallen - 1 && !ours(in, m->addr + m->locallen + 1, m->len - m->locallen - 1))
		add = &in->defaultdomain, at = m->domend;
	if (add && (!str_cats(out, dot) || !str_cat(out, add)))
		nomem();
	if (!str_nul(out))
		nomem();
	if (add && field) {
		/* the field's bytes up to the edit, then the addition */
		if (!str_catb(&in->fixed, field + in->copied, at - in->copied) ||
		    !str_cats(&in->fixed, dot) || !str_cat(&in->fixed, add))
			nomem();
		in->copied = at + del;
	}
}

static void
add_rcpt(struct inject *in, const char *a, size_t n)
{
	if (n > ENVELOPE_ADDR_MAX)
		die(EXIT_PERM, "recipient address longer than 1000 bytes: ", a);
	if (++in->nrcpt > ENVELOPE_RCPT_MAX)
		die(EXIT_PERM, "more than 100000 recipients");
	if (!str_catc(&in->rcpts, 'T') || !str_catb(&in->rcpts, a, n) || !str_catc(&in->rcpts, 0))
		nomem();
}

/* in_list - addrlist callback for a header field (in->field) or a
 * recipient argument (in->field NULL, in->collect set) */
static int
in_list(void *arg, const struct addrlist_addr *m)
{
	struct inject *in = arg;
	struct str a = STR_ZERO;

	qualify(in, m, in->field, &a);
	if (in->collect)
		add_rcpt(in, a.s, a.len);
	str_free(&a);
	return 1;
}

/* one_addr - the single address of s (the -f or Return-Path value)
 * into out, qualified; 1, or 0 when s is not one address.  "<>" and an
 * empty s are the null sender. */
struct one {
	struct inject *in;
	struct str *out;
	int n;
};

static int
in_one(void *arg, const struct addrlist_addr *m)
{
	struct one *o = arg;

	if (o->n++)
		return errno = EINVAL, 0;
	qualify(o->in, m, NULL, o->out);
	return 1;
}

static int
one_addr(struct inject *in, const char *s, size_t n, struct str *out)
{
	struct one o;

	o.in = in, o.out = out, o.n = 0;
	out->len = 0;
	if (!addrlist_parse(s, n, in_one, &o)) {
		if (errno == ENOMEM)
			nomem();
		return 0;
	}
	if (!str_nul(out))
		nomem();
	return 1;
}

/* --- the header --- */

static int
is_fieldname(char c)
{
	return c > 32 && c < 127 && c != ':';
}

/* field_start - line is a field's first line: its ':' offset, else 0 */
static size_t
field_start(const char *p, size_t n)
{
	size_t i = 0;

	while (i < n && is_fieldname(p[i]))
		i++;
	if (i == 0)
		return 0;
	while (i < n && (p[i] == ' ' || p[i] == '\t'))	/* obsolete "Name :" */
		i++;
	return i < n && p[i] == ':' ? i : 0;
}

static void
add_field(struct inject *in, size_t s, size_t colon)
{
	struct field f;
	size_t i, k;

	f.s = s;
	f.e = s;
	f.colon = colon;
	f.what = 0;
	k = colon - s;
	while (k > 0 && (in->head.s[s + k - 1] == ' ' || in->head.s[s + k - 1] == '\t'))
		k--;
	for (i = 0; i < sizeof fields / sizeof fields[0]; i++)
		if (strlen(fields[i].name) == k && str_caseeqb(in->head.s + s, fields[i].name, k))
			f.what = fields[i].what;
	in->seen |= f.what;
	/* the fields live in a str as an array (malloc aligns for any type) */
	if (!str_catb(&in->fields, (const char *)&f, sizeof f))
		nomem();
	in->f = (struct field *)(void *)in->fields.s;
	in->nf++;
}

/* no_field - p[0..n), the start of a line cut short, can begin no field
 * whatever follows: a byte no field name has comes before any ':', or
 * the name would be longer than a line may be (RFC 5322 2.1.1).  A blank
 * first byte makes it a continuation line when cont, so header. */
static int
no_field(const char *p, size_t n, int cont)
{
	size_t i = 0;

	if (n > 0 && (p[0] == ' ' || p[0] == '\t'))
		return !cont;
	while (i < n && is_fieldname(p[i]))
		i++;
	if (i == 0 || i > FIELDNAME_MAX)
		return n > 0;
	while (i < n && (p[i] == ' ' || p[i] == '\t'))
		i++;
	return i < n && p[i] != ':';
}

/* is_dotline - a line of a lone "." (its LF, and a CR before it, gone) */
static int
is_dotline(const struct str *l)
{
	return l->len == 1 && l->s[0] == '.';
}

/* read_header - fields from descriptor 0 until an empty line, a line
 * that is no field, or the end.  The header kept may be HEADMAX bytes
 * (LF line ends); a line is read with room for what is left of that and
 * for the empty line that ends a full header.  A line cut short there
 * is the start of the body only when its first bytes already rule out a
 * field; else the header is too long, though the cut fell inside a
 * field name: taking the rest of the header for body would lose its
 * recipients without a word. */
static void
read_header(struct inject *in, struct buf *b)
{
	struct str l = STR_ZERO;
	size_t colon, start;
	int r, nl;

	for (;;) {
		l.len = 0;
		r = buf_getline(b, &l, '\n', HEADMAX - in->head.len + 2);
		if (r == -1 && errno == EMSGSIZE && no_field(l.s, l.len, in->nf > 0)) {
			/* a long line that is no field: the body began without
			 * an empty line, and a body line may be of any length */
			if (!str_copyb(&in->firstbody, l.s, l.len))
				nomem();
			in->midline = 1;
			break;
		}
		if (r == -1 && errno == EMSGSIZE)
			die(EXIT_PERM, "the header is longer than 1048576 bytes");
		if (r == -1)
			die_sys(EXIT_TEMP, "unable to read the message");
		nl = r == 1;
		if (nl)
			l.len--;
		if (l.len > 0 && l.s[l.len - 1] == '\r' && nl)
			l.len--;
		if (!nl && l.len == 0) {
			in->ended = 1;
			break;
		}
		if (in->dotend && is_dotline(&l)) {
			in->ended = 1;
			break;
		}
		if (l.len == 0)
			break;
		/* an mbox "From " line before the header is no field (but
		 * "From : x", obsolete syntax, is one) */
		if (in->head.len == 0 && l.len >= 5 && memcmp(l.s, "From ", 5) == 0 &&
		    field_start(l.s, l.len) == 0)
			continue;
		if ((l.s[0] == ' ' || l.s[0] == '\t') && in->nf > 0)
			colon = 0;	/* a continuation line of the field before */
		else if ((colon = field_start(l.s, l.len)) == 0) {
			/* the body began without an empty line: one is added */
			if (!str_copyb(&in->firstbody, l.s, l.len) || !str_catc(&in->firstbody, '\n'))
				nomem();
			in->ended = !nl;
			break;
		}
		if (l.len + 1 > HEADMAX - in->head.len)
			die(EXIT_PERM, "the header is longer than 1048576 bytes");
		start = in->head.len;
		if (!str_catb(&in->head, l.s, l.len) || !str_catc(&in->head, '\n'))
			nomem();
		if (colon)
			add_field(in, start, start + colon);
		in->f[in->nf - 1].e = in->head.len;
		if (!nl) {
			in->ended = 1;
			break;
		}
	}
	str_free(&l);
}

#define LINE_FOLD 78	/* characters a header line should not pass (RFC 5322 2.1.1) */

/* member_end - the offset of the comma that ends the address list
 * member starting at v[i], else n: a comma inside quotes, a comment, a
 * domain literal or angle brackets (an obsolete route) is no separator */
static size_t
member_end(const char *v, size_t n, size_t i)
{
	int quote = 0, literal = 0, angle = 0;
	unsigned long comment = 0;

	for (; i < n; i++) {
		if ((quote || literal || comment) && v[i] == '\\')
			i++;	/* a quoted-pair: the next byte is taken as it is */
		else if (quote)
			quote = v[i] != '"';
		else if (literal)
			literal = v[i] != ']';
		else if (comment) {
			if (v[i] == '(')
				comment++;	/* comments nest */
			else if (v[i] == ')')
				comment--;
		} else if (v[i] == '"')
			quote = 1;
		else if (v[i] == '[')
			literal = 1;
		else if (v[i] == '(')
			comment = 1;
		else if (v[i] == '<')
			angle = 1;
		else if (v[i] == '>')
			angle = 0;
		else if (v[i] == ',' && !angle)
			return i;
	}
	return n;
}

/* cat_col - p[0..n) appended to out; *col follows the length of its
 * last line */
static void
cat_col(struct str *out, const char *p, size_t n, size_t *col)
{
	size_t i;

	if (!str_catb(out, p, n))
		nomem();
	for (i = 0; i < n; i++)
		*col = p[i] == '\n' ? 0 : *col + 1;
}

/* fold_list - the address list v[0..n) appended to out, whose last line
 * holds col characters, folded ("\n " in place of the white space after
 * a comma) before each member that would take a line past LINE_FOLD:
 * completed addresses make a field longer, and SMTP refuses a line of
 * more than 998 (RFC 5322 2.1.1, 2.2.3).  Where the author folded, the
 * field is left as it is; a member longer than a line stays whole. */
static void
fold_list(struct str *out, const char *v, size_t n, size_t col)
{
	size_t i = 0, e, k, w;

	for (;;) {
		e = member_end(v, n, i);
		if (i > 0) {
			for (k = i; k < e && (v[k] == ' ' || v[k] == '\t'); k++)
				;
			/* its first line, and the comma after it when on it */
			w = str_chrb(v + k, e - k, '\n');
			if (k + w == e && e < n)
				w++;
			if (k < e && v[k] != '\n' && col + w > LINE_FOLD) {
				cat_col(out, "\n ", 2, &col);
				i = k;
			}
		}
		cat_col(out, v + i, e - i, &col);
		if (e == n)
			return;
		cat_col(out, ",", 1, &col);
		i = e + 1;
	}
}

/* fix_fields - complete the addresses of every address field, take
 * recipients and the sender from the header when asked to */
static void
fix_fields(struct inject *in, int resent)
{
	struct str out = STR_ZERO;
	size_t i, vs, ve;
	struct field *f;

	for (i = 0; i < in->nf; i++) {
		f = &in->f[i];
		vs = f->colon + 1;
		ve = f->e - 1;
		if (f->what & F_RETPATH && in->fsender == NULL && !has_flag(in, 's') &&
		    !in->have_sender) {
			if (one_addr(in, in->head.s + vs, ve - vs, &in->sender))
				in->have_sender = 1;
		}
		if (!(f->what & F_ADDR) || (f->what & F_DROP && !in->use_heads))
			continue;
		in->collect = in->use_heads && (f->what & (resent ? F_RRCPT : F_RCPT));
		in->fixed.len = 0;
		in->copied = 0;
		in->field = in->head.s + vs;	/* head does not change while it is parsed */
		if (!addrlist_parse(in->field, ve - vs, in_list, in)) {
			if (errno == ENOMEM)
				nomem();
			if (in->collect) {
				if (!str_copyb(&out, in->head.s + f->s, f->colon - f->s) || !str_nul(&out))
					nomem();
				die(EXIT_PERM, "unable to read the recipients in the ", out.s,
				    " field: it is not an address list");
			}
			continue;	/* left as it is */
		}
		if (in->copied == 0)
			continue;
		/* the field rebuilt: name, the value with its edits, folded */
		if (!str_catb(&in->fixed, in->head.s + vs + in->copied, ve - vs - in->copied) ||
		    !str_copyb(&out, in->head.s + f->s, vs - f->s))
			nomem();
		fold_list(&out, in->fixed.s, in->fixed.len, vs - f->s);
		if (!str_catc(&out, '\n'))
			nomem();
		/* kept beside the header: fields point into in->head, so the
		 * new text goes at its end and the field is moved there */
		f->s = in->head.len;
		if (!str_cat(&in->head, &out))
			nomem();
		f->colon = f->s + str_chrb(out.s, out.len, ':');
		f->e = in->head.len;
	}
	str_free(&out);
}

#define NAME_MAX_ 200	/* bytes of a name used in an added From */
#define WORD_BYTES 45	/* bytes in one encoded word: 60 of base64, 75 in all */

/* utf8_ok - p[0..n) is well-formed UTF-8 (overlong forms not looked for) */
static int
utf8_ok(const unsigned char *p, size_t n)
{
	size_t i = 0, k, more;

	while (i < n) {
		if (p[i] < 0x80)
			more = 0;
		else if (p[i] >= 0xc2 && p[i] <= 0xdf)
			more = 1;
		else if (p[i] >= 0xe0 && p[i] <= 0xef)
			more = 2;
		else if (p[i] >= 0xf0 && p[i] <= 0xf4)
			more = 3;
		else
			return 0;
		if (more >= n - i)
			return 0;
		for (k = 1; k <= more; k++)
			if ((p[i + k] & 0xc0) != 0x80)
				return 0;
		i += more + 1;
	}
	return 1;
}

/* encode_name - a display name for From: as it is when it is printable
 * ASCII (quoted when it must be), else RFC 2047 encoded words of at most
 * 75 characters, folded onto lines of their own: UTF-8 when the name is,
 * else taken as ISO-8859-1.  At most NAME_MAX_ bytes of it are used. */
static void
encode_name(struct str *out, const char *name)
{
	struct str b = STR_ZERO;
	size_t i, k, n = strlen(name);
	int plain = 1, quote = 0, utf8;
	const char *cs;

	utf8 = utf8_ok((const unsigned char *)name, n);
	if (n > NAME_MAX_) {
		n = NAME_MAX_;
		while (utf8 && n > 0 && ((unsigned char)name[n] & 0xc0) == 0x80)
			n--;	/* not in the middle of a character */
	}
	for (i = 0; i < n; i++) {
		unsigned char c = (unsigned char)name[i];

		if (c < 32 || c > 126)
			plain = 0;
		else if (!str_isalpha(name[i]) && !str_isdigit(name[i]) && !strchr(" !#$%&'*+-/=?^_`{|}~", c))
			quote = 1;
	}
	if (!plain) {
		cs = utf8 ? "=?UTF-8?B?" : "=?ISO-8859-1?B?";
		for (i = 0; i < n; i += k) {
			k = n - i < WORD_BYTES ? n - i : WORD_BYTES;
			while (utf8 && i + k < n && ((unsigned char)name[i + k] & 0xc0) == 0x80)
				k--;
			if ((i > 0 && !str_cats(out, "\n ")) || !base64_encode(name + i, k, &b) ||
			    !str_cats(out, cs) || !str_cat(out, &b) || !str_cats(out, "?="))
				nomem();
		}
		str_free(&b);
		return;
	}
	if (quote && !str_catc(out, '"'))
		nomem();
	for (i = 0; i < n; i++)
		if (((name[i] == '"' || name[i] == '\\') && !str_catc(out, '\\')) || !str_catc(out, name[i]))
			nomem();
	if (quote && !str_catc(out, '"'))
		nomem();
}

/* fullname - -F, $QMAILNAME, $MAILNAME, $NAME, else the passwd entry's
 * first comment field; NULL when none */
static const char *
fullname(const struct inject *in)
{
	const char *n = in->name ? in->name : first_env("QMAILNAME", "MAILNAME", "NAME", NULL);
	static char gecos[256];
	struct passwd *pw;
	size_t k;

	if (n || in->name)
		return n;
	if ((pw = passwd_entry()) == NULL || pw->pw_gecos == NULL)
		return NULL;
	k = str_chrb(pw->pw_gecos, strlen(pw->pw_gecos), ',');
	if (k == 0 || k >= sizeof gecos)
		return NULL;
	memcpy(gecos, pw->pw_gecos, k);
	gecos[k] = 0;
	return gecos;
}

/* added - the fields a message lacks: From, Date and Message-ID (their
 * Resent- forms for a forwarded message) */
static void
added(struct inject *in, int resent, struct str *out)
{
	char date[DATE822_LEN], stamp[32];
	const char *name = fullname(in);
	time_t now = time(NULL);
	struct tm *tm;

	int pass;

	/* a message gets its own From, Date and Message-ID when it has none
	 * (or they were dropped: QMAILINJECT f, i); a forwarded one gets the
	 * Resent- forms as well */
	for (pass = 0; pass <= resent; pass++) {
		const char *rs = pass ? "Resent-" : "";

		if (!(in->seen & (pass ? F_RFROM : F_FROM))) {
			if (!str_cats(out, rs) || !str_cats(out, "From: "))
				nomem();
			if (name && *name) {
				encode_name(out, name);
				if (!str_cats(out, " <"))
					nomem();
			}
			if (!str_cats(out, mailuser()) || !str_catc(out, '@') ||
			    !str_cats(out, mailhost(in)) || !str_cats(out, name && *name ? ">\n" : "\n"))
				nomem();
		}
		if (!(in->seen & (pass ? F_RDATE : F_DATE))) {
			date822_fmt(date, now);
			if (!str_cats(out, rs) || !str_cats(out, "Date: ") || !str_cats(out, date) ||
			    !str_catc(out, '\n'))
				nomem();
		}
		if (!(in->seen & (pass ? F_RMSGID : F_MSGID))) {
			if ((tm = gmtime(&now)) == NULL ||
			    strftime(stamp, sizeof stamp, "%Y%m%d%H%M%S", tm) == 0)
				die(EXIT_TEMP, "unable to format the time");
			if (!str_cats(out, rs) || !str_cats(out, "Message-ID: <") ||
			    !str_cats(out, stamp) || !str_catc(out, '.') ||
			    !str_catulong(out, (unsigned long)getpid()) ||
			    !str_cats(out, pass ? ".r.lanmail@" : ".lanmail@") ||
			    !str_cat(out, &in->idhost) || !str_cats(out, ">\n"))
				nomem();
		}
	}
}

/* --- the envelope --- */

static void
envelope_sender(struct inject *in)
{
	const char *u, *h;

	if (in->fsender) {
		if (!one_addr(in, in->fsender, strlen(in->fsender), &in->sender))
			die(EXIT_PERM, "the sender is not an address: ", in->fsender);
	} else if (!in->have_sender) {
		u = first_env("QMAILSUSER", NULL, NULL, NULL);
		h = first_env("QMAILSHOST", NULL, NULL, NULL);
		if (!str_copys(&in->sender, u ? u : mailuser()) || !str_catc(&in->sender, '@') ||
		    !str_cats(&in->sender, h ? h : mailhost(in)) || !str_nul(&in->sender))
			nomem();
	}
	if (in->sender.len > ENVELOPE_ADDR_MAX)
		die(EXIT_PERM, "sender address longer than 1000 bytes");
}

/* addr_cmp - the order of two addresses: their local parts byte for
 * byte (RFC 5321 lets a local part's case matter), then their domains in
 * any case (a domain's never does), so that bob@x.test and bob@X.TEST
 * are the one recipient; 0 when they are */
static int
addr_cmp(const char *x, const char *y)
{
	const char *ax = strrchr(x, '@'), *ay = strrchr(y, '@');
	size_t lx = ax ? (size_t)(ax - x) : strlen(x), ly = ay ? (size_t)(ay - y) : strlen(y);
	int r;
	char cx, cy;

	if ((r = memcmp(x, y, lx < ly ? lx : ly)) != 0)
		return r;
	if (lx != ly)
		return lx < ly ? -1 : 1;
	for (x += lx, y += ly; *x || *y; x++, y++)
		if ((cx = str_lowerc(*x)) != (cy = str_lowerc(*y)))
			return (unsigned char)cx < (unsigned char)cy ? -1 : 1;
	return 0;
}

/* dedupe - each recipient once (a To and a Bcc may name the same) */
static int
cmp_addr(const void *a, const void *b)
{
	return addr_cmp(*(const char *const *)a, *(const char *const *)b);
}

static void
dedupe(struct inject *in)
{
	struct str out = STR_ZERO;
	const char **v;
	size_t i, k, n = 0;

	if ((v = calloc(in->nrcpt, sizeof *v)) == NULL)
		nomem();
	for (i = 0; i < in->rcpts.len; i += strlen(in->rcpts.s + i) + 1)
		v[n++] = in->rcpts.s + i + 1;
	qsort(v, n, sizeof *v, cmp_addr);
	for (i = k = 0; i < n; i++) {
		if (i > 0 && addr_cmp(v[i], v[i - 1]) == 0)
			continue;
		if (!str_catc(&out, 'T') || !str_cats(&out, v[i]) || !str_catc(&out, 0))
			nomem();
		k++;
	}
	free(v);
	str_free(&in->rcpts);
	in->rcpts = out;
	in->nrcpt = k;
}

/* --- writing --- */

/* copy_body - the rest of descriptor 0 to out: CR LF made LF; with
 * dotend a line of a lone "." ends it; a last line gets its LF */
static int
copy_body(struct inject *in, struct buf *b, struct buf *out)
{
	enum { BOL, MID, CR, DOT, DOTCR } st = BOL;
	char x[BUF_SIZE];
	long r;
	long i;

	if (in->midline) {
		/* the rest of that line follows; a CR at the cut waits */
		st = MID;
		if (in->firstbody.s[in->firstbody.len - 1] == '\r') {
			in->firstbody.len--;
			st = CR;
		}
	}
	if (in->firstbody.len && !buf_put(out, in->firstbody.s, in->firstbody.len))
		return 0;
	if (in->ended)
		return 1;
	while ((r = buf_get(b, x, sizeof x)) > 0) {
		for (i = 0; i < r; i++) {
			char c = x[i];

			if (st == CR) {
				st = MID;
				if (c == '\n') {
					st = BOL;
					if (!buf_put(out, "\n", 1))
						return 0;
					continue;
				}
				if (!buf_put(out, "\r", 1))
					return 0;
			} else if (st == DOT || st == DOTCR) {
				if (c == '\n')
					return 1;
				if (c == '\r' && st == DOT) {
					st = DOTCR;
					continue;
				}
				if (!buf_put(out, ".\r", st == DOT ? 1 : 2))
					return 0;
				st = MID;
			}
			if (c == '\r') {
				st = CR;
				continue;
			}
			if (c == '.' && st == BOL && in->dotend) {
				st = DOT;
				continue;
			}
			if (!buf_put(out, &c, 1))
				return 0;
			st = c == '\n' ? BOL : MID;
		}
	}
	if (r == -1)
		die_sys(EXIT_TEMP, "unable to read the message");
	if (st == CR && !buf_put(out, "\r", 1))
		return 0;
	return st == BOL || st == DOT || st == DOTCR || buf_put(out, "\n", 1);
}

/* write_message - header, added fields, empty line, body; 0 when the
 * reader went away (its exit code says why) */
static int
write_message(struct inject *in, int resent, struct buf *b, int fd)
{
	struct str add = STR_ZERO;
	char x[BUF_SIZE];
	struct buf out;
	size_t i;

	buf_init(&out, fd, x, sizeof x, 0);
	for (i = 0; i < in->nf; i++)
		if (!(in->f[i].what & F_DROP) && !(has_flag(in, 'f') && in->f[i].what & F_FROM) &&
		    !(has_flag(in, 'i') && in->f[i].what & F_MSGID) &&
		    !buf_put(&out, in->head.s + in->f[i].s, in->f[i].e - in->f[i].s))
			return 0;
	added(in, resent, &add);
	if ((add.len && !buf_put(&out, add.s, add.len)) || !buf_put(&out, "\n", 1) ||
	    !copy_body(in, b, &out) ||
	    !buf_flush(&out))
		return 0;
	str_free(&add);
	return 1;
}

static void
queue(struct inject *in, int resent, struct buf *b)
{
	const char *prog = env_get("QMAILQUEUE");
	struct str env = STR_ZERO, why = STR_ZERO;
	int mfd, efd, code, ok;
	pid_t pid;

	if (prog == NULL || *prog == 0)
		prog = "bin/qmail-queue";	/* we are in auto_home */
	if (!str_catc(&env, 'F') || !str_cat(&env, &in->sender) || !str_catc(&env, 0) ||
	    !str_cat(&env, &in->rcpts) || !str_catc(&env, 0))
		nomem();
	if (!sig_ignore(SIGPIPE) || (pid = qq_spawn(prog, &mfd, &efd)) == -1)
		die_sys(EXIT_TEMP, "unable to run ", prog);
	ok = qq_close(mfd, efd, env.s, env.len, write_message(in, resent, b, mfd));
	if ((code = qq_reap(pid)) == -1)
		die_sys(EXIT_TEMP, "unable to wait for ", prog);
	if (code == 0 && !ok)
		die(EXIT_TEMP, "unable to write the message to ", prog);
	if (code != 0) {
		if (!qq_failure(&why, prog, code))
			nomem();
		die(qq_permanent(code) ? EXIT_PERM : EXIT_TEMP, why.s);
	}
	str_free(&env);
}

/* --- command lines --- */

/* optarg_of - the argument of an option letter at argv[*i][*j]: the rest
 * of that word, else the next word */
static const char *
optarg_of(char **argv, int *i, int j, int sendmail)
{
	if (argv[*i][j + 1])
		return argv[*i] + j + 1;
	if (argv[*i + 1] == NULL)
		usage(sendmail);
	return argv[++*i];
}

/* inject_opts - qmail-inject's options; the index of the first recipient */
static int
inject_opts(struct inject *in, int argc, char **argv)
{
	int i, j;

	in->use_args = in->use_heads = 1;	/* -A */
	for (i = 1; i < argc && argv[i][0] == '-' && argv[i][1]; i++) {
		if (strcmp(argv[i], "--") == 0)
			return i + 1;
		for (j = 1; argv[i][j]; j++) {
			switch (argv[i][j]) {
			case 'n': in->print = 1; break;
			case 'N': in->print = 0; break;
			case 'a': in->use_args = 1, in->use_heads = 0; break;
			case 'A': in->use_args = in->use_heads = 1; break;
			case 'h': in->use_args = 0, in->use_heads = 1; break;
			case 'H': in->use_args = in->use_heads = 2; break;
			case 'f': in->fsender = optarg_of(argv, &i, j, 0); goto nextword;
			case 'F': in->name = optarg_of(argv, &i, j, 0); goto nextword;
			default: usage(0);
			}
		}
nextword:	;
	}
	return i;
}

/* run - exec another program of ours, without arguments, in place of
 * this one */
static void
run(const char *prog)
{
	char *argv[2];

	argv[0] = (char *)prog;
	argv[1] = NULL;
	if (chdir(auto_home) == -1)
		die_sys(EXIT_TEMP, "unable to switch to ", auto_home);
	execv(prog, argv);
	die_sys(EXIT_TEMP, "unable to run ", prog);
}

/* sendmail_opts - the sendmail command line: -t headers and arguments,
 * -i/-oi lone dots kept, -f/-r sender, -F name, -bs an SMTP dialogue
 * on descriptors 0 and 1, -bp the queue; the rest accepted and ignored */
static int
sendmail_opts(struct inject *in, int argc, char **argv)
{
	int i, j;

	in->use_args = 1;
	in->dotend = 1;
	for (i = 1; i < argc && argv[i][0] == '-' && argv[i][1]; i++) {
		if (strcmp(argv[i], "--") == 0)
			return i + 1;
		for (j = 1; argv[i][j]; j++) {
			switch (argv[i][j]) {
			case 't': in->use_heads = 2; continue;
			case 'i': in->dotend = 0; continue;
			case 'v': case 'm': case 'U': case 'G': case 'n': continue;
			case 'f': case 'r': in->fsender = optarg_of(argv, &i, j, 1); break;
			case 'F': in->name = optarg_of(argv, &i, j, 1); break;
			case 'o':	/* -oi as -i; -oem, -odb, -oQ... ignored */
				if (argv[i][j + 1] == 'i' && argv[i][j + 2] == 0)
					in->dotend = 0;
				break;
			case 'B': case 'N': case 'R': case 'V': case 'L': case 'h': case 'C': case 'X':
				(void)optarg_of(argv, &i, j, 1);
				break;
			case 'q':	/* a queue run: qmail-send retries on its own */
				_exit(0);
			case 'b':
				switch (argv[i][j + 1]) {
				case 'm': break;
				case 's':
					if (env_set("RELAYCLIENT", "") == 0 || env_set("TCPREMOTEIP", "127.0.0.1") == 0 ||
					    (!env_get("TCPLOCALIP") && env_set("TCPLOCALIP", "127.0.0.1") == 0))
						nomem();
					run("bin/qmail-smtpd");
					break;
				case 'p':
					run("bin/qmail-qread");
					break;
				default:
					die(EXIT_PERM, "unsupported mode: ", argv[i]);
				}
				break;
			default:
				usage(1);
			}
			break;	/* the rest of the word was an argument */
		}
	}
	return i;
}

/* open_std - /dev/null on each of descriptors 0, 1 and 2 that is
 * closed: a file we open must not take the place of the message, of
 * where -n writes, or of where errors go, and the programs we start or
 * become inherit them */
static void
open_std(void)
{
	int fd;

	for (fd = 0; fd <= 2; fd++) {
		if (fcntl(fd, F_GETFD) != -1 || errno != EBADF)
			continue;
		/* the lowest free descriptor: this one, those below are open */
		if (open("/dev/null", O_RDWR) != fd)
			die_sys(EXIT_TEMP, "unable to open /dev/null");
	}
}

int
main(int argc, char **argv)
{
	struct inject in;
	const char *me = strrchr(argv[0], '/') ? strrchr(argv[0], '/') + 1 : argv[0];
	int sendmail, first, resent, i;
	char bx[BUF_SIZE];
	struct buf b;

	/* sendmail's other names: send-mail is sendmail, mailq its -bp,
	 * newaliases the program that reads the aliases file */
	sendmail = strcmp(me, "sendmail") == 0 || strcmp(me, "send-mail") == 0 ||
	    strcmp(me, "mailq") == 0 || strcmp(me, "newaliases") == 0;
	die_init(sendmail ? me : "qmail-inject");
	open_std();
	if (strcmp(me, "mailq") == 0)
		run("bin/qmail-qread");
	if (strcmp(me, "newaliases") == 0)
		run("bin/qmail-newaliases");
	/* a caller that ignores SIGCHLD would leave us unable to wait for
	 * the queue program's verdict */
	if (!sig_default(SIGCHLD))
		die_sys(EXIT_TEMP, "unable to reset SIGCHLD");
	memset(&in, 0, sizeof in);
	first = sendmail ? sendmail_opts(&in, argc, argv) : inject_opts(&in, argc, argv);
	in.flags = env_get("QMAILINJECT");
	settings(&in);

	/* the header, then the recipients its fields and the arguments give */
	buf_init(&b, 0, bx, sizeof bx, 0);
	read_header(&in, &b);
	resent = (in.seen & F_RRCPT) != 0;
	/* QMAILINJECT f and i: the caller's From and Message-ID replaced */
	if (has_flag(&in, 'f'))
		in.seen &= ~F_FROM;
	if (has_flag(&in, 'i'))
		in.seen &= ~F_MSGID;
	if (in.use_heads == 1 && in.use_args == 1 && first < argc)
		in.use_heads = 0;	/* -A: the arguments when there are any */
	in.field = NULL;
	in.collect = 1;
	if (in.use_args)
		for (i = first; i < argc; i++)
			if (!addrlist_parse(argv[i], strlen(argv[i]), in_list, &in)) {
				if (errno == ENOMEM)
					nomem();
				die(EXIT_PERM, "not a recipient address: ", argv[i]);
			}
	fix_fields(&in, resent);
	envelope_sender(&in);
	if (in.print) {
		if (!write_message(&in, resent, &b, 1))
			die_sys(EXIT_TEMP, "unable to write the message");
		return 0;
	}
	if (in.nrcpt == 0)
		die(EXIT_PERM, "no recipients");
	dedupe(&in);
	queue(&in, resent, &b);
	return 0;
}
