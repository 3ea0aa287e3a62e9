/* lib-lcdb - unit tests for lib/lcdb: build, look up, atomic replace,
 * missing, empty and damaged files, links left where NAME.tmp goes */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "lcdb.h"
#include "tap.h"

static int
same(const struct str *s, const char *p, size_t n)
{
	return s->len == n && (n == 0 || memcmp(s->s, p, n) == 0);
}

/* victim_ok - the file fn still holds exactly "victim\n" */
static int
victim_ok(const char *fn)
{
	char x[64];
	ssize_t r;
	int fd;

	if ((fd = open(fn, O_RDONLY)) == -1)
		return 0;
	r = read(fd, x, sizeof x);
	close(fd);
	return r == 7 && memcmp(x, "victim\n", 7) == 0;
}

static int
build(const char *fn, const char *val)
{
	struct lcdb_make m;
	char key[32];
	int i;

	if (!lcdb_make_start(&m, fn))
		return 0;
	if (!lcdb_make_add(&m, "key", 3, val, strlen(val)) ||
	    !lcdb_make_add(&m, "n\0ul", 4, "v\0v", 3) ||
	    !lcdb_make_add(&m, "", 0, "empty key", 9) ||
	    !lcdb_make_add(&m, "dup", 3, "first", 5) ||
	    !lcdb_make_add(&m, "dup", 3, "second", 6)) {
		lcdb_make_abort(&m);
		return 0;
	}
	for (i = 0; i < 1000; i++) {
		snprintf(key, sizeof key, "k%d", i);
		if (!lcdb_make_add(&m, key, strlen(key), key + 1, strlen(key + 1))) {
			lcdb_make_abort(&m);
			return 0;
		}
	}
	return lcdb_make_finish(&m);
}

int
main(void)
{
	char dir[512], fn[600], tmp[600], big[4096], victim[600], gone[600], sub[600];
	struct str v = STR_ZERO;
	struct lcdb d, old;
	struct lcdb_make m;
	struct stat st;
	int fd, r, dfd;

	/* make check points TMPDIR into its scratch directory */
	snprintf(dir, sizeof dir, "%s/lib-lcdb.XXXXXX", getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
	if (mkdtemp(dir) == NULL) {
		perror("mkdtemp");
		return 1;
	}
	snprintf(fn, sizeof fn, "%s/t.cdb", dir);
	snprintf(tmp, sizeof tmp, "%s/t.cdb.tmp", dir);

	ok(lcdb_lookup(fn, "key", 3, &v) == 0, "missing file: 0");
	ok(lcdb_open(&d, fn) == 0, "open missing: 0");
	lcdb_close(&d);
	ok(1, "closing a never-opened lcdb is harmless");

	ok(build(fn, "one"), "build");
	ok(stat(tmp, &st) == -1 && errno == ENOENT, "no .tmp left");
	ok(lcdb_lookup(fn, "key", 3, &v) == 1 && same(&v, "one", 3), "lookup");
	ok(lcdb_lookup(fn, "kex", 3, &v) == 0, "absent key: 0");
	ok(lcdb_lookup(fn, "ke", 2, &v) == 0, "prefix of a key: 0");
	ok(lcdb_lookup(fn, "n\0ul", 4, &v) == 1 && same(&v, "v\0v", 3), "NULs in key and value");
	ok(lcdb_lookup(fn, "n", 1, &v) == 0, "key cut at its NUL: 0");
	ok(lcdb_lookup(fn, "", 0, &v) == 1 && same(&v, "empty key", 9), "empty key");
	ok(lcdb_lookup(fn, "dup", 3, &v) == 1 && same(&v, "first", 5), "duplicate key: the first value");
	ok(lcdb_lookup(fn, "k999", 4, &v) == 1 && same(&v, "999", 3), "1000th key");

	/* atomic replace: an open reader keeps the old file */
	ok(lcdb_open(&old, fn) == 1, "reader opens the old file");
	ok(build(fn, "two"), "rebuild");
	ok(lcdb_get(&old, "key", 3, &v) == 1 && same(&v, "one", 3), "the open reader still sees the old value");
	lcdb_close(&old);
	ok(lcdb_lookup(fn, "key", 3, &v) == 1 && same(&v, "two", 3), "a new reader sees the new value");

	/* an aborted rebuild leaves the old file and no .tmp */
	ok(lcdb_make_start(&m, fn) == 1 && lcdb_make_add(&m, "key", 3, "three", 5), "start a third build");
	ok(stat(tmp, &st) == 0, ".tmp exists while building");
	lcdb_make_abort(&m);
	ok(stat(tmp, &st) == -1 && errno == ENOENT, "abort removes .tmp");
	ok(lcdb_lookup(fn, "key", 3, &v) == 1 && same(&v, "two", 3), "abort keeps the old file");

	/* failures */
	errno = 0;
	ok(lcdb_make_start(&m, "/nonexistent-dir/x.cdb") == 0 && errno == ENOENT, "start in a missing directory: 0 ENOENT");
	ok(lcdb_make_start(&m, fn) == 1, "start again");
	errno = 0;
	ok(lcdb_make_add(&m, "k", (size_t)0x80000000UL, "v", 1) == 0 && errno == EFBIG, "key over 2^31: EFBIG");
	lcdb_make_abort(&m);

	/* damaged files: empty, short, garbage pointing past the end */
	snprintf(tmp, sizeof tmp, "%s/bad.cdb", dir);
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	close(fd);
	ok(lcdb_lookup(tmp, "key", 3, &v) == -1, "empty file: -1");
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	memset(big, 0xff, sizeof big);
	r = (int)write(fd, big, sizeof big);
	close(fd);
	ok(r == (int)sizeof big, "write a garbage file");
	r = lcdb_lookup(tmp, "key", 3, &v);
	ok(r == -1 || r == 0, "garbage cdb: no crash, no value (got %d)", r);
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	r = (int)write(fd, big, 100);
	close(fd);
	ok(lcdb_lookup(tmp, "key", 3, &v) == -1, "short file: -1");
	if (geteuid() != 0) {
		chmod(fn, 0);
		ok(lcdb_lookup(fn, "key", 3, &v) == -1 && errno == EACCES, "unreadable: -1 EACCES");
	} else
		ok(1, "# skip unreadable file: root reads every file");

	/* NAME.tmp is made new: a link left there is not written through */
	snprintf(victim, sizeof victim, "%s/victim", dir);
	snprintf(tmp, sizeof tmp, "%s/t.cdb.tmp", dir);
	fd = open(victim, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	r = (int)write(fd, "victim\n", 7);
	close(fd);
	ok(r == 7 && symlink(victim, tmp) == 0, "a symbolic link where t.cdb.tmp goes");
	ok(build(fn, "four") && lcdb_lookup(fn, "key", 3, &v) == 1 && same(&v, "four", 4),
	    "the build still works");
	ok(victim_ok(victim), "and the link's target is untouched");
	ok(lstat(tmp, &st) == -1 && errno == ENOENT, "the link is gone");
	snprintf(gone, sizeof gone, "%s/nothing-here", dir);
	ok(symlink(gone, tmp) == 0 && build(fn, "five") && lstat(gone, &st) == -1 && errno == ENOENT,
	    "a dangling link: the build works, nothing is made where it pointed");
	ok(link(victim, tmp) == 0 && build(fn, "six") && victim_ok(victim),
	    "a hard link where t.cdb.tmp goes: its other name keeps its content");
	ok(lcdb_lookup(fn, "key", 3, &v) == 1 && same(&v, "six", 3), "and the cdb is the new one");
	ok(mkdir(tmp, 0700) == 0 && !build(fn, "seven") && lcdb_lookup(fn, "key", 3, &v) == 1 &&
	    same(&v, "six", 3), "a directory where t.cdb.tmp goes: the build fails, the old cdb stays");
	ok(rmdir(tmp) == 0, "the directory is left alone");

	/* lcdb_make_startat: names relative to an open directory */
	snprintf(sub, sizeof sub, "%s/sub", dir);
	ok(mkdir(sub, 0700) == 0 && (dfd = open(sub, O_RDONLY | O_DIRECTORY)) != -1, "a directory to build in");
	ok(lcdb_make_startat(&m, dfd, "s.cdb") == 1 && lcdb_make_add(&m, "a", 1, "b", 1) &&
	    lcdb_make_finish(&m) == 1, "startat, add, finish");
	snprintf(tmp, sizeof tmp, "%s/sub/s.cdb", dir);
	ok(lcdb_lookup(tmp, "a", 1, &v) == 1 && same(&v, "b", 1), "the cdb is in that directory");
	ok(lcdb_make_startat(&m, dfd, "s.cdb") == 1, "startat again");
	lcdb_make_abort(&m);
	snprintf(gone, sizeof gone, "%s/sub/s.cdb.tmp", dir);
	ok(lstat(gone, &st) == -1 && errno == ENOENT, "abort removes the .tmp in that directory");
	close(dfd);
	unlink(tmp);
	rmdir(sub);
	unlink(victim);
	snprintf(tmp, sizeof tmp, "%s/bad.cdb", dir);

	/* lcdb_make_finish_changed: the same bytes again leave the file as it is */
	{
		struct stat a, b;
		char t2[600];
		int changed = 7;

		snprintf(t2, sizeof t2, "%s/t.cdb.tmp", dir);
		ok(build(fn, "same") && stat(fn, &a) == 0, "a cdb");
		ok(lcdb_make_start(&m, fn) == 1 && lcdb_make_add(&m, "key", 3, "same", 4) &&
		    lcdb_make_finish_changed(&m, &changed) == 1 && changed == 1,
		    "finish_changed of other contents: changed");
		ok(stat(fn, &b) == 0 && b.st_ino != a.st_ino && lcdb_lookup(fn, "key", 3, &v) == 1 &&
		    same(&v, "same", 4), "a new file in place");
		ok(lcdb_make_start(&m, fn) == 1 && lcdb_make_add(&m, "key", 3, "same", 4) &&
		    lcdb_make_finish_changed(&m, &changed) == 1 && changed == 0,
		    "the same contents again: not changed");
		ok(stat(fn, &a) == 0 && a.st_ino == b.st_ino && lstat(t2, &a) == -1 && errno == ENOENT,
		    "the file there kept (same inode), no .tmp left");
		ok(lcdb_make_start(&m, fn) == 1 && lcdb_make_add(&m, "key", 3, "samf", 4) &&
		    lcdb_make_finish_changed(&m, NULL) == 1 && lcdb_lookup(fn, "key", 3, &v) == 1 &&
		    same(&v, "samf", 4), "one byte other, changed NULL: the new file");
		ok(unlink(fn) == 0 && symlink("/dev/null", fn) == 0 && lcdb_make_start(&m, fn) == 1 &&
		    lcdb_make_finish_changed(&m, &changed) == 1 && changed == 1 &&
		    lstat(fn, &a) == 0 && S_ISREG(a.st_mode), "a link in its place is replaced, never compared");
	}

	str_free(&v);
	unlink(fn);
	unlink(tmp);
	ok(chdir("/") == 0 && rmdir(dir) == 0, "scratch directory removed");
	return tap_done();
}
