# lanmail - plain make; settings live in conf-*, not here.
#
#   make            build every program into $(B)/
#   make install    install under conf-home (DESTDIR honoured)
#   make check      missing Debian packages (as root), a private single-user
#                   copy in .check/, then prove -r tests/
#   make fuzz       libFuzzer targets, each run for FUZZTIME seconds
#   make start/stop the supervised services (see README)
#
# Every top-level NAME.c is a program; every lib/X.c goes into liblanmail.a.

B = build
CONF_CC = $(shell sed -n 1p conf-cc)
CONF_LD = $(shell sed -n 1p conf-ld)
HOME_DIR = $(shell sed -n 1p conf-home)
SPLIT = $(shell sed -n 1p conf-split)
USERS = $(shell sed '/^$$/q' conf-users | tr '\n' ' ')

PROGS = $(patsubst %.c,%,$(wildcard *.c))
LIBSRC = $(wildcard lib/*.c)
LIBOBJ = $(patsubst lib/%.c,$(B)/lib/%.o,$(LIBSRC)) $(B)/lib/auto.o
TESTSRC = $(wildcard tests/lib-*.c)
TESTBIN = $(patsubst tests/%.c,$(B)/tests/%,$(TESTSRC))

# musl: private include and library directories, never /usr/include
MUSL = $(findstring musl-gcc,$(CONF_CC))
ifneq ($(MUSL),)
INC = -iquote lib -I$(B)/musl/include
CDB = $(B)/musl/lib/libcdb.a
CRYPT = $(B)/musl/shim.o $(B)/musl/trim.o $(B)/musl/lib/libcrypt.a
# qmail-admin makes SHA-512 hashes and checks none: it links that method only
CRYPT512 = $(B)/musl/shim.o $(B)/musl/trim512.o $(B)/musl/lib/libcrypt.a
MUSLDEPS = $(B)/musl/include/cdb.h $(CDB) $(CRYPT) $(B)/musl/trim512.o
# the static programs are built for size: -Os after conf-cc's -O2 wins,
# and functions no program calls are dropped at the link
SMALL = -Os -ffunction-sections -fdata-sections -fno-asynchronous-unwind-tables
GC = -Wl,--gc-sections -Wl,-z,noseparate-code
else
INC = -iquote lib
CDB = -lcdb
CRYPT = -lcrypt
CRYPT512 = -lcrypt
MUSLDEPS =
SMALL =
GC =
endif

# extra libraries, by program (programs not named here need only libc)
LIBS_qmail-auth = $(CRYPT)
LIBS_qmail-admin = $(CRYPT512)
LIBS_qmail-tls = -lssl -lcrypto
LIBS_qmail-list = -lcrypto
LIBS_qmail-dkim = -lcrypto
LIBS_qmail-dkimverify = -lcrypto
LIBS_qmail-dkimkey = -lcrypto
LIBS_qmail-srs = -lcrypto
LIBS_qmail-webadmin = $(CRYPT) -lcrypto

all: $(addprefix $(B)/,$(PROGS))

.PHONY: all install check checkdeps testhome fuzz clean start stop bench FORCE

$(B)/lib $(B)/tests $(B)/musl/include $(B)/musl/lib $(B)/fuzz:
	mkdir -p $@

# auto.c: rewritten only when a setting changes, so nothing rebuilds needlessly
$(B)/lib/auto.c: FORCE | $(B)/lib
	@sh ./mkauto.sh '$(HOME_DIR)' '$(SPLIT)' '$(USERS)' > $@.new
	@if cmp -s $@.new $@; then rm -f $@.new; else mv $@.new $@; fi

$(B)/lib/auto.o: $(B)/lib/auto.c lib/auto.h $(MUSLDEPS)
	$(CONF_CC) $(INC) $(SMALL) -c -o $@ $<

$(B)/lib/%.o: lib/%.c lib/*.h $(MUSLDEPS) | $(B)/lib
	$(CONF_CC) $(INC) $(SMALL) -c -o $@ $<

$(B)/liblanmail.a: $(LIBOBJ)
	rm -f $@
	ar rcs $@ $(LIBOBJ)

$(B)/%.o: %.c lib/*.h $(MUSLDEPS) | $(B)/lib
	$(CONF_CC) $(INC) $(SMALL) -c -o $@ $<

$(B)/%: $(B)/%.o $(B)/liblanmail.a
	$(CONF_LD) $(GC) -o $@ $< $(B)/liblanmail.a $(LIBS_$*) $(CDB)

# qmail-tls links the system's OpenSSL, a glibc library: in a musl build
# it alone is compiled with the system cc, from the lib/ sources it uses
ifneq ($(MUSL),)
TLSLIB = lib/buf.c lib/die.c lib/env.c lib/mono.c lib/priv.c lib/sig.c lib/spawn.c lib/starttls.c lib/str.c
$(B)/qmail-tls: qmail-tls.c $(TLSLIB) lib/*.h $(B)/lib/auto.c
	cc -O2 -std=c99 -D_POSIX_C_SOURCE=200809L -D_DEFAULT_SOURCE -Wall -Wextra \
	    -iquote lib -o $@ qmail-tls.c $(TLSLIB) $(B)/lib/auto.c $(LIBS_qmail-tls)
# qmail-list's cookies are HMAC-SHA256 from libcrypto: the same way
LISTLIB = lib/buf.c lib/control.c lib/date822.c lib/die.c lib/env.c lib/listcmd.c \
	lib/maildir.c lib/mono.c lib/priv.c lib/qqfilter.c lib/sig.c lib/spawn.c lib/statefile.c lib/str.c
$(B)/qmail-list: qmail-list.c $(LISTLIB) lib/*.h $(B)/lib/auto.c
	cc -O2 -std=c99 -D_POSIX_C_SOURCE=200809L -D_DEFAULT_SOURCE -Wall -Wextra \
	    -iquote lib -o $@ qmail-list.c $(LISTLIB) $(B)/lib/auto.c $(LIBS_qmail-list)
# the DKIM and SRS programs link libcrypto: the same way
CRYPTOPROGS = qmail-dkim qmail-dkimverify qmail-dkimkey qmail-srs
CRYPTOLIB = lib/authres.c lib/base64.c lib/buf.c lib/control.c lib/die.c lib/dkim.c lib/dns.c lib/dnspkt.c \
	lib/env.c lib/mono.c lib/qqfilter.c lib/seekable.c lib/sig.c lib/spawn.c lib/spool.c lib/srs.c lib/str.c
$(addprefix $(B)/,$(CRYPTOPROGS)): $(B)/%: %.c $(CRYPTOLIB) lib/*.h $(B)/lib/auto.c
	cc -O2 -std=c99 -D_POSIX_C_SOURCE=200809L -D_DEFAULT_SOURCE -Wall -Wextra \
	    -iquote lib -o $@ $< $(CRYPTOLIB) $(B)/lib/auto.c $(LIBS_$*)
# qmail-webadmin's TOTP codes are HMAC-SHA1 from libcrypto: the same way
WEBLIB = lib/authfail.c lib/buf.c lib/control.c lib/die.c lib/env.c lib/fsync.c lib/http.c lib/lcdb.c lib/maildir.c \
	lib/mono.c lib/names.c lib/priv.c lib/spawn.c lib/statefile.c lib/str.c lib/vpasswd.c
$(B)/qmail-webadmin: qmail-webadmin.c $(WEBLIB) lib/*.h $(B)/lib/auto.c
	cc -O2 -std=c99 -D_POSIX_C_SOURCE=200809L -D_DEFAULT_SOURCE -Wall -Wextra \
	    -iquote lib -o $@ qmail-webadmin.c $(WEBLIB) $(B)/lib/auto.c -lcrypt -lcdb -lcrypto
endif

$(B)/musl/include/cdb.h: /usr/include/cdb.h | $(B)/musl/include
	cp /usr/include/cdb.h $@
$(B)/musl/lib/libcdb.a: | $(B)/musl/lib
	cp /usr/lib/$$(gcc -print-multiarch)/libcdb.a $@
$(B)/musl/lib/libcrypt.a: | $(B)/musl/lib
	cp /usr/lib/$$(gcc -print-multiarch)/libcrypt.a $@
$(B)/musl/shim.o: musl/shim.c | $(B)/musl/lib
	$(CONF_CC) -c -o $@ musl/shim.c
$(B)/musl/trim.o: musl/trim.c | $(B)/musl/lib
	$(CONF_CC) -c -o $@ musl/trim.c
$(B)/musl/trim512.o: musl/trim.c | $(B)/musl/lib
	$(CONF_CC) -DSHA512_ONLY -c -o $@ musl/trim.c

# unit tests: tests/lib-X.c, run by tests/lib-X.t
$(B)/tests/%: tests/%.c tests/tap.h $(B)/liblanmail.a | $(B)/tests
	$(CONF_CC) $(INC) -iquote tests -o $@ $< $(B)/liblanmail.a $(CRYPT) $(CDB)

# lib-crypt512 links libcrypt as qmail-admin does
$(B)/tests/lib-crypt512: CRYPT = $(CRYPT512)

tests: $(TESTBIN)

install: all
	sh ./install.sh '$(B)' '$(DESTDIR)' '$(HOME_DIR)' '$(SPLIT)' '$(USERS)' '$(PROGS)'

# make check: a private single-user copy under $(CHECK), then every test
CHECK = $(CURDIR)/.check
CHECKMAKE = $(MAKE) B='$(CHECK)/build' HOME_DIR='$(CHECK)/home' USERS="$$(id -un)"

# the Debian packages the build and the tests need (.ci/packages): the
# missing ones are installed when run as root, else named in a warning
checkdeps:
	sh ./pkgs.sh check $$(sed 's/#.*//' .ci/packages)

# PARTIAL=1: keep going past programs that do not build (development)
testhome: checkdeps
	rm -rf '$(CHECK)/home'
	$(CHECKMAKE) $(if $(PARTIAL),-k) all tests || [ -n "$(PARTIAL)" ]
	PARTIAL='$(PARTIAL)' $(CHECKMAKE) install

# temporary files of the tests live in $(CHECK)/tmp too (TMPDIR)
check: testhome
	rm -rf '$(CHECK)/tmp'
	mkdir -p '$(CHECK)/tmp'
	TMPDIR='$(CHECK)/tmp' LANMAIL_HOME='$(CHECK)/home' LANMAIL_BUILD='$(CHECK)/build' \
	LANMAIL_SRC='$(CURDIR)' prove -r tests/

FUZZTIME = 60
fuzz:
	sh ./tests/fuzz/run.sh '$(B)/fuzz' '$(FUZZTIME)'

clean:
	rm -rf build .check

# make start / make stop: see start.sh, stop.sh and lanmail-start(8)
start:
	MAKE='$(MAKE)' sh ./start.sh '$(HOME_DIR)' '$(SPLIT)' '$(USERS)'

stop:
	sh ./stop.sh '$(HOME_DIR)'

# make bench: lanmail against Postfix and Dovecot (see bench/README.md)
bench:
	MAKE='$(MAKE)' sh ./bench/run.sh

FORCE:
