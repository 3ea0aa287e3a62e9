#!/bin/sh
# mkauto.sh HOME SPLIT "USERS..." - writes auto.c (see lib/auto.h) on stdout
home=$1 split=$2 users=$3
set -- $users
case $# in
1) single=1; set -- $1 $1 $1 $1 $1 $1 $1 $1 $1 ;;
9) single=0 ;;
*) echo "mkauto.sh: conf-users must name 1 login, or 7 users and 2 groups" >&2; exit 1 ;;
esac
case $home in /*) ;; *) echo "mkauto.sh: conf-home must be an absolute path" >&2; exit 1 ;; esac
case $split in ''|*[!0-9]*) echo "mkauto.sh: conf-split must be a number" >&2; exit 1 ;; esac
case $home in *\"*|*\\*) echo "mkauto.sh: conf-home must not hold quotes or backslashes" >&2; exit 1 ;; esac
cat <<EOT
/* auto.c - written by mkauto.sh from conf-home, conf-split, conf-users */
#include "auto.h"

const char auto_home[] = "$home";
const unsigned long auto_split = $split;
const int auto_single = $single;
const char *const auto_users[AUTO_NUSERS] = {
	"$1", "$2", "$3", "$4", "$5", "$6", "$7", "$8", "$9"
};
EOT
