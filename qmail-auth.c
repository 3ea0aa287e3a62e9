/* qmail-auth.c - checkpassword for lanmail's virtual mailboxes
 *
 * Started by qmail-popup, by qmail-smtpd for SMTP AUTH, or by any
 * program that speaks the checkpassword interface, as
 *	qmail-auth program [arg ...]
 * with "login\0password\0timestamp\0" on descriptor 3.  That data comes
 * from the network and is untrusted.  The login is user@domain, or a
 * bare user in control/defaultdomain.  On success it sets USER, HOME,
 * MAILDIR and SHELL, becomes the vmail user when started as root,
 * changes to the mailbox directory and runs program.  Exit 1 bad login,
 * 2 misuse, 111 temporary trouble.
 *
 * Failed logins are counted per client address ($TCPREMOTEIP) in
 * users/authfail/, across connections: an address with too many must
 * wait before it may try again (see qmail-auth(8), "Failed logins").
 */
#include <errno.h>
#include <pwd.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "authfail.h"
#include "auto.h"
#include "buf.h"
#include "control.h"
#include "die.h"
#include "env.h"
#include "priv.h"
#include "str.h"
#include "vpasswd.h"

#define EXIT_BADLOGIN 1
#define EXIT_MISUSE 2
/* login, password and timestamp with their NULs: generous but bounded */
#define INPUT_MAX 1024
/* a login or an address as logged: at most this many bytes */
#define SAFEMAX 100

/* Failed logins per client address, never per login: a count per login
 * would let anybody lock a user out of their own mail.  qmaild (SMTP
 * AUTH) and vmail (POP3) share the files through their group, so they
 * are made group-writable in a directory of that group. */
#define ADDRFREE 10	/* failures from one address free of any wait */
static const struct authfail failures = {
	.file = "users/authfail/counts", .lock = "users/authfail/lock",
	.mode = 0660, .lockwait = 5, .waitfirst = 60, .waitmax = 900,
	.keep = 86400, .lines = 1000, .filemax = 512UL * 1024
};

/* wipe - forget a secret; volatile so the stores are not optimised away */
static void
wipe(char *p, size_t n)
{
	volatile char *v = p;

	while (n-- > 0)
		*v++ = 0;
}

/* read_fd3 - the whole of descriptor 3, at most max bytes, into x,
 * which has room for one byte more: the end of input must be seen, so
 * that exactly max bytes are accepted and max + 1 are not */
static size_t
read_fd3(char *x, size_t max)
{
	size_t n = 0;
	long r;

	for (;;) {
		if (n > max)
			die(EXIT_MISUSE, "input on descriptor 3 is too long");
		r = fd_read(3, x + n, max + 1 - n, 60);
		if (r == -1) {
			if (errno == EBADF)
				die(EXIT_MISUSE, "descriptor 3 is not open");
			die_sys(EXIT_TEMP, "unable to read descriptor 3");
		}
		if (r == 0)
			break;
		n += (size_t)r;
	}
	(void)close(3);	/* read-only, fully read */
	return n;
}

/* tame - at most SAFEMAX bytes of s[0..n) into safe (room for one
 * more), NUL-ended, blanks, control and 8-bit bytes written as '?' */
static void
tame(char *safe, const char *s, size_t n)
{
	size_t i;

	if (n > SAFEMAX)
		n = SAFEMAX;
	for (i = 0; i < n; i++)
		safe[i] = s[i] > ' ' && s[i] <= '~' ? s[i] : '?';
	safe[n] = 0;
}

/* logfail - one line on stderr per failed or refused login, with the
 * client address */
static void
logfail(const char *what, const char *login, size_t n)
{
	char safe[SAFEMAX + 1];
	const char *ip = env_get("TCPREMOTEIP");

	tame(safe, login, n);
	warn(what, safe, " from ", ip && *ip ? ip : "unknown");
}

/* count_key - the client's key in the failure counts, "a:ADDRESS", into
 * key (room for SAFEMAX + 3): 0 when nothing is counted, without an
 * address (run by hand) or with $AUTHLIMITOFF (a trusted client) */
static int
count_key(char *key)
{
	const char *ip = env_get("TCPREMOTEIP");

	if (ip == NULL || *ip == 0 || env_get("AUTHLIMITOFF") != NULL)
		return 0;
	key[0] = 'a';
	key[1] = ':';
	tame(key + 2, ip, strlen(ip));
	return 1;
}

/* count - op on the client's failure count: authfail_update's answer.
 * Counts that cannot be kept are logged and let be: to refuse every
 * login because of a permission slip in users/authfail/ would lock
 * every user out. */
static int
count(const char *key, enum authfail_op op)
{
	struct authfail_key k = { key, ADDRFREE, 0 };
	struct authfail_result r;
	int ret;

	ret = authfail_update(&failures, &k, 1, op, (unsigned long)time(NULL), &r);
	if (ret == -1)
		warn_sys(r.failed, r.fn);
	return ret;
}

/* trouble - temporary trouble after the attempt was counted: its count
 * taken back first, so that trouble is never held against the client */
static void __attribute__((noreturn))
trouble(int counted, const char *key, const char *what, const char *fn)
{
	int err = errno;

	if (counted)
		(void)count(key, AUTHFAIL_UNDO);	/* trouble is logged there */
	errno = err;
	die_sys(EXIT_TEMP, what, fn);
}

/* become_vmail - drop root for the owner of domains/ (not in a
 * single-user install, and not when started without root: then the
 * caller already runs as the account it chose) */
static void
become_vmail(void)
{
	const char *name = auto_users[AUTO_VMAIL];
	struct passwd *pw;
	gid_t gid;

	if (auto_single || geteuid() != 0)
		return;
	errno = 0;
	if ((pw = getpwnam(name)) == NULL)
		die_sys(EXIT_TEMP, "unable to find user ", name);
	gid = pw->pw_gid;
	if (pw->pw_uid == 0)
		die(EXIT_TEMP, "unable to drop root: ", name, " is root");
	if (!priv_drop(pw->pw_uid, gid))
		die_sys(EXIT_TEMP, "unable to switch to user ", name);
}

int
main(int argc, char **argv)
{
	char in[INPUT_MAX + 1];	/* one more, to see the end */
	char key[SAFEMAX + 3];
	struct str user = STR_ZERO, domain = STR_ZERO, fn = STR_ZERO;
	struct str hash = STR_ZERO, home = STR_ZERO, md = STR_ZERO;
	struct str login = STR_ZERO;
	const char *pass;
	unsigned long quota;
	size_t n, l1, l2, at;
	int found, good, counted, unknown;

	die_init(argv[0]);
	if (argc < 2)
		die(EXIT_MISUSE, "usage: qmail-auth program [arg ...]");
	n = read_fd3(in, INPUT_MAX);

	/* login\0password\0[timestamp\0] */
	l1 = str_chrb(in, n, 0);
	if (l1 == n)
		die(EXIT_MISUSE, "malformed input on descriptor 3");
	l2 = str_chrb(in + l1 + 1, n - l1 - 1, 0);
	if (l1 + 1 + l2 == n)
		die(EXIT_MISUSE, "malformed input on descriptor 3");
	pass = in + l1 + 1;

	if (chdir(auto_home) == -1)
		die_sys(EXIT_TEMP, "unable to switch to ", auto_home);

	str_lowerb(in, l1);
	if (!str_copyb(&login, in, l1))
		die_nomem();
	at = str_rchrb(in, l1, '@');
	if (!str_copyb(&user, in, at))
		die_nomem();
	if (at < l1) {
		if (!str_copyb(&domain, in + at + 1, l1 - at - 1))
			die_nomem();
	} else {
		switch (control_readline("control/defaultdomain", &domain)) {
		case -1:
			die_sys(EXIT_TEMP, "unable to read control/defaultdomain");
		case 0:
			domain.len = 0;	/* no default: no bare logins */
		}
		str_lowerb(domain.s, domain.len);
	}

	if (!str_copys(&fn, "domains/") || !str_cat(&fn, &domain) ||
	    !str_cats(&fn, "/vpasswd.cdb") || !str_nul(&fn))
		die_nomem();

	/* The attempt counts as a failure before anything is checked, so
	 * that guesses made in parallel are all counted; an address over
	 * its allowance is refused before any hash is computed, with the
	 * answer of a wrong password.  A refused attempt counts nothing. */
	counted = 0;
	if (count_key(key))
		switch (count(key, AUTHFAIL_TRY)) {
		case 0:
			wipe(in, sizeof in);
			logfail("login refused after too many failures: ",
			    login.s, login.len);
			_exit(EXIT_BADLOGIN);
		case 1:
			counted = 1;
		}

	found = 0;
	if (vpasswd_user_ok(user.s, user.len) &&
	    vpasswd_domain_ok(domain.s, domain.len)) {
		found = vpasswd_lookup(fn.s, user.s, user.len, &hash, &quota);
		if (found == -1)
			trouble(counted, key, "unable to read ", fn.s);
	}
	/* unknown users cost one crypt too, and get the same answer */
	good = vpasswd_verify(pass, found ? hash.s : NULL, &unknown);
	wipe(in, sizeof in);
	if (good == -1)
		trouble(counted, key, "unable to check the password", "");
	if (!good) {
		/* a hash imported from elsewhere that this build cannot check
		 * (see vpasswd(5)): no password would do, and the log says why */
		logfail(unknown ? "unsupported password hash method for " :
		    "login failed for ", login.s, login.len);
		_exit(EXIT_BADLOGIN);
	}
	/* a right password takes its own attempt back, and only that: the
	 * address's other failures stay (one real account must not let a
	 * guesser wipe his count) */
	if (counted)
		(void)count(key, AUTHFAIL_OK);	/* trouble is logged there */

	if (!str_copys(&home, auto_home) || !str_cats(&home, "/domains/") ||
	    !str_cat(&home, &domain) || !str_catc(&home, '/') ||
	    !str_cat(&home, &user) || !str_nul(&home) ||
	    !str_copyb(&md, home.s, home.len) || !str_cats(&md, "/Maildir/") ||
	    !str_nul(&md))
		die_nomem();
	if (!str_catc(&user, '@') || !str_cat(&user, &domain) ||
	    !str_nul(&user))
		die_nomem();
	if (!env_set("USER", user.s) || !env_set("HOME", home.s) ||
	    !env_set("MAILDIR", md.s) || !env_set("SHELL", "/bin/false"))
		die_nomem();
	become_vmail();
	if (chdir(home.s) == -1)
		die_sys(EXIT_TEMP, "unable to switch to ", home.s);
	execvp(argv[1], argv + 1);
	die_sys(EXIT_TEMP, "unable to run ", argv[1]);
}
