/* dotqmail.h - the delivery instructions of a .qmail or .forward file
 *
 * The text is a user's file, so untrusted: any byte may appear, the last
 * line may lack its newline.  The parsers only point into the caller's
 * bytes; nothing is allocated.  See dot-qmail(5).
 *
 *	struct dotqmail d;
 *	dotqmail_init(&d, text, len);
 *	while ((r = dotqmail_next(&d, &in)) == 1) ... in.type, in.arg, in.len
 *	r == 0: end; r == -1: a bad file (errno, d.lineno names the line)
 */
#ifndef DOTQMAIL_H
#define DOTQMAIL_H

#include <stddef.h>

enum dotqmail_type {
	DQ_PROGRAM = 1,	/* |command: arg is the command */
	DQ_FORWARD,	/* &address or a bare address: arg is the address */
	DQ_MBOX,	/* ./file or /file: arg is the whole path */
	DQ_MAILDIR	/* ./dir/ or /dir/: arg is the whole path, slash included */
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

/* dotforward_next - the same for a sendmail-style .forward: entries are
 * separated by commas, blanks and newlines; "|command" and "/file" may
 * be enclosed in double quotes to hold blanks; "#" starts a comment
 * line; a leading backslash (\user) means "deliver here", returned as
 * DQ_FORWARD with len 0.  -1 with errno EINVAL on a NUL byte or an
 * unterminated quote. */
int dotforward_next(struct dotqmail *, struct dotqmail_inst *);

#endif
