/* dotqmail.h - the delivery instructions of a .qmail or .forward file
 *
 * The text is a user's file, so untrusted: any byte may appear, the last
 * line may lack its newline.  The parsers only point into the caller's
 * bytes; nothing is allocated (dotforward_addr alone fills a struct str).
 * See dot-qmail(5).
 *
 *	struct dotqmail d;
 *	dotqmail_init(&d, text, len);
 *	while ((r = dotqmail_next(&d, &in)) == 1) ... in.type, in.arg, in.len
 *	r == 0: end; r == -1: a bad file (errno, d.lineno names the line)
 */
#ifndef DOTQMAIL_H
#define DOTQMAIL_H

#include <stddef.h>

#include "str.h"

enum dotqmail_type {
	DQ_PROGRAM = 1,	/* |command: arg is the command */
	DQ_FORWARD,	/* &address or a bare address: arg is the address */
	DQ_MBOX,	/* ./file or /file: arg is the whole path */
	DQ_MAILDIR,	/* ./dir/ or /dir/: arg is the whole path, slash included */
	DQ_INCLUDE	/* .forward :include:/file: arg is the path */
};

struct dotqmail_inst {
	enum dotqmail_type type;
	const char *arg;	/* into the text; not NUL-terminated */
	size_t len;
};

struct dotqmail {
	const char *p;
	size_t n;
	size_t pos;
	unsigned long lineno;	/* the line last looked at, from 1 */
	size_t wpos, wend;	/* .forward: the rest of the current line */
};

void dotqmail_init(struct dotqmail *, const char *text, size_t n);

/* dotqmail_next - the next instruction of a .qmail file: comments and
 * blank lines are skipped, trailing spaces and tabs removed.  1 an
 * instruction, 0 no more, -1 with errno EINVAL when the first line is
 * blank or a line holds a NUL byte, or an instruction is empty (a lone
 * "|" or "&"). */
int dotqmail_next(struct dotqmail *, struct dotqmail_inst *);

/* dotforward_next - the same for a sendmail-style .forward (or a file
 * it includes): entries are separated by commas, blanks and newlines;
 * "#" as the first non-blank of a line starts a comment line.  An entry
 * is "|command" (to the end of the line), "/file" or "/dir/",
 * ":include:/file" (blanks allowed after the second colon), each of
 * these three also inside double quotes to hold blanks or commas; or
 * else an address: DQ_FORWARD with the entry's text, a leading backslash
 * (\user) dropped.  An address entry that holds a quoted string, a
 * comment or an angle bracket ("Joe <joe@x>", "joe@x (Joe)") ends at the
 * next comma outside them, not at a blank; dotforward_addr takes the
 * address out.  -1 with errno EINVAL on a NUL byte, an empty entry, or a
 * quote, comment or angle bracket left open at the end of the line. */
int dotforward_next(struct dotqmail *, struct dotqmail_inst *);

/* dotforward_addr - the one address of a DQ_FORWARD entry of a .forward,
 * as the envelope carries it (phrase, <>, comments and quotes removed),
 * into out, NUL-terminated; *locallen is the length of its local part,
 * *has_domain tells whether "@domain" follows.  1 done; 0 with errno
 * EINVAL when the entry is not exactly one address with a non-empty
 * local part, or ENOMEM. */
int dotforward_addr(const char *entry, size_t n, struct str *out, size_t *locallen, int *has_domain);

#endif
