/* maildir.c - Maildir delivery; see maildir.h
 *
 * The order is what makes a Maildir safe without locks: write into tmp/,
 * fsync, then link into new/ (atomic, and never over an existing name),
 * then unlink the tmp/ name.  A reader that lists new/ sees a whole
 * message or nothing.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
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

void
maildir_crlf_put(struct maildir_crlf *c, const char *p, size_t n)
{
	unsigned long long add = 0;
	size_t i;

	if (n == 0)
		return;
	for (i = 0; i < n; i++) {
		if (p[i] == '\n' && !c->cr)
			add++;
		c->cr = p[i] == '\r';
	}
	c->size += n + add;
	c->open = p[n - 1] != '\n';
}

unsigned long long
maildir_crlf_total(const struct maildir_crlf *c)
{
	/* RETR ends an unfinished last line: a CR gets its LF, else CRLF */
	return c->size + (c->open ? (c->cr ? 1 : 2) : 0);
}

int
maildir_name_wsize(const char *name, unsigned long long *size)
{
	const char *w;
	unsigned long long v = 0;
	size_t base = strcspn(name, ":"), i, d = 0;

	for (w = name; (w = strstr(w, ",W=")) != NULL && (size_t)(w - name) < base; w++) {
		v = 0;
		for (i = 3, d = 0; w[i] >= '0' && w[i] <= '9'; i++, d++) {
			if (d == 19)	/* more than any file holds */
				break;
			v = v * 10 + (unsigned long long)(w[i] - '0');
		}
		if (d > 0 && d < 19 && (w[i] == 0 || w[i] == ',' || w[i] == ':')) {
			*size = v;
			return 1;
		}
	}
	return 0;
}

/* copy - hdr then the rest of fd into out, measuring its CRLF size */
static int
copy(int out, const char *hdr, size_t hn, int in, struct maildir_crlf *c)
{
	char x[BUF_SIZE];
	long r;

	if (hn && !fd_writeall(out, hdr, hn, 0))
		return 0;
	maildir_crlf_put(c, hdr, hn);
	for (;;) {
		if ((r = fd_read(in, x, sizeof x, 0)) == -1)
			return 0;
		if (r == 0)
			return 1;
		if (!fd_writeall(out, x, (size_t)r, 0))
			return 0;
		maildir_crlf_put(c, x, (size_t)r);
	}
}

/* wname - the new/ name: name with ",W=" and the CRLF size after it, so
 * that a POP3 server need not read the file to learn its size */
static int
wname(struct str *out, const struct str *name, unsigned long long w)
{
	out->len = 0;
	if (!str_catb(out, name->s, name->len))
		return 0;
	if (w > (unsigned long)-1)	/* no room for it: the name goes without */
		return 1;
	return str_cats(out, ",W=") && str_catulong(out, (unsigned long)w);
}

int
maildir_deliver(const char *dir, const char *hdr, size_t hn, int in, struct str *where)
{
	struct str name = STR_ZERO, tmp = STR_ZERO, fresh = STR_ZERO, final = STR_ZERO;
	struct maildir_crlf crlf = MAILDIR_CRLF_ZERO;
	struct maildir_quota q;
	struct stat st;
	unsigned long attempt;
	int fd = -1, ok = 0, err, quota = 0, over = 0;

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
	if (!copy(fd, hdr, hn, in, &crlf))
		goto fail;
	if (fstat(fd, &st) == -1)
		goto fail;
	/* Maildir++: refused before it is visible, when it would not fit */
	if ((quota = maildir_quota_get(dir, &q, (unsigned long long)st.st_size)) == -1)
		goto fail;
	if (quota && maildir_quota_over(&q, (unsigned long long)st.st_size)) {
		over = 1;
		errno = EDQUOT;
		goto fail;
	}
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
		if (!wname(&final, &name, maildir_crlf_total(&crlf)) ||
		    !path(&fresh, dir, "new", &final))
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
	/* a lost line only makes the next reader recount */
	if (quota)
		(void)maildir_quota_add(dir, (long long)st.st_size, 1);
	ok = 1;
	if (where && (!str_copys(where, "new/") ||
	    !str_catb(where, final.s, final.len) || !str_nul(where)))
		where->len = 0;	/* delivered all the same; only the name is lost */
	goto done;
fail:
	/* EDQUOT means our quota; the file system's own one is a full disk */
	err = errno == EDQUOT && !over ? ENOSPC : errno;
	if (fd != -1)
		(void)close(fd);	/* abandoning the file */
	(void)unlink(tmp.s);
	errno = err;
done:
	err = errno;
	str_free(&name);
	str_free(&tmp);
	str_free(&fresh);
	str_free(&final);
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

/* Maildir++ quotas */

/* num - an optionally signed decimal at p[*i..n), at most 18 digits;
 * 1 with *v, 0 junk */
static int
num(const char *p, size_t n, size_t *i, long long *v)
{
	int neg = 0;
	size_t d = 0;

	*v = 0;
	if (*i < n && p[*i] == '-') {
		neg = 1;
		(*i)++;
	}
	while (*i < n && p[*i] >= '0' && p[*i] <= '9') {
		if (++d > 18)
			return 0;
		*v = *v * 10 + (p[*i] - '0');
		(*i)++;
	}
	if (neg)
		*v = -*v;
	return d > 0;
}

int
maildir_quota_parse(const char *p, size_t n, struct maildir_quota *q)
{
	size_t i = 0, e;
	long long v, b, c;
	int lines = 0;

	q->maxbytes = q->maxcount = 0;
	q->bytes = q->count = 0;
	q->stale = 0;
	e = str_chrb(p, n, '\n');
	if (e == n)
		return 0;	/* no whole first line */
	/* NNNS,NNNC in any order */
	while (i < e) {
		if (!num(p, e, &i, &v) || v <= 0 || i >= e)
			return 0;
		if (p[i] == 'S' && !q->maxbytes)
			q->maxbytes = (unsigned long long)v;
		else if (p[i] == 'C' && !q->maxcount)
			q->maxcount = (unsigned long long)v;
		else
			return 0;
		if (++i < e && (p[i++] != ',' || i == e))
			return 0;	/* NNNS,NNNC: a comma between two limits */
	}
	if (!q->maxbytes && !q->maxcount)
		return 0;
	for (i = e + 1; i < n; i = e + 1) {
		e = i + str_chrb(p + i, n - i, '\n');
		if (e == n) {
			q->stale = 1;	/* a partial last line: a writer died */
			break;
		}
		while (i < e && p[i] == ' ')
			i++;
		if (i == e)
			continue;
		if (!num(p, e, &i, &b) || i >= e || p[i] != ' ') {
			q->stale = 1;
			break;
		}
		while (i < e && p[i] == ' ')
			i++;
		if (!num(p, e, &i, &c) || i != e) {
			q->stale = 1;
			break;
		}
		q->bytes += b;	/* no overflow: at most a few thousand lines of 18 digits */
		q->count += c;
		lines++;
	}
	if (!lines || q->bytes < 0 || q->count < 0)
		q->stale = 1;
	return 1;
}

int
maildir_quota_over(const struct maildir_quota *q, unsigned long long size)
{
	unsigned long long b = q->bytes > 0 ? (unsigned long long)q->bytes : 0;
	unsigned long long c = q->count > 0 ? (unsigned long long)q->count : 0;

	if (q->maxbytes && (size > q->maxbytes || b > q->maxbytes - size))
		return 1;
	return q->maxcount && c + 1 > q->maxcount;
}

/* msgsize - a message file's size: ",S=nnn" in its name, else lstat */
static int
msgsize(const char *path, const char *name, long long *size)
{
	const char *s = strstr(name, ",S=");
	struct stat st;
	size_t i;

	if (s) {
		i = 3;
		if (num(s, strlen(s), &i, size) && *size >= 0 &&
		    (s[i] == 0 || s[i] == ',' || s[i] == ':'))
			return 1;
	}
	if (lstat(path, &st) == -1)
		return errno == ENOENT ? 0 : -1;	/* gone meanwhile: not counted */
	if (!S_ISREG(st.st_mode))
		return 0;
	*size = (long long)st.st_size;
	return 1;
}

/* count - add the messages of dir/sub to q */
static int
count(const char *dir, const char *sub, struct maildir_quota *q)
{
	struct str p = STR_ZERO;
	DIR *d;
	struct dirent *e;
	size_t base;
	long long sz;
	int r = 0, err;

	if (!str_cats(&p, dir) || !str_catc(&p, '/') || !str_cats(&p, sub) || !str_nul(&p))
		goto done;
	if ((d = opendir(p.s)) == NULL) {
		r = errno == ENOENT || errno == ENOTDIR;
		goto done;
	}
	if (!str_catc(&p, '/'))
		goto out;
	base = p.len;
	for (;;) {
		errno = 0;
		if ((e = readdir(d)) == NULL) {
			r = errno == 0;
			break;
		}
		if (e->d_name[0] == '.')
			continue;
		p.len = base;
		if (!str_cats(&p, e->d_name) || !str_nul(&p))
			break;
		switch (msgsize(p.s, e->d_name, &sz)) {
		case -1:
			goto out;
		case 1:
			q->bytes += sz;
			q->count++;
		}
	}
out:
	err = errno;
	(void)closedir(d);
	errno = err;
done:
	err = errno;
	str_free(&p);
	errno = err;
	return r;
}

/* recount - the usage from the files of dir and its Maildir++ folders */
static int
recount(const char *dir, struct maildir_quota *q)
{
	struct str sub = STR_ZERO;
	DIR *d;
	struct dirent *e;
	int r = 0, err;

	q->bytes = q->count = 0;
	if (!count(dir, "new", q) || !count(dir, "cur", q))
		return 0;
	if ((d = opendir(dir)) == NULL)
		return 0;
	for (;;) {
		errno = 0;
		if ((e = readdir(d)) == NULL) {
			r = errno == 0;
			break;
		}
		if (e->d_name[0] != '.' || !strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
			continue;
		if (!str_copys(&sub, e->d_name) || !str_cats(&sub, "/new") || !str_nul(&sub) ||
		    !count(dir, sub.s, q))
			break;
		sub.len -= 4;
		if (!str_cats(&sub, "/cur") || !str_nul(&sub) || !count(dir, sub.s, q))
			break;
	}
	err = errno;
	(void)closedir(d);
	str_free(&sub);
	errno = err;
	return r;
}

static int
catll(struct str *s, long long v)
{
	if (v < 0) {
		if (!str_catc(s, '-'))
			return 0;
		return str_catulong(s, (unsigned long)(-(v + 1)) + 1UL);
	}
	return str_catulong(s, (unsigned long)v);
}

/* rewrite - a fresh maildirsize: first line kept, the recounted sums;
 * written in tmp/ and renamed over the old one */
static int
rewrite(const char *dir, const char *first, size_t fl, const struct maildir_quota *q)
{
	struct str name = STR_ZERO, tmp = STR_ZERO, dst = STR_ZERO, body = STR_ZERO;
	int fd = -1, r = 0, err;

	if (!maildir_name(&name, 0) || !path(&tmp, dir, "tmp", &name) ||
	    !str_cats(&dst, dir) || !str_cats(&dst, "/maildirsize") || !str_nul(&dst) ||
	    !str_copyb(&body, first, fl) || !catll(&body, q->bytes) || !str_catc(&body, ' ') ||
	    !catll(&body, q->count) || !str_catc(&body, '\n'))
		goto done;
	if ((fd = open(tmp.s, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600)) == -1)
		goto done;
	if (!fd_writeall(fd, body.s, body.len, 0) || fsync(fd) == -1) {
		err = errno;
		(void)close(fd);
		(void)unlink(tmp.s);
		errno = err;
		goto done;
	}
	if (close(fd) == -1 || rename(tmp.s, dst.s) == -1) {
		err = errno;
		(void)unlink(tmp.s);
		errno = err;
		goto done;
	}
	r = 1;
done:
	err = errno;
	str_free(&name);
	str_free(&tmp);
	str_free(&dst);
	str_free(&body);
	errno = err;
	return r;
}

/* load - maildir_quota_get; with write 0 a recount stays in memory and
 * a full mailbox is not confirmed */
static int
load(const char *dir, struct maildir_quota *q, unsigned long long size, int write)
{
	struct str fn = STR_ZERO;
	char x[MAILDIR_QUOTA_FILEMAX + 1];
	struct stat st;
	size_t n = 0;
	long r;
	long long bytes, count_;
	int fd, ret = -1, err, big, confirm;

	if (!str_cats(&fn, dir) || !str_cats(&fn, "/maildirsize") || !str_nul(&fn))
		goto done;
	if ((fd = open(fn.s, O_RDONLY | O_CLOEXEC | O_NONBLOCK)) == -1) {
		if (errno == ENOENT)
			ret = 0;
		goto done;
	}
	if (fstat(fd, &st) == -1 || !S_ISREG(st.st_mode)) {
		err = S_ISREG(st.st_mode) ? errno : EINVAL;
		(void)close(fd);
		errno = err;
		goto done;
	}
	/* at most the limit and a byte: a longer file is recounted anyway */
	while (n < sizeof x) {
		if ((r = fd_read(fd, x + n, sizeof x - n, 0)) == -1) {
			err = errno;
			(void)close(fd);
			errno = err;
			goto done;
		}
		if (r == 0)
			break;
		n += (size_t)r;
	}
	(void)close(fd);	/* read-only */
	big = n > MAILDIR_QUOTA_FILEMAX || st.st_size > MAILDIR_QUOTA_FILEMAX;
	if (big) {
		/* only the first line matters: the sums are recounted */
		size_t e = str_chrb(x, n, '\n');

		if (e == n) {
			ret = 0;	/* no sane first line: no quota */
			goto done;
		}
		n = e + 1;
	}
	if (!maildir_quota_parse(x, n, q)) {
		ret = 0;
		goto done;
	}
	if (big)
		q->stale = 1;
	/* a refusal bounces the message: the sums alone are not enough, as
	 * a removal's line may have been lost (a reader that could not
	 * write it).  The files decide, at the cost of a scan only here. */
	confirm = write && !q->stale && maildir_quota_over(q, size);
	ret = 1;
	if (q->stale || confirm) {
		bytes = q->bytes;
		count_ = q->count;
		if (!recount(dir, q))
			ret = -1;
		else if (write && (q->stale || q->bytes != bytes || q->count != count_))
			(void)rewrite(dir, x, str_chrb(x, n, '\n') + 1, q);	/* else recounted next time */
	}
done:
	err = errno;
	str_free(&fn);
	errno = err;
	return ret;
}

int
maildir_quota_get(const char *dir, struct maildir_quota *q, unsigned long long size)
{
	return load(dir, q, size, 1);
}

int
maildir_quota_read(const char *dir, struct maildir_quota *q)
{
	return load(dir, q, 0, 0);
}

int
maildir_quota_count(const char *dir, struct maildir_quota *q)
{
	return recount(dir, q);
}

int
maildir_quota_add(const char *dir, long long bytes, long long count_)
{
	struct str fn = STR_ZERO, l = STR_ZERO;
	int fd, r = 0, err;

	if (!str_cats(&fn, dir) || !str_cats(&fn, "/maildirsize") || !str_nul(&fn) ||
	    !catll(&l, bytes) || !str_catc(&l, ' ') || !catll(&l, count_) || !str_catc(&l, '\n'))
		goto done;
	if ((fd = open(fn.s, O_WRONLY | O_APPEND | O_CLOEXEC | O_NONBLOCK)) == -1) {
		r = errno == ENOENT;
		goto done;
	}
	/* one write: O_APPEND keeps concurrent lines whole */
	if (!fd_writeall(fd, l.s, l.len, 0)) {
		err = errno;
		(void)close(fd);
		errno = err;
		goto done;
	}
	r = close(fd) == 0;
done:
	err = errno;
	str_free(&fn);
	str_free(&l);
	errno = err;
	return r;
}
