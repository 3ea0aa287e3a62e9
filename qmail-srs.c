/* qmail-srs.c - the Sender Rewriting Scheme: rewrite the envelope sender
 * of forwarded mail, and reverse it for bounces
 *
 *	qmail-srs          a qmail-queue filter (as $QMAILQUEUE)
 *	qmail-srs -r [local]   a delivery program (|qmail-srs -r in a .qmail)
 *
 * Filter: reads the message on fd 0 and the envelope on fd 1 like
 * qmail-queue.  When control/srsdomain is set, the sender is not empty,
 * not qmail-send's #@[] or PREFIX@HOST-@[] (VERP), its domain is not
 * one of ours (control/locals, control/virtualdomains, the SRS domain)
 * and some recipient's is not either, the sender becomes
 * SRS0=HHH=TT=domain=local@SRSDOMAIN (an SRS0 or SRS1 sender of another
 * domain becomes SRS1) -- unless srs_parse could not read that back (a
 * domain literal, a local part with blanks), when it stays as it is.
 * The message goes on unchanged to the next queue program, whose exit
 * code is ours.
 *
 * -r: the local part (the argument, else $DEFAULT, else $LOCAL) must be
 * an SRS address of ours with a hash made with one of the keys in
 * control/srssecret and a timestamp at most control/srsmaxage days old
 * (21 by default); then the message on fd 0 is queued again for the
 * original address with the sender $SENDER (a bounce's is empty).
 * Exit 0 done, 100 forged, expired or malformed, 111 temporary.
 *
 * Untrusted: the addresses being reversed (anyone may send to them).
 * Links OpenSSL's libcrypto for HMAC-SHA256.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "auto.h"
#include "base64.h"
#include "buf.h"
#include "control.h"
#include "die.h"
#include "env.h"
#include "qqfilter.h"
#include "srs.h"
#include "str.h"

#define ADDR_MAX 1000

struct config {
	struct str domain;	/* control/srsdomain, lower case */
	struct str secrets;	/* control/srssecret lines, NUL-separated; the first signs */
	unsigned long maxage;
	struct str locals;	/* control/locals and the domains of control/virtualdomains */
};

/* config - 0 when control/srsdomain is not set; dies on trouble */
static int
config(struct config *c, int code)
{
	struct str vd = STR_ZERO;
	size_t i, l;
	int r;

	if ((r = control_readline("control/srsdomain", &c->domain)) == -1)
		die_sys(code, "unable to read control/srsdomain");
	if (r == 0)
		return 0;
	str_lowerb(c->domain.s, c->domain.len);
	if ((r = control_readlist("control/srssecret", &c->secrets)) == -1)
		die_sys(code, "unable to read control/srssecret");
	if (r == 0 || c->secrets.len == 0)
		die(code, "control/srsdomain is set but control/srssecret is missing");
	if ((r = control_readulong("control/srsmaxage", &c->maxage)) == -1)
		die_sys(code, "unable to read control/srsmaxage");
	if (r == 0 || c->maxage == 0 || c->maxage > 1000)
		c->maxage = 21;
	if (control_readlist("control/locals", &c->locals) == -1)
		die_sys(code, "unable to read control/locals");
	if (control_readlist("control/virtualdomains", &vd) == -1)
		die_sys(code, "unable to read control/virtualdomains");
	for (i = 0; i < vd.len; i += l + 1) {
		l = strlen(vd.s + i);
		if (!str_catb(&c->locals, vd.s + i, str_chrb(vd.s + i, l, ':')) ||
		    !str_catc(&c->locals, 0))
			die_nomem();
	}
	if (!str_cat(&c->locals, &c->domain) || !str_catc(&c->locals, 0))
		die_nomem();
	str_lowerb(c->locals.s, c->locals.len);
	str_free(&vd);
	return 1;
}

/* local_domain - d[0..n) is one of ours: a domain listed, or under a
 * ".suffix" entry of control/virtualdomains (an address entry, with
 * its '@', names no domain) */
static int
local_domain(const struct config *c, const char *d, size_t n)
{
	const char *e;
	size_t i, l;

	for (i = 0; i < c->locals.len; i += l + 1) {
		e = c->locals.s + i;
		l = strlen(e);
		if (l == n && str_caseeqb(e, d, n))
			return 1;
		if (l > 1 && e[0] == '.' && n > l && str_caseeqb(e, d + n - l, l))
			return 1;
	}
	return 0;
}

/* hash - the first SRS_HASHLEN characters of base64 HMAC-SHA256 of
 * parts' data with key */
static void
hash(const char *key, const struct srs_parts *p, char out[SRS_HASHLEN], int code)
{
	struct str data = STR_ZERO, b = STR_ZERO;
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned mdlen = 0;
	size_t i;

	if (!srs_hashdata(p, &data))
		die_nomem();
	if (strlen(key) > 0x7fffffff ||
	    HMAC(EVP_sha256(), key, (int)strlen(key), (const unsigned char *)data.s, data.len,
	    md, &mdlen) == NULL)
		die(code, "HMAC-SHA256 failed");
	if (!base64_encode((const char *)md, mdlen, &b) || b.len < SRS_HASHLEN)
		die_nomem();
	/* '/' cannot be in a .qmail file name, '+' is a separator to some */
	for (i = 0; i < SRS_HASHLEN; i++)
		out[i] = b.s[i] == '/' ? '_' : b.s[i] == '+' ? '.' : b.s[i];
	str_free(&data);
	str_free(&b);
}

static unsigned long
today(void)
{
	return (unsigned long)time(NULL) / 86400;
}

/* forward - the SRS sender for s[0..n) into out; 0 leaves it as it is:
 * the null sender, qmail's own forms, ours, and whatever an SRS address
 * could not carry back (srs_parse would not read it) */
static int
forward(const struct config *c, const char *s, size_t n, struct str *out)
{
	struct srs_parts p, in, back;
	char h[SRS_HASHLEN], tt[2];
	size_t at = str_rchrb(s, n, '@'), ol;

	if (n == 0 || at == n || at == 0 || at == n - 1)
		return 0;	/* <>, or no domain: nothing to rewrite */
	/* the domain [] is qmail-send's: #@[] is the double-bounce sender,
	 * PREFIX@HOST-@[] a VERP sender that qmail-send turns into
	 * PREFIX-user=domain@HOST for each recipient.  Left alone: an SRS
	 * address cannot survive that expansion (its hash would not cover
	 * the part qmail-send adds), and a list post's bounces must reach
	 * the list as they are. */
	if (n - at - 1 == 2 && s[at + 1] == '[' && s[at + 2] == ']')
		return 0;
	if (local_domain(c, s + at + 1, n - at - 1))
		return 0;	/* ours: SPF passes for it already */
	if (srs_parse(s, at, &in)) {
		/* already rewritten elsewhere: SRS1 through the first host */
		p.type = 1;
		p.tt = NULL;
		if (in.type == 1) {
			p.domain = in.domain;
			p.domainlen = in.domainlen;
			p.local = in.local;
			p.locallen = in.locallen;
		} else {
			p.domain = s + at + 1;
			p.domainlen = n - at - 1;
			p.local = s + 4;	/* from the separator after SRS0 */
			p.locallen = at - 4;
		}
	} else {
		srs_timestamp(today(), tt);
		p.type = 0;
		p.tt = tt;
		p.domain = s + at + 1;
		p.domainlen = n - at - 1;
		p.local = s;
		p.locallen = at;
	}
	hash(c->secrets.s, &p, h, QQ_CONF);
	p.hash = h;
	out->len = 0;
	if (!srs_format(&p, out))
		die(QQ_NOMEM, "out of memory");
	/* a domain literal ([192.0.2.1]), a local part with blanks or 8-bit
	 * bytes, an '@' left in it: qmail-srs -r would refuse the bounce as
	 * "not an SRS address", so the sender stays as it is */
	ol = out->len;
	if (!srs_parse(out->s, ol, &back) || back.type != p.type ||
	    back.domainlen != p.domainlen || memcmp(back.domain, p.domain, p.domainlen) != 0 ||
	    back.locallen != p.locallen || memcmp(back.local, p.local, p.locallen) != 0)
		return 0;
	if (!str_catc(out, '@') || !str_cat(out, &c->domain))
		die(QQ_NOMEM, "out of memory");
	return out->len <= ADDR_MAX;
}

/* filter - the $QMAILQUEUE mode */
static int
filter(void)
{
	struct config c = { STR_ZERO, STR_ZERO, 0, STR_ZERO };
	struct str msg = STR_ZERO, env = STR_ZERO, newenv = STR_ZERO, sender = STR_ZERO;
	const char *s, *part[1];
	size_t slen, i, l, at, len[1];
	int remote = 0;

	qq_input(&msg, &env);
	if (!qq_envelope_sender(env.s, env.len, &s, &slen))
		die(QQ_ENVELOPE, "the envelope is malformed");
	if (config(&c, QQ_CONF)) {
		/* the recipients: T records after the sender, up to the final NUL */
		for (i = slen + 2; i < env.len && env.s[i] == 'T'; i += l + 1) {
			l = str_chrb(env.s + i, env.len - i, 0);
			if (l == env.len - i)
				break;
			at = str_rchrb(env.s + i + 1, l - 1, '@');
			if (at == l - 1 || !local_domain(&c, env.s + i + 1 + at + 1, l - 1 - at - 1))
				remote = 1;
		}
		if (remote && forward(&c, s, slen, &sender)) {
			if (!str_catc(&newenv, 'F') || !str_cat(&newenv, &sender) ||
			    !str_catb(&newenv, env.s + slen + 1, env.len - slen - 1))
				die(QQ_NOMEM, "out of memory");
			str_free(&env);
			env = newenv;
		}
	}
	part[0] = msg.s ? msg.s : "";
	len[0] = msg.len;
	return qq_pass(part, len, 1, env.s, env.len);
}

/* out - a line for qmail-local's report, then exit */
static void __attribute__((noreturn))
report(int code, const char *a, const char *b)
{
	struct str o = STR_ZERO;

	if (str_cats(&o, a) && (!b || str_cats(&o, b)) && str_catc(&o, '\n'))
		(void)fd_writeall(1, o.s, o.len, 0);	/* the exit code says it all */
	_exit(code);
}

/* reverse - the -r mode */
static int
reverse(const char *local)
{
	struct config c = { STR_ZERO, STR_ZERO, 0, STR_ZERO };
	struct str msg = STR_ZERO, env = STR_ZERO, dest = STR_ZERO;
	struct srs_parts p;
	const char *sender = env_get("SENDER"), *key, *part[1];
	char h[SRS_HASHLEN];
	unsigned long age;
	size_t i, n = strlen(local), len[1];
	int ok = 0, code;

	if (!config(&c, EXIT_TEMP))
		report(EXIT_TEMP, "control/srsdomain is not set: SRS addresses cannot be reversed", NULL);
	if (!srs_parse(local, n, &p))
		report(EXIT_PERM, "Sorry, this is not an SRS address. (#5.1.1)", NULL);
	for (i = 0; i < c.secrets.len; i += strlen(key) + 1) {
		key = c.secrets.s + i;
		hash(key, &p, h, EXIT_TEMP);
		if (srs_hasheq(h, p.hash))
			ok = 1;
	}
	if (!ok)
		report(EXIT_PERM, "Sorry, this SRS address has a bad hash: forged. (#5.7.1)", NULL);
	if (p.type == 0) {
		if (!srs_age(p.tt, today(), &age) || age > c.maxage)
			report(EXIT_PERM, "Sorry, this SRS address has expired. (#5.7.1)", NULL);
		if (!str_catb(&dest, p.local, p.locallen))
			die_nomem();
	} else if (!str_cats(&dest, "SRS0") || !str_catb(&dest, p.local, p.locallen))
		die_nomem();
	if (!str_catc(&dest, '@') || !str_catb(&dest, p.domain, p.domainlen))
		die_nomem();
	if (!sender)
		sender = "";
	if (strlen(sender) > ADDR_MAX)
		report(EXIT_PERM, "Sorry, the sender address is too long. (#5.1.7)", NULL);
	if (!str_catc(&env, 'F') || !str_cats(&env, sender) || !str_catc(&env, 0) ||
	    !str_catc(&env, 'T') || !str_cat(&env, &dest) || !str_catc(&env, 0) || !str_catc(&env, 0))
		die_nomem();
	if (!qq_readall(0, &msg))
		report(EXIT_TEMP, "unable to read the message", NULL);
	part[0] = msg.s ? msg.s : "";
	len[0] = msg.len;
	code = qq_next(part, len, 1, env.s, env.len);
	if (code == 0) {
		if (!str_nul(&dest))
			die_nomem();
		report(0, "SRS: passed on to ", dest.s);
	}
	if (qq_permanent(code))
		report(EXIT_PERM, "SRS: qmail-queue refused the message permanently", NULL);
	report(EXIT_TEMP, "SRS: unable to queue the message; will try again", NULL);
}

int
main(int argc, char **argv)
{
	const char *local;

	die_init(argv[0]);
	if (argc >= 2 && str_equal(argv[1], "-r")) {
		if (chdir(auto_home) == -1)
			report(EXIT_TEMP, "unable to chdir to the install root", NULL);
		local = argc >= 3 ? argv[2] : env_get("DEFAULT");
		if (!local || !*local)
			local = env_get("LOCAL");
		if (!local)
			report(EXIT_PERM, "usage: qmail-srs -r [local]", NULL);
		return reverse(local);
	}
	if (argc != 1)
		die(EXIT_PERM, "usage: qmail-srs | qmail-srs -r [local]");
	if (chdir(auto_home) == -1)
		die_sys(QQ_CONF, "unable to chdir to ", auto_home);
	return filter();
}
