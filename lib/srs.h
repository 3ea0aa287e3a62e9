/* srs.h - the Sender Rewriting Scheme's address forms (SRS0 and SRS1),
 * without the cryptography
 *
 *	SRS0=HHH=TT=orig-domain=orig-local@srs-domain
 *	SRS1=HHH=first-srs-domain==HHH=TT=orig-domain=orig-local@srs-domain
 *
 * HHH is a keyed hash (the caller computes it: qmail-srs uses
 * HMAC-SHA256 from libcrypto, base64 with '_' for '/' and '.' for '+',
 * first SRS_HASHLEN characters) of
 * the lower-cased bytes srs_hashdata gives: the local part without
 * "HHH=", '=' after SRS0 or SRS1 ("SRS0=TT=orig-domain=orig-local",
 * "SRS1=first-srs-domain==HHH=TT=..."), so that no two addresses share
 * the hashed bytes; TT is the day number modulo 1024 in two base32
 * characters.  Reversed addresses come from anyone:
 * srs_parse checks every field.  After "SRS0" or "SRS1" the separator
 * may be '=', '+' or '-'; '=' is written.
 */
#ifndef SRS_H
#define SRS_H

#include <stddef.h>

#include "str.h"

#define SRS_HASHLEN 6

struct srs_parts {
	int type;			/* 0: SRS0, 1: SRS1 */
	const char *hash;		/* SRS_HASHLEN bytes */
	const char *tt;			/* SRS0: 2 bytes */
	const char *domain;		/* SRS0: the original domain; SRS1: the first SRS host */
	size_t domainlen;
	const char *local;		/* SRS0: the original local part; SRS1: the SRS0 rest
					 * after "SRS0", separator included */
	size_t locallen;
};

/* srs_timestamp - TT for the day number day */
void srs_timestamp(unsigned long day, char tt[2]);
/* srs_age - days from tt to today (modulo 1024); 0 when tt is not base32 */
int srs_age(const char *tt, unsigned long today, unsigned long *age);

/* srs_parse - the local part p[0..n) of an SRS address; 1 ok, 0 not
 * one (not SRS0/SRS1, a field missing or empty, a bad character) */
int srs_parse(const char *p, size_t n, struct srs_parts *out);

/* srs_hashdata - the bytes hashed for parts (lower-cased) into out:
 * "srs0=TT=domain=local" or "srs1=domain=local" */
int srs_hashdata(const struct srs_parts *parts, struct str *out);

/* srs_format - the local part for parts (with hash) appended to out */
int srs_format(const struct srs_parts *parts, struct str *out);

/* srs_hasheq - two hashes equal, case ignored (local parts may have
 * been lower-cased on the way) */
int srs_hasheq(const char *a, const char *b);

#endif
