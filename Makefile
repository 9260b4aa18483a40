# tokenrig — build, test, demo, bench, install.
#
#   make            build everything into $(BUILD)/ (tokenrig, vtoken, mkpki, libskf-ref1.so, the SKF and
#                   PKCS#11 hosts, tests)
#   make test       complexity gate, unit tests (+ ASan/UBSan build, + TSan build with the batch test),
#                   fuzz smoke, integration on the virtual rig
#   make complexity no function in harness/src, harness/tokenrig.c over 80 lines or complexity 30
#   make demo       certify a small batch of virtual tokens, write reports + plots
#   make bench      benchmark table (ratios measured side by side in one run)
#   make install    PREFIX=/usr/local DESTDIR=
#
# Libraries are found with pkg-config; libcsv ships no .pc file, so it is
# linked as -lcsv (Debian libcsv-dev).

BUILD   ?= build
# V=1 shows every command line
Q := $(if $(filter 1,$(V)),,@)
CC      ?= cc
PREFIX  ?= /usr/local
DESTDIR ?=
SAN     ?= 0
TSAN    ?= 0
OPT     ?= -O2 -g

# sqlite3, libpq: the results database (harness/src/db_sqlite.c, db_pg.c)
PKGS    := libpcsclite openssl libusb-1.0 inih sqlite3 libpq
# -Wno-format-truncation: gcc guesses at snprintf truncation into bounded
# buffers, which we do on purpose; paths are length-checked where they are made.
WARN    := -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes -Wmissing-prototypes
ifneq ($(findstring clang,$(shell $(CC) --version 2>/dev/null | head -n 1)),clang)
WARN    += -Wno-format-truncation
endif
CSTD    := -std=c11 -D_GNU_SOURCE

ifeq ($(SAN),1)
SANFLAGS := -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined
endif
ifeq ($(TSAN),1)
SANFLAGS := -fsanitize=thread -fno-omit-frame-pointer
endif

# p11-kit: its pkcs11.h everywhere; its library only in the PKCS#11 host
# (module names resolved the way `p11-kit list-modules` lists them)
P11_CFLAGS := $(shell pkg-config --cflags p11-kit-1 2>/dev/null)
P11_LIBS   := $(shell pkg-config --libs p11-kit-1 2>/dev/null)
P11_MODULE_DIR := $(shell pkg-config --variable=p11_module_path p11-kit-1 2>/dev/null)
PKG_CFLAGS := $(shell pkg-config --cflags $(PKGS) 2>/dev/null) $(P11_CFLAGS)
PKG_LIBS   := $(shell pkg-config --libs $(PKGS) 2>/dev/null) -lcsv -lpthread -lm
CHECK_CFLAGS := $(shell pkg-config --cflags check 2>/dev/null)
CHECK_LIBS   := $(shell pkg-config --libs check 2>/dev/null)
# check_usbhub runs simulated hubs in umockdev's testbed (it re-runs itself
# under umockdev-wrapper for the preload library)
$(BUILD)/obj/harness/tests/check_usbhub.o: CHECK_CFLAGS += $(shell pkg-config --cflags umockdev-1.0 2>/dev/null)
$(BUILD)/tests/check_usbhub: CHECK_LIBS += $(shell pkg-config --libs umockdev-1.0 2>/dev/null)

CFLAGS_ALL := $(CSTD) $(WARN) $(OPT) $(SANFLAGS) -Iharness/src -Ifixtures/vtoken -Iharness/tests/support $(PKG_CFLAGS) $(CFLAGS)
LDFLAGS_ALL := $(SANFLAGS) $(LDFLAGS)

# --- sources -----------------------------------------------------------------
LIB_SRC    := $(wildcard harness/src/*.c)
LIB_OBJ    := $(LIB_SRC:%.c=$(BUILD)/obj/%.o)
LIB        := $(BUILD)/libtokenrig.a

VTOK_SRC   := $(filter-out fixtures/vtoken/main.c,$(wildcard fixtures/vtoken/*.c))
VTOK_OBJ   := $(VTOK_SRC:%.c=$(BUILD)/obj/%.o)
PKI_SRC    := $(filter-out fixtures/pki/main.c,$(wildcard fixtures/pki/*.c))
PKI_OBJ    := $(PKI_SRC:%.c=$(BUILD)/obj/%.o)

SUPPORT_SRC := $(wildcard harness/tests/support/*.c)
SUPPORT_OBJ := $(SUPPORT_SRC:%.c=$(BUILD)/obj/%.o)

UNIT_SRC   := $(wildcard harness/tests/check_*.c) $(wildcard fixtures/vtoken/tests/check_*.c) $(wildcard fixtures/pki/tests/check_*.c)
UNIT_BIN   := $(patsubst %.c,$(BUILD)/tests/%,$(notdir $(UNIT_SRC)))

FUZZ_SRC   := $(wildcard harness/fuzz/fuzz_*.c)

# The REF-1 SKF library (fixtures/skf): a GM/T 0016 library for REF-1
# tokens, the CI's stand-in for a vendor's. Position-independent objects of
# its own, linked against pcsclite and libcrypto only (never libtokenrig: it
# stands alone, as a vendor's library does), exporting SKF_* alone.
SKF_SRC    := $(wildcard fixtures/skf/*.c)
SKF_OBJ    := $(SKF_SRC:%.c=$(BUILD)/obj-pic/%.o)
SKF_LIB    := $(BUILD)/libskf-ref1.so
SKF_LIBS   := $(shell pkg-config --libs libpcsclite libcrypto 2>/dev/null) -lpthread
# every symbol resolved at link time (a sanitizer runtime comes from the program)
ZDEFS      := -Wl,-z,defs
SKF_LDFLAGS := $(if $(filter 00,$(SAN)$(TSAN)),$(ZDEFS))

# The SKF layer's child (harness/skfhost.c): the vendor library runs in it,
# one process per session. Found beside tokenrig, in $TOKENRIG_LIBEXEC or in
# LIBEXEC (where make install puts it).
SKF_HOST   := $(BUILD)/tokenrig-skfhost
LIBEXEC    := $(PREFIX)/libexec/tokenrig
$(BUILD)/obj/harness/src/skf.o: CFLAGS_ALL += -DTR_LIBEXEC_DIR='"$(LIBEXEC)"'
# The PKCS#11 layer's child (harness/p11host.c): the module runs in it, one
# process per session; found like the SKF host. Only it links libp11-kit
# (module names resolved as p11-kit's configuration gives them).
P11_HOST   := $(BUILD)/tokenrig-p11host
$(BUILD)/obj/harness/src/p11.o: CFLAGS_ALL += -DTR_LIBEXEC_DIR='"$(LIBEXEC)"'
$(BUILD)/obj/harness/src/p11host.o: CFLAGS_ALL += -DTR_P11_MODULE_DIR='"$(P11_MODULE_DIR)"'
# The tool version a run records in the results database (runs.tool_version)
TR_VERSION := $(shell git describe --always --dirty 2>/dev/null || echo unknown)
$(BUILD)/obj/harness/src/dbrun.o: CFLAGS_ALL += -DTR_VERSION='"$(TR_VERSION)"'
# PKCS#11 modules that crash or hang, for the layer's tests (fixtures/p11/testmods)
P11_TESTMODS := $(BUILD)/libp11test-crash.so $(BUILD)/libp11test-hang.so
# SKF libraries that misbehave, for the SKF layer's tests (fixtures/skf/testlibs)
SKF_TESTLIBS := $(BUILD)/libskftest-crash.so $(BUILD)/libskftest-hang.so $(BUILD)/libskftest-missing.so

BINS := $(BUILD)/tokenrig $(BUILD)/vtoken $(BUILD)/mkpki $(BUILD)/echocard $(BUILD)/pcscloop $(BUILD)/skfloop $(BUILD)/p11loop $(BUILD)/apdu \
        $(SKF_LIB) $(BUILD)/skfcheck $(SKF_HOST) $(SKF_TESTLIBS) $(P11_HOST) $(P11_TESTMODS)

.PHONY: all deps unit test test-unit test-san test-tsan tsan-run complexity fuzz fuzz-smoke integration demo bench plots install clean pki
all: $(BINS) $(UNIT_BIN) $(BUILD)/pki/.stamp

# The version every run records in its provenance (and `tokenrig --version`
# prints): `git describe` of this source tree at build time, else the first
# line of a VERSION file (a release tarball), else "unknown". version.h is
# rewritten only when that changes, so provenance.o is rebuilt exactly then.
TR_VERSION := $(shell git -C '$(CURDIR)' describe --tags --always --dirty 2>/dev/null || head -n 1 VERSION 2>/dev/null || echo unknown)
$(BUILD)/gen/version.h: FORCE
	@mkdir -p $(dir $@)
	@printf '#define TR_VERSION "%s"\n' '$(subst ',,$(subst ",,$(TR_VERSION)))' > $@.tmp
	@cmp -s $@.tmp $@ && rm -f $@.tmp || mv -f $@.tmp $@
$(BUILD)/obj/harness/src/provenance.o: $(BUILD)/gen/version.h
$(BUILD)/obj/harness/src/provenance.o: CFLAGS_ALL += -I$(BUILD)/gen
.PHONY: FORCE
FORCE:

deps:
	@bash ci/deps.sh

$(BUILD)/obj/%.o: %.c
	@mkdir -p $(dir $@)
	@$(if $(Q),echo '  CC      $<',true)
	$(Q)$(CC) $(CFLAGS_ALL) $(CHECK_CFLAGS) -MMD -MP -c $< -o $@

# dbrun.o is rebuilt when the tool version changes (the stamp is rewritten
# only then)
$(BUILD)/obj/harness/src/dbrun.o: $(BUILD)/tr_version.stamp
$(BUILD)/tr_version.stamp: FORCE
	@mkdir -p $(dir $@)
	@echo '$(TR_VERSION)' | cmp -s - $@ || echo '$(TR_VERSION)' > $@
.PHONY: FORCE

$(BUILD)/obj-pic/%.o: %.c
	@mkdir -p $(dir $@)
	@$(if $(Q),echo '  CC      $< (PIC)',true)
	$(Q)$(CC) $(CFLAGS_ALL) -fPIC -MMD -MP -c $< -o $@

$(SKF_LIB): $(SKF_OBJ) fixtures/skf/skf_ref1.map
	@$(if $(Q),echo '  LD      $@',true)
	$(Q)$(CC) $(LDFLAGS_ALL) -shared -Wl,-soname,libskf-ref1.so -Wl,--version-script=fixtures/skf/skf_ref1.map \
	  $(SKF_LDFLAGS) -o $@ $(SKF_OBJ) $(SKF_LIBS)

$(BUILD)/libskftest-%.so: fixtures/skf/testlibs/skf_testlib.c harness/src/skf_abi.h
	@$(if $(Q),echo '  LD      $@',true)
	$(Q)$(CC) $(CFLAGS_ALL) -fPIC -shared -DTESTLIB_$(shell echo $* | tr a-z A-Z) -o $@ $<

$(SKF_HOST): $(BUILD)/obj/harness/skfhost.o $(BUILD)/obj/harness/host_asan.o $(LIB)
	@$(if $(Q),echo '  LD      $@',true)
	$(Q)$(CC) $(LDFLAGS_ALL) -o $@ $^ $(PKG_LIBS) -ldl

$(BUILD)/libp11test-%.so: fixtures/p11/testmods/p11_testmod.c
	@$(if $(Q),echo '  LD      $@',true)
	$(Q)$(CC) $(CFLAGS_ALL) -fPIC -shared -DTESTMOD_$(shell echo $* | tr a-z A-Z) -o $@ $<

$(P11_HOST): $(BUILD)/obj/harness/p11host.o $(BUILD)/obj/harness/host_asan.o $(LIB)
	@$(if $(Q),echo '  LD      $@',true)
	$(Q)$(CC) $(LDFLAGS_ALL) -o $@ $^ $(PKG_LIBS) $(P11_LIBS) -ldl

$(LIB): $(LIB_OBJ)
	@mkdir -p $(dir $@)
	$(Q)rm -f $@ && ar rcs $@ $^

$(BUILD)/tokenrig: $(BUILD)/obj/harness/tokenrig.o $(LIB)
	@$(if $(Q),echo '  LD      $@',true)
	$(Q)$(CC) $(LDFLAGS_ALL) -o $@ $^ $(PKG_LIBS)

$(BUILD)/vtoken: $(BUILD)/obj/fixtures/vtoken/main.o $(VTOK_OBJ) $(LIB)
	@$(if $(Q),echo '  LD      $@',true)
	$(Q)$(CC) $(LDFLAGS_ALL) -o $@ $^ $(PKG_LIBS)

$(BUILD)/mkpki: $(BUILD)/obj/fixtures/pki/main.o $(PKI_OBJ) $(LIB)
	@$(if $(Q),echo '  LD      $@',true)
	$(Q)$(CC) $(LDFLAGS_ALL) -o $@ $^ $(PKG_LIBS)

# minimal echo card (benchmark reference) and bare SCardTransmit loop
$(BUILD)/echocard: $(BUILD)/obj/ci/bench/echocard.o $(VTOK_OBJ) $(LIB)
	@$(if $(Q),echo '  LD      $@',true)
	$(Q)$(CC) $(LDFLAGS_ALL) -o $@ $^ $(PKG_LIBS)
$(BUILD)/pcscloop: $(BUILD)/obj/ci/bench/pcscloop.o $(LIB)
	@$(if $(Q),echo '  LD      $@',true)
	$(Q)$(CC) $(LDFLAGS_ALL) -o $@ $^ $(PKG_LIBS)
# the bare SKF loop of make bench (row 6)
$(BUILD)/skfloop: $(BUILD)/obj/ci/bench/skfloop.o $(LIB)
	@$(if $(Q),echo '  LD      $@',true)
	$(Q)$(CC) $(LDFLAGS_ALL) -o $@ $^ $(PKG_LIBS) -ldl
# the bare PKCS#11 loop of make bench (row 7)
$(BUILD)/p11loop: $(BUILD)/obj/ci/bench/p11loop.o $(LIB)
	@$(if $(Q),echo '  LD      $@',true)
	$(Q)$(CC) $(LDFLAGS_ALL) -o $@ $^ $(PKG_LIBS) -ldl
# drives an SKF library through dlopen for the integration tests
$(BUILD)/skfcheck: $(BUILD)/obj/ci/tests/skfcheck.o $(LIB)
	@$(if $(Q),echo '  LD      $@',true)
	$(Q)$(CC) $(LDFLAGS_ALL) -o $@ $^ $(PKG_LIBS) -ldl
# minimal PC/SC client of the integration tests
$(BUILD)/apdu: $(BUILD)/obj/ci/tests/apdu.o $(LIB)
	@$(if $(Q),echo '  LD      $@',true)
	$(Q)$(CC) $(LDFLAGS_ALL) -o $@ $^ $(PKG_LIBS)

$(BUILD)/tests/check_%: $(BUILD)/obj/harness/tests/check_%.o $(SUPPORT_OBJ) $(VTOK_OBJ) $(PKI_OBJ) $(LIB)
	@mkdir -p $(dir $@)
	@$(if $(Q),echo '  LD      $@',true)
	$(Q)$(CC) $(LDFLAGS_ALL) -o $@ $^ $(CHECK_LIBS) $(PKG_LIBS)
$(BUILD)/tests/check_%: $(BUILD)/obj/fixtures/vtoken/tests/check_%.o $(SUPPORT_OBJ) $(VTOK_OBJ) $(PKI_OBJ) $(LIB)
	@mkdir -p $(dir $@)
	@$(if $(Q),echo '  LD      $@',true)
	$(Q)$(CC) $(LDFLAGS_ALL) -o $@ $^ $(CHECK_LIBS) $(PKG_LIBS)
$(BUILD)/tests/check_%: $(BUILD)/obj/fixtures/pki/tests/check_%.o $(SUPPORT_OBJ) $(VTOK_OBJ) $(PKI_OBJ) $(LIB)
	@mkdir -p $(dir $@)
	@$(if $(Q),echo '  LD      $@',true)
	$(Q)$(CC) $(LDFLAGS_ALL) -o $@ $^ $(CHECK_LIBS) $(PKG_LIBS)

# test PKI: CA, seal maker, one certificate per algorithm x validity class, seals
$(BUILD)/pki/.stamp: $(BUILD)/mkpki
	@mkdir -p $(BUILD)/pki
	$(BUILD)/mkpki fixture-set --out $(BUILD)/pki
	@touch $@
pki: $(BUILD)/pki/.stamp

# --- tests ---------------------------------------------------------------------
test-unit: all
	@set -e; for t in $(UNIT_BIN); do echo "== $$t"; TR_PKI=$(BUILD)/pki TR_BUILD=$(BUILD) TOKENRIG_LIBEXEC=$$(cd $(BUILD) && pwd) $$t; done

test-san:
	$(MAKE) BUILD=build-san SAN=1 OPT="-O1 -g" test-unit

# ThreadSanitizer: the unit tests and the batch integration test (workers,
# watchdog, mute/drop/kill, Ctrl-C) on their own build; any report fails.
test-tsan:
	$(MAKE) BUILD=build-tsan TSAN=1 OPT="-O1 -g" tsan-run
tsan-run: all
	@bash ci/tsan.sh $(BUILD) $(UNIT_BIN)

FUZZ_BIN := $(patsubst harness/fuzz/%.c,$(BUILD)/fuzz/%,$(FUZZ_SRC))
$(BUILD)/fuzz/%: harness/fuzz/%.c $(LIB_SRC) $(VTOK_SRC) $(BUILD)/gen/version.h
	@mkdir -p $(dir $@)
	@$(if $(Q),echo '  FUZZ    $@',true)
	$(Q)clang $(CSTD) $(filter-out -Wno-format-truncation,$(WARN)) -g -O1 -fsanitize=fuzzer,address,undefined -Iharness/src -I$(BUILD)/gen -Ifixtures/vtoken $(PKG_CFLAGS) -o $@ $< $(LIB_SRC) $(PKG_LIBS) $(P11_LIBS)
fuzz: $(FUZZ_BIN)
# A smoke run per fuzzer (make test stays under 30 minutes); longer: make fuzz-smoke FUZZ_SECONDS=600
FUZZ_SECONDS ?= 15
fuzz-smoke: fuzz
	@set -e; for f in $(FUZZ_BIN); do echo "== $$f ($(FUZZ_SECONDS) s)"; mkdir -p $(BUILD)/fuzz/corpus-$$(basename $$f); \
	  $$f -max_total_time=$(FUZZ_SECONDS) -print_final_stats=0 $(BUILD)/fuzz/corpus-$$(basename $$f) harness/fuzz/seeds/$$(basename $$f) 2>&1 | tail -n 2; done

integration: all
	@bash ci/integration.sh $(BUILD)

complexity:
	@bash ci/complexity.sh

test: deps
	$(MAKE) complexity
	$(MAKE) all
	$(MAKE) test-unit
	$(MAKE) test-san
	$(MAKE) test-tsan
	$(MAKE) fuzz-smoke
	$(MAKE) integration

# --- main job --------------------------------------------------------------------
demo: deps
	$(MAKE) all
	@bash ci/demo.sh $(BUILD)

plots:
	@bash ci/plots.sh reports/latest

bench: deps
	$(MAKE) all
	@bash ci/bench.sh $(BUILD)

# --- install ---------------------------------------------------------------------
install: $(BUILD)/tokenrig $(BUILD)/vtoken $(BUILD)/mkpki $(SKF_HOST) $(P11_HOST)
	install -d $(DESTDIR)$(LIBEXEC) $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(PREFIX)/share/tokenrig/suites \
	  $(DESTDIR)$(PREFIX)/share/tokenrig/profiles $(DESTDIR)$(PREFIX)/share/tokenrig/rigs \
	  $(DESTDIR)$(PREFIX)/share/tokenrig/reports $(DESTDIR)$(PREFIX)/share/tokenrig/ci
	install -m 755 $(BUILD)/tokenrig $(BUILD)/vtoken $(BUILD)/mkpki $(DESTDIR)$(PREFIX)/bin/
	install -m 755 $(SKF_HOST) $(P11_HOST) $(DESTDIR)$(LIBEXEC)/
	install -m 644 suites/*.tsuite suites/DEFAULT suites/README.md $(DESTDIR)$(PREFIX)/share/tokenrig/suites/
	install -d $(DESTDIR)$(PREFIX)/share/tokenrig/suites/lib
	install -m 644 suites/lib/*.tsuite $(DESTDIR)$(PREFIX)/share/tokenrig/suites/lib/
	install -m 644 fixtures/profiles/*.ini $(DESTDIR)$(PREFIX)/share/tokenrig/profiles/
	install -m 644 rigs/*.ini rigs/*.rules rigs/README.md $(DESTDIR)$(PREFIX)/share/tokenrig/rigs/
	install -m 644 reports/*.gp $(DESTDIR)$(PREFIX)/share/tokenrig/reports/
	install -m 755 ci/plots.sh $(DESTDIR)$(PREFIX)/share/tokenrig/ci/

clean:
	rm -rf $(BUILD) build-san build-tsan

-include $(shell find $(BUILD)/obj $(BUILD)/obj-pic -name '*.d' 2>/dev/null)
