/* auto.c - written by mkauto.sh from conf-home, conf-split, conf-users */
#include "auto.h"

const char auto_home[] = "/var/qmail";
const unsigned long auto_split = 23;
const int auto_single = 0;
const char *const auto_users[AUTO_NUSERS] = {
	"qmaild", "qmaill", "qmailq", "qmailr", "qmails", "alias", "vmail", "qmail", "nofiles"
};
