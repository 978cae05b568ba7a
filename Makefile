# loopbox - make, make test, make install, make sizes. See README.md.
#
# Static by default: musl-gcc where it is installed, else the system
# compiler with -static. Honours CC, CROSS_COMPILE, CFLAGS, LDFLAGS,
# DESTDIR, PREFIX and V=1. SAN=1 builds with ASan+UBSan (dynamic).

include Kbuild

ifeq ($(origin CC),default)
  ifneq ($(CROSS_COMPILE),)
    CC := $(CROSS_COMPILE)gcc
  else ifneq ($(shell command -v musl-gcc 2>/dev/null),)
    CC := musl-gcc
  else
    CC := cc
  endif
endif

# The target's binutils, where a step needs one (objcopy): the compiler
# knows its own. Debian's musl cross wrappers (aarch64-linux-musl-gcc) have
# no aarch64-linux-musl-objcopy beside them, and the host's objcopy cannot
# read every target's ELF (s390x).
ifeq ($(origin OBJCOPY),undefined)
  OBJCOPY := $(shell $(CC) -print-prog-name=objcopy 2>/dev/null || echo objcopy)
endif

PREFIX ?= /usr/local
MANDIR ?= $(PREFIX)/share/man
BUILD ?= obj
# -Oz where the compiler has it (gcc 12, clang): 700 bytes under -Os here
ifeq ($(origin CFLAGS),undefined)
  CFLAGS := $(shell $(CC) -Oz -E -x c /dev/null >/dev/null 2>&1 && echo -Oz || echo -Os)
endif
LDFLAGS ?=
SAN ?=

WARN := -Wall -Wextra -Werror
LB_CFLAGS := -std=gnu11 -D_GNU_SOURCE $(WARN) -Icore -I$(BUILD) -ffunction-sections -fdata-sections \
	-fno-asynchronous-unwind-tables -fno-unwind-tables -fno-stack-protector
ifeq ($(SAN),1)
  LB_CFLAGS += -O1 -g -fno-omit-frame-pointer -fsanitize=address,undefined -fno-sanitize-recover=all
  LB_LDFLAGS := -fsanitize=address,undefined
else
  # -fno-pie: a static binary is loaded at one address; position-independent
  # code costs 1,120 B here (GOT loads, PC-relative setup).
  LB_CFLAGS += -fno-pie
  # noseparate-code and norelro: no page-alignment padding between the
  # segments (-6 KB on a 30 KB binary); a static binary has no GOT worth
  # a read-only page. common-page-size=64: the data right after the code in
  # the file, not moved to the next page boundary (up to 4 KB of padding).
  LB_LDFLAGS := -static -Wl,--gc-sections -Wl,-z,noseparate-code -Wl,-z,norelro \
	-Wl,-z,common-page-size=64 -Wl,--build-id=none -s
  # Per architecture, only flags that leave the ABI of calls into libc as
  # it is (README, "Cross builds"; bytes measured with musl, -Oz):
  # -mgeneral-regs-only: no floating point anywhere, so variadic functions
  # save no FP/SIMD registers (x86-64 -128 B, aarch64 -128, armhf -48); a
  # double in the code fails to compile. -fomit-frame-pointer: gcc keeps
  # frame pointers on aarch64 and i386 even at -Oz (aarch64 -704 B, i386
  # -480); nothing here walks the stack.
  LB_MACHINE := $(shell $(CC) -dumpmachine 2>/dev/null)
  ifneq ($(filter x86_64% arm%,$(LB_MACHINE)),)
    LB_CFLAGS += -mgeneral-regs-only
  else ifneq ($(filter aarch64%,$(LB_MACHINE)),)
    LB_CFLAGS += -mgeneral-regs-only -fomit-frame-pointer
  else ifneq ($(filter i386% i486% i586% i686%,$(LB_MACHINE)),)
    LB_CFLAGS += -fomit-frame-pointer
  endif
  # musl-gcc's specs wrap musl's start files in gcc's crtbeginS/crtendS
  # (frame_dummy, TM clones: nothing C here uses). musl's own crt1, crti
  # and crtn alone: -632 B. Any musl wrapper: musl-gcc, or a cross one
  # named TRIPLET-gcc with "musl" in the triplet (aarch64-linux-musl-gcc,
  # arm-linux-musleabihf-gcc, tests/cross/musl-build's riscv64 one).
  CC_NAME := $(notdir $(firstword $(CC)))
  ifneq ($(filter musl-gcc %-gcc,$(CC_NAME)),)
  ifneq ($(findstring musl,$(CC_NAME)),)
    MUSL_LIB := $(dir $(shell sed -n 's/.*-specs "\([^"]*\)".*/\1/p' "$$(command -v $(CC))" 2>/dev/null))
    ifneq ($(wildcard $(MUSL_LIB)crt1.o),)
      CRT0 := -nostartfiles $(MUSL_LIB)crt1.o $(MUSL_LIB)crti.o
      CRTN := $(MUSL_LIB)crtn.o
    endif
  endif
  endif
endif

# After the link (the stripped build only, not bloatcheck's or valgrind's):
# .comment, the compilers' names ("GCC: (Debian ...)"), 70 B and a section
# header that nothing reads (-144 B; busybox strips it too); then the
# section headers themselves (bench/sstrip.py, -560 B on x86-64: the
# kernel loads a static binary by its program headers alone). Without
# python3 (or bench/) the headers stay.
ifneq ($(filter -s,$(LB_LDFLAGS)),)
  POSTLINK = && $(OBJCOPY) -R .comment $@
  ifneq ($(wildcard bench/sstrip.py),)
  ifneq ($(shell command -v python3 2>/dev/null),)
    POSTLINK += && python3 bench/sstrip.py $@
  endif
  endif
endif

OBJS := $(core-y) $(applets-y)
APPLETS := $(subst _,-,$(basename $(notdir $(applets-y))))
BOBJS := $(addprefix $(BUILD)/,$(OBJS))

ifeq ($(V),1)
  Q :=
  say :=
else ifneq ($(findstring s,$(firstword -$(MAKEFLAGS))),)
  Q := @
  say := @
else
  Q := @
  say = @printf '  %-7s %s\n' $(1) $(2);
endif

all: loopbox

# Rebuild everything when the compiler, flags or applet set change.
CONFIG_LINE := $(CC) $(CFLAGS) $(LB_CFLAGS) $(LDFLAGS) $(LB_LDFLAGS) $(CRT0) $(CRTN) $(POSTLINK) | $(APPLETS)
$(BUILD)/.config: FORCE
	@mkdir -p $(BUILD)
	@echo '$(CONFIG_LINE)' | cmp -s - $@ || echo '$(CONFIG_LINE)' > $@

$(BUILD)/applets.h: $(BUILD)/.config
	$(call say,GEN,$@)printf '$(foreach a,$(applets-y),APPLET($(basename $(notdir $(a))), "$(subst _,-,$(basename $(notdir $(a))))")\n)' | sed 's/^ //' > $@

# -MMD: each object depends on the headers it includes (obj/*.d).
$(BUILD)/%.o: %.c $(BUILD)/applets.h $(BUILD)/.config
	@mkdir -p $(dir $@)
	$(call say,CC,$@)$(CC) $(CFLAGS) $(LB_CFLAGS) -MMD -MP -c -o $@ $<

-include $(BOBJS:.o=.d)

# Linked in $(BUILD), then copied: ./loopbox is always the last build's,
# whichever BUILD directory (and configuration) that was.
$(BUILD)/loopbox: $(BOBJS) $(BUILD)/.config
	$(call say,LD,$@)$(CC) $(CFLAGS) $(LB_CFLAGS) $(LDFLAGS) $(LB_LDFLAGS) -o $@ $(CRT0) $(BOBJS) $(CRTN)$(POSTLINK)

loopbox: $(BUILD)/loopbox FORCE
	@cmp -s $< $@ || cp $< $@

# The core without main(), for the C unit tests.
$(BUILD)/unit: tests/unit.c $(filter-out $(BUILD)/core/main.o,$(addprefix $(BUILD)/,$(core-y)))
	$(call say,CC,$@)$(CC) $(CFLAGS) $(LB_CFLAGS) $(LDFLAGS) $(filter-out -s,$(LB_LDFLAGS)) -o $@ $^

# The main job: the loopback self-test.
run: loopbox
	./loopbox lo-echo

bench: loopbox
	bash bench/run

# What each symbol gained or lost since BASE (default HEAD): see the cost
# of a change before it lands.
bloatcheck:
	bash bench/bloatcheck $(or $(BASE),HEAD)

test: loopbox $(BUILD)/unit
	$(Q)BUILD=$(BUILD) APPLETS="$(APPLETS)" bash tests/run

# Hardening and tiny images (see tests/fuzz, tests/cross, tests/initramfs).
FUZZ_S ?= 60
fuzz:
	bash tests/fuzz/run $(FUZZ_S)

test-cross:
	bash tests/cross/run $(or $(ARCH),aarch64)

test-initramfs:
	bash tests/initramfs/run $(or $(ARCH),x86_64)

install: loopbox
	install -d $(DESTDIR)$(PREFIX)/bin
	install -m 755 loopbox $(DESTDIR)$(PREFIX)/bin/loopbox
	$(foreach a,$(APPLETS),ln -f $(DESTDIR)$(PREFIX)/bin/loopbox $(DESTDIR)$(PREFIX)/bin/$(a);)
	install -d $(DESTDIR)$(MANDIR)/man1
	install -m 644 docs/loopbox.1 $(DESTDIR)$(MANDIR)/man1/loopbox.1

# The stripped static musl binary for every architecture, in $(RELEASE)
# with SHA256SUMS, and a size-table line per file (README, "Size"). The
# compilers are those of tests/cross/run (.ci/cross-deps.sh installs them;
# riscv64's musl is built by tests/cross/musl-build); each builds in
# obj-ARCH, as tests/cross/run does, so the objects are shared.
RELEASE ?= release
RELEASE_ARCHES ?= x86_64 aarch64 armhf riscv64 i386 s390x
release:
	@rm -rf $(RELEASE) && mkdir -p $(RELEASE)
	@set -e; for a in $(RELEASE_ARCHES); do \
		case $$a in \
		x86_64)	cc=CC=musl-gcc ;; \
		aarch64) cc=CROSS_COMPILE=aarch64-linux-musl- ;; \
		armhf)	cc=CROSS_COMPILE=arm-linux-musleabihf- ;; \
		i386)	cc=CROSS_COMPILE=i386-linux-musl- ;; \
		s390x)	cc=CROSS_COMPILE=s390x-linux-musl- ;; \
		riscv64) bash tests/cross/musl-build riscv64-linux-gnu $(CURDIR)/obj-musl-riscv64 >/dev/null; \
			cc=CROSS_COMPILE=$(CURDIR)/obj-musl-riscv64/bin/riscv64-linux-musl- ;; \
		*)	echo "release: no compiler known for $$a" >&2; exit 1 ;; \
		esac; \
		env -u MAKEFLAGS -u MAKELEVEL $(MAKE) -s $$cc BUILD=obj-$$a obj-$$a/loopbox; \
		if readelf -lW obj-$$a/loopbox | grep -q INTERP; then echo "release: obj-$$a/loopbox is dynamic" >&2; exit 1; fi; \
		cp obj-$$a/loopbox $(RELEASE)/loopbox-$$a; \
	done
	@cd $(RELEASE) && sha256sum loopbox-* > SHA256SUMS
	@g() { echo $$1 | sed ':a;s/\B[0-9]\{3\}\>/,&/;ta'; }; \
	echo "| file | bytes | ≤ 40,960 |"; echo "| --- | --- | --- |"; \
	for f in $(RELEASE)/loopbox-*; do n=$$(stat -c %s $$f); \
		printf '| %s | %s | %s |\n' $${f##*/} $$(g $$n) \
			"$$([ $$n -le 40960 ] && echo yes || echo "$$(g $$((n - 40960))) over")"; done

# Each configuration's stripped size: all applets, then each one alone.
sizes:
	@for cfg in all $(APPLETS); do \
		if [ $$cfg = all ]; then set --; else set -- $(foreach a,$(APPLETS),CONFIG_$(shell echo $(a) | tr a-z- A-Z_)=n) ; \
			set -- $$(printf '%s\n' "$$@" | grep -v "^CONFIG_$$(echo $$cfg | tr a-z- A-Z_)=n$$"); fi; \
		$(MAKE) -s BUILD=obj-sizes "$$@" loopbox >/dev/null && \
		printf '%-8s %7d bytes\n' $$cfg $$(stat -c %s loopbox); \
	done; $(MAKE) -s loopbox >/dev/null

clean:
	rm -rf $(BUILD) obj-sizes tests/fuzz/build loopbox $(RELEASE)

.PHONY: all run bench bloatcheck test fuzz test-cross test-initramfs install release sizes clean FORCE
