/* spf.c - SPF record parsing and evaluation (RFC 7208); see spf.h
 *
 * Every record and every name in it is untrusted.  The evaluation is
 * bounded by the DNS lookup limits, which also end include and
 * redirect loops.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>

#include "dns.h"
#include "spf.h"
#include "str.h"

#define LOOKUPS_MAX 10
#define VOIDS_MAX 2
#define MXNAMES_MAX 10

static const char *const names[] = {
	"none", "neutral", "pass", "fail", "softfail", "temperror", "permerror"
};

const char *
spf_name(int r)
{
	if (r < 0 || r > SPF_PERMERROR)
		return "permerror";
	return names[r];
}

/* word - p[0..n) is s, case ignored */
static int
word(const char *p, size_t n, const char *s)
{
	return strlen(s) == n && str_caseeqb(p, s, n);
}

/* cidr - a decimal prefix length up to max in p[0..n); 1 ok */
static int
cidr(const char *p, size_t n, unsigned max, unsigned *out)
{
	unsigned long u;

	if (n == 0 || n > 3 || (n > 1 && p[0] == '0') || !scan_ulong(p, n, &u) || u > max)
		return 0;
	*out = (unsigned)u;
	return 1;
}

/* dual_cidr - the "/n", "//m" or "/n//m" at the end of an argument:
 * the domain-spec part's length into *dn */
static int
dual_cidr(const char *p, size_t n, size_t *dn, struct spf_term *t)
{
	size_t s = n, e;

	/* The prefix lengths are the digits and slashes that end the
	 * argument, from the first slash among them: a slash further left
	 * belongs to the domain-spec, as the delimiter of "%{l/}" does. */
	while (s > 0 && (str_isdigit(p[s - 1]) || p[s - 1] == '/'))
		s--;
	s += str_chrb(p + s, n - s, '/');
	*dn = s;
	if (s == n)
		return 1;
	p += s;
	n -= s;
	if (n >= 2 && p[1] == '/')
		return cidr(p + 2, n - 2, 128, &t->cidr6);
	e = 1 + str_chrb(p + 1, n - 1, '/');
	if (!cidr(p + 1, e - 1, 32, &t->cidr4))
		return 0;
	if (e == n)
		return 1;
	if (n - e < 2 || p[e + 1] != '/')
		return 0;
	return cidr(p + e + 2, n - e - 2, 128, &t->cidr6);
}

/* macro_ok - a syntactically valid macro-string (RFC 7208 7.1).  In a
 * domain-spec (spec set) the letters c, r and t are an error: 7.2 allows
 * them only in explanation text, which is never fetched here. */
static int
macro_ok(const char *p, size_t n, int spec)
{
	size_t i, d;

	for (i = 0; i < n; i++) {
		unsigned char c = (unsigned char)p[i];
		if (c < 0x21 || c > 0x7e)
			return 0;
		if (c != '%')
			continue;
		if (++i == n)
			return 0;
		if (p[i] == '%' || p[i] == '_' || p[i] == '-')
			continue;
		if (p[i] != '{' || ++i == n || !p[i] ||
		    !strchr(spec ? "slodiphvSLODIPHV" : "slodiphcrtvSLODIPHCRTV", p[i]))
			return 0;
		/* a number of parts: 1 to 999, no leading zero */
		if (++i < n && p[i] == '0')
			return 0;
		for (d = 0; i < n && str_isdigit(p[i]); i++)
			if (++d > 3)
				return 0;
		if (i < n && (p[i] == 'r' || p[i] == 'R'))
			i++;
		for (; i < n && p[i] && strchr(".-+,/_=", p[i]); i++)
			;
		if (i == n || p[i] != '}')
			return 0;
	}
	return 1;
}

int
spf_parse(const char *rec, size_t n, struct spf_term *t, size_t max, size_t *count)
{
	size_t i, e, nl, dn;
	int redirect = 0, exp = 0;
	struct spf_term *x;
	char ipbuf[64];

	*count = 0;
	if (n < 6 || !str_caseeqb(rec, "v=spf1", 6) || (n > 6 && rec[6] != ' '))
		return 0;
	for (i = 6; ; i = e) {
		while (i < n && rec[i] == ' ')
			i++;
		if (i == n)
			return 1;
		for (e = i; e < n && rec[e] != ' '; e++)
			;
		if (*count >= max)
			return 0;
		x = &t[*count];
		memset(x, 0, sizeof *x);
		x->cidr4 = 32;
		x->cidr6 = 128;
		x->term = i;
		x->termlen = e - i;
		/* a modifier: name=value */
		for (nl = i; nl < e && (str_isalpha(rec[nl]) || str_isdigit(rec[nl]) ||
		    rec[nl] == '-' || rec[nl] == '_' || rec[nl] == '.'); nl++)
			;
		if (nl > i && nl < e && rec[nl] == '=' && str_isalpha(rec[i])) {
			x->arg = nl + 1;
			x->arglen = e - nl - 1;
			if (word(rec + i, nl - i, "redirect")) {
				if (redirect++ || x->arglen == 0)
					return 0;
				x->kind = SPF_REDIRECT;
			} else if (word(rec + i, nl - i, "exp")) {
				if (exp++ || x->arglen == 0)
					return 0;
				x->kind = SPF_EXP;
			} else
				x->kind = SPF_UNKNOWNMOD;
			/* redirect= and exp= name a domain; an unknown
			 * modifier's macro-string is never expanded */
			if (!macro_ok(rec + x->arg, x->arglen, x->kind != SPF_UNKNOWNMOD))
				return 0;
			(*count)++;
			continue;
		}
		/* a mechanism: [qualifier] name [":" arg] [cidr] */
		x->qual = '+';
		if (rec[i] == '+' || rec[i] == '-' || rec[i] == '~' || rec[i] == '?')
			x->qual = rec[i++];
		for (nl = i; nl < e && str_isalpha(rec[nl]); nl++)
			;
		if (nl < e && str_isdigit(rec[nl]) && word(rec + i, nl - i + 1, "ip4"))
			nl++;
		else if (nl < e && str_isdigit(rec[nl]) && word(rec + i, nl - i + 1, "ip6"))
			nl++;
		if (word(rec + i, nl - i, "all")) {
			if (nl != e)
				return 0;
			x->kind = SPF_ALL;
		} else if (word(rec + i, nl - i, "include") || word(rec + i, nl - i, "exists")) {
			x->kind = rec[i] == 'i' || rec[i] == 'I' ? SPF_INCLUDE : SPF_EXISTS;
			if (nl == e || rec[nl] != ':' || e - nl < 2)
				return 0;
			x->arg = nl + 1;
			x->arglen = e - nl - 1;
			if (!macro_ok(rec + x->arg, x->arglen, 1))
				return 0;
		} else if (word(rec + i, nl - i, "a") || word(rec + i, nl - i, "mx") ||
		    word(rec + i, nl - i, "ptr")) {
			x->kind = nl - i == 1 ? SPF_A : nl - i == 2 ? SPF_MX : SPF_PTR;
			if (nl < e && rec[nl] == ':') {
				x->arg = nl + 1;
				x->arglen = e - nl - 1;
			} else if (nl < e && rec[nl] != '/')
				return 0;
			else {
				x->arg = nl;
				x->arglen = e - nl;
			}
			if (x->kind != SPF_PTR) {
				if (!dual_cidr(rec + x->arg, x->arglen, &dn, x))
					return 0;
				x->arglen = dn;
			}
			if (x->arglen == 0)
				x->arg = 0;
			else if (rec[x->arg - 1] != ':' || !macro_ok(rec + x->arg, x->arglen, 1))
				return 0;
			if (x->arg == 0 && nl < e && rec[nl] == ':')
				return 0;	/* "a:" with nothing after it */
		} else if (word(rec + i, nl - i, "ip4") || word(rec + i, nl - i, "ip6")) {
			int six = rec[i + 2] == '6';
			size_t s;
			x->kind = six ? SPF_IP6 : SPF_IP4;
			if (nl == e || rec[nl] != ':')
				return 0;
			x->arg = nl + 1;
			s = str_chrb(rec + x->arg, e - x->arg, '/');
			x->arglen = s;
			if (s == 0 || s >= sizeof ipbuf)
				return 0;
			memcpy(ipbuf, rec + x->arg, s);
			ipbuf[s] = 0;
			if (inet_pton(six ? AF_INET6 : AF_INET, ipbuf, x->ip) != 1)
				return 0;
			if (x->arg + s < e && !cidr(rec + x->arg + s + 1, e - x->arg - s - 1,
			    six ? 128 : 32, six ? &x->cidr6 : &x->cidr4))
				return 0;
		} else
			return 0;	/* an unknown mechanism */
		(*count)++;
	}
}

int
spf_ip(const char *s, struct spf_req *req)
{
	static const unsigned char mapped[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff };

	if (inet_pton(AF_INET, s, req->ip) == 1) {
		req->family = AF_INET;
		return 1;
	}
	if (inet_pton(AF_INET6, s, req->ip) != 1)
		return 0;
	req->family = AF_INET6;
	if (memcmp(req->ip, mapped, 12) == 0) {
		memmove(req->ip, req->ip + 12, 4);
		req->family = AF_INET;
	}
	return 1;
}

/* cat_escaped - URL-escape for upper-case macro letters (RFC 7208 7.3) */
static int
cat_escaped(struct str *out, const char *p, size_t n)
{
	static const char hex[] = "0123456789ABCDEF";
	size_t i;

	for (i = 0; i < n; i++) {
		char c = p[i];
		if (str_isalpha(c) || str_isdigit(c) || c == '-' || c == '.' || c == '_' || c == '~') {
			if (!str_catc(out, c))
				return 0;
		} else if (!str_catc(out, '%') || !str_catc(out, hex[(unsigned char)c >> 4]) ||
		    !str_catc(out, hex[(unsigned char)c & 15]))
			return 0;
	}
	return 1;
}

int
spf_expand(const struct spf_req *req, const char *domain, size_t dn,
    const char *p, size_t n, struct str *out)
{
	struct str val = STR_ZERO;
	size_t i, parts[128], plen[128], np, k, first, start;
	unsigned long keep;
	int rev, upper, ok = 0;
	char letter, buf[INET6_ADDRSTRLEN + 1];
	const char *delim;
	size_t ndelim;

	if (!macro_ok(p, n, 1)) {
		errno = EINVAL;
		return 0;
	}
	for (i = 0; i < n; i++) {
		if (p[i] != '%') {
			if (!str_catc(out, p[i]))
				goto done;
			continue;
		}
		i++;
		if (p[i] == '%' || p[i] == '_' || p[i] == '-') {
			if (!str_cats(out, p[i] == '%' ? "%" : p[i] == '_' ? " " : "%20"))
				goto done;
			continue;
		}
		letter = p[++i];
		upper = letter >= 'A' && letter <= 'Z';
		letter = str_lowerc(letter);
		val.len = 0;
		switch (letter) {
		case 's':
			if (!str_catb(&val, req->local, req->locallen) || !str_catc(&val, '@') ||
			    !str_catb(&val, req->domain, req->domainlen))
				goto done;
			break;
		case 'l':
			if (!str_catb(&val, req->local, req->locallen))
				goto done;
			break;
		case 'o':
			if (!str_catb(&val, req->domain, req->domainlen))
				goto done;
			break;
		case 'd':
			if (!str_catb(&val, domain, dn))
				goto done;
			break;
		case 'i':
			if (req->family == AF_INET) {
				if (!inet_ntop(req->family, req->ip, buf, sizeof buf) || !str_cats(&val, buf))
					goto done;
			} else {
				for (k = 0; k < 32; k++) {
					unsigned nib = (req->ip[k / 2] >> (k % 2 ? 0 : 4)) & 15;
					if ((k && !str_catc(&val, '.')) || !str_catc(&val, "0123456789abcdef"[nib]))
						goto done;
				}
			}
			break;
		case 'p':
			if (!str_cats(&val, "unknown"))
				goto done;
			break;
		case 'v':
			if (!str_cats(&val, req->family == AF_INET ? "in-addr" : "ip6"))
				goto done;
			break;
		case 'h':
			if (!str_catb(&val, req->helo, req->helolen))
				goto done;
			break;
		}
		/* transformers: digits, 'r', delimiters */
		i++;
		for (start = i; i < n && str_isdigit(p[i]); i++)
			;
		keep = 0;
		if (i > start && (!scan_ulong(p + start, i - start, &keep) || keep == 0)) {
			errno = EINVAL;
			goto done;
		}
		rev = 0;
		if (p[i] == 'r' || p[i] == 'R') {
			rev = 1;
			i++;
		}
		delim = p + i;
		for (ndelim = 0; p[i] != '}'; i++)
			ndelim++;
		if (ndelim == 0) {
			delim = ".";
			ndelim = 1;
		}
		if (val.len == 0)
			continue;	/* nothing to split */
		/* split on the delimiters, keep the rightmost parts, join with '.' */
		for (np = 0, start = 0, k = 0; k <= val.len; k++) {
			if (k < val.len && !memchr(delim, val.s[k], ndelim))
				continue;
			if (np == 128) {
				errno = EINVAL;
				goto done;
			}
			parts[np] = start;
			plen[np++] = k - start;
			start = k + 1;
		}
		if (rev)
			for (k = 0; k < np / 2; k++) {
				size_t a = parts[k], b = plen[k];
				parts[k] = parts[np - 1 - k];
				plen[k] = plen[np - 1 - k];
				parts[np - 1 - k] = a;
				plen[np - 1 - k] = b;
			}
		first = keep && keep < np ? np - keep : 0;
		for (k = first; k < np; k++) {
			if (k > first && !str_catc(out, '.'))
				goto done;
			if (upper ? !cat_escaped(out, val.s + parts[k], plen[k]) :
			    !str_catb(out, val.s + parts[k], plen[k]))
				goto done;
		}
	}
	ok = 1;
done:
	str_free(&val);
	return ok;
}

struct state {
	const struct spf_req *req;
	unsigned lookups, voids;
	struct str *why;
};

static int check(struct state *st, const char *domain, size_t dn, unsigned depth);

/* target - the domain a mechanism names: its expanded argument, or the
 * current domain; longer than 253, drop labels from the left */
static int
target(struct state *st, const char *rec, const struct spf_term *t,
    const char *domain, size_t dn, struct str *out)
{
	size_t cut;

	out->len = 0;
	if (t->arglen == 0)
		return str_catb(out, domain, dn);
	if (!spf_expand(st->req, domain, dn, rec + t->arg, t->arglen, out))
		return 0;
	while (out->len > 253) {
		cut = str_chrb(out->s, out->len, '.');
		if (cut == out->len)
			return errno = EINVAL, 0;
		memmove(out->s, out->s + cut + 1, out->len - cut - 1);
		out->len -= cut + 1;
	}
	while (out->len > 0 && out->s[out->len - 1] == '.')
		out->len--;
	return 1;
}

static int
inprefix(const unsigned char *a, const unsigned char *b, unsigned bits)
{
	unsigned full = bits / 8, rest = bits % 8;

	if (memcmp(a, b, full) != 0)
		return 0;
	if (rest == 0)
		return 1;
	return ((a[full] ^ b[full]) & (0xff00 >> rest) & 0xff) == 0;
}

/* counted - one more DNS-querying term; 0 past the limit */
static int
counted(struct state *st)
{
	return ++st->lookups <= LOOKUPS_MAX;
}

/* isvoid - count a lookup that found nothing; 0 past the limit */
static int
isvoid(struct state *st)
{
	return ++st->voids <= VOIDS_MAX;
}

/* addr_match - does name have an address of the client's family within
 * the prefix?  1 yes, 0 no, -1 temperror, -2 permerror (void limit) */
static int
addr_match(struct state *st, const char *name, size_t n, const struct spf_term *t, int countvoid)
{
	struct str addrs = STR_ZERO;
	size_t count, i, size;
	int r, six = st->req->family == AF_INET6;

	/* every address: RFC 7208 sets no limit on them, and the one that
	 * matches may come last */
	r = dns_addrs(name, n, six, &addrs, &count);
	if (r == 1) {
		size = six ? 16 : 4;
		for (i = 0, r = 0; i < count && !r; i++)
			r = inprefix(st->req->ip, (const unsigned char *)addrs.s + i * size,
			    six ? t->cidr6 : t->cidr4);
	} else if (r != -1)
		r = countvoid && !isvoid(st) ? -2 : 0;
	str_free(&addrs);
	return r;
}

static int
fail(struct state *st, int res, const char *why)
{
	st->why->len = 0;
	(void)str_cats(st->why, why);	/* a reason is only a comment */
	return res;
}

/* mechanism - 1 match, 0 no match, or -1 - an SPF_ error result */
static int
mechanism(struct state *st, const char *rec, const struct spf_term *t,
    const char *domain, size_t dn, unsigned depth)
{
	struct str name = STR_ZERO;
	struct dns_mx mx[DNS_MX_MAX];
	size_t count, i;
	int r = 0, sub;

	switch (t->kind) {
	case SPF_ALL:
		return 1;
	case SPF_IP4:
		return st->req->family == AF_INET && inprefix(st->req->ip, t->ip, t->cidr4);
	case SPF_IP6:
		return st->req->family == AF_INET6 && inprefix(st->req->ip, t->ip, t->cidr6);
	default:
		break;
	}
	if (!counted(st))
		return -1 - fail(st, SPF_PERMERROR, "too many DNS lookups");
	if (!target(st, rec, t, domain, dn, &name)) {
		str_free(&name);
		return -1 - fail(st, SPF_PERMERROR, "bad domain-spec");
	}
	switch (t->kind) {
	case SPF_INCLUDE:
		sub = check(st, name.s, name.len, depth + 1);
		if (sub == SPF_PASS)
			r = 1;
		else if (sub == SPF_TEMPERROR)
			r = -1 - SPF_TEMPERROR;
		else if (sub == SPF_PERMERROR || sub == SPF_NONE)
			r = -1 - (sub == SPF_NONE ? fail(st, SPF_PERMERROR, "include without a record") : SPF_PERMERROR);
		else
			r = 0;
		break;
	case SPF_A:
		r = addr_match(st, name.s, name.len, t, 1);
		if (r == -1)
			r = -1 - fail(st, SPF_TEMPERROR, "DNS lookup failed");
		else if (r == -2)
			r = -1 - fail(st, SPF_PERMERROR, "too many void lookups");
		break;
	case SPF_MX:
		r = dns_mx(name.s, name.len, mx, DNS_MX_MAX, &count);
		if (r == -1) {
			r = -1 - fail(st, SPF_TEMPERROR, "DNS lookup failed");
			break;
		}
		if (r != 1 || count == 0) {
			r = isvoid(st) ? 0 : -1 - fail(st, SPF_PERMERROR, "too many void lookups");
			break;
		}
		if (count > MXNAMES_MAX) {
			r = -1 - fail(st, SPF_PERMERROR, "more than 10 MX names");
			break;
		}
		for (i = 0, r = 0; i < count && r == 0; i++)
			if (mx[i].len > 0)
				r = addr_match(st, mx[i].name, mx[i].len, t, 0);
		if (r == -1)
			r = -1 - fail(st, SPF_TEMPERROR, "DNS lookup failed");
		break;
	case SPF_PTR:
		r = 0;	/* never matches: see spf.h */
		break;
	case SPF_EXISTS:
		{
			struct dns_rr rr[1];
			r = dns_query(name.s, name.len, DNS_T_A, rr, 1, &count);
			if (r == -1)
				r = -1 - fail(st, SPF_TEMPERROR, "DNS lookup failed");
			else if (r != 1)
				r = isvoid(st) ? 0 : -1 - fail(st, SPF_PERMERROR, "too many void lookups");
		}
		break;
	default:
		r = 0;
		break;
	}
	str_free(&name);
	return r;
}

/* record - the one "v=spf1" record of domain into rec; SPF_PASS when
 * found (as a marker), else the result: none, temperror, permerror */
static int
record(struct state *st, const char *domain, size_t dn, struct str *rec)
{
	struct str txt = STR_ZERO;
	size_t count, i, k, found = 0;
	int r, nomem = 0;

	r = dns_txt(domain, dn, &txt, &count);
	if (r == -1) {
		str_free(&txt);
		return fail(st, SPF_TEMPERROR, "DNS lookup failed");
	}
	if (r != 1) {
		str_free(&txt);
		return fail(st, SPF_NONE, "no SPF record");
	}
	/* every record of the answer: a second v=spf1 may come anywhere */
	for (i = 0, k = 0; k < count && found < 2; k++, i += strlen(txt.s + i) + 1) {
		size_t l = strlen(txt.s + i);
		if (l >= 6 && str_caseeqb(txt.s + i, "v=spf1", 6) && (l == 6 || txt.s[i + 6] == ' ') &&
		    found++ == 0 && !str_copyb(rec, txt.s + i, l))
			nomem = 1;
	}
	str_free(&txt);
	if (nomem)
		return fail(st, SPF_TEMPERROR, "out of memory");
	if (found > 1)
		return fail(st, SPF_PERMERROR, "more than one SPF record");
	if (found == 0)
		return fail(st, SPF_NONE, "no SPF record");
	return SPF_PASS;
}

/* check - check_host() of RFC 7208 4 */
static int
check(struct state *st, const char *domain, size_t dn, unsigned depth)
{
	struct spf_term terms[SPF_TERMS_MAX];
	struct str rec = STR_ZERO, name = STR_ZERO;
	size_t count, i, redirect = (size_t)-1;
	int r, res;
	char qual;

	if (depth > LOOKUPS_MAX + 1)
		return fail(st, SPF_PERMERROR, "too deep");
	if (dn == 0 || dn > 253)
		return fail(st, SPF_NONE, "not a domain");
	if ((r = record(st, domain, dn, &rec)) != SPF_PASS) {
		str_free(&rec);
		return r;
	}
	if (!spf_parse(rec.s, rec.len, terms, SPF_TERMS_MAX, &count)) {
		str_free(&rec);
		return fail(st, SPF_PERMERROR, "syntax error in the record");
	}
	res = SPF_NEUTRAL;	/* no match, no redirect */
	for (i = 0; i < count; i++) {
		if (terms[i].kind == SPF_REDIRECT) {
			redirect = i;
			continue;
		}
		if (terms[i].kind == SPF_EXP || terms[i].kind == SPF_UNKNOWNMOD)
			continue;
		r = mechanism(st, rec.s, &terms[i], domain, dn, depth);
		if (r < 0) {
			res = -1 - r;
			goto out;
		}
		if (r == 1) {
			qual = terms[i].qual;
			res = qual == '-' ? SPF_FAIL : qual == '~' ? SPF_SOFTFAIL :
			    qual == '?' ? SPF_NEUTRAL : SPF_PASS;
			st->why->len = 0;
			/* a comment only: a failure to say it changes nothing */
			(void)str_cats(st->why, "matched ");
			(void)str_catb(st->why, rec.s + terms[i].term,
			    terms[i].termlen < 100 ? terms[i].termlen : 100);
			(void)str_cats(st->why, " in ");
			(void)str_catb(st->why, domain, dn);
			goto out;
		}
	}
	if (redirect != (size_t)-1) {
		if (!counted(st)) {
			res = fail(st, SPF_PERMERROR, "too many DNS lookups");
			goto out;
		}
		if (!target(st, rec.s, &terms[redirect], domain, dn, &name)) {
			res = fail(st, SPF_PERMERROR, "bad redirect");
			goto out;
		}
		res = check(st, name.s, name.len, depth + 1);
		if (res == SPF_NONE)
			res = fail(st, SPF_PERMERROR, "redirect to a domain without a record");
		goto out;
	}
	(void)fail(st, SPF_NEUTRAL, "no mechanism matched");
out:
	str_free(&rec);
	str_free(&name);
	return res;
}

int
spf_check(const struct spf_req *req, struct str *why)
{
	struct state st;

	st.req = req;
	st.lookups = 0;
	st.voids = 0;
	st.why = why;
	why->len = 0;
	return check(&st, req->domain, req->domainlen, 0);
}
