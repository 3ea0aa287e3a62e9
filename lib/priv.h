/* priv.h - running a program under another uid
 *
 * posix_spawn cannot change the uid of its child, so programs that start
 * children as other users (qmail-start, qmail-lspawn) use priv_spawn: a
 * plain spawn when no change is needed, else fork, drop to the uid and
 * gid, and exec.  Only root may ask for a change.  A program that must
 * itself run as another user (qmail-list on a directory root hands it)
 * calls priv_drop.
 */
#ifndef PRIV_H
#define PRIV_H

#include <sys/types.h>

/* priv_user - uid and gid of a login; 1 found, 0 no such login, -1 error */
int priv_user(const char *name, uid_t *uid, gid_t *gid);
/* priv_group - gid of a group; 1 found, 0 none, -1 error */
int priv_group(const char *name, gid_t *gid);
/* priv_drop - the process runs as uid and gid alone from now on
 * (supplementary groups cleared), for good: 1, or 0 with errno.  Only
 * root may call it; the groups change first, while that is allowed. */
int priv_drop(uid_t uid, gid_t gid);
/* priv_spawn - like spawn() (see spawn.h) with envp NULL; when change is
 * nonzero the child runs with exactly uid and gid (supplementary groups
 * cleared) and starts in directory dir (NULL: unchanged).  The pid or -1. */
pid_t priv_spawn(const char *path, char *const argv[], const int *fd, int nfd,
    int change, uid_t uid, gid_t gid, const char *dir);

#endif
