# phaul: live migration of process trees and containers.
#
#   make            build build/phaul
#   make deps       install every Debian package needed to build, run, test
#   make check      unit tests, sanitizer build, fuzz smoke, VM migration tests
#   make demo       boot two VMs and migrate a live workload between them
#   make install    PREFIX=/usr/local DESTDIR=
#   make clean

PREFIX  ?= /usr/local
DESTDIR ?=
B       := build
CC      ?= cc
PKGS    := libssh2 libprotobuf-c liburing libzstd libcurl inih libsodium jansson
VERSION := 0.1.0

CFLAGS  ?= -O2 -g
override CFLAGS += -std=gnu11 -Wall -Wextra -Wno-unused-parameter -Wshadow -Wformat=2 \
	   -D_GNU_SOURCE -DPHAUL_VERSION=\"$(VERSION)\" \
	   -I. -Iphaul -I$(B)/proto $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
LDLIBS  += $(shell pkg-config --libs $(PKGS) 2>/dev/null) -lpthread

CRIU_PROTO := /usr/include/criu/rpc.proto
PROTO_SRC  := $(B)/proto/phaul.pb-c.c $(B)/proto/rpc.pb-c.c $(B)/proto/criu_stats.pb-c.c
PROTO_HDR  := $(PROTO_SRC:.c=.h)

LIB_SRC := $(filter-out phaul/main.c, $(wildcard phaul/*.c transport/*.c engine/*.c \
	   compat/*.c fs-sync/*.c))
LIB_OBJ := $(LIB_SRC:%.c=$(B)/obj/%.o) $(PROTO_SRC:.c=.o)
TESTS   := $(patsubst tests/unit/%.c,$(B)/tests/%,$(wildcard tests/unit/test_*.c))
FUZZERS := $(patsubst tests/fuzz/%.c,$(B)/fuzz/%,$(wildcard tests/fuzz/fuzz_*.c))

all: $(B)/phaul

$(B)/phaul: $(B)/obj/phaul/main.o $(B)/libphaul.a
	$(CC) $(CFLAGS) -o $@ $^ $(LDLIBS)

$(B)/libphaul.a: $(LIB_OBJ)
	rm -f $@ && ar rcs $@ $^

$(B)/obj/%.o: %.c $(PROTO_HDR)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -MMD -MP -c -o $@ $<

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

$(B)/proto/%.o: $(B)/proto/%.c
	$(CC) $(CFLAGS) -Wno-unused-parameter -c -o $@ $<

$(B)/tests/%: tests/unit/%.c $(B)/libphaul.a
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -o $@ $< $(B)/libphaul.a $(LDLIBS) -lcmocka

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
	@for f in tests/fuzz/fuzz_*.c; do n=$$(basename $$f .c); \
	  echo "  FUZZ $$n"; \
	  clang $(FUZZ_FLAGS) $(filter-out -O2,$(CFLAGS)) -o build-fuzz/fuzz/$$n $$f \
	    build-fuzz/libphaul.a $(LDLIBS) || exit 1; done

FUZZ_SECONDS ?= 15
fuzz: fuzz-build
	@for f in build-fuzz/fuzz/fuzz_*; do n=$$(basename $$f); \
	  mkdir -p build-fuzz/corpus/$$n; \
	  echo "fuzz $$n for $(FUZZ_SECONDS)s"; \
	  seeds=; [ -d tests/fuzz/corpus/$$n ] && seeds=tests/fuzz/corpus/$$n; \
	  $$f -max_total_time=$(FUZZ_SECONDS) -max_len=65536 build-fuzz/corpus/$$n \
	    $$seeds 2>build-fuzz/$$n.log >/dev/null || \
	    { tail -40 build-fuzz/$$n.log; exit 1; }; done

tests: $(TESTS) $(B)/tests/host-peer

# Runs every unit test; prints "N passed, N failed" as its last line.
unit: tests
	@./tests/run-unit.sh $(TESTS)

check: deps all tests
	./tests/run-all.sh

demo: deps all
	./tests/migration/demo

bench: deps all
	./tests/bench/run

# What the tcp record layer costs the page stream, on this host (no VMs).
bench-seal: $(B)/bench/bench_seal
	$(B)/bench/bench_seal $(BENCH_MIB)

$(B)/bench/%: tests/bench/%.c $(B)/libphaul.a
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -o $@ $< $(B)/libphaul.a $(LDLIBS)

deps:
	@./configs/install-deps.sh

install: $(B)/phaul
	install -D -m 0755 $(B)/phaul $(DESTDIR)$(PREFIX)/bin/phaul
	install -D -m 0644 configs/phaul.conf $(DESTDIR)/etc/phaul/phaul.conf
	@mkdir -p $(DESTDIR)$(PREFIX)/lib/systemd/system
	sed 's|@BINDIR@|$(PREFIX)/bin|' configs/phaul-agent.service \
		> $(DESTDIR)$(PREFIX)/lib/systemd/system/phaul-agent.service
	sed 's|@BINDIR@|$(PREFIX)/bin|' configs/phaul-balance.service \
		> $(DESTDIR)$(PREFIX)/lib/systemd/system/phaul-balance.service
	install -m 0644 configs/phaul-balance.timer $(DESTDIR)$(PREFIX)/lib/systemd/system/
	install -d $(DESTDIR)/etc/phaul/hooks $(DESTDIR)$(PREFIX)/share/doc/phaul
	cp -r configs/hooks configs/phaul-balance.cron HOWTO.md $(DESTDIR)$(PREFIX)/share/doc/phaul/

clean:
	rm -rf build build-san build-fuzz

format:
	clang-format -i $$(git ls-files '*.c' '*.h')

.PHONY: all sim san fuzz fuzz-build tests unit check demo bench bench-seal deps install clean format

-include $(shell find $(B) -name '*.d' 2>/dev/null)
