/* starttls - libFuzzer target for lib/starttls: the answer qmail-tls
 * sends a server program (parsed by starttls_parse, then put into the
 * environment) or qmail-remote (read from a pipe by starttls_readanswer,
 * looked up by starttls_var) and the request a server program sends
 * qmail-tls (starttls_scanreq).  A parsed answer must point inside the
 * input, and every variable must be a TLS* name with a printable value. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "starttls.h"

/* names qmail-remote looks up, and near misses */
static const char *const names[] = {
	"TLSVERSION", "TLSCIPHER", "TLSVERIFY", "TLSPEERSUBJECT", "TLS", "TLSV", 0
};

/* readback - the input through a pipe, as qmail-remote reads it */
static void
readback(const char *p, size_t n)
{
	char m[STARTTLS_MAXREPLY];
	struct starttls_reply r;
	size_t got;
	int fd[2];

	if (n > 4096 || pipe(fd) == -1)
		return;
	if (write(fd[1], p, n) != (ssize_t)n)
		abort();
	(void)close(fd[1]);
	if (starttls_readanswer(fd[0], m, sizeof m, &got, 1)) {
		/* it stops at the first NUL NUL after two bytes */
		if (got > n || got < 3 || m[got - 1] != 0 || m[got - 2] != 0 ||
		    memcmp(m, p, got) != 0)
			abort();
		if (starttls_parse(m, got, &r) && r.ok != (m[0] == 'K'))
			abort();
	}
	(void)close(fd[0]);
}

int LLVMFuzzerTestOneInput(const uint8_t *, size_t);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t n)
{
	struct starttls_reply r;
	const char *p = (const char *)data;
	size_t i, len;
	int k;

	if (starttls_parse(p, n, &r)) {
		if (n > STARTTLS_MAXREPLY || p[n - 1] != 0 || r.nvar > STARTTLS_MAXVARS)
			abort();
		if (r.ok != (p[0] == 'K') || (!r.ok && r.nvar != 0))
			abort();
		for (i = 0; i < r.nvar; i++) {
			if (r.var[i] < p || r.var[i] >= p + n)
				abort();
			len = strlen(r.var[i]);
			if (r.var[i] + len >= p + n || !starttls_varok(r.var[i], len) ||
			    strncmp(r.var[i], "TLS", 3) != 0 || strchr(r.var[i], '\n'))
				abort();
		}
		for (i = 0; names[i]; i++) {
			const char *v = starttls_var(&r, names[i]);

			len = strlen(names[i]);
			if (v != NULL && (v < p + len + 1 || v >= p + n || v[-1] != '=' ||
			    memcmp(v - len - 1, names[i], len) != 0))
				abort();
		}
	}
	readback(p, n);
	k = starttls_scanreq(p, n);
	if (k == 1 && (n < 3 || p[0] != 'S' || p[n - 1] != 0 ||
	    memchr(p, 0, n - 1) != NULL || n - 2 > STARTTLS_MAXLINE))
		abort();
	if (k == 0 && n > 0 && (p[0] != 'S' || memchr(p, 0, n) != NULL))
		abort();
	return 0;
}
