/* lib-dns - unit tests for lib/dnspkt, lib/dns, lib/smtpreply, lib/qpenc
 *
 * Answers are built by hand, hostile ones included; the resolver is run
 * against a name server forked here on 127.0.0.1 (UDP, then TCP after a
 * truncated answer), configured through control/nameservers in a
 * scratch directory.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "dns.h"
#include "dnspkt.h"
#include "qpenc.h"
#include "smtpreply.h"
#include "tap.h"

struct pkt {
	char b[4096];
	size_t n;
};

static void
add(struct pkt *p, const void *x, size_t n)
{
	memcpy(p->b + p->n, x, n);
	p->n += n;
}

static void
add16(struct pkt *p, unsigned u)
{
	unsigned char c[2] = { (unsigned char)(u >> 8), (unsigned char)u };

	add(p, c, 2);
}

/* header id, flags, counts; then the question example.org/type */
static void
start(struct pkt *p, unsigned id, unsigned flags, unsigned an, unsigned type)
{
	p->n = 0;
	add16(p, id);
	add16(p, flags);
	add16(p, 1);
	add16(p, an);
	add16(p, 0);
	add16(p, 0);
	add(p, "\007example\003org\000", 13);
	add16(p, type);
	add16(p, 1);
}

/* a record header: owner (raw bytes), type, class IN, ttl, rdlength */
static void
rrhead(struct pkt *p, const char *owner, size_t on, unsigned type, unsigned rdlen)
{
	add(p, owner, on);
	add16(p, type);
	add16(p, 1);
	add16(p, 0);
	add16(p, 300);
	add16(p, rdlen);
}

static int
parse(struct pkt *p, unsigned type, struct dns_rr *rr, size_t max, size_t *count)
{
	return dnspkt_parse(p->b, p->n, 0x1234, "example.org", 11, type, rr, max, count);
}

static void
test_query(void)
{
	char q[600], name[300];
	size_t n, len, next;

	n = dnspkt_query(q, sizeof q, "Mx1.Example.org.", 16, DNS_T_MX, 0xbeef);
	ok(n == 12 + 17 + 4, "query length");
	ok((unsigned char)q[0] == 0xbe && (unsigned char)q[1] == 0xef, "query id");
	ok(q[2] == 1 && q[5] == 1, "RD set, one question");
	ok(dnspkt_getname(q, n, 12, name, &len, &next) && len == 15 &&
	    strcmp(name, "mx1.example.org") == 0 && next == 29, "query name reads back (lower case)");
	ok(dnspkt_query(q, sizeof q, "a..b", 4, DNS_T_A, 1) == 0 && errno == EINVAL, "empty label refused");
	ok(dnspkt_query(q, sizeof q, ".", 1, DNS_T_A, 1) == 17, "the root");
	memset(name, 'a', 64);
	ok(dnspkt_query(q, sizeof q, name, 64, DNS_T_A, 1) == 0, "64-octet label refused");
	ok(dnspkt_query(q, sizeof q, name, 63, DNS_T_A, 1) > 0, "63-octet label taken");
	memset(name, 'a', 300);
	for (n = 63; n < 300; n += 64)
		name[n] = '.';
	ok(dnspkt_query(q, sizeof q, name, 254, DNS_T_A, 1) == 0, "254-octet name refused");
	ok(dnspkt_query(q, sizeof q, name, 253, DNS_T_A, 1) > 0, "253-octet name taken");
	ok(dnspkt_query(q, sizeof q, "a b", 3, DNS_T_A, 1) == 0, "blank in a name refused");
	ok(dnspkt_query(q, sizeof q, "a\0b", 3, DNS_T_A, 1) == 0, "NUL in a name refused");
	ok(dnspkt_query(q, 20, "example.org", 11, DNS_T_A, 1) == 0 && errno == ENOSPC, "small buffer");
}

/* test_txt - TXT records: offsets into the packet, strings checked */
static void
test_txt(void)
{
	struct pkt p;
	struct dns_rr rr[4];
	size_t c;

	start(&p, 0x1234, 0x8180, 2, DNS_T_TXT);
	rrhead(&p, "\300\014", 2, DNS_T_TXT, 12);
	add(&p, "\006v=spf1\004 -al", 12);
	rrhead(&p, "\300\014", 2, DNS_T_TXT, 1);
	add(&p, "\000", 1);
	ok(parse(&p, DNS_T_TXT, rr, 4, &c) == DNSPKT_OK && c == 2, "two TXT records");
	ok(c == 2 && rr[0].len == 12 && memcmp(p.b + rr[0].pref, "\006v=spf1", 7) == 0 &&
	    rr[1].len == 1, "TXT data: offset and length in the packet");
	start(&p, 0x1234, 0x8180, 1, DNS_T_TXT);
	rrhead(&p, "\300\014", 2, DNS_T_TXT, 4);
	add(&p, "\007abc", 4);
	ok(parse(&p, DNS_T_TXT, rr, 4, &c) == DNSPKT_BAD && c == 0, "a string longer than its record: bad");
	start(&p, 0x1234, 0x8180, 1, DNS_T_TXT);
	rrhead(&p, "\300\014", 2, DNS_T_TXT, 0);
	ok(parse(&p, DNS_T_TXT, rr, 4, &c) == DNSPKT_BAD, "an empty TXT record: bad");
}

/* test_data - dnspkt_data: every record, however many, no room needed
 * beyond the packet's length */
static void
test_data(void)
{
	struct pkt p;
	char out[4096], want[16];
	struct dns_rr rr[4];
	size_t c, len, i, at;
	int good;

	/* 40 TXT records "v=spf1 N" (N = 0..39), the last in two strings
	 * with a NUL inside the second */
	start(&p, 0x1234, 0x8180, 40, DNS_T_TXT);
	for (i = 0; i < 40; i++) {
		len = (size_t)snprintf(want, sizeof want, "v=spf1 %u", (unsigned)i);
		if (i < 39) {
			rrhead(&p, "\300\014", 2, DNS_T_TXT, (unsigned)len + 1);
			add(&p, (char[]){ (char)len }, 1);
			add(&p, want, len);
		} else {
			rrhead(&p, "\300\014", 2, DNS_T_TXT, 12);
			add(&p, "\006v=spf1\004 3\0009", 12);
		}
	}
	ok(parse(&p, DNS_T_TXT, rr, 4, &c) == DNSPKT_OK && c == 4, "dnspkt_parse keeps max records");
	ok(dnspkt_data(p.b, p.n, 0x1234, "example.org", 11, DNS_T_TXT, out, p.n, &len, &c) ==
	    DNSPKT_OK && c == 40, "dnspkt_data: all 40 TXT records in room for the packet");
	for (i = 0, at = 0, good = 1; good && i < 39; i++) {
		(void)snprintf(want, sizeof want, "v=spf1 %u", (unsigned)i);
		good = at < len && strcmp(out + at, want) == 0;
		at += strlen(want) + 1;
	}
	ok(good && len - at == 11 && memcmp(out + at, "v=spf1 3 9\0", 11) == 0,
	    "each record joined and NUL-terminated, a NUL inside made a space");
	ok(dnspkt_data(p.b, p.n, 0x1234, "example.org", 11, DNS_T_TXT, out, 100, &len, &c) ==
	    DNSPKT_BAD && errno == ENOSPC && c == 0 && len == 0, "too little room: refused");
	ok(dnspkt_data(p.b, p.n, 0x1234, "example.org", 11, DNS_T_MX, out, p.n, &len, &c) ==
	    DNSPKT_BAD && errno == EINVAL, "MX is not for dnspkt_data");
	ok(dnspkt_data(p.b, p.n, 0x1235, "example.org", 11, DNS_T_TXT, out, p.n, &len, &c) ==
	    DNSPKT_NOTOURS, "other id: not ours");
	p.b[p.n - 5] = 5;	/* the last string now runs past its record */
	ok(dnspkt_data(p.b, p.n, 0x1234, "example.org", 11, DNS_T_TXT, out, p.n, &len, &c) ==
	    DNSPKT_BAD && c == 0, "a bad TXT record spoils the answer");

	/* 50 A records through a CNAME, 192.0.2.1 to 192.0.2.50 */
	start(&p, 0x1234, 0x8180, 51, DNS_T_A);
	rrhead(&p, "\300\014", 2, DNS_T_CNAME, 6);
	add(&p, "\003www\300\014", 6);		/* at 41: www.example.org */
	for (i = 1; i <= 50; i++) {
		rrhead(&p, "\300\051", 2, DNS_T_A, 4);
		add(&p, (char[]){ (char)192, 0, 2, (char)i }, 4);
	}
	ok(dnspkt_data(p.b, p.n, 0x1234, "example.org", 11, DNS_T_A, out, p.n, &len, &c) ==
	    DNSPKT_OK && c == 50 && len == 200 && memcmp(out + 196, "\300\000\002\062", 4) == 0,
	    "dnspkt_data: 50 A records through a CNAME, the 50th included");
	ok(dnspkt_data(p.b, p.n, 0x1234, "example.org", 11, DNS_T_AAAA, out, p.n, &len, &c) ==
	    DNSPKT_NOTOURS, "A answer to an AAAA question: not ours");
	p.b[p.n - 5] = 5;	/* the last A record's rdlength: 5 */
	ok(dnspkt_data(p.b, p.n, 0x1234, "example.org", 11, DNS_T_A, out, p.n, &len, &c) ==
	    DNSPKT_BAD, "an A record of the wrong length spoils the answer");
}

static void
test_parse(void)
{
	struct pkt p;
	struct dns_rr rr[4];
	size_t c;
	int i;

	/* CNAME to www.example.org, which has an MX (compressed) and an A */
	start(&p, 0x1234, 0x8180, 3, DNS_T_MX);
	rrhead(&p, "\300\014", 2, DNS_T_CNAME, 6);
	add(&p, "\003www\300\014", 6);		/* at 41: www.example.org */
	rrhead(&p, "\300\051", 2, DNS_T_MX, 7);
	add(&p, "\000\012\002MX\300\014", 7);
	rrhead(&p, "\300\051", 2, DNS_T_A, 4);
	add(&p, "\177\000\000\001", 4);
	ok(parse(&p, DNS_T_MX, rr, 4, &c) == DNSPKT_OK && c == 1, "MX through a CNAME");
	ok(c == 1 && rr[0].pref == 10 && strcmp(rr[0].data, "mx.example.org") == 0 &&
	    rr[0].len == 14, "MX preference and name, lower-cased");
	ok(parse(&p, DNS_T_A, rr, 4, &c) == DNSPKT_NOTOURS, "other type: not ours");
	ok(dnspkt_parse(p.b, p.n, 0x1235, "example.org", 11, DNS_T_MX, rr, 4, &c) ==
	    DNSPKT_NOTOURS, "other id: not ours");
	ok(dnspkt_parse(p.b, p.n, 0x1234, "example.net", 11, DNS_T_MX, rr, 4, &c) ==
	    DNSPKT_NOTOURS, "other question: not ours");
	ok(dnspkt_parse(p.b, p.n, 0x1234, "EXAMPLE.org.", 12, DNS_T_MX, rr, 4, &c) ==
	    DNSPKT_OK, "question compared without case, final dot");
	ok(dnspkt_parse(p.b, p.n, 0x1234, "example.org", 11, DNS_T_MX, rr, 0, &c) ==
	    DNSPKT_OK && c == 0, "no room: nothing stored");
	for (i = 1; i < (int)p.n; i++)
		if (dnspkt_parse(p.b, (size_t)i, 0x1234, "example.org", 11, DNS_T_MX, rr, 4,
		    &c) == DNSPKT_OK)
			break;
	ok(i == (int)p.n, "every truncation of the answer is refused");

	p.b[2] |= 0x02;
	ok(parse(&p, DNS_T_MX, rr, 4, &c) == DNSPKT_TRUNC, "TC bit: truncated");
	p.b[2] &= ~0x80;
	ok(parse(&p, DNS_T_MX, rr, 4, &c) == DNSPKT_NOTOURS, "QR clear: a query, not ours");

	start(&p, 0x1234, 0x8183, 0, DNS_T_MX);
	ok(parse(&p, DNS_T_MX, rr, 4, &c) == DNSPKT_NXDOMAIN, "NXDOMAIN");
	start(&p, 0x1234, 0x8182, 0, DNS_T_MX);
	ok(parse(&p, DNS_T_MX, rr, 4, &c) == DNSPKT_FAIL, "SERVFAIL");
	start(&p, 0x1234, 0x8180, 0, DNS_T_MX);
	ok(parse(&p, DNS_T_MX, rr, 4, &c) == DNSPKT_OK && c == 0, "no data");

	/* null MX */
	start(&p, 0x1234, 0x8180, 1, DNS_T_MX);
	rrhead(&p, "\300\014", 2, DNS_T_MX, 3);
	add(&p, "\000\000\000", 3);
	ok(parse(&p, DNS_T_MX, rr, 4, &c) == DNSPKT_OK && c == 1 && rr[0].len == 0 &&
	    rr[0].pref == 0, "null MX: empty name");

	/* hostile */
	start(&p, 0x1234, 0x8180, 1, DNS_T_MX);
	rrhead(&p, "\300\035", 2, DNS_T_MX, 4);	/* owner points at itself */
	add(&p, "\000\012\300\014", 4);
	ok(parse(&p, DNS_T_MX, rr, 4, &c) == DNSPKT_BAD && c == 0, "pointer to itself");
	start(&p, 0x1234, 0x8180, 1, DNS_T_MX);
	rrhead(&p, "\300\014", 2, DNS_T_MX, 4);
	add(&p, "\000\012\300\053", 4);		/* points at the pointer */
	ok(parse(&p, DNS_T_MX, rr, 4, &c) == DNSPKT_BAD, "MX name pointing at itself");
	start(&p, 0x1234, 0x8180, 1, DNS_T_MX);
	rrhead(&p, "\001a\300\041", 4, DNS_T_MX, 4);	/* forward */
	add(&p, "\000\012\300\014", 4);
	ok(parse(&p, DNS_T_MX, rr, 4, &c) == DNSPKT_BAD, "forward pointer");
	start(&p, 0x1234, 0x8180, 1, DNS_T_MX);
	rrhead(&p, "\300\377", 2, DNS_T_MX, 4);
	add(&p, "\000\012\300\014", 4);
	ok(parse(&p, DNS_T_MX, rr, 4, &c) == DNSPKT_BAD, "pointer outside the packet");
	start(&p, 0x1234, 0x8180, 1, DNS_T_MX);
	rrhead(&p, "\300\014", 2, DNS_T_MX, 9);
	add(&p, "\000\012\300\014", 4);		/* rdlength beyond the end */
	ok(parse(&p, DNS_T_MX, rr, 4, &c) == DNSPKT_BAD, "rdlength past the end");
	start(&p, 0x1234, 0x8180, 1, DNS_T_MX);
	rrhead(&p, "\300\014", 2, DNS_T_MX, 5);
	add(&p, "\000\012\300\014\000", 5);	/* name shorter than rdata */
	ok(parse(&p, DNS_T_MX, rr, 4, &c) == DNSPKT_BAD, "MX rdata longer than its name");
	start(&p, 0x1234, 0x8180, 1, DNS_T_A);
	rrhead(&p, "\300\014", 2, DNS_T_A, 5);
	add(&p, "\177\000\000\001\001", 5);
	ok(parse(&p, DNS_T_A, rr, 4, &c) == DNSPKT_BAD, "A record of 5 octets");
	start(&p, 0x1234, 0x8180, 65535, DNS_T_A);
	ok(parse(&p, DNS_T_A, rr, 4, &c) == DNSPKT_BAD, "answer count beyond the data");
	start(&p, 0x1234, 0x8180, 1, DNS_T_MX);
	rrhead(&p, "\300\014", 2, DNS_T_MX, 8);
	add(&p, "\000\012\003a.b\300\014", 8);	/* a dot inside a label */
	ok(parse(&p, DNS_T_MX, rr, 4, &c) == DNSPKT_BAD, "dot inside a label");
	start(&p, 0x1234, 0x8180, 1, DNS_T_MX);
	rrhead(&p, "\300\014", 2, DNS_T_MX, 5);
	add(&p, "\000\012\100ab", 5);		/* label type 01 */
	ok(parse(&p, DNS_T_MX, rr, 4, &c) == DNSPKT_BAD, "extended label type");
	start(&p, 0x1234, 0x8180, 0, DNS_T_MX);
	p.b[5] = 2;
	ok(parse(&p, DNS_T_MX, rr, 4, &c) == DNSPKT_BAD, "two questions");
	p.n = 0;
	add(&p, "\022\064\201", 3);
	ok(parse(&p, DNS_T_MX, rr, 4, &c) == DNSPKT_BAD, "header cut short");

	/* a CNAME loop ends (owner and target the same name) */
	start(&p, 0x1234, 0x8180, 1, DNS_T_MX);
	rrhead(&p, "\300\014", 2, DNS_T_CNAME, 2);
	add(&p, "\300\014", 2);
	ok(parse(&p, DNS_T_MX, rr, 4, &c) == DNSPKT_OK && c == 0, "CNAME loop: no data");
}

static void
test_getname(void)
{
	char b[1024], out[DNS_NAME_MAX + 1];
	size_t i, len, next, n = 0;

	/* element k at 1 + 4k: label "a", then a pointer to element k-1
	 * (element 0 points at the root byte at 0); 200 labels: too long */
	b[n++] = 0;
	for (i = 0; i < 200; i++) {
		size_t prev = i ? 1 + 4 * (i - 1) : 0;

		b[n++] = 1;
		b[n++] = 'a';
		b[n++] = (char)(0xc0 | (prev >> 8));
		b[n++] = (char)(prev & 0xff);
	}
	ok(!dnspkt_getname(b, n, 1 + 4 * 199, out, &len, &next), "200 labels through pointers: too long");
	ok(dnspkt_getname(b, n, 1 + 4 * 49, out, &len, &next) && len == 99 &&
	    next == 1 + 4 * 49 + 4, "50 labels through 50 pointers: fine");
	ok(!dnspkt_getname(b, n, 1 + 4 * 70, out, &len, &next), "71 pointers: too many");
	memcpy(b, "\001a\000", 3);
	ok(dnspkt_getname(b, 3, 0, out, &len, &next) && len == 1 && next == 3, "one label");
	ok(!dnspkt_getname(b, 2, 0, out, &len, &next), "no final zero: refused");
	ok(dnspkt_getname(b, 3, 2, out, &len, &next) && len == 0 && out[0] == 0, "the root");
	memcpy(b, "\300\000", 2);
	ok(!dnspkt_getname(b, 2, 0, out, &len, &next), "pointer to itself at 0");
}

static void
test_smtpreply(void)
{
	struct smtpreply r = SMTPREPLY_ZERO;
	char big[5000];
	int i, res;

	ok(smtpreply_line(&r, "250-mx.example.org hello\r\n", 26) == 0, "continuation");
	ok(smtpreply_line(&r, "250-PIPELINING\r\n", 16) == 0, "extension line");
	ok(smtpreply_line(&r, "250-size 1000000\r\n", 18) == 0, "SIZE (lower case)");
	ok(smtpreply_line(&r, "250 8BITMIME\r\n", 14) == 1, "last line");
	ok(r.code == 250 && r.lines == 4, "code and lines");
	ok(r.ext == (SMTPEXT_PIPELINING | SMTPEXT_SIZE | SMTPEXT_8BITMIME) && r.size == 1000000,
	    "EHLO extensions");
	ok(r.text.len == 69 && memcmp(r.text.s, "250-mx.example.org hello\n250-PIPELINING\n", 40) == 0,
	    "text joined by newlines");
	smtpreply_start(&r);
	ok(smtpreply_line(&r, "250-PIPELININGX\r\n", 17) == 0 && r.ext == 0, "keyword prefix is not it");
	smtpreply_start(&r);
	ok(smtpreply_line(&r, "250-mx\r\n", 6) == 0 &&
	    smtpreply_line(&r, "250-AUTH CRAM-MD5 login  Plain\r\n", 32) == 0 &&
	    r.ext == (SMTPEXT_AUTHPLAIN | SMTPEXT_AUTHLOGIN), "AUTH: PLAIN and LOGIN found in any case");
	smtpreply_start(&r);
	ok(smtpreply_line(&r, "250-mx\r\n", 6) == 0 && smtpreply_line(&r, "250-AUTH=LOGIN\r\n", 16) == 0 &&
	    r.ext == SMTPEXT_AUTHLOGIN, "old AUTH=LOGIN");
	smtpreply_start(&r);
	ok(smtpreply_line(&r, "250-mx\r\n", 6) == 0 &&
	    smtpreply_line(&r, "250-AUTH PLAINX XLOGIN\r\n", 24) == 0 && r.ext == 0, "no prefix matches");
	smtpreply_start(&r);
	ok(smtpreply_line(&r, "250-mx\r\n", 6) == 0 && smtpreply_line(&r, "250 AUTH", 8) == 1 && r.ext == 0,
	    "AUTH with no mechanism");
	smtpreply_start(&r);
	ok(smtpreply_line(&r, "220", 3) == 1 && r.code == 220, "bare code");
	smtpreply_start(&r);
	ok(smtpreply_line(&r, "250-a\n", 6) == 0 && smtpreply_line(&r, "251 b\n", 6) == -1 &&
	    errno == EPROTO, "code changed inside a reply");
	smtpreply_start(&r);
	ok(smtpreply_line(&r, "600 x", 5) == -1, "600");
	ok(smtpreply_line(&r, "2x0 x", 5) == -1, "2x0");
	ok(smtpreply_line(&r, "250x", 4) == -1, "no separator");
	ok(smtpreply_line(&r, "25", 2) == -1, "too short");
	ok(smtpreply_line(&r, "", 0) == -1, "empty");
	ok(smtpreply_line(&r, "160 x", 5) == -1, "1xx");
	smtpreply_start(&r);
	ok(smtpreply_line(&r, "550 a\001b\0c\177", 10) == 1 &&
	    memcmp(r.text.s, "550 a?b?c?", 10) == 0, "control bytes replaced");
	smtpreply_start(&r);
	for (i = 0, res = 0; i < SMTPREPLY_LINES_MAX + 5 && res == 0; i++)
		res = smtpreply_line(&r, "250-x", 5);
	ok(res == -1 && i == SMTPREPLY_LINES_MAX + 1, "too many lines");
	smtpreply_start(&r);
	memset(big, 'x', sizeof big);
	memcpy(big, "451 ", 4);
	ok(smtpreply_line(&r, big, sizeof big) == 1 && r.text.len == SMTPREPLY_TEXT_MAX,
	    "long text cut");
	smtpreply_free(&r);
}

/* walk - both passes of the MIME walker over msg (pieces of at most 512
 * bytes), the second with conv8: per piece of the second, 'e' encode,
 * 'd' drop, else its form ('t', 'q', 'b'); and what was added ('+') */
static void
walk(struct qpmime *m, const char *msg, int conv8, char *out, size_t outn)
{
	size_t n = strlen(msg), i, e, k = 0;
	unsigned add;
	int pass, bol, act;

	qpmime_init(m);
	for (pass = 0; pass < 2; pass++) {
		if (pass == 1)
			qpmime_rewind(m, conv8);
		for (i = 0, bol = 1; i < n; ) {
			for (e = i; e < n && e - i < 512 && msg[e] != '\n'; e++)
				;
			act = qpmime_piece(m, msg + i, e - i, bol, &add);
			if (pass == 1 && k + 3 < outn) {
				if (add)
					out[k++] = '+';
				out[k++] = act == QPMIME_ENCODE ? 'e' : act == QPMIME_DROP ? 'd' :
				    "tqb"[m->form];
			}
			bol = e < n && msg[e] == '\n';
			i = bol ? e + 1 : e;
		}
	}
	out[k] = 0;
}

static void
test_qpmime(void)
{
	static struct qpmime m;
	static char msg[8192];
	char got[100];

	/* a long line: its part converted whatever the server offers,
	 * base64 and quoted-printable parts only broken, as their form says */
	snprintf(msg, sizeof msg, "MIME-Version: 1.0\nContent-Type: multipart/mixed; boundary=B\n\n"
	    "--B\nContent-Type: text/plain\nContent-Transfer-Encoding: 7bit\n\n%01200d\n"
	    "--B\nContent-Transfer-Encoding: base64\n\n%01200d\n"
	    "--B\nContent-Transfer-Encoding: quoted-printable\n\nshort\n--B--\n", 0, 0);
	walk(&m, msg, 0, got, sizeof got);
	ok(m.longline && !m.any && m.convany, "a line over 998 octets learned; its part to convert");
	ok(strcmp(got, "tttttd+teeetttbbbtttqt") == 0,
	    "long line: 7bit part encoded (its CTE replaced), base64 and qp parts keep their form: %s", got);
	walk(&m, "Subject: x\n\ncaf\303\251\n", 0, got, sizeof got);
	ok(!m.longline && m.any && !m.convany && strcmp(got, "ttt") == 0,
	    "8-bit to a server with 8BITMIME: nothing converted, no MIME-Version added: %s", got);
	walk(&m, "Subject: x\n\ncaf\303\251\n", 1, got, sizeof got);
	ok(m.convany && strcmp(got, "t+te") == 0, "8-bit without it: converted, MIME-Version added: %s", got);
}

static void
test_qpenc(void)
{
	struct str o = STR_ZERO;
	char line[300];
	size_t col = 0, i, e, max;

	ok(qpenc_piece(&o, "a=b \xff\t", 6, &col, 1) && o.len == 12 &&
	    memcmp(o.s, "a=3Db =FF=09", 12) == 0, "=, 8-bit and a final tab encoded");
	o.len = 0;
	col = 0;
	ok(qpenc_piece(&o, "end ", 4, &col, 0) && memcmp(o.s, "end ", 4) == 0,
	    "blank at the end of a piece that does not end the line: kept");
	memset(line, '\xe9', sizeof line);
	o.len = 0;
	col = 0;
	ok(qpenc_piece(&o, line, sizeof line, &col, 1), "long 8-bit line");
	for (i = 0, max = 0; i < o.len; i = e + 1) {
		e = i + str_chrb(o.s + i, o.len - i, '\n');
		if (e - i > max)
			max = e - i;
		if (e < o.len && o.s[e - 1] != '=')
			break;
	}
	ok(max <= QPENC_LINE && i >= o.len, "soft breaks keep lines within 76");
	ok(qpenc_convertible("text/plain; charset=utf-8", 25, "8bit", 4), "text/plain 8bit");
	ok(qpenc_convertible("", 0, "", 0), "no MIME fields");
	ok(!qpenc_convertible("Multipart/mixed; boundary=x", 27, "", 0), "multipart not");
	ok(!qpenc_convertible("message/rfc822", 14, "", 0), "message not");
	ok(!qpenc_convertible("text/plain", 10, " Base64", 7), "base64 not");
	ok(qpenc_convertible("textual/x", 9, "8bitmime", 8), "word boundaries");
	ok(qpenc_field("content-transfer-encoding : 8bit", 32, "Content-Transfer-Encoding") == 28,
	    "field value found");
	ok(qpenc_field("Content-Type-X: a", 17, "Content-Type") == 0, "longer field name");
	str_free(&o);
}

/* many - the answer records for many.example: 40 of the type asked
 * for (TXT "record N" or A 192.0.2.N, N = 1..40) after the question at
 * a + 2; their count */
static size_t
many(char *a, size_t *an, unsigned type)
{
	char txt[16];
	size_t i, len;

	for (i = 1; i <= 40; i++) {
		memcpy(a + *an, "\300\014\000\001\000\001\000\000\000\074\000", 11);
		a[*an + 3] = (char)type;
		*an += 11;
		if (type == DNS_T_TXT) {
			len = (size_t)snprintf(txt, sizeof txt, "record %u", (unsigned)i);
			a[(*an)++] = (char)(len + 1);
			a[(*an)++] = (char)len;
		} else {
			len = 4;
			a[(*an)++] = 4;
			memcpy(txt, "\300\000\002", 3);
			txt[3] = (char)i;
		}
		memcpy(a + *an, txt, len);
		*an += len;
	}
	return 40;
}

/* server - answer queries on 127.0.0.1:port: the first UDP answer has
 * TC set, the TCP answer is complete: A 192.0.2.7, or for many.example
 * 40 records */
static void
server(int u, int l)
{
	char q[512], a[4096];
	struct sockaddr_storage ss;
	socklen_t sl;
	ssize_t n;
	size_t an, count;
	int c;

	for (;;) {
		sl = sizeof ss;
		if ((n = recvfrom(u, q, sizeof q, 0, (struct sockaddr *)&ss, &sl)) < 12)
			_exit(1);
		memcpy(a, q, (size_t)n);
		a[2] = (char)0x83;	/* QR, RD, TC */
		a[3] = (char)0x80;
		(void)sendto(u, a, (size_t)n, 0, (struct sockaddr *)&ss, sl);
		if ((c = accept(l, NULL, NULL)) == -1)
			_exit(1);
		if (read(c, q, 2) != 2)
			_exit(1);
		n = read(c, q, sizeof q);
		if (n < 12)
			_exit(1);
		memcpy(a + 2, q, (size_t)n);
		a[4] = (char)0x81;
		a[5] = (char)0x80;
		an = 2 + (size_t)n;
		if (n == 12 + 14 + 4 && memcmp(q + 12, "\004many\007example\000", 14) == 0) {
			count = many(a, &an, (unsigned char)q[n - 3]);
		} else {
			count = 1;
			memcpy(a + an, "\300\014\000\001\000\001\000\000\000\074\000\004\300\000\002\007", 16);
			an += 16;
		}
		a[9] = (char)count;
		a[0] = (char)((an - 2) >> 8);
		a[1] = (char)(an - 2);
		(void)write(c, a, an);
		(void)close(c);
	}
}

static void
test_resolver(void)
{
	struct sockaddr_in sa;
	socklen_t sl = sizeof sa;
	struct dns_ip ip[4];
	struct str txt = STR_ZERO;
	char dir[128], old[4096];
	size_t n;
	int u, l, one = 1, r, st;
	pid_t pid;
	FILE *f;

	if (!tap_tmpname(dir, sizeof dir, "lib-dns") ||
	    !getcwd(old, sizeof old) || !mkdtemp(dir) || chdir(dir) == -1 ||
	    mkdir("control", 0755) == -1) {
		ok(0, "scratch directory");
		return;
	}
	l = socket(AF_INET, SOCK_STREAM, 0);
	u = socket(AF_INET, SOCK_DGRAM, 0);
	memset(&sa, 0, sizeof sa);
	sa.sin_family = AF_INET;
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	(void)setsockopt(l, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
	if (bind(l, (struct sockaddr *)&sa, sizeof sa) == -1 || listen(l, 4) == -1 ||
	    getsockname(l, (struct sockaddr *)&sa, &sl) == -1 ||
	    bind(u, (struct sockaddr *)&sa, sizeof sa) == -1) {
		ok(0, "sockets for the test server");
		return;
	}
	if ((pid = fork()) == 0)
		server(u, l);
	(void)close(u);
	(void)close(l);

	f = fopen("control/nameservers", "w");
	fprintf(f, "# test server\n127.0.0.1:%u\n", (unsigned)ntohs(sa.sin_port));
	fclose(f);
	r = dns_ip("tc.example", 10, ip, 4, &n);
	ok(r == 1 && n == 1 && ip[0].family == AF_INET &&
	    memcmp(ip[0].addr, "\300\000\002\007", 4) == 0, "truncated over UDP, then TCP");
	r = dns_txt("many.example", 12, &txt, &n);
	ok(r == 1 && n == 40 && txt.len > 10 &&
	    memcmp(txt.s + txt.len - 10, "record 40\0", 10) == 0,
	    "dns_txt: all 40 TXT records, not the first 32 (%d, %zu)", r, n);
	r = dns_addrs("many.example", 12, 0, &txt, &n);
	ok(r == 1 && n == 40 && txt.len == 160 && memcmp(txt.s + 156, "\300\000\002\050", 4) == 0,
	    "dns_addrs: all 40 A records, not the first 32 (%d, %zu)", r, n);
	str_free(&txt);

	f = fopen("control/nameservers", "w");
	fprintf(f, "127.0.0.1:99999\n");
	fclose(f);
	ok(dns_domain_exists("x.example", 9) == -1 && errno == EINVAL, "bad port in nameservers");
	f = fopen("control/nameservers", "w");
	fprintf(f, "[::1:53\n");
	fclose(f);
	ok(dns_domain_exists("x.example", 9) == -1, "bad IPv6 form in nameservers");
	ok(dns_domain_exists("a..b", 4) == 0, "a name that cannot exist: 0");

	kill(pid, SIGTERM);
	(void)waitpid(pid, &st, 0);
	(void)unlink("control/nameservers");
	(void)rmdir("control");
	if (chdir(old) == -1 || rmdir(dir) == -1)
		ok(0, "cleanup");
	for (r = 0, n = 0; n < 1000; n++)
		r |= dns_random(3) > 2;
	ok(!r, "dns_random in range");
}

int
main(void)
{
	test_query();
	test_parse();
	test_txt();
	test_data();
	test_getname();
	test_smtpreply();
	test_qpenc();
	test_qpmime();
	test_resolver();
	return tap_done();
}
