#!/bin/sh
# install.sh BUILD DESTDIR HOME SPLIT "USERS..." "PROGS..." - run by make install
#
# Lays out HOME (DESIGN section 3) under DESTDIR with owners and modes.
# A single-user install (one login in conf-users) changes no owner; a
# root install with the full conf-users creates missing users and groups.
# Existing control files, users/ and queue contents are never overwritten.
set -e
build=$1 destdir=$2 home=$3 split=$4 users=$5 progs=$6
root=$destdir$home
set -- $users
if [ $# -eq 1 ]; then
	single=1
else
	single=0
	qmaild=$1 qmaill=$2 qmailq=$3 qmailr=$4 qmails=$5 alias=$6 vmail=$7 gqmail=$8 gnofiles=$9
fi

if [ $single = 0 ] && [ "$(id -u)" != 0 ]; then
	echo "install.sh: a multi-user install must be run as root (or put one login into conf-users)" >&2
	exit 1
fi

# mkusers - create the groups and users conf-users names, when missing
mkusers() {
	for g in $gqmail $gnofiles; do
		getent group "$g" >/dev/null || groupadd -r "$g"
	done
	mk() { # user group home
		getent passwd "$1" >/dev/null ||
		useradd -r -g "$2" -d "$3" -s /usr/sbin/nologin -M "$1"
	}
	mk $qmaild $gnofiles "$home"
	mk $qmaill $gnofiles "$home"
	mk $alias $gnofiles "$home/alias"
	mk $vmail $gnofiles "$home/domains"
	mk $qmailq $gqmail "$home"
	mk $qmailr $gqmail "$home"
	mk $qmails $gqmail "$home"
}

# d/f - make a directory / copy a file, then owner and mode
own() { # path user group
	[ $single = 1 ] || chown "$2:$3" "$1"
}
d() { # path user group mode
	mkdir -p "$root/$1"
	own "$root/$1" "$2" "$3"
	chmod "$4" "$root/$1"
}
f() { # source path user group mode
	cp "$1" "$root/$2.new"
	# programs go in without their debugging symbols (build/ keeps them)
	case $2 in bin/*) [ -n "$NOSTRIP" ] || strip "$root/$2.new" 2>/dev/null || : ;; esac
	own "$root/$2.new" "$3" "$4"
	chmod "$5" "$root/$2.new"
	mv -f "$root/$2.new" "$root/$2"
}

if [ $single = 1 ]; then
	u=$(id -un) g=$(id -gn)
	qmaild=$u qmaill=$u qmailq=$u qmailr=$u qmails=$u alias=$u vmail=$u gqmail=$g gnofiles=$g
elif [ -z "$destdir" ]; then
	mkusers
fi

# parents of the install root that do not exist yet: enterable by the
# service users whatever the umask (mkdir -p would give them its mode)
(umask 022 && mkdir -p "$root")
d . root $gqmail 755
for x in bin man man/man1 man/man5 man/man8 control users service log; do d $x root $gqmail 755; done
d alias $alias $gqmail 2755
d domains $vmail $gnofiles 750
# qmail-auth's failed-login counts: written by qmaild (SMTP AUTH) and by
# vmail (POP3), so the group they share may replace files in it
d users/authfail $vmail $gnofiles 2770

# postmaster, root and mailer-daemon must reach somebody from the start:
# the alias user's own Maildir, until the administrator points them
# elsewhere (qmail-newaliases, or an &address line in these files)
for x in alias/Maildir alias/Maildir/tmp alias/Maildir/new alias/Maildir/cur; do
	[ -d "$root/$x" ] || d $x $alias $gqmail 700
done
for x in postmaster mailer-daemon root; do
	[ -e "$root/alias/.qmail-$x" ] || {
		printf './Maildir/\n' > "$root/alias/.qmail-$x.new"
		own "$root/alias/.qmail-$x.new" $alias $gqmail
		chmod 644 "$root/alias/.qmail-$x.new"
		mv -f "$root/alias/.qmail-$x.new" "$root/alias/.qmail-$x"
	}
done

for p in $progs; do
	# PARTIAL=1 (make testhome PARTIAL=1): skip programs that did not build
	[ -f "$build/$p" ] || [ -z "$PARTIAL" ] || continue
	mode=755 owner=root
	case $p in
	qmail-queue) [ $single = 1 ] || { owner=$qmailq; mode=4711; } ;;
	qmail-lspawn|qmail-start|qmail-newu|qmail-admin) mode=700 ;;
	esac
	f "$build/$p" bin/$p $owner $gqmail $mode
done
[ $single = 1 ] || [ ! -f "$root/bin/qmail-queue" ] || chmod 4711 "$root/bin/qmail-queue"
# sendmail(8) is qmail-inject under the name local programs call
[ ! -f "$root/bin/qmail-inject" ] || ln -sfn qmail-inject "$root/bin/sendmail"

for m in man/*.[158]; do
	[ -f "$m" ] || continue
	f "$m" man/man${m##*.}/${m#man/} root $gqmail 644
done

# the queue: only qmailq writes new messages, only qmails schedules
d queue $qmailq $gqmail 750
d queue/lock $qmailq $gqmail 750
d queue/pid $qmailq $gqmail 700
for x in mess todo; do
	d queue/$x $qmailq $gqmail 750
done
d queue/intd $qmailq $gqmail 700
for x in info local remote; do d queue/$x $qmails $gqmail 700; done
d queue/bounce $qmails $gqmail 700
i=0
while [ $i -lt "$split" ]; do
	for x in mess todo; do d queue/$x/$i $qmailq $gqmail 750; done
	d queue/intd/$i $qmailq $gqmail 700
	for x in info local remote; do d queue/$x/$i $qmails $gqmail 700; done
	i=$((i + 1))
done
if [ ! -p "$root/queue/lock/trigger" ]; then
	mkfifo "$root/queue/lock/trigger"
fi
own "$root/queue/lock/trigger" $qmails $gqmail
chmod 622 "$root/queue/lock/trigger"
[ -e "$root/queue/lock/sendmutex" ] || : > "$root/queue/lock/sendmutex"
own "$root/queue/lock/sendmutex" $qmails $gqmail
chmod 600 "$root/queue/lock/sendmutex"
exit 0
