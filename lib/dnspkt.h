/* dnspkt.h - building DNS queries and parsing DNS answers (RFC 1035)
 *
 * Pure functions over byte arrays: no sockets, no allocation.  The
 * answers come from the network and are parsed as hostile: every
 * offset is checked against the packet length, compression pointers
 * may only point backwards and are followed a bounded number of times,
 * every count is bounded, names longer than 255 octets are refused.
 * Names are given and returned in text form ("mx1.example.org", no
 * final dot; the root is the empty name).
 */
#ifndef DNSPKT_H
#define DNSPKT_H

#include <stddef.h>

#define DNS_T_A 1
#define DNS_T_CNAME 5
#define DNS_T_MX 15
#define DNS_T_AAAA 28
#define DNS_T_TXT 16

#define DNS_NAME_MAX 255	/* text form, without the NUL */
#define DNS_UDP_MAX 512		/* plain DNS over UDP, no EDNS0 */
#define DNS_PKT_MAX 65535	/* over TCP */

/* one answer record of the type asked for */
struct dns_rr {
	unsigned type;
	unsigned pref;			/* MX only */
	size_t len;			/* A: 4, AAAA: 16, MX: name length */
	char data[DNS_NAME_MAX + 1];	/* address octets, or MX name + NUL */
};
/* TXT records do not fit in data: for them pref is the offset of the
 * record's data in the packet, len its length (its character-strings
 * checked to fill it exactly), and data is empty. */

/* dnspkt_query - a recursive query for name/type with id into q (room
 * for cap bytes); its length, or 0 with errno EINVAL when the name is
 * not a valid domain name, ENOSPC when cap is too small */
size_t dnspkt_query(char *q, size_t cap, const char *name, size_t n, unsigned type, unsigned id);

/* results of dnspkt_parse */
#define DNSPKT_OK 0		/* answer; count records (maybe 0: no data) */
#define DNSPKT_NXDOMAIN 1	/* authoritative: the name does not exist */
#define DNSPKT_TRUNC 2		/* TC set: ask again over TCP */
#define DNSPKT_FAIL 3		/* SERVFAIL, REFUSED, ...: try another server */
#define DNSPKT_BAD 4		/* malformed or inconsistent: do not trust it */
#define DNSPKT_NOTOURS 5	/* not an answer to this query (id or question) */

/* dnspkt_parse - check that p[0..len) answers the query (id, name,
 * type) and extract up to max records of that type owned by the name
 * or by the end of the CNAME chain in the answer section.  Names in
 * records are lower-cased.  *count is set to the number extracted. */
int dnspkt_parse(const char *p, size_t len, unsigned id, const char *name, size_t n,
    unsigned type, struct dns_rr *rr, size_t max, size_t *count);

/* dnspkt_data - the same checks and records as dnspkt_parse, for type
 * A, AAAA or TXT, but every record of the answer, not a fixed number:
 * each record's data one after the other into out (room for cap bytes),
 * *outlen bytes in all, *count records.  A and AAAA give their 4 or 16
 * address octets; TXT its character-strings joined, a NUL inside one
 * made a space, then a NUL.  No record gives more bytes than it takes
 * in the packet, so cap = len is always enough. */
int dnspkt_data(const char *p, size_t len, unsigned id, const char *name, size_t n,
    unsigned type, char *out, size_t cap, size_t *outlen, size_t *count);

/* dnspkt_getname - the (possibly compressed) name at p[pos]; text into
 * out (DNS_NAME_MAX + 1 bytes, NUL-terminated), its length in *outlen,
 * the offset just after the name's in-place bytes in *next.  1 ok, 0
 * malformed. */
int dnspkt_getname(const char *p, size_t len, size_t pos, char *out, size_t *outlen, size_t *next);

#endif
