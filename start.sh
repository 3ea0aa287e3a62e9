#!/bin/sh
# start.sh HOME SPLIT "USERS..." - run by make start
# (or "sh start.sh" alone, which takes them from conf-home, conf-split and
# conf-users: for a machine that does not have make yet)
#
# From a fresh Debian machine to running, supervised services, in order:
#  1. installs the Debian packages the build and the services need, when
#     any is missing (apt-get update first; root only);
#  2. builds the static musl programs in $MUSLB (default build-musl) and
#     installs them under HOME (install.sh creates the users);
#  3. writes control/me when it names no host (missing, or comments only);
#     into a new installation only, locals, rcpthosts, defaultdomain and
#     spfbehavior when absent; control/listenip and the port files when
#     LISTEN, SMTPPORT, SUBMISSIONPORT, POP3PORT, SMTPSPORT or POP3SPORT
#     are given, and a self-signed certificate (mkcert.sh) when none is
#     configured (a link, even one that leads nowhere, is one);
#  4. lays out HOME/service and HOME/log, builds the tcprules databases;
#  5. links the services into an svscan directory and makes sure svscan
#     runs on it: a systemd unit where systemd runs, the existing
#     /etc/service where daemontools-run's svscan already runs, else svscan
#     started here in the background with its pid in HOME/svscan/.pid;
#  6. links /usr/sbin/sendmail (and /usr/lib/sendmail) to HOME/bin/sendmail
#     when the system has none, as root;
#  7. says what listens, and how to add a domain, a mailbox and send mail.
# Running it again is harmless: nothing that exists is overwritten but the
# programs and run scripts, a running svscan is left alone, and the
# services that run are restarted (svc -t), so that they run what was
# just installed.
# Settings (make variables, passed in the environment): see lanmail-start(8).
set -e
# everything made here is read by the service users: never the caller's umask
umask 022
cd "$(dirname "$0")"
src=$(pwd)
if [ $# -eq 0 ]; then
	# run as "sh start.sh" on a machine without make: HOME_DIR, SPLIT and
	# USERS from the environment, else conf-* as make reads them
	set -- "${HOME_DIR:-$(sed -n 1p conf-home)}" "${SPLIT:-$(sed -n 1p conf-split)}" \
	    "${USERS:-$(sed '/^$/q' conf-users | tr '\n' ' ')}"
fi
home=$1 split=$2 users=$3
: "${MUSLB:=build-musl}" "${SERVICES:=send smtpd submission pop3 smtps pop3s}" "${SUPERVISOR:=auto}"
MUSL_CC="musl-gcc -static -O2 -std=c99 -D_POSIX_C_SOURCE=200809L -D_DEFAULT_SOURCE -Wall -Wextra"
MUSL_LD="musl-gcc -static"
PACKAGES="build-essential musl-tools libcdb-dev libcrypt-dev libssl-dev openssl ucspi-tcp-ipv6 daemontools swaks curl"

say() { echo "start: $*"; }
die() { echo "start: fatal: $*" >&2; exit 111; }
# control files are read as the run scripts read them (comments, blanks,
# a file that cannot be read is fatal): with service/functions' readers
LANMAIL_HOME=$home
. ./service/functions
fatal() { die "$*"; }

case $home in /*) ;; *) die "conf-home must be an absolute path: $home" ;; esac
set -- $users
[ $# -eq 1 ] || [ "$(id -u)" = 0 ] || die "a multi-user install must be started as root (or put one login into conf-users)"
for s in $SERVICES; do
	case $s in send|smtpd|submission|pop3|smtps|pop3s|webadmin) ;; *) die "SERVICES: no such service: $s" ;; esac
done
# settings that would stop every listener are refused before anything
# runs (the run scripts would refuse them too, in their logs only)
case ${LISTEN:-} in
''|0) ;;
*:*) printf '%s\n' "$LISTEN" | grep -Eq '^[0-9A-Fa-f:]*:[0-9A-Fa-f:]*(\.[0-9.]+)?$' ||
	die "LISTEN is not an IPv4 or IPv6 address (nor 0, for all): $LISTEN" ;;
*) printf '%s\n' "$LISTEN" | grep -Eq '^[0-9]{1,3}(\.[0-9]{1,3}){3}$' ||
	die "LISTEN is not an IPv4 or IPv6 address (nor 0, for all): $LISTEN" ;;
esac
for v in SMTPPORT SUBMISSIONPORT POP3PORT SMTPSPORT POP3SPORT WEBADMINPORT; do
	eval "p=\${$v:-}"
	case $p in
	'') ;;
	*[!0-9]*) die "$v is not a port number: $p" ;;
	*) [ "$p" -ge 1 ] && [ "$p" -le 65535 ] || die "$v is not a port number: $p" ;;
	esac
done

# a new installation: no make start has laid out its services yet (step 4
# writes service/settings); step 3 writes some defaults into it only
fresh=
[ -e "$home/service/settings" ] || fresh=1

# 1. packages (the build tools only when building)
[ -z "$NOBUILD" ] || PACKAGES="openssl ucspi-tcp-ipv6 daemontools swaks curl"
# shellcheck disable=SC2086 # one package per word
sh ./pkgs.sh start --need $PACKAGES || exit 111

# 2. static musl build and install (NOBUILD=1: start what HOME holds)
mk() {
	${MAKE:-make} --no-print-directory B="$MUSLB" CONF_CC="$MUSL_CC" CONF_LD="$MUSL_LD" \
		HOME_DIR="$home" SPLIT="$split" USERS="$users" "$@"
}
if [ -n "$NOBUILD" ]; then
	[ -x "$home/bin/qmail-queue" ] || die "NOBUILD=1, but nothing is installed in $home/bin"
	say "NOBUILD=1: using the programs installed in $home/bin"
elif [ -n "$PARTIAL" ]; then
	# development: keep going past programs that do not build yet
	say "building the static musl programs in $MUSLB (PARTIAL=1)"
	mk -k all || true
	progs=$(for f in *.c; do printf '%s ' "${f%.c}"; done)
	PARTIAL=1 sh ./install.sh "$MUSLB" '' "$home" "$split" "$users" "$progs"
else
	say "building the static musl programs in $MUSLB"
	mk all
	mk install
fi

# 3. a minimal control/
ctl=$home/control
# setctl NAME VALUE - write control/NAME atomically, when it changes
setctl() {
	[ "$(cat "$ctl/$1" 2>/dev/null)" != "$2" ] || return 0
	printf '%s\n' "$2" > "$ctl/$1.new"
	chmod 644 "$ctl/$1.new"
	set -- "$1" $users
	[ $# -eq 2 ] || chown "root:${9}" "$ctl/$1.new"
	mv -f "$ctl/$1.new" "$ctl/$1"
	say "wrote control/$1"
}
# control/me: the host's name, when the file holds none (missing, or
# nothing but comments and blank lines)
me=$(ctl_line me '')
if [ -z "$me" ]; then
	me=$(hostname -f 2>/dev/null || true)
	case $me in *.*) ;; *) me=$(hostname) ;; esac
	setctl me "$me"
fi
# rcpthosts_default - the domains qmail-smtpd takes mail for when
# control/rcpthosts is missing, one a line: those of locals (else me) and
# those virtualdomains maps to a prefix, as qmail-admin writes them down.
# Nothing when no list can say the same: a catch-all virtualdomains line
# takes every domain, and morercpthosts.cdb counts only beside rcpthosts.
rcpthosts_default() {
	[ ! -e "$ctl/morercpthosts.cdb" ] || return 0
	if ctl_file locals; then
		_out=$(ctl_lines locals) || exit 111
	else
		_out=$me
	fi
	_vd=$(ctl_lines virtualdomains) || exit 111
	while IFS= read -r _line; do
		case $_line in *:*) ;; *) continue ;; esac
		_d=${_line%%:*}
		[ -n "${_line#*:}" ] || continue	# no prefix: not virtual
		[ -n "$_d" ] || return 0		# the catch-all
		case $_d in *@*) continue ;; esac	# one address, not a domain
		case "$_ctl_nl$_out$_ctl_nl" in
		*"$_ctl_nl$_d$_ctl_nl"*) ;;
		*) _out=${_out:+$_out$_ctl_nl}$_d ;;
		esac
	done <<EOT
$_vd
EOT
	[ -z "$_out" ] || printf '%s\n' "$_out"
}
# The defaults below go into a new installation only: one where no make
# start has laid out the services yet (service/settings, step 4, is
# missing).  In one that exists a missing file is a setting of its own
# (qmail-control(5)): no rcpthosts takes mail for the domains of locals
# and virtualdomains, no spfbehavior checks no SPF.
if [ -n "$fresh" ]; then
	[ -e "$ctl/locals" ] || setctl locals "$(printf '%s\nlocalhost' "$me")"
	if [ ! -e "$ctl/rcpthosts" ]; then
		hosts=$(rcpthosts_default) || exit 111
		if [ -n "$hosts" ]; then
			setctl rcpthosts "$hosts"
		else
			say "control/rcpthosts left missing: qmail-smtpd takes the domains of locals and virtualdomains"
		fi
	fi
	if [ ! -e "$ctl/defaultdomain" ]; then
		case $me in *.*.*) setctl defaultdomain "${me#*.}" ;; *) setctl defaultdomain "$me" ;; esac
	fi
	# a running server records SPF results on incoming mail; the bare
	# program's default stays off (see qmail-smtpd(8))
	[ -e "$ctl/spfbehavior" ] || setctl spfbehavior record
fi
[ -z "$LISTEN" ] || setctl listenip "$LISTEN"
[ -z "$SMTPPORT" ] || setctl smtpport "$SMTPPORT"
[ -z "$SUBMISSIONPORT" ] || setctl submissionport "$SUBMISSIONPORT"
[ -z "$POP3PORT" ] || setctl pop3port "$POP3PORT"
[ -z "$SMTPSPORT" ] || setctl smtpsport "$SMTPSPORT"
[ -z "$POP3SPORT" ] || setctl pop3sport "$POP3SPORT"
[ -z "$WEBADMINPORT" ] || setctl webadminport "$WEBADMINPORT"

# a self-signed certificate for TLS, when none is configured (mkcert.sh
# says so); the key belongs to root, who starts qmail-tls.  A link is a
# certificate configured, even one that leads nowhere (into an
# /etc/letsencrypt that a new host does not have yet): it is kept
for f in servercert.pem serverkey.pem; do
	[ ! -L "$ctl/$f" ] || [ -e "$ctl/$f" ] ||
		say "warning: control/$f is a link to $(readlink "$ctl/$f"), which does not exist: kept; TLS needs it"
done
if [ -f mkcert.sh ] && [ ! -e "$ctl/servercert.pem" ] && [ ! -L "$ctl/servercert.pem" ] &&
	[ ! -e "$ctl/serverkey.pem" ] && [ ! -L "$ctl/serverkey.pem" ]; then
	sh mkcert.sh "$home" || say "warning: no certificate: TLS is off"
fi

# 4. service directories, logs, tcprules
sh service/install.sh "$home" "$users"

# 5. svscan
# is_svscan PID DIR - PID is an svscan running on DIR
is_svscan() {
	[ -n "$1" ] && [ "$(cat "/proc/$1/comm" 2>/dev/null)" = svscan ] &&
	[ "$(readlink "/proc/$1/cwd" 2>/dev/null)" = "$(cd "$2" && pwd -P)" ]
}
# svscan_on DIR - the pid of an svscan running on DIR, if any
svscan_on() {
	for p in /proc/[0-9]*; do
		is_svscan "${p#/proc/}" "$1" && { echo "${p#/proc/}"; return 0; }
	done
	return 0
}
# the services that ran before this run (taken down with svc -d counts
# as not running): restarted below; the ones linked now start anyway
preup=
for s in send smtpd submission pop3 smtps pop3s webadmin; do
	! svstat "$home/service/$s" 2>/dev/null | grep -q ": up " || preup="$preup $s"
done
sv=$home/svscan
mkdir -p "$sv"
chmod 755 "$sv"
how=$(cat "$sv/.how" 2>/dev/null || true)
if [ -z "$how" ]; then
	how=$SUPERVISOR
	if [ "$how" = auto ]; then
		if [ -d /etc/service ] && [ -n "$(svscan_on /etc/service)" ]; then
			how=daemontools-run
		elif [ -d /run/systemd/system ] && command -v systemctl >/dev/null && [ "$(id -u)" = 0 ]; then
			how=systemd
		else
			how=direct
		fi
	fi
fi
case $how in
daemontools-run) scandir=/etc/service ;;
systemd|direct) scandir=$sv ;;
*) die "SUPERVISOR must be auto, direct, systemd or daemontools-run: $how" ;;
esac
echo "$how" > "$sv/.how"
: > "$sv/.services.new"
for s in $SERVICES; do
	# a service whose program is not installed stays out of the scan directory
	case $s in
	send) need=qmail-start ;;
	smtpd|submission) need=qmail-smtpd ;;
	pop3) need=qmail-popup ;;
	smtps) need="qmail-smtpd qmail-tls" ;;
	pop3s) need="qmail-popup qmail-tls" ;;
	webadmin) need="qmail-webadmin qmail-tls" ;;
	esac
	ok=1
	for p in $need; do
		[ -x "$home/bin/$p" ] && continue
		say "warning: $home/bin/$p is missing: service $s not started"
		ok=
	done
	case $s in
	smtps|pop3s|webadmin)
		if [ -n "$ok" ] && [ ! -f "$ctl/servercert.pem" ]; then
			say "warning: no control/servercert.pem: service $s not started"
			ok=
		fi
		;;
	esac
	[ -n "$ok" ] || continue
	link=$scandir/$s
	[ "$how" != daemontools-run ] || link=$scandir/lanmail-$s
	[ -L "$link" ] || ln -s "$home/service/$s" "$link"
done
# what make stop stops: every link into HOME/service, from this run or an
# earlier one with other SERVICES
for s in send smtpd submission pop3 smtps pop3s webadmin; do
	link=$scandir/$s
	[ "$how" != daemontools-run ] || link=$scandir/lanmail-$s
	[ "$(readlink "$link" 2>/dev/null)" != "$home/service/$s" ] || echo "$s" >> "$sv/.services.new"
done
mv -f "$sv/.services.new" "$sv/.services"

case $how in
direct)
	pid=$(cat "$sv/.pid" 2>/dev/null || true)
	if is_svscan "$pid" "$sv"; then
		say "svscan is already running on $sv (pid $pid)"
	else
		# detached: its own session, no terminal, a clean environment,
		# no inherited descriptors (make -j hands its jobserver pipe to
		# the recipe: held by svscan and every service, make never ends)
		(cd "$sv" && exec setsid env - PATH=/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin \
			svscan "$sv" </dev/null >>"$home/log/svscan.log" 2>&1 \
			3>&- 4>&- 5>&- 6>&- 7>&- 8>&- 9>&-) &
		pid=$!
		sleep 1
		is_svscan "$pid" "$sv" || die "svscan did not start: see $home/log/svscan.log"
		echo "$pid" > "$sv/.pid"
		say "started svscan on $sv (pid $pid)"
	fi
	;;
systemd)
	unit=/etc/systemd/system/lanmail.service
	cat > "$unit.new" <<EOT
[Unit]
Description=lanmail mail server (svscan $sv)
After=network.target

[Service]
ExecStart=/usr/bin/svscan $sv
Environment=PATH=/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin
KillMode=process
Restart=always

[Install]
WantedBy=multi-user.target
EOT
	mv -f "$unit.new" "$unit"
	systemctl daemon-reload
	systemctl enable --now lanmail.service
	say "svscan runs as the systemd unit lanmail.service"
	;;
daemontools-run)
	say "services linked into /etc/service as lanmail-*, where svscan already runs"
	;;
esac

# A service that ran before still runs the old programs and run script:
# tcpserver and qmail-send with its helpers run for good, and a new
# address or port is read only when the run script starts.  svc -t sends
# SIGTERM and supervise runs the new run script once the service exits:
# tcpserver stops listening (its connections go on), qmail-send starts
# nothing new and exits when the deliveries in progress have reported,
# so that nothing is lost or delivered twice.  multilog finishes its line.
for s in $preup; do
	case $s in
	send) say "restarting send: qmail-send finishes the deliveries in progress first" ;;
	*) say "restarting $s" ;;
	esac
	svc -t "$home/service/$s"
	! svok "$home/service/$s/log" 2>/dev/null || svc -t "$home/service/$s/log"
done

# local programs (cron, mail(1), scripts) call /usr/sbin/sendmail: ours
# when the system has none (a link that leads nowhere counts as none);
# make stop takes away only the links that still lead here
: > "$sv/.sendmail.new"
for l in /usr/sbin/sendmail /usr/lib/sendmail; do
	[ "$(id -u)" = 0 ] && [ -d "${l%/*}" ] || continue
	if [ ! -e "$l" ] || [ "$(readlink "$l")" = "$home/bin/sendmail" ]; then
		ln -sfn "$home/bin/sendmail" "$l"
		echo "$l" >> "$sv/.sendmail.new"
	elif [ "$l" = /usr/sbin/sendmail ]; then
		say "note: $l belongs to another mailer; local programs reach lanmail through $home/bin/sendmail"
	fi
done
mv -f "$sv/.sendmail.new" "$sv/.sendmail"

# 7. what runs now
ip=$(ctl_line listenip 127.0.0.1)
port_of() {
	case $1 in
	smtpd) ctl_line smtpport 25 ;;
	submission) ctl_line submissionport 587 ;;
	pop3) ctl_line pop3port 110 ;;
	smtps) ctl_line smtpsport 465 ;;
	pop3s) ctl_line pop3sport 995 ;;
	webadmin) ctl_line webadminport 8443 ;;
	esac
}
# listening NAME PORT - service NAME's own tcpserver (supervise's child,
# after the run script's execs) holds the listening socket on TCP PORT.
# Another program on the port does not count: tcpserver then retries its
# bind and logs "unable to bind" in log/NAME/current.
listening() {
	case $2 in ''|*[!0-9]*) return 1 ;; esac
	_pid=$(svstat "$home/service/$1" 2>/dev/null | sed -n 's/.*(pid \([0-9]*\)).*/\1/p')
	[ -n "$_pid" ] || return 1
	_fds=$(ls -l "/proc/$_pid/fd" 2>/dev/null) || return 1
	for _ino in $(awk -v p=":$(printf '%04X' "$2")" \
		'$4 == "0A" && substr($2, length($2) - 4) == p { print $10 }' \
		/proc/net/tcp /proc/net/tcp6 2>/dev/null); do
		case $_fds in *"socket:[$_ino]"*) return 0 ;; esac
	done
	return 1
}
echo
echo "lanmail runs from $home (services in $scandir, logs in $home/log):"
for s in $(cat "$sv/.services"); do
	case $s in
	send)
		i=0
		while [ $i -lt 10 ] && ! svok "$home/service/send"; do sleep 1; i=$((i + 1)); done
		sleep 1
		printf '  %-11s %s\n' send "qmail-send: $(svstat "$home/service/send" 2>/dev/null | sed 's/^[^:]*: //')"
		;;
	*)
		port=$(port_of "$s")
		sip=$ip
		[ "$s" != webadmin ] || sip=$(ctl_line webadminip "$ip")
		i=0
		while [ $i -lt 10 ] && ! listening "$s" "$port"; do sleep 1; i=$((i + 1)); done
		if listening "$s" "$port"; then
			state=listening
		else
			# the run script's or tcpserver's own words, when it has any
			why=$(grep -a 'fatal' "$home/log/$s/current" 2>/dev/null | tail -n 1 | cut -d' ' -f2-)
			state="NOT listening: ${why:-is the port taken?} (see $home/log/$s/current)"
		fi
		printf '  %-11s %s:%s %s\n' "$s" "$sip" "$port" "$state"
		;;
	esac
done
sub=$(port_of submission)
# an IPv6 address goes in brackets in a URL; 0 (every address) is reached
# on loopback
urlip() { case $1 in 0) echo 127.0.0.1 ;; *:*) echo "[$1]" ;; *) echo "$1" ;; esac; }
uip=$(urlip "$ip")
# with a certificate: STARTTLS on submission, POP3 over TLS (-k: self-signed)
tls= fetch="curl -u alice@example.org pop3://$uip:$(port_of pop3)/1"
if [ -f "$ctl/servercert.pem" ] && grep -qx pop3s "$sv/.services"; then
	tls=" --tls"
	fetch="curl -k -u alice@example.org pop3s://$uip:$(port_of pop3s)/1"
fi
web=
if grep -qx webadmin "$sv/.services"; then
	wip=$(ctl_line webadminip "$ip")
	web="
  in a browser:    https://$(urlip "$wip"):$(port_of webadmin)/ (see qmail-webadmin(8))"
fi
# the make variables needed to name this install again
mv=
[ "$home" = "$(sed -n 1p conf-home)" ] || mv=" HOME_DIR=$home"
set -- $users
given=$*
set -- $(sed '/^$/q' conf-users)
[ "$given" = "$*" ] || mv="$mv USERS='$given'"
cat <<EOT

Next steps:
  add a domain:    $home/bin/qmail-admin domain add example.org
  add a mailbox:   $home/bin/qmail-admin user add alice@example.org
  send a message:  swaks --server $ip:$sub$tls --auth-user alice@example.org \\
                     --from alice@example.org --to alice@example.org
  fetch it:        $fetch
  see the config:  $home/bin/qmail-showctl$web
  local programs:  $home/bin/sendmail -t < message   (sendmail(8): cron, scripts)
  who may relay:   127.0.0.1, ::1, the networks in $ctl/relaynets,
                   and any client after AUTH; after editing relaynets:
                   $home/service/mkrules smtpd submission smtps
  serve the LAN:   make start$mv LISTEN=192.168.1.10
                   (an address of this host, IPv4 or IPv6, or 0 for all of them)
  stop:            make stop${mv%% USERS=*}
EOT
