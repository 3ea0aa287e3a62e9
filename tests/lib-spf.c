/* lib-spf - unit tests for lib/spf.c's record parser and macro expansion
 * (RFC 7208 7.4's examples); the evaluation over DNS is tested end to end
 * by tests/qmail-spf.t */
#include <string.h>
#include <sys/socket.h>

#include "spf.h"
#include "str.h"
#include "tap.h"

static struct spf_term t[SPF_TERMS_MAX];

static int
parses(const char *r, size_t want)
{
	size_t n;

	return spf_parse(r, strlen(r), t, SPF_TERMS_MAX, &n) && n == want;
}

/* refused - spf_parse says r is a syntax error */
static int
refused(const char *r)
{
	size_t n;

	return !spf_parse(r, strlen(r), t, SPF_TERMS_MAX, &n);
}

static int
expands(const struct spf_req *q, const char *spec, const char *want)
{
	struct str out = STR_ZERO;
	int r = spf_expand(q, "email.example.com", 17, spec, strlen(spec), &out) &&
	    out.len == strlen(want) && memcmp(out.s, want, out.len) == 0;

	str_free(&out);
	return r;
}

int
main(void)
{
	struct spf_req q;
	struct str out = STR_ZERO;
	size_t n;

	ok(parses("v=spf1", 0), "an empty record");
	ok(parses("v=spf1 -all", 1) && t[0].kind == SPF_ALL && t[0].qual == '-', "-all");
	ok(parses("V=SPF1 +A MX/24 ~ip4:192.0.2.0/24 ?ip6:2001:db8::/32 include:x.test exists:%{i}.y.test -ALL", 7),
	    "every mechanism, any case");
	ok(t[1].kind == SPF_MX && t[1].cidr4 == 24 && t[1].arglen == 0, "mx/24: no domain, prefix 24");
	ok(t[2].kind == SPF_IP4 && t[2].qual == '~' && t[2].cidr4 == 24 && t[2].ip[0] == 192, "ip4 with a prefix");
	ok(t[3].kind == SPF_IP6 && t[3].cidr6 == 32 && t[3].ip[0] == 0x20, "ip6 with a prefix");
	ok(parses("v=spf1 a:mail.test/24//64 redirect=_spf.test exp=explain.test foo=bar", 4) &&
	    t[0].cidr4 == 24 && t[0].cidr6 == 64 && t[1].kind == SPF_REDIRECT && t[3].kind == SPF_UNKNOWNMOD,
	    "dual prefix, modifiers, an unknown modifier ignored");
	ok(!parses("v=spf10 -all", 0), "v=spf10 is not SPF");
	ok(!parses("v=spf1 foo", 0), "an unknown mechanism");
	ok(!parses("v=spf1 ip4:300.1.1.1", 0), "a bad IPv4 address");
	ok(!parses("v=spf1 ip4:1.2.3.4/33", 0), "a prefix over 32");
	ok(!parses("v=spf1 ip6:::1/129", 0), "a prefix over 128");
	ok(!parses("v=spf1 a/", 0), "an empty prefix");
	ok(!parses("v=spf1 a:", 0), "an empty domain");
	ok(!parses("v=spf1 include", 0), "include needs a domain");
	ok(!parses("v=spf1 redirect=a.test redirect=b.test", 0), "redirect twice");
	ok(!parses("v=spf1 exists:%{z}.test", 0), "an unknown macro letter");
	ok(!parses("v=spf1 exists:%{d0}.test", 0), "a part count of 0");
	ok(!parses("v=spf1 exists:%{d", 0), "an unclosed macro");
	ok(!parses("v=spf1 -all/24", 0), "all takes no prefix");
	ok(!spf_parse("v=spf1 all all", 14, t, 1, &n), "more terms than room");
	/* c, r and t: explanation text only (RFC 7208 7.2) */
	ok(refused("v=spf1 exists:%{c}.x.example -all"), "%%{c} in exists: refused");
	ok(refused("v=spf1 a:%{r}.x.example -all"), "%%{r} in a: refused");
	ok(refused("v=spf1 include:%{T}.x.example -all"), "%%{T} in include: refused");
	ok(refused("v=spf1 -all exp=%{r}.example.com"), "%%{r} in exp= refused (it names a domain)");
	ok(refused("v=spf1 redirect=%{c2r-}.example.com"), "%%{c2r-} in redirect= refused");
	ok(parses("v=spf1 -all note=%{c}%{r}%{t}", 2) && t[1].kind == SPF_UNKNOWNMOD,
	    "an unknown modifier, never expanded, may hold them");
	/* the prefix lengths are taken from the end: '/' is a macro delimiter */
	ok(parses("v=spf1 a:%{l/}.example -all", 2) && t[0].kind == SPF_A &&
	    t[0].arglen == 13 && t[0].cidr4 == 32 && t[0].cidr6 == 128, "a:%%{l/}.example: no prefix");
	ok(parses("v=spf1 mx:%{l/}.example/24//64", 1) && t[0].arglen == 13 &&
	    t[0].cidr4 == 24 && t[0].cidr6 == 64, "mx:%%{l/}.example/24//64");
	ok(parses("v=spf1 a:%{l/}.%{d}//48", 1) && t[0].arglen == 10 && t[0].cidr4 == 32 &&
	    t[0].cidr6 == 48, "a:%%{l/}.%%{d}//48");
	ok(parses("v=spf1 a:host1.example/0", 1) && t[0].arglen == 13 && t[0].cidr4 == 0,
	    "a digit before the prefix stays in the domain");
	ok(refused("v=spf1 a:host.example/"), "an empty prefix after a domain");
	ok(refused("v=spf1 a:/24"), "a prefix without a domain after the colon");
	ok(refused("v=spf1 a:host.example/24/64"), "a single slash before the IPv6 prefix");
	ok(refused("v=spf1 a:%{l/}.example/33"), "a prefix over 32 after a macro with '/'");

	memset(&q, 0, sizeof q);
	q.local = "strong-bad";
	q.locallen = 10;
	q.domain = "email.example.com";
	q.domainlen = 17;
	q.helo = "mx.example.org";
	q.helolen = 14;
	ok(spf_ip("192.0.2.3", &q) && q.family == AF_INET, "an IPv4 address");
	ok(expands(&q, "%{s}", "strong-bad@email.example.com"), "%s", "%{s}");
	ok(expands(&q, "%{o}", "email.example.com"), "%s", "%{o}");
	ok(expands(&q, "%{d}", "email.example.com"), "%s", "%{d}");
	ok(expands(&q, "%{d4}", "email.example.com"), "%s", "%{d4}");
	ok(expands(&q, "%{d3}", "email.example.com"), "%s", "%{d3}");
	ok(expands(&q, "%{d2}", "example.com"), "%s", "%{d2}");
	ok(expands(&q, "%{d1}", "com"), "%s", "%{d1}");
	ok(expands(&q, "%{dr}", "com.example.email"), "%s", "%{dr}");
	ok(expands(&q, "%{d2r}", "example.email"), "%s", "%{d2r}");
	ok(expands(&q, "%{l}", "strong-bad"), "%s", "%{l}");
	ok(expands(&q, "%{l-}", "strong.bad"), "%s", "%{l-}");
	ok(expands(&q, "%{lr}", "strong-bad"), "%s", "%{lr}");
	ok(expands(&q, "%{lr-}", "bad.strong"), "%s", "%{lr-}");
	ok(expands(&q, "%{l1r-}", "strong"), "%s", "%{l1r-}");
	ok(expands(&q, "%{ir}.%{v}._spf.%{d2}", "3.2.0.192.in-addr._spf.example.com"), "%s", "%{ir}.%{v}._spf.%{d2}");
	ok(expands(&q, "%{lr-}.lp._spf.%{d2}", "bad.strong.lp._spf.example.com"), "%s", "%{lr-}.lp._spf.%{d2}");
	ok(expands(&q, "%{d2}.trusted-domains.example.net", "example.com.trusted-domains.example.net"),
	    "%s", "%{d2}.trusted-domains.example.net");
	ok(expands(&q, "%{h}%%%_%-", "mx.example.org% %20"), "%s", "%{h}, %%, %_, %-");
	ok(spf_ip("2001:db8::cb01", &q) && q.family == AF_INET6, "an IPv6 address");
	ok(expands(&q, "%{ir}.%{v}._spf.%{d2}",
	    "1.0.b.c.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.ip6._spf.example.com"),
	    "%s", "%{ir}.%{v} for IPv6");
	ok(spf_ip("::ffff:192.0.2.1", &q) && q.family == AF_INET && q.ip[3] == 1, "an IPv4-mapped address is IPv4");
	ok(!spf_ip("nonsense", &q), "not an address");
	ok(!spf_expand(&q, "x.test", 6, "%{x}", 4, &out), "expansion refuses bad syntax too");
	ok(!spf_expand(&q, "x.test", 6, "%{c}", 4, &out) && !spf_expand(&q, "x.test", 6, "%{t}", 4, &out),
	    "and %%{c}, %%{t} in a domain-spec");
	ok(spf_ip("192.0.2.3", &q) && expands(&q, "%{l/}.example", "strong-bad.example") &&
	    expands(&q, "%{l-/}.example", "strong.bad.example"), "'/' as a delimiter");
	ok(strcmp(spf_name(SPF_SOFTFAIL), "softfail") == 0 && strcmp(spf_name(99), "permerror") == 0,
	    "result names");
	str_free(&out);
	return tap_done();
}
