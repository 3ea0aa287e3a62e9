/* envelope - libFuzzer target for lib/envelope: the envelope any local
 * user hands qmail-queue on descriptor 1, and a todo/ file as qmail-send
 * and qmail-qread read it from a possibly damaged queue.  Checks: an
 * accepted envelope's addresses lie inside the input, are NUL-ended and
 * hold no NUL, within the limits; envelope_next walks exactly nrcpt of
 * them; the todo/ form qmail-queue would write from an accepted input
 * parses back to the same envelope. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "envelope.h"

int LLVMFuzzerTestOneInput(const uint8_t *, size_t);

static void
check(const struct envelope *e, const char *p, size_t n)
{
	const char *a;
	size_t pos = 0, len;
	unsigned long count = 0;

	if (e->sender < p + 1 || e->sender + e->senderlen >= p + n || e->sender[e->senderlen] != 0 ||
	    memchr(e->sender, 0, e->senderlen) || e->senderlen > ENVELOPE_ADDR_MAX)
		abort();
	if (e->nrcpt == 0 || e->nrcpt > ENVELOPE_RCPT_MAX || e->rcpts < p || e->rcpts + e->rcptslen > p + n ||
	    e->rcpts[0] != 'T')
		abort();
	while (envelope_next(e, &pos, &a, &len)) {
		if (a < e->rcpts || a + len >= e->rcpts + e->rcptslen || a[len] != 0 ||
		    memchr(a, 0, len) || len > ENVELOPE_ADDR_MAX || a[-1] != 'T')
			abort();
		count++;
	}
	if (count != e->nrcpt || pos != e->rcptslen)
		abort();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *p = (const char *)data;
	struct envelope e, t;
	char *todo;
	int r;

	r = envelope_parse_queue(&e, p, size);
	if (r < ENVELOPE_OK || r > ENVELOPE_BADHEAD)
		abort();
	if (r == ENVELOPE_OK) {
		check(&e, p, size);
		if (e.uid || e.pid)
			abort();
		/* what qmail-queue writes: u, p, then all but the final NUL */
		if ((todo = malloc(size + 20)) == NULL)
			return 0;
		memcpy(todo, "u42\0p7\0", 7);
		memcpy(todo + 7, p, size - 1);
		if (envelope_parse_todo(&t, todo, size + 6) != ENVELOPE_OK)
			abort();
		check(&t, todo, size + 6);
		if (t.uid != 42 || t.pid != 7 || t.nrcpt != e.nrcpt || t.senderlen != e.senderlen ||
		    t.rcptslen != e.rcptslen || memcmp(t.rcpts, e.rcpts, e.rcptslen) != 0)
			abort();
		free(todo);
	}
	r = envelope_parse_todo(&t, p, size);
	if (r < ENVELOPE_OK || r > ENVELOPE_BADHEAD)
		abort();
	if (r == ENVELOPE_OK)
		check(&t, p, size);
	(void)envelope_strerror(r);
	return 0;
}
