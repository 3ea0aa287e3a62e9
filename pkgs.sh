#!/bin/sh
# pkgs.sh WHO [--need] PACKAGE... - install the Debian packages of the
# list that are missing
#
# Run by make check (the packages of .ci/packages), start.sh and
# bench/run.sh.  Nothing missing: nothing is done.  As root, the missing
# packages are installed with apt-get (after apt-get update), with a
# policy-rc.d that refuses to start services while they are installed
# (dovecot, for one, would otherwise start on ports 110 and 143), unless
# the administrator has a policy-rc.d already; afterwards their services
# are disabled, so that none starts at the next boot either.  Not as root, or without
# dpkg: with --need that is fatal (exit 111), without it a warning on
# stderr (tests that need a missing package say so and skip).  WHO names
# the caller in messages.
who=${1:-pkgs}
shift
need=
if [ "${1:-}" = --need ]; then
	need=1
	shift
fi

warn() { echo "$who: $*" >&2; }
give_up() {
	if [ -n "$need" ]; then
		echo "$who: fatal: $*" >&2
		exit 111
	fi
	warn "warning: $*"
	exit 0
}

if ! command -v dpkg-query >/dev/null 2>&1; then
	give_up "not a Debian system: install by hand what .ci/packages lists"
fi
missing=
for p do
	dpkg-query -W -f='${Status}\n' "$p" 2>/dev/null | grep -q ' installed$' ||
		missing="$missing $p"
done
[ -n "$missing" ] || exit 0
[ "$(id -u)" = 0 ] || give_up "missing Debian packages:$missing (run as root, or apt-get install them)"

echo "$who: installing Debian packages:$missing"
policy=
if [ ! -e /usr/sbin/policy-rc.d ]; then
	policy=/usr/sbin/policy-rc.d
	printf '#!/bin/sh\nexit 101\n' > "$policy" && chmod 755 "$policy" || policy=
fi
export DEBIAN_FRONTEND=noninteractive
# wait for another apt (unattended upgrades on a fresh machine) to finish
lock="-o DPkg::Lock::Timeout=600"
rc=0
# shellcheck disable=SC2086 # $lock is two words, $missing a list of packages
{ apt-get $lock update -q && apt-get $lock install -y -q --no-install-recommends $missing; } || rc=$?
[ -z "$policy" ] || rm -f "$policy"
[ $rc = 0 ] || give_up "apt-get install$missing failed"
# the packages are tools for the caller, not services of this machine:
# what they would start at boot (dovecot on ports 110 and 995, in the way
# of lanmail's POP3 after a reboot) is disabled; services of packages
# that were installed before are left as they are
for p in $missing; do
	for f in $(dpkg-query -L "$p" 2>/dev/null); do
		case $f in
		/lib/systemd/system/*.service|/lib/systemd/system/*.socket|/usr/lib/systemd/system/*.service|/usr/lib/systemd/system/*.socket)
			command -v systemctl >/dev/null 2>&1 &&
				systemctl disable --quiet "${f##*/}" >/dev/null 2>&1 &&
				warn "disabled ${f##*/} (installed for $who only)"
			;;
		/etc/init.d/*)
			command -v update-rc.d >/dev/null 2>&1 &&
				update-rc.d "${f##*/}" disable >/dev/null 2>&1
			;;
		esac
	done
done
exit 0
