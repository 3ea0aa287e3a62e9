#!/bin/sh
# stop.sh [HOME] - run by make stop: stops what start.sh started
# (HOME defaults to $HOME_DIR, else the first line of conf-home)
#
# Takes each service start.sh linked (HOME/svscan/.services) out of the
# scan directory, stops it and its logger with svc -dx (qmail-send
# finishes the deliveries in progress first), then stops svscan: by the
# pid start.sh recorded, or through systemd; removes the sendmail links
# start.sh made that still lead to HOME, and the systemd unit start.sh
# wrote.  Nothing else is touched: HOME (mail, queue, control files), the
# users and groups of conf-users and the Debian packages stay (see
# lanmail-start(8) for removing them).
home=${1:-${HOME_DIR:-$(sed -n 1p "$(dirname "$0")/conf-home")}}
sv=$home/svscan
say() { echo "stop: $*"; }
how=$(cat "$sv/.how" 2>/dev/null)
if [ -z "$how" ]; then
	say "nothing to stop: $sv/.how is missing (make start was not run for $home)"
	exit 0
fi
case $how in
daemontools-run) scandir=/etc/service prefix=lanmail- ;;
*) scandir=$sv prefix= ;;
esac

# wait_down DIR SECONDS - until supervise on DIR has exited; past the
# deadline the service is killed (svc -k), and given 5 seconds more
wait_down() {
	i=0
	while svok "$1" 2>/dev/null && [ $i -lt $(($2 * 10)) ]; do
		sleep 0.1
		i=$((i + 1))
	done
	svok "$1" 2>/dev/null || return 0
	say "warning: $1 still runs after $2 seconds: killing it"
	svc -k "$1"
	i=0
	while svok "$1" 2>/dev/null && [ $i -lt 50 ]; do
		sleep 0.1
		i=$((i + 1))
	done
	svok "$1" 2>/dev/null && say "warning: supervise on $1 did not exit"
	return 0
}

services=$(cat "$sv/.services" 2>/dev/null)
# out of the scan directory first, so that svscan does not restart them
for s in $services; do
	rm -f "$scandir/$prefix$s"
done
for s in $services; do
	d=$home/service/$s
	svok "$d" 2>/dev/null || continue
	say "stopping $s"
	svc -dx "$d"
done
# qmail-send finishes the deliveries in progress: give it a minute
for s in $services; do wait_down "$home/service/$s" 60; done
# the loggers last, so that they write the services' final lines
for s in $services; do
	svok "$home/service/$s/log" 2>/dev/null && svc -dx "$home/service/$s/log"
done
for s in $services; do wait_down "$home/service/$s/log" 10; done

case $how in
direct)
	pid=$(cat "$sv/.pid" 2>/dev/null)
	if [ -n "$pid" ] && [ "$(cat "/proc/$pid/comm" 2>/dev/null)" = svscan ] &&
	    [ "$(readlink "/proc/$pid/cwd" 2>/dev/null)" = "$(cd "$sv" && pwd -P)" ]; then
		say "stopping svscan (pid $pid)"
		kill "$pid"
		i=0
		while kill -0 "$pid" 2>/dev/null && [ $i -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
	fi
	rm -f "$sv/.pid"
	;;
systemd)
	systemctl disable --now lanmail.service
	# make start writes the unit each time: none is left behind, unless
	# it runs svscan for another install root
	unit=/etc/systemd/system/lanmail.service
	if grep -qx "ExecStart=/usr/bin/svscan $sv" "$unit" 2>/dev/null; then
		rm -f "$unit"
		systemctl daemon-reload
		say "removed $unit"
	fi
	;;
esac
# the sendmail links start.sh made, while they still lead here
for l in $(cat "$sv/.sendmail" 2>/dev/null); do
	[ "$(readlink "$l" 2>/dev/null)" != "$home/bin/sendmail" ] || rm -f "$l"
done
rm -f "$sv/.how" "$sv/.services" "$sv/.sendmail"
say "stopped"
