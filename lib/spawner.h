/* spawner.h - the loop that qmail-lspawn and qmail-rspawn share
 *
 * qmail-send writes requests on descriptor 0: NUL-terminated fields, the
 * request ended by an empty field:
 *	slot NUL id NUL field... NUL NUL
 * where every further field starts with a tag letter, so none is empty,
 * slot is qmail-send's number for the delivery and id the queue id
 * of the message.  The spawner opens queue/mess/S/ID as the child's
 * descriptor 0, captures the child's descriptor 1, and once the child
 * has exited answers on descriptor 1 in one write:
 *	slot NUL (letter text NUL) once per recipient of the request
 * letter K delivered, Z temporary failure, D permanent failure; text is
 * printable ASCII.  End of file on descriptor 0: the spawner waits for
 * its children and returns.
 */
#ifndef SPAWNER_H
#define SPAWNER_H

#include <sys/types.h>

#include "str.h"

#define SPAWNER_SLOTS 1000	/* concurrent deliveries accepted */
/* bytes of a child's report kept: room for qmail-remote's 1000
 * recipients' records and the message's, each at most 1 + 1000 + 1 */
#define SPAWNER_OUTMAX (1001 * 1002)

struct spawner_ops {
	/* rcpts - how many recipients field f[0..nf) names (nf excludes slot
	 * and id); 0 rejects the request as malformed */
	size_t (*rcpts)(void *ctx, char **f, size_t nf);
	/* start - begin the delivery: 1 with *pid set, or 0 having put the
	 * whole answer (records only) in *res */
	int (*start)(void *ctx, char **f, size_t nf, int msgfd, int outfd,
	    pid_t *pid, struct str *res);
	/* finish - the answer records for a child's wait status and report;
	 * overdue: the spawner killed it past its time limit, and out is
	 * the spawner's reason, not what the child wrote */
	void (*finish)(void *ctx, char **f, size_t nf, int status, int overdue,
	    const char *out, size_t outlen, struct str *res);
};

/* spawner_run - serve until end of file on descriptor 0; returns 0, or
 * 111 after a fatal error it has reported.  A child that runs longer
 * than limit seconds (0: no limit) is killed (SIGKILL), and its report
 * says so. */
int spawner_run(const struct spawner_ops *, void *ctx, unsigned long limit);

/* spawner_record - append letter, text cleaned to printable ASCII (at
 * most 1000 bytes) and a NUL to res; 1 or 0 */
int spawner_record(struct str *res, char letter, const char *text, size_t n);

/* spawner_crash - out becomes the text for a child prog that did not
 * exit (wait status status): "prog was killed by signal N", then, when
 * n > 0, "; it had said: " and said[0..n).  What a child wrote before
 * it was killed can be a whole report of success; first saying what
 * became of it keeps that from reading as the reason for a deferral.
 * 1, or 0 (ENOMEM) */
int spawner_crash(struct str *out, const char *prog, int status, const char *said, size_t n);

#endif
