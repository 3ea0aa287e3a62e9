/* lib-str - unit tests for lib/str: overflow-checked growth, NULs,
 * decimal conversion and the byte helpers */
#include <errno.h>
#include <limits.h>
#include <stdint.h>
#include <string.h>

#include "str.h"
#include "tap.h"

static int
same(const struct str *s, const char *p, size_t n)
{
	return s->len == n && (n == 0 || memcmp(s->s, p, n) == 0);
}

int
main(void)
{
	struct str s = STR_ZERO, t = STR_ZERO;
	char buf[FMT_ULONG + 1];
	unsigned long u;
	size_t cap;
	int i;

	/* growth near SIZE_MAX must fail cleanly, never wrap */
	errno = 0;
	ok(!str_readyplus(&s, SIZE_MAX) && errno == EOVERFLOW, "readyplus SIZE_MAX on empty: EOVERFLOW");
	ok(s.s == NULL && s.len == 0 && s.cap == 0, "failed readyplus leaves the string alone");
	ok(str_catb(&s, "abc", 3), "catb 3 bytes");
	cap = s.cap;
	errno = 0;
	ok(!str_readyplus(&s, SIZE_MAX - 3) && errno == EOVERFLOW, "len + n + 1 overflows: EOVERFLOW");
	errno = 0;
	ok(!str_readyplus(&s, SIZE_MAX - 2) && errno == EOVERFLOW, "len + n overflows: EOVERFLOW");
	errno = 0;
	ok(!str_readyplus(&s, SIZE_MAX - 4) && errno == ENOMEM, "len + n + 1 == SIZE_MAX: ENOMEM, no wrap");
	errno = 0;
	ok(!str_readyplus(&s, SIZE_MAX / 2) && errno == ENOMEM, "SIZE_MAX/2 more: ENOMEM");
	ok(same(&s, "abc", 3) && s.cap == cap, "string unchanged after failed growth");
	errno = 0;
	ok(!str_catb(&s, "x", SIZE_MAX) && errno == EOVERFLOW, "catb SIZE_MAX bytes: EOVERFLOW");
	ok(same(&s, "abc", 3), "string unchanged after failed catb");
	errno = 0;
	ok(!str_copyb(&s, "x", SIZE_MAX - 1) && same(&s, "abc", 3), "failed copyb keeps the old contents");

	/* embedded NULs are bytes like any other */
	ok(str_copyb(&s, "a\0b\0", 4) && same(&s, "a\0b\0", 4), "copyb keeps NULs");
	ok(str_catc(&s, 0) && s.len == 5 && s.s[4] == 0, "catc NUL counted");
	ok(str_nul(&s) && s.len == 5, "str_nul does not count its NUL");
	ok(str_copys(&t, "xy") && str_cat(&t, &s) && same(&t, "xya\0b\0\0", 7), "str_cat copies NULs");
	ok(str_copyb(&t, "", 0) && t.len == 0 && str_nul(&t) && t.s[0] == 0, "empty copy, then a C string");

	/* many small appends grow geometrically and stay correct */
	s.len = 0;
	for (i = 0; i < 100000; i++)
		if (!str_catc(&s, (char)('a' + i % 26)))
			break;
	ok(i == 100000 && s.len == 100000 && s.s[99999] == (char)('a' + 99999 % 26), "100000 appends");
	ok(s.cap > s.len, "always room for the NUL");

	/* fmt_ulong and str_catulong */
	ok(fmt_ulong(buf, 0) == 1 && buf[0] == '0', "fmt 0");
	ok(fmt_ulong(buf, ULONG_MAX) == strlen("18446744073709551615") &&
	    memcmp(buf, "18446744073709551615", 20) == 0, "fmt ULONG_MAX");
	s.len = 0;
	ok(str_catulong(&s, 4294967296UL) && same(&s, "4294967296", 10), "catulong 2^32");

	/* scan_ulong: the whole input, digits only */
	ok(scan_ulong("0", 1, &u) && u == 0, "scan 0");
	ok(scan_ulong("18446744073709551615", 20, &u) && u == ULONG_MAX, "scan ULONG_MAX");
	u = 7;
	errno = 0;
	ok(!scan_ulong("18446744073709551616", 20, &u) && errno == ERANGE && u == 7, "scan ULONG_MAX+1: ERANGE, out untouched");
	ok(!scan_ulong("99999999999999999999999", 23, &u), "scan 23 nines");
	errno = 0;
	ok(!scan_ulong("", 0, &u) && errno == EINVAL, "scan empty: EINVAL");
	ok(!scan_ulong("12a", 3, &u), "scan trailing junk");
	ok(!scan_ulong(" 12", 3, &u), "scan leading blank");
	ok(!scan_ulong("-1", 2, &u), "scan minus");
	ok(!scan_ulong("+1", 2, &u), "scan plus");
	ok(!scan_ulong("1\0" "2", 3, &u), "scan embedded NUL");
	ok(scan_ulong("12abc", 2, &u) && u == 12, "scan only the n bytes given");
	ok(scan_ulong("007", 3, &u) && u == 7, "scan leading zeros");

	/* byte helpers */
	ok(str_chrb("a\0b", 3, 'b') == 2, "chrb past a NUL");
	ok(str_chrb("abc", 3, 'z') == 3, "chrb absent gives n");
	ok(str_chrb(NULL, 0, 'z') == 0, "chrb on nothing");
	ok(str_rchrb("a/b/c", 5, '/') == 3, "rchrb last");
	ok(str_rchrb("abc", 3, '/') == 3, "rchrb absent gives n");
	ok(str_rchrb("/", 1, '/') == 0, "rchrb at 0");
	ok(str_caseeqb("HeLLo\0X", "hello\0x", 7), "caseeqb through NUL");
	ok(!str_caseeqb("\xc0", "\xe0", 1), "caseeqb is ASCII only");
	ok(str_casestart("Mail From:<a>", "MAIL FROM:"), "casestart");
	ok(!str_casestart("MAI", "MAIL"), "casestart shorter string");
	ok(str_start("abc", "ab") && !str_start("ab", "abc") && str_start("x", ""), "start");
	ok(str_equal("a", "a") && !str_equal("a", "ab"), "equal");
	memcpy(buf, "AbZ\xc0@[", 6);
	str_lowerb(buf, 6);
	ok(memcmp(buf, "abz\xc0@[", 6) == 0, "lowerb touches A-Z only");
	ok(str_asciib("a\0\x7f~", 4) && str_asciib(NULL, 0), "asciib: NUL and DEL are ASCII, nothing is");
	ok(!str_asciib("j\xc3\xb6rg", 5) && !str_asciib("abc\x80", 4) && !str_asciib("\xff", 1),
	    "asciib: any byte above 127 is not, the last one too");
	ok(str_asciib("ab\x80", 2), "asciib looks at n bytes only");

	str_free(&s);
	str_free(&t);
	ok(s.s == NULL && s.len == 0 && s.cap == 0, "free resets");
	str_free(&s);
	ok(1, "double free of a freed str is harmless");
	return tap_done();
}
