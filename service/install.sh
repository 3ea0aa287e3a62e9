#!/bin/sh
# service/install.sh HOME "USERS..." - lay out HOME/service and HOME/log
#
# Copies the run scripts of the send, smtpd, submission, pop3, smtps, pop3s
# and webadmin services
# into HOME/service (replacing old copies atomically), writes
# HOME/service/settings (the install root and the user names from
# conf-users, which the run scripts source), makes HOME/log/NAME for each
# service's multilog, and builds the tcprules databases.  Run by start.sh;
# touches nothing outside HOME.  Services already running keep running:
# supervise runs the new run script the next time the service starts.
set -e
# the directories it makes are entered by the service users (multilog, as
# qmaill, returns to service/NAME/log): never the caller's umask
umask 022
home=$1 users=$2
src=$(cd "$(dirname "$0")" && pwd)
case $home in
/*) ;;
*) echo "service/install.sh: HOME must be an absolute path: $home" >&2; exit 100 ;;
esac
case $home in
*"'"*|*[[:space:]]*) echo "service/install.sh: HOME must not hold a quote or a blank: $home" >&2; exit 100 ;;
esac
set -- $users
if [ $# -eq 1 ]; then
	single=1 qmaild=$1 qmaill=$1 vmail=$1 group=$(id -gn)
else
	single=0 qmaild=$1 qmaill=$2 vmail=$7 group=$9
fi

# put SRC DEST MODE - copy a file into place atomically
put() {
	cp "$1" "$2.new"
	chmod "$3" "$2.new"
	mv -f "$2.new" "$2"
}

mkdir -p "$home/service" "$home/log"
chmod 755 "$home/service" "$home/log"
put "$src/functions" "$home/service/functions" 644
put "$src/mkrules" "$home/service/mkrules" 755
for s in send smtpd submission pop3 smtps pop3s webadmin; do
	mkdir -p "$home/service/$s/log"
	chmod 755 "$home/service/$s" "$home/service/$s/log"
	put "$src/$s/run" "$home/service/$s/run" 755
	put "$src/$s/log/run" "$home/service/$s/log/run" 755
	mkdir -p "$home/log/$s"
	[ $single = 1 ] || chown "$qmaill:$group" "$home/log/$s"
	chmod 750 "$home/log/$s"
done
cat > "$home/service/settings.new" <<EOT
# settings - written by service/install.sh; sourced by the run scripts
LANMAIL_HOME='$home'
LANMAIL_SINGLE=$single
LANMAIL_QMAILD='$qmaild'
LANMAIL_QMAILL='$qmaill'
LANMAIL_VMAIL='$vmail'
EOT
chmod 644 "$home/service/settings.new"
mv -f "$home/service/settings.new" "$home/service/settings"
sh "$home/service/mkrules" smtpd submission pop3 smtps pop3s webadmin
