/* maildir.c - Maildir delivery; see maildir.h
 *
 * The order is what makes a Maildir safe without locks: write into tmp/,
 * fsync, then link into new/ (atomic, and never over an existing name),
 * then unlink the tmp/ name.  A reader that lists new/ sees a whole
 * message or nothing.
 */
#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <unistd.h>

#include "buf.h"
#include "maildir.h"

#define HOSTMAX 256

/* host_escaped - the host name with "/" and ":" escaped as octal */
static int
host_escaped(struct str *out)
{
	char h[HOSTMAX + 1];
	size_t i;

	if (gethostname(h, sizeof h - 1) == -1)
		return 0;
	h[sizeof h - 1] = 0;
	for (i = 0; h[i]; i++) {
		if (h[i] == '/') {
			if (!str_cats(out, "\\057"))
				return 0;
		} else if (h[i] == ':') {
			if (!str_cats(out, "\\072"))
				return 0;
		} else if (!str_catc(out, h[i]))
			return 0;
	}
	if (i == 0 && !str_cats(out, "localhost"))
		return 0;
	return 1;
}

int
maildir_name(struct str *name, unsigned long attempt)
{
	struct timeval tv;

	if (gettimeofday(&tv, NULL) == -1)
		return 0;
	name->len = 0;
	if (!str_catulong(name, (unsigned long)tv.tv_sec) || !str_cats(name, ".M") ||
	    !str_catulong(name, (unsigned long)tv.tv_usec) || !str_catc(name, 'P') ||
	    !str_catulong(name, (unsigned long)getpid()))
		return 0;
	if (attempt && (!str_catc(name, 'Q') || !str_catulong(name, attempt)))
		return 0;
	return str_catc(name, '.') && host_escaped(name) && str_nul(name);
}

/* path - dir "/" sub "/" name as a C string */
static int
path(struct str *out, const char *dir, const char *sub, const struct str *name)
{
	out->len = 0;
	return str_cats(out, dir) && str_catc(out, '/') && str_cats(out, sub) &&
	    str_catc(out, '/') && str_catb(out, name->s, name->len) && str_nul(out);
}

/* fsync_dir - make the entries just created in dir/sub durable */
static int
fsync_dir(const char *dir, const char *sub)
{
	struct str p = STR_ZERO;
	int fd, r = -1, err;

	if (!str_cats(&p, dir) || !str_catc(&p, '/') || !str_cats(&p, sub) || !str_nul(&p))
		goto done;
	if ((fd = open(p.s, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) == -1)
		goto done;
	if (fsync(fd) == -1) {
		err = errno;
		(void)close(fd);	/* the fsync error is the one to report */
		errno = err;
		goto done;
	}
	r = close(fd);
done:
	err = errno;
	str_free(&p);
	errno = err;
	return r;
}

/* copy - hdr then the rest of fd into out */
static int
copy(int out, const char *hdr, size_t hn, int in)
{
	char x[BUF_SIZE];
	long r;

	if (hn && !fd_writeall(out, hdr, hn, 0))
		return 0;
	for (;;) {
		if ((r = fd_read(in, x, sizeof x, 0)) == -1)
			return 0;
		if (r == 0)
			return 1;
		if (!fd_writeall(out, x, (size_t)r, 0))
			return 0;
	}
}

int
maildir_deliver(const char *dir, const char *hdr, size_t hn, int in, struct str *where)
{
	struct str name = STR_ZERO, tmp = STR_ZERO, fresh = STR_ZERO;
	unsigned long attempt;
	int fd = -1, ok = 0, err;

	/* tmp/: O_EXCL, so a clash with another writer is noticed */
	for (attempt = 0;; attempt++) {
		if (!maildir_name(&name, attempt) || !path(&tmp, dir, "tmp", &name))
			goto done;
		fd = open(tmp.s, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
		if (fd != -1)
			break;
		if (errno != EEXIST || attempt >= 100)
			goto done;
	}
	if (!copy(fd, hdr, hn, in))
		goto fail;
	/* readers may see it once it is in new/: durable first */
	if (fsync(fd) == -1)
		goto fail;
	err = close(fd);
	fd = -1;
	if (err == -1)
		goto fail;
	for (;; attempt++) {
		if (attempt && !maildir_name(&name, attempt))
			goto fail;
		if (!path(&fresh, dir, "new", &name))
			goto fail;
		if (link(tmp.s, fresh.s) == 0)
			break;
		if (errno != EEXIST || attempt >= 100)
			goto fail;
	}
	if (fsync_dir(dir, "new") == -1) {
		err = errno;
		(void)unlink(fresh.s);	/* not known to be durable: report failure */
		errno = err;
		goto fail;
	}
	(void)unlink(tmp.s);	/* a leftover in tmp/ only wastes space */
	ok = 1;
	if (where && (!str_copys(where, "new/") ||
	    !str_catb(where, name.s, name.len) || !str_nul(where)))
		where->len = 0;	/* delivered all the same; only the name is lost */
	goto done;
fail:
	err = errno;
	if (fd != -1)
		(void)close(fd);	/* abandoning the file */
	(void)unlink(tmp.s);
	errno = err;
done:
	err = errno;
	str_free(&name);
	str_free(&tmp);
	str_free(&fresh);
	errno = err;
	return ok;
}

int
maildir_make(const char *dir)
{
	static const char *const sub[3] = { "tmp", "new", "cur" };
	struct str p = STR_ZERO;
	int i, err;

	if (mkdir(dir, 0700) == -1 && errno != EEXIST)
		return 0;
	for (i = 0; i < 3; i++) {
		p.len = 0;
		if (!str_cats(&p, dir) || !str_catc(&p, '/') || !str_cats(&p, sub[i]) ||
		    !str_nul(&p))
			goto fail;
		if (mkdir(p.s, 0700) == -1 && errno != EEXIST)
			goto fail;
	}
	str_free(&p);
	return 1;
fail:
	err = errno;
	str_free(&p);
	errno = err;
	return 0;
}
