# SPDX-License-Identifier: BSD-3-Clause
# FlowPulse: one non-recursive GNU Makefile. `make help` lists the targets.

BUILD   ?= build
PREFIX  ?= /usr/local
DESTDIR ?=
PKGCONF ?= pkg-config
CC      ?= cc
V       ?= 0
Q        = $(if $(filter 1,$(V)),,@)

DEPS_PKGS := libdpdk libfixbuf libconfig openssl cunit libpcap netsnmp-agent libndpi

# Install what is missing first (idempotent; quick when everything is present). It runs while
# the Makefile is read, because the pkg-config flags below need the libraries.
DEPS_STAMP := $(BUILD)/.deps-ok
.DEFAULT_GOAL := all
ifeq ($(filter clean help format-check,$(MAKECMDGOALS)),)
ifneq ($(shell test $(DEPS_STAMP) -nt scripts/install-deps.sh && echo ok),ok)
DEPS_RC := $(shell scripts/install-deps.sh >&2; echo $$?)
ifneq ($(DEPS_RC),0)
$(error scripts/install-deps.sh failed; see above)
endif
$(shell mkdir -p $(BUILD) && touch $(DEPS_STAMP))
endif
endif
$(DEPS_STAMP):
	$(Q)mkdir -p $(BUILD) && touch $@

# Third-party include dirs as -isystem so -Werror judges only our code.
pkgcflags = $(patsubst -I%,-isystem %,$(shell $(PKGCONF) --cflags $(1) 2>/dev/null))
DEP_CFLAGS = $(call pkgcflags,$(DEPS_PKGS))

# DPDK is linked statically by default: a shared DPDK makes the EAL dlopen() every PMD in
# its plugin directory at each start (~190 of them: 0.15 CPU-s per run, 4x our own start-up).
# The static build carries the drivers below (the NICs found at ISPs and in clouds, and the
# vdevs tests use); `make DPDK_LINK=shared` uses Debian's shared DPDK and all its plugins,
# and DPDK_DRIVERS="..." changes the set (names of /usr/lib/*/librte_<name>.a).
DPDK_LINK    ?= static
DPDK_DRIVERS ?= bus_pci bus_vdev bus_auxiliary mempool_ring mempool_stack common_iavf \
                common_mlx5 net_af_packet net_af_xdp net_bnxt net_e1000 net_ena net_i40e \
                net_iavf net_ice net_igc net_ixgbe net_memif net_mlx5 net_null net_pcap \
                net_ring net_tap net_virtio net_vmxnet3
DPDK_CORE    := stack gso security cryptodev hash rcu timer ethdev net meter mbuf mempool pci \
                ring eal telemetry kvargs
ifeq ($(DPDK_LINK),static)
DPDK_LIBS = -Wl,--whole-archive $(foreach l,$(DPDK_DRIVERS) $(DPDK_CORE),-l:librte_$(l).a) \
            -Wl,--no-whole-archive -lpcap -lbpf -lxdp -lelf -lz -libverbs -lmlx5 -lnuma -lbsd \
            -latomic -ldl
else
DPDK_LIBS = $(shell $(PKGCONF) --libs libdpdk 2>/dev/null)
endif
DEP_LIBS   = $(DPDK_LIBS) $(shell $(PKGCONF) --libs $(filter-out libdpdk,$(DEPS_PKGS)) \
             2>/dev/null) -lpthread -lm

WARN := -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes -Wmissing-prototypes \
        -Wmissing-declarations -Wpointer-arith -Wcast-qual -Wwrite-strings -Wundef -Wformat=2 \
        -Wno-address-of-packed-member
OPT     ?= -O2 -g
SAN     ?=
comma   := ,
SANFLAGS = $(if $(SAN),-fsanitize=address$(comma)undefined -fno-omit-frame-pointer -fno-sanitize-recover=all,)
CFLAGS_ALL = -std=gnu11 $(OPT) $(WARN) $(SANFLAGS) -MMD -MP -I. -Isrc -I$(BUILD)/gen \
             -D_GNU_SOURCE -DALLOW_EXPERIMENTAL_API $(DEP_CFLAGS) $(EXTRA_CFLAGS)
LDFLAGS_ALL = $(SANFLAGS) $(DEP_LIBS) $(EXTRA_LDFLAGS)

MODULES  := common decode flow classify qoe export config capture snmp control
# flowpulsectl (the control client) has its own main(): built beside the library.
CTL_SRC  := src/control/flowpulsectl.c
LIB_SRCS := $(filter-out $(CTL_SRC),$(foreach m,$(MODULES),$(wildcard src/$(m)/*.c)))
LIB_OBJS := $(LIB_SRCS:%.c=$(BUILD)/%.o)
LIB      := $(BUILD)/libflowpulse.a

UNIT_SRCS := $(sort $(wildcard tests/unit/test_*.c))
UNIT_OBJS := $(UNIT_SRCS:%.c=$(BUILD)/%.o) $(BUILD)/tests/unit/main.o
UNIT_NAMES := $(patsubst tests/unit/test_%.c,%,$(UNIT_SRCS))

TOOLS := $(patsubst scripts/%.c,$(BUILD)/%,$(wildcard scripts/*.c))

# flowpulse-relay: a separate daemon, not part of libflowpulse.a.
RELAY_OBJS := $(patsubst %.c,$(BUILD)/%.o,$(wildcard src/relay/*.c))

BINS := $(BUILD)/flowpulse $(TOOLS) $(BUILD)/flowpulse-relay $(BUILD)/flowpulsectl

.PHONY: all check unit integration demo bench asan fuzz install clean help deps format-check kits
all: $(BINS)

deps: $(DEPS_STAMP)

$(BUILD)/%.o: %.c | $(DEPS_STAMP)
	@mkdir -p $(dir $@)
	@$(if $(filter 1,$(V)),,echo "  CC      $<")
	$(Q)$(CC) $(CFLAGS_ALL) -c $< -o $@

$(LIB): $(LIB_OBJS)
	$(Q)rm -f $@ && ar rcs $@ $^

$(BUILD)/flowpulse: $(BUILD)/src/main.o $(LIB)
	@echo "  LD      $@"
	$(Q)$(CC) -o $@ $^ $(LDFLAGS_ALL)

$(BUILD)/flowpulsectl: $(BUILD)/src/control/flowpulsectl.o $(LIB)
	@echo "  LD      $@"
	$(Q)$(CC) -o $@ $^ $(LDFLAGS_ALL)

$(BUILD)/flowpulse-relay: $(RELAY_OBJS) $(LIB)
	@echo "  LD      $@"
	$(Q)$(CC) -o $@ $^ $(LDFLAGS_ALL)

$(BUILD)/%: $(BUILD)/scripts/%.o $(LIB)
	@echo "  LD      $@"
	$(Q)$(CC) -o $@ $^ $(LDFLAGS_ALL)

# Unit-test registry generated from the file names: test_<mod>.c defines fp_test_register_<mod>().
$(BUILD)/gen/test_registry.h: $(UNIT_SRCS) Makefile
	@mkdir -p $(dir $@)
	$(Q){ for n in $(UNIT_NAMES); do echo "FP_TEST_SUITE($$n)"; done; } > $@.tmp && mv $@.tmp $@
$(BUILD)/tests/unit/main.o: $(BUILD)/gen/test_registry.h

# FlowPulse enterprise IEs: ie-defs/flowpulse.xml is the source; the C header is generated into
# $(BUILD)/gen, the collector kits into scripts/kits (committed; `make kits`, checked by a test).
IE_XML := ie-defs/flowpulse.xml
IE_GEN := $(BUILD)/gen/fp_ie_gen.h
$(IE_GEN): $(IE_XML) scripts/gen-ie.py
	@mkdir -p $(dir $@)
	$(Q)python3 scripts/gen-ie.py --xml $(IE_XML) --header $@
$(filter $(BUILD)/src/export/%.o,$(LIB_OBJS)) $(BUILD)/tests/unit/test_export.o \
    $(BUILD)/tests/unit/test_export_ie.o $(BUILD)/scripts/ie_send.o: $(IE_GEN)
kits:
	$(Q)python3 scripts/gen-ie.py --xml $(IE_XML) --kits scripts/kits

# Built-in application -> class table: conf/app-classes.conf as C string lines (classify).
CLASSES_GEN := $(BUILD)/gen/fp_app_classes_gen.h
$(CLASSES_GEN): conf/app-classes.conf
	@mkdir -p $(dir $@)
	$(Q)sed -e 's/\\/\\\\/g; s/"/\\"/g; s/^/"/; s/$$/\\n"/' $< > $@.tmp && mv $@.tmp $@
$(BUILD)/src/classify/classes.o: $(CLASSES_GEN)

.PHONY: eval
eval: all
	$(Q)scripts/eval.sh $(BUILD)

$(BUILD)/test_unit: $(UNIT_OBJS) $(LIB)
	@echo "  LD      $@"
	$(Q)$(CC) -o $@ $^ $(LDFLAGS_ALL)

unit: $(BUILD)/test_unit
	$(Q)$(BUILD)/test_unit

integration: all
	$(Q)BUILD=$(BUILD) tests/integration/run-all.sh

check: all $(BUILD)/test_unit
	$(Q)scripts/check.sh $(BUILD)

demo: all
	$(Q)scripts/demo.sh $(BUILD)

bench: all
	$(Q)scripts/bench.sh $(BUILD)

asan:
	$(Q)$(MAKE) --no-print-directory BUILD=build-asan SAN=1 OPT="-O1 -g" all build-asan/test_unit
	$(Q)ASAN_OPTIONS=halt_on_error=1:detect_leaks=1 UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
	    build-asan/test_unit

fuzz:
	$(Q)scripts/fuzz.sh

# Binaries, man pages, systemd units (/usr/local in them replaced by PREFIX), the example
# configurations (an existing flowpulse.conf is never overwritten), MIB, IE definitions,
# collector kits and the host set-up scripts. SYSCONFDIR and UNITDIR may be overridden.
SYSCONFDIR ?= /etc
UNITDIR    ?= $(PREFIX)/lib/systemd/system
SHAREDIR    = $(PREFIX)/share/flowpulse
install: all
	install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(SHAREDIR)/ie-defs $(DESTDIR)$(SHAREDIR)/scripts \
	    $(DESTDIR)$(SYSCONFDIR)/flowpulse $(DESTDIR)$(UNITDIR) $(DESTDIR)$(PREFIX)/share/man/man5 \
	    $(DESTDIR)$(PREFIX)/share/man/man8 $(DESTDIR)$(PREFIX)/share/snmp/mibs \
	    $(DESTDIR)$(PREFIX)/share/doc/flowpulse
	install -m 0755 $(BUILD)/flowpulse $(BUILD)/flowpulsectl $(BUILD)/flowpulse-relay \
	    $(DESTDIR)$(PREFIX)/bin/
	install -m 0644 conf/flowpulse.8 conf/flowpulsectl.8 $(DESTDIR)$(PREFIX)/share/man/man8/
	install -m 0644 conf/flowpulse.conf.5 $(DESTDIR)$(PREFIX)/share/man/man5/
	for u in conf/*.service; do \
	    sed 's|/usr/local|$(PREFIX)|g; s|/etc/flowpulse|$(SYSCONFDIR)/flowpulse|g' $$u \
	        > $(DESTDIR)$(UNITDIR)/$${u##*/} && chmod 0644 $(DESTDIR)$(UNITDIR)/$${u##*/} || exit 1; \
	done
	install -m 0644 flowpulse.conf.example conf/flowpulse-relay.conf.example conf/app-classes.conf \
	    $(DESTDIR)$(SYSCONFDIR)/flowpulse/
	test -e $(DESTDIR)$(SYSCONFDIR)/flowpulse/flowpulse.conf || install -m 0644 \
	    flowpulse.conf.example $(DESTDIR)$(SYSCONFDIR)/flowpulse/flowpulse.conf
	install -m 0644 conf/FLOWPULSE-MIB.txt $(DESTDIR)$(PREFIX)/share/snmp/mibs/
	install -m 0644 ie-defs/*.xml $(DESTDIR)$(SHAREDIR)/ie-defs/
	for d in scripts/kits/*/; do \
	    k=$${d%/}; install -d $(DESTDIR)$(SHAREDIR)/kits/$${k##*/} && \
	    install -m 0644 $$k/* $(DESTDIR)$(SHAREDIR)/kits/$${k##*/}/ || exit 1; \
	done
	install -m 0755 scripts/dpdk-setup.sh scripts/make-certs.sh $(DESTDIR)$(SHAREDIR)/scripts/
	install -m 0644 README.md $(DESTDIR)$(PREFIX)/share/doc/flowpulse/
	install -m 0644 src/relay/README.md $(DESTDIR)$(PREFIX)/share/doc/flowpulse/relay.md

format-check:
	$(Q)clang-format --dry-run -Werror $(LIB_SRCS) src/main.c $(wildcard src/*/*.h)

clean:
	rm -rf build build-asan build-fuzz

help:
	@echo "targets: all check demo bench asan fuzz install clean (BUILD=dir V=1 PREFIX=... DESTDIR=...)"

-include $(shell find $(BUILD) -name '*.d' 2>/dev/null)
