/* base64.h - RFC 4648 base64, as SMTP AUTH (RFC 4954) and POP3 AUTH
 * (RFC 5034) carry SASL data
 *
 * The input of base64_decode comes from the network and is untrusted.
 * Decoding is strict: only the 64 letters of the standard alphabet,
 * a length that is a multiple of 4, '=' padding only at the end, and
 * the unused bits of the last group zero.  No white space is skipped.
 * Empty input decodes to an empty string.
 *
 * Both functions replace the contents of out (they do not append) and
 * return 1, or 0 with errno: EINVAL for invalid base64, ENOMEM or
 * EOVERFLOW when out cannot grow.  On failure out->len is 0.
 */
#ifndef BASE64_H
#define BASE64_H

#include <stddef.h>

#include "str.h"

int base64_decode(const char *in, size_t n, struct str *out);
int base64_encode(const char *in, size_t n, struct str *out);

#endif
