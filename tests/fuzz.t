#!/bin/sh
# fuzz.t - a short smoke run of every libFuzzer target in tests/fuzz/
# (make fuzz runs them for longer); skipped when clang's libFuzzer is
# missing.  Builds into $LANMAIL_BUILD/fuzz.  The first target runs
# alone (it builds lib/ and probes for libFuzzer), the others as many
# at once as there are processors (at most 4): building a target takes
# longer than its fuzzing, and the total must stay short.
if [ -z "${LANMAIL_BUILD:-}" ]; then
	echo "1..0 # SKIP LANMAIL_BUILD is not set: run through make check"
	exit 0
fi
src=${LANMAIL_SRC:-$(cd "$(dirname "$0")/.." && pwd)}
out=$LANMAIL_BUILD/fuzz
secs=${LANMAIL_FUZZ_SMOKE:-1}
jobs=$(getconf _NPROCESSORS_ONLN 2>/dev/null) || jobs=1
case $jobs in ''|*[!0-9]*|0) jobs=1 ;; esac
[ "$jobs" -gt 4 ] && jobs=4

set --
for t in "$src"/tests/fuzz/*.c; do
	[ -f "$t" ] && set -- "$@" "$(basename "$t" .c)"
done
[ $# -gt 0 ] || { echo "1..0 # SKIP no fuzz targets"; exit 0; }

# one target: its output in $out.NAME.log, run.sh's exit code in $out.NAME.rc
script='sh "$FZ_SRC/tests/fuzz/run.sh" "$FZ_OUT" "$FZ_SECS" "$1" > "$FZ_OUT.$1.log" 2>&1
echo $? > "$FZ_OUT.$1.rc"'
export FZ_SRC="$src" FZ_OUT="$out" FZ_SECS="$secs"
mkdir -p "$out" || exit 1
sh -c "$script" sh "$1"
if [ "$(cat "$out.$1.rc")" = 77 ]; then
	echo "1..0 # SKIP clang cannot build libFuzzer targets here (clang, libclang-rt-dev)"
	rm -f "$out.$1.log" "$out.$1.rc"
	exit 0
fi
first=$1
shift
printf '%s\n' "$@" | xargs -r -n 1 -P "$jobs" sh -c "$script" sh

n=0 failed=0
for name in "$first" "$@"; do
	n=$((n + 1))
	r=$(cat "$out.$name.rc" 2>/dev/null)
	if [ "$r" = 0 ]; then
		echo "ok $n - $name: builds with ASan+UBSan and survives ${secs}s of fuzzing"
	else
		echo "not ok $n - $name: exit ${r:-unknown}"
		sed 's/^/# /' "$out.$name.log" | tail -40
		failed=$((failed + 1))
	fi
	rm -f "$out.$name.log" "$out.$name.rc"
done
echo "1..$n"
[ $failed = 0 ]
