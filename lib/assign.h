/* assign.h - users/assign.cdb: which uid, gid and home receive mail for
 * a local part (qmail-users(5)); built by qmail-newu
 *
 * An exact entry (=local:...) wins; otherwise the longest prefix entry
 * (+prefix:...) matching the local part; the part after the prefix is
 * then the extension.  Local parts are compared in lower case.
 */
#ifndef ASSIGN_H
#define ASSIGN_H

#include <stddef.h>
#include <sys/stat.h>

#include "lcdb.h"
#include "str.h"

struct assign {
	struct str user;	/* NUL-terminated */
	unsigned long uid;
	unsigned long gid;
	struct str home;	/* NUL-terminated */
	struct str dash;	/* "" or "-", NUL-terminated */
	struct str ext;		/* configured extension plus what followed the prefix, NUL-terminated */
	int exact;		/* 1 for an =entry, 0 for a +prefix entry */
};

#define ASSIGN_ZERO { STR_ZERO, 0, 0, STR_ZERO, STR_ZERO, STR_ZERO, 0 }

/* assign_lookup - 1 found, 0 no entry (or no users/assign.cdb), -1 error;
 * fn is normally "users/assign.cdb" relative to the install root */
int assign_lookup(const char *fn, const char *local, size_t n, struct assign *);
void assign_free(struct assign *);

/* For a long-running reader (qmail-lspawn): the table stays open between
 * look-ups, and fn is stat()ed before each one and opened again when it
 * is another file or has changed (device, inode, size, mtime, ctime), so
 * a table qmail-newu has just renamed into place counts at once. */
struct assign_db {
	struct lcdb d;
	int is_open;		/* d holds the file st describes */
	struct stat st;
};

/* assign_dbinit - an empty handle; assign_dbclose - let the file go */
void assign_dbinit(struct assign_db *);
void assign_dbclose(struct assign_db *);
/* assign_dblookup - assign_lookup through the handle; same results */
int assign_dblookup(struct assign_db *, const char *fn, const char *local, size_t n,
    struct assign *);

/* For qmail-newu and anyone who checks a line before writing it.
 * assign_parseline - one users/assign line, without its newline, into
 * the cdb key and value described in qmail-users(5): 1 an entry, 0 the
 * final "." line, -1 malformed (errno EINVAL) or out of memory. */
int assign_parseline(const char *line, size_t n, struct str *key, struct str *val);
/* assign_rcptline - one users/recipients line, without its newline,
 * into the lower-case cdb key: 1 an address, 0 a blank or comment
 * line, -1 malformed (errno EINVAL) or out of memory */
int assign_rcptline(const char *line, size_t n, struct str *key);

#define ASSIGN_LINEMAX 4096	/* longest line either file may hold */
#define ASSIGN_LOCALMAX 1000	/* longest local part or prefix */

#endif
