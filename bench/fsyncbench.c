/* fsyncbench.c - the disk's own limit for a durable queue: how many small
 * files per second can be created durably, the way a queue does it
 *
 *	fsyncbench DIR WRITERS SECONDS [SIZE]
 *
 * Each of WRITERS processes, in its own subdirectory of DIR, repeats for
 * SECONDS: write SIZE bytes (default 4096) to a new temporary file, fsync
 * it, rename it to its final name, fsync the directory (so the rename is
 * durable), then unlink it (unlinks are not synced: the next create's
 * directory fsync carries them).  Prints "WRITERS creates/s" on stdout.
 * Exit 0, or 111 on any failure.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define MAXWRITERS 1000

static void
fail(const char *what, const char *path)
{
	fprintf(stderr, "fsyncbench: fatal: %s %s: %s\n", what, path, strerror(errno));
	exit(111);
}

static double
now(void)
{
	struct timespec ts;

	if (clock_gettime(CLOCK_MONOTONIC, &ts) == -1)
		fail("clock_gettime", "");
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void
path(char *out, size_t n, const char *dir, unsigned w, const char *name, unsigned long i)
{
	int r = snprintf(out, n, "%s/w%u/%s%lu", dir, w, name, i);

	if (r < 0 || (size_t)r >= n) {
		fprintf(stderr, "fsyncbench: fatal: path too long: %s\n", dir);
		exit(111);
	}
}

/* writer - create files until the deadline; the count goes out on fd */
static void
writer(const char *dir, unsigned w, double end, size_t size, int fd)
{
	char d[4096], tmp[4096], fin[4096];
	char *data = malloc(size ? size : 1);
	unsigned long i;
	int dfd;

	if (!data)
		fail("malloc", "");
	memset(data, 'x', size);
	path(d, sizeof d, dir, w, "", 0);
	d[strlen(d) - 1] = 0;	/* ".../wN/" */
	if (mkdir(d, 0700) == -1 && errno != EEXIST)
		fail("mkdir", d);
	dfd = open(d, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd == -1)
		fail("open", d);
	for (i = 0; now() < end; i++) {
		int f;
		size_t off = 0;

		path(tmp, sizeof tmp, dir, w, "tmp", i);
		path(fin, sizeof fin, dir, w, "new", i);
		f = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
		if (f == -1)
			fail("open", tmp);
		while (off < size) {
			ssize_t r = write(f, data + off, size - off);

			if (r == -1) {
				if (errno == EINTR)
					continue;
				fail("write", tmp);
			}
			off += (size_t)r;
		}
		if (fsync(f) == -1)
			fail("fsync", tmp);
		if (close(f) == -1)
			fail("close", tmp);
		if (rename(tmp, fin) == -1)
			fail("rename", tmp);
		if (fsync(dfd) == -1)
			fail("fsync", d);
		if (unlink(fin) == -1)
			fail("unlink", fin);
	}
	if (write(fd, &i, sizeof i) != (ssize_t)sizeof i)
		fail("write", "pipe");
	exit(0);
}

int
main(int argc, char **argv)
{
	unsigned long writers, total = 0, got;
	double secs, start, end;
	size_t size = 4096;
	int p[2];
	unsigned w;

	if (argc < 4 || argc > 5) {
		fprintf(stderr, "usage: fsyncbench DIR WRITERS SECONDS [SIZE]\n");
		return 100;
	}
	writers = strtoul(argv[2], 0, 10);
	secs = strtod(argv[3], 0);
	if (argc == 5)
		size = (size_t)strtoul(argv[4], 0, 10);
	if (writers < 1 || writers > MAXWRITERS || !(secs > 0 && secs < 3600) || size > 1 << 24) {
		fprintf(stderr, "fsyncbench: fatal: bad arguments\n");
		return 100;
	}
	if (pipe(p) == -1)
		fail("pipe", "");
	start = now();
	end = start + secs;
	for (w = 0; w < writers; w++) {
		pid_t pid = fork();

		if (pid == -1)
			fail("fork", "");
		if (pid == 0) {
			close(p[0]);
			writer(argv[1], w, end, size, p[1]);
		}
	}
	close(p[1]);
	for (w = 0; w < writers; w++) {
		if (read(p[0], &got, sizeof got) != (ssize_t)sizeof got) {
			fprintf(stderr, "fsyncbench: fatal: a writer failed\n");
			return 111;
		}
		total += got;
	}
	for (w = 0; w < writers; w++) {
		int st;

		if (wait(&st) == -1 || !WIFEXITED(st) || WEXITSTATUS(st) != 0) {
			fprintf(stderr, "fsyncbench: fatal: a writer failed\n");
			return 111;
		}
	}
	printf("%lu %.0f\n", writers, (double)total / (now() - start));
	return 0;
}
