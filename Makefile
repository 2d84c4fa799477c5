# ecr-refresh: one static musl binary over BearSSL and cJSON.
#
#   make            build/ecr-refresh (static, stripped)
#   make ARCH=arm64 build/arm64/ecr-refresh, cross-built (and `unit`: its static tests)
#   make arm64      the same from a native make: $(B)/arm64, product and static unit tests
#   make test       every test: unit (musl and ASan/UBSan builds), fuzz smoke, end to end
#   make fuzz       the libFuzzer harnesses (clang)
#   make demo       local apiserver + AWS stand-in, one refresh, print what was written
#   make clean
#
# Dependencies come from Debian source packages (scripts/fetch-deps.sh) or from the folders
# named by BEARSSL_SRC / CJSON_SRC. Nothing of theirs is ever committed here.

MUSL_CC   ?= musl-gcc
HOST_CC   ?= gcc
FUZZ_CC   ?= clang
PYTHON    ?= /usr/bin/python3
CA_BUNDLE ?= /etc/ssl/certs/ca-certificates.crt
# The release number is the VERSION file (CHANGELOG.md says what each one holds); the commit
# is git's, "-dirty" with uncommitted changes. `--version` prints both, the image labels both.
VERSION   ?= $(shell cat VERSION 2>/dev/null || echo unknown)
COMMIT    ?= $(shell c=$$(git rev-parse --short=12 HEAD 2>/dev/null) && { git diff --quiet HEAD 2>/dev/null || c=$$c-dirty; echo $$c; } || echo unknown)

# ---- target architecture (Debian names; uname -m spellings are accepted) -----------------
# ARCH other than the build machine's cross-builds into build/ARCH with Debian's cross gcc
# (gcc-aarch64-linux-gnu) and Debian's musl-dev for ARCH, unpacked into $(B)/toolchain by
# scripts/musl-cross.sh (it says why not dpkg --add-architecture, nor a musl build). Only
# the static musl objects, tests and tools change compiler: mkanchors stays a host tool (the
# C it writes is the same for every target), and the ASan/fuzz builds stay host-only.
debarch   = $(patsubst x86_64,amd64,$(patsubst aarch64,arm64,$(1)))
HOST_ARCH := $(call debarch,$(shell dpkg --print-architecture 2>/dev/null || uname -m))
ARCH      ?= $(HOST_ARCH)
override ARCH := $(call debarch,$(ARCH))
ifneq ($(ARCH),$(HOST_ARCH))
CROSS_GNU := $(shell dpkg-architecture -a$(ARCH) -qDEB_HOST_GNU_TYPE 2>/dev/null)
$(if $(CROSS_GNU),,$(error ARCH=$(ARCH) is no architecture dpkg-architecture knows))
B         ?= build/$(ARCH)
CROSS_CC  ?= $(B)/toolchain/bin/$(subst -gnu,-musl,$(CROSS_GNU))-gcc
override MUSL_CC := $(CROSS_CC)
# Built before any cross compile (order-only: a newer toolchain rebuilds nothing).
TOOLCHAIN := $(filter $(B)/toolchain/%,$(CROSS_CC))
endif

B   ?= build
DEP ?= build/deps

WARN     := -std=c11 -Wall -Wextra -Wpedantic -Werror
DEFS     := -D_POSIX_C_SOURCE=200809L -D_DEFAULT_SOURCE -DECR_REFRESH_VERSION='"$(VERSION)"' -DECR_REFRESH_COMMIT='"$(COMMIT)"'
INCS     := -I. -I$(B)/gen -I$(DEP)/bearssl/inc -I$(DEP)/cjson
# No unwind tables: nothing here unwinds (C, no backtraces), and .eh_frame was 34 KB of the
# stripped binary. Changing these rebuilds the dependencies (the libraries depend on this file).
SMALL    := -fno-asynchronous-unwind-tables -fno-unwind-tables
OPT      := -Os -ffunction-sections -fdata-sections $(SMALL)
DEPOPT   := -Os -ffunction-sections -fdata-sections -w $(SMALL)
ASANFL   := -O1 -g -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all

# Our modules: every top-level .c but main.c. Tests link them all.
SRCS     ?= $(filter-out main.c,$(wildcard *.c))
HDRS     := $(wildcard *.h)
GEN      := $(B)/gen/anchors_embedded.c
UNIT     := $(patsubst tests/unit/%.c,%,$(wildcard tests/unit/test_*.c))
FUZZERS  := $(patsubst tests/fuzz/%.c,%,$(wildcard tests/fuzz/fuzz_*.c))
TOOLS    := $(patsubst tests/tools/%.c,%,$(wildcard tests/tools/*.c))

# The embedded roots come with anchors.c; a partial build (SRCS=...) without it skips them.
EMBED    := $(if $(filter anchors.c,$(SRCS)),anchors_embedded.o)
MUSL_OBJ := $(patsubst %.c,$(B)/musl/obj/%.o,$(SRCS)) $(addprefix $(B)/musl/obj/,$(EMBED))
ASAN_OBJ := $(patsubst %.c,$(B)/asan/obj/%.o,$(SRCS)) $(addprefix $(B)/asan/obj/,$(EMBED))
FUZZ_OBJ := $(patsubst %.c,$(B)/fuzz/obj/%.o,$(SRCS)) $(addprefix $(B)/fuzz/obj/,$(EMBED))

MUSL_LIBS := $(B)/musl/libbearssl.a $(B)/musl/libcjson.a
HOST_LIBS := $(B)/host/libbearssl.a $(B)/host/libcjson.a

.PHONY: version all test unit fuzz fuzz-smoke tools demo bench image-test clean distclean arm64
.SUFFIXES:
.DELETE_ON_ERROR:
# Objects built through pattern rules are kept, so a rebuild only redoes what changed.
.SECONDARY:

all: $(B)/ecr-refresh

# ---- dependencies ---------------------------------------------------------------------
$(DEP)/.fetched:
	scripts/fetch-deps.sh $(DEP)
	touch $@

$(B)/musl/libbearssl.a $(B)/musl/libcjson.a &: $(DEP)/.fetched scripts/build-deps.sh Makefile | $(TOOLCHAIN)
	scripts/build-deps.sh $(DEP) $(B)/musl "$(MUSL_CC)" "$(DEPOPT)"

$(B)/host/libbearssl.a $(B)/host/libcjson.a &: $(DEP)/.fetched scripts/build-deps.sh
	scripts/build-deps.sh $(DEP) $(B)/host "$(HOST_CC)" "-O2 -g -w -fPIC"

# Public roots embedded in the binary, generated from Debian's ca-certificates bundle.
$(B)/host/mkanchors: tools/mkanchors.c $(HOST_LIBS)
	@mkdir -p $(@D)
	$(HOST_CC) $(WARN) $(DEFS) -O2 $(INCS) -o $@ $< $(B)/host/libbearssl.a

$(GEN): $(B)/host/mkanchors $(CA_BUNDLE)
	@mkdir -p $(@D)
	$(B)/host/mkanchors $(CA_BUNDLE) > $@.tmp && mv $@.tmp $@

# ---- the product ----------------------------------------------------------------------
$(B)/musl/obj/%.o: %.c $(HDRS) $(DEP)/.fetched | $(TOOLCHAIN)
	@mkdir -p $(@D)
	$(MUSL_CC) $(WARN) $(DEFS) $(OPT) $(INCS) -c -o $@ $<

$(B)/musl/obj/anchors_embedded.o: $(GEN) | $(TOOLCHAIN)
	@mkdir -p $(@D)
	$(MUSL_CC) $(WARN) $(DEFS) $(OPT) $(INCS) -c -o $@ $<

$(B)/ecr-refresh: $(B)/musl/obj/main.o $(MUSL_OBJ) $(MUSL_LIBS)
	$(MUSL_CC) -static -s -Wl,--gc-sections -o $@ $^ -lpthread

# The version and commit are compiled into config.o (--version) and k8s.o (User-Agent).
# VSTAMP holds them and is rewritten only when they change, so a new release number or a
# new commit rebuilds those two (and what links them), and an unchanged tree nothing.
VSTAMP := $(B)/gen/version.txt
$(VSTAMP): FORCE
	@mkdir -p $(@D)
	@echo '$(VERSION) $(COMMIT)' | cmp -s - $@ 2>/dev/null || echo '$(VERSION) $(COMMIT)' > $@
FORCE:
.PHONY: FORCE
$(B)/musl/obj/config.o $(B)/asan/obj/config.o $(B)/fuzz/obj/config.o: $(VSTAMP)
$(B)/musl/obj/k8s.o $(B)/asan/obj/k8s.o $(B)/fuzz/obj/k8s.o: $(VSTAMP)
$(B)/musl/test_config $(B)/asan/test_config: $(VSTAMP)

# ---- unit tests: once static under musl, once under ASan+UBSan -------------------------
$(B)/musl/test_%: tests/unit/test_%.c $(wildcard tests/unit/*.h) $(MUSL_OBJ) $(MUSL_LIBS) | $(TOOLCHAIN)
	$(MUSL_CC) $(WARN) $(DEFS) -O1 $(INCS) -static -o $@ $< $(MUSL_OBJ) $(MUSL_LIBS) -lpthread

$(B)/asan/obj/%.o: %.c $(HDRS) $(DEP)/.fetched
	@mkdir -p $(@D)
	$(HOST_CC) $(WARN) $(DEFS) $(ASANFL) $(INCS) -c -o $@ $<

$(B)/asan/obj/anchors_embedded.o: $(GEN)
	@mkdir -p $(@D)
	$(HOST_CC) $(WARN) $(DEFS) $(ASANFL) $(INCS) -c -o $@ $<

$(B)/asan/test_%: tests/unit/test_%.c $(wildcard tests/unit/*.h) $(ASAN_OBJ) $(HOST_LIBS)
	$(HOST_CC) $(WARN) $(DEFS) $(ASANFL) $(INCS) -o $@ $< $(ASAN_OBJ) $(HOST_LIBS) -lpthread

# Small drivers the end-to-end tests run (static musl, like the product).
$(B)/tools/%: tests/tools/%.c $(MUSL_OBJ) $(MUSL_LIBS) | $(TOOLCHAIN)
	@mkdir -p $(@D)
	$(MUSL_CC) $(WARN) $(DEFS) -O1 $(INCS) -static -o $@ $< $(MUSL_OBJ) $(MUSL_LIBS) -lpthread

# A cross build has no ASan twin: that one is the host's, built by the native `make unit`.
unit: $(addprefix $(B)/musl/,$(UNIT)) $(if $(CROSS_GNU),,$(addprefix $(B)/asan/,$(UNIT)))
tools: $(addprefix $(B)/tools/,$(TOOLS))

# ---- fuzzing ------------------------------------------------------------------------
FUZZFL := -g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all

$(B)/fuzz/obj/%.o: %.c $(HDRS) $(DEP)/.fetched
	@mkdir -p $(@D)
	$(FUZZ_CC) $(WARN) $(DEFS) -g -O1 -fsanitize=fuzzer-no-link,address,undefined $(INCS) -c -o $@ $<

$(B)/fuzz/obj/anchors_embedded.o: $(GEN)
	@mkdir -p $(@D)
	$(FUZZ_CC) $(WARN) $(DEFS) -g -O1 -fsanitize=fuzzer-no-link,address,undefined $(INCS) -c -o $@ $<

$(B)/fuzz/fuzz_%: tests/fuzz/fuzz_%.c $(wildcard tests/fuzz/*.h) $(FUZZ_OBJ) $(HOST_LIBS)
	$(FUZZ_CC) $(WARN) $(DEFS) $(FUZZFL) $(INCS) -o $@ $< $(FUZZ_OBJ) $(HOST_LIBS) -lpthread

fuzz: $(addprefix $(B)/fuzz/,$(FUZZERS))

# ---- cross builds -----------------------------------------------------------------------
ifneq ($(TOOLCHAIN),)
$(TOOLCHAIN): scripts/musl-cross.sh
	scripts/musl-cross.sh $(ARCH) $(B)/toolchain
endif

# The arm64 product and static unit tests in $(B)/arm64, for tests/e2e/test_arm64.py (which runs
# them under qemu-aarch64-static). B is passed on: a sub-make inherits the caller's B=.
ifeq ($(ARCH),arm64)
arm64: all unit
else
arm64:
	$(MAKE) ARCH=arm64 B=$(B)/arm64 all unit
endif

# ---- everything -----------------------------------------------------------------------
# Like demo, it first installs the Debian packages it needs (only those missing), so a fresh
# machine passes `make demo` then `make test` with nothing typed in between.
test:
	@scripts/install-packages.sh test
	$(MAKE) all unit fuzz tools arm64
	$(PYTHON) -m pytest -q -p no:cacheprovider tests

# The newcomer's first command: installs what is missing (Debian packages), builds, runs.
demo:
	scripts/install-packages.sh demo
	$(MAKE) all
	$(PYTHON) tests/demo.py

bench: all
	bench/run.sh

# "VERSION COMMIT", for scripts that must stamp the same (tests/image/run.sh).
version:
	@echo $(VERSION) $(COMMIT)

image-test:
	tests/image/run.sh

clean:
	rm -rf $(B)/musl $(B)/asan $(B)/fuzz $(B)/host $(B)/gen $(B)/tools $(B)/ecr-refresh

distclean:
	rm -rf $(B)
