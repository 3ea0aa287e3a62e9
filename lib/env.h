/* env.h - the environment: reading settings that tcpserver, tcprules and
 * run scripts pass, and changing it before running a child */
#ifndef ENV_H
#define ENV_H

/* env_get - the value, or NULL when unset */
const char *env_get(const char *name);
/* env_set, env_unset - 1 done, 0 with errno */
int env_set(const char *name, const char *value);
int env_unset(const char *name);
/* env_ulong - a numeric setting: 1 set and valid, 0 unset, -1 junk */
int env_ulong(const char *name, unsigned long *out);

#endif
