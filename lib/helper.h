/* helper.h - what the programs .qmail files call (preline, forward,
 * bouncesaying, condredirect, except) have in common: the environment
 * qmail-local sets for them, asking a program about the message, and
 * the note a forward leaves in qmail-local's report.
 *
 * These end the program, through die.h (die_init first), when they
 * cannot go on: 111, a failure that may pass, as qmail-command(8) has
 * it; the delivery is then tried again.
 */
#ifndef HELPER_H
#define HELPER_H

/* helper_env - the value of name, one qmail-local sets; exit 111 when it
 * is not set: the program was not run from a .qmail file */
const char *helper_env(const char *name);
/* helper_sender - the envelope sender of a forward: NEWSENDER, or
 * SENDER where an older qmail-local set no NEWSENDER; exit 111 when
 * neither is set */
const char *helper_sender(void);

/* helper_ask - run argv[0] (found through $PATH) with argv on the
 * message: our descriptor 0 as it is, our 1 and 2.  1 when it exits 0,
 * 0 when it exits with any code but 111.  Its 111 is passed on: we exit
 * 111, as we do when a signal ends it or it cannot be run.  One that
 * does not exist says neither yes nor no: when notdoing is set, a
 * warning "unable to run PROGRAM: no such program; not NOTDOING" and
 * exit 0, so that qmail-local goes on with the next line; else 111. */
int helper_ask(char *const argv[], const char *notdoing);

/* helper_forward - qq_forward (qqfilter.h) of the rest of descriptor 0,
 * dtline in front, from sender to addr[0..n); then "PROGRAM: qp PID" on
 * descriptor 1, the queue program's pid, which its Received line names,
 * so that qmail-local's report tells where the copy went */
void helper_forward(const char *sender, const char *dtline, char *const *addr, int n);

#endif
