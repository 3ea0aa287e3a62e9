/* spool.c - a message body kept in bounded memory; see spool.h
 *
 * The bytes are the message being queued, untrusted but only stored and
 * copied: nothing here looks into them.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "buf.h"
#include "die.h"
#include "env.h"
#include "qqfilter.h"
#include "seekable.h"
#include "spool.h"
#include "str.h"

void
spool_init(struct spool *sp, const char *prefix)
{
	sp->dir = env_get("TMPDIR");
	if (sp->dir == NULL || *sp->dir == 0)
		sp->dir = "/tmp";
	sp->prefix = prefix;
	sp->fd = -1;
	sp->len = 0;
}

/* spool_open - the temporary file (lib/seekable's), unlinked at once:
 * nobody else needs its name; 1, or 0 with errno */
static int
spool_open(struct spool *sp)
{
	return (sp->fd = seekable_temp(sp->dir, sp->prefix)) != -1;
}

int
spool_add(struct spool *sp, const char *p, size_t n)
{
	size_t k;

	while (n > 0) {
		if (sp->len == sizeof sp->buf) {
			if (sp->fd == -1 && !spool_open(sp))
				return -1;
			if (!fd_writeall(sp->fd, sp->buf, sp->len, 0))
				return 0;
			sp->len = 0;
		}
		k = sizeof sp->buf - sp->len;
		if (k > n)
			k = n;
		memcpy(sp->buf + sp->len, p, k);
		sp->len += k;
		p += k;
		n -= k;
	}
	return 1;
}

int
spool_copy(struct spool *sp, int fd, char *step, size_t stepn)
{
	long r;

	if (sp->fd != -1) {
		if (lseek(sp->fd, 0, SEEK_SET) == -1)
			return -1;
		for (;;) {
			r = fd_read(sp->fd, step, stepn, 0);
			if (r == -1 && errno == EINTR)
				continue;
			if (r == -1)
				return -1;
			if (r == 0)
				break;
			if (!fd_writeall(fd, step, (size_t)r, 0))
				return 0;
		}
	}
	return fd_writeall(fd, sp->buf, sp->len, 0);
}

void
spool_put(struct spool *sp, const char *p, size_t n)
{
	int r = spool_add(sp, p, n);

	if (r != 1 && errno == ENOMEM)
		die(QQ_NOMEM, "out of memory");
	if (r == -1)
		die_sys(QQ_WRITE, "unable to create a temporary file in ", sp->dir);
	if (r == 0)
		die_sys(QQ_WRITE, "unable to write a temporary file in ", sp->dir);
}

int
spool_pass(const char *const *part, const size_t *len, size_t nparts, struct spool *sp,
    const char *env, size_t envlen, char *step, size_t stepn)
{
	int mfd, efd, code, ok = 1, err = 0;
	size_t i;
	pid_t pid;

	if ((pid = qq_nextstart(&mfd, &efd)) == -1)
		die_sys(QQ_REFUSE, "unable to run the next queue program");
	for (i = 0; ok && i < nparts; i++)
		ok = fd_writeall(mfd, part[i], len[i], 0);
	if (ok && (ok = spool_copy(sp, mfd, step, stepn)) == -1) {
		/* no envelope: the queue program commits nothing */
		err = errno;
		(void)qq_close(mfd, efd, env, 0, 0);
		(void)qq_reap(pid);
		errno = err;
		die_sys(QQ_READ, "unable to read back the temporary file in ", sp->dir);
	}
	if (!qq_close(mfd, efd, env, envlen, ok))
		ok = 0, err = errno;
	/* a write that failed because it exited is told by its exit code */
	code = qq_reap(pid);
	if (code == -1 || (code == 0 && !ok)) {
		if (code == 0)
			errno = err;
		die_sys(QQ_REFUSE, "unable to run the next queue program");
	}
	/* no exit code to pass on: refused for now */
	if (code >= QQ_SIGNALED) {
		struct str why = STR_ZERO;

		if (!qq_failure(&why, "the next queue program", code))
			die(QQ_NOMEM, "out of memory");
		die(QQ_REFUSE, why.s);
	}
	return code;
}
