/* lib-http - the strict HTTP/1.1 request parser, form fields, cookies */
#include <string.h>

#include "http.h"
#include "tap.h"

static int
parse(const char *s, struct http_req *r)
{
	size_t n = strlen(s);

	return http_head_end(s, n) == n && http_parse(s, n, r);
}

int
main(void)
{
	struct http_req r;
	char out[64], big[HTTP_HEADMAX + 100];
	const char *v;
	size_t vn, i, n;
	static const char *const bad[] = {
		"GET / HTTP/1.1\r\n\r\n",			/* no Host */
		"GET  / HTTP/1.1\r\nHost: x\r\n\r\n",
		"GET / HTTP/1.1 \r\nHost: x\r\n\r\n",
		"GET x HTTP/1.1\r\nHost: x\r\n\r\n",
		"GET / HTTP/2.0\r\nHost: x\r\n\r\n",
		"GET / http/1.1\r\nHost: x\r\n\r\n",
		" GET / HTTP/1.1\r\nHost: x\r\n\r\n",
		"GET / HTTP/1.1\r\nHost : x\r\n\r\n",
		"GET / HTTP/1.1\r\n Host: x\r\n\r\n",
		"GET / HTTP/1.1\r\nHost: x\r\n\tfold\r\n\r\n",
		"GET / HTTP/1.1\r\nHost: x\r\nHost: y\r\n\r\n",
		"GET / HTTP/1.1\r\nHost: x\r\nNo-colon\r\n\r\n",
		"GET / HTTP/1.1\r\nHost: x\rY: z\r\n\r\n",
		"GET / HTTP/1.1\r\nHost: x\nY: z\r\n\r\n",
		"GET / HTTP/1.1\r\nHost: x\r\nX: a\x01" "b\r\n\r\n",
		"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n",
		"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\nContent-Length: 1\r\n\r\n",
		"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: -1\r\n\r\n",
		"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 99999999999999999999\r\n\r\n",
		"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 1 2\r\n\r\n",
		"GET /\x7f HTTP/1.1\r\nHost: x\r\n\r\n",
		"GET /\xc3\xa9 HTTP/1.1\r\nHost: x\r\n\r\n",
		"GET / HTTP/1.1\r\nHost: x\r\nX\xc3\xa9: a\r\n\r\n",	/* 8-bit name */
		"GET / HTTP/1.1\r\nHost: x\r\nX: a\x7f" "b\r\n\r\n",
		NULL
	};

	ok(parse("GET /domain?d=a.example&x=1 HTTP/1.1\r\nHost: h\r\n"
	    "Cookie: a=1; lm_s=abc\r\nConnection: close\r\n\r\n", &r), "a GET parses");
	ok(r.method == HTTP_GET && r.minor == 1 && r.close, "method, version, close");
	ok(r.pathlen == 7 && memcmp(r.path, "/domain", 7) == 0, "path");
	ok(r.querylen == 15 && memcmp(r.query, "d=a.example&x=1", 15) == 0, "query");
	ok(r.hostlen == 1 && r.host[0] == 'h', "host");
	ok(http_cookie(r.cookie, r.cookielen, "lm_s", &v, &vn) == 1 && vn == 3 &&
	    memcmp(v, "abc", 3) == 0, "cookie value");
	ok(http_cookie(r.cookie, r.cookielen, "lm", &v, &vn) == 0, "cookie name prefix does not match");
	ok(parse("POST /login HTTP/1.1\r\nHOST:  h \r\ncontent-length: 12\r\n\r\n", &r) &&
	    r.method == HTTP_POST && r.has_length && r.length == 12 && r.hostlen == 1,
	    "POST with a Content-Length; names without case, values trimmed");
	ok(parse("GET / HTTP/1.0\r\n\r\n", &r) && r.minor == 0 && r.close,
	    "HTTP/1.0 without Host, closes");
	ok(parse("DELETE / HTTP/1.1\r\nHost: h\r\n\r\n", &r) && r.method == 0,
	    "another method parses as 0 (the caller answers 405)");
	ok(parse("GET / HTTP/1.1\r\nHost: h\r\nCookie: other=caf\xc3\xa9; lm_s=abc\r\n"
	    "User-Agent: \xff\x80\r\n\r\n", &r) &&
	    http_cookie(r.cookie, r.cookielen, "lm_s", &v, &vn) == 1 && vn == 3,
	    "8-bit bytes in field values (obs-text) are accepted");
	for (i = 0; bad[i] != NULL; i++)
		ok(!parse(bad[i], &r), "malformed %zu refused", i);
	ok(http_head_end("GET / HTTP/1.1\r\nHost: x\r\n", 25) == 0, "no end yet");
	ok(!http_parse("GET / HTTP/1.1\r\nHost: x\r\n\r\nextra", 31, &r),
	    "bytes after the head are not part of it");
	/* a long request line, and too many fields */
	memcpy(big, "GET /", 5);
	memset(big + 5, 'a', HTTP_LINEMAX);
	memcpy(big + 5 + HTTP_LINEMAX, " HTTP/1.1\r\nHost: x\r\n\r\n", 23);
	ok(!parse(big, &r), "an over-long request line");
	n = 0;
	memcpy(big, "GET / HTTP/1.1\r\nHost: x\r\n", 25);
	n = 25;
	for (i = 0; i < HTTP_FIELDSMAX; i++, n += 6)
		memcpy(big + n, "X: y\r\n", 6);
	memcpy(big + n, "\r\n", 3);
	ok(!parse(big, &r), "too many header lines");

	ok(http_param("a=1&user=b%40c+d&x=", 19, "user", out, sizeof out) == 1 &&
	    strcmp(out, "b@c d") == 0, "form field decoded");
	ok(http_param("a=1&x=", 6, "x", out, sizeof out) == 1 && out[0] == 0, "empty field");
	ok(http_param("a=1", 3, "b", out, sizeof out) == 0, "absent field");
	ok(http_param("aa=1", 4, "a", out, sizeof out) == 0, "name prefix does not match");
	ok(http_param("a=%4", 4, "a", out, sizeof out) == -1, "cut escape");
	ok(http_param("a=%zz", 5, "a", out, sizeof out) == -1, "bad escape");
	ok(http_param("a=%00", 5, "a", out, sizeof out) == -1, "NUL refused");
	ok(http_param("a=%0a", 5, "a", out, sizeof out) == -1, "newline refused");
	ok(http_param("a=12345", 7, "a", out, 4) == -1, "too long for the buffer");
	ok(http_param("a=1&a=2", 7, "a", out, sizeof out) == 1 && out[0] == '1', "first one counts");
	return tap_done();
}
