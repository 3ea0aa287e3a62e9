/* dsn.c - RFC 3464 bounces; see dsn.h */
#include <errno.h>
#include <string.h>
#include <sys/random.h>

#include "date822.h"
#include "dsn.h"

#define FIELDMAX 800	/* bytes of a text in one status field line */
#define LINEMAX 900	/* bytes of an address or text on a line of its own */
#define HEADLINEMAX 998	/* octets of a quoted header line (RFC 5322 2.1.1) */
#define BNDRAND 16	/* random bytes in a MIME boundary */
#define BNDTRIES 8	/* boundaries tried before giving up */

/* cat_clean - s[0..n) with every byte outside printable ASCII replaced
 * by a space (runs of them by one), at most max bytes */
static int
cat_clean(struct str *out, const char *s, size_t n, size_t max)
{
	size_t i, w = 0;
	int sp = 0;

	for (i = 0; i < n && w < max; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c < 0x20 || c > 0x7e) {
			if (sp)
				continue;
			c = ' ';
			sp = 1;
		} else
			sp = c == ' ';
		if (!str_catc(out, (char)c))
			return 0;
		w++;
	}
	return 1;
}

void
dsn_status(const char *text, size_t n, int perm, char out[16])
{
	size_t i, k;
	char want = perm ? '5' : '4';

	for (i = 0; i + 5 <= n; i++) {
		if (text[i] != want || text[i + 1] != '.')
			continue;
		if (i > 0 && ((text[i - 1] >= '0' && text[i - 1] <= '9') || text[i - 1] == '.'))
			continue;
		/* the longest "c.d{1,3}.d{1,3}" here */
		for (k = i + 2; k < n && k < i + 9 && ((text[k] >= '0' && text[k] <= '9') || text[k] == '.'); k++)
			;
		while (k > i && !qfile_status_ok(text + i, k - i))
			k--;
		if (k > i && (k == n || text[k] < '0' || text[k] > '9')) {
			for (n = 0; n < k - i; n++)
				out[n] = text[i + n];
			out[n] = 0;
			return;
		}
	}
	out[0] = want;
	out[1] = '.';
	out[2] = '0';
	out[3] = '.';
	out[4] = '0';
	out[5] = 0;
}

/* remote_said - text is an SMTP reply as qmail-remote reports it,
 * "Remote host NAME (IP) said: REPLY": 1 with NAME and the offset of
 * REPLY, else 0 (a failure decided here, or before any server answered) */
static int
remote_said(const char *t, size_t n, const char **name, size_t *nl, size_t *reply)
{
	static const char pre[] = "Remote host ", said[] = ") said: ";
	size_t i, k;

	if (n < sizeof pre - 1 || memcmp(t, pre, sizeof pre - 1) != 0)
		return 0;
	*name = t + sizeof pre - 1;
	*nl = str_chrb(*name, n - (sizeof pre - 1), ' ');
	for (i = sizeof pre - 1 + *nl; i + sizeof said - 1 <= n; i++) {
		for (k = 0; k < sizeof said - 1 && t[i + k] == said[k]; k++)
			;
		if (k == sizeof said - 1) {
			*reply = i + k;
			return *nl > 0;
		}
	}
	return 0;
}

static int
cats(struct str *o, const char *s)
{
	return str_cats(o, s);
}

/* --- the quoted header --- */

enum { H_BOL, H_BOLCR, H_MID };

/* the fields kept back for when the cap bites */
static const char *const keep[] = { "from", "to", "subject", "date", "message-id" };
#define NKEEP (sizeof keep / sizeof keep[0])

void
dsn_head_init(struct dsn_head *h)
{
	h->out = (struct str)STR_ZERO;
	h->field = (struct str)STR_ZERO;
	h->whole = h->col = 0;
	h->taken = 0;
	h->state = H_BOL;
	h->over = h->full = h->ended = 0;
}

void
dsn_head_free(struct dsn_head *h)
{
	str_free(&h->out);
	str_free(&h->field);
}

/* kind - which of keep[] the field f[0..n) is (its name, blanks, ':'),
 * else -1 */
static int
kind(const char *f, size_t n)
{
	size_t i, k, l;

	for (i = 0; i < NKEEP; i++) {
		l = strlen(keep[i]);
		if (n <= l || !str_caseeqb(f, keep[i], l))
			continue;
		for (k = l; k < n && (f[k] == ' ' || f[k] == '\t'); k++)
			;
		if (k < n && f[k] == ':')
			return (int)i;
	}
	return -1;
}

/* unquoted - how many of keep[] are not quoted yet, but for kind k */
static size_t
unquoted(unsigned taken, int k)
{
	size_t i, c = 0;

	for (i = 0; i < NKEEP; i++)
		if (!(taken >> i & 1) && (int)i != k)
			c++;
	return c;
}

/* take_field - the field read is quoted, as much of it in whole lines as
 * fits the room left (the five kept back for, when not quoted yet) */
static int
take_field(struct dsn_head *h)
{
	struct str *f = &h->field;
	size_t room, want, k;
	int kd, first;

	if (f->len == 0)
		return 1;
	kd = kind(f->s, f->len);
	first = kd >= 0 && !(h->taken >> kd & 1);
	k = 0;
	if (first || !h->full) {
		/* out.len stays within DSN_HEADMAX less the room kept back,
		 * so a first one of the five finds DSN_KEEPROOM at least */
		want = unquoted(h->taken, first ? kd : -1) * DSN_KEEPROOM + h->out.len;
		room = want < DSN_HEADMAX ? DSN_HEADMAX - want : 0;
		k = f->len;
		if (k > room) {
			while (room > 0 && f->s[room - 1] != '\n')
				room--;
			k = room;
			h->full = 1;
		}
	}
	if (first)
		h->taken |= 1U << kd;
	f->len = 0;
	h->whole = 0;
	h->over = 0;
	return str_catb(&h->out, f->s, k);
}

/* end_line - the line in field ends; an empty one is left out */
static int
end_line(struct dsn_head *h)
{
	struct str *f = &h->field;

	if (h->col > 0 && !h->over && !str_catc(f, '\n'))
		return 0;
	h->col = 0;
	/* past the cap it could never be quoted whole: its first lines are
	 * kept, the others dropped */
	if (f->len > DSN_HEADMAX) {
		f->len = h->whole;
		h->over = 1;
	}
	h->whole = f->len;
	return 1;
}

int
dsn_head_add(struct dsn_head *h, const char *p, size_t n)
{
	size_t i;

	if (h->ended)
		return 0;
	for (i = 0; i < n; i++) {
		unsigned char c = (unsigned char)p[i];

		if (h->state == H_BOLCR) {
			/* CR LF: the empty line; a CR, then more: a field's */
			if (c == '\n') {
				h->ended = 1;
				return take_field(h) ? 0 : -1;
			}
			if (!take_field(h))
				return -1;
			h->state = H_MID;
		} else if (h->state == H_BOL) {
			if (c == '\n') {
				h->ended = 1;
				return take_field(h) ? 0 : -1;
			}
			if (c == '\r') {
				h->state = H_BOLCR;
				continue;
			}
			/* a line that starts with a blank continues the field */
			if (c != ' ' && c != '\t' && !take_field(h))
				return -1;
			h->state = H_MID;
		}
		if (c == '\n') {
			if (!end_line(h))
				return -1;
			h->state = H_BOL;
			continue;
		}
		if ((c < 0x20 && c != '\t') || c == 0x7f || h->col >= HEADLINEMAX || h->over)
			continue;
		if (!str_catc(&h->field, (char)c))
			return -1;
		h->col++;
	}
	return 1;
}

int
dsn_head_end(struct dsn_head *h)
{
	if (!h->ended && h->state == H_MID && !end_line(h))
		return 0;
	h->ended = 1;
	return take_field(h);
}

/* eightbit - a byte over 127 in h (RFC 6533: then the part is
 * message/global-headers) */
static int
eightbit(const struct str *h)
{
	size_t i;

	for (i = 0; i < h->len; i++)
		if ((unsigned char)h->s[i] > 0x7f)
			return 1;
	return 0;
}

/* new_boundary - "lanmail-dsn-" and BNDRAND random bytes in hex: the
 * sender of the failed message, whose header is quoted, cannot guess it
 * (RFC 2046 5.1.1) */
static int
new_boundary(struct str *b)
{
	static const char hex[] = "0123456789abcdef";
	unsigned char rnd[BNDRAND];
	size_t i, got = 0;
	ssize_t r;

	while (got < sizeof rnd) {
		if ((r = getrandom(rnd + got, sizeof rnd - got, 0)) == -1) {
			if (errno == EINTR)
				continue;
			return 0;
		}
		got += (size_t)r;
	}
	if (!str_copys(b, "lanmail-dsn-"))
		return 0;
	for (i = 0; i < sizeof rnd; i++)
		if (!str_catc(b, hex[rnd[i] >> 4]) || !str_catc(b, hex[rnd[i] & 15]))
			return 0;
	return str_nul(b);
}

/* delimiters - how many lines of o[0..n) start with "--" bnd */
static size_t
delimiters(const char *o, size_t n, const struct str *bnd)
{
	size_t i, c = 0;

	for (i = 0; i + 2 + bnd->len <= n; i++)
		if ((i == 0 || o[i - 1] == '\n') && o[i] == '-' && o[i + 1] == '-' &&
		    memcmp(o + i + 2, bnd->s, bnd->len) == 0)
			c++;
	return c;
}

static int build(struct str *, const struct dsn *, const struct qbounce *, size_t,
    const struct str *, int, const struct str *);

int
dsn_report(struct str *o, const struct dsn *d, const struct qbounce *r, size_t n,
    const struct dsn_head *h)
{
	struct str bnd = STR_ZERO;
	int eight = eightbit(&h->out), tries, ok = 0;

	/* the report's own four delimiter lines and no other: a quoted
	 * line that happens to match would end a part early */
	for (tries = 0; tries < BNDTRIES; tries++) {
		if (!new_boundary(&bnd) || !build(o, d, r, n, &h->out, eight, &bnd))
			goto out;
		if (delimiters(o->s, o->len, &bnd) == 4) {
			ok = 1;
			goto out;
		}
	}
	errno = EAGAIN;
out:
	str_free(&bnd);
	return ok;
}

int
dsn_build(struct str *o, const struct dsn *d, const struct qbounce *r, size_t n,
    const char *mess, size_t messlen)
{
	struct dsn_head h;
	int ok;

	dsn_head_init(&h);
	ok = dsn_head_add(&h, mess, messlen) != -1 && dsn_head_end(&h) &&
	    dsn_report(o, d, r, n, &h);
	dsn_head_free(&h);
	return ok;
}

static int
build(struct str *o, const struct dsn *d, const struct qbounce *r, size_t n,
    const struct str *head, int eight, const struct str *bndp)
{
	char date[DATE822_LEN], arr[DATE822_LEN];
	const struct str bnd = *bndp;
	const char *mta;
	size_t i, ml, rp;
	int ok, smtp;

	date822_fmt(date, d->now);
	date822_fmt(arr, d->arrival);
	o->len = 0;
	ok = cats(o, "From: ") && cat_clean(o, d->from, str_chrb(d->from, 4096, 0), LINEMAX) &&
	    cats(o, "\nTo: ") && cat_clean(o, d->to, str_chrb(d->to, 4096, 0), LINEMAX) &&
	    cats(o, "\nSubject: ") &&
	    cats(o, d->dbl ? "double bounce: failure notice" : "failure notice") &&
	    cats(o, "\nDate: ") && cats(o, date) &&
	    cats(o, "\nMessage-ID: <") && str_catulong(o, (unsigned long)d->now) &&
	    str_catc(o, '.') && str_catulong(o, d->id) && str_catc(o, '.') &&
	    str_catulong(o, d->seq) && cats(o, ".dsn@") &&
	    cat_clean(o, d->me, str_chrb(d->me, 4096, 0), 255) &&
	    cats(o, ">\nAuto-Submitted: auto-replied\nMIME-Version: 1.0\n"
		"Content-Type: multipart/report; report-type=delivery-status;\n"
		"\tboundary=\"") && cats(o, bnd.s) &&
	    cats(o, "\"\n\nThis is a MIME-formatted delivery status notification.\n\n--") &&
	    cats(o, bnd.s) &&
	    cats(o, "\nContent-Type: text/plain; charset=us-ascii\n\n"
		"This is the mail system at ") &&
	    cat_clean(o, d->me, str_chrb(d->me, 4096, 0), 255) &&
	    cats(o, ".\n\n") &&
	    cats(o, d->dbl ?
		"A delivery status notification could not be returned to its\n"
		"sender.  The recipients it reported on are listed below.\n\n" :
		"Your message could not be delivered to the recipients listed below.\n"
		"This is a permanent failure: the mail system has given up.\n\n");
	if (ok && d->dbl)
		ok = cats(o, "The sender was <") &&
		    cat_clean(o, d->sender, str_chrb(d->sender, 4096, 0), LINEMAX) &&
		    cats(o, ">.\n\n");
	if (ok && d->more)
		ok = str_catulong(o, d->more) &&
		    cats(o, d->more == 1 ? " more recipient" : " more recipients") &&
		    cats(o, " failed as well; the record of the failures is too big\n"
			"for all of them to be listed here.\n\n");
	for (i = 0; ok && i < n; i++)
		ok = str_catc(o, '<') && cat_clean(o, r[i].rcpt, r[i].rcptlen, LINEMAX) &&
		    cats(o, ">:\n") && cat_clean(o, r[i].text, r[i].textlen, LINEMAX) &&
		    cats(o, "\n\n");
	ok = ok && cats(o, "--") && cats(o, bnd.s) &&
	    cats(o, "\nContent-Type: message/delivery-status\n\nReporting-MTA: dns; ") &&
	    cat_clean(o, d->me, str_chrb(d->me, 4096, 0), 255) &&
	    cats(o, "\nArrival-Date: ") && cats(o, arr) && str_catc(o, '\n');
	for (i = 0; ok && i < n; i++) {
		ok = cats(o, "\nFinal-Recipient: rfc822; ") &&
		    cat_clean(o, r[i].rcpt, r[i].rcptlen, LINEMAX) &&
		    cats(o, "\nAction: failed\nStatus: ") &&
		    str_catb(o, r[i].status, r[i].statuslen);
		/* RFC 3464 2.3.5, 2.3.6: the MTA that answered, and an smtp
		 * diagnostic, only when a server's reply is what failed */
		smtp = r[i].mtalen > 0 && remote_said(r[i].text, r[i].textlen, &mta, &ml, &rp);
		if (ok && smtp)
			ok = cats(o, "\nRemote-MTA: dns; ") && cat_clean(o, mta, ml, 255);
		if (!smtp)
			rp = 0;
		ok = ok && cats(o, smtp ? "\nDiagnostic-Code: smtp; " :
		    "\nDiagnostic-Code: X-lanmail; ") &&
		    cat_clean(o, r[i].text + rp, r[i].textlen - rp, FIELDMAX) &&
		    cats(o, "\nLast-Attempt-Date: ") && cats(o, date) && str_catc(o, '\n');
	}
	ok = ok && cats(o, "\n--") && cats(o, bnd.s) &&
	    cats(o, eight ? "\nContent-Type: message/global-headers\n\n" :
		"\nContent-Type: text/rfc822-headers\n\n") &&
	    str_catb(o, head->s, head->len) &&
	    cats(o, "\n--") && cats(o, bnd.s) && cats(o, "--\n");
	return ok;
}
