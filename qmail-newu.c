/* qmail-newu - compile users/assign and users/recipients into their cdbs
 *
 * Run by the administrator (or qmail-admin) after editing either file.
 * Reads users/assign (qmail-users(5)) and users/recipients under the
 * install root, checks every line of both, and only when both are good
 * writes users/assign.cdb and users/recipients.cdb, each through a
 * temporary file renamed into place, so a reader sees the old or the new
 * table and never half of one; a table that comes out as the one there
 * is left as it is.  A bad line changes nothing.
 */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

#include "assign.h"
#include "auto.h"
#include "control.h"
#include "die.h"
#include "fsync.h"
#include "lcdb.h"
#include "str.h"

#define FILEMAX (256UL * 1024 * 1024)

/* table - keys and values one after another: klen, key, vlen, value */
struct table {
	struct str data;
	unsigned long entries;
};

static int
table_add(struct table *t, const struct str *k, const struct str *v)
{
	size_t kl = k->len, vl = v->len;

	if (!str_catb(&t->data, (const char *)&kl, sizeof kl) ||
	    !str_cat(&t->data, k) ||
	    !str_catb(&t->data, (const char *)&vl, sizeof vl) ||
	    !str_catb(&t->data, v->s, v->len))
		return 0;
	t->entries++;
	return 1;
}

static void
badline(const char *fn, unsigned long lineno, const char *why)
{
	struct str num = STR_ZERO;

	if (!str_catulong(&num, lineno) || !str_nul(&num))
		die_nomem();
	die(EXIT_PERM, fn, " line ", num.s, ": ", why, "; nothing changed");
}

/* read_assign - every entry of users/assign; 0 when the file is missing */
static int
read_assign(const char *fn, struct table *t)
{
	struct str raw = STR_ZERO, k = STR_ZERO, v = STR_ZERO;
	unsigned long lineno = 0;
	size_t i = 0, e;
	int r, ended = 0;

	if ((r = control_readfile(fn, &raw, FILEMAX)) == -1)
		die_sys(EXIT_TEMP, "unable to read ", fn);
	if (r == 0)
		return 0;
	while (i < raw.len && !ended) {
		lineno++;
		e = str_chrb(raw.s + i, raw.len - i, '\n');
		if (e > ASSIGN_LINEMAX)
			badline(fn, lineno, "line too long");
		switch (assign_parseline(raw.s + i, e, &k, &v)) {
		case 0:
			ended = 1;
			break;
		case 1:
			if (!table_add(t, &k, &v))
				die_nomem();
			break;
		default:
			if (errno != EINVAL)
				die_nomem();
			badline(fn, lineno, "malformed (want =local:user:uid:gid:home:dash:ext: or +prefix:user:uid:gid:home:dash:ext:)");
		}
		i += e + 1;
	}
	if (!ended)
		die(EXIT_PERM, fn, " does not end with a line holding only a dot; nothing changed");
	str_free(&raw);
	str_free(&k);
	str_free(&v);
	return 1;
}

/* read_recipients - every address of users/recipients; 0 when missing */
static int
read_recipients(const char *fn, struct table *t)
{
	struct str raw = STR_ZERO, k = STR_ZERO, none = STR_ZERO;
	unsigned long lineno = 0;
	size_t i = 0, e;
	int r;

	if ((r = control_readfile(fn, &raw, FILEMAX)) == -1)
		die_sys(EXIT_TEMP, "unable to read ", fn);
	if (r == 0)
		return 0;
	while (i < raw.len) {
		lineno++;
		e = str_chrb(raw.s + i, raw.len - i, '\n');
		switch (assign_rcptline(raw.s + i, e, &k)) {
		case 0:
			break;
		case 1:
			if (!table_add(t, &k, &none))
				die_nomem();
			break;
		default:
			if (errno != EINVAL)
				die_nomem();
			badline(fn, lineno, "malformed (want local@domain or @domain)");
		}
		i += e + 1;
	}
	str_free(&raw);
	str_free(&k);
	return 1;
}

/* write_cdb - the table into fn, atomically; a file that would come
 * out the same byte for byte is left as it is (users/assign changes
 * with the domains, users/recipients with every address: each run
 * that changed one of them need not write and sync the other) */
static void
write_cdb(const char *fn, const struct table *t)
{
	struct lcdb_make m;
	size_t pos = 0, kl, vl;
	const char *k;

	if (!lcdb_make_start(&m, fn))
		die_sys(EXIT_TEMP, "unable to create ", fn, ".tmp");
	while (pos < t->data.len) {
		memcpy(&kl, t->data.s + pos, sizeof kl);
		k = t->data.s + pos + sizeof kl;
		pos += sizeof kl + kl;
		memcpy(&vl, t->data.s + pos, sizeof vl);
		pos += sizeof vl;
		if (!lcdb_make_add(&m, k, kl, t->data.s + pos, vl)) {
			lcdb_make_abort(&m);
			die_sys(EXIT_TEMP, "unable to write ", fn, ".tmp");
		}
		pos += vl;
	}
	if (!lcdb_make_finish_changed(&m, NULL))
		die_sys(EXIT_TEMP, "unable to write ", fn);
}

/* lock_users - hold users/newu.lock until exit (the kernel drops it) */
static void
lock_users(void)
{
	struct flock lk;
	int fd;

	if ((fd = open("users/newu.lock", O_WRONLY | O_CREAT | O_CLOEXEC, 0600)) == -1)
		die_sys(EXIT_TEMP, "unable to open users/newu.lock");
	memset(&lk, 0, sizeof lk);
	lk.l_type = F_WRLCK;
	lk.l_whence = SEEK_SET;
	while (fcntl(fd, F_SETLKW, &lk) == -1)
		if (errno != EINTR)
			die_sys(EXIT_TEMP, "unable to lock users/newu.lock");
}

int
main(int argc, char **argv)
{
	struct table assign = { STR_ZERO, 0 }, rcpt = { STR_ZERO, 0 };
	int have_rcpt;

	(void)argc;
	die_init(argv[0]);
	if (chdir(auto_home) == -1)
		die_sys(EXIT_TEMP, "unable to switch to ", auto_home);

	/* one qmail-newu at a time: both would write the same .tmp files */
	lock_users();

	/* check both files completely before touching either table */
	(void)read_assign("users/assign", &assign);	/* missing: no entries */
	have_rcpt = read_recipients("users/recipients", &rcpt);

	write_cdb("users/assign.cdb", &assign);
	if (have_rcpt)
		write_cdb("users/recipients.cdb", &rcpt);
	else if (unlink("users/recipients.cdb") == -1 && errno != ENOENT)
		die_sys(EXIT_TEMP, "unable to remove users/recipients.cdb");
	else if (fsync_dir_of("users/recipients.cdb") == -1)
		die_sys(EXIT_TEMP, "unable to sync users");
	return 0;
}
