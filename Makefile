# phaul: live migration of process trees and containers.
#
#   make            build build/phaul
#   make deps       install every Debian package needed to build, run, test
#   make check      unit tests, sanitizer build, fuzz smoke, VM migration tests
#   make demo       boot two VMs and migrate a live workload between them
#   make install    PREFIX=/usr/local DESTDIR= (never overwrites a file under /etc)
#   make uninstall  removes what install put there, except /etc/phaul and the work dir
#   make deb        the Debian package ../phaul_*.deb (dpkg-buildpackage)
#   make clean

PREFIX  ?= /usr/local
DESTDIR ?=
SYSCONFDIR ?= /etc
UNITDIR ?= $(PREFIX)/lib/systemd/system
MANDIR  ?= $(PREFIX)/share/man
DOCDIR  ?= $(PREFIX)/share/doc/phaul
COMPLDIR ?= $(PREFIX)/share/bash-completion/completions
B       := build
CC      ?= cc
PKGS    := libssh2 libprotobuf-c liburing libzstd libcurl inih libsodium jansson
VERSION := 0.1.0
# The commit --version shows: from git, or given (PHAUL_COMMIT=...), or none
# outside a git tree (a release tarball).
PHAUL_COMMIT ?= $(shell c=$$(git rev-parse --short=12 HEAD 2>/dev/null) && \
	{ git diff --quiet HEAD -- 2>/dev/null && echo $$c || echo $$c-dirty; })

CFLAGS  ?= -O2 -g
override CFLAGS += -std=gnu11 -Wall -Wextra -Wno-unused-parameter -Wshadow -Wformat=2 \
	   -D_GNU_SOURCE -DPHAUL_VERSION=\"$(VERSION)\" \
	   -I. -Iphaul -I$(B)/proto $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
LDLIBS  += $(shell pkg-config --libs $(PKGS) 2>/dev/null) -lpthread

CRIU_PROTO := /usr/include/criu/rpc.proto
PROTO_SRC  := $(B)/proto/phaul.pb-c.c $(B)/proto/rpc.pb-c.c $(B)/proto/criu_stats.pb-c.c \
	      $(B)/proto/criu_pagemap.pb-c.c $(B)/proto/criu_mm.pb-c.c
PROTO_HDR  := $(PROTO_SRC:.c=.h)

LIB_SRC := $(filter-out phaul/main.c, $(wildcard phaul/*.c transport/*.c engine/*.c proto/*.c \
	   compat/*.c fs-sync/*.c))
LIB_OBJ := $(LIB_SRC:%.c=$(B)/obj/%.o) $(PROTO_SRC:.c=.o)
TESTS   := $(patsubst tests/unit/%.c,$(B)/tests/%,$(wildcard tests/unit/test_*.c))
FUZZERS := $(patsubst tests/fuzz/%.c,$(B)/fuzz/%,$(wildcard tests/fuzz/fuzz_*.c))

all: $(B)/phaul

$(B)/phaul: $(B)/obj/phaul/main.o $(B)/libphaul.a
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $^ $(LDLIBS)

# Rewritten only when the commit changes, so a rebuild stays a no-op.
$(B)/version.h: FORCE
	@mkdir -p $(B)
	@echo '#define PHAUL_COMMIT "$(PHAUL_COMMIT)"' >$@.tmp
	@cmp -s $@.tmp $@ && rm -f $@.tmp || mv $@.tmp $@

$(B)/obj/phaul/main.o: $(B)/version.h

$(B)/libphaul.a: $(LIB_OBJ)
	rm -f $@ && ar rcs $@ $^

$(B)/obj/%.o: %.c $(PROTO_HDR)
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) $(CFLAGS) -I$(B) -MMD -MP -c -o $@ $<

$(B)/proto/phaul.pb-c.c $(B)/proto/phaul.pb-c.h: proto/phaul.proto
	@mkdir -p $(B)/proto
	protoc-c --proto_path=proto --c_out=$(B)/proto $<

# CRIU's RPC definition comes from the installed criu package, never a copy.
$(B)/proto/rpc.pb-c.c $(B)/proto/rpc.pb-c.h: $(CRIU_PROTO)
	@mkdir -p $(B)/proto
	protoc-c --proto_path=$(dir $(CRIU_PROTO)) --c_out=$(B)/proto $<

# The subset of CRIU's images/stats.proto phaul reads (not installed by the package).
$(B)/proto/criu_stats.pb-c.c $(B)/proto/criu_stats.pb-c.h: engine/criu_stats.proto
	@mkdir -p $(B)/proto
	protoc-c --proto_path=engine --c_out=$(B)/proto $<

# CRIU's images/pagemap.proto, which the flat page store writes.
$(B)/proto/criu_pagemap.pb-c.c $(B)/proto/criu_pagemap.pb-c.h: engine/criu_pagemap.proto
	@mkdir -p $(B)/proto
	protoc-c --proto_path=engine --c_out=$(B)/proto $<

# The subset of CRIU's images/mm.proto a hybrid's destination reads (its VMAs).
$(B)/proto/criu_mm.pb-c.c $(B)/proto/criu_mm.pb-c.h: engine/criu_mm.proto
	@mkdir -p $(B)/proto
	protoc-c --proto_path=engine --c_out=$(B)/proto $<

$(B)/proto/%.o: $(B)/proto/%.c
	$(CC) $(CFLAGS) -Wno-unused-parameter -c -o $@ $<

# The .d file (beside the objects, out of build/tests/test_*'s way) rebuilds a
# test when a header it includes changes, tests/unit/*.h included.
$(B)/tests/%: tests/unit/%.c $(B)/libphaul.a
	@mkdir -p $(dir $@) $(B)/obj/tests/unit
	$(CC) $(CFLAGS) -MMD -MP -MF $(B)/obj/tests/unit/$*.d -MT $@ -o $@ $< $(B)/libphaul.a \
		$(LDLIBS) -lcmocka

# The balancer's fleet simulation (tests/sim): the real decision code, no I/O.
$(B)/sim/balance_sim: tests/sim/balance_sim.c $(B)/libphaul.a
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -o $@ $< $(B)/libphaul.a $(LDLIBS) -lm

sim: $(B)/sim/balance_sim

# A misbehaving tcp peer for tests/host/run.sh (stalls, idle sessions).
$(B)/tests/host-peer: tests/host/peer.c $(B)/libphaul.a
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -o $@ $< $(B)/libphaul.a $(LDLIBS)

# ---- sanitizer build: the same library and tests under ASan+UBSan ----
SAN_FLAGS := -O1 -g -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all
san:
	$(MAKE) B=build-san CFLAGS="$(SAN_FLAGS)" LDFLAGS="$(SAN_FLAGS)" tests

# ---- fuzzers: libFuzzer (clang) over every parser that reads the wire ----
FUZZ_FLAGS := -O1 -g -fsanitize=fuzzer,address,undefined -fno-omit-frame-pointer
fuzz-build:
	$(MAKE) B=build-fuzz CC=clang CFLAGS="-O1 -g -fsanitize=fuzzer-no-link,address,undefined" \
		build-fuzz/libphaul.a
	@mkdir -p build-fuzz/fuzz
	@$(MAKE) --no-print-directory $(FUZZ_BINS)

# relinked every time (as the library they link may have been rebuilt), in
# parallel under make -j
FUZZ_BINS := $(patsubst tests/fuzz/%.c,build-fuzz/fuzz/%,$(wildcard tests/fuzz/fuzz_*.c))
build-fuzz/fuzz/fuzz_%: tests/fuzz/fuzz_%.c FORCE
	@echo "  FUZZ fuzz_$*"
	@clang $(FUZZ_FLAGS) $(filter-out -O2,$(CFLAGS)) -o $@ $< build-fuzz/libphaul.a $(LDLIBS)

FUZZ_SECONDS ?= 15
# Targets fuzzed at once (each libFuzzer run is single-threaded).
FUZZ_JOBS ?= 2
fuzz: fuzz-build
	@./tests/fuzz/run.sh $(FUZZ_SECONDS) $(FUZZ_JOBS)

tests: $(TESTS) $(B)/tests/host-peer

# Runs every unit test; prints "N passed, N failed" as its last line.
unit: tests
	@./tests/run-unit.sh $(TESTS)

# JOBS: parallel compile jobs for make check's builds (default: the cores)
JOBS ?= $(shell nproc 2>/dev/null || echo 2)
check: deps
	$(MAKE) -j$(JOBS) all tests
	JOBS=$(JOBS) ./tests/run-all.sh

demo: deps all
	./tests/migration/demo

# BENCH_ARGS: tests/bench/run's options, e.g. BENCH_ARGS="--quick --reps 1"
bench: deps all
	./tests/bench/run $(BENCH_ARGS)

# What the tcp record layer costs the page stream, on this host (no VMs).
bench-seal: $(B)/bench/bench_seal
	$(B)/bench/bench_seal $(BENCH_MIB)

$(B)/bench/%: tests/bench/%.c $(B)/libphaul.a
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -o $@ $< $(B)/libphaul.a $(LDLIBS)

# The flat page store's io_uring against its pwrite fallback, on this host.
store-bench: $(B)/bench/store_bench
	$(B)/bench/store_bench

deps:
	@./configs/install-deps.sh

# Files under /etc are the operator's: installed only when absent.
ETC_FILES := phaul/phaul.conf
install: $(B)/phaul
	install -D -m 0755 $(B)/phaul $(DESTDIR)$(PREFIX)/bin/phaul
	install -d -m 0755 $(DESTDIR)$(SYSCONFDIR)/phaul/hooks
	@for f in $(ETC_FILES); do d=$(DESTDIR)$(SYSCONFDIR)/$$f; \
	  if [ -e $$d ]; then echo "install: kept $$d (yours); the new one is in $(DOCDIR)/examples"; \
	  else install -m 0644 configs/$$(basename $$f) $$d && echo "install: $$d"; fi; done
	install -d -m 0700 $(DESTDIR)/var/lib/phaul
	install -d $(DESTDIR)$(UNITDIR)
	for u in phaul-agent.service phaul-agent.socket phaul-agent@.service phaul-balance.service; do \
	  sed 's|@BINDIR@|$(PREFIX)/bin|g' configs/$$u >$(DESTDIR)$(UNITDIR)/$$u; \
	  chmod 0644 $(DESTDIR)$(UNITDIR)/$$u; done
	install -D -m 0644 man/phaul.8 $(DESTDIR)$(MANDIR)/man8/phaul.8
	install -D -m 0644 configs/phaul.bash-completion $(DESTDIR)$(COMPLDIR)/phaul
	install -d $(DESTDIR)$(DOCDIR)/examples
	install -m 0644 HOWTO.md README.md $(DESTDIR)$(DOCDIR)/
	install -m 0644 configs/phaul.conf $(DESTDIR)$(DOCDIR)/examples/
	install -m 0644 configs/phaul-balance.timer $(DESTDIR)$(UNITDIR)/
	cp -r configs/hooks configs/phaul-balance.cron $(DESTDIR)$(DOCDIR)/examples/

# Leaves /etc/phaul (your config, secret, hooks) and /var/lib/phaul (records
# of migrations, which `phaul recover` may still need).
uninstall:
	rm -f $(DESTDIR)$(PREFIX)/bin/phaul $(DESTDIR)$(MANDIR)/man8/phaul.8 \
	  $(DESTDIR)$(COMPLDIR)/phaul $(DESTDIR)$(UNITDIR)/phaul-agent.service \
	  $(DESTDIR)$(UNITDIR)/phaul-agent.socket $(DESTDIR)$(UNITDIR)/phaul-agent@.service \
	  $(DESTDIR)$(UNITDIR)/phaul-balance.service $(DESTDIR)$(UNITDIR)/phaul-balance.timer
	rm -rf $(DESTDIR)$(DOCDIR)
	@echo "uninstall: kept $(DESTDIR)$(SYSCONFDIR)/phaul and $(DESTDIR)/var/lib/phaul"

deb:
	dpkg-buildpackage -us -uc -b

clean:
	rm -rf build build-san build-fuzz

format:
	clang-format -i $$(git ls-files '*.c' '*.h')

.PHONY: all sim san fuzz fuzz-build tests unit check demo bench bench-seal store-bench deps install uninstall deb clean format FORCE

-include $(shell find $(B) -name '*.d' 2>/dev/null)
