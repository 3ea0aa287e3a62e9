/* seekable.h - a message on a descriptor, made readable more than once
 *
 * qmail-local and qmail-remote read their message more than once.
 * qmail-lspawn and qmail-rspawn give them the queue file itself, which
 * they rewind; a wrapper, a test or a person may give them a pipe
 * instead, which is then copied into a temporary file, so that memory
 * does not grow with the message.  The file is made in $TMPDIR when
 * that is an absolute path and the file can be made there, else in
 * /tmp; it is unlinked as soon as it is made, so that nothing is left
 * behind whatever happens, and it is close-on-exec.
 */
#ifndef SEEKABLE_H
#define SEEKABLE_H

/* what failed */
#define SEEKABLE_REWIND 1	/* fd could not be rewound, though no pipe */
#define SEEKABLE_CREATE 2	/* no temporary file could be made */
#define SEEKABLE_READ 3		/* reading fd failed */
#define SEEKABLE_WRITE 4	/* writing the copy failed (a full disk) */

struct seekable {
	int fd;			/* the message, at its start */
	int failed;		/* SEEKABLE_*, once seekable_open said 0 */
	const char *dir;	/* where the copy is, or was to be made */
};

/* seekable_open - fd rewound when it can seek; else what is left to read
 * on it copied into a temporary file named prefix.XXXXXX (prefix a
 * string that outlives s).  1 with s->fd set (fd itself, or the copy),
 * else 0 with errno and s->failed. */
int seekable_open(struct seekable *s, int fd, const char *prefix);

/* seekable_temp - an unlinked, close-on-exec temporary file named
 * dir/prefix.XXXXXX; its descriptor, or -1 with errno */
int seekable_temp(const char *dir, const char *prefix);

#endif
