/* maildir.h - delivering one message into a Maildir (see maildir(5))
 *
 * The message goes into DIR/tmp/NAME, is synced to disk, then linked
 * to DIR/new/NAME and removed from tmp/; only a complete, durable file
 * ever appears in new/.  NAME is "SECONDS.MmicrosecondsPpid.HOST" with
 * "Qn" after the pid when one process delivers more than once in the
 * same microsecond; HOST is the host name with "/" written as "\057"
 * and ":" as "\072", so the name is unique across hosts and processes.
 */
#ifndef MAILDIR_H
#define MAILDIR_H

#include <stddef.h>

#include "str.h"

/* maildir_name - a new unique name (without directory) into name; 1 or 0 with errno */
int maildir_name(struct str *name, unsigned long attempt);

/* maildir_deliver - hdr (hn bytes), then fd from its current offset to
 * end of file, into the Maildir dir.  1 delivered, with the new/ file's
 * path relative to dir in *where (may be NULL); 0 with errno, and nothing
 * left behind in tmp/ or new/. */
int maildir_deliver(const char *dir, const char *hdr, size_t hn, int fd, struct str *where);

/* maildir_make - create dir with tmp/ new/ cur/ (mode 0700); an existing
 * complete Maildir is fine.  1 or 0 with errno. */
int maildir_make(const char *dir);

#endif
