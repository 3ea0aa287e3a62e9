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
#include "control.h"
#include "die.h"
#include "dkim.h"
#include "qqfilter.h"
#include "str.h"

#define KEYS_MAX 8		/* keys used per domain */
#define KEYFILE_MAX 65536	/* bytes in a PEM key file */
#define SELECTOR_MAX 63

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

/* body_hash - base64 SHA-256 of the relaxed body */
static void
body_hash(const char *body, size_t n, struct str *out)
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned mdlen;
	struct dkim_body b;
	EVP_MD_CTX *ctx;

	if ((ctx = EVP_MD_CTX_new()) == NULL || !EVP_DigestInit_ex(ctx, EVP_sha256(), NULL))
		die(QQ_REFUSE, "unable to set up SHA-256");
	dkim_body_init(&b, 1, digest_put, ctx);
	if (!dkim_body_feed(&b, body, n) || !dkim_body_end(&b) ||
	    !EVP_DigestFinal_ex(ctx, md, &mdlen))
		die(QQ_REFUSE, "SHA-256 failed");
	EVP_MD_CTX_free(ctx);
	if (!base64_encode((const char *)md, mdlen, out))
		nomem();
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
	const char *part[KEYS_MAX + 1], *s;
	size_t len[KEYS_MAX + 1], nf, body, i, j, k, nkeys, slen, count, hstart[KEYS_MAX];
	char tbuf[FMT_ULONG];
	EVP_PKEY *key;
	const char *auth;
	int fieldsok;

	(void)argc;
	die_init(argv[0]);
	if (chdir(auto_home) == -1)
		die_sys(QQ_REFUSE, "unable to chdir to ", auto_home);
	qq_input(&msg, &env);
	/* CRLF becomes LF, as qmail-smtpd stores it: qmail-remote would
	 * send a CR before an LF as text, and the signature must cover the
	 * message as it will go out */
	for (i = j = 0; i < msg.len; i++)
		if (msg.s[i] != '\r' || i + 1 == msg.len || msg.s[i + 1] != '\n')
			msg.s[j++] = msg.s[i];
	msg.len = j;
	if (!qq_envelope_sender(env.s, env.len, &s, &slen))
		die(QQ_ENVELOPE, "the envelope is malformed");
	/* more fields than can be signed: refused for good below when a key
	 * would sign the message (trying again cannot help), passed on as
	 * it is when none would */
	if (!(fieldsok = dkim_fields(msg.s, msg.len, f, DKIM_FIELDS_MAX, &nf, &body)))
		nf = 0;

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
		body_hash(msg.s + body, msg.len - body, &bh);
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
	part[0] = hdrs.s ? hdrs.s : "";
	len[0] = hdrs.len;
	part[1] = msg.s ? msg.s : "";
	len[1] = msg.len;
	return qq_pass(part, len, 2, env.s, env.len);
}
