/* maildir.h - delivering one message into a Maildir (see maildir(5))
 *
 * The message goes into DIR/tmp/NAME, is synced to disk, then linked
 * to DIR/new/NAME and removed from tmp/; only a complete, durable file
 * ever appears in new/.  NAME is "SECONDS.MmicrosecondsPpid.HOST" with
 * "Qn" after the pid when one process delivers more than once in the
 * same microsecond; HOST is the host name with "/" written as "\057"
 * and ":" as "\072", so the name is unique across hosts and processes.
 * In new/ the name gets ",W=SIZE" after HOST: the message's size in
 * CRLF form (below), so that a POP3 server can list it without reading
 * it.
 */
#ifndef MAILDIR_H
#define MAILDIR_H

#include <stddef.h>

#include "str.h"

/* the size of a message as POP3 RETR sends it before dot-stuffing
 * (RFC 1939): every LF not after a CR counts one more, and a last line
 * without a LF gets a line end (a trailing CR just its LF) */
struct maildir_crlf {
	unsigned long long size;
	int cr;		/* the last byte so far was CR */
	int open;	/* the last byte so far was not LF */
};
#define MAILDIR_CRLF_ZERO { 0, 0, 0 }
/* maildir_crlf_put - count the next n bytes of the message */
void maildir_crlf_put(struct maildir_crlf *, const char *p, size_t n);
/* maildir_crlf_total - the size, with the final line end RETR adds */
unsigned long long maildir_crlf_total(const struct maildir_crlf *);

/* maildir_name_wsize - the ",W=SIZE" in a Maildir file name (only in
 * the part before ':'; 1 to 18 digits ended by ',', ':' or the end):
 * 1 with *size, 0 none.  Names are anyone's to choose: a caller
 * checks the size against the file's before it believes it. */
int maildir_name_wsize(const char *name, unsigned long long *size);

/* maildir_name - a new unique name (without directory) into name; 1 or 0 with errno */
int maildir_name(struct str *name, unsigned long attempt);

/* maildir_deliver - hdr (hn bytes), then fd from its current offset to
 * end of file, into the Maildir dir.  1 delivered, with the new/ file's
 * path relative to dir in *where (may be NULL); 0 with errno, and nothing
 * left behind in tmp/ or new/.  When dir/maildirsize sets a Maildir++
 * quota (see below) a message that would take the mailbox over it is
 * refused with errno EDQUOT (a file system's own quota shows as
 * ENOSPC); a delivered one adds its line to the file. */
int maildir_deliver(const char *dir, const char *hdr, size_t hn, int fd, struct str *where);

/* maildir_make - create dir with tmp/ new/ cur/ (mode 0700); an existing
 * complete Maildir is fine.  1 or 0 with errno. */
int maildir_make(const char *dir);

/* Maildir++ quotas: dir/maildirsize holds the limit on its first line,
 * "NNNS" (bytes), "NNNC" (messages) or both as "NNNS,NNNC", then lines
 * "bytes count" (negative for removals) whose sums are the usage.  The
 * sums are recounted from new/ and cur/ of the Maildir and its folders
 * (.NAME/) when the file is missing its usage lines, holds a malformed
 * line or negative sums, or is over MAILDIR_QUOTA_FILEMAX bytes; and by
 * a delivery whenever the sums say the message does not fit, so that a
 * lost line never bounces mail. */
#define MAILDIR_QUOTA_FILEMAX 5120

struct maildir_quota {
	unsigned long long maxbytes, maxcount;	/* 0: no limit of that kind */
	long long bytes, count;			/* usage */
	int stale;				/* the sums cannot be trusted */
};

/* maildir_quota_parse - maildirsize contents (n bytes at p, untrusted):
 * 1 a quota is set, with q filled; 0 none (empty or malformed first
 * line, or no limit in it) */
int maildir_quota_parse(const char *p, size_t n, struct maildir_quota *q);

/* maildir_quota_get - the quota and usage of the Maildir dir, recounted
 * and rewritten when stale; when the sums say size more bytes go over,
 * recounted too (and rewritten when the files disagree), so that
 * maildir_quota_over refuses only what the files confirm.  1 a quota is
 * set; 0 none (no maildirsize); -1 errno. */
int maildir_quota_get(const char *dir, struct maildir_quota *q, unsigned long long size);

/* maildir_quota_read - the same for a reader that must change nothing
 * (an administrator's listing): a stale file is recounted in memory */
int maildir_quota_read(const char *dir, struct maildir_quota *q);

/* maildir_quota_count - the usage of the Maildir dir counted from its
 * files, the way stale sums are recounted (new/ and cur/ and those of
 * its folders, a file's size from ",S=" in its name or else lstat):
 * 1 with q->bytes and q->count, the rest of q untouched; 0 with errno.
 * For a mailbox without maildirsize; it costs a look at every message. */
int maildir_quota_count(const char *dir, struct maildir_quota *q);

/* maildir_quota_over - 1 when one more message of size bytes would go
 * over the quota */
int maildir_quota_over(const struct maildir_quota *q, unsigned long long size);

/* maildir_quota_add - append "bytes count" to dir/maildirsize when
 * it exists (one write); 1 done or no file, 0 with errno */
int maildir_quota_add(const char *dir, long long bytes, long long count);

#endif
