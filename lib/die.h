/* die.h - fatal errors, warnings and the exit codes every program uses
 *
 * die_init(argv[0]) once in main; afterwards
 *	die(EXIT_TEMP, "unable to read ", fn);
 * prints "prog: fatal: unable to read FN" on stderr and exits 111, and
 *	die_sys(EXIT_TEMP, "unable to read ", fn);
 * adds ": " and strerror(errno).  warn and warn_sys print "prog: warning:"
 * and return.  The arguments are C strings; the macros add the NULL.
 */
#ifndef DIE_H
#define DIE_H

#define EXIT_OK 0
#define EXIT_PERM 100
#define EXIT_TEMP 111

void die_init(const char *argv0);
const char *die_progname(void);

void die_(int code, int sys, const char *, ...) __attribute__((noreturn));
void warn_(int sys, const char *, ...);

#define die(code, ...) die_((code), 0, __VA_ARGS__, (const char *)0)
#define die_sys(code, ...) die_((code), 1, __VA_ARGS__, (const char *)0)
#define warn(...) warn_(0, __VA_ARGS__, (const char *)0)
#define warn_sys(...) warn_(1, __VA_ARGS__, (const char *)0)
#define die_nomem() die(EXIT_TEMP, "out of memory")

#endif
