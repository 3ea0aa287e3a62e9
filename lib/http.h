/* http.h - strict parsing of HTTP/1.1 requests (RFC 9110, RFC 9112)
 *
 * For qmail-webadmin, which reads one request head into a fixed array
 * and hands it here; everything in it is untrusted.  The parser is
 * strict: a request line "METHOD SP /target SP HTTP/1.x CRLF", header
 * lines "name: value CRLF" with a token name, no bare CR or LF, no
 * continuation lines, no control bytes (a value may hold bytes 0x80-0xff,
 * RFC 9110's obs-text; the target may not), one Content-Length at most, no
 * Transfer-Encoding, a Host header for HTTP/1.1, then an empty line.
 * Anything else is malformed (the caller answers 400 and closes).
 * Nothing here allocates; struct http_req points into the caller's
 * bytes.
 */
#ifndef HTTP_H
#define HTTP_H

#include <stddef.h>

#define HTTP_LINEMAX 2048	/* request line, CRLF included */
#define HTTP_HEADMAX 8192	/* request line and every header */
#define HTTP_FIELDSMAX 64	/* header lines */
#define HTTP_BODYMAX 16384	/* a form is small */

enum { HTTP_GET = 1, HTTP_HEAD, HTTP_POST };

struct http_req {
	int method;		/* HTTP_GET, HTTP_HEAD, HTTP_POST, 0 other token */
	int minor;		/* HTTP/1.minor: 0 or 1 */
	const char *path;	/* from '/' up to '?' or the end of the target */
	size_t pathlen;
	const char *query;	/* after '?', NULL when none */
	size_t querylen;
	const char *host, *cookie, *ctype;	/* field values, NULL when absent */
	size_t hostlen, cookielen, ctypelen;
	int has_length;		/* a Content-Length was given */
	unsigned long length;
	int close;		/* Connection: close, or HTTP/1.0 */
};

/* http_head_end - the offset just past the CRLF CRLF ending the head in
 * p[0..n), or 0 when it is not all there yet */
size_t http_head_end(const char *p, size_t n);

/* http_parse - parse the head p[0..n) (the whole of it, CRLF CRLF last)
 * into r: 1 well formed, 0 malformed */
int http_parse(const char *p, size_t n, struct http_req *r);

/* http_param - the value of name in a query string or an
 * application/x-www-form-urlencoded body p[0..n) ("a=1&b=2"), percent-
 * and '+'-decoded into out (at most size-1 bytes, NUL-terminated):
 * 1 found, 0 absent, -1 malformed (bad escape, a NUL or control byte,
 * too long for out).  The first occurrence counts. */
int http_param(const char *p, size_t n, const char *name, char *out,
    size_t size);

/* http_cookie - the value of cookie name in a Cookie field value:
 * 1 found (*v, *vn point into p), 0 absent */
int http_cookie(const char *p, size_t n, const char *name, const char **v,
    size_t *vn);

#endif
