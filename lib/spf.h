/* spf.h - Sender Policy Framework (RFC 7208): may this client send mail
 * for that domain?
 *
 * spf_check evaluates the domain's "v=spf1" TXT record through lib/dns
 * (control/nameservers) with RFC 7208's limits: at most 10 mechanisms
 * and modifiers that query DNS (include, a, mx, ptr, exists, redirect,
 * counted over every record an evaluation visits), at most 10 MX names
 * per mx mechanism, at most 2 lookups that find nothing ("void").
 * Past a limit the result is permerror.  A name server that does not
 * answer gives temperror, never a permanent result.  The ptr mechanism
 * is counted but never matches (RFC 7208 5.5 asks publishers not to
 * use it).  exp= is parsed and ignored: no explanation is fetched.
 * Every TXT record of the domain is looked at, however many there are,
 * and so is every address of a name that a or mx looks up.
 *
 * Records come from anyone's DNS: spf_parse checks their syntax before
 * anything is looked up.
 */
#ifndef SPF_H
#define SPF_H

#include <stddef.h>

#include "str.h"

enum spf_result {
	SPF_NONE, SPF_NEUTRAL, SPF_PASS, SPF_FAIL, SPF_SOFTFAIL, SPF_TEMPERROR, SPF_PERMERROR
};

/* spf_name - "none", "neutral", "pass", "fail", "softfail", "temperror", "permerror" */
const char *spf_name(int result);

/* one term of a record */
enum spf_kind {
	SPF_ALL, SPF_INCLUDE, SPF_A, SPF_MX, SPF_PTR, SPF_IP4, SPF_IP6, SPF_EXISTS,
	SPF_REDIRECT, SPF_EXP, SPF_UNKNOWNMOD
};

struct spf_term {
	enum spf_kind kind;
	size_t term, termlen;	/* the whole term in the record */
	char qual;		/* '+', '-', '~' or '?'; 0 for a modifier */
	size_t arg, arglen;	/* domain-spec or address, offsets into the record; 0 when absent */
	unsigned cidr4, cidr6;	/* prefix lengths: 32 and 128 unless given */
	unsigned char ip[16];	/* ip4 (4 octets) and ip6 */
};

#define SPF_TERMS_MAX 100

/* spf_parse - the terms of record rec[0..n), which starts "v=spf1";
 * 1 ok (*count set), 0 a syntax error (permerror), more than max terms,
 * a second redirect= or exp= */
int spf_parse(const char *rec, size_t n, struct spf_term *t, size_t max, size_t *count);

/* what is checked: the client's address and the identity */
struct spf_req {
	int family;		/* AF_INET or AF_INET6 (IPv4-mapped addresses: give AF_INET) */
	unsigned char ip[16];
	const char *local;	/* the sender's local part ("postmaster" for HELO) */
	size_t locallen;
	const char *domain;	/* the sender's domain, or the HELO name */
	size_t domainlen;
	const char *helo;	/* the HELO name, for %{h} */
	size_t helolen;
};

/* spf_ip - text address s into the family and ip of req (an IPv4-mapped
 * IPv6 address becomes IPv4); 1 ok, 0 not an address */
int spf_ip(const char *s, struct spf_req *req);

/* spf_check - the result for req; why gets a short reason (the
 * mechanism that matched, or the error) */
int spf_check(const struct spf_req *req, struct str *why);

/* spf_expand - macro-expand domain-spec p[0..n) for req and domain
 * (RFC 7208 7), appended to out; 1 ok, 0 syntax error (errno EINVAL) or
 * no memory.  The letters c, r and t are a syntax error: RFC 7208 7.2
 * allows them only in explanation text. */
int spf_expand(const struct spf_req *req, const char *domain, size_t dn,
    const char *p, size_t n, struct str *out);

#endif
