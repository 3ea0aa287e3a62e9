/* qmail-dkimkey.c - make a DKIM key pair for a domain
 *
 *	qmail-dkimkey [-e] [-b bits] domain [selector]
 *
 * Writes control/dkim/DOMAIN/SELECTOR.key (a PEM private key: RSA of
 * 2048 bits, or Ed25519 with -e), never over an existing one, and prints
 * the DNS TXT record to publish at SELECTOR._domainkey.DOMAIN.  The key
 * is mode 0640; run as root, its group is the qmaild user's, so that
 * qmail-dkim run by qmail-smtpd can read it.  The selector defaults to
 * "s" and the year and month, e.g. s202611.  Run by the administrator
 * (or by qmail-admin dkim add).  Links OpenSSL's libcrypto.
 */
#include <errno.h>
#include <fcntl.h>
#include <pwd.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>

#include "auto.h"
#include "base64.h"
#include "buf.h"
#include "die.h"
#include "dkim.h"
#include "str.h"

static void
usage(void)
{
	die(EXIT_PERM, "usage: qmail-dkimkey [-e] [-b bits] domain [selector]");
}

static int
selector_ok(const char *s)
{
	size_t i, n = strlen(s);

	if (n == 0 || n > 63 || s[0] == '.' || s[0] == '-')
		return 0;
	for (i = 0; i < n; i++)
		if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= '0' && s[i] <= '9') ||
		    s[i] == '-' || s[i] == '_'))
			return 0;
	return 1;
}

static void
mkdir_ok(const char *d)
{
	if (mkdir(d, 0755) == -1) {
		if (errno != EEXIST)
			die_sys(EXIT_TEMP, "unable to create ", d);
		return;
	}
	/* whatever the umask: qmail-dkim must be able to reach the keys */
	if (chmod(d, 0755) == -1)
		die_sys(EXIT_TEMP, "unable to set the mode of ", d);
}

int
main(int argc, char **argv)
{
	struct str dom = STR_ZERO, fn = STR_ZERO, pub = STR_ZERO, txt = STR_ZERO;
	char selbuf[16];
	const char *sel;
	unsigned long bits = 2048;
	unsigned char *der = NULL, raw[32];
	size_t rawlen = sizeof raw, i, step;
	int ed = 0, opt, fd, derlen;
	EVP_PKEY *k = NULL;
	EVP_PKEY_CTX *ctx;
	BIO *bio;
	BUF_MEM *mem;
	struct passwd *pw;
	struct tm *tm;
	time_t now;

	die_init(argv[0]);
	while ((opt = getopt(argc, argv, "eb:")) != -1)
		switch (opt) {
		case 'e':
			ed = 1;
			break;
		case 'b':
			if (!scan_ulong(optarg, strlen(optarg), &bits) || bits < 1024 || bits > 8192)
				die(EXIT_PERM, "key size must be 1024 to 8192 bits");
			break;
		default:
			usage();
		}
	argc -= optind;
	argv += optind;
	if (argc < 1 || argc > 2)
		usage();
	if (!str_copys(&dom, argv[0]))
		die_nomem();
	str_lowerb(dom.s, dom.len);
	if (!dkim_domain_ok(dom.s, dom.len) || !str_nul(&dom))
		die(EXIT_PERM, "not a domain name: ", argv[0]);
	if (argc == 2) {
		sel = argv[1];
	} else {
		now = time(NULL);
		if ((tm = gmtime(&now)) == NULL ||
		    strftime(selbuf, sizeof selbuf, "s%Y%m", tm) == 0)
			die(EXIT_TEMP, "unable to tell the date");
		sel = selbuf;
	}
	if (!selector_ok(sel))
		die(EXIT_PERM, "a selector is 1 to 63 lower-case letters, digits, - or _: ", sel);
	if (chdir(auto_home) == -1)
		die_sys(EXIT_TEMP, "unable to chdir to ", auto_home);

	/* the key */
	if ((ctx = EVP_PKEY_CTX_new_id(ed ? EVP_PKEY_ED25519 : EVP_PKEY_RSA, NULL)) == NULL ||
	    EVP_PKEY_keygen_init(ctx) != 1 ||
	    (!ed && EVP_PKEY_CTX_set_rsa_keygen_bits(ctx, (int)bits) != 1) ||
	    EVP_PKEY_keygen(ctx, &k) != 1)
		die(EXIT_TEMP, "unable to make a key");
	EVP_PKEY_CTX_free(ctx);
	/* the public half as DKIM wants it: the raw key for Ed25519
	 * (RFC 8463), SubjectPublicKeyInfo DER for RSA */
	if (ed) {
		if (EVP_PKEY_get_raw_public_key(k, raw, &rawlen) != 1 ||
		    !base64_encode((const char *)raw, rawlen, &pub))
			die(EXIT_TEMP, "unable to export the public key");
	} else {
		if ((derlen = i2d_PUBKEY(k, &der)) <= 0 ||
		    !base64_encode((const char *)der, (size_t)derlen, &pub))
			die(EXIT_TEMP, "unable to export the public key");
		OPENSSL_free(der);
	}
	if ((bio = BIO_new(BIO_s_mem())) == NULL ||
	    PEM_write_bio_PrivateKey(bio, k, NULL, NULL, 0, NULL, NULL) != 1)
		die(EXIT_TEMP, "unable to write the private key");
	BIO_get_mem_ptr(bio, &mem);

	/* the file: never over an existing key */
	mkdir_ok("control/dkim");
	if (!str_copys(&fn, "control/dkim/") || !str_cat(&fn, &dom) || !str_nul(&fn))
		die_nomem();
	mkdir_ok(fn.s);
	if (!str_catc(&fn, '/') || !str_cats(&fn, sel) || !str_cats(&fn, ".key") || !str_nul(&fn))
		die_nomem();
	if ((fd = open(fn.s, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600)) == -1) {
		if (errno == EEXIST)
			die(EXIT_PERM, fn.s, " exists already");
		die_sys(EXIT_TEMP, "unable to create ", fn.s);
	}
	if (!fd_writeall(fd, mem->data, mem->length, 0) || fsync(fd) == -1)
		goto fail;
	if (geteuid() == 0 && (pw = getpwnam(auto_users[AUTO_QMAILD])) != NULL &&
	    fchown(fd, (uid_t)-1, pw->pw_gid) == -1)
		goto fail;
	if (fchmod(fd, 0640) == -1 || close(fd) == -1)
		goto fail;
	BIO_free(bio);
	EVP_PKEY_free(k);

	/* the record, in strings of at most 255 characters */
	if (!str_cats(&txt, sel) || !str_cats(&txt, "._domainkey.") || !str_cat(&txt, &dom) ||
	    !str_cats(&txt, ". IN TXT ( \"v=DKIM1; k=") ||
	    !str_cats(&txt, ed ? "ed25519" : "rsa") || !str_cats(&txt, "; p=\""))
		die_nomem();
	for (i = 0; i < pub.len; i += step) {
		step = pub.len - i < 250 ? pub.len - i : 250;
		if (!str_cats(&txt, "\n\t\"") || !str_catb(&txt, pub.s + i, step) || !str_catc(&txt, '"'))
			die_nomem();
	}
	if (!str_cats(&txt, " )\n"))
		die_nomem();
	if (!fd_writeall(1, txt.s, txt.len, 0))
		die_sys(EXIT_TEMP, "unable to write the record");
	return 0;
fail:
	opt = errno;
	(void)unlink(fn.s);	/* a key half written is no key */
	errno = opt;
	die_sys(EXIT_TEMP, "unable to write ", fn.s);
}
