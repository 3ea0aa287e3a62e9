/* control.h - reading the one-setting-per-file control directory
 *
 * File names are relative (programs chdir to the install root first), e.g.
 * "control/me".  Lines starting with '#' are comments; trailing blanks
 * (space, tab, CR) are trimmed.  Every reader returns
 *	1 the file was read,
 *	0 the file does not exist (the caller's documented default applies),
 *     -1 it could not be read, or holds junk (errno EINVAL).
 */
#ifndef CONTROL_H
#define CONTROL_H

#include "str.h"

/* control/timeoutcommand's default: seconds a |program of a .qmail file
 * may run (qmail-local), and with a slack the whole local delivery
 * (qmail-lspawn) */
#define CONTROL_TIMEOUTCOMMAND 1000

/* control_readline - first non-comment line, without newline; a file
 * with no such line counts as missing */
int control_readline(const char *fn, struct str *out);
/* control_readulong - first line as a decimal number; junk gives -1 */
int control_readulong(const char *fn, unsigned long *out);
/* control_readlist - every non-empty, non-comment line, each ended by
 * a NUL in out (so out holds "a\0b\0") */
int control_readlist(const char *fn, struct str *out);
/* control_readfile - the whole file, unprocessed */
int control_readfile(const char *fn, struct str *out, size_t max);
/* control_parselist - the list rules applied to bytes already in memory */
int control_parselist(const char *p, size_t n, struct str *out);

#endif
