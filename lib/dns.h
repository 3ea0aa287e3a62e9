/* dns.h - a stub resolver: MX, A, AAAA and TXT lookups through the name
 * servers of control/nameservers (else /etc/resolv.conf)
 *
 * control/nameservers holds one server a line: "1.2.3.4", "1.2.3.4:5353",
 * "::1" or "[::1]:5353" (a port needs brackets around an IPv6 address).
 * Without it the "nameserver" lines of /etc/resolv.conf are used, and
 * without those 127.0.0.1.  File names are relative: the program has
 * chdir'ed to the install root.  Queries go over UDP from a random port
 * with a random id, and again over TCP when the answer is truncated;
 * answers are checked (id, question, structure) before use.  Each server
 * is asked in turn, twice over, within a few seconds each.
 *
 * Every lookup returns
 *	1 found (at least one record),
 *	0 no such domain, or no record of that kind (a permanent answer),
 *     -1 temporary failure: no server answered usably (errno set).
 */
#ifndef DNS_H
#define DNS_H

#include <stddef.h>

#include "dnspkt.h"
#include "str.h"

#define DNS_MX_MAX 32	/* MX records kept per domain */
#define DNS_IP_MAX 32	/* addresses dns_ip keeps per name */

struct dns_mx {
	unsigned pref;
	size_t len;			/* 0: the null MX "." (RFC 7505) */
	char name[DNS_NAME_MAX + 1];	/* lower case, NUL-terminated */
};

struct dns_ip {
	int family;			/* AF_INET or AF_INET6 */
	unsigned char addr[16];		/* 4 or 16 octets, network order */
};

/* dns_domain_exists - 1 MX or A or AAAA exists (a null MX counts),
 * 0 NXDOMAIN or no such data, -1 temporary failure (errno) */
int dns_domain_exists(const char *domain, size_t n);

/* dns_mx - the MX records of domain into mx (room for max), sorted by
 * preference, equal preferences in random order; *count set */
int dns_mx(const char *domain, size_t n, struct dns_mx *mx, size_t max, size_t *count);

/* dns_ip - the IPv6 (AAAA) then IPv4 (A) addresses of a name; *count
 * set.  When one of the two lookups fails temporarily and the other
 * finds addresses, those are returned (1). */
int dns_ip(const char *name, size_t n, struct dns_ip *ip, size_t max, size_t *count);

/* dns_query - one question of any type; rr as in dnspkt_parse.  Unlike
 * the others it tells the two permanent answers apart: 1 found, 0 the
 * name exists without such records, 2 no such name, -1 temporary. */
int dns_query(const char *name, size_t n, unsigned type, struct dns_rr *rr, size_t max, size_t *count);

/* dns_txt - the TXT records of name, every one the answer holds: each
 * record's character-strings joined, then a NUL, appended in turn to out
 * (emptied first); a NUL inside a string becomes a space.  *count
 * records.  Returns as dns_query: 1 found, 0 no TXT records, 2 no such
 * name, -1 temporary. */
int dns_txt(const char *name, size_t n, struct str *out, size_t *count);

/* dns_addrs - the AAAA (six set) or A records of name, every one the
 * answer holds, not DNS_IP_MAX: 16 or 4 octets each, in turn into out
 * (emptied first); *count addresses.  Returns as dns_query. */
int dns_addrs(const char *name, size_t n, int six, struct str *out, size_t *count);

/* dns_random - a random number below n (n > 0), from /dev/urandom
 * (falling back to the clock and pid if it cannot be read) */
unsigned long dns_random(unsigned long n);

#endif
