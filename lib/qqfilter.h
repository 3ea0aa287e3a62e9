/* qqfilter.h - the plumbing of a qmail-queue filter: a program that
 * stands where qmail-queue is expected ($QMAILQUEUE), reads the message
 * on fd 0 and the envelope on fd 1 the same way, changes the message,
 * and hands the result to the next program: $NEXTQUEUE when set, else
 * bin/qmail-queue.  Its exit code is the filter's.  The same plumbing
 * serves every program that hands a new message to the queue
 * (qmail-local's forwards, qmail-inject, the .qmail helpers).
 *
 * Exit codes follow qmail-queue(8): QQ_PERM 31 (refused for good),
 * QQ_NOMEM 51, QQ_READ 54, QQ_CONF 55, QQ_REFUSE 71 (refused for now),
 * QQ_BUG 81, QQ_ENVELOPE 91.  A queue program that a signal ended has
 * no exit code: the functions that wait for one give QQ_SIGNALED plus
 * the signal's number instead, which no exit code (0-255) can be, and
 * which, not being 11-40, is a temporary failure to the callers.
 */
#ifndef QQFILTER_H
#define QQFILTER_H

#include <stddef.h>
#include <sys/types.h>

#include "str.h"

#define QQ_PERM 31
#define QQ_NOMEM 51
#define QQ_WRITE 53
#define QQ_READ 54
#define QQ_CONF 55
#define QQ_REFUSE 71
#define QQ_BUG 81
#define QQ_ENVELOPE 91
#define QQ_SIGNALED 256

/* qq_permanent - 1 when a queue program's exit code says the message is
 * refused for good (11-40, qmail-queue(8)), 0 when it may be tried again
 * (every other code, 0 and a signal's -1 included) */
int qq_permanent(int code);

/* qq_readall - everything on fd until end of file, appended to out;
 * 1 ok, 0 with errno */
int qq_readall(int fd, struct str *out);

/* qq_envelope_sender - the sender of envelope env[0..n) (F record)
 * into s and len; 0 when the envelope is malformed */
int qq_envelope_sender(const char *env, size_t n, const char **s, size_t *len);

/* qq_program - the queue program a message is handed to, into out as a
 * C string: $QMAILQUEUE when set and not empty, else the install root's
 * bin/qmail-queue, whatever the current directory; 1, or 0 (ENOMEM) */
int qq_program(struct str *out);

/* qq_spawn - run prog (qmail-queue, or a program that stands in for it)
 * with its descriptors 0 and 1 on new pipes: the message goes to *mfd,
 * then the envelope to *efd, each closed when complete; its descriptor 2
 * is ours (/dev/null when ours is closed).  The pipe ends are kept above
 * 2, so a caller started with descriptors 0-2 closed is served the same.
 * The pid, or -1 with errno.  The caller ignores SIGPIPE: a
 * queue program that ends early tells why by its exit code. */
pid_t qq_spawn(const char *prog, int *mfd, int *efd);
/* qq_close - the message is all written (ok, else 0 when its writing
 * failed): close *mfd, write the envelope to efd unless a write failed,
 * close efd.  1 when everything went through, else 0 with errno of the
 * first failure (the program's exit code usually tells more). */
int qq_close(int mfd, int efd, const char *env, size_t envlen, int ok);
/* qq_reap - wait for it: its exit code, QQ_SIGNALED + n when signal n
 * ended it, or -1 with errno when it could not be waited for */
int qq_reap(pid_t);

/* qq_strerror - what a queue program's exit code means (qmail-queue(8)) */
const char *qq_strerror(int code);
/* qq_failure - out becomes the C string that tells what the result
 * code (not 0, not -1) of the queue program prog means: "prog failed
 * with exit code N: why", or "prog was killed by signal N".  1, or 0
 * (ENOMEM) */
int qq_failure(struct str *out, const char *prog, int code);

/* qq_envelope - out becomes the envelope of a message from sender to
 * the n addresses addr[0..n): the F record, a T record each, the final
 * NUL.  1, or 0 with errno */
int qq_envelope(struct str *out, const char *sender, char *const *addr, int n);

/* qq_sendfd - feed the queue program qq_spawn started (pid, *mfd, *efd):
 * the message is head[0..headlen) (a Delivered-To line, say) and then
 * whatever is left on msgfd, never held whole; then the envelope
 * env[0..envlen).  Both pipes are closed and pid is waited for.  Returns
 * its exit code (0: it got everything and queued it), or QQ_SIGNALED + n
 * when signal n ended it; QQ_MSGREAD with errno when msgfd could not be
 * read, the queue program then having been given no envelope, so that
 * it queued nothing; -1 with errno when it could not be waited for, or
 * when it exited 0 though a write to it failed.  A queue program that
 * stops reading is told by its exit code: the caller ignores SIGPIPE. */
#define QQ_MSGREAD (-2)
int qq_sendfd(pid_t pid, int mfd, int efd, int msgfd, const char *head, size_t headlen,
    const char *env, size_t envlen);

/* qq_nextstart - qq_spawn of the next queue program ($NEXTQUEUE, else
 * bin/qmail-queue), SIGPIPE ignored first */
pid_t qq_nextstart(int *mfd, int *efd);

/* qq_next - run the next queue program with the message made of the
 * pieces part[0..nparts) (each len[i] bytes) and the envelope; returns
 * its exit code, QQ_SIGNALED + n when signal n ended it, or -1 with
 * errno when it could not be run or fed (a failed spawn or write) */
int qq_next(const char *const *part, const size_t *len, size_t nparts, const char *env, size_t envlen);

/* for the filter itself (these die, through die.h, on failure):
 * qq_input - the message (fd 0) into msg and the envelope (fd 1) into
 * env; exit QQ_READ when either cannot be read.
 * qq_pass - qq_next, the exit QQ_REFUSE when the next program could not
 * be run or fed, or a signal ended it; else its exit code */
void qq_input(struct str *msg, struct str *env);
int qq_pass(const char *const *part, const size_t *len, size_t nparts, const char *env, size_t envlen);

/* for the .qmail helpers forward and condredirect (this dies, through
 * die.h, on failure): qq_forward - a new message, dtline and then the
 * rest of descriptor 0, from sender to the n addresses addr[0..n),
 * through qq_program(), with SIGPIPE ignored from then on; exit 100 when
 * the queue program refused it for good (11-40), else 111 on any
 * trouble (a signal that ended it too).  Returns the queue program's pid
 * once the message is queued. */
pid_t qq_forward(const char *sender, const char *dtline, char *const *addr, int n);

#endif
