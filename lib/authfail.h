/* authfail.h - failed logins counted across connections, in a file
 *
 * The counts file holds lines "COUNT LAST KEY": COUNT failures of KEY
 * (a login, a client address: the caller's choice, without newline),
 * the last at LAST (seconds since the epoch).  An attempt is counted
 * as a failure before its password is checked, under the lock file,
 * so that guesses made in parallel are all counted and those over the
 * limit are refused at once; the caller then takes the count back when
 * the password was right or the check ran into trouble.  The file is
 * read whole and replaced whole (see statefile.h); its contents are
 * parsed as untrusted.  qmail-webadmin counts per login and per
 * address, qmail-auth per address.
 */
#ifndef AUTHFAIL_H
#define AUTHFAIL_H

#include <stddef.h>
#include <sys/types.h>

struct authfail {
	const char *file;	/* the counts */
	const char *lock;	/* held while they are read and replaced */
	mode_t mode;		/* of both, when made */
	unsigned lockwait;	/* seconds to wait for the lock */
	unsigned long waitfirst;	/* the wait after the allowance is used */
	unsigned long waitmax;	/* doubled per failure since, at most this */
	unsigned long keep;	/* seconds a count lives after its last failure */
	unsigned long lines;	/* most lines kept: those with fewest go first */
	size_t filemax;		/* bytes of the file read at most */
};

struct authfail_key {
	const char *key;	/* NUL-ended, no newline; NULL: not counted */
	unsigned long allowed;	/* failures free of any wait */
	int clear;		/* a right password clears it (else: one back) */
};

enum authfail_op {
	AUTHFAIL_TRY,	/* an attempt: refused, or counted as a failure */
	AUTHFAIL_OK,	/* its password was right */
	AUTHFAIL_UNDO	/* its check ran into trouble */
};

struct authfail_result {
	unsigned long wait;	/* AUTHFAIL_TRY refused: seconds left */
	size_t which;		/* and the first key over its limit */
	const char *failed;	/* trouble: "unable to lock " ... */
	const char *fn;		/* and the file it names */
};

/* authfail_update - op for keys k[0..n) at time now.  AUTHFAIL_TRY: 0
 * when a key must still wait (r->wait, r->which; nothing counted), else
 * 1 with the attempt counted for every key.  AUTHFAIL_OK: each key's
 * count cleared (clear set) or one taken back; AUTHFAIL_UNDO: one taken
 * back; 1.  -1 trouble, with errno, and r->failed and r->fn for the
 * message ("unable to lock " FILE, "unable to read " ...). */
int authfail_update(const struct authfail *af, const struct authfail_key *k,
    size_t n, enum authfail_op op, unsigned long now,
    struct authfail_result *r);

/* authfail_wait - seconds that count failures, the last at last, must
 * still wait at now when allowed failures are free: af->waitfirst
 * after the last, doubled by each failure beyond the allowance, at
 * most af->waitmax; 0 none */
unsigned long authfail_wait(const struct authfail *af, unsigned long count,
    unsigned long last, unsigned long allowed, unsigned long now);

#endif
