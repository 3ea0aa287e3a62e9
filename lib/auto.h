/* auto.h - settings compiled in from conf-home, conf-split, conf-users
 *
 * The Makefile writes auto.c in the build directory from the conf-*
 * files; nothing else defines these.
 */
#ifndef AUTO_H
#define AUTO_H

extern const char auto_home[];		/* install root, e.g. /var/qmail */
extern const unsigned long auto_split;	/* queue subdirectories */
extern const int auto_single;		/* 1: single-user install */

/* user and group names, indexed by AUTO_*; in a single-user install
 * every entry is the one login */
enum {
	AUTO_QMAILD, AUTO_QMAILL, AUTO_QMAILQ, AUTO_QMAILR, AUTO_QMAILS,
	AUTO_ALIAS, AUTO_VMAIL, AUTO_GQMAIL, AUTO_GNOFILES, AUTO_NUSERS
};
extern const char *const auto_users[AUTO_NUSERS];

#endif
