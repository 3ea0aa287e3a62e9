/* addrlist - libFuzzer target for lib/addrlist: the address fields of
 * a message a local program hands qmail-inject.  Checks: each mailbox's
 * address is NUL-ended, holds no NUL, and its '@' sits where locallen
 * says; the offsets lie inside the field, in order, and a local part
 * ends before its domain; splitting the field at any byte never makes
 * the parser read past the end it is given. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "addrlist.h"

int LLVMFuzzerTestOneInput(const uint8_t *, size_t);

struct check {
	size_t n, last;
};

static int
check(void *arg, const struct addrlist_addr *m)
{
	struct check *c = arg;

	if (m->len == 0 || m->addr[m->len] != 0 || memchr(m->addr, 0, m->len) || m->locallen > m->len)
		abort();
	if (m->has_domain != (m->locallen < m->len) || (m->has_domain && m->addr[m->locallen] != '@'))
		abort();
	if (m->has_domain && m->len == m->locallen + 1)
		abort();
	if (m->literal && (!m->has_domain || m->addr[m->locallen + 1] != '[' || m->addr[m->len - 1] != ']'))
		abort();
	if (m->localend == 0 || m->localend > c->n || m->localend <= c->last)
		abort();
	if (m->has_domain && (m->domend <= m->localend || m->domend > c->n))
		abort();
	c->last = m->has_domain ? m->domend : m->localend;
	return 1;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct check c;
	char *p;

	/* a copy of exactly size bytes, so ASan sees any read past it */
	if ((p = malloc(size ? size : 1)) == NULL)
		return 0;
	memcpy(p, data, size);
	c.n = size;
	c.last = 0;
	(void)addrlist_parse(p, size, check, &c);
	if (size > 1) {
		c.n = size / 2;
		c.last = 0;
		(void)addrlist_parse(p, size / 2, check, &c);
	}
	free(p);
	return 0;
}
