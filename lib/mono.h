/* mono.h - a clock no one sets, for deadlines and time limits
 *
 * CLOCK_MONOTONIC does not jump when the administrator or NTP sets the
 * time, so a deadline computed from it neither expires at once nor
 * never.
 */
#ifndef MONO_H
#define MONO_H

/* mono_ms - milliseconds of CLOCK_MONOTONIC.  It cannot fail on a
 * POSIX.1-2008 system; if it did, 0, and every wait built on it still
 * ends at its own timeout. */
long long mono_ms(void);

#endif
