/* lcdb.c - tinycdb wrapper; see lcdb.h
 *
 * A cdb file may be damaged or hostile (a copy from elsewhere): tinycdb
 * checks every position it reads against the file size, and values are
 * bounded here before any allocation.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fsync.h"
#include "lcdb.h"

#define LCDB_VALMAX (16UL * 1024 * 1024)

int
lcdb_open(struct lcdb *d, const char *fn)
{
	if ((d->fd = open(fn, O_RDONLY | O_CLOEXEC)) == -1)
		return errno == ENOENT ? 0 : -1;
	if (cdb_init(&d->c, d->fd) != 0) {
		int err = errno ? errno : EINVAL;

		(void)close(d->fd);	/* reporting the init failure */
		d->fd = -1;
		return errno = err, -1;
	}
	return 1;
}

int
lcdb_get(struct lcdb *d, const char *key, size_t klen, struct str *val)
{
	unsigned vlen, klenu;
	int r;

	if (klen > 0xffffffffUL)
		return 0;
	klenu = (unsigned)klen;
	if ((r = cdb_find(&d->c, key, klenu)) < 0)
		return errno = errno ? errno : EINVAL, -1;
	if (r == 0)
		return 0;
	vlen = cdb_datalen(&d->c);
	if (vlen > LCDB_VALMAX)
		return errno = EFBIG, -1;
	val->len = 0;
	if (!str_readyplus(val, vlen))
		return -1;
	if (cdb_read(&d->c, val->s, vlen, cdb_datapos(&d->c)) != 0)
		return errno = errno ? errno : EINVAL, -1;
	val->len = vlen;
	return 1;
}

void
lcdb_close(struct lcdb *d)
{
	if (d->fd < 0)
		return;
	cdb_free(&d->c);
	(void)close(d->fd);	/* read-only: nothing to lose */
	d->fd = -1;
}

int
lcdb_lookup(const char *fn, const char *key, size_t klen, struct str *val)
{
	struct lcdb d;
	int r, err;

	if ((r = lcdb_open(&d, fn)) != 1)
		return r;
	r = lcdb_get(&d, key, klen, val);
	err = errno;
	lcdb_close(&d);
	errno = err;
	return r;
}

int
lcdb_make_start(struct lcdb_make *m, const char *fn)
{
	return lcdb_make_startat(m, AT_FDCWD, fn);
}

int
lcdb_make_startat(struct lcdb_make *m, int dfd, const char *fn)
{
	struct str z = STR_ZERO;

	m->tmp = z;
	m->fn = z;
	m->fd = -1;
	m->dfd = dfd;
	if (!str_copys(&m->fn, fn) || !str_nul(&m->fn) ||
	    !str_copys(&m->tmp, fn) || !str_cats(&m->tmp, ".tmp") ||
	    !str_nul(&m->tmp))
		goto fail;
	/* NAME.tmp is made new: whoever may write in the directory (the
	 * vmail user in domains/D) could have left a symbolic link or a
	 * hard link there, and a root writer must not write through it.
	 * A link put back between the unlink and the open makes the open
	 * fail; nothing is written then. */
	if (unlinkat(dfd, m->tmp.s, 0) == -1 && errno != ENOENT)
		goto fail;
	m->fd = openat(dfd, m->tmp.s,
	    O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644);
	if (m->fd == -1)
		goto fail;
	/* readers run under other uids (qmail-smtpd as qmaild), so the mode
	 * must not depend on the caller's umask; a caller wanting a tighter
	 * mode sets it on m->fd afterwards */
	if (fchmod(m->fd, 0644) == -1)
		goto fail;
	if (cdb_make_start(&m->cm, m->fd) != 0)
		goto fail;
	return 1;
fail:
	if (m->fd == -1) {
		/* not ours to remove: the open failed */
		int err = errno;

		str_free(&m->tmp);
		str_free(&m->fn);
		errno = err;
		return 0;
	}
	lcdb_make_abort(m);
	return 0;
}

int
lcdb_make_add(struct lcdb_make *m, const char *k, size_t kl, const char *v, size_t vl)
{
	if (kl > 0x7fffffffUL || vl > 0x7fffffffUL)
		return errno = EFBIG, 0;
	return cdb_make_add(&m->cm, k, (unsigned)kl, v, (unsigned)vl) == 0;
}

/* commit - the finished NAME.tmp on disk, then renamed over NAME */
static int
commit(struct lcdb_make *m)
{
	/* the data must be on disk before the name points at it */
	if (fsync(m->fd) == -1)
		goto fail;
	if (close(m->fd) == -1) {
		m->fd = -1;
		goto fail;
	}
	m->fd = -1;
	if (renameat(m->dfd, m->tmp.s, m->dfd, m->fn.s) == -1)
		goto fail;
	if (m->dfd == AT_FDCWD ? fsync_dir_of(m->fn.s) == -1 : fsync(m->dfd) == -1) {
		/* the new file is in place: nothing to abort */
		int err = errno;

		str_free(&m->tmp);
		str_free(&m->fn);
		errno = err;
		return 0;
	}
	str_free(&m->tmp);
	str_free(&m->fn);
	return 1;
fail:
	lcdb_make_abort(m);
	return 0;
}

int
lcdb_make_finish(struct lcdb_make *m)
{
	if (cdb_make_finish(&m->cm) != 0) {
		lcdb_make_abort(m);
		return 0;
	}
	return commit(m);
}

/* same - the finished NAME.tmp holds exactly what NAME holds (a regular
 * file, not through a link) */
static int
same(struct lcdb_make *m)
{
	char a[4096], b[4096];
	struct stat sa, sb;
	off_t pos = 0;
	ssize_t ra = 1, rb;
	int fd, r = 0;

	if ((fd = openat(m->dfd, m->fn.s, O_RDONLY | O_NOFOLLOW | O_CLOEXEC)) == -1)
		return 0;
	if (fstat(fd, &sb) == 0 && fstat(m->fd, &sa) == 0 && S_ISREG(sb.st_mode) &&
	    sa.st_size == sb.st_size)
		for (r = 1; r && pos < sa.st_size; pos += ra) {
			ra = pread(m->fd, a, sizeof a, pos);
			rb = pread(fd, b, sizeof b, pos);
			r = ra > 0 && ra == rb && memcmp(a, b, (size_t)ra) == 0;
		}
	(void)close(fd);	/* read-only */
	return r;
}

int
lcdb_make_finish_changed(struct lcdb_make *m, int *changed)
{
	int dummy;

	if (changed == NULL)
		changed = &dummy;
	*changed = 1;
	if (cdb_make_finish(&m->cm) != 0) {
		lcdb_make_abort(m);
		return 0;
	}
	/* NAME was synced by the writer that put it there: the same bytes
	 * again need no write, no sync and no rename */
	if (same(m)) {
		*changed = 0;
		lcdb_make_abort(m);
		return 1;
	}
	return commit(m);
}

void
lcdb_make_abort(struct lcdb_make *m)
{
	int err = errno;

	if (m->fd != -1)
		(void)close(m->fd);	/* abandoning the file anyway */
	m->fd = -1;
	if (m->tmp.s)
		(void)unlinkat(m->dfd, m->tmp.s, 0);	/* a leftover would only waste space */
	str_free(&m->tmp);
	str_free(&m->fn);
	errno = err;
}
