/* trim.c - the hash methods of Debian's static libcrypt.a that the musl
 * build leaves out, for the musl build only
 *
 * libcrypt's crypt() reaches every method it knows through one table, so
 * a static program carries all of them (about 150 KiB).  Defining the
 * entry points of the methods no mail system meets keeps their code out
 * of the link: traditional and extended DES, bigcrypt, GOST yescrypt,
 * scrypt, SHA-1 crypt, MD5 crypt, SunMD5 and NT hashes.  A password
 * hashed with one of them fails as an unknown method would.  Kept:
 * yescrypt (Debian's default), SHA-512 and SHA-256 crypt (the defaults
 * before it, and what qmail-admin writes) and bcrypt.
 *
 * Compiled with -DSHA512_ONLY, it also leaves out yescrypt, bcrypt and
 * SHA-256 crypt, for qmail-admin: that program only ever makes SHA-512
 * hashes (vpasswd_hash) and checks none, and this keeps it under 128 KiB.
 * Those three fail there with ENOSYS rather than EINVAL, so that it can
 * tell a hash the build's qmail-auth checks from one no program of the
 * build can (vpasswd_usable).
 */
#include <errno.h>
#include <stddef.h>
#include <stdint.h>

/* the two shapes libcrypt's table expects; e the errno they fail with */
#define LEFT_OUT_E(m, e) \
	void _crypt_crypt_##m##_rn(const char *, size_t, const char *, size_t, \
	    uint8_t *, size_t, void *, size_t); \
	void _crypt_gensalt_##m##_rn(unsigned long, const uint8_t *, size_t, \
	    uint8_t *, size_t); \
	void \
	_crypt_crypt_##m##_rn(const char *phrase, size_t pn, const char *setting, \
	    size_t sn, uint8_t *out, size_t on, void *scratch, size_t scn) \
	{ \
		(void)phrase, (void)pn, (void)setting, (void)sn; \
		(void)out, (void)on, (void)scratch, (void)scn; \
		errno = (e); \
	} \
	void \
	_crypt_gensalt_##m##_rn(unsigned long count, const uint8_t *rbytes, \
	    size_t rn, uint8_t *out, size_t on) \
	{ \
		(void)count, (void)rbytes, (void)rn, (void)out, (void)on; \
		errno = (e); \
	}
#define LEFT_OUT(m) LEFT_OUT_E(m, EINVAL)

LEFT_OUT(descrypt)
LEFT_OUT(bigcrypt)
LEFT_OUT(bsdicrypt)
LEFT_OUT(gost_yescrypt)
LEFT_OUT(scrypt)
LEFT_OUT(sha1crypt)
LEFT_OUT(md5crypt)
LEFT_OUT(sunmd5)
LEFT_OUT(nt)

#ifdef SHA512_ONLY
LEFT_OUT_E(yescrypt, ENOSYS)
LEFT_OUT_E(bcrypt, ENOSYS)
LEFT_OUT_E(bcrypt_a, ENOSYS)
LEFT_OUT_E(bcrypt_x, ENOSYS)
LEFT_OUT_E(bcrypt_y, ENOSYS)
LEFT_OUT_E(sha256crypt, ENOSYS)
#endif
