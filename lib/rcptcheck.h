/* rcptcheck.h - which recipients an SMTP server takes: relay control
 * (control/rcpthosts, control/morercpthosts.cdb) and whether an address
 * in a domain delivered here exists (users/recipients.cdb, then the
 * account qmail-lspawn would deliver to and its .qmail files: account.h)
 *
 * File names are relative: the program has chdir'ed to the install
 * root.  Addresses come from the client and are untrusted; they are
 * never used in a file name without being checked.
 */
#ifndef RCPTCHECK_H
#define RCPTCHECK_H

#include <stddef.h>

#include "str.h"

struct rcptcheck {
	struct str locals;	/* control/locals (else control/me, else
				 * localhost), lower case, "a\0b\0" */
	struct str rcpthosts;	/* control/rcpthosts, lower case */
	int have_rcpthosts;	/* 0: the file is missing */
	struct str vdoms;	/* control/virtualdomains, "key:prefix\0" lines */
};

#define RCPTCHECK_ZERO { STR_ZERO, STR_ZERO, 0, STR_ZERO }

/* rcptcheck_load - read the control files; 1, or 0 with errno and the
 * name of the file in *fn */
int rcptcheck_load(struct rcptcheck *, const char **fn);

/* rcptcheck_islocal - 1 when the domain is in control/locals */
int rcptcheck_islocal(const struct rcptcheck *, const char *domain, size_t n);

/* rcptcheck_virtual - the control/virtualdomains prefix for addr (an
 * exact address entry, the domain, a ".suffix" entry, then a catch-all
 * ":prefix" line): 1 with the prefix in out, 0 when not virtual */
int rcptcheck_virtual(const struct rcptcheck *, const char *addr, size_t n, struct str *prefix);

/* rcptcheck_relay - 1 when mail for the domain is taken from anyone:
 * control/rcpthosts (an entry ".example.com" covers its subdomains),
 * control/morercpthosts.cdb; without control/rcpthosts the domains in
 * control/locals and control/virtualdomains.  -1 on a read error. */
int rcptcheck_relay(const struct rcptcheck *, const char *domain, size_t n);

/* rcptcheck_exists - 1 when addr (local@domain) exists or may exist,
 * 0 when it does not, -1 when that cannot be told now (errno).
 * Domains neither local nor virtual are not checked (1). */
int rcptcheck_exists(const struct rcptcheck *, const char *addr, size_t n);

/* rcptcheck_mailbox - 1 when users/recipients.cdb lists addr itself (a
 * mailbox or an alias of its own), 0 when not (or there is no such file),
 * -1 when that cannot be told (errno) */
int rcptcheck_mailbox(const char *addr, size_t n);

/* rcptcheck_dotqmail - 1 when qmail-local, run for an account with this
 * home, dash and extension, would deliver: the first of the .qmail files
 * it looks for (account.h) exists, or none does and the dash is empty
 * (defaultdelivery); 0 when it would bounce; -1 when that cannot be told */
int rcptcheck_dotqmail(const char *home, const char *dash, const char *ext, size_t extlen);

#endif
