/* lib-crypt - crypt(3) as every lanmail program links it ($(CRYPT):
 * libxcrypt; in the musl build Debian's static libcrypt.a and the shim
 * in musl/shim.c).  Without arguments: TAP checks of published test
 * vectors.  With "print": the hashes tests/lib-crypt.t compares between
 * the cc and the musl build, one per line.  With "verify PASSWORD HASH":
 * exit 0 when crypt(3) of PASSWORD with HASH gives HASH.  With "usable
 * HASH ...": vpasswd_usable of each, one per line. */
#include <unistd.h>	/* crypt(3), as POSIX (XSI) declares it */
#include <stdio.h>
#include <string.h>

#include "tap.h"
#include "vpasswd.h"

static const char *const vec[][3] = {
	/* SHA-512 crypt, from its specification */
	{ "Hello world!", "$6$saltstring",
	  "$6$saltstring$svn8UoSVapNtMuq1ukKS4tPQd8iKwSMHWjl/O817G3uBnIFNjnQJuesI68u4OTLiBFdcbYEdFCoEOfaS35inz1" },
	{ "Hello world!", "$6$rounds=10000$saltstringsaltstring",
	  "$6$rounds=10000$saltstringsaltst$OW1/O6BYHV6BcXZu8QVeXbDWra3Oeqh0sbHbbMCVNSnCM/UrjmM0Dp8vOuZeHBy/YTBmSK6H9qs/y3RnOaw5v." },
	/* bcrypt, from OpenBSD's test vectors */
	{ "U*U", "$2a$05$CCCCCCCCCCCCCCCCCCCCC.",
	  "$2a$05$CCCCCCCCCCCCCCCCCCCCC.E5YPO9kmyuRGyh0XouQYb4YMJKvyOeW" },
	{ "", "$2a$05$CCCCCCCCCCCCCCCCCCCCC.",
	  "$2a$05$CCCCCCCCCCCCCCCCCCCCC.7uG0VCzI2bS7j6ymqJi9CdcdxiRTWNy" },
};

int
main(int argc, char **argv)
{
	static const char *const mine[][2] = {
		{ "secret", "$6$saltsalt$" },
		{ "secret", "$2b$10$abcdefghijklmnopqrstuu" },
		{ "secret", "$5$saltsalt$" },
		{ "p\xc3\xa4ss w\xc3\xb6rd", "$6$rounds=5000$XyZ$" },
		{ "secret", "$y$j9T$F5Jx5fExrKuPp53xLKQ..1$" },	/* yescrypt, Debian's default */
	};
	const char *h;
	size_t i;

	if (argc > 3 && strcmp(argv[1], "verify") == 0) {
		h = crypt(argv[2], argv[3]);
		return h && strcmp(h, argv[3]) == 0 ? 0 : 1;
	}
	if (argc > 1 && strcmp(argv[1], "usable") == 0) {
		for (i = 2; i < (size_t)argc; i++)
			printf("%d\n", vpasswd_usable(argv[i]));
		return 0;
	}
	if (argc > 1 && strcmp(argv[1], "print") == 0) {
		for (i = 0; i < sizeof mine / sizeof mine[0]; i++) {
			h = crypt(mine[i][0], mine[i][1]);
			printf("%s\n", h ? h : "(null)");
		}
		return 0;
	}
	for (i = 0; i < sizeof vec / sizeof vec[0]; i++) {
		h = crypt(vec[i][0], vec[i][1]);
		ok(h && strcmp(h, vec[i][2]) == 0, "crypt(\"%s\", \"%s\")", vec[i][0], vec[i][1]);
	}
	h = crypt("secret", "$6$saltsalt$");
	ok(h && strncmp(h, "$6$saltsalt$", 12) == 0 && strlen(h) == 12 + 86, "SHA-512 hash shape");
	h = crypt("secret", "$2b$10$abcdefghijklmnopqrstuu");
	ok(h && strncmp(h, "$2b$10$", 7) == 0 && strlen(h) == 60, "bcrypt hash shape");
	h = crypt("secret", "$1$");
	ok(h == NULL || h[0] == '*' || strncmp(h, "$1$", 3) == 0, "an old method gives a hash or a failure token, never a crash");
	h = crypt("secret", "$9$junk");
	ok(h == NULL || h[0] == '*', "an unknown method fails");
	return tap_done();
}
