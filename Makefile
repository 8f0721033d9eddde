# SPDX-License-Identifier: GPL-2.0-or-later
# dfabric build. `make` builds build/dfabric, build/dfabric-ctl, build/dfabric-sim
# and build/libdfabric.a (everything but the FUSE front end).
# `make SAN=1` builds with ASan/UBSan into build-san/.

PREFIX   ?= /usr/local
SBINDIR  ?= $(PREFIX)/sbin
BINDIR   ?= $(PREFIX)/bin
MANDIR   ?= $(PREFIX)/share/man

CC       ?= cc
ifeq ($(SAN),1)
B        := build-san
SANFLAGS := -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined
OPT      := -O1 -g
else
B        := build
SANFLAGS :=
OPT      := -O2 -g
endif

FUSE_CFLAGS := $(shell pkg-config --cflags fuse3)
FUSE_LIBS   := $(shell pkg-config --libs fuse3)

CFLAGS   += $(OPT) -std=gnu11 -Wall -Wextra -Werror -Wshadow -Wno-unused-parameter \
            -D_GNU_SOURCE -D_FILE_OFFSET_BITS=64 -I. $(SANFLAGS) -MMD -MP
LDFLAGS  += $(SANFLAGS)
LIBS     := -lrocksdb -luring -ls3 $(shell pkg-config --libs libcurl) -lcrypto -lxxhash -linih -lcjson -lxgboost -lgsl -lgslcblas -lpthread -lm

CORE_SRC := $(wildcard common/*.c backends/*.c crypto/*.c tiering/*.c predict/*.c) \
            $(filter-out fs/fuse_main.c fs/fuse_loop.c fs/fuse_uring.c,$(wildcard fs/*.c))
CORE_OBJ := $(CORE_SRC:%.c=$(B)/%.o)

UNIT_SRC := $(wildcard tests/unit/test_*.c)
UNIT_BIN := $(UNIT_SRC:tests/unit/%.c=$(B)/tests/%)
HELP_SRC := $(wildcard tests/helpers/*.c)
HELP_BIN := $(HELP_SRC:tests/helpers/%.c=$(B)/tests/%)

.PHONY: all clean install uninstall check unit bench
all: $(B)/dfabric $(B)/dfabric-ctl $(B)/dfabric-sim $(UNIT_BIN) $(HELP_BIN)

$(B)/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(FUSE_CFLAGS) -c -o $@ $<

$(B)/libdfabric.a: $(CORE_OBJ)
	@mkdir -p $(dir $@)
	rm -f $@ && ar rcs $@ $^

$(B)/dfabric: $(B)/fs/fuse_main.o $(B)/fs/fuse_loop.o $(B)/fs/fuse_uring.o $(B)/libdfabric.a
	$(CC) $(LDFLAGS) -o $@ $^ $(FUSE_LIBS) $(LIBS)

$(B)/dfabric-ctl: $(B)/tools/dfabric-ctl.o $(B)/libdfabric.a
	$(CC) $(LDFLAGS) -o $@ $^ $(LIBS)

$(B)/dfabric-sim: $(B)/tools/dfabric-sim.o $(B)/libdfabric.a
	$(CC) $(LDFLAGS) -o $@ $^ $(LIBS)

# Orders syncs of two files of one directory: openat2 (through syscall)
# and fsync wrapped.
$(B)/tests/test_local_dirsync: $(B)/tests/unit/test_local_dirsync.o $(B)/libdfabric.a
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -Wl,--wrap=syscall -Wl,--wrap=fsync -o $@ $^ -lcmocka $(LIBS)

# Sees what fs_fsync syncs: ftruncate, fdatasync and fsync wrapped.
$(B)/tests/test_fs_trunc_sync: $(B)/tests/unit/test_fs_trunc_sync.o $(B)/libdfabric.a
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -Wl,--wrap=ftruncate64 -Wl,--wrap=fdatasync -Wl,--wrap=fsync -o $@ $^ -lcmocka $(LIBS)

$(B)/tests/test_%: $(B)/tests/unit/test_%.o $(B)/libdfabric.a
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $^ -lcmocka $(LIBS)

$(B)/tests/%: $(B)/tests/helpers/%.o
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $^ $(LIBS)

unit: $(UNIT_BIN)

# The whole test suite: unit tests, then integration tests on real mounts.
check: all
	B=$(B) tests/run

bench: all
	B=$(B) bench/run
	B=$(B) bench/migrate

install: $(B)/dfabric $(B)/dfabric-ctl
	install -D -m 0755 $(B)/dfabric $(DESTDIR)$(SBINDIR)/dfabric
	install -D -m 0755 $(B)/dfabric-ctl $(DESTDIR)$(BINDIR)/dfabric-ctl
	install -D -m 0644 man/dfabric.8 $(DESTDIR)$(MANDIR)/man8/dfabric.8
	install -D -m 0644 man/dfabric-ctl.8 $(DESTDIR)$(MANDIR)/man8/dfabric-ctl.8
	install -D -m 0644 man/dfabric.conf.5 $(DESTDIR)$(MANDIR)/man5/dfabric.conf.5

uninstall:
	rm -f $(DESTDIR)$(SBINDIR)/dfabric $(DESTDIR)$(BINDIR)/dfabric-ctl \
	      $(DESTDIR)$(MANDIR)/man8/dfabric.8 $(DESTDIR)$(MANDIR)/man8/dfabric-ctl.8 \
	      $(DESTDIR)$(MANDIR)/man5/dfabric.conf.5

clean:
	rm -rf build build-san

-include $(shell find $(B) -name '*.d' 2>/dev/null)
