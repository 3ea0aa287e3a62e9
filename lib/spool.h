/* spool.h - the body of a message on its way through a queue filter,
 * in memory that does not grow with it
 *
 * The first SPOOL_MEM bytes stay in memory; once there are more, they
 * go to a temporary file in $TMPDIR (else /tmp), which is unlinked as
 * soon as it is made, so that nothing is left behind whatever happens,
 * and which the next queue program does not inherit.  Afterwards the
 * whole body is copied out, the file first, then what is in memory.
 */
#ifndef SPOOL_H
#define SPOOL_H

#include <stddef.h>

#define SPOOL_MEM 65536		/* bytes kept in memory */

struct spool {
	const char *dir;	/* of the temporary file */
	const char *prefix;	/* its name: prefix.XXXXXX */
	int fd;			/* -1 until the body outgrows buf */
	size_t len;		/* bytes in buf, after those in the file */
	char buf[SPOOL_MEM];
};

/* spool_init - an empty spool whose file, when needed, is named after
 * prefix (a string that must outlive the spool) */
void spool_init(struct spool *, const char *prefix);
/* spool_add - p[0..n) appended; 1, else 0 with errno when the file
 * could not be written, -1 with errno when it could not be made */
int spool_add(struct spool *, const char *p, size_t n);
/* spool_copy - everything appended, to fd, read back through step
 * (room for stepn bytes); 1, else 0 with errno when writing to fd
 * failed, -1 with errno when the file could not be read back */
int spool_copy(struct spool *, int fd, char *step, size_t stepn);

/* for the filter itself (these die, through die.h, with qqfilter.h's
 * codes, as qq_pass does):
 * spool_put - spool_add; exit QQ_WRITE when the file cannot be made or
 * written.
 * spool_pass - run the next queue program ($NEXTQUEUE, else
 * bin/qmail-queue) with the message made of part[0..nparts) (each
 * len[i] bytes) and then the spool, and the envelope; its exit code.
 * Exit QQ_READ when the file cannot be read back (the program is then
 * given no envelope, and queues nothing), QQ_REFUSE when the program
 * could not be run or fed. */
void spool_put(struct spool *, const char *p, size_t n);
int spool_pass(const char *const *part, const size_t *len, size_t nparts, struct spool *,
    const char *env, size_t envlen, char *step, size_t stepn);

#endif
