/* lib-seekable - a message made readable more than once: a file rewound
 * in place, a pipe copied into an unlinked, close-on-exec file in
 * $TMPDIR (else /tmp), failures told apart */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "seekable.h"
#include "tap.h"

#define BIG 300000	/* more than a pipe holds */

static char pat[BIG];

/* entries - files in dir */
static int
entries(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	int n = 0;

	if (d == NULL)
		return -1;
	while ((e = readdir(d)) != NULL)
		if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0)
			n++;
	closedir(d);
	return n;
}

/* feeder - the read end of a pipe a child fills with n bytes of pat */
static int
feeder(size_t n, pid_t *pid)
{
	int p[2];
	size_t off = 0;
	ssize_t w;

	if (pipe(p) == -1 || (*pid = fork()) == -1)
		return -1;
	if (*pid == 0) {
		close(p[0]);
		while (off < n && (w = write(p[1], pat + off, n - off)) > 0)
			off += (size_t)w;
		_exit(off == n ? 0 : 1);
	}
	close(p[1]);
	return p[0];
}

/* same - fd holds exactly pat[0..n) from where it is */
static int
same(int fd, size_t n)
{
	static char got[BIG + 1];
	size_t have = 0;
	ssize_t r;

	while ((r = read(fd, got + have, sizeof got - have)) > 0)
		have += (size_t)r;
	return r == 0 && have == n && memcmp(got, pat, n) == 0;
}

int
main(void)
{
	char dir[256], fn[300], none[300];
	struct seekable s;
	struct stat st;
	size_t i;
	pid_t pid;
	int fd, st_;

	for (i = 0; i < sizeof pat; i++)
		pat[i] = (char)("abcdefghij\n"[i % 11]);
	if (!tap_tmpname(dir, sizeof dir, "lib-seekable") || mkdtemp(dir) == NULL)
		return 1;
	if (setenv("TMPDIR", dir, 1) == -1)
		return 1;

	/* a file: rewound, no copy */
	snprintf(fn, sizeof fn, "%s/msg", dir);
	fd = open(fn, O_RDWR | O_CREAT | O_TRUNC, 0600);
	ok(fd != -1 && write(fd, pat, 1000) == 1000, "a message file");
	ok(seekable_open(&s, fd, "t") == 1 && s.fd == fd && same(s.fd, 1000),
	    "a file is itself, rewound to its start");
	close(fd);
	unlink(fn);

	/* a pipe: a copy in $TMPDIR that nobody else can see */
	fd = feeder(BIG, &pid);
	ok(seekable_open(&s, fd, "t") == 1 && s.fd != fd && strcmp(s.dir, dir) == 0,
	    "a pipe is copied into $TMPDIR");
	ok(waitpid(pid, &st_, 0) == pid && st_ == 0, "all of it was read");
	ok(same(s.fd, BIG) && lseek(s.fd, 0, SEEK_SET) == 0 && same(s.fd, BIG),
	    "the copy holds the message, and reads again after a rewind");
	ok(fstat(s.fd, &st) == 0 && st.st_nlink == 0 && entries(dir) == 0,
	    "the copy is unlinked: nothing left in the directory");
	ok((fcntl(s.fd, F_GETFD) & FD_CLOEXEC) != 0, "and close-on-exec");
	close(s.fd);
	close(fd);

	/* $TMPDIR missing, or relative: /tmp */
	snprintf(none, sizeof none, "%s/none", dir);
	setenv("TMPDIR", none, 1);
	fd = feeder(5000, &pid);
	ok(seekable_open(&s, fd, "t") == 1 && strcmp(s.dir, "/tmp") == 0 && same(s.fd, 5000),
	    "$TMPDIR that does not exist: /tmp");
	waitpid(pid, &st_, 0);
	close(s.fd);
	close(fd);
	setenv("TMPDIR", "relative", 1);
	fd = feeder(10, &pid);
	ok(seekable_open(&s, fd, "t") == 1 && strcmp(s.dir, "/tmp") == 0 && same(s.fd, 10),
	    "a relative $TMPDIR: /tmp");
	waitpid(pid, &st_, 0);
	close(s.fd);
	close(fd);
	unsetenv("TMPDIR");
	fd = feeder(0, &pid);
	ok(seekable_open(&s, fd, "t") == 1 && strcmp(s.dir, "/tmp") == 0 && same(s.fd, 0),
	    "no $TMPDIR, an empty message: /tmp, an empty copy");
	waitpid(pid, &st_, 0);
	close(s.fd);
	close(fd);

	/* failures told apart */
	setenv("TMPDIR", dir, 1);
	{
		int p[2];

		ok(pipe(p) == 0 && seekable_open(&s, p[1], "t") == 0 && s.failed == SEEKABLE_READ &&
		    s.fd == -1 && entries(dir) == 0, "an unreadable pipe: a read failure, nothing left");
		close(p[0]);
		close(p[1]);
	}
	ok(seekable_open(&s, 1000, "t") == 0 && s.failed == SEEKABLE_REWIND && errno == EBADF,
	    "a closed descriptor: a rewind failure");
	rmdir(dir);
	return tap_done();
}
