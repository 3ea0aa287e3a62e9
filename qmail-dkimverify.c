/* qmail-dkimverify.c - check the DKIM signatures of incoming mail, as a
 * qmail-queue filter
 *
 *	QMAILQUEUE=bin/qmail-dkimverify   (then bin/qmail-queue, or $NEXTQUEUE)
 *
 * Run by qmail-smtpd on port 25.  Reads the message on fd 0 and the
 * envelope on fd 1 like qmail-queue, checks up to 5 DKIM-Signature
 * fields (RFC 6376; rsa-sha256 and ed25519-sha256, RFC 8463), with keys
 * looked up through lib/dns, and adds one Authentication-Results field
 * (RFC 8601) naming control/me.  Authentication-Results fields that
 * name control/me and come from the client (below this server's first
 * Received field, and below the SPF result qmail-smtpd puts after it
 * when it sets $SPFRESULT) are removed, however the name is written
 * (quoted, after a comment, in another case) and however many fields
 * the header has (lib/authres.h; qmail-smtpd removes them too): only
 * this server may speak for itself.  A signature counts only with i=
 * inside d=, q= naming dns/txt, x= after t=, and a key for email (its
 * s=) that, with t=s, has i= at d= itself.
 * The message goes on to the next queue program, whose exit code is
 * ours.  A DNS failure is dkim=temperror, never a refusal.
 *
 * Memory does not grow with the message: the header (at most HEADER_MAX
 * bytes) is kept, the body is hashed as it passes and, beyond its first
 * SPOOL_MEM bytes, kept in an unlinked file in $TMPDIR (or /tmp) until it
 * goes on (lib/spool.h).
 *
 * Untrusted: the whole message, the signatures in it, the key records
 * in DNS.  Links OpenSSL's libcrypto.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <openssl/x509.h>

#include "authres.h"
#include "auto.h"
#include "base64.h"
#include "buf.h"
#include "control.h"
#include "die.h"
#include "dkim.h"
#include "dns.h"
#include "env.h"
#include "qqfilter.h"
#include "spool.h"
#include "str.h"

#define SIGS_MAX 5		/* signatures checked per message */
#define HEADER_MAX 1048576	/* bytes of header, the empty line included */
#define READ_STEP 65536		/* bytes read at a time */

/* the body hash of one signature, made as the body streams past */
struct bodyhash {
	struct dkim_body b;
	EVP_MD_CTX *ctx;
	size_t limit, done;	/* l= ((size_t)-1 without), bytes hashed */
	int ok;			/* 0: l= longer than the body, or SHA-256 failed */
	unsigned char md[32];
};

enum result { R_PASS, R_FAIL, R_NEUTRAL, R_TEMPERROR, R_PERMERROR };
static const char *const rname[] = { "pass", "fail", "neutral", "temperror", "permerror" };

static void
nomem(void)
{
	die(QQ_NOMEM, "out of memory");
}

/* unfws - p[0..n) without folding white space, into out */
static void
unfws(const char *p, size_t n, struct str *out)
{
	size_t i;

	out->len = 0;
	for (i = 0; i < n; i++)
		if (p[i] != ' ' && p[i] != '\t' && p[i] != '\r' && p[i] != '\n' &&
		    !str_catc(out, p[i]))
			nomem();
}

/* safecat - at most max bytes of p[0..n) for our header: printable,
 * no blanks, parentheses, quotes or semicolons (they would change its
 * meaning) */
static int
safecat(struct str *out, const char *p, size_t n, size_t max)
{
	size_t i;
	char c;

	for (i = 0; i < n && i < max; i++) {
		c = p[i];
		if ((unsigned char)c <= ' ' || (unsigned char)c >= 127 || c == '(' || c == ')' ||
		    c == ';' || c == '"' || c == '\\')
			c = '?';
		if (!str_catc(out, c))
			return 0;
	}
	return 1;
}

static int
tageq(const char *p, const struct dkim_tag *t, const char *s)
{
	return t && t->vallen == strlen(s) && str_caseeqb(p + t->val, s, t->vallen);
}

/* inlist - the colon separated list p[0..n) (FWS allowed anywhere) has
 * an item equal to one of items (NULL-terminated), case ignored */
static int
inlist(const char *p, size_t n, const char *const *items)
{
	struct str l = STR_ZERO;
	size_t i, e, k;
	int found = 0;

	unfws(p, n, &l);
	if (!str_catc(&l, ':'))
		nomem();
	for (i = 0; i < l.len && !found; i = e + 1) {
		e = i + str_chrb(l.s + i, l.len - i, ':');
		for (k = 0; items[k]; k++)
			if (e - i == strlen(items[k]) && str_caseeqb(l.s + i, items[k], e - i))
				found = 1;
	}
	str_free(&l);
	return found;
}

/* subdomain - 1 when a[0..an) is d[0..dn) or a subdomain of it, case
 * ignored; 2 when it is d itself */
static int
subdomain(const char *a, size_t an, const char *d, size_t dn)
{
	if (an == dn)
		return str_caseeqb(a, d, dn) ? 2 : 0;
	return an > dn && a[an - dn - 1] == '.' && str_caseeqb(a + an - dn, d, dn);
}

/* canon_tags - the canonicalisations of c= and the length of l= (both
 * may be NULL); 0 when either value is bad */
static int
canon_tags(const char *val, const struct dkim_tag *c, const struct dkim_tag *l,
    int *hrelaxed, int *brelaxed, size_t *limit)
{
	const char *cv;
	unsigned long ul;
	size_t sl, bl;

	*hrelaxed = *brelaxed = 0;
	*limit = (size_t)-1;
	if (c) {
		cv = val + c->val;
		sl = str_chrb(cv, c->vallen, '/');
		if ((sl == 7 && str_caseeqb(cv, "relaxed", 7)) || (sl == 6 && str_caseeqb(cv, "simple", 6)))
			*hrelaxed = sl == 7;
		else
			return 0;
		if (sl < c->vallen) {
			bl = c->vallen - sl - 1;
			if (bl == 7 && str_caseeqb(cv + sl + 1, "relaxed", 7))
				*brelaxed = 1;
			else if (!(bl == 6 && str_caseeqb(cv + sl + 1, "simple", 6)))
				return 0;
		}
	}
	if (l) {
		if (!scan_ulong(val + l->val, l->vallen, &ul))
			return 0;
		*limit = (size_t)ul;
	}
	return 1;
}

/* sig_value - the value of the DKIM-Signature field sf of msg */
static const char *
sig_value(const char *msg, const struct dkim_field *sf, size_t *vlen)
{
	size_t colon = str_chrb(msg + sf->start, sf->len, ':');

	*vlen = sf->len - colon - 1;
	return msg + sf->start + colon + 1;
}

/* hash_put - canonical body bytes into a body hash, up to its l= */
static int
hash_put(void *ctx, const char *p, size_t n)
{
	struct bodyhash *h = ctx;

	if (h->limit != (size_t)-1 && n > h->limit - h->done)
		n = h->limit - h->done;
	h->done += n;
	if (!EVP_DigestUpdate(h->ctx, p, n))
		h->ok = 0;
	return 1;	/* never fails: a failed digest only fails the signature */
}

/* hash_init - the body hash for the signature field sf, with its c= and
 * l= as verify reads them (when they are bad, verify never asks for it) */
static void
hash_init(struct bodyhash *h, const char *msg, const struct dkim_field *sf)
{
	struct dkim_tag t[DKIM_TAGS_MAX];
	const char *val;
	size_t vlen, nt;
	int hrelaxed, brelaxed = 0;

	h->limit = (size_t)-1;
	h->done = 0;
	h->ok = 1;
	val = sig_value(msg, sf, &vlen);
	if (dkim_tags(val, vlen, t, DKIM_TAGS_MAX, &nt) &&
	    !canon_tags(val, dkim_tag(val, t, nt, "c"), dkim_tag(val, t, nt, "l"),
	    &hrelaxed, &brelaxed, &h->limit)) {
		brelaxed = 0;
		h->limit = (size_t)-1;
	}
	if ((h->ctx = EVP_MD_CTX_new()) == NULL || !EVP_DigestInit_ex(h->ctx, EVP_sha256(), NULL))
		nomem();
	dkim_body_init(&h->b, brelaxed, hash_put, h);
}

/* hash_end - the body is complete: the digest into md */
static void
hash_end(struct bodyhash *h)
{
	(void)dkim_body_end(&h->b);	/* hash_put does not fail */
	if (h->limit != (size_t)-1 && h->done < h->limit)
		h->ok = 0;	/* l= longer than the body: it cannot verify */
	if (!EVP_DigestFinal_ex(h->ctx, h->md, NULL))
		h->ok = 0;
	EVP_MD_CTX_free(h->ctx);
	h->ctx = NULL;
}

/* verify - one DKIM-Signature field; the result and, in info, the
 * properties for Authentication-Results */
static enum result
verify(const char *msg, const struct dkim_field *f, size_t nf, const struct dkim_field *sf,
    const struct bodyhash *bhash, struct str *info)
{
	static const char *const email[] = { "email", "*", NULL };
	static const char *const dnstxt[] = { "dns/txt", NULL };
	static const char *const strict[] = { "s", NULL };
	struct dkim_tag t[DKIM_TAGS_MAX], kt[DKIM_TAGS_MAX];
	const struct dkim_tag *v, *a, *b, *bh, *c, *d, *h, *s, *l, *x, *ti, *id, *q;
	const struct dkim_tag *kk, *kp, *kv, *kh, *ks, *kf;
	struct str tmp = STR_ZERO, sig = STR_ZERO, want = STR_ZERO, qname = STR_ZERO;
	struct str txt = STR_ZERO, key = STR_ZERO, data = STR_ZERO;
	const char *val, *rec;
	size_t vlen, nt, nkt, count, i, limit, reclen;
	unsigned char md[32];
	unsigned long ul, ts = 0;
	int hrelaxed = 0, brelaxed = 0, ed, r, ok, iexact = 1;
	enum result res = R_PERMERROR;
	EVP_PKEY *pk = NULL;
	EVP_MD_CTX *ctx = NULL;
	const unsigned char *dp;

	val = sig_value(msg, sf, &vlen);
	if (!dkim_tags(val, vlen, t, DKIM_TAGS_MAX, &nt)) {
		if (!str_cats(info, " (malformed signature)"))
			nomem();
		return R_PERMERROR;
	}
	v = dkim_tag(val, t, nt, "v");
	a = dkim_tag(val, t, nt, "a");
	b = dkim_tag(val, t, nt, "b");
	bh = dkim_tag(val, t, nt, "bh");
	c = dkim_tag(val, t, nt, "c");
	d = dkim_tag(val, t, nt, "d");
	h = dkim_tag(val, t, nt, "h");
	s = dkim_tag(val, t, nt, "s");
	l = dkim_tag(val, t, nt, "l");
	x = dkim_tag(val, t, nt, "x");
	ti = dkim_tag(val, t, nt, "t");
	id = dkim_tag(val, t, nt, "i");
	q = dkim_tag(val, t, nt, "q");
	if (d && (!str_cats(info, " header.d=") || !safecat(info, val + d->val, d->vallen, 253)))
		nomem();
	if (s && (!str_cats(info, " header.s=") || !safecat(info, val + s->val, s->vallen, 63)))
		nomem();
	if (!f) {
		/* more header fields than dkim_select takes: not checked */
		if (!str_cats(info, " (too many header fields)"))
			nomem();
		return R_PERMERROR;
	}
	if (!tageq(val, v, "1") || !a || !b || !bh || !d || !h || !s) {
		if (!str_cats(info, " (missing or bad tags)"))
			nomem();
		return R_PERMERROR;
	}
	for (i = 0; i < d->vallen; i++)
		if (val[d->val + i] <= ' ' || val[d->val + i] == '/')
			break;
	for (ok = 1, r = 0; r < (int)s->vallen; r++)
		if (val[s->val + r] <= ' ' || val[s->val + r] == '/')
			ok = 0;
	if (i < d->vallen || !ok || d->vallen == 0 || s->vallen == 0 ||
	    d->vallen + s->vallen + 12 > DNS_NAME_MAX) {
		if (!str_cats(info, " (bad domain or selector)"))
			nomem();
		return R_PERMERROR;
	}
	if (tageq(val, a, "rsa-sha256"))
		ed = 0;
	else if (tageq(val, a, "ed25519-sha256"))
		ed = 1;
	else {
		if (!str_cats(info, " (unsupported algorithm)"))
			nomem();
		return R_PERMERROR;
	}
	/* the body hash (bhash) was made with these */
	if (!canon_tags(val, c, l, &hrelaxed, &brelaxed, &limit))
		goto badtag;
	/* h= must name From */
	unfws(val + h->val, h->vallen, &tmp);
	if (!str_catc(&tmp, ':'))
		nomem();
	for (i = 0, ok = 0; i < tmp.len; i += str_chrb(tmp.s + i, tmp.len - i, ':') + 1)
		if (tmp.len - i >= 5 && str_caseeqb(tmp.s + i, "from:", 5))
			ok = 1;
	if (!ok) {
		if (!str_cats(info, " (From not signed)"))
			nomem();
		goto out;
	}
	/* i= (RFC 6376 6.1.1): d= or a subdomain of it, else PERMFAIL */
	if (id) {
		unfws(val + id->val, id->vallen, &tmp);
		i = str_rchrb(tmp.s, tmp.len, '@');
		if (i == tmp.len)
			goto badtag;
		r = subdomain(tmp.s + i + 1, tmp.len - i - 1, val + d->val, d->vallen);
		if (!r) {
			if (!str_cats(info, " (i= domain not within d=)"))
				nomem();
			goto out;
		}
		iexact = r == 2;
	}
	/* q= (3.5): dns/txt must be among the methods */
	if (q && !inlist(val + q->val, q->vallen, dnstxt)) {
		if (!str_cats(info, " (unsupported query method)"))
			nomem();
		goto out;
	}
	/* t= and x= (3.5): numbers, x= later than t=; x= past is a fail */
	if (ti && !scan_ulong(val + ti->val, ti->vallen, &ts))
		goto badtag;
	if (x) {
		if (!scan_ulong(val + x->val, x->vallen, &ul))
			goto badtag;
		if (ti && ul <= ts) {
			if (!str_cats(info, " (x= not after t=)"))
				nomem();
			goto out;
		}
		if ((time_t)ul < time(NULL)) {
			res = R_FAIL;
			if (!str_cats(info, " (signature expired)"))
				nomem();
			goto out;
		}
	}

	/* the key */
	if (!str_catb(&qname, val + s->val, s->vallen) || !str_cats(&qname, "._domainkey.") ||
	    !str_catb(&qname, val + d->val, d->vallen))
		nomem();
	r = dns_txt(qname.s, qname.len, &txt, &count);
	if (r == -1) {
		if (errno == ENOMEM)
			nomem();
		res = R_TEMPERROR;
		if (!str_cats(info, " (key lookup failed)"))
			nomem();
		goto out;
	}
	if (r != 1 || count != 1) {
		if (!str_cats(info, r == 1 ? " (more than one key record)" : " (no key)"))
			nomem();
		goto out;
	}
	rec = txt.s;
	reclen = txt.len - 1;
	if (!dkim_tags(rec, reclen, kt, DKIM_TAGS_MAX, &nkt))
		goto badkey;
	kv = dkim_tag(rec, kt, nkt, "v");
	kk = dkim_tag(rec, kt, nkt, "k");
	kp = dkim_tag(rec, kt, nkt, "p");
	kh = dkim_tag(rec, kt, nkt, "h");
	ks = dkim_tag(rec, kt, nkt, "s");
	kf = dkim_tag(rec, kt, nkt, "t");
	if ((kv && !tageq(rec, kv, "DKIM1")) || !kp)
		goto badkey;
	/* s= (3.6.1): a key for other services is no key for mail */
	if (ks && !inlist(rec + ks->val, ks->vallen, email)) {
		if (!str_cats(info, " (key not for email)"))
			nomem();
		goto out;
	}
	/* t=s: i= must name d= itself, no subdomain */
	if (kf && inlist(rec + kf->val, kf->vallen, strict) && !iexact) {
		if (!str_cats(info, " (i= not d= under the key's t=s)"))
			nomem();
		goto out;
	}
	if ((ed && !tageq(rec, kk, "ed25519")) || (!ed && kk && !tageq(rec, kk, "rsa")))
		goto badkey;
	if (kh) {
		unfws(rec + kh->val, kh->vallen, &tmp);
		if (!str_catc(&tmp, ':'))
			nomem();
		for (i = 0, ok = 0; i < tmp.len; i += str_chrb(tmp.s + i, tmp.len - i, ':') + 1)
			if (tmp.len - i >= 7 && str_caseeqb(tmp.s + i, "sha256:", 7))
				ok = 1;
		if (!ok)
			goto badkey;
	}
	if (kp->vallen == 0) {
		res = R_FAIL;
		if (!str_cats(info, " (key revoked)"))
			nomem();
		goto out;
	}
	unfws(rec + kp->val, kp->vallen, &tmp);
	if (!base64_decode(tmp.s, tmp.len, &key))
		goto badkey;
	if (ed) {
		if (key.len != 32 || (pk = EVP_PKEY_new_raw_public_key(EVP_PKEY_ED25519, NULL,
		    (const unsigned char *)key.s, 32)) == NULL)
			goto badkey;
	} else {
		dp = (const unsigned char *)key.s;
		if (key.len > 0x7fffffff || (pk = d2i_PUBKEY(NULL, &dp, (long)key.len)) == NULL ||
		    EVP_PKEY_get_base_id(pk) != EVP_PKEY_RSA || EVP_PKEY_get_bits(pk) < 1024)
			goto badkey;
	}

	/* the body */
	unfws(val + bh->val, bh->vallen, &tmp);
	if (!base64_decode(tmp.s, tmp.len, &want))
		goto badtag;
	if (!bhash->ok || want.len != 32 || memcmp(bhash->md, want.s, 32) != 0) {
		res = R_FAIL;
		if (!str_cats(info, " (body hash did not verify)"))
			nomem();
		goto out;
	}

	/* the header: the fields named by h=, then this one without b= */
	if (!dkim_select(msg, f, nf, val + h->val, h->vallen, hrelaxed, &data))
		nomem();
	tmp.len = 0;
	if (!str_catb(&tmp, msg + sf->start, (size_t)(val - (msg + sf->start)) + b->rawval) ||
	    !str_catb(&tmp, val + b->rawend, vlen - b->rawend) ||
	    !dkim_canon_header(tmp.s, tmp.len, hrelaxed, &data))
		nomem();
	data.len -= 2;
	unfws(val + b->val, b->vallen, &tmp);
	if (!base64_decode(tmp.s, tmp.len, &sig))
		goto badtag;
	if ((ctx = EVP_MD_CTX_new()) == NULL)
		nomem();
	if (ed) {
		if (!EVP_Digest(data.s, data.len, md, NULL, EVP_sha256(), NULL) ||
		    EVP_DigestVerifyInit(ctx, NULL, NULL, NULL, pk) != 1)
			die(QQ_REFUSE, "unable to set up Ed25519");
		ok = EVP_DigestVerify(ctx, (const unsigned char *)sig.s, sig.len, md, 32);
	} else {
		if (EVP_DigestVerifyInit(ctx, NULL, EVP_sha256(), NULL, pk) != 1)
			die(QQ_REFUSE, "unable to set up RSA");
		ok = EVP_DigestVerify(ctx, (const unsigned char *)sig.s, sig.len,
		    (const unsigned char *)data.s, data.len);
	}
	if (ok == 1)
		res = R_PASS;
	else {
		res = R_FAIL;
		if (!str_cats(info, " (signature did not verify)"))
			nomem();
	}
	goto out;
badkey:
	if (!str_cats(info, " (bad key record)"))
		nomem();
	res = R_PERMERROR;
	goto out;
badtag:
	if (!str_cats(info, " (bad tag value)"))
		nomem();
	res = R_PERMERROR;
out:
	EVP_MD_CTX_free(ctx);
	EVP_PKEY_free(pk);
	str_free(&tmp);
	str_free(&sig);
	str_free(&want);
	str_free(&qname);
	str_free(&txt);
	str_free(&key);
	str_free(&data);
	return res;
}

/* read_header - the header from fd 0 into msg, the empty line that
 * ends it included; what was read past it is left in msg after the
 * first *hlen bytes.  Stops with *hlen over HEADER_MAX when it is
 * longer.  1 when the input ended. */
static int
read_header(struct str *msg, size_t *hlen)
{
	size_t i = 0;
	int linestart = 1;
	long r;

	for (;;) {
		for (; i < msg->len; i++) {
			if (msg->s[i] == '\n' && linestart) {
				*hlen = i + 1;
				return 0;
			}
			linestart = msg->s[i] == '\n';
		}
		if (msg->len > HEADER_MAX) {
			*hlen = msg->len;	/* too long: the caller refuses it */
			return 0;
		}
		if (!str_readyplus(msg, READ_STEP))
			nomem();
		r = fd_read(0, msg->s + msg->len, READ_STEP, 0);
		if (r == -1 && (errno == EINTR || errno == EAGAIN))
			continue;
		if (r == -1)
			die_sys(QQ_READ, "unable to read the message");
		if (r == 0) {
			*hlen = msg->len;	/* no empty line: no body */
			return 1;
		}
		msg->len += (size_t)r;
	}
}

int
main(int argc, char **argv)
{
	struct str msg = STR_ZERO, env = STR_ZERO, me = STR_ZERO, ar = STR_ZERO, info = STR_ZERO;
	static struct dkim_field f[DKIM_FIELDS_MAX];
	static struct bodyhash bh[SIGS_MAX];
	static struct spool sp;
	static char step[READ_STEP];
	struct dkim_field one;
	const char *part[2], *s;
	size_t len[2], nf, body, i, k, slen, pos, nsig = 0, from, to, received = (size_t)-1;
	enum result r;
	int toomany, eof;
	long n;
	/* qmail-smtpd's own SPF field follows its Received line */
	size_t spf = env_get("SPFRESULT") ? 1 : 0;

	(void)argc;
	die_init(argv[0]);
	if (chdir(auto_home) == -1)
		die_sys(QQ_REFUSE, "unable to chdir to ", auto_home);
	if (control_readline("control/me", &me) == -1)
		die_sys(QQ_CONF, "unable to read control/me");
	if (me.len == 0 && !str_copys(&me, "localhost"))
		nomem();
	spool_init(&sp, "qmail-dkimverify");

	/* the header, kept */
	eof = read_header(&msg, &body);
	if (body > HEADER_MAX)
		die(QQ_PERM, "the header is longer than 1048576 bytes");
	/* more fields than dkim_select takes: each signature is a
	 * permerror, and the fields below are still gone through one by
	 * one */
	toomany = !dkim_fields(msg.s, body, f, DKIM_FIELDS_MAX, &nf, &body);

	/* the body: hashed for each signature as it passes, and kept */
	for (pos = 0, k = 0; k < SIGS_MAX && dkim_field_next(msg.s, body, &pos, &one); )
		if (one.namelen == 14 && str_caseeqb(msg.s + one.start, "dkim-signature", 14))
			hash_init(&bh[k++], msg.s, &one);
	for (n = (long)(msg.len - body), s = msg.s + body;; ) {
		for (i = 0; i < k; i++)
			(void)dkim_body_feed(&bh[i].b, s, (size_t)n);	/* hash_put does not fail */
		spool_put(&sp, s, (size_t)n);
		if (eof)
			break;
		n = fd_read(0, step, READ_STEP, 0);
		if (n == -1 && (errno == EINTR || errno == EAGAIN)) {
			n = 0;
			continue;
		}
		if (n == -1)
			die_sys(QQ_READ, "unable to read the message");
		eof = n == 0;
		s = step;
	}
	for (i = 0; i < k; i++)
		hash_end(&bh[i]);
	msg.len = body;

	if (!qq_readall(1, &env))
		die_sys(QQ_READ, "unable to read the envelope");
	if (!qq_envelope_sender(env.s, env.len, &s, &slen))
		die(QQ_ENVELOPE, "the envelope is malformed");

	if (!str_cats(&ar, "Authentication-Results: ") || !str_cat(&ar, &me))
		nomem();
	for (pos = 0; nsig < SIGS_MAX && dkim_field_next(msg.s, msg.len, &pos, &one); ) {
		if (one.namelen != 14 || !str_caseeqb(msg.s + one.start, "dkim-signature", 14))
			continue;
		info.len = 0;
		r = verify(msg.s, toomany ? NULL : f, nf, &one, &bh[nsig], &info);
		nsig++;
		if (!str_cats(&ar, ";\n\tdkim=") || !str_cats(&ar, rname[r]) || !str_cat(&ar, &info))
			nomem();
	}
	if (nsig == 0 && !str_cats(&ar, "; dkim=none"))
		nomem();
	if (!str_catc(&ar, '\n'))
		nomem();

	/* the forged fields out of the header, in place (RFC 8601 5): every
	 * Authentication-Results naming me below the first Received field
	 * (and qmail-smtpd's SPF field after it), however many fields */
	for (pos = 0, i = 0, from = 0, to = 0; dkim_field_next(msg.s, msg.len, &pos, &one); i++) {
		if (received == (size_t)-1 && one.namelen == 8 &&
		    str_caseeqb(msg.s + one.start, "received", 8))
			received = i;
		if (received != (size_t)-1 && i > received + spf && one.namelen == 22 &&
		    str_caseeqb(msg.s + one.start, "authentication-results", 22) &&
		    authres_ours(msg.s + one.start, one.len, me.s, me.len, 0)) {
			memmove(msg.s + to, msg.s + from, one.start - from);
			to += one.start - from;
			from = one.start + one.len;
		}
	}
	memmove(msg.s + to, msg.s + from, msg.len - from);
	msg.len = to + msg.len - from;

	/* our field first, then the message */
	part[0] = ar.s;
	len[0] = ar.len;
	part[1] = msg.s;
	len[1] = msg.len;
	return spool_pass(part, len, 2, &sp, env.s, env.len, step, sizeof step);
}
