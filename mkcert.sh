#!/bin/sh
# mkcert.sh HOME [HOSTNAME [OWNER]] - a self-signed certificate for qmail-tls
#
# Writes HOME/control/servercert.pem (the certificate, mode 644) and
# HOME/control/serverkey.pem (its key, mode 600, owned by OWNER: the user
# qmail-tls reads it as, by default whoever runs this) when neither exists,
# and says so on stderr.  An existing certificate is never replaced, nor a
# link in either place, even one that leads nowhere (into an
# /etc/letsencrypt a restored host does not have yet).
# HOSTNAME defaults to the name in HOME/control/me, read as the run scripts
# read it (its first line that is not a comment), else hostname(1).
# Exit 0 done (or nothing to do), 100 usage, 111 failure.
set -u
[ $# -ge 1 ] && [ $# -le 3 ] || {
	echo "usage: mkcert.sh HOME [HOSTNAME [OWNER]]" >&2
	exit 100
}
home=$1
host=${2:-}
owner=${3:-}
control=$home/control
cert=$control/servercert.pem
key=$control/serverkey.pem
fail() {
	rm -f "$cert.new" "$key.new"
	echo "mkcert.sh: fatal: $1" >&2
	exit 111
}
if [ -e "$cert" ] || [ -L "$cert" ] || [ -e "$key" ] || [ -L "$key" ]; then
	echo "mkcert.sh: $cert or $key exists (or is a link): kept" >&2
	exit 0
fi
# the control file readers of the run scripts, failing mkcert's way
LANMAIL_HOME=$home
. "$(dirname "$0")/service/functions" || exit 111
fatal() { fail "$*"; }
[ -n "$host" ] || host=$(ctl_line me '') || exit 111
[ -n "$host" ] || host=$(hostname)
case $host in
''|*[!A-Za-z0-9.-]*) echo "mkcert.sh: fatal: bad host name: $host" >&2; exit 100 ;;
esac
[ -d "$control" ] || fail "no directory $control"
# the key is never readable by anyone else, not even for a moment
(umask 077 && openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 \
	-nodes -keyout "$key.new" -out "$cert.new" -days 3650 -sha256 \
	-subj "/CN=$host" -addext "subjectAltName=DNS:$host" \
	-addext "extendedKeyUsage=serverAuth" >/dev/null 2>&1) ||
	fail "openssl could not make a certificate"
chmod 600 "$key.new" && chmod 644 "$cert.new" || fail "unable to chmod"
if [ -n "$owner" ]; then
	chown "$owner" "$key.new" || fail "unable to chown $key.new to $owner"
fi
mv -f "$key.new" "$key" && mv -f "$cert.new" "$cert" || fail "unable to install $cert"
echo "mkcert.sh: made a self-signed certificate for $host in $cert; replace it (and $key) with one a CA signed to spare clients the warning" >&2
exit 0
