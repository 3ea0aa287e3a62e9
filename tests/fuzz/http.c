/* fuzz target: lib/http.c on a request head, its query and cookies */
#include <stddef.h>
#include <stdint.h>

#include "http.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *p = (const char *)data, *v;
	struct http_req r;
	char out[256];
	size_t end, vn;

	end = http_head_end(p, size);
	if (end > 0 && http_parse(p, end, &r)) {
		if (r.query != NULL)
			(void)http_param(r.query, r.querylen, "a", out, sizeof out);
		if (r.cookie != NULL)
			(void)http_cookie(r.cookie, r.cookielen, "s", &v, &vn);
	}
	(void)http_param(p, size, "csrf", out, sizeof out);
	(void)http_param(p, size, "x", out, 2);
	return 0;
}
