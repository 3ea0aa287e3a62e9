/* lib-authres - Authentication-Results fields naming us: the
 * authserv-id read however it is written, and the fields taken out of
 * a header streamed in chunks of every size, with fields longer than
 * what is held, no final newline, a put that fails */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "authres.h"
#include "tap.h"

#define ME "lanmail.test"

static int
ours(const char *f)
{
	return authres_ours(f, strlen(f), ME, strlen(ME), 0);
}

static int
ourspart(const char *f)
{
	return authres_ours(f, strlen(f), ME, strlen(ME), 1);
}

struct sink {
	char *s;
	size_t len, cap;
	size_t fail;	/* put fails once this many bytes went out (0: never) */
};

static int
sinkput(void *ctx, const char *p, size_t n)
{
	struct sink *k = ctx;

	if (n == 0)
		abort();	/* empty puts are never made */
	if (k->fail && k->len + n >= k->fail)
		return errno = ENOMEM, 0;
	if (k->len + n > k->cap) {
		k->cap = (k->len + n) * 2;
		if ((k->s = realloc(k->s, k->cap)) == NULL)
			abort();
	}
	memcpy(k->s + k->len, p, n);
	k->len += n;
	return 1;
}

/* strip - in[0..n) through authres_strip in chunks of c bytes (0: at
 * once); the output in k, the fields removed in *removed */
static int
strip(const char *in, size_t n, size_t c, struct sink *k, unsigned long *removed)
{
	static struct authres_strip s;
	size_t i = 0, m;

	k->len = 0;
	authres_strip_init(&s, ME, strlen(ME));
	while (i < n) {
		m = c && c < n - i ? c : n - i;
		if (!authres_strip_feed(&s, in + i, m, sinkput, k))
			return 0;
		i += m;
	}
	if (!authres_strip_end(&s, sinkput, k))
		return 0;
	*removed = s.removed;
	return 1;
}

/* same - in gives want, with nrem fields removed, however it is cut */
static int
same(const char *in, size_t n, const char *want, size_t wn, unsigned long nrem)
{
	struct sink k = { NULL, 0, 0, 0 };
	static const size_t cuts[] = { 0, 1, 2, 3, 5, 7, 13, 64, 4096, 8191, 8192, 8193 };
	unsigned long removed;
	size_t c;
	int good = 1;

	for (c = 0; c < sizeof cuts / sizeof cuts[0]; c++) {
		if (!strip(in, n, cuts[c], &k, &removed) || k.len != wn ||
		    (wn && memcmp(k.s, want, wn) != 0) || removed != nrem) {
			printf("# chunks of %zu: got %zu bytes, %lu removed\n", cuts[c], k.len, removed);
			good = 0;
		}
	}
	free(k.s);
	return good;
}

static int
sames(const char *in, const char *want, unsigned long nrem)
{
	return same(in, strlen(in), want, strlen(want), nrem);
}

int
main(void)
{
	struct sink k = { NULL, 0, 0, 0 };
	unsigned long removed;
	char *big, *want;
	size_t i, n;

	/* authres_ours: the id however it is written */
	ok(ours("Authentication-Results: lanmail.test; spf=pass\n") == 1, "plain id");
	ok(ours("authentication-results:LANMAIL.Test;dkim=pass") == 1, "any case, no blanks, no newline");
	ok(ours("Authentication-Results: \"lanmail.test\"; dkim=pass\n") == 1, "quoted id");
	ok(ours("Authentication-Results: \" lanmail.test \"; dkim=pass\n") == 1, "blanks inside the quotes");
	ok(ours("Authentication-Results: \"lanmail\\.test\"; dkim=pass\n") == 1, "quoted pair inside the quotes");
	ok(ours("Authentication-Results: \"lanmail.\r\n test\"; dkim=pass\n") == 0,
	    "folded inside the quotes: the blank after the fold stays");
	ok(ours("Authentication-Results: \"lanmail.\r\ntest\"; dkim=pass\n") == 1,
	    "a bare line break inside the quotes is left out");
	ok(ours("Authentication-Results: (c) lanmail.test; dkim=pass\n") == 1, "after a comment");
	ok(ours("Authentication-Results: (a (nested) comment)\r\n LANMAIL.Test ; dkim=pass\n") == 1,
	    "after a nested comment and folding");
	ok(ours("Authentication-Results: (\\) lanmail.test; dkim=pass\n") == 1, "after a comment with a quoted pair");
	ok(ours("Authentication-Results: lanmail.test(x); dkim=pass\n") == 1, "a comment right after it");
	ok(ours("Authentication-Results: lanmail.test 1; dkim=pass\n") == 1, "a version after it");
	ok(ours("Authentication-Results:\n\tlanmail.test;\n\tdkim=pass\n") == 1, "folded before it");
	ok(ours("Authentication-Results \t: lanmail.test; dkim=pass\n") == 1, "blanks before the colon");
	ok(ours("Authentication-Results: \"lanmail.test; dkim=pass\n") == 1, "a quote left open, me in it");
	ok(ours("Authentication-Results: (lanmail.test; dkim=pass\n") == 1, "a comment left open, me in it");
	ok(ours("Authentication-Results: ; x=lanmail.test\n") == 1, "no id, me in the value");
	ok(ours("Authentication-Results: \"  \"; x=lanmail.test\n") == 1, "a blank quoted id, me in the value");
	ok(ours("Authentication-Results: other.test; dkim=pass\n") == 0, "another id");
	ok(ours("Authentication-Results: LANMAIL.TEST.; spf=pass\n") == 1, "the absolute name, a final dot");
	ok(ours("Authentication-Results: \"lanmail.test.\"; spf=pass\n") == 1, "the absolute name quoted");
	ok(ours("Authentication-Results: lanmail.test..; spf=pass\n") == 0, "two final dots: another name");
	ok(ours("Authentication-Results: lanmail.tes.; spf=pass\n") == 0, "a dot in place of a letter: another name");
	ok(ours("Authentication-Results: (lanmail.test) other.test; dkim=pass\n") == 0,
	    "me in a comment before another id");
	ok(ours("Authentication-Results: lanmail.test.example; dkim=pass\n") == 0, "a longer name");
	ok(ours("Authentication-Results: lanmail.tes; dkim=pass\n") == 0, "a shorter name");
	ok(ours("Authentication-Results: \"other.test\"; dkim=pass\n") == 0, "another quoted id");
	ok(ours("Authentication-Results: \"lanmail.testx\"; dkim=pass\n") == 0, "a longer quoted id");
	ok(ours("Authentication-Results: ; dkim=pass\n") == 0, "no id, no me");
	ok(ours("Authentication-Results: \"other\n") == 0, "a quote left open without me");
	ok(ours("") == 0 && ours(":") == 0 && ours("\"") == 0 && ours("(") == 0, "nothing, or next to nothing");
	ok(authres_ours("Authentication-Results: lanmail.test;", 37, "", 0, 0) == 0, "an empty me is no one");
	ok(authres_ours("A-R: lanmail\0test;", 18, "lanmail\0test", 12, 0) == 0, "a NUL ends a token");
	ok(authres_ours("A-R: \"lanmail\0test\";", 20, "lanmail\0test", 12, 0) == 1, "a NUL in quotes is a byte");

	/* partial: the first bytes of a longer field */
	ok(ourspart("Authentication-Results: lanmail.test;") == 1, "part: the id is whole");
	ok(ourspart("Authentication-Results: other.test ") == 0, "part: another id, whole");
	ok(ourspart("Authentication-Results: lanmail.te") == -1, "part: the token may go on");
	ok(ourspart("Authentication-Results: lanmail.test") == -1, "part: even when it is me so far");
	ok(ourspart("Authentication-Results: (a comment") == -1, "part: in a comment");
	ok(ourspart("Authentication-Results: \"lanmail") == -1, "part: in quotes");
	ok(ourspart("Authentication-Results: \"other\";") == 0, "part: quoted id, whole");
	ok(ourspart("Authentication-Results: ; x") == -1, "part: no id, me may come");
	ok(ourspart("Authentication-Results: ; x=lanmail.test") == 1, "part: no id, me came");
	ok(ourspart("Authentication-Results:  \n\t") == -1, "part: only blanks so far");

	/* the header filter */
	ok(sames("", "", 0), "no message");
	ok(sames("Subject: x\n\nbody\n", "Subject: x\n\nbody\n", 0), "nothing to remove");
	ok(sames("Authentication-Results: lanmail.test; spf=pass\nSubject: x\n\nb\n", "Subject: x\n\nb\n", 1),
	    "the first field removed");
	ok(sames("Subject: x\nAuthentication-Results: lanmail.test;\n\tspf=pass\n  x\nTo: y\n\nb\n",
	    "Subject: x\nTo: y\n\nb\n", 1), "a folded field removed with its continuation lines");
	ok(sames("Subject: x\nAUTHENTICATION-results: \"lanmail.test\"; spf=pass\n\nb\n", "Subject: x\n\nb\n", 1),
	    "another case, a quoted id");
	ok(sames("Subject: x\nAuthentication-Results  : lanmail.test; spf=pass\n\nb\n", "Subject: x\n\nb\n", 1),
	    "blanks before the colon");
	ok(sames("Authentication-Results: other.test; spf=pass\n\tx\nSubject: x\n\nb\n",
	    "Authentication-Results: other.test; spf=pass\n\tx\nSubject: x\n\nb\n", 0), "another id stays, folded");
	ok(sames("A: 1\nAuthentication-Results: lanmail.test; a\nAuthentication-Results: other.test; b\n"
	    "Authentication-Results: LANMAIL.TEST; c\nB: 2\n\n",
	    "A: 1\nAuthentication-Results: other.test; b\nB: 2\n\n", 2), "of three, the two naming me");
	ok(sames("Subject: x\n\nAuthentication-Results: lanmail.test; spf=pass\n",
	    "Subject: x\n\nAuthentication-Results: lanmail.test; spf=pass\n", 0), "in the body: stays");
	ok(sames("\nAuthentication-Results: lanmail.test; spf=pass\n",
	    "\nAuthentication-Results: lanmail.test; spf=pass\n", 0), "no header at all: stays");
	ok(sames("Authentication-Results-X: lanmail.test; a\nAuthentication-Result: lanmail.test; b\n"
	    "X-Authentication-Results: lanmail.test; c\nAuthentication-Results\n\n",
	    "Authentication-Results-X: lanmail.test; a\nAuthentication-Result: lanmail.test; b\n"
	    "X-Authentication-Results: lanmail.test; c\nAuthentication-Results\n\n", 0),
	    "other names stay, and a line without a colon");
	ok(sames(" lead\nAuthentication-Results: lanmail.test; a\n", " lead\n", 1),
	    "a first line starting with a blank stays; a field without the empty line goes");
	ok(sames("Authentication-Results: lanmail.test; a", "", 1), "no final newline: goes");
	ok(sames("Authentication-Results: other.test; a", "Authentication-Results: other.test; a", 0),
	    "no final newline: stays");
	ok(sames("Authentication-Res", "Authentication-Res", 0), "the message ends in the name");
	ok(sames("Authentication-Results  ", "Authentication-Results  ", 0), "the message ends before the colon");
	ok(sames("Authentication-Results:\n\n", "Authentication-Results:\n\n", 0), "an empty field: stays");

	/* fields longer than what is held */
	n = 3 * AUTHRES_HOLD;
	if ((big = malloc(n + 200)) == NULL || (want = malloc(n + 200)) == NULL)
		abort();
	i = (size_t)snprintf(big, 200, "Authentication-Results: other.test; x=");
	while (i < n) {
		memcpy(big + i, "\n\taaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", 32);
		i += 32;
	}
	memcpy(big + i, "\nTo: y\n\nb\n", 10);
	i += 10;
	ok(same(big, i, big, i, 0), "a field of %zu bytes naming another stays whole", i);
	memcpy(big + 24, "lanmail.test;", 13);
	ok(same(big, i, "To: y\n\nb\n", 9, 1), "and goes whole when it names me");
	memcpy(big, "Authentication-Results: (", 25);
	ok(same(big, i, "To: y\n\nb\n", 9, 1), "an id not found in the bytes held: goes");
	/* a comment closed near the end of the bytes held, another id
	 * after it: its ';' the last byte held, or the first one not */
	for (n = 13; n >= 12; n--) {
		memset(big, 0, 3 * AUTHRES_HOLD + 200);
		i = (size_t)snprintf(big, 200, "Authentication-Results: (lanmail.test");
		while (i < AUTHRES_HOLD - n)
			big[i++] = 'c';
		memcpy(big + i, ") other.test;", 13);
		i += 13;
		while (i < AUTHRES_HOLD + 100)
			big[i++] = 'd';
		memcpy(big + i, "\n\nb\n", 4);
		i += 4;
		if (n == 13)
			ok(same(big, i, big, i, 0), "an id that ends with the bytes held decides: stays");
		else
			ok(same(big, i, "\nb\n", 3, 1), "one cut at their end is not known: goes");
	}
	i = (size_t)snprintf(big, 200, "Authentication-Results");
	while (i < AUTHRES_HOLD + 10)
		big[i++] = ' ';
	memcpy(big + i, ": lanmail.test;\n\tx\nTo: y\n\nb\n", 28);
	i += 28;
	ok(same(big, i, "To: y\n\nb\n", 9, 1), "more blanks before the colon than are held: goes");
	i = (size_t)snprintf(big, 200, "Authentication-Results");
	while (i < AUTHRES_HOLD - 1)
		big[i++] = ' ';
	memcpy(big + i, ": other.test;\n\nb\n", 17);
	i += 17;
	ok(same(big, i, "\nb\n", 3, 1), "the colon as the last byte held: no id is known, goes");
	free(big);
	free(want);

	/* a put that fails is reported */
	k.fail = 5;
	ok(!strip("Subject: x\n\nbody\n", 17, 0, &k, &removed), "a failing put: 0");
	k.fail = 2;
	ok(!strip("Authentication-Results: other.test; x\n", 38, 0, &k, &removed),
	    "a failing put at the end: 0");
	free(k.s);
	return tap_done();
}
