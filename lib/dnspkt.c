/* dnspkt.c - DNS query building and answer parsing; see dnspkt.h
 *
 * The answer bytes are untrusted (they come off the network, maybe
 * forged): nothing is read outside p[0..len), a compression pointer
 * must point before the label sequence that holds it (so following
 * pointers always moves backwards and ends), at most DNS_JUMPS pointers
 * are followed per name, and counts are checked against the room left.
 */
#include <errno.h>
#include <string.h>

#include "dnspkt.h"
#include "str.h"

#define DNS_JUMPS 64		/* pointers followed per name */
#define DNS_CNAME_HOPS 8	/* CNAME chain length followed in one answer */
#define DNS_C_IN 1

static unsigned
get16(const char *p)
{
	return ((unsigned)(unsigned char)p[0] << 8) | (unsigned char)p[1];
}

static void
put16(char *p, unsigned u)
{
	p[0] = (char)((u >> 8) & 0xff);
	p[1] = (char)(u & 0xff);
}

/* label_byte - bytes allowed in a label we hand out as text: printable,
 * no blank, no dot (a dot inside a label would change the name) */
static int
label_byte(unsigned char c)
{
	return c > 0x20 && c < 0x7f && c != '.';
}

size_t
dnspkt_query(char *q, size_t cap, const char *name, size_t n, unsigned type, unsigned id)
{
	size_t i, start, pos, lab;

	if (n > 0 && name[n - 1] == '.')
		n--;	/* a fully qualified name: the same name */
	/* 12 header + name (n + 2 octets at most) + type + class */
	if (n > DNS_NAME_MAX - 2)
		return errno = EINVAL, 0;
	if (cap < 12 + n + 2 + 4)
		return errno = ENOSPC, 0;
	memset(q, 0, 12);
	put16(q, id & 0xffff);
	q[2] = 0x01;	/* RD: recursion desired */
	put16(q + 4, 1);
	pos = 12;
	start = 0;
	for (i = 0; i <= n; i++) {
		if (i < n && name[i] != '.') {
			if (!label_byte((unsigned char)name[i]))
				return errno = EINVAL, 0;
			continue;
		}
		lab = i - start;
		if (lab == 0 && n > 0)
			return errno = EINVAL, 0;	/* empty label */
		if (lab > 63)
			return errno = EINVAL, 0;
		if (lab > 0) {
			q[pos++] = (char)lab;
			memcpy(q + pos, name + start, lab);
			pos += lab;
		}
		start = i + 1;
	}
	q[pos++] = 0;
	put16(q + pos, type);
	put16(q + pos + 2, DNS_C_IN);
	return pos + 4;
}

int
dnspkt_getname(const char *p, size_t len, size_t pos, char *out, size_t *outlen, size_t *next)
{
	size_t o = 0, wire = 1, seg = pos, target, lab, i;
	unsigned jumps = 0;
	int jumped = 0;
	unsigned char c;

	for (;;) {
		if (pos >= len)
			return 0;
		c = (unsigned char)p[pos];
		if (c == 0) {
			if (!jumped)
				*next = pos + 1;
			break;
		}
		if ((c & 0xc0) == 0xc0) {
			if (pos + 1 >= len)
				return 0;
			target = get16(p + pos) & 0x3fff;
			if (target >= seg || ++jumps > DNS_JUMPS)
				return 0;	/* forward or self pointer: a loop */
			if (!jumped)
				*next = pos + 2;
			jumped = 1;
			pos = seg = target;
			continue;
		}
		if (c & 0xc0)
			return 0;	/* obsolete label types */
		lab = c;
		if (lab > len - pos - 1)
			return 0;
		wire += lab + 1;
		if (wire > DNS_NAME_MAX)
			return 0;
		if (o > 0)
			out[o++] = '.';
		for (i = 0; i < lab; i++) {
			c = (unsigned char)p[pos + 1 + i];
			if (!label_byte(c))
				return 0;
			out[o++] = str_lowerc((char)c);
		}
		pos += 1 + lab;
	}
	out[o] = 0;
	*outlen = o;
	return 1;
}

/* sameb - name equality, ASCII case ignored, one final dot ignored */
static int
samename(const char *a, size_t an, const char *b, size_t bn)
{
	size_t i;

	if (an > 0 && a[an - 1] == '.')
		an--;
	if (bn > 0 && b[bn - 1] == '.')
		bn--;
	if (an != bn)
		return 0;
	for (i = 0; i < an; i++)
		if (str_lowerc(a[i]) != str_lowerc(b[i]))
			return 0;
	return 1;
}

/* rr_head - the fixed part of the record at *pos; owner name into
 * owner, rdata offset and length; 1 ok, 0 malformed */
struct rrhead {
	char owner[DNS_NAME_MAX + 1];
	size_t ownerlen;
	unsigned type, class;
	size_t rd, rdlen;
};

static int
rr_head(const char *p, size_t len, size_t *pos, struct rrhead *h)
{
	size_t at;

	if (!dnspkt_getname(p, len, *pos, h->owner, &h->ownerlen, &at))
		return 0;
	if (len - at < 10)
		return 0;
	h->type = get16(p + at);
	h->class = get16(p + at + 2);
	h->rdlen = get16(p + at + 8);
	h->rd = at + 10;
	if (h->rdlen > len - h->rd)
		return 0;
	*pos = h->rd + h->rdlen;
	return 1;
}

/* answer - the checks every answer gets: that p[0..len) answers the
 * query (id, name, type), a successful one, every record of the answer
 * section well formed; then the CNAME chain from the question name
 * followed.  DNSPKT_OK with the answer section's offset and record
 * count, and the name that owns the data (NUL-terminated) in cur. */
struct answer {
	size_t ans, an;
	char cur[DNS_NAME_MAX + 1];
	size_t curlen;
};

/* owned - from *pos, the *i-th record of a's answer section on, the next
 * one of type, class IN, owned by a->cur: 1 with its head in *h, 0 when
 * none is left.  The section was found well formed by answer(). */
static int
owned(const char *p, size_t len, const struct answer *a, unsigned type,
    size_t *pos, size_t *i, struct rrhead *h)
{
	while (*i < a->an) {
		(*i)++;
		(void)rr_head(p, len, pos, h);
		if (h->type == type && h->class == DNS_C_IN &&
		    samename(h->owner, h->ownerlen, a->cur, a->curlen))
			return 1;
	}
	return 0;
}

static int
answer(const char *p, size_t len, unsigned id, const char *name, size_t n,
    unsigned type, struct answer *a)
{
	size_t pos, i, hop, next;
	struct rrhead h;
	unsigned rcode;
	int moved;

	if (len < 2 || get16(p) != (id & 0xffff))
		return DNSPKT_NOTOURS;
	if (len < 12)
		return DNSPKT_BAD;
	if (!((unsigned char)p[2] & 0x80))
		return DNSPKT_NOTOURS;	/* a query, not a response */
	if (get16(p + 4) != 1)
		return DNSPKT_BAD;
	pos = 12;
	if (!dnspkt_getname(p, len, pos, a->cur, &a->curlen, &pos) || len - pos < 4)
		return DNSPKT_BAD;
	if (!samename(a->cur, a->curlen, name, n) || get16(p + pos) != type ||
	    get16(p + pos + 2) != DNS_C_IN)
		return DNSPKT_NOTOURS;
	pos += 4;
	if ((unsigned char)p[2] & 0x02)
		return DNSPKT_TRUNC;
	if (((unsigned char)p[2] >> 3) & 0x0f)
		return DNSPKT_BAD;	/* opcode other than QUERY */
	rcode = (unsigned char)p[3] & 0x0f;
	if (rcode == 3)
		return DNSPKT_NXDOMAIN;
	if (rcode != 0)
		return DNSPKT_FAIL;

	/* every record takes at least 11 octets: bound the count first,
	 * then check the whole answer section is well formed */
	a->an = get16(p + 6);
	if (a->an > (len - pos) / 11)
		return DNSPKT_BAD;
	a->ans = pos;
	for (i = 0; i < a->an; i++)
		if (!rr_head(p, len, &pos, &h))
			return DNSPKT_BAD;

	/* follow the CNAME chain from the question name */
	if (n > DNS_NAME_MAX)
		return DNSPKT_BAD;
	memcpy(a->cur, name, n);
	a->curlen = n;
	if (a->curlen > 0 && a->cur[a->curlen - 1] == '.')
		a->curlen--;
	a->cur[a->curlen] = 0;
	for (hop = 0, moved = 1; moved && hop < DNS_CNAME_HOPS; hop++) {
		moved = 0;
		if (type == DNS_T_CNAME)
			break;
		pos = a->ans, i = 0;
		if (owned(p, len, a, DNS_T_CNAME, &pos, &i, &h)) {
			if (!dnspkt_getname(p, len, h.rd, a->cur, &a->curlen, &next) ||
			    next != h.rd + h.rdlen)
				return DNSPKT_BAD;
			moved = 1;
		}
	}
	return DNSPKT_OK;
}

/* txt_ok - the TXT rdata at h: one or more character-strings exactly
 * filling it */
static int
txt_ok(const char *p, const struct rrhead *h)
{
	size_t next;

	if (h->rdlen == 0)
		return 0;
	for (next = h->rd; next < h->rd + h->rdlen; )
		next += 1 + (unsigned char)p[next];
	return next == h->rd + h->rdlen;
}

int
dnspkt_parse(const char *p, size_t len, unsigned id, const char *name, size_t n,
    unsigned type, struct dns_rr *rr, size_t max, size_t *count)
{
	struct answer a;
	size_t pos, i, next;
	struct rrhead h;
	int r;

	*count = 0;
	if ((r = answer(p, len, id, name, n, type, &a)) != DNSPKT_OK)
		return r;
	for (pos = a.ans, i = 0; owned(p, len, &a, type, &pos, &i, &h); ) {
		if (*count >= max)
			continue;	/* well formed, no room: ignored */
		rr[*count].type = type;
		rr[*count].pref = 0;
		switch (type) {
		case DNS_T_A:
		case DNS_T_AAAA:
			if (h.rdlen != (type == DNS_T_A ? 4u : 16u))
				goto bad;
			memcpy(rr[*count].data, p + h.rd, h.rdlen);
			rr[*count].len = h.rdlen;
			break;
		case DNS_T_MX:
			if (h.rdlen < 3)
				goto bad;
			rr[*count].pref = get16(p + h.rd);
			if (!dnspkt_getname(p, len, h.rd + 2, rr[*count].data,
			    &rr[*count].len, &next) || next != h.rd + h.rdlen)
				goto bad;
			break;
		case DNS_T_TXT:
			if (!txt_ok(p, &h))
				goto bad;
			rr[*count].pref = (unsigned)h.rd;
			rr[*count].len = h.rdlen;
			rr[*count].data[0] = 0;
			break;
		default:
			if (!dnspkt_getname(p, len, h.rd, rr[*count].data,
			    &rr[*count].len, &next) || next != h.rd + h.rdlen)
				goto bad;
			break;
		}
		(*count)++;
	}
	return DNSPKT_OK;
bad:
	*count = 0;	/* nothing from a malformed answer is used */
	return DNSPKT_BAD;
}

int
dnspkt_data(const char *p, size_t len, unsigned id, const char *name, size_t n,
    unsigned type, char *out, size_t cap, size_t *outlen, size_t *count)
{
	struct answer a;
	size_t pos, i, at, end, k, sl;
	struct rrhead h;
	int r;

	*count = 0;
	*outlen = 0;
	if (type != DNS_T_A && type != DNS_T_AAAA && type != DNS_T_TXT)
		return errno = EINVAL, DNSPKT_BAD;
	if ((r = answer(p, len, id, name, n, type, &a)) != DNSPKT_OK)
		return r;
	for (pos = a.ans, i = 0; owned(p, len, &a, type, &pos, &i, &h); ) {
		if (type == DNS_T_TXT ? !txt_ok(p, &h) :
		    h.rdlen != (type == DNS_T_A ? 4u : 16u))
			goto bad;
		/* what goes out is never longer than the rdata it comes
		 * from, so len bytes are room enough; cap is checked all the
		 * same */
		if (h.rdlen > cap - *outlen) {
			errno = ENOSPC;
			goto bad;
		}
		if (type != DNS_T_TXT) {
			memcpy(out + *outlen, p + h.rd, h.rdlen);
			*outlen += h.rdlen;
		} else {
			for (at = h.rd, end = h.rd + h.rdlen; at < end; at += 1 + sl) {
				sl = (unsigned char)p[at];
				for (k = 0; k < sl; k++)
					out[(*outlen)++] = p[at + 1 + k] ? p[at + 1 + k] : ' ';
			}
			out[(*outlen)++] = 0;
		}
		(*count)++;
	}
	return DNSPKT_OK;
bad:
	*count = 0;
	*outlen = 0;
	return DNSPKT_BAD;
}
