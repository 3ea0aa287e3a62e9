#!/bin/sh
# lib-crypt.t - crypt(3) test vectors in this build, and password hashing
# as qmail-admin links it (tests/lib-crypt512); then, when a static musl
# build is at hand, that every program in it is statically linked (but
# those that link a system library such as OpenSSL, built with cc on
# purpose) and under 128 KiB stripped, that it hashes exactly as this
# build does, and that qmail-admin's SHA-512-only link makes hashes the
# complete libcrypt accepts.
#
# The musl build is $LANMAIL_MUSL_BUILD (set by .ci/run), or else one
# this test makes with make into $LANMAIL_BUILD/../musl when musl-gcc is
# installed.
# run_tap PROGRAM - its TAP lines, numbered on from $n
n=0 failed=0
run_tap() {
	"$1" > "$LANMAIL_BUILD/lib-crypt.tap" || failed=1
	awk -v n="$n" '/^ok |^not ok / { sub(/ok [0-9]+/, "ok " ++n) } !/^1\.\./' \
	    "$LANMAIL_BUILD/lib-crypt.tap"
	n=$((n + $(grep -c '^ok\|^not ok' "$LANMAIL_BUILD/lib-crypt.tap")))
	rm -f "$LANMAIL_BUILD/lib-crypt.tap"
}
run_tap "$LANMAIL_BUILD/tests/lib-crypt"
run_tap "$LANMAIL_BUILD/tests/lib-crypt512"

# hashes of "x" by method, as vpasswd(5) lists them: the musl build
# checks the first seven, the cc build all but the last
set -- \
    '$6$abcdefgh$D7W7qyozKBT.t6FD3DVYHvADbIO0eSyI4.p20LaEUjro8PqTGYYo/EQcuNjhFbzo9Yg5ir1KIEqFY/yJpgFph0' \
    '$5$abcdefgh$sI6g8tHKrJ6RX7w.YoN9B7a/5wK5jYEOMmMnt3tPl0/' \
    '$y$j9T$F5Jx5fExrKuPp53xLKQ..1$6foLM1JhGupouWKMU70wxK61Kw9ZnecbACjJwRadqM2' \
    '$2a$05$CCCCCCCCCCCCCCCCCCCCC.Xn7FSvv79c6bu/kgV/.kBlx/ChE9.FW' \
    '$2b$05$CCCCCCCCCCCCCCCCCCCCC.Xn7FSvv79c6bu/kgV/.kBlx/ChE9.FW' \
    '$2x$05$CCCCCCCCCCCCCCCCCCCCC.Xn7FSvv79c6bu/kgV/.kBlx/ChE9.FW' \
    '$2y$05$CCCCCCCCCCCCCCCCCCCCC.Xn7FSvv79c6bu/kgV/.kBlx/ChE9.FW' \
    '$1$abcdefgh$znAnv9M.XU2pRYfmSs46h/' \
    'abiQ6Ep3EYTHc' \
    '_J9..abcd5WNy9VUCfAY' \
    '$7$CU..../....NJO//IYy8IjXsKyI5iDPi0$Cdm55UI4HHtO.yjVu/OwjhohlnRsnHWdedtcoA3lN42' \
    '$gy$j9T$ugBM7UGcCch7PxOAeYyRU.$2CyBVwm555oXsgsAeGDBbQ0VkJZVh1/hIl.9nG6qtS1' \
    '$sha1$1000$abcdefgh$S1ArdJYzrh17g244/Kvgwg8.Q1c0' \
    '$md5,rounds=1000$abcdefgh$$JINIqc1xXGRkkFrIy2gI30' \
    '$3$$a9f0dd57e1edab5bb55a9ac0a99c15ec' \
    '$argon2id$v=19$m=65536,t=3,p=4$c2FsdHNhbHQ$aGFzaA'
usable() {
	"$@" | tr -d '\n'
}
# the build under test is cc's, or (a static program) musl's
want=1111111111111110
if ! ldd "$LANMAIL_BUILD/tests/lib-crypt" >/dev/null 2>&1; then
	want=1111111000000000
fi
n=$((n + 1))
got=$(usable "$LANMAIL_BUILD/tests/lib-crypt" usable "$@")
if [ "$got" = "$want" ]; then
	echo "ok $n - vpasswd_usable in this build: $got"
else
	echo "not ok $n - vpasswd_usable in this build: $got"
	failed=1
fi
n=$((n + 1))
got=$(usable "$LANMAIL_BUILD/tests/lib-crypt512" usable "$@")
if [ "$got" = "$want" ]; then
	echo "ok $n - the same as qmail-admin links it"
else
	echo "not ok $n - vpasswd_usable as qmail-admin links it: $got"
	failed=1
fi

src=${LANMAIL_SRC:-$(cd "$(dirname "$0")/.." && pwd)}
musl=${LANMAIL_MUSL_BUILD:-}
if [ -z "$musl" ] && command -v musl-gcc >/dev/null 2>&1; then
	musl=$(cd "$LANMAIL_BUILD/.." && pwd)/musl
	cc=$(sed -n 1p "$src/conf-cc" | sed 's/^[^ ]*/musl-gcc -static/')
	jobs=$(getconf _NPROCESSORS_ONLN 2>/dev/null) || jobs=1
	case $jobs in ''|*[!0-9]*|0) jobs=1 ;; esac
	make -s -k -j "$jobs" -C "$src" B="$musl" CONF_CC="$cc" CONF_LD="musl-gcc -static" all tests \
	    > "$LANMAIL_BUILD/lib-crypt.musl.log" 2>&1
	rm -f "$LANMAIL_BUILD/lib-crypt.musl.log"
fi
if [ -z "$musl" ] || [ ! -x "$musl/tests/lib-crypt" ]; then
	n=$((n + 1))
	echo "ok $n # skip no musl build (install musl-tools, or set LANMAIL_MUSL_BUILD)"
	echo "1..$n"
	exit $failed
fi

# programs that link a system library (LIBS_prog holding a -l, such as
# OpenSSL's) are built with cc on purpose; every other one is libc-only
dynamic_ok=" $(sed -n 's/^LIBS_\([A-Za-z0-9_-]*\)[ 	]*=.*-l.*/\1/p' "$src/Makefile" | tr '\n' ' ') "
bad= big= checked=0
for p in "$src"/*.c; do
	p=$(basename "$p" .c)
	[ -f "$musl/$p" ] || continue
	case $dynamic_ok in *" $p "*) continue ;; esac
	checked=$((checked + 1))
	file -L "$musl/$p" | grep -q 'statically linked' || bad="$bad $p"
	cp "$musl/$p" "$LANMAIL_BUILD/lib-crypt.size" && strip "$LANMAIL_BUILD/lib-crypt.size" &&
	    sz=$(wc -c < "$LANMAIL_BUILD/lib-crypt.size") && [ "$sz" -lt 131072 ] || big="$big $p(${sz:-?})"
	rm -f "$LANMAIL_BUILD/lib-crypt.size"
done
[ -f "$musl/qmail-queue" ] || bad="$bad (no qmail-queue built)"
n=$((n + 1))
if [ -z "$bad" ]; then
	echo "ok $n - all $checked libc-only programs in $musl are statically linked"
else
	echo "not ok $n - dynamically linked in the musl build:$bad"
	failed=1
fi
n=$((n + 1))
if [ -z "$big" ]; then
	echo "ok $n - every one of them is under 128 KiB stripped"
else
	echo "not ok $n - 128 KiB or more stripped:$big"
	failed=1
fi
n=$((n + 1))
if file -L "$musl/tests/lib-crypt" | grep -q 'statically linked'; then
	echo "ok $n - lib-crypt in the musl build is statically linked"
else
	echo "not ok $n - lib-crypt in the musl build is not static"
	failed=1
fi

a=$("$LANMAIL_BUILD/tests/lib-crypt" print)
b=$("$musl/tests/lib-crypt" print)
n=$((n + 1))
if [ -n "$a" ] && [ "$a" = "$b" ] && ! echo "$a" | grep -q '(null)\|^\*'; then
	echo "ok $n - the musl build hashes as this build does (SHA-512, bcrypt, SHA-256, yescrypt)"
else
	echo "not ok $n - hashes differ between the builds"
	echo "$a" | sed 's/^/# this: /'
	echo "$b" | sed 's/^/# musl: /'
	failed=1
fi
n=$((n + 1))
"$musl/tests/lib-crypt" > /dev/null
if [ $? = 0 ]; then
	echo "ok $n - the musl build passes the test vectors"
else
	echo "not ok $n - the musl build fails the test vectors"
	failed=1
fi
run_tap "$musl/tests/lib-crypt512"
n=$((n + 1))
got=$(usable "$musl/tests/lib-crypt" usable "$@")
got512=$(usable "$musl/tests/lib-crypt512" usable "$@")
if [ "$got" = 1111111000000000 ] && [ "$got512" = "$got" ]; then
	echo "ok $n - the musl build checks SHA-512, SHA-256, yescrypt and bcrypt hashes, and qmail-admin's link knows it"
else
	echo "not ok $n - the methods of the musl build: $got, as qmail-admin links it: $got512"
	failed=1
fi
pw=$(printf 'p\303\244ss w0rd')
h=$("$musl/tests/lib-crypt512" print "$pw")
n=$((n + 1))
if [ -n "$h" ] && "$LANMAIL_BUILD/tests/lib-crypt" verify "$pw" "$h" &&
    "$musl/tests/lib-crypt" verify "$pw" "$h" &&
    ! "$musl/tests/lib-crypt" verify 'pass w0rd' "$h"; then
	echo "ok $n - a hash made as qmail-admin makes it in the musl build is accepted by both builds"
else
	echo "not ok $n - a hash made as qmail-admin makes it in the musl build: ${h:-none}"
	failed=1
fi
echo "1..$n"
[ $failed = 0 ]
