/* statefile.h - small state files that several processes share: read
 * and replaced under a lock file, replaced whole so that a reader never
 * sees half of one
 *
 * File names are taken as given (programs chdir to the install root
 * first).  Both functions give the files they make exactly the mode
 * asked for, whatever the umask: a file that two service users share
 * through their group must stay writable by that group.
 */
#ifndef STATEFILE_H
#define STATEFILE_H

#include <stddef.h>
#include <sys/types.h>

/* statefile_lock - the lock file fn (made with mode when missing),
 * locked: its descriptor, closing it unlocks.  -1 with errno when it
 * cannot be opened, or not locked within seconds (ETIMEDOUT).  It asks
 * again every 10 ms rather than blocking, so a lock held for long (a
 * backup) costs the caller only the wait it chose. */
int statefile_lock(const char *fn, mode_t mode, unsigned seconds);

/* statefile_write - fn replaced by data[0..n), mode mode, through
 * fn.tmp and rename: 1, or 0 with errno and nothing half written.
 * fn.tmp must be the caller's alone (it holds the lock that guards fn,
 * or fn is a name nobody else writes); one a crash left behind,
 * whoever's, is removed first.  Without fsync of the directory: the
 * rename may be lost in a crash, and the old fn stays. */
int statefile_write(const char *fn, const char *data, size_t n, mode_t mode);

#endif
