/* lib-base64 - strict base64 decoding and encoding, with hostile input */
#include <errno.h>
#include <string.h>

#include "base64.h"
#include "tap.h"

static int
dec(const char *in, const char *want, size_t wantlen)
{
	struct str out = STR_ZERO;
	int r = base64_decode(in, strlen(in), &out);
	int good = r == 1 && out.len == wantlen && (wantlen == 0 || memcmp(out.s, want, wantlen) == 0);

	str_free(&out);
	return good;
}

static int
bad(const char *in, size_t n)
{
	struct str out = STR_ZERO;
	int r;

	errno = 0;
	r = base64_decode(in, n, &out);
	r = r == 0 && errno == EINVAL && out.len == 0;
	str_free(&out);
	return r;
}

static int
enc(const char *in, size_t n, const char *want)
{
	struct str out = STR_ZERO;
	int r = base64_encode(in, n, &out);
	int good = r == 1 && out.len == strlen(want) && memcmp(out.s, want, out.len) == 0;

	str_free(&out);
	return good;
}

int
main(void)
{
	struct str a = STR_ZERO, b = STR_ZERO;
	char all[256];
	int i;

	/* RFC 4648 section 10 vectors */
	ok(dec("", "", 0), "empty decodes to empty");
	ok(dec("Zg==", "f", 1), "f");
	ok(dec("Zm8=", "fo", 2), "fo");
	ok(dec("Zm9v", "foo", 3), "foo");
	ok(dec("Zm9vYg==", "foob", 4), "foob");
	ok(dec("Zm9vYmE=", "fooba", 5), "fooba");
	ok(dec("Zm9vYmFy", "foobar", 6), "foobar");
	ok(enc("", 0, ""), "encode empty");
	ok(enc("f", 1, "Zg=="), "encode f");
	ok(enc("fo", 2, "Zm8="), "encode fo");
	ok(enc("foobar", 6, "Zm9vYmFy"), "encode foobar");
	/* SASL PLAIN with NULs */
	ok(dec("AHVzZXIAcGFzcw==", "\0user\0pass", 10), "PLAIN response with NULs");
	ok(enc("\0user\0pass", 10, "AHVzZXIAcGFzcw=="), "encode with NULs");

	ok(bad("Zg=", 3), "length not a multiple of 4");
	ok(bad("Zg", 2), "missing padding");
	ok(bad("Z===", 4), "three pad characters");
	ok(bad("====", 4), "only padding");
	ok(bad("Zg==Zg==", 8), "padding in the middle");
	ok(bad("Z=g=", 4), "pad before a letter");
	ok(bad("Zh==", 4), "non-zero unused bits (1 byte)");
	ok(bad("Zm9=", 4), "non-zero unused bits (2 bytes)");
	ok(bad("Zm9v\r\n", 6), "CRLF is not skipped");
	ok(bad("Zm 9", 4), "space");
	ok(bad("Zm-_", 4), "URL-safe alphabet refused");
	ok(bad("Zm\0v", 4), "NUL byte");
	ok(bad("Zm\xc3\xa9", 4), "8-bit bytes");
	ok(bad("AB=C", 4), "pad in third place only");

	/* round trip of every byte value at every length up to 256 */
	for (i = 0; i < 256; i++)
		all[i] = (char)i;
	for (i = 0; i <= 256; i++) {
		if (!base64_encode(all, (size_t)i, &a) || !base64_decode(a.s, a.len, &b) ||
		    b.len != (size_t)i || (i && memcmp(b.s, all, (size_t)i) != 0))
			break;
	}
	ok(i == 257, "round trip of 0..256 bytes of every value");

	/* out is replaced, not appended to */
	str_copys(&b, "junk");
	ok(base64_decode("Zm9v", 4, &b) && b.len == 3 && memcmp(b.s, "foo", 3) == 0, "decode replaces old contents");
	str_copys(&a, "junk");
	ok(base64_encode("foo", 3, &a) && a.len == 4 && memcmp(a.s, "Zm9v", 4) == 0, "encode replaces old contents");

	/* absurd length: fails cleanly instead of overflowing */
	errno = 0;
	ok(!base64_encode("", (size_t)-1, &a) && errno == EOVERFLOW, "SIZE_MAX encode overflows cleanly");
	str_free(&a);
	str_free(&b);
	return tap_done();
}
