/* qmail-dkim.c - sign outgoing mail with DKIM, as a qmail-queue filter
 *
 *	QMAILQUEUE=bin/qmail-dkim   (then bin/qmail-queue, or $NEXTQUEUE)
 *
 * qmail-dkim reads the message on fd 0 and the envelope on fd 1, like
 * qmail-queue.  The signing domain is the domain of the From field when
 * control/dkim/DOMAIN/ holds a key, else the envelope sender's domain
 * when it does.  Each SELECTOR.key (a PEM private key, RSA or Ed25519)
 * in that directory adds one DKIM-Signature (RFC 6376, RFC 8463):
 * relaxed/relaxed, SHA-256, From signed once more than it occurs, no
 * l= tag.  Line ends are made LF (a CR before an LF is dropped) as
 * qmail-smtpd stores them.  The signed message goes on to the next queue program, whose
 * exit code is ours.  Under SMTPAUTHUSER (set by qmail-smtpd after AUTH)
 * only the envelope sender's domain signs.  A domain without keys passes unsigned; a key
 * that cannot be read or used refuses the message for now (71), so
 * that nothing meant to be signed leaves unsigned; more than 1000
 * header fields to sign refuse it for good (31).
 *
 * Memory does not grow with the message: the header (at most HEADER_MAX
 * bytes) is kept, the body is hashed as it passes and, beyond what was
 * read with the header and the first SPOOL_MEM bytes after it, kept in
 * an unlinked file in $TMPDIR (or /tmp) until it goes on (lib/spool.h).
 *
 * The message comes from a local user or an authenticated client: it
 * is parsed carefully but is not the enemy.  Links OpenSSL's libcrypto.
 */
#include <dirent.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <openssl/pem.h>

#include "auto.h"
#include "base64.h"
#include "buf.h"
#include "control.h"
#include "die.h"
#include "dkim.h"
#include "qqfilter.h"
#include "spool.h"
#include "str.h"

#define KEYS_MAX 8		/* keys used per domain */
#define KEYFILE_MAX 65536	/* bytes in a PEM key file */
#define SELECTOR_MAX 63
#define HEADER_MAX 1048576	/* bytes of header (LF line ends), the empty line included */
#define READ_STEP 65536		/* bytes read at a time */

/* the body hash, made as the body streams past: whether a key signs is
 * known only from the envelope, which comes after the whole message */
struct bodyhash {
	struct dkim_body b;
	EVP_MD_CTX *ctx;
	int ok;			/* 0: SHA-256 failed */
};

/* the fields signed, when present; from is signed once more */
static const char *const signed_fields[] = {
	"from", "sender", "reply-to", "subject", "date", "message-id", "to", "cc",
	"mime-version", "content-type", "content-transfer-encoding",
	"in-reply-to", "references", "list-id", "list-unsubscribe", NULL
};

static void
nomem(void)
{
	die(QQ_NOMEM, "out of memory");
}

/* keys_of - the selectors of domain (names of control/dkim/D/S.key),
 * sorted, into sel (NUL separated); the count, 0 when there are none */
static size_t
keys_of(const char *domain, struct str *dir, struct str *sel)
{
	char names[KEYS_MAX][SELECTOR_MAX + 1];
	struct dirent *d;
	size_t n = 0, len, i, j;
	DIR *dp;

	if (!str_copys(dir, "control/dkim/") || !str_cats(dir, domain) || !str_nul(dir))
		nomem();
	if ((dp = opendir(dir->s)) == NULL) {
		if (errno == ENOENT || errno == ENOTDIR)
			return 0;
		die_sys(QQ_REFUSE, "unable to open ", dir->s);
	}
	for (;;) {
		errno = 0;
		if ((d = readdir(dp)) == NULL)
			break;
		len = strlen(d->d_name);
		if (len <= 4 || len - 4 > SELECTOR_MAX || !str_equal(d->d_name + len - 4, ".key") ||
		    d->d_name[0] == '.')
			continue;
		for (i = 0; i < len - 4; i++) {
			char c = d->d_name[i];
			if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
			    (c >= '0' && c <= '9') || c == '-' || c == '_' || c == '.'))
				break;
		}
		if (i < len - 4)
			continue;	/* not a selector */
		if (n == KEYS_MAX)
			die(QQ_REFUSE, "more than 8 keys in ", dir->s);
		memcpy(names[n], d->d_name, len - 4);
		names[n][len - 4] = 0;
		n++;
	}
	if (errno)
		die_sys(QQ_REFUSE, "unable to read ", dir->s);
	(void)closedir(dp);	/* read only */
	/* a few names: insertion sort */
	for (i = 1; i < n; i++)
		for (j = i; j > 0 && strcmp(names[j - 1], names[j]) > 0; j--) {
			char t[SELECTOR_MAX + 1];
			memcpy(t, names[j], sizeof t);
			memcpy(names[j], names[j - 1], sizeof t);
			memcpy(names[j - 1], t, sizeof t);
		}
	sel->len = 0;
	for (i = 0; i < n; i++)
		if (!str_cats(sel, names[i]) || !str_catc(sel, 0))
			nomem();
	return n;
}

/* digest_put - a dkim_put into a SHA-256 context */
static int
digest_put(void *ctx, const char *p, size_t n)
{
	return EVP_DigestUpdate(ctx, p, n);
}

/* hash_init - a SHA-256 of the relaxed body, fed as the body streams
 * past; a failure only counts if a key is to sign (hash_end) */
static void
hash_init(struct bodyhash *h)
{
	h->ok = (h->ctx = EVP_MD_CTX_new()) != NULL && EVP_DigestInit_ex(h->ctx, EVP_sha256(), NULL);
	dkim_body_init(&h->b, 1, digest_put, h->ctx);
}

static void
hash_feed(struct bodyhash *h, const char *p, size_t n)
{
	if (h->ok && !dkim_body_feed(&h->b, p, n))
		h->ok = 0;
}

/* hash_end - the body is complete: its hash, base64, into out */
static void
hash_end(struct bodyhash *h, struct str *out)
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned mdlen;

	if (!h->ok || !dkim_body_end(&h->b) || !EVP_DigestFinal_ex(h->ctx, md, &mdlen))
		die(QQ_REFUSE, "unable to hash the body with SHA-256");
	if (!base64_encode((const char *)md, mdlen, out))
		nomem();
}

/* read_lf - the next piece of the message, read into step[1..READ_STEP]
 * and its line ends made LF in place: a CR before an LF is dropped, as
 * qmail-smtpd stores messages.  A CR that ends a piece waits in *cr
 * (put back in step[0]) until the next piece tells whether an LF
 * follows; at the end of the input it is text.  The piece in *p, *n;
 * 1, or 0 when the input has ended (the piece then is that CR, if any). */
static int
read_lf(char *step, int *cr, const char **p, size_t *n)
{
	char *s;
	size_t i, j, k;
	long r;

	while ((r = fd_read(0, step + 1, READ_STEP, 0)) == -1)
		if (errno != EINTR && errno != EAGAIN)
			die_sys(QQ_READ, "unable to read the message");
	if (r == 0) {
		*p = "\r";
		*n = *cr ? 1 : 0;
		*cr = 0;
		return 0;
	}
	if (*cr) {
		step[0] = '\r';
		s = step;
		k = (size_t)r + 1;
	} else {
		s = step + 1;
		k = (size_t)r;
	}
	*cr = 0;
	for (i = j = 0; i < k; i++) {
		if (s[i] == '\r' && i + 1 == k) {
			*cr = 1;
			break;
		}
		if (s[i] != '\r' || s[i + 1] != '\n')
			s[j++] = s[i];
	}
	*p = s;
	*n = j;
	return 1;
}

/* read_header - the header, LF line ends, into msg, the empty line that
 * ends it included; what was read past it is left in msg after the
 * first *hlen bytes.  Stops with *hlen over HEADER_MAX when it is
 * longer.  1, or 0 when the input has ended. */
static int
read_header(struct str *msg, size_t *hlen, char *step, int *cr)
{
	const char *p;
	size_t i = 0, n;
	int linestart = 1, more = 1;

	for (;;) {
		for (; i < msg->len; i++) {
			if (msg->s[i] == '\n' && linestart) {
				*hlen = i + 1;
				return more;
			}
			linestart = msg->s[i] == '\n';
		}
		if (!more || msg->len > HEADER_MAX) {
			*hlen = msg->len;	/* no empty line: no body; or too long */
			return more;
		}
		more = read_lf(step, cr, &p, &n);
		if (!str_catb(msg, p, n))
			nomem();
	}
}

/* load_key - the private key in file fn */
static EVP_PKEY *
load_key(const char *fn)
{
	struct str pem = STR_ZERO;
	EVP_PKEY *k;
	BIO *bio;
	int r;

	r = control_readfile(fn, &pem, KEYFILE_MAX);
	if (r != 1)
		die_sys(QQ_REFUSE, "unable to read ", fn);
	if (pem.len > 0x7fffffff || (bio = BIO_new_mem_buf(pem.s, (int)pem.len)) == NULL)
		die(QQ_REFUSE, "unable to read ", fn);
	k = PEM_read_bio_PrivateKey(bio, NULL, NULL, NULL);
	BIO_free(bio);
	/* wipe the key text: it need not stay in memory */
	memset(pem.s, 0, pem.cap);
	str_free(&pem);
	if (k == NULL)
		die(QQ_REFUSE, "unable to read ", fn, ": not a PEM private key");
	return k;
}

/* sign - the signature of data with k, base64 into out; Ed25519 signs
 * the SHA-256 digest of the data (RFC 8463), RSA the data with SHA-256 */
static void
sign(EVP_PKEY *k, const char *data, size_t n, struct str *out, const char *fn)
{
	unsigned char md[32], *sig;
	size_t siglen;
	EVP_MD_CTX *ctx;
	int ed = EVP_PKEY_get_base_id(k) == EVP_PKEY_ED25519;

	if ((ctx = EVP_MD_CTX_new()) == NULL)
		nomem();
	if (ed) {
		if (!EVP_Digest(data, n, md, NULL, EVP_sha256(), NULL) ||
		    EVP_DigestSignInit(ctx, NULL, NULL, NULL, k) != 1)
			die(QQ_REFUSE, "unable to sign with ", fn);
		data = (const char *)md;
		n = sizeof md;
	} else if (EVP_DigestSignInit(ctx, NULL, EVP_sha256(), NULL, k) != 1)
		die(QQ_REFUSE, "unable to sign with ", fn);
	if (EVP_DigestSign(ctx, NULL, &siglen, (const unsigned char *)data, n) != 1 ||
	    (sig = malloc(siglen)) == NULL ||
	    EVP_DigestSign(ctx, sig, &siglen, (const unsigned char *)data, n) != 1)
		die(QQ_REFUSE, "unable to sign with ", fn);
	EVP_MD_CTX_free(ctx);
	if (!base64_encode((const char *)sig, siglen, out))
		nomem();
	free(sig);
}

/* cat_folded - s appended to out as a tag value broken into lines */
static int
cat_folded(struct str *out, const char *s, size_t n)
{
	size_t i, step;

	for (i = 0; i < n; i += step) {
		step = n - i < 72 ? n - i : 72;
		if (i > 0 && !str_catb(out, "\n\t ", 3))
			return 0;
		if (!str_catb(out, s + i, step))
			return 0;
	}
	return 1;
}

/* cat_hlist - the h= list h, broken before a name that would take the
 * line past 76 columns (RFC 6376 3.5 allows FWS around each ':'); col
 * is the column it starts at */
static int
cat_hlist(struct str *out, const struct str *h, size_t col)
{
	size_t i, n;

	for (i = 0; i < h->len; i += n + 1) {
		n = str_chrb(h->s + i, h->len - i, ':');
		if (i > 0 && !str_catc(out, ':'))
			return 0;
		if (i > 0 && col + 1 + n > 76) {
			if (!str_catb(out, "\n\t ", 3))
				return 0;
			col = 9;
		}
		if (!str_catb(out, h->s + i, n))
			return 0;
		col += n + 1;
	}
	return 1;
}

int
main(int argc, char **argv)
{
	struct str msg = STR_ZERO, env = STR_ZERO, dom = STR_ZERO, dir = STR_ZERO;
	struct str sel = STR_ZERO, bh = STR_ZERO, hlist = STR_ZERO, hdrs = STR_ZERO;
	struct str sig = STR_ZERO, b64 = STR_ZERO, data = STR_ZERO, fn = STR_ZERO;
	static struct dkim_field f[DKIM_FIELDS_MAX];
	static struct bodyhash hash;
	static struct spool sp;
	static char step[1 + READ_STEP];
	const char *part[2], *s, *p;
	size_t len[2], nf, body, hlen, i, j, k, nkeys, slen, count, n, hstart[KEYS_MAX];
	char tbuf[FMT_ULONG];
	EVP_PKEY *key;
	const char *auth;
	int fieldsok, more, cr = 0;

	(void)argc;
	die_init(argv[0]);
	if (chdir(auto_home) == -1)
		die_sys(QQ_REFUSE, "unable to chdir to ", auto_home);
	spool_init(&sp, "qmail-dkim");

	/* CRLF becomes LF as it is read, as qmail-smtpd stores it:
	 * qmail-remote would send a CR before an LF as text, and the
	 * signature must cover the message as it will go out.  The header
	 * is kept. */
	more = read_header(&msg, &hlen, step, &cr);
	if (hlen > HEADER_MAX)
		die(QQ_PERM, "the header is longer than 1048576 bytes");
	/* more fields than can be signed: refused for good below when a key
	 * would sign the message (trying again cannot help), passed on as
	 * it is when none would */
	if (!(fieldsok = dkim_fields(msg.s, hlen, f, DKIM_FIELDS_MAX, &nf, &body)))
		nf = 0;

	/* the body: hashed as it passes; what came with the header stays
	 * in msg, the rest is spooled */
	hash_init(&hash);
	if (msg.len > hlen)
		hash_feed(&hash, msg.s + hlen, msg.len - hlen);
	while (more) {
		more = read_lf(step, &cr, &p, &n);
		hash_feed(&hash, p, n);
		spool_put(&sp, p, n);
	}

	if (!qq_readall(1, &env))
		die_sys(QQ_READ, "unable to read the envelope");
	if (!qq_envelope_sender(env.s, env.len, &s, &slen))
		die(QQ_ENVELOPE, "the envelope is malformed");

	/* the signing domain: From's, else the envelope sender's.  After
	 * SMTP AUTH only the envelope sender's: qmail-smtpd has bound it to
	 * the login, while From says whatever the client likes, and a
	 * signature for another hosted domain would vouch for a forgery */
	nkeys = 0;
	auth = getenv("SMTPAUTHUSER");
	for (i = 0; (auth == NULL || *auth == 0) && i < nf; i++)
		if (f[i].namelen == 4 && str_caseeqb(msg.s + f[i].start, "from", 4)) {
			const char *v = msg.s + f[i].start + f[i].namelen;
			size_t vn = f[i].len - f[i].namelen;
			v += str_chrb(v, vn, ':') + 1;
			vn = f[i].len - (size_t)(v - (msg.s + f[i].start));
			if (dkim_addr_domain(v, vn, &dom) && str_nul(&dom))
				nkeys = keys_of(dom.s, &dir, &sel);
			break;
		}
	if (nkeys == 0 && slen > 0) {
		size_t at = str_rchrb(s, slen, '@');
		if (at < slen && dkim_domain_ok(s + at + 1, slen - at - 1)) {
			if (!str_copyb(&dom, s + at + 1, slen - at - 1) || !str_nul(&dom))
				nomem();
			str_lowerb(dom.s, dom.len);
			nkeys = keys_of(dom.s, &dir, &sel);
		}
	}

	if (nkeys > 0 && !fieldsok)
		die(QQ_PERM, "too many header fields to sign (at most 1000)");
	if (nkeys > 0) {
		hash_end(&hash, &bh);
		/* h=: each signed field as often as it occurs; from once more */
		for (k = 0; signed_fields[k]; k++) {
			size_t fl = strlen(signed_fields[k]);
			count = k == 0 ? 1 : 0;
			for (i = 0; i < nf; i++)
				if (f[i].namelen == fl && str_caseeqb(msg.s + f[i].start, signed_fields[k], fl))
					count++;
			for (j = 0; j < count; j++)
				if ((hlist.len && !str_catc(&hlist, ':')) || !str_cats(&hlist, signed_fields[k]))
					nomem();
		}
		if (!str_catulong(&b64, (unsigned long)time(NULL)) || b64.len >= sizeof tbuf)
			nomem();
		memcpy(tbuf, b64.s, b64.len);
		tbuf[b64.len] = 0;
		for (i = 0, k = 0; k < nkeys; k++, i += strlen(sel.s + i) + 1) {
			const char *selector = sel.s + i;
			if (!str_copys(&fn, dir.s) || !str_catc(&fn, '/') || !str_cats(&fn, selector) ||
			    !str_cats(&fn, ".key") || !str_nul(&fn))
				nomem();
			key = load_key(fn.s);
			hstart[k] = hdrs.len;
			if (!str_cats(&hdrs, "DKIM-Signature: v=1; a=") ||
			    !str_cats(&hdrs, EVP_PKEY_get_base_id(key) == EVP_PKEY_ED25519 ?
			    "ed25519-sha256" : "rsa-sha256") ||
			    !str_cats(&hdrs, "; c=relaxed/relaxed; d=") || !str_cats(&hdrs, dom.s) ||
			    !str_cats(&hdrs, "; s=") || !str_cats(&hdrs, selector) ||
			    !str_cats(&hdrs, ";\n\tt=") || !str_cats(&hdrs, tbuf) ||
			    !str_cats(&hdrs, "; h=") || !cat_hlist(&hdrs, &hlist, 8 + 2 + strlen(tbuf) + 4) ||
			    !str_cats(&hdrs, ";\n\tbh=") || !str_cat(&hdrs, &bh) ||
			    !str_cats(&hdrs, ";\n\tb="))
				nomem();
			/* the data signed: the chosen fields, then this field
			 * with b= empty and without its line end */
			data.len = 0;
			if (!dkim_select(msg.s, f, nf, hlist.s, hlist.len, 1, &data) ||
			    !dkim_canon_header(hdrs.s + hstart[k], hdrs.len - hstart[k], 1, &data))
				nomem();
			data.len -= 2;
			sign(key, data.s, data.len, &sig, fn.s);
			EVP_PKEY_free(key);
			if (!cat_folded(&hdrs, sig.s, sig.len) || !str_catc(&hdrs, '\n'))
				nomem();
		}
	}
	/* the signatures first, then the message */
	part[0] = hdrs.s ? hdrs.s : "";
	len[0] = hdrs.len;
	part[1] = msg.s ? msg.s : "";
	len[1] = msg.len;
	return spool_pass(part, len, 2, &sp, env.s, env.len, step, sizeof step);
}
