/* auto.c - written by mkauto.sh from conf-home, conf-split, conf-users */
#include "auto.h"

const char auto_home[] = "/work/main/.check/home";
const unsigned long auto_split = 23;
const int auto_single = 1;
const char *const auto_users[AUTO_NUSERS] = {
	"root", "root", "root", "root", "root", "root", "root", "root", "root"
};
