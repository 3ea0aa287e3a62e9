/* lcdb.h - constant database look-ups and atomic rebuilds (tinycdb)
 *
 * Readers: lcdb_open, lcdb_get (first value), lcdb_close; or lcdb_lookup
 * for one key.  Writers build NAME.tmp, then lcdb_make_finish fsyncs it
 * and renames it over NAME, so a reader sees the old or the new file,
 * never half of one.  NAME.tmp is always a new file (whatever had that
 * name is removed first, and a symbolic link is never followed), so a
 * writer running as root may build in a directory another user owns.
 * lcdb_make_startat names the file relative to the directory dfd, which
 * must stay open until lcdb_make_finish or lcdb_make_abort.  Readers return 1 found, 0 missing/not found, -1
 * error with errno.  Writers (lcdb_make_*) return 1 done or 0 with errno;
 * on failure lcdb_make_start and lcdb_make_finish have already aborted.
 */
#ifndef LCDB_H
#define LCDB_H

#include <cdb.h>
#include <stddef.h>

#include "str.h"

struct lcdb {
	int fd;
	struct cdb c;
};

int lcdb_open(struct lcdb *, const char *fn);
int lcdb_get(struct lcdb *, const char *key, size_t klen, struct str *val);
void lcdb_close(struct lcdb *);
int lcdb_lookup(const char *fn, const char *key, size_t klen, struct str *val);

struct lcdb_make {
	struct cdb_make cm;
	int fd;
	int dfd;	/* the directory, or AT_FDCWD */
	struct str tmp;
	struct str fn;
};

int lcdb_make_start(struct lcdb_make *, const char *fn);
int lcdb_make_startat(struct lcdb_make *, int dfd, const char *fn);
int lcdb_make_add(struct lcdb_make *, const char *k, size_t kl, const char *v, size_t vl);
int lcdb_make_finish(struct lcdb_make *);
/* lcdb_make_finish_changed - lcdb_make_finish, but when NAME holds
 * exactly the bytes just built (a table compiled again from an unchanged
 * source: tinycdb lays the same records out the same way), NAME.tmp is
 * dropped, NAME left as it is, and *changed set to 0 (else 1; changed
 * may be NULL) */
int lcdb_make_finish_changed(struct lcdb_make *, int *changed);
void lcdb_make_abort(struct lcdb_make *);


#endif
