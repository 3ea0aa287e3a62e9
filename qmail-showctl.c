/* qmail-showctl - print every control setting and warn about contradictions
 *
 * Run by the administrator, as root or as any user who can read control/.
 * Changes to the install root, prints how the programs were built (install
 * root, users, queue split), then every control file any program reads:
 * its value, whether that is the documented default, and one line on what
 * it does.  Then it lists files in control/ that no program reads, and the
 * problems it found: unreadable files, numbers that are not numbers, a
 * domain both in locals and virtualdomains, a domain delivered here that
 * control/rcpthosts does not accept.  The files are the administrator's,
 * but they are printed with control characters escaped all the same.
 */
#include <dirent.h>
#include <errno.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "auto.h"
#include "buf.h"
#include "control.h"
#include "die.h"
#include "lcdb.h"
#include "str.h"

enum kind {
	K_LINE,		/* first line is the value */
	K_NUM,		/* first line is a decimal number */
	K_LIST,		/* every line is a value */
	K_FILE		/* a table, a key or a directory: present or not, not shown */
};

struct setting {
	const char *name;
	enum kind kind;
	const char *def;	/* the default, as text; "=NAME" means control/NAME's value */
	const char *what;	/* one line on what it does, and who reads it */
};

/* Every control file a lanmail program or run script reads; qmail-control(5)
 * describes the same list at more length.  Keep the two in step. */
static const struct setting settings[] = {
	/* names */
	{ "me", K_LINE, "localhost", "this host's name: greetings, Received lines, bounces; the default of most names below (qmail-remote refuses to deliver without it)" },
	{ "defaultdomain", K_LINE, "=me", "qmail-smtpd, qmail-auth: domain of a login given without one; qmail-inject: added to a host without a dot" },
	{ "defaulthost", K_LINE, "=me", "qmail-inject: host of a bare user name, of an added From and of the sender" },
	{ "plusdomain", K_LINE, "=me", "qmail-inject: replaces a + at the end of a host" },
	{ "idhost", K_LINE, "=me", "qmail-inject: host in an added Message-ID" },
	{ "locals", K_LIST, "=me", "qmail-send, qmail-smtpd, qmail-remote: domains delivered on this host" },
	{ "virtualdomains", K_LIST, "none", "qmail-send, qmail-smtpd: domain:prefix lines; user@domain is delivered to local prefix-user" },
	/* qmail-smtpd */
	{ "rcpthosts", K_LIST, "the domains of locals and virtualdomains", "qmail-smtpd: domains it takes mail for from anyone (.domain: its subdomains)" },
	{ "morercpthosts.cdb", K_FILE, "absent", "qmail-smtpd: more rcpthosts entries, as cdb keys" },
	{ "smtpgreeting", K_LINE, "=me", "qmail-smtpd: text of the 220 greeting" },
	{ "databytes", K_NUM, "52428800", "qmail-smtpd: largest message accepted, in bytes; 0 means no limit" },
	{ "timeoutsmtpd", K_NUM, "1200", "qmail-smtpd: seconds for a whole command line, or for each read or write" },
	{ "timeoutsession", K_NUM, "3600", "qmail-smtpd: seconds a connection may last; 0 means no limit" },
	{ "smtpdmaxrcpt", K_NUM, "1000", "qmail-smtpd: recipients in one message; 0 means no limit" },
	{ "smtpdmaxconnrcpt", K_NUM, "10000", "qmail-smtpd: recipients in one connection; 0 means no limit" },
	{ "smtpdmaxmsgs", K_NUM, "1000", "qmail-smtpd: messages in one connection; 0 means no limit" },
	{ "smtpdmaxbad", K_NUM, "20", "qmail-smtpd: failed commands before the connection is closed; 0 means no limit" },
	{ "smtpdmaxauthfail", K_NUM, "3", "qmail-smtpd: failed AUTH attempts before the connection is closed; 0 means no limit" },
	{ "smtpdmaxjunk", K_NUM, "100", "qmail-smtpd: commands that deliver nothing (NOOP, RSET, ...) between messages; 0 means no limit" },
	{ "smtpdlinemax", K_NUM, "1000", "qmail-smtpd: longest line in a message, CRLF included; 0 means no limit" },
	{ "smtpdcmdmax", K_NUM, "512", "qmail-smtpd: longest command line, CRLF included (64 to 12288)" },
	{ "smtpgreetdelay", K_NUM, "0", "qmail-smtpd: seconds before the greeting; a client that talks first is dropped" },
	{ "mfdnscheck", K_NUM, "0", "qmail-smtpd: 1 makes the MAIL FROM domain need an MX, A or AAAA record" },
	{ "badmailfrom", K_LIST, "none", "qmail-smtpd: envelope senders refused (addresses, @domain)" },
	{ "spfbehavior", K_LINE, "off", "qmail-smtpd: SPF at MAIL FROM for clients that neither relay nor authenticate: off, record or reject" },
	{ "smtpdauthfrom", K_LIST, "none", "qmail-smtpd: login:sender lines, senders a login may use beyond its own address" },
	/* qmail-send */
	{ "concurrencylocal", K_NUM, "10", "qmail-send: local deliveries at once" },
	{ "concurrencyremote", K_NUM, "20", "qmail-send: remote deliveries at once" },
	{ "queuelifetime", K_NUM, "604800", "qmail-send: seconds a message may stay in the queue (7 days)" },
	{ "retrylocal", K_NUM, "20", "qmail-send: the unit, in seconds, of the retry schedule of local deliveries" },
	{ "retryremote", K_NUM, "400", "qmail-send: the unit, in seconds, of the retry schedule of remote deliveries" },
	{ "bouncefrom", K_LINE, "MAILER-DAEMON", "qmail-send: sender name of bounces" },
	{ "bouncehost", K_LINE, "=me", "qmail-send: sender host of bounces" },
	{ "doublebounceto", K_LINE, "postmaster", "qmail-send: who gets bounces that cannot be delivered (an empty file: nobody)" },
	{ "doublebouncehost", K_LINE, "=me", "qmail-send: host of doublebounceto" },
	/* qmail-local */
	{ "timeoutcommand", K_NUM, "1000", "qmail-local: seconds a |program may run before it is killed and the delivery deferred (0: no limit)" },
	/* qmail-remote */
	{ "helohost", K_LINE, "=me", "qmail-remote: name given in EHLO/HELO" },
	{ "smtproutes", K_LIST, "none: MX records", "qmail-remote: domain:relay[:port] routes; :relay is a smarthost" },
	{ "smtpauth", K_FILE, "none", "qmail-remote: relay:login:password for smarthosts that require AUTH (secret: not shown)" },
	{ "timeoutconnect", K_NUM, "60", "qmail-remote: seconds to wait for a connection" },
	{ "timeoutremote", K_NUM, "1200", "qmail-remote: seconds to wait for each reply, and for each write" },
	{ "timeoutremotetotal", K_NUM, "7200", "qmail-rspawn: seconds a remote delivery may run in all (0 no limit)" },
	{ "nameservers", K_LIST, "those in /etc/resolv.conf, else 127.0.0.1", "qmail-remote, qmail-smtpd: DNS servers, host or host:port" },
	{ "outgoingip", K_LINE, "chosen by the system", "qmail-remote: source address of outgoing connections" },
	{ "tlsroutes", K_LIST, "none: TLS when offered", "qmail-remote: domain:none|may|encrypt|verify TLS policies; :policy is the default" },
	{ "tlsca", K_FILE, "absent: the system's CAs", "qmail-remote: CA certificates (PEM) trusted for servers' certificates" },
	/* POP3, passwords, TLS */
	{ "timeoutpop3", K_NUM, "600", "qmail-popup, qmail-pop3d: seconds to wait for the client" },
	{ "plaintextauthnets", K_LIST, "127.0.0.0/8 and ::1", "qmail-smtpd, qmail-popup: networks that may send passwords before TLS (address[/bits])" },
	{ "minpasswordlength", K_NUM, "1", "qmail-admin: shortest password accepted" },
	{ "dkim", K_FILE, "absent: nothing is signed", "qmail-dkim: DOMAIN/SELECTOR.key private keys that sign mail sent through submission and smtps" },
	{ "dkimverify", K_NUM, "0", "smtpd service: 1 passes incoming mail through qmail-dkimverify" },
	{ "srsdomain", K_LINE, "none: no SRS", "qmail-srs: the domain of rewritten senders; set, the send service rewrites forwarded mail" },
	{ "srssecret", K_FILE, "none", "qmail-srs: keys of the SRS hashes, the first signs (secret: not shown)" },
	{ "srsmaxage", K_NUM, "21", "qmail-srs: days an SRS address stays valid" },
	{ "webadmins", K_FILE, "absent: only domains' postmasters sign in", "qmail-webadmin: administrators, name:hash lines (mode 600; qmail-admin admin add)" },
	{ "webadmintimeout", K_NUM, "1800", "qmail-webadmin: seconds a session lasts unused" },
	{ "timeoutwebadmin", K_NUM, "30", "qmail-webadmin: seconds for a whole request to arrive" },
	{ "servercert.pem", K_FILE, "absent: no TLS", "qmail-tls: the server certificate (PEM), then any intermediates" },
	{ "serverkey.pem", K_FILE, "absent: the key follows the certificate", "qmail-tls: the certificate's private key, mode 600" },
	/* the services (run scripts) */
	{ "defaultdelivery", K_LIST, "./Maildir/", "send service: delivery for users without a .qmail file" },
	{ "listenip", K_LINE, "127.0.0.1", "listening services: IPv4 or IPv6 address they listen on (0: all)" },
	{ "smtpport", K_NUM, "25", "smtpd service: port of SMTP from other servers" },
	{ "submissionport", K_NUM, "587", "submission service: port of mail submission (AUTH, STARTTLS)" },
	{ "smtpsport", K_NUM, "465", "smtps service: port of mail submission over TLS" },
	{ "pop3port", K_NUM, "110", "pop3 service: port of POP3 (STLS)" },
	{ "pop3sport", K_NUM, "995", "pop3s service: port of POP3 over TLS" },
	{ "concurrencyincoming", K_NUM, "40", "smtpd service: SMTP connections at once" },
	{ "concurrencysubmission", K_NUM, "20", "submission service: connections at once" },
	{ "concurrencysmtps", K_NUM, "20", "smtps service: connections at once" },
	{ "concurrencypop3", K_NUM, "40", "pop3 service: connections at once" },
	{ "concurrencypop3s", K_NUM, "40", "pop3s service: connections at once" },
	{ "relaynets", K_LIST, "none: only 127.0.0.1 and ::1 relay", "smtpd, submission, smtps services: client networks that may relay (IPv6 ones checked by qmail-smtpd)" },
	{ "rbls", K_LIST, "none: no blocklist", "smtpd service: DNS blocklists rblsmtpd checks clients against" },
	{ "reversedns", K_NUM, "0", "listening services: 1 looks up client names (TCPREMOTEHOST)" },
	{ "tcp.smtpd", K_LIST, "none", "smtpd service: tcprules lines placed before the generated ones" },
	{ "tcp.submission", K_LIST, "none", "submission service: tcprules lines placed before the generated ones" },
	{ "tcp.smtps", K_LIST, "none", "smtps service: tcprules lines placed before the generated ones" },
	{ "tcp.pop3", K_LIST, "none", "pop3 service: tcprules lines placed before the generated ones" },
	{ "tcp.pop3s", K_LIST, "none", "pop3s service: tcprules lines placed before the generated ones" },
	{ "webadminip", K_LINE, "=listenip", "webadmin service: IPv4 or IPv6 address it listens on" },
	{ "webadminport", K_NUM, "8443", "webadmin service: port of administration over HTTPS" },
	{ "concurrencywebadmin", K_NUM, "10", "webadmin service: connections at once" },
	{ "tcp.webadmin", K_LIST, "none", "webadmin service: tcprules lines placed before the generated ones" },
	{ "logsize", K_NUM, "1000000", "service loggers: bytes in a log file before it is rotated" },
	{ "logcount", K_NUM, "10", "service loggers: rotated log files kept" },
};
#define NSETTINGS (sizeof settings / sizeof settings[0])

/* What the one default above cannot say: for some files, an existing file
 * with no line left is not the default but an empty setting (qmail's
 * rule, which qmail-admin relies on: an rcpthosts of comments accepts
 * nothing); and a default that differs between programs. */
static const struct special {
	const char *name;
	const char *empty;	/* what an existing file with no line means, or 0 */
	const char *defnote;	/* said after the default, or 0 */
} specials[] = {
	{ "defaultdomain", 0, "for qmail-smtpd and qmail-inject; none for qmail-auth (a login without a domain fails)" },
	{ "locals", "no local domains: qmail-send and qmail-smtpd deliver no domain here by local part", 0 },
	{ "rcpthosts", "accept mail for no domain (but those of morercpthosts.cdb) from clients that may not relay", 0 },
	{ "nameservers", "queries go to 127.0.0.1 only; /etc/resolv.conf is not read", 0 },
	{ "plaintextauthnets", "no network: passwords only after TLS, even from loopback", 0 },
	{ "doublebounceto", "double bounces are discarded", 0 },
};

static char outx[BUF_SIZE];
static struct buf out;
static struct str warnings = STR_ZERO;	/* one NUL-ended warning after another */

static void
put(const char *s)
{
	if (!buf_puts(&out, s))
		die_sys(EXIT_TEMP, "unable to write output");
}

/* putsafe - n bytes with control characters and non-ASCII escaped as \ooo */
static void
putsafe(const char *s, size_t n)
{
	char esc[5];
	size_t i;

	for (i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c >= 32 && c < 127 && c != '\\') {
			if (!buf_put(&out, s + i, 1))
				die_sys(EXIT_TEMP, "unable to write output");
			continue;
		}
		esc[0] = '\\';
		esc[1] = (char)('0' + (c >> 6));
		esc[2] = (char)('0' + ((c >> 3) & 7));
		esc[3] = (char)('0' + (c & 7));
		esc[4] = 0;
		put(esc);
	}
}

/* warning - remember a problem for the end; the pieces are C strings */
static void
warning(const char *a, const char *b, const char *c)
{
	if (!str_cats(&warnings, a) || !str_cats(&warnings, b) ||
	    !str_cats(&warnings, c) || !str_catc(&warnings, 0))
		die_nomem();
}

static const struct setting *
find(const char *name)
{
	size_t i;

	for (i = 0; i < NSETTINGS; i++)
		if (str_equal(settings[i].name, name))
			return &settings[i];
	return 0;
}

/* fn_of - "control/NAME" in fn */
static void
fn_of(struct str *fn, const char *name)
{
	if (!str_copys(fn, "control/") || !str_cats(fn, name) || !str_nul(fn))
		die_nomem();
}

/* exists - 1 when control/NAME exists (as anything) */
static int
exists(const char *name)
{
	struct str fn = STR_ZERO;
	struct stat st;
	int r;

	fn_of(&fn, name);
	r = stat(fn.s, &st) == 0;
	str_free(&fn);
	return r;
}

/* value_of - the first line of control/NAME, following "=NAME" defaults,
 * or the default itself; empty when there is none */
static void
value_of(const char *name, struct str *v, int depth)
{
	const struct setting *s = find(name);
	struct str fn = STR_ZERO;

	v->len = 0;
	fn_of(&fn, name);
	if (control_readline(fn.s, v) != 1) {
		v->len = 0;
		if (s && s->def[0] == '=' && depth < 4)
			value_of(s->def + 1, v, depth + 1);
		else if (s && !str_copys(v, s->def))
			die_nomem();
	}
	str_free(&fn);
}

static const struct special *
special_of(const char *name)
{
	size_t i;

	for (i = 0; i < sizeof specials / sizeof specials[0]; i++)
		if (str_equal(specials[i].name, name))
			return &specials[i];
	return 0;
}

/* show_default - the default of s, resolved when it names another file */
static void
show_default(const struct setting *s)
{
	const struct special *sp = special_of(s->name);
	struct str v = STR_ZERO;

	if (s->def[0] == '=') {
		value_of(s->def + 1, &v, 0);
		putsafe(v.s, v.len);
		put(" (from ");
		put(s->def + 1);
		put(")");
	} else
		put(s->def);
	if (sp && sp->defnote) {
		put(" ");
		put(sp->defnote);
	}
	str_free(&v);
}

/* show_nothing - a file with no setting line: missing or empty, the
 * default; or, for the files of specials[] that say so, an empty setting */
static void
show_nothing(const struct setting *s)
{
	const struct special *sp = special_of(s->name);

	if (!exists(s->name)) {
		put(" [default]: ");
		show_default(s);
	} else if (sp && sp->empty) {
		put(" [set, empty]: ");
		put(sp->empty);
	} else {
		put(" [default, the file is empty]: ");
		show_default(s);
	}
	put("\n");
}

static void
show_list(const struct str *list)
{
	size_t i = 0, e;

	while (i < list->len) {
		e = i + str_chrb(list->s + i, list->len - i, 0);
		put("    ");
		putsafe(list->s + i, e - i);
		put("\n");
		i = e + 1;
	}
}

/* show - one setting: "NAME [status]: value", the value lines, what it does */
static void
show(const struct setting *s)
{
	struct str fn = STR_ZERO, v = STR_ZERO;
	unsigned long n;
	struct stat st;
	int r;

	fn_of(&fn, s->name);
	put(s->name);
	switch (s->kind) {
	case K_NUM:
		r = control_readulong(fn.s, &n);
		break;
	case K_LINE:
		r = control_readline(fn.s, &v);
		break;
	case K_LIST:
		r = control_readlist(fn.s, &v);
		if (r == 1 && v.len == 0)
			r = 0;
		break;
	default:
		r = stat(fn.s, &st) == 0 ? 1 : errno == ENOENT ? 0 : -1;
		if (r == 1 && access(fn.s, R_OK) != 0)
			r = -1;
		break;
	}
	if (r == -1) {
		int err = errno;

		if (s->kind == K_NUM && err == EINVAL) {
			put(" [NOT A NUMBER]: the programs refuse to run\n");
			warning("control/", s->name, ": not a number");
		} else {
			put(" [UNREADABLE]: ");
			put(strerror(err));
			put("\n");
			warning("control/", s->name, ": unreadable");
		}
	} else if (r == 0) {
		show_nothing(s);
	} else if (s->kind == K_NUM) {
		char num[FMT_ULONG + 1];

		num[fmt_ulong(num, n)] = 0;
		put(" [set]: ");
		put(num);
		put("\n");
	} else if (s->kind == K_LINE) {
		put(" [set]: ");
		putsafe(v.s, v.len);
		put("\n");
	} else if (s->kind == K_LIST) {
		put(" [set]:\n");
		show_list(&v);
	} else if (S_ISDIR(st.st_mode)) {
		put(" [set]: present, a directory\n");
	} else {
		char num[FMT_ULONG + 1];

		num[fmt_ulong(num, (unsigned long)st.st_size)] = 0;
		put(" [set]: present, ");
		put(num);
		put(" bytes\n");
	}
	put("  - ");
	put(s->what);
	put("\n");
	str_free(&fn);
	str_free(&v);
}

/* list_has - 1 when the NUL-separated list holds d (case-insensitively) */
static int
list_has(const struct str *list, const char *d, size_t dl)
{
	size_t i = 0, e;

	while (i < list->len) {
		e = i + str_chrb(list->s + i, list->len - i, 0);
		if (e - i == dl && str_caseeqb(list->s + i, d, dl))
			return 1;
		i = e + 1;
	}
	return 0;
}

/* accepted - 1 when qmail-smtpd accepts mail for domain d: an exact line
 * of rcpthosts, a ".suffix" line matching it, or either in the cdb */
static int
accepted(const struct str *rcpthosts, struct lcdb *mrh, int have_mrh, const char *d, size_t dl)
{
	struct str val = STR_ZERO, low = STR_ZERO;
	size_t i;
	int r = 0;

	if (list_has(rcpthosts, d, dl))
		return 1;
	for (i = 0; i < dl && !r; i++)
		if (d[i] == '.' && list_has(rcpthosts, d + i, dl - i))
			r = 1;
	if (!r && have_mrh) {
		if (!str_copyb(&low, d, dl))
			die_nomem();
		str_lowerb(low.s, low.len);
		if (lcdb_get(mrh, low.s, low.len, &val) == 1)
			r = 1;
		for (i = 0; i < low.len && !r; i++)
			if (low.s[i] == '.' && lcdb_get(mrh, low.s + i, low.len - i, &val) == 1)
				r = 1;
	}
	str_free(&val);
	str_free(&low);
	return r;
}

/* check_domains - locals against virtualdomains, both against rcpthosts */
static void
check_domains(void)
{
	struct str locals = STR_ZERO, vd = STR_ZERO, rh = STR_ZERO, d = STR_ZERO;
	struct lcdb mrh;
	int have_mrh, have_rh = 1;
	size_t i, e, c;

	if (control_readlist("control/locals", &locals) == 0) {
		value_of("me", &d, 0);
		if (!str_catc(&d, 0) || !str_copyb(&locals, d.s, d.len))
			die_nomem();
	}
	if (control_readlist("control/virtualdomains", &vd) == -1)
		vd.len = 0;
	/* a missing rcpthosts means the domains of locals and virtualdomains */
	switch (control_readlist("control/rcpthosts", &rh)) {
	case 0:
		have_rh = 0;
		break;
	case -1:
		rh.len = 0;
	}
	have_mrh = lcdb_open(&mrh, "control/morercpthosts.cdb") == 1;

	for (i = 0; i < locals.len; i = e + 1) {
		const char *l = locals.s + i;

		e = i + str_chrb(locals.s + i, locals.len - i, 0);
		if (str_equal(l, "localhost"))
			continue;	/* local only; nobody sends it over SMTP */
		if (have_rh && !accepted(&rh, &mrh, have_mrh, l, e - i))
			warning("control/locals has ", l, " but control/rcpthosts does not: mail from other servers for it is refused");
	}
	for (i = 0; i < vd.len; i = e + 1) {
		const char *v = vd.s + i;

		e = i + str_chrb(vd.s + i, vd.len - i, 0);
		c = str_chrb(v, e - i, ':');
		if (c == e - i) {
			warning("control/virtualdomains: no colon in line ", v, "");
			continue;
		}
		if (c == 0 || v[0] == '.')
			continue;	/* catch-all and wildcard entries name no one domain */
		if (!str_copyb(&d, v, c) || !str_nul(&d))
			die_nomem();
		if (list_has(&locals, d.s, d.len))
			warning("control/locals and control/virtualdomains both have ", d.s, ": locals wins, the virtual domain is ignored");
		if (have_rh && !accepted(&rh, &mrh, have_mrh, d.s, d.len))
			warning("control/virtualdomains has ", d.s, " but control/rcpthosts does not: mail from other servers for it is refused");
	}
	if (have_mrh)
		lcdb_close(&mrh);
	str_free(&locals);
	str_free(&vd);
	str_free(&rh);
	str_free(&d);
}

/* ipv4 - 1 when the n bytes at p are a dotted IPv4 address */
static int
ipv4(const char *p, size_t n)
{
	unsigned long octet = 0;
	size_t i, dots = 0, digits = 0;

	for (i = 0; i < n; i++) {
		if (p[i] == '.') {
			if (digits == 0)
				return 0;
			dots++;
			digits = 0;
			octet = 0;
		} else if (p[i] >= '0' && p[i] <= '9') {
			octet = octet * 10 + (unsigned long)(p[i] - '0');
			if (++digits > 3 || octet > 255)
				return 0;
		} else
			return 0;
	}
	return dots == 3 && digits > 0;
}

/* ipv6 - hex groups and colons, as the run scripts accept; tcpserver
 * has the last word */
static int
ipv6(const char *p, size_t n)
{
	size_t i, colons = 0;

	for (i = 0; i < n; i++) {
		if (p[i] == ':')
			colons++;
		else if (!(p[i] >= '0' && p[i] <= '9') && !(p[i] >= 'a' && p[i] <= 'f') &&
		    !(p[i] >= 'A' && p[i] <= 'F') && p[i] != '.')
			return 0;
	}
	return colons >= 2 && colons <= 7;
}

/* check_services - values the run scripts would refuse */
static void
check_services(void)
{
	static const char *const ports[] = {
		"smtpport", "submissionport", "smtpsport", "pop3port", "pop3sport", "webadminport"
	};
	static const char *const ips[] = { "listenip", "webadminip" };
	struct str ip = STR_ZERO, fn = STR_ZERO;
	unsigned long n;
	size_t i;

	for (i = 0; i < sizeof ports / sizeof ports[0]; i++) {
		fn_of(&fn, ports[i]);
		if (control_readulong(fn.s, &n) == 1 && (n == 0 || n > 65535))
			warning("control/", ports[i], ": not a port number (1-65535)");
	}
	for (i = 0; i < sizeof ips / sizeof ips[0]; i++) {
		fn_of(&fn, ips[i]);
		if (control_readline(fn.s, &ip) == 1 && !ipv4(ip.s, ip.len) &&
		    !ipv6(ip.s, ip.len) && !(ip.len == 1 && ip.s[0] == '0'))
			warning("control/", ips[i], ": not an IPv4 or IPv6 address: the listeners will not start");
	}
	/* qmail-smtpd refuses every connection over any other value */
	fn_of(&fn, "spfbehavior");
	if (control_readline(fn.s, &ip) == 1 && !(ip.len == 3 && str_caseeqb(ip.s, "off", 3)) &&
	    !(ip.len == 6 && (str_caseeqb(ip.s, "record", 6) || str_caseeqb(ip.s, "reject", 6))))
		warning("control/spfbehavior: not off, record or reject: qmail-smtpd answers every"
		    " connection with 421", "", "");
	str_free(&fn);
	str_free(&ip);
}

/* check_modes - in a multi-user install, files the unprivileged programs
 * need but cannot read: qmail-smtpd runs as qmaild, qmail-remote as
 * qmailr, and neither is the owner of control/ or users/ */
static void
check_modes(void)
{
	static const char *const tables[] = { "users/assign.cdb", "users/recipients.cdb" };
	struct str fn = STR_ZERO;
	struct stat st;
	size_t i;

	if (auto_single)
		return;
	for (i = 0; i < NSETTINGS; i++) {
		/* secrets, each readable by its own reader only: the TLS key,
		 * the administrators' password hashes, the SRS keys, the
		 * smarthost passwords, the DKIM keys */
		if (str_equal(settings[i].name, "serverkey.pem") ||
		    str_equal(settings[i].name, "webadmins") ||
		    str_equal(settings[i].name, "srssecret") ||
		    str_equal(settings[i].name, "smtpauth") ||
		    str_equal(settings[i].name, "dkim"))
			continue;
		fn_of(&fn, settings[i].name);
		if (stat(fn.s, &st) == 0 && S_ISREG(st.st_mode) && !(st.st_mode & S_IROTH))
			warning(fn.s, ": not readable by everyone: the programs running as"
			    " qmaild or qmailr cannot read it", " (chmod 644)");
	}
	for (i = 0; i < sizeof tables / sizeof tables[0]; i++)
		if (stat(tables[i], &st) == 0 && S_ISREG(st.st_mode) && !(st.st_mode & S_IROTH))
			warning(tables[i], ": not readable by everyone: qmail-smtpd (qmaild)"
			    " cannot check recipients", " (chmod 644)");
	str_free(&fn);
}

/* check_me - qmail-remote needs a name in control/me: a file of
 * comments is as good as none */
static void
check_me(void)
{
	struct str v = STR_ZERO;

	if (control_readline("control/me", &v) == 0)
		warning("control/me ", exists("me") ? "has no line" : "is missing",
		    ": qmail-remote delivers nothing, and the other programs call this host localhost");
	str_free(&v);
}

/* unknown - files in control/ that no program reads */
static void
unknown(void)
{
	DIR *dir;
	struct dirent *de;
	size_t n;
	int any = 0;

	if ((dir = opendir("control")) == 0) {
		warning("control/: unable to list: ", strerror(errno), "");
		return;
	}
	errno = 0;
	while ((de = readdir(dir)) != 0) {
		if (de->d_name[0] == '.' || find(de->d_name))
			continue;
		n = strlen(de->d_name);
		/* sources of compiled tables are read by the compilers */
		if (str_equal(de->d_name, "morercpthosts"))
			continue;
		if (n > 4 && str_equal(de->d_name + n - 4, ".new"))
			continue;
		if (!any)
			put("\nfiles in control/ that no program reads (misspelt?):\n");
		any = 1;
		put("    ");
		putsafe(de->d_name, n);
		put("\n");
		errno = 0;
	}
	if (errno != 0)
		warning("control/: unable to list: ", strerror(errno), "");
	(void)closedir(dir);	/* read-only: nothing to lose */
}

int
main(int argc, char **argv)
{
	char num[FMT_ULONG + 1];
	size_t i;
	int n = 0;

	(void)argc;
	die_init(argv[0]);
	buf_init(&out, 1, outx, sizeof outx, 0);
	if (chdir(auto_home) == -1)
		die_sys(EXIT_TEMP, "unable to chdir to ", auto_home);

	put("lanmail installed in ");
	put(auto_home);
	put(auto_single ? ", single-user install: every program runs as " :
	    ", multi-user install; users:");
	for (i = 0; i < AUTO_NUSERS; i++) {
		if (auto_single && i > 0)
			break;
		put(" ");
		put(auto_users[i]);
	}
	num[fmt_ulong(num, auto_split)] = 0;
	put("\nqueue split into ");
	put(num);
	put(" subdirectories\n\ncontrol files ([set] or [default], then what each does):\n");
	for (i = 0; i < NSETTINGS; i++)
		show(&settings[i]);
	unknown();
	check_domains();
	check_services();
	check_modes();
	check_me();

	for (i = 0; i < warnings.len; i += strlen(warnings.s + i) + 1) {
		if (n++ == 0)
			put("\nwarnings:\n");
		put("warning: ");
		putsafe(warnings.s + i, strlen(warnings.s + i));
		put("\n");
	}
	if (n == 0)
		put("\nno contradictions found\n");
	if (!buf_flush(&out))
		die_sys(EXIT_TEMP, "unable to write output");
	return 0;
}
