/* qpath.h - names of queue files, shared by every program that reads or
 * writes the queue (see qmail-queue(8) for the layout)
 *
 * Paths are relative to the queue directory: programs chdir there.  A
 * message is known by the inode number of its file in mess/; split
 * directories hold it under ID modulo conf-split.
 */
#ifndef QPATH_H
#define QPATH_H

#include "str.h"

/* qpath - "DIR/SPLIT/ID" for split directories (mess intd todo info
 * local remote), "DIR/ID" for pid and bounce; 1 or 0 with errno */
int qpath(struct str *out, const char *dir, unsigned long id);
/* qpath_id - the id named by the last component of a queue file name,
 * 1 or 0 when it is not a plain decimal number */
int qpath_id(const char *name, unsigned long *id);
/* qpath_split - the split directory count (conf-split) */
unsigned long qpath_split(void);
/* qpath_each - fn(id, arg) for every id with a file in the split
 * directory dir, each split directory in turn, in directory order (names
 * that are not ids, or sit under the wrong split, are passed over).
 * 1; 0 out of memory; -1 a directory did not open, -2 it could not be
 * read: then *where is "DIR/SPLIT" (nul-terminated) and errno says why */
int qpath_each(const char *dir, void (*fn)(unsigned long id, void *arg), void *arg,
    struct str *where);

#endif
