/* str.h - length-counted growable byte strings
 *
 * A struct str holds len bytes at s, in a buffer of cap bytes; the bytes
 * may contain NULs.  Every size computation is checked for overflow; a
 * function that fails returns 0 with errno set and leaves the string as
 * it was.  STR_ZERO initialises; str_free gives the memory back.
 */
#ifndef STR_H
#define STR_H

#include <stddef.h>

struct str {
	char *s;
	size_t len;
	size_t cap;
};

#define STR_ZERO { 0, 0, 0 }

int str_readyplus(struct str *, size_t);
int str_catb(struct str *, const char *, size_t);
int str_cats(struct str *, const char *);
int str_catc(struct str *, char);
int str_cat(struct str *, const struct str *);
int str_copyb(struct str *, const char *, size_t);
int str_copys(struct str *, const char *);
int str_catulong(struct str *, unsigned long);
/* str_nul - make s a C string: a NUL after the last byte, not counted */
int str_nul(struct str *);
void str_free(struct str *);

/* byte helpers that need no struct */
int str_equal(const char *, const char *);
int str_start(const char *, const char *);
int str_caseeqb(const char *, const char *, size_t);
int str_casestart(const char *, const char *);
/* str_chr - index of the first c in s[0..n), n when absent */
size_t str_chrb(const char *, size_t, char);
size_t str_rchrb(const char *, size_t, char);
void str_lowerb(char *, size_t);
/* str_lowerc - c with A-Z made a-z; str_isalpha, str_isdigit - c is an
 * ASCII letter, an ASCII digit (no locale) */
char str_lowerc(char);
int str_isalpha(char);
int str_isdigit(char);
/* str_asciib - 1 when no byte of s[0..n) is beyond US-ASCII */
int str_asciib(const char *, size_t);

/* fmt_ulong - decimal digits of u into buf (at least FMT_ULONG bytes), no NUL */
#define FMT_ULONG 21
size_t fmt_ulong(char *, unsigned long);
/* scan_ulong - the whole of s[0..n) as decimal; 0 on junk or overflow */
int scan_ulong(const char *, size_t, unsigned long *);

#endif
