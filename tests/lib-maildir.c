/* lib-maildir - maildir_make, maildir_name and maildir_deliver, the
 * CRLF size and the ",W=" names that carry it, and Maildir++ quotas: parsing maildirsize (hostile contents), recounting,
 * counting for a reader, refusing what does not fit, and space given back */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "maildir.h"
#include "tap.h"

/* count - entries of dir other than . and .. */
static int
count(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	int n = 0;

	if (!d)
		return -1;
	while ((e = readdir(d)) != NULL)
		if (strcmp(e->d_name, ".") && strcmp(e->d_name, ".."))
			n++;
	closedir(d);
	return n;
}

static int
putfile(const char *path, const char *s)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	size_t n = strlen(s);
	int ok_ = fd != -1 && write(fd, s, n) == (ssize_t)n;

	if (fd != -1)
		close(fd);
	return ok_;
}

static int
getfile(const char *path, char *x, size_t max)
{
	int fd = open(path, O_RDONLY);
	ssize_t r = fd == -1 ? -1 : read(fd, x, max - 1);

	if (fd != -1)
		close(fd);
	if (r < 0)
		return 0;
	x[r] = 0;
	return 1;
}

/* crlf - the CRLF size of s, fed in pieces of step bytes */
static unsigned long long
crlf(const char *s, size_t n, size_t step)
{
	struct maildir_crlf c = MAILDIR_CRLF_ZERO;
	size_t i, k;

	for (i = 0; i < n; i += k) {
		k = step && n - i > step ? step : n - i;
		maildir_crlf_put(&c, s + i, k);
	}
	return maildir_crlf_total(&c);
}

static void
crlf_tests(void)
{
	unsigned long long w;
	size_t step;
	int all = 1;

	for (step = 0; step < 8; step++)
		all &= crlf("a\nb\r\nc\n", 7, step) == 9 && crlf("a\r\n", 3, step) == 3 &&
		    crlf("x\ny", 3, step) == 6 && crlf("x\r", 2, step) == 3 &&
		    crlf("\n\n", 2, step) == 4;
	ok(all, "CRLF size: LF two, CRLF two, an open last line ended (every chunking)");
	ok(crlf("", 0, 0) == 0, "CRLF size of an empty message");
	ok(crlf("a\r\nb\n", 5, 2) == 6, "a CRLF split across pieces counts once");
	ok(maildir_name_wsize("1.M2P3.host,W=1234:2,S", &w) == 1 && w == 1234, "W= before the flags");
	ok(maildir_name_wsize("1.M2P3.host,S=9,W=77", &w) == 1 && w == 77, "W= after S=, no flags");
	ok(maildir_name_wsize("1.M2P3.host,W=5,S=9:2,", &w) == 1 && w == 5, "W= before S=");
	ok(maildir_name_wsize("1.M2P3.host,W=12x:2,", &w) == 0 &&
	    maildir_name_wsize("1.M2P3.host,W=:2,", &w) == 0 &&
	    maildir_name_wsize("1.M2P3.host,W=-1", &w) == 0 &&
	    maildir_name_wsize("1.M2P3.host,W=1234567890123456789", &w) == 0,
	    "W= with junk, no digits, a sign or too many digits: none");
	ok(maildir_name_wsize("1.M2P3.host:2,W=5", &w) == 0 &&
	    maildir_name_wsize("1.M2P3.host:2,,W=5", &w) == 0, "W= in the flags: none");
	ok(maildir_name_wsize("1.W=2,W=x,W=3:2,", &w) == 1 && w == 3, "the first good W=");
}

static int
parse(const char *s, struct maildir_quota *q)
{
	return maildir_quota_parse(s, strlen(s), q);
}

static void
quota_tests(const char *dir, const char *md, int in)
{
	struct maildir_quota q;
	struct stat st0, st1;
	char ms[300], path[400], x[8192];
	int i;

	/* parsing */
	ok(parse("1000S\n", &q) == 1 && q.maxbytes == 1000 && q.maxcount == 0 && q.stale,
	    "limit only: a quota, sums to recount");
	ok(parse("1000S,10C\n10 1\n-5 -1\n", &q) == 1 && q.maxcount == 10 && q.bytes == 5 &&
	    q.count == 0 && !q.stale, "bytes and count, lines summed");
	ok(parse("10C,1000S\n  12   3\n\n", &q) == 1 && q.maxbytes == 1000 && q.bytes == 12 &&
	    q.count == 3 && !q.stale, "either order; padded lines; empty line skipped");
	ok(parse("1000S\n10 1", &q) == 1 && q.stale, "partial last line: recount");
	ok(parse("1000S\nx y\n", &q) == 1 && q.stale, "junk line: recount");
	ok(parse("1000S\n10\n", &q) == 1 && q.stale, "line without a count: recount");
	ok(parse("1000S\n-10 -1\n", &q) == 1 && q.stale, "negative sums: recount");
	ok(parse("1000S\n999999999999999999 1\n999999999999999999 1\n", &q) == 1 && !q.stale &&
	    q.bytes == 1999999999999999998LL, "large sums");
	ok(parse("1000S\n9999999999999999999 1\n", &q) == 1 && q.stale, "19 digits: junk");
	ok(parse("", &q) == 0, "empty file: no quota");
	ok(parse("1000S", &q) == 0, "no newline after the limit: no quota");
	ok(parse("abc\n", &q) == 0, "junk limit: no quota");
	ok(parse("0S\n", &q) == 0, "zero limit: no quota");
	ok(parse("-5S\n", &q) == 0, "negative limit: no quota");
	ok(parse("1000S,1000S\n", &q) == 0, "limit twice: no quota");
	ok(parse("1000X\n", &q) == 0, "unknown unit: no quota");
	ok(parse("1000S,\n", &q) == 0, "trailing comma: no quota");
	ok(parse("1000S 10C\n", &q) == 0, "blank separator: no quota");
	ok(parse("1000\n", &q) == 0, "no unit: no quota");
	ok(parse("\n10 1\n", &q) == 0, "empty first line: no quota");
	ok(parse("1000S\0\n", &q) == 0, "NUL: no quota");

	/* over */
	q.maxbytes = 100; q.maxcount = 0; q.bytes = 90; q.count = 1000;
	ok(!maildir_quota_over(&q, 10), "90 + 10 fits 100");
	ok(maildir_quota_over(&q, 11), "90 + 11 does not");
	ok(maildir_quota_over(&q, 18446744073709551615ULL), "a huge size does not");
	q.maxbytes = 0; q.maxcount = 5; q.count = 4;
	ok(!maildir_quota_over(&q, 1000000), "4 + 1 messages fit 5");
	q.count = 5;
	ok(maildir_quota_over(&q, 1), "5 + 1 do not");
	q.maxbytes = 100; q.maxcount = 0; q.bytes = 150;
	ok(maildir_quota_over(&q, 0), "already over");

	/* get: recount of new/ (21 messages, 725 bytes), cur/ and folders */
	snprintf(ms, sizeof ms, "%s/maildirsize", md);
	ok(maildir_quota_get(md, &q, 0) == 0, "no maildirsize: no quota");
	ok(putfile(ms, "1000S\n"), "maildirsize with a limit only");
	ok(maildir_quota_get(md, &q, 0) == 1 && q.bytes == 725 && q.count == 21, "recounted: 725 bytes, 21 messages");
	ok(getfile(ms, x, sizeof x) && strcmp(x, "1000S\n725 21\n") == 0, "and written back");
	snprintf(path, sizeof path, "%s/cur/1.M1P1.h,S=100:2,S", md);
	ok(putfile(path, "short"), "a cur/ file with S=100 in its name");
	snprintf(path, sizeof path, "%s/.Sent", md);
	ok(maildir_make(path) == 1, "a Maildir++ folder");
	snprintf(path, sizeof path, "%s/.Sent/cur/2.M2P2.h:2,S", md);
	ok(putfile(path, "0123456789"), "a 10-byte file in .Sent/cur");
	ok(putfile(ms, "1000S\n"), "limit only again");
	ok(maildir_quota_get(md, &q, 0) == 1 && q.bytes == 835 && q.count == 23,
	    "recount takes S= from the name and counts folders: %lld %lld", q.bytes, q.count);
	ok(maildir_quota_get(md, &q, 0) == 1 && q.bytes == 835 && !q.stale, "then the file is trusted");

	/* deliveries: 36 bytes each; 835 + 36 + 36 + 36 = 943 fits 1000, 979 not */
	ok(putfile(ms, "950S\n835 23\n"), "limit 950 bytes");
	for (i = 0; i < 3; i++) {
		lseek(in, 0, SEEK_SET);
		ok(maildir_deliver(md, "Return-Path: <a@b>\n", 19, in, NULL) == 1, "delivery %d under quota", i + 1);
	}
	ok(getfile(ms, x, sizeof x) && strcmp(x, "950S\n835 23\n36 1\n36 1\n36 1\n") == 0,
	    "each delivery added its line");
	lseek(in, 0, SEEK_SET);
	errno = 0;
	ok(maildir_deliver(md, "Return-Path: <a@b>\n", 19, in, NULL) == 0 && errno == EDQUOT,
	    "the next one would go over: EDQUOT");
	snprintf(path, sizeof path, "%s/tmp", md);
	ok(count(path) == 0, "nothing left in tmp/");
	snprintf(path, sizeof path, "%s/new", md);
	ok(count(path) == 24, "nothing added to new/");
	ok(maildir_quota_add(md, -36, -1) == 1, "a message removed");
	lseek(in, 0, SEEK_SET);
	ok(maildir_deliver(md, "Return-Path: <a@b>\n", 19, in, NULL) == 1, "then one fits again");

	/* count limit */
	ok(putfile(ms, "1000000S,25C\n835 23\n"), "limit 25 messages");
	lseek(in, 0, SEEK_SET);
	ok(maildir_deliver(md, "", 0, in, NULL) == 1, "24th message fits");
	lseek(in, 0, SEEK_SET);
	ok(maildir_deliver(md, "", 0, in, NULL) == 1, "25th message fits");
	lseek(in, 0, SEEK_SET);
	ok(maildir_deliver(md, "", 0, in, NULL) == 0 && errno == EDQUOT, "26th refused");

	/* a file past 5120 bytes is recounted (and shrinks) */
	{
		struct str big = STR_ZERO;

		ok(str_copys(&big, "1000000S\n") != 0, "big file");
		for (i = 0; i < 2000; i++)
			(void)str_cats(&big, "0 0\n");
		(void)str_nul(&big);
		ok(big.len > 5120 && putfile(ms, big.s), "an 8 kB maildirsize");
		str_free(&big);
	}
	ok(maildir_quota_get(md, &q, 0) == 1 && q.count == 29 && q.bytes == 1013,
	    "long file recounted: %lld bytes %lld messages", q.bytes, q.count);
	ok(getfile(ms, x, sizeof x) && strcmp(x, "1000000S\n1013 29\n") == 0, "and rewritten short");

	/* a refusal is confirmed by the files: sums that say full (a
	 * removal's line lost) are recounted, however fresh the file */
	ok(putfile(ms, "2000S\n5000 1\n"), "maildirsize claiming 5000 bytes, just written");
	lseek(in, 0, SEEK_SET);
	ok(maildir_deliver(md, "", 0, in, NULL) == 1, "full by its sums: recounted, then it fits");
	ok(getfile(ms, x, sizeof x) && strcmp(x, "2000S\n1013 29\n17 1\n") == 0,
	    "the recount written back, then the delivery's line");
	ok(maildir_quota_get(md, &q, 17) == 1 && q.bytes == 1030 && q.count == 30 && !q.stale,
	    "a message that fits: the sums are trusted");
	/* full by the files too: refused; a right file is left alone */
	ok(putfile(ms, "1040S\n1030 30\n") && stat(ms, &st0) == 0, "limit 1040 bytes, 1030 used");
	lseek(in, 0, SEEK_SET);
	errno = 0;
	ok(maildir_deliver(md, "", 0, in, NULL) == 0 && errno == EDQUOT, "full by the files too: EDQUOT");
	ok(getfile(ms, x, sizeof x) && strcmp(x, "1040S\n1030 30\n") == 0 && stat(ms, &st1) == 0 &&
	    st1.st_ino == st0.st_ino, "and the file not rewritten");
	ok(putfile(ms, "1040S\n1030 30\n5 1\n"), "sums above the files, both full");
	lseek(in, 0, SEEK_SET);
	errno = 0;
	ok(maildir_deliver(md, "", 0, in, NULL) == 0 && errno == EDQUOT, "still refused");
	ok(getfile(ms, x, sizeof x) && strcmp(x, "1040S\n1030 30\n") == 0, "the file corrected to the files' sums");

	/* a reader's look changes nothing */
	ok(putfile(ms, "3000S\n"), "limit only");
	ok(maildir_quota_read(md, &q) == 1 && q.maxbytes == 3000 && q.count == 30,
	    "maildir_quota_read recounts in memory: %lld messages", q.count);
	ok(getfile(ms, x, sizeof x) && strcmp(x, "3000S\n") == 0, "and leaves the file alone");
	q.maxbytes = 7;
	ok(maildir_quota_count(md, &q) == 1 && q.bytes == 1030 && q.count == 30 && q.maxbytes == 7,
	    "maildir_quota_count counts the files, folders too: %lld bytes %lld messages", q.bytes, q.count);
	ok(getfile(ms, x, sizeof x) && strcmp(x, "3000S\n") == 0, "and writes nothing");
	snprintf(path, sizeof path, "%s/nosuchmaildir", dir);
	errno = 0;
	ok(maildir_quota_count(path, &q) == 0 && errno == ENOENT, "no Maildir there: 0 and ENOENT");

	/* hostile maildirsize: not a regular file */
	ok(unlink(ms) == 0 && mkdir(ms, 0700) == 0, "maildirsize a directory");
	lseek(in, 0, SEEK_SET);
	ok(maildir_deliver(md, "", 0, in, NULL) == 0 && errno != EDQUOT, "temporary failure, not a bounce");
	ok(rmdir(ms) == 0, "removed");
	ok(maildir_quota_add(md, 1, 1) == 1 && access(ms, F_OK) == -1, "add without the file creates nothing");
	(void)dir;
}

static int
name_ok(const char *s)
{
	const char *p = s;

	if (*p < '0' || *p > '9')
		return 0;
	while (*p >= '0' && *p <= '9')
		p++;
	if (strncmp(p, ".M", 2))
		return 0;
	for (p += 2; *p >= '0' && *p <= '9'; p++)
		;
	if (*p++ != 'P')
		return 0;
	while (*p >= '0' && *p <= '9')
		p++;
	if (*p == 'Q')
		for (p++; *p >= '0' && *p <= '9'; p++)
			;
	if (*p++ != '.' || *p == 0)
		return 0;
	return strchr(p, '/') == NULL && strchr(p, ':') == NULL;
}

int
main(void)
{
	char dir[128];
	char md[160], sub[200], path[300], got[200];
	struct str name = STR_ZERO, where = STR_ZERO, prev = STR_ZERO;
	const char body[] = "Subject: x\n\nbody\n";
	int in, fd, i, distinct = 1;
	ssize_t r;

	if (!tap_tmpname(dir, sizeof dir, "lib-maildir"))
		return 1;
	if (!mkdtemp(dir))
		return perror("mkdtemp"), 1;
	snprintf(md, sizeof md, "%s/Maildir", dir);
	ok(maildir_make(md) == 1, "maildir_make");
	ok(maildir_make(md) == 1, "maildir_make on an existing Maildir");
	snprintf(sub, sizeof sub, "%s/cur", md);
	ok(count(sub) == 0, "cur/ exists");

	i = maildir_name(&name, 0);
	ok(i == 1 && name_ok(name.s), "name %s", name.s);
	i = maildir_name(&name, 7);
	ok(i == 1 && strstr(name.s, "Q7.") != NULL && name_ok(name.s), "retry name %s", name.s);

	snprintf(path, sizeof path, "%s/input", dir);
	if ((fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600)) == -1 ||
	    write(fd, body, sizeof body - 1) != (ssize_t)(sizeof body - 1))
		return perror("input"), 1;
	in = fd;
	for (i = 0; i < 20; i++) {
		lseek(in, 0, SEEK_SET);
		if (maildir_deliver(md, "Return-Path: <a@b>\n", 19, in, &where) != 1)
			break;
		if (prev.len && prev.len == where.len && memcmp(prev.s, where.s, prev.len) == 0)
			distinct = 0;
		str_copyb(&prev, where.s, where.len);
	}
	ok(i == 20, "20 deliveries in a row");
	snprintf(sub, sizeof sub, "%s/new", md);
	ok(count(sub) == 20 && distinct, "20 distinct names in new/");
	snprintf(sub, sizeof sub, "%s/tmp", md);
	ok(count(sub) == 0, "tmp/ is empty afterwards");

	{
		unsigned long long w = 0;

		ok(maildir_name_wsize(where.s, &w) == 1 && w == 19 + 1 + sizeof body - 1 + 3,
		    "the new/ name carries the CRLF size: %s", where.s);
	}
	snprintf(path, sizeof path, "%s/%s", md, where.s);
	fd = open(path, O_RDONLY);
	r = fd == -1 ? -1 : read(fd, got, sizeof got);
	ok(r == 19 + (ssize_t)sizeof body - 1 && memcmp(got, "Return-Path: <a@b>\n", 19) == 0 &&
	    memcmp(got + 19, body, sizeof body - 1) == 0, "content: header then the message");
	if (fd != -1)
		close(fd);

	/* from the current offset */
	lseek(in, 12, SEEK_SET);
	ok(maildir_deliver(md, "", 0, in, &where) == 1, "delivery from an offset");
	snprintf(path, sizeof path, "%s/%s", md, where.s);
	fd = open(path, O_RDONLY);
	r = fd == -1 ? -1 : read(fd, got, sizeof got);
	ok(r == 5 && memcmp(got, "body\n", 5) == 0, "only the rest of the input");
	if (fd != -1)
		close(fd);

	/* failures leave nothing behind */
	snprintf(path, sizeof path, "%s/nonexistent", dir);
	errno = 0;
	ok(maildir_deliver(path, "x", 1, in, NULL) == 0 && errno == ENOENT, "missing Maildir: ENOENT");
	ok(maildir_deliver(md, "x", 1, -1, NULL) == 0, "unreadable input fails");
	snprintf(sub, sizeof sub, "%s/tmp", md);
	ok(count(sub) == 0, "tmp/ is empty after a failed delivery");
	snprintf(sub, sizeof sub, "%s/new", md);
	ok(count(sub) == 21, "new/ holds only the complete messages");
	crlf_tests();
	quota_tests(dir, md, in);
	snprintf(path, sizeof path, "rm -rf '%s'", dir);
	if (system(path) != 0)
		ok(0, "cleanup");
	close(in);
	str_free(&name);
	str_free(&where);
	str_free(&prev);
	return tap_done();
}
