/* lib-addrlist - unit tests for lib/addrlist: display names, groups,
 * comments, quoting, routes, literals, folding, the offsets a caller
 * qualifies an address at, and every kind of malformed field */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "addrlist.h"
#include "str.h"
#include "tap.h"

/* each mailbox as "addr|local length|local end|domain end;" */
static int
show(void *arg, const struct addrlist_addr *m)
{
	struct str *s = arg;
	char b[64];

	if (strlen(m->addr) != m->len)
		return errno = EDOM, 0;
	snprintf(b, sizeof b, "|%zu|%zu|%zu%s;", m->locallen, m->localend,
	    m->has_domain ? m->domend : 0, m->literal ? "L" : "");
	return str_catb(s, m->addr, m->len) && str_cats(s, b);
}

static struct str out;

/* L - parse a literal; the result string, or "ERR" */
static const char *
L(const char *p, size_t n)
{
	out.len = 0;
	if (!addrlist_parse(p, n, show, &out)) {
		out.len = 0;
		str_cats(&out, errno == EINVAL ? "ERR" : "ERRNO");
	}
	str_nul(&out);
	return out.s;
}
#define P(lit) L((lit), sizeof(lit) - 1)
#define IS(lit, want) ok(strcmp(P(lit), (want)) == 0, "%s -> %s (got %s)", #lit, want, out.s)

static int
stop(void *arg, const struct addrlist_addr *m)
{
	(void)m;
	++*(int *)arg;
	return errno = ENOSPC, 0;
}

int
main(void)
{
	char big[4096];
	int calls = 0;

	IS("a@b.c", "a@b.c|1|1|5;");
	IS(" a@b.c ", "a@b.c|1|2|6;");
	IS("a", "a|1|1|0;");
	IS("a@b", "a@b|1|1|3;");
	IS("", "");
	IS(" ,, ", "");
	IS("a@x, b@y", "a@x|1|1|3;b@y|1|6|8;");
	IS("John Smith <js@x.y>", "js@x.y|2|14|18;");
	IS("\"Smith, John\" <js@x>", "js@x|2|17|19;");
	IS("js (John, Smith) , k", "js|2|2|0;k|1|20|0;");
	IS("<js>", "js|2|3|0;");
	IS("<>", "");
	IS("Name <>, a@b", "a@b|1|10|12;");
	IS("\"john smith\"@x", "john smith@x|10|12|14;");
	IS("\"a\\\"b\"@x", "a\"b@x|3|6|8;");
	IS("a . b @ c . d", "a.b@c.d|3|5|13;");
	IS("a@[1.2.3.4]", "a@[1.2.3.4]|1|1|11L;");
	IS("<@r1,@r2:u@h.x>", "u@h.x|1|10|14;");
	IS("team: a@x, b@y;", "a@x|1|7|9;b@y|1|12|14;");
	IS("team:;", "");
	IS("undisclosed-recipients:;, c@d", "c@d|1|27|29;");
	IS("team: a@x", "a@x|1|7|9;");
	IS("a@x (c (nested) c)", "a@x|1|1|3;");
	IS("a@x,\r\n\tb@y", "a@x|1|1|3;b@y|1|8|10;");
	IS("\"fold\r\n ed\"@x", "fold ed@x|7|11|13;");
	IS("\"fold\n\ted\"@x", "fold\ted@x|7|10|12;");
	IS("\"a\nb\"@c.example", "ERR");
	IS("\"a\rb\"@c.example", "ERR");
	IS("\"a\r\nb\"@c.example", "ERR");
	IS("\"a\\\nb\"@c.example", "ERR");
	IS("\"a\\\r\n b\"@c.example", "ERR");
	IS("\"a\r\n\"@c.example", "ERR");
	IS("host@sub+", "host@sub+|4|4|9;");
	IS("\xc3\xa9t\xc3\xa9@x.fr", "\xc3\xa9t\xc3\xa9@x.fr|5|5|10;");
	IS("x.@y", "x.@y|2|2|4;");

	IS("John Smith", "ERR");
	IS("a@b@c", "ERR");
	IS("a@", "ERR");
	IS("@b", "ERR");
	IS("<a@b", "ERR");
	IS("a@b>", "ERR");
	IS("<a <b>>", "ERR");
	IS("<a> junk", "ERR");
	IS("\"open", "ERR");
	IS("(open", "ERR");
	IS("a@[1.2", "ERR");
	IS("a@[1[2]", "ERR");
	IS("a) b", "ERR");
	IS("a;", "ERR");
	IS("g: h: a@b;", "ERR");
	IS("a@\"q\"", "ERR");
	IS("[1.2.3.4]", "ERR");
	IS("a@[1.2].x", "ERR");
	IS("a@[1.2]x", "ERR");
	IS("<@r1,@r2 u@h>", "ERR");
	IS("\"a\\", "ERR");
	ok(strcmp(L("a\0b@c", 5), "ERR") == 0, "a NUL is refused");
	IS("a\x01@b", "ERR");
	IS("\"a\x7f\"@b", "ERR");
	IS("(a\x01)b", "ERR");
	IS("\"a\\\r\\\nRCPT TO:<e@x>\"@x", "ERR");
	IS("\"a\\\nb\"@x", "ERR");
	IS("(c\\\r) a@x", "ERR");
	IS("\"a\\ b\\\"\"@x", "a b\"@x|4|8|10;");

	/* the function's refusal stops the walk and keeps its errno */
	ok(addrlist_parse("a, b, c", 7, stop, &calls) == 0 && errno == ENOSPC && calls == 1,
	    "fn returning 0 stops the walk");

	/* deep nesting and a long field are walked, not recursed */
	memset(big, '(', 2000);
	memset(big + 2000, ')', 2000);
	memcpy(big + 4000, "a@b", 3);
	ok(strcmp(L(big, 4003), "a@b|1|4001|4003;") == 0, "2000 nested comments");
	ok(strcmp(L(big, 3999), "ERR") == 0, "an unclosed comment cut short");

	str_free(&out);
	return tap_done();
}
