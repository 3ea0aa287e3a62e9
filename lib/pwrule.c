/* pwrule.c - password rules; see pwrule.h */
#include <string.h>

#include "pwrule.h"
#include "str.h"

/* the most common choices, in lower case; compared without case */
static const char *const common[] = {
	"123456", "1234567", "12345678", "123456789", "1234567890",
	"12345", "1234", "111111", "000000", "123123", "654321", "666666",
	"121212", "112233", "password", "password1", "password123",
	"passw0rd", "p@ssw0rd", "qwerty", "qwerty123", "qwertyuiop",
	"azerty", "abc123", "abcdef", "abcd1234", "letmein", "welcome",
	"welcome1", "monkey", "dragon", "iloveyou", "sunshine", "princess",
	"football", "baseball", "master", "shadow", "superman", "trustno1",
	"secret", "changeme", "default", "admin", "admin123", "administrator",
	"root", "toor", "login", "guest", "test", "test123", "mail",
	"postmaster", "webmaster", "user", "1q2w3e4r", "1qaz2wsx", "zaq12wsx",
	"asdfgh", "asdfghjkl", "zxcvbnm", "hello", "hello123", "starwars",
	"whatever", "freedom", "computer", "internet", "summer", "winter",
	"spring", "autumn", "michael", "jennifer", "charlie", "qazwsx",
	"access", "mustang", "killer", "pass", "pass123", "passwort",
	"motdepasse", "contrasena", "senha", "geheim", NULL
};

static int
same(const char *a, size_t an, const char *b, size_t bn)
{
	return an == bn && an > 0 && str_caseeqb(a, b, an);
}

const char *
pwrule_check(const char *pw, size_t n, const char *login, unsigned long min)
{
	size_t ln = strlen(login), at = str_chrb(login, ln, '@'), i;

	if (n == 0 || n < min)
		return "too short (control/minpasswordlength)";
	if (memchr(pw, 0, n) != NULL)
		return "it holds a NUL byte";
	if (same(pw, n, login, ln))
		return "it is the login itself";
	if (at < ln && (same(pw, n, login, at) ||
	    same(pw, n, login + at + 1, ln - at - 1)))
		return "it is part of the address";
	for (i = 0; common[i] != NULL; i++)
		if (same(pw, n, common[i], strlen(common[i])))
			return "it is one of the most common passwords";
	return NULL;
}
