#!/bin/sh
# fuzz.t - a short smoke run of every libFuzzer target in tests/fuzz/
# (make fuzz runs them for longer); skipped when clang's libFuzzer is
# missing.  Builds into $LANMAIL_BUILD/fuzz.
if [ -z "${LANMAIL_BUILD:-}" ]; then
	echo "1..0 # SKIP LANMAIL_BUILD is not set: run through make check"
	exit 0
fi
src=${LANMAIL_SRC:-$(cd "$(dirname "$0")/.." && pwd)}
out=$LANMAIL_BUILD/fuzz
secs=${LANMAIL_FUZZ_SMOKE:-1}
n=0 failed=0
for t in "$src"/tests/fuzz/*.c; do
	[ -f "$t" ] || continue
	name=$(basename "$t" .c)
	sh "$src/tests/fuzz/run.sh" "$out" "$secs" "$name" > "$out.$name.log" 2>&1
	r=$?
	if [ $r = 77 ] && [ $n = 0 ]; then
		echo "1..0 # SKIP clang cannot build libFuzzer targets here (clang, libclang-rt-dev)"
		rm -f "$out.$name.log"
		exit 0
	fi
	n=$((n + 1))
	if [ $r = 0 ]; then
		echo "ok $n - $name: builds with ASan+UBSan and survives ${secs}s of fuzzing"
	else
		echo "not ok $n - $name: exit $r"
		sed 's/^/# /' "$out.$name.log" | tail -40
		failed=$((failed + 1))
	fi
	rm -f "$out.$name.log"
done
echo "1..$n"
[ $failed = 0 ]
