#!/bin/sh
# pkgs.t - pkgs.sh, which make check, make start and make bench use to
# install missing Debian packages: nothing to do when all are installed;
# not as root, a missing package is a warning (make check) or fatal with
# --need (make start, make bench).  Installing for real is left to a
# fresh machine: this one is not changed.
src=${LANMAIL_SRC:-$(cd "$(dirname "$0")/.." && pwd)}
n=0 failed=0
check() {	# check WHAT COND
	n=$((n + 1))
	if [ "$2" = 0 ]; then
		echo "ok $n - $1"
	else
		echo "not ok $n - $1"
		failed=1
	fi
}
out=$(sh "$src/pkgs.sh" check coreutils dpkg 2>&1)
rc=$?
check "installed packages: nothing done, nothing said" "$([ $rc = 0 ] && [ -z "$out" ]; echo $?)"
if [ "$(id -u)" = 0 ] && command -v setpriv >/dev/null 2>&1; then
	# the script on standard input: uid 65534 may not reach the tree
	as=$(command -v setpriv)
	out=$("$as" --reuid=65534 --regid=65534 --clear-groups sh -s check coreutils no-such-package-lanmail \
	    < "$src/pkgs.sh" 2>&1)
	rc=$?
	check "not root, a package missing: a warning naming it, exit 0" \
	    "$([ $rc = 0 ] && echo "$out" | grep -q '^check: warning: missing Debian packages: no-such-package-lanmail'; echo $?)"
	out=$("$as" --reuid=65534 --regid=65534 --clear-groups sh -s start --need no-such-package-lanmail \
	    < "$src/pkgs.sh" 2>&1)
	rc=$?
	check "--need: fatal, exit 111" \
	    "$([ $rc = 111 ] && echo "$out" | grep -q '^start: fatal: missing Debian packages: no-such-package-lanmail'; echo $?)"
else
	n=$((n + 2))
	echo "ok $((n - 1)) # skip needs root and setpriv to act as another uid"
	echo "ok $n # skip needs root and setpriv to act as another uid"
fi
if [ "$(id -u)" = 0 ]; then
	# apt-get, dpkg-query and systemctl stand-ins on PATH: a package
	# "installed" now whose service must not start at the next boot
	fake=$(mktemp -d)
	cat > "$fake/dpkg-query" <<-'EOS'
	#!/bin/sh
	case $1 in
	-W) [ -e "${0%/*}/installed" ] && echo "install ok installed" || echo "unknown ok not-installed" ;;
	-L) printf '%s\n' /usr/sbin/fakemaild /lib/systemd/system/fakemaild.service /lib/systemd/system/fakemaild.socket ;;
	esac
	EOS
	cat > "$fake/apt-get" <<-'EOS'
	#!/bin/sh
	case $* in *install*) : > "${0%/*}/installed" ;; esac
	exit 0
	EOS
	cat > "$fake/systemctl" <<-'EOS'
	#!/bin/sh
	echo "$*" >> "${0%/*}/systemctl.log"
	EOS
	chmod 755 "$fake/dpkg-query" "$fake/apt-get" "$fake/systemctl"
	out=$(PATH="$fake:$PATH" sh "$src/pkgs.sh" check fakemaild 2>&1)
	rc=$?
	check "a package it installs has its services disabled: $(cat "$fake/systemctl.log" 2>/dev/null | tr '\n' ';')" \
	    "$([ $rc = 0 ] && grep -qx 'disable --quiet fakemaild.service' "$fake/systemctl.log" &&
	    grep -qx 'disable --quiet fakemaild.socket' "$fake/systemctl.log" &&
	    echo "$out" | grep -q 'disabled fakemaild.service'; echo $?)"
	rm -rf "$fake"
else
	n=$((n + 1))
	echo "ok $n # skip needs root"
fi
echo "1..$n"
[ $failed = 0 ]
