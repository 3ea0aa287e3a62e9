/* fsync.c - files made durable one at a time; see fsync.h */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

#include "fsync.h"
#include "str.h"

int
fsync_one(int fd)
{
	int r;

	do
		r = fsync(fd);
	while (r == -1 && errno == EINTR);
	return r == 0;
}

int
sync_each(const int *fd, int *ok, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		ok[i] = 0;
	for (i = 0; i < n; i++)
		if (!(ok[i] = fsync_one(fd[i])))
			return 0;
	return 1;
}

int
fsync_dir_of(const char *fn)
{
	struct str dir = STR_ZERO;
	size_t slash = str_rchrb(fn, strlen(fn), '/');
	int fd, r = -1, err;

	if (slash == strlen(fn)) {
		if (!str_copys(&dir, "."))
			return -1;
	} else if (!str_copyb(&dir, fn, slash ? slash : 1))
		return -1;
	if (!str_nul(&dir))
		goto done;
	if ((fd = open(dir.s, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) == -1)
		goto done;
	if (fsync(fd) == -1) {
		err = errno;
		(void)close(fd);
		errno = err;
		goto done;
	}
	if (close(fd) == -1)
		goto done;
	r = 0;
done:
	str_free(&dir);
	return r;
}
