#!/bin/sh
# bench/run.sh - make bench: lanmail side by side with Postfix and Dovecot
#
#  1. installs what is missing from Debian (postfix for the peer and its
#     smtp-source and smtp-sink, dovecot-pop3d, gnuplot-nox, the build
#     tools), with debconf told "No configuration" for postfix and no
#     service started (pkgs.sh);
#  2. builds lanmail's static musl programs and installs a private
#     single-user copy into $BENCH_DIR/lanmail, builds bench/fsyncbench.c;
#  3. runs bench/bench.py (the workloads, both systems on loopback high
#     ports, each from its own configuration under $BENCH_DIR), then
#     bench/report.py (the Markdown table and the PNG in bench/results/).
# Every process started is stopped by pid at the end, also on failure.
# Settings (environment or make variables): see bench/README.md.
set -e
cd "$(dirname "$0")/.."
src=$(pwd)
: "${BENCH_DIR:=/tmp/lanmail-bench}" "${RESULTS:=$src/bench/results}"
MUSL_CC="musl-gcc -static -O2 -std=c99 -D_POSIX_C_SOURCE=200809L -D_DEFAULT_SOURCE -Wall -Wextra"
MUSL_LD="musl-gcc -static"
PACKAGES="postfix dovecot-pop3d gnuplot-nox ucspi-tcp-ipv6 musl-tools libcdb-dev libcrypt-dev build-essential file"

say() { echo "bench: $*"; }
die() { echo "bench: fatal: $*" >&2; exit 111; }

case $BENCH_DIR in
/tmp/?*|/var/tmp/?*|/home/?*/*|/root/?*) ;;
*) die "BENCH_DIR must be a scratch directory under /tmp, /var/tmp or a home: $BENCH_DIR" ;;
esac
[ "$(id -u)" = 0 ] || die "make bench runs Postfix's master, which needs root: run it as root"

# 1. packages (postfix told "No configuration" before it is installed)
if ! dpkg-query -W -f='${Status}\n' postfix 2>/dev/null | grep -q ' installed$'; then
	echo "postfix postfix/main_mailer_type select No configuration" | debconf-set-selections
fi
# shellcheck disable=SC2086 # one package per word
sh ./pkgs.sh bench --need $PACKAGES || exit 111

# what is started from here on is stopped at the end, by pid
mkdir -p "$BENCH_DIR"
pids=$BENCH_DIR/pids
py=
cleanup() {
	rc=$?
	trap - EXIT INT TERM
	# bench.py stops what it started when told to
	if [ -n "$py" ]; then
		kill -TERM "$py" 2>/dev/null || true
		wait "$py" 2>/dev/null || true
	fi
	if [ -s "$BENCH_DIR/postfix/conf/main.cf" ]; then
		postfix -c "$BENCH_DIR/postfix/conf" stop >/dev/null 2>&1 || true
	fi
	if [ -s "$pids" ]; then
		while read -r pid; do
			case $pid in *[!0-9]*|'') continue ;; esac
			kill -TERM "$pid" 2>/dev/null || true
		done < "$pids"
		sleep 1
		while read -r pid; do
			case $pid in *[!0-9]*|'') continue ;; esac
			kill -KILL "$pid" 2>/dev/null || true
		done < "$pids"
		: > "$pids"
	fi
	# the mail stores take hundreds of MB; results.json and the logs stay
	rm -rf "$BENCH_DIR/lanmail" "$BENCH_DIR/postfix" "$BENCH_DIR/dovecot" "$BENCH_DIR/disk"
	exit $rc
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# a previous run's Postfix, should it still run, first
if [ -s "$BENCH_DIR/postfix/conf/main.cf" ]; then
	postfix -c "$BENCH_DIR/postfix/conf" stop >/dev/null 2>&1 || true
fi
rm -rf "$BENCH_DIR/lanmail" "$BENCH_DIR/postfix" "$BENCH_DIR/dovecot" "$BENCH_DIR/disk"
: > "$pids"

# 2. lanmail, static musl, single user
say "building lanmail (static musl) into $BENCH_DIR"
${MAKE:-make} --no-print-directory -s B="$BENCH_DIR/build" CONF_CC="$MUSL_CC" CONF_LD="$MUSL_LD" \
	HOME_DIR="$BENCH_DIR/lanmail" USERS="$(id -un)" all install
cc -O2 -std=c99 -D_POSIX_C_SOURCE=200809L -Wall -Wextra -o "$BENCH_DIR/fsyncbench" bench/fsyncbench.c

# 3. the workloads, then the report
# (in the background, so that a signal reaches the trap at once)
/usr/bin/python3 bench/bench.py "$src" "$BENCH_DIR" &
py=$!
rc=0
wait "$py" || rc=$?
py=
[ $rc = 0 ] || exit $rc
mkdir -p "$RESULTS"
/usr/bin/python3 bench/report.py "$BENCH_DIR/results.json" "$RESULTS"
