#!/bin/sh
# run.sh OUTDIR SECONDS [NAME...] - build and run the libFuzzer targets
#
# Every tests/fuzz/NAME.c (or only the NAMEs given) is compiled with
# clang, libFuzzer, AddressSanitizer and UndefinedBehaviorSanitizer and
# linked against every lib/*.c (compiled the same way, into an archive)
# and a generated auto.c; then each runs for SECONDS seconds on its
# corpus OUTDIR/corpus/NAME (seeded from tests/fuzz/NAME/ when that
# directory exists).  A target that needs more than lib/ names the extra
# sources, relative to the source tree, on its first line:
#	/* fuzz-sources: some/file.c other.c */
# Crashing inputs are saved as OUTDIR/crash-NAME-*.
#
# Exit 0 when every target built and ran clean, 1 when one did not,
# 77 when clang or its libFuzzer is missing.
set -u
out=$1 secs=$2
shift 2
src=$(cd "$(dirname "$0")/../.." && pwd)
CC=${FUZZCC:-clang}
FLAGS="-g -O1 -std=c99 -D_POSIX_C_SOURCE=200809L -D_DEFAULT_SOURCE -Wall -Wextra -fno-omit-frame-pointer -fno-sanitize-recover=all"
LIBS="-lcdb -lcrypt"

mkdir -p "$out/lib" "$out/corpus" || exit 1
out=$(cd "$out" && pwd)

# is libFuzzer there at all?
[ -x "$out/probe" ] || printf '#include <stddef.h>\n#include <stdint.h>\nint LLVMFuzzerTestOneInput(const uint8_t *d, size_t n) { (void)d; (void)n; return 0; }\n' > "$out/probe.c"
if [ ! -x "$out/probe" ] &&
    ! $CC -fsanitize=fuzzer,address,undefined -o "$out/probe" "$out/probe.c" >"$out/probe.log" 2>&1; then
	echo "run.sh: $CC cannot build libFuzzer targets (install clang and libclang-rt-dev):" >&2
	sed 's/^/	/' "$out/probe.log" >&2
	exit 77
fi

cd "$src" || exit 1

# lib/*.c and auto.c: rebuilt when the source or any header is newer
newest_h=$(ls -t lib/*.h | sed -n 1p)
# (a name of its own: tests/fuzz.t runs several targets at once)
sh ./mkauto.sh "$(sed -n 1p conf-home)" "$(sed -n 1p conf-split)" "$(sed '/^$/q' conf-users | tr '\n' ' ')" > "$out/lib/auto.c.new.$$" || exit 1
if cmp -s "$out/lib/auto.c.new.$$" "$out/lib/auto.c"; then rm -f "$out/lib/auto.c.new.$$"; else mv "$out/lib/auto.c.new.$$" "$out/lib/auto.c"; fi
for c in lib/*.c "$out/lib/auto.c"; do
	o=$out/lib/$(basename "$c" .c).o
	if [ ! -f "$o" ] || [ "$c" -nt "$o" ] || [ "$newest_h" -nt "$o" ]; then
		echo "$c $o"
	fi
done | xargs -r -n 2 -P 2 sh -c "$CC $FLAGS -fsanitize=fuzzer-no-link,address,undefined -iquote lib -c -o \"\$1\" \"\$0\" || exit 255"
[ $? -eq 0 ] || { echo "run.sh: building lib/ failed" >&2; exit 1; }
# the archive holds the objects of today's lib/*.c only (a removed or
# renamed module must not linger)
objs= stale=0
for c in lib/*.c "$out/lib/auto.c"; do
	o=$out/lib/$(basename "$c" .c).o
	objs="$objs $o"
	[ -f "$out/liblanmail.a" ] && [ ! "$o" -nt "$out/liblanmail.a" ] || stale=1
done
[ "$(ls "$out"/lib/*.o | wc -l)" -eq "$(echo $objs | wc -w)" ] || stale=1
if [ $stale = 1 ]; then
	rm -f "$out/liblanmail.a"
	# shellcheck disable=SC2086 # a list of object files
	ar rcs "$out/liblanmail.a" $objs || exit 1
fi

if [ $# -eq 0 ]; then
	for t in tests/fuzz/*.c; do
		[ -f "$t" ] && set -- "$@" "$(basename "$t" .c)"
	done
fi

status=0
for name in "$@"; do
	t=tests/fuzz/$name.c
	extra=$(sed -n '1s/^.*fuzz-sources:\(.*\)\*\/.*$/\1/p' "$t")
	echo "=== $name: build"
	# shellcheck disable=SC2086 # extra is a list of file names
	if ! $CC $FLAGS -fsanitize=fuzzer,address,undefined -iquote lib -o "$out/$name" \
	    "$t" $extra "$out/liblanmail.a" $LIBS; then
		echo "run.sh: $name: build failed" >&2
		status=1
		continue
	fi
	mkdir -p "$out/corpus/$name"
	seeds=
	[ -d "tests/fuzz/$name" ] && seeds=tests/fuzz/$name
	echo "=== $name: fuzz for $secs s"
	# shellcheck disable=SC2086 # seeds is empty or one directory
	if ! ASAN_OPTIONS=allocator_may_return_null=1:detect_leaks=1 \
	    UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
	    "$out/$name" -max_total_time="$secs" -timeout=20 -rss_limit_mb=2048 \
	    -artifact_prefix="$out/crash-$name-" -print_final_stats=1 \
	    "$out/corpus/$name" $seeds > "$out/$name.log" 2>&1; then
		echo "run.sh: $name: FAILED (log: $out/$name.log)" >&2
		tail -40 "$out/$name.log" >&2
		status=1
		continue
	fi
	grep -E '^stat::number_of_executed_units|^Done' "$out/$name.log" | sed 's/^/	/'
done
exit $status
