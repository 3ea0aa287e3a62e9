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

/* mono_left - milliseconds from now to end, a mono_ms() time: 0 once
 * it has passed, at most INT_MAX, so that it serves as poll(2)'s
 * timeout.  A deadline kept so is kept to the millisecond; one counted
 * in whole seconds ends up to a second early. */
int mono_left(long long end);

#endif
