# SPDX-License-Identifier: GPL-2.0
# iommutrace: one binary (./iommutrace) built from bpf/ (CO-RE programs embedded
# as skeletons), include/ (the ABI shared with BPF) and src/ (userspace).
#
#   make            build ./iommutrace          make deps     install Debian packages
#   make test       every suite (unit, bpf, vm) make unit|bpftest|vmtest|fuzz
#   make demo       boot the QEMU guest and run iommutrace on live IOMMU traffic
#   make matrix     docs/matrix.md from the VM suite's last results (tests/vm/results)
#   make bench      overhead benchmarks (bench/)
# V=1 shows the commands.

OUTPUT ?= build
CLANG ?= clang
BPFTOOL ?= $(shell command -v bpftool 2>/dev/null || echo /usr/sbin/bpftool)
VMLINUX_BTF ?= /sys/kernel/btf/vmlinux
CC ?= cc

CFLAGS ?= -O2 -g -Wall -Wextra -Wno-unused-parameter -Wno-missing-field-initializers -Wno-format-truncation
override CFLAGS += -std=gnu11 -D_GNU_SOURCE -MMD -MP
INCLUDES := -Iinclude -Isrc -I$(OUTPUT)
LDLIBS := -lbpf -lelf -lz -lncursesw -lmicrohttpd -lm -lyaml -lcrypt -lgnutls
BPF_CFLAGS := -g -O2 -target bpf -mcpu=v3 -D__TARGET_ARCH_x86 -Wall -Wno-unused-function

BPF_SRCS := $(wildcard bpf/*.bpf.c)
BPF_OBJS := $(patsubst bpf/%.bpf.c,$(OUTPUT)/%.bpf.o,$(BPF_SRCS))
SKELS := $(patsubst bpf/%.bpf.c,$(OUTPUT)/%.skel.h,$(BPF_SRCS))
SRCS := $(wildcard src/*.c src/cmd/*.c)
OBJS := $(patsubst src/%.c,$(OUTPUT)/obj/%.o,$(SRCS))
LIB_OBJS := $(filter-out $(OUTPUT)/obj/main.o,$(OBJS))
UNIT_BINS := $(patsubst tests/unit/%.c,$(OUTPUT)/tests/unit/%,$(wildcard tests/unit/test_*.c))
BPFTEST_BINS := $(patsubst tests/bpf/%.c,$(OUTPUT)/tests/bpf/%,$(wildcard tests/bpf/test_*.c))
FUZZ_BINS := $(patsubst tests/fuzz/%.c,$(OUTPUT)/fuzz/%,$(wildcard tests/fuzz/fuzz_*.c))
FUZZ_LIB_OBJS := $(patsubst src/%.c,$(OUTPUT)/fuzz/obj/%.o,$(filter-out src/main.c,$(SRCS)))

ifeq ($(V),1)
Q =
msg =
else
Q = @
msg = @printf '  %-8s %s\n' "$(1)" "$(2)";
endif

.PHONY: all clean deps test unit bpftest vmtest fuzz demo bench tests matrix
.DELETE_ON_ERROR:

all: iommutrace

# vmlinux.h comes from the build machine's BTF: CO-RE relocates every field
# access to the running kernel at load time, so the build kernel need not match.
$(OUTPUT)/vmlinux.h:
	$(call msg,GEN,$@)
	$(Q)mkdir -p $(@D)
	$(Q)test -r $(VMLINUX_BTF) || { echo "error: $(VMLINUX_BTF) not readable: the build needs a kernel with CONFIG_DEBUG_INFO_BTF (or VMLINUX_BTF=path)" >&2; exit 1; }
	$(Q)$(BPFTOOL) btf dump file $(VMLINUX_BTF) format c > $@

# -MMD: every header a BPF object includes (bpf/walk.h, include/iommutrace.h)
# rebuilds it, like the C objects below.
$(BPF_OBJS): $(OUTPUT)/%.bpf.o: bpf/%.bpf.c $(OUTPUT)/vmlinux.h
	$(call msg,BPF,$@)
	$(Q)mkdir -p $(@D)
	$(Q)$(CLANG) $(BPF_CFLAGS) -MMD -MP -MF $@.d $(INCLUDES) -c $< -o $@

# The skeleton embeds the object: linked first (bpftool gen object), it is
# without DWARF and relocations of debug sections (2.9 MB -> 1.2 MB; .BTF and
# .BTF.ext stay), bytes that every session maps and libbpf reads at open.
# Then its line info goes (bpf/btfext_nolines.c): ~580 KB that libbpf would
# keep in the heap through load, for source lines in verifier logs only.
$(OUTPUT)/%.bpf.linked.o: $(OUTPUT)/%.bpf.o $(OUTPUT)/btfext_nolines
	$(call msg,GEN-OBJ,$@)
	$(Q)$(BPFTOOL) gen object $@ $<
	$(Q)$(OUTPUT)/btfext_nolines $@

$(OUTPUT)/btfext_nolines: bpf/btfext_nolines.c
	$(call msg,CC,$@)
	$(Q)mkdir -p $(@D)
	$(Q)$(CC) $(CFLAGS) $< -lelf -o $@

$(SKELS): $(OUTPUT)/%.skel.h: $(OUTPUT)/%.bpf.linked.o
	$(call msg,GEN-SKEL,$@)
	$(Q)mkdir -p $(@D)
	$(Q)$(BPFTOOL) gen skeleton $< name $(subst .,_,$(notdir $(basename $(basename $<)))) > $@

# The same programs for kernels whose kallsyms lists no per-CPU variables
# (no CONFIG_KALLSYMS_ALL): there the typed ksym of the preempt count would
# fail every load (bpf/iommutrace.bpf.c, IT_NO_PERCPU_KSYM).
$(OUTPUT)/iommutrace_nopcpu.bpf.o: bpf/iommutrace.bpf.c $(OUTPUT)/vmlinux.h
	$(call msg,BPF,$@)
	$(Q)$(CLANG) $(BPF_CFLAGS) -DIT_NO_PERCPU_KSYM -MMD -MP -MF $@.d $(INCLUDES) -c $< -o $@

$(OUTPUT)/iommutrace_nopcpu.skel.h: $(OUTPUT)/iommutrace_nopcpu.bpf.linked.o
	$(call msg,GEN-SKEL,$@)
	$(Q)$(BPFTOOL) gen skeleton $< name iommutrace_nopcpu > $@

SKELS += $(OUTPUT)/iommutrace_nopcpu.skel.h

# the skeleton must exist first; -MMD then knows which objects include it
$(OUTPUT)/obj/%.o: src/%.c | $(SKELS)
	$(call msg,CC,$@)
	$(Q)mkdir -p $(@D)
	$(Q)$(CC) $(CFLAGS) $(INCLUDES) -c $< -o $@

iommutrace: $(OBJS)
	$(call msg,LINK,$@)
	$(Q)mkdir -p $(@D)
	$(Q)$(CC) $(CFLAGS) $^ $(LDLIBS) -o $@

$(OUTPUT)/tests/unit/%: tests/unit/%.c $(LIB_OBJS)
	$(call msg,CC,$@)
	$(Q)mkdir -p $(@D)
	$(Q)$(CC) $(CFLAGS) $(INCLUDES) -Itests/unit $< $(LIB_OBJS) $(LDLIBS) -o $@

$(OUTPUT)/bench/micro: bench/micro.c $(LIB_OBJS)
	$(call msg,CC,$@)
	$(Q)mkdir -p $(@D)
	$(Q)$(CC) $(CFLAGS) $(INCLUDES) -Itests/unit -Itests/bpf $< $(LIB_OBJS) $(LDLIBS) -o $@

$(OUTPUT)/bench/devfill: bench/devfill.c
	$(call msg,CC,$@)
	$(Q)mkdir -p $(@D)
	$(Q)$(CC) $(CFLAGS) $(INCLUDES) $< -lbpf -lelf -lz -o $@

$(OUTPUT)/tests/bpf/%: tests/bpf/%.c $(LIB_OBJS)
	$(call msg,CC,$@)
	$(Q)mkdir -p $(@D)
	$(Q)$(CC) $(CFLAGS) $(INCLUDES) -Itests/unit $< $(LIB_OBJS) $(LDLIBS) -o $@

# Fuzz targets: libFuzzer + ASan/UBSan over the same sources.
FUZZ_CFLAGS := -g -O1 -fsanitize=fuzzer-no-link,address,undefined -std=gnu11 -D_GNU_SOURCE
$(OUTPUT)/fuzz/obj/%.o: src/%.c | $(SKELS)
	$(call msg,CC-FUZZ,$@)
	$(Q)mkdir -p $(@D)
	$(Q)$(CLANG) $(FUZZ_CFLAGS) $(INCLUDES) -c $< -o $@

$(OUTPUT)/fuzz/%: tests/fuzz/%.c $(FUZZ_LIB_OBJS)
	$(call msg,LINK-FUZZ,$@)
	$(Q)mkdir -p $(@D)
	$(Q)$(CLANG) $(FUZZ_CFLAGS) -fsanitize=fuzzer $(INCLUDES) $< $(FUZZ_LIB_OBJS) $(LDLIBS) -o $@

tests: $(UNIT_BINS) $(BPFTEST_BINS) $(OUTPUT)/bench/devfill

deps:
	./tests/deps.sh

unit: iommutrace $(UNIT_BINS)
	./tests/run.sh unit

bpftest: iommutrace $(BPFTEST_BINS)
	./tests/run.sh bpf

vmtest: iommutrace
	./tests/run.sh vm

fuzz: $(FUZZ_BINS)
	./tests/run.sh fuzz

# The README's test command: every suite, one closing "N passed, N failed" line.
test: iommutrace $(UNIT_BINS) $(BPFTEST_BINS) $(FUZZ_BINS) $(OUTPUT)/bench/devfill
	./tests/run.sh all

demo: iommutrace
	./tests/vm/demo.sh

# The tested matrix (kernel x IOMMU x mode x QEMU) as the suite last measured it.
matrix:
	./tests/vm/matrix.sh > docs/matrix.md

bench: iommutrace $(OUTPUT)/bench/micro $(OUTPUT)/bench/devfill
	./bench/run.sh

clean:
	rm -rf $(OUTPUT) iommutrace

-include $(wildcard $(OUTPUT)/*.bpf.o.d $(OUTPUT)/obj/*.d $(OUTPUT)/obj/cmd/*.d \
	$(OUTPUT)/fuzz/obj/*.d $(OUTPUT)/fuzz/obj/cmd/*.d $(OUTPUT)/tests/*/*.d)
