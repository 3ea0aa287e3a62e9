/* dns.c - the stub resolver: talking to name servers; see dns.h
 *
 * The servers' answers are untrusted; dnspkt.c checks them.  Here:
 * which servers, the sockets, the deadlines.  Each UDP query gets a new
 * random id and a random source port, and the socket is connected to
 * the server so the kernel drops datagrams from anyone else; a datagram
 * that does not echo our id and question is ignored (not fatal: it may
 * be forged to make us give up) until the deadline.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "buf.h"
#include "control.h"
#include "dns.h"
#include "str.h"

#define NS_MAX 8		/* servers used, as resolv.conf's MAXNS-ish */
#define UDP_BUF 4096
#define TIMEOUT_FIRST 2		/* seconds for the first round */
#define TIMEOUT_SECOND 4	/* and for the second */

struct ns {
	struct sockaddr_storage sa;
	socklen_t salen;
};

unsigned long
dns_random(unsigned long n)
{
	unsigned long r = 0;
	struct timespec ts;
	size_t got = 0;
	long k;
	int fd;

	if ((fd = open("/dev/urandom", O_RDONLY | O_CLOEXEC)) != -1) {
		while (got < sizeof r) {
			k = fd_read(fd, (char *)&r + got, sizeof r - got, 0);
			if (k <= 0)
				break;
			got += (size_t)k;
		}
		(void)close(fd);	/* read-only: nothing to lose */
	}
	if (got < sizeof r) {
		(void)clock_gettime(CLOCK_REALTIME, &ts);
		r ^= (unsigned long)ts.tv_nsec * 2654435761UL;
		r ^= (unsigned long)ts.tv_sec ^ ((unsigned long)getpid() << 16);
	}
	return n ? r % n : 0;
}

/* ns_parse - "a.b.c.d", "a.b.c.d:port", "v6", "[v6]" or "[v6]:port" */
static int
ns_parse(const char *s, size_t n, struct ns *ns)
{
	char host[INET6_ADDRSTRLEN + 1];
	const char *port = NULL;
	size_t hn = n, portn = 0, colon;
	unsigned long pn = 53;
	struct sockaddr_in *s4 = (struct sockaddr_in *)&ns->sa;
	struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ns->sa;

	if (n > 0 && s[0] == '[') {
		colon = str_chrb(s, n, ']');
		if (colon == n)
			return 0;
		s++;
		hn = colon - 1;
		if (colon + 1 < n) {
			if (s[colon] != ':')
				return 0;
			port = s + colon + 1;
			portn = n - colon - 2;
		}
	} else {
		colon = str_chrb(s, n, ':');
		if (colon < n && str_chrb(s + colon + 1, n - colon - 1, ':') == n - colon - 1) {
			hn = colon;	/* exactly one colon: v4:port */
			port = s + colon + 1;
			portn = n - colon - 1;
		}
	}
	if (port && (!scan_ulong(port, portn, &pn) || pn == 0 || pn > 65535))
		return 0;
	if (hn == 0 || hn >= sizeof host)
		return 0;
	memcpy(host, s, hn);
	host[hn] = 0;
	memset(&ns->sa, 0, sizeof ns->sa);
	if (inet_pton(AF_INET, host, &s4->sin_addr) == 1) {
		s4->sin_family = AF_INET;
		s4->sin_port = htons((unsigned short)pn);
		ns->salen = sizeof *s4;
		return 1;
	}
	if (inet_pton(AF_INET6, host, &s6->sin6_addr) == 1) {
		s6->sin6_family = AF_INET6;
		s6->sin6_port = htons((unsigned short)pn);
		ns->salen = sizeof *s6;
		return 1;
	}
	return 0;
}

/* ns_load - the servers to ask; 1 ok, -1 unreadable or junk (errno) */
static int
ns_load(struct ns *ns, size_t *count)
{
	struct str f = STR_ZERO, l = STR_ZERO;
	size_t i, e, k;
	int r;

	*count = 0;
	r = control_readlist("control/nameservers", &l);
	if (r == -1)
		goto fail;
	if (r == 1) {
		for (i = 0; i < l.len; i = e + 1) {
			e = i + str_chrb(l.s + i, l.len - i, 0);
			if (*count < NS_MAX) {
				if (!ns_parse(l.s + i, e - i, &ns[*count])) {
					errno = EINVAL;
					goto fail;
				}
				(*count)++;
			}
		}
	} else {
		r = control_readfile("/etc/resolv.conf", &f, 1024 * 1024);
		if (r == -1)
			goto fail;
		if (r == 1 && control_parselist(f.s, f.len, &l) == -1)
			goto fail;
		for (i = 0; r == 1 && i < l.len; i = e + 1) {
			e = i + str_chrb(l.s + i, l.len - i, 0);
			if (e - i < 11 || memcmp(l.s + i, "nameserver", 10) ||
			    (l.s[i + 10] != ' ' && l.s[i + 10] != '\t'))
				continue;
			k = i + 11;
			while (k < e && (l.s[k] == ' ' || l.s[k] == '\t'))
				k++;
			/* "a.b.c.d" or "v6": no port in resolv.conf; scoped
			 * link-local addresses ("fe80::1%eth0") are skipped */
			if (*count < NS_MAX && str_chrb(l.s + k, e - k, '[') == e - k &&
			    str_chrb(l.s + k, e - k, '%') == e - k &&
			    ns_parse(l.s + k, e - k, &ns[*count]) &&
			    (ns[*count].sa.ss_family == AF_INET6 ||
			    str_chrb(l.s + k, e - k, ':') == e - k))
				(*count)++;
		}
	}
	if (*count == 0) {
		if (!ns_parse("127.0.0.1", 9, &ns[0]))
			return errno = EINVAL, -1;
		*count = 1;
	}
	str_free(&f);
	str_free(&l);
	return 1;
fail:
	r = errno;
	str_free(&f);
	str_free(&l);
	errno = r;
	return -1;
}

/* remaining - milliseconds left until deadline (CLOCK_MONOTONIC) */
static int
remaining(const struct timespec *deadline)
{
	struct timespec now;
	long ms;

	if (clock_gettime(CLOCK_MONOTONIC, &now) == -1)
		return 0;
	ms = (long)(deadline->tv_sec - now.tv_sec) * 1000 +
	    (deadline->tv_nsec - now.tv_nsec) / 1000000;
	return ms < 0 ? 0 : (int)ms;
}

/* bind_random - a random unprivileged source port; the kernel's own
 * choice when several random ports are taken */
static void
bind_random(int fd, int family)
{
	struct sockaddr_storage ss;
	struct sockaddr_in *s4 = (struct sockaddr_in *)&ss;
	struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss;
	unsigned short port;
	int i;

	for (i = 0; i < 8; i++) {
		memset(&ss, 0, sizeof ss);
		port = (unsigned short)(1025 + dns_random(65535 - 1025));
		if (family == AF_INET) {
			s4->sin_family = AF_INET;
			s4->sin_port = htons(port);
			if (bind(fd, (struct sockaddr *)s4, sizeof *s4) == 0)
				return;
		} else {
			s6->sin6_family = AF_INET6;
			s6->sin6_port = htons(port);
			if (bind(fd, (struct sockaddr *)s6, sizeof *s6) == 0)
				return;
		}
	}
	/* connect() binds an ephemeral port by itself */
}

struct question {
	const char *name;
	size_t n;
	unsigned type;
	struct dns_rr *rr;
	size_t max;
	size_t *count;
	struct str *raw;	/* NULL, or gets a copy of a usable answer */
};

/* udp_ask - one UDP exchange with one server; a DNSPKT_ result, or
 * DNSPKT_FAIL with errno when nothing usable came in time */
static int
udp_ask(const struct ns *ns, const struct question *qu, unsigned timeout)
{
	char q[DNS_NAME_MAX + 32], a[UDP_BUF + 1];
	struct timespec deadline;
	struct pollfd pfd;
	unsigned id;
	size_t qlen;
	ssize_t r;
	int fd, res, ms, err;

	id = (unsigned)dns_random(65536);
	if ((qlen = dnspkt_query(q, sizeof q, qu->name, qu->n, qu->type, id)) == 0)
		return DNSPKT_BAD;
	if ((fd = socket(ns->sa.ss_family, SOCK_DGRAM | SOCK_CLOEXEC, 0)) == -1)
		return DNSPKT_FAIL;
	bind_random(fd, ns->sa.ss_family);
	if (connect(fd, (const struct sockaddr *)&ns->sa, ns->salen) == -1 ||
	    send(fd, q, qlen, 0) != (ssize_t)qlen)
		goto fail;
	if (clock_gettime(CLOCK_MONOTONIC, &deadline) == -1)
		goto fail;
	deadline.tv_sec += timeout;
	for (;;) {
		if ((ms = remaining(&deadline)) == 0) {
			errno = ETIMEDOUT;
			goto fail;
		}
		pfd.fd = fd;
		pfd.events = POLLIN;
		if ((res = poll(&pfd, 1, ms)) == -1) {
			if (errno == EINTR)
				continue;
			goto fail;
		}
		if (res == 0)
			continue;
		if ((r = recv(fd, a, sizeof a, 0)) == -1) {
			if (errno == EINTR || errno == EAGAIN)
				continue;
			goto fail;	/* ECONNREFUSED: nobody there */
		}
		if ((size_t)r > UDP_BUF)
			continue;	/* too big to be a plain DNS answer */
		res = dnspkt_parse(a, (size_t)r, id, qu->name, qu->n, qu->type,
		    qu->rr, qu->max, qu->count);
		if (res == DNSPKT_NOTOURS)
			continue;
		(void)close(fd);	/* a datagram socket: no data to lose */
		if (res == DNSPKT_OK && qu->raw && !str_copyb(qu->raw, a, (size_t)r))
			return DNSPKT_FAIL;	/* errno ENOMEM */
		if (res == DNSPKT_BAD)
			errno = EPROTO;
		if (res == DNSPKT_FAIL)
			errno = EAGAIN;	/* SERVFAIL, REFUSED: ask another */
		return res;
	}
fail:
	err = errno;
	(void)close(fd);
	errno = err;
	return DNSPKT_FAIL;
}

/* readall - exactly n bytes within the deadline; 1 ok, 0 error/EOF */
static int
readall(int fd, char *p, size_t n, const struct timespec *deadline)
{
	long r;
	int ms;

	while (n > 0) {
		if ((ms = remaining(deadline)) == 0)
			return errno = ETIMEDOUT, 0;
		r = fd_read(fd, p, n, (unsigned)(ms + 999) / 1000);
		if (r == -1 && errno == EAGAIN)
			continue;
		if (r <= 0) {
			if (r == 0)
				errno = EPROTO;
			return 0;
		}
		p += r;
		n -= (size_t)r;
	}
	return 1;
}

/* tcp_ask - the same question over TCP, after a truncated answer */
static int
tcp_ask(const struct ns *ns, const struct question *qu, unsigned timeout)
{
	char q[2 + DNS_NAME_MAX + 32], lenb[2], *a = NULL;
	struct timespec deadline;
	struct pollfd pfd;
	size_t qlen, alen;
	socklen_t sl;
	unsigned id;
	int fd, res, err, soerr;

	id = (unsigned)dns_random(65536);
	if ((qlen = dnspkt_query(q + 2, sizeof q - 2, qu->name, qu->n, qu->type, id)) == 0)
		return DNSPKT_BAD;
	q[0] = (char)(qlen >> 8);
	q[1] = (char)(qlen & 0xff);
	if (clock_gettime(CLOCK_MONOTONIC, &deadline) == -1)
		return DNSPKT_FAIL;
	deadline.tv_sec += timeout;
	if ((fd = socket(ns->sa.ss_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0)) == -1)
		return DNSPKT_FAIL;
	if (connect(fd, (const struct sockaddr *)&ns->sa, ns->salen) == -1) {
		if (errno != EINPROGRESS)
			goto fail;
		pfd.fd = fd;
		pfd.events = POLLOUT;
		for (;;) {
			res = poll(&pfd, 1, remaining(&deadline));
			if (res == -1 && errno == EINTR)
				continue;
			break;
		}
		if (res == -1)
			goto fail;
		if (res == 0) {
			errno = ETIMEDOUT;
			goto fail;
		}
		sl = sizeof soerr;
		if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &sl) == -1)
			goto fail;
		if (soerr) {
			errno = soerr;
			goto fail;
		}
	}
	if (!fd_writeall(fd, q, qlen + 2, timeout))
		goto fail;
	if (!readall(fd, lenb, 2, &deadline))
		goto fail;
	alen = ((size_t)(unsigned char)lenb[0] << 8) | (unsigned char)lenb[1];
	if ((a = malloc(alen ? alen : 1)) == NULL)
		goto fail;
	if (!readall(fd, a, alen, &deadline))
		goto fail;
	res = dnspkt_parse(a, alen, id, qu->name, qu->n, qu->type, qu->rr,
	    qu->max, qu->count);
	if (res == DNSPKT_OK && qu->raw && !str_copyb(qu->raw, a, alen))
		res = DNSPKT_FAIL;	/* errno ENOMEM */
	free(a);
	(void)close(fd);	/* everything needed was read */
	if (res == DNSPKT_NOTOURS || res == DNSPKT_BAD || res == DNSPKT_TRUNC) {
		errno = EPROTO;
		return DNSPKT_BAD;	/* over TCP nobody else can answer */
	}
	if (res == DNSPKT_FAIL)
		errno = EAGAIN;
	return res;
fail:
	err = errno;
	free(a);
	(void)close(fd);
	errno = err;
	return DNSPKT_FAIL;
}

static int
ask(const char *name, size_t n, unsigned type, struct dns_rr *rr, size_t max, size_t *count,
    struct str *raw)
{
	struct ns ns[NS_MAX];
	struct question qu;
	size_t nns, i, round;
	char q[DNS_NAME_MAX + 32];
	int res, err = ETIMEDOUT;

	*count = 0;
	/* a name that cannot be put in a query cannot exist */
	if (dnspkt_query(q, sizeof q, name, n, type, 0) == 0)
		return 2;
	if (ns_load(ns, &nns) == -1)
		return -1;
	qu.name = name;
	qu.n = n;
	qu.type = type;
	qu.rr = rr;
	qu.max = max;
	qu.count = count;
	qu.raw = raw;
	for (round = 0; round < 2; round++)
		for (i = 0; i < nns; i++) {
			res = udp_ask(&ns[i], &qu, round ? TIMEOUT_SECOND : TIMEOUT_FIRST);
			if (res == DNSPKT_TRUNC)
				res = tcp_ask(&ns[i], &qu, TIMEOUT_SECOND);
			switch (res) {
			case DNSPKT_OK:
				return *count > 0 ? 1 : 0;
			case DNSPKT_NXDOMAIN:
				*count = 0;
				return 2;
			case DNSPKT_FAIL:
				err = errno ? errno : EAGAIN;
				break;
			default:
				err = EPROTO;
				break;
			}
			*count = 0;
		}
	errno = err;
	return -1;
}

int
dns_query(const char *name, size_t n, unsigned type, struct dns_rr *rr, size_t max, size_t *count)
{
	return ask(name, n, type, rr, max, count, NULL);
}

/* every - every record of type (A, AAAA or TXT) of name, as
 * dnspkt_data gives them, into out; returns as dns_query */
static int
every(const char *name, size_t n, unsigned type, struct str *out, size_t *count)
{
	struct dns_rr rr[1];
	struct str raw = STR_ZERO;
	size_t got;
	int r;

	*count = 0;
	out->len = 0;
	/* ask() checks the answer and keeps a copy; the records are then
	 * taken from that copy, all of them, however many it holds */
	r = ask(name, n, type, rr, 1, &got, &raw);
	if (r != 1)
		goto out;
	if (!str_readyplus(out, raw.len)) {
		r = -1;
		goto out;
	}
	if (dnspkt_data(raw.s, raw.len, ((unsigned)(unsigned char)raw.s[0] << 8) |
	    (unsigned char)raw.s[1], name, n, type, out->s, out->cap, &out->len,
	    count) != DNSPKT_OK || *count == 0) {
		/* ask() looked at the first record only: one further on is
		 * malformed, and nothing from such an answer is used */
		*count = 0;
		errno = EPROTO;
		r = -1;
	}
out:
	str_free(&raw);
	return r;
}

int
dns_txt(const char *name, size_t n, struct str *out, size_t *count)
{
	return every(name, n, DNS_T_TXT, out, count);
}

int
dns_addrs(const char *name, size_t n, int six, struct str *out, size_t *count)
{
	return every(name, n, six ? DNS_T_AAAA : DNS_T_A, out, count);
}

int
dns_mx(const char *domain, size_t n, struct dns_mx *mx, size_t max, size_t *count)
{
	struct dns_rr rr[DNS_MX_MAX];
	struct dns_mx t;
	size_t got, i, j, k, lo;
	int r;

	*count = 0;
	r = dns_query(domain, n, DNS_T_MX, rr, DNS_MX_MAX, &got);
	if (r != 1)
		return r == -1 ? -1 : 0;
	for (i = 0; i < got && *count < max; i++) {
		mx[*count].pref = rr[i].pref;
		mx[*count].len = rr[i].len;
		memcpy(mx[*count].name, rr[i].data, rr[i].len + 1);
		(*count)++;
	}
	/* insertion sort by preference (a few dozen at most) */
	for (i = 1; i < *count; i++)
		for (j = i; j > 0 && mx[j - 1].pref > mx[j].pref; j--) {
			t = mx[j];
			mx[j] = mx[j - 1];
			mx[j - 1] = t;
		}
	/* shuffle each run of equal preference */
	for (lo = 0; lo < *count; lo = i) {
		for (i = lo + 1; i < *count && mx[i].pref == mx[lo].pref; i++)
			;
		for (j = i - 1; j > lo; j--) {
			k = lo + dns_random(j - lo + 1);
			t = mx[j];
			mx[j] = mx[k];
			mx[k] = t;
		}
	}
	return *count > 0 ? 1 : 0;
}

int
dns_ip(const char *name, size_t n, struct dns_ip *ip, size_t max, size_t *count)
{
	struct dns_rr rr[DNS_IP_MAX];
	static const unsigned types[2] = { DNS_T_AAAA, DNS_T_A };
	size_t got, i, t;
	int r, temp = 0, err = 0;

	*count = 0;
	for (t = 0; t < 2; t++) {
		r = dns_query(name, n, types[t], rr, DNS_IP_MAX, &got);
		if (r == 2)
			return 0;	/* no such name: no point asking again */
		if (r == -1) {
			temp = 1;
			err = errno;
			continue;
		}
		for (i = 0; i < got && *count < max; i++) {
			ip[*count].family = types[t] == DNS_T_A ? AF_INET : AF_INET6;
			memcpy(ip[*count].addr, rr[i].data, rr[i].len);
			(*count)++;
		}
	}
	if (*count > 0)
		return 1;
	if (temp)
		return errno = err, -1;
	return 0;
}

int
dns_domain_exists(const char *domain, size_t n)
{
	static const unsigned types[3] = { DNS_T_MX, DNS_T_A, DNS_T_AAAA };
	struct dns_rr rr[4];
	size_t got, t;
	int r;

	for (t = 0; t < 3; t++) {
		r = dns_query(domain, n, types[t], rr, 4, &got);
		if (r == 1)
			return 1;
		if (r == 2)
			return 0;
		if (r == -1)
			return -1;
	}
	return 0;
}
