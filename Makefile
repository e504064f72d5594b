# wharf: top-level build.
#
#   make              install missing Debian packages, build everything
#   make run          start a local stack on loopback (nginx+module, wharfd, demo agent)
#   make test         build, then unit + integration + end-to-end tests
#   make test SANITIZE=1   the same, every part built with ASan+UBSan
#   make fuzz         libFuzzer targets (clang), FUZZ_SECONDS each
#
# Outputs go to build/ (build/san/ with SANITIZE=1), never into the sources.
# The nginx module is built against the Debian nginx as installed: its source
# tree (/usr/share/nginx/src, from nginx-dev) is configured once, with
# Debian's own conf_flags and --with-compat, in build/.../nginx and reused.

SANITIZE ?= 0
FUZZ     ?= 0
ifeq ($(FUZZ),1)
# libFuzzer build: every object compiled by clang with coverage hooks
# (fuzzer-no-link) plus ASan+UBSan; only the fuzz targets link libFuzzer.
B        := build/fuzz
CC       := clang
SANFLAGS := -fsanitize=address,undefined,fuzzer-no-link \
            -fno-omit-frame-pointer -fno-sanitize-recover=all
else ifeq ($(SANITIZE),1)
B        := build/san
SANFLAGS := -fsanitize=address,undefined -fno-omit-frame-pointer \
            -fno-sanitize-recover=all
else
B        := build
SANFLAGS :=
endif

CC      ?= cc
CFLAGS  := -std=c11 -D_GNU_SOURCE -O2 -g -Wall -Wextra -Werror \
           -Wshadow -Wstrict-prototypes -Wformat=2 -Icommon $(SANFLAGS) \
           $(EXTRA_CFLAGS)
LDFLAGS := $(SANFLAGS) $(EXTRA_LDFLAGS)

# pkg-config is asked when a link runs, not when make reads this file: on a
# fresh machine the libraries arrive with `deps` (scripts/install-deps),
# which every compile and link waits for (order-only), so flags computed at
# parse time would be empty. Hence `=`, not `:=`, for every *_LIBS below.
pc = $(shell pkg-config --cflags --libs $(1) 2>/dev/null)

LIB_COMMON   := $(B)/lib/libwharfcommon.a
WHARFD       := $(B)/bin/wharfd
AGENT        := $(B)/bin/wharf-agent
WHARFCTL     := $(B)/bin/wharfctl
MODULE       := $(B)/ngx_http_wharf_module.so
NGX_DIR      := $(B)/nginx
NGX_SRC      := /usr/share/nginx/src

COMMON_SRC := $(wildcard common/*.c)
WHARFD_SRC := $(wildcard fcgi_backend/*.c)
AGENT_SRC  := $(wildcard agent/*.c)
CLI_SRC    := $(wildcard cli/*.c)
MODULE_SRC := $(wildcard ngx_module/*.c ngx_module/*.h)

obj = $(patsubst %.c,$(B)/obj/%.o,$(1))

# common/ uses jansson and OpenSSL (tokens); every part that links it too.
COMMON_LIBS = $(call pc,jansson libcrypto) -lm
WHARFD_LIBS = $(call pc,fcgi sqlite3 libpq libcurl libwebsockets) -lfcgi -lpthread -lm \
               $(COMMON_LIBS)
AGENT_LIBS  = $(call pc,libwebsockets libuv libssl libcurl liblz4) -lutil $(COMMON_LIBS)
CLI_LIBS    = $(call pc,libcurl libwebsockets) $(COMMON_LIBS)
TEST_LIBS   = $(call pc,cmocka) $(COMMON_LIBS)

.PHONY: all deps deps-test module wharfd agent wharfctl console run test unit clean distclean
all: deps module wharfd agent wharfctl console

# Idempotent and quiet when nothing is missing; see scripts/install-deps.
# deps: what building and running need; deps-test: that plus the test
# tools (cmocka, clang for the fuzzers, valgrind, tmux, clang-format), so
# that `make run` installs only what running needs.
deps:
	@scripts/install-deps
deps-test:
	@scripts/install-deps test

wharfd: $(WHARFD)
agent: $(AGENT)
wharfctl: $(WHARFCTL)
module: $(MODULE)

$(B)/obj/%.o: %.c | deps
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -MMD -MP -c $< -o $@

$(LIB_COMMON): $(call obj,$(COMMON_SRC))
	@mkdir -p $(dir $@)
	$(AR) rcs $@ $^

$(WHARFD): $(call obj,$(WHARFD_SRC)) $(LIB_COMMON)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $^ $(WHARFD_LIBS)

# wharfd embeds schema/sqlite/*.sql and schema/postgresql/*.sql with .incbin
# (fcgi_backend/schema_sql.c), which the compiler's dependency files do not
# see.
$(B)/obj/fcgi_backend/schema_sql.o: $(wildcard schema/*/*.sql)

$(AGENT): $(call obj,$(AGENT_SRC)) $(LIB_COMMON)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $^ $(AGENT_LIBS)

$(WHARFCTL): $(call obj,$(CLI_SRC)) $(LIB_COMMON)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $^ $(CLI_LIBS)

# --- nginx module -----------------------------------------------------------
# nginx's configure writes objs/ into the current folder, so the Debian source
# tree is copied once into $(NGX_DIR) and configured there. The addon `config`
# at the repo root names the module's sources; configure runs again only when
# that file changes. Debian's hardening flags are repeated so the module is
# built as Debian builds its own.
NGX_CC_OPT := -g -O2 -fstack-protector-strong -Wformat -Werror=format-security \
              -fPIC -Wdate-time -D_FORTIFY_SOURCE=2 -Wextra \
              -Wno-unused-parameter $(SANFLAGS)
NGX_LD_OPT := -Wl,-z,relro -Wl,-z,now -fPIC $(SANFLAGS)

$(NGX_DIR)/objs/Makefile: config | deps
	@test -f $(NGX_SRC)/conf_flags || { echo "make: $(NGX_SRC) missing: is nginx-dev installed? run scripts/install-deps" >&2; exit 1; }
	rm -rf $(NGX_DIR) && mkdir -p $(NGX_DIR)
	cp -r $(NGX_SRC)/. $(NGX_DIR)/
	cd $(NGX_DIR) && bash -c '. ./conf_flags && ./configure "$${NGX_CONF_FLAGS[@]}" \
	    --with-cc-opt="$(NGX_CC_OPT)" --with-ld-opt="$(NGX_LD_OPT)" \
	    --add-dynamic-module="$(CURDIR)"' > configure.log 2>&1 \
	    || { tail -20 $(NGX_DIR)/configure.log; exit 1; }

MODULE_COMMON := $(addprefix common/,name.c name.h token.c token.h jws.c \
                   jws.h keys.c keys.h b64url.c b64url.h)
$(MODULE): $(NGX_DIR)/objs/Makefile $(MODULE_SRC) $(MODULE_COMMON)
	$(MAKE) -C $(NGX_DIR) -f objs/Makefile modules
	# copy, then rename: writing into the old file would change the code
	# under every nginx that has it mapped (its workers die on SIGSEGV)
	cp $(NGX_DIR)/objs/ngx_http_wharf_module.so $@.tmp && mv -f $@.tmp $@

# --- console -----------------------------------------------------------------
# The browser console served at /console/ (docs/console.md): TypeScript and
# CSS in console/, bundled by esbuild from the npm packages of
# console/package-lock.json (its own, not the test suite's: the console is
# part of running wharf) into $(B)/console, type-checked first. The build
# writes a new folder and renames it into place, so nginx never serves half
# of one.
CONSOLE     := $(B)/console/index.html
CONSOLE_SRC := $(wildcard console/src/*.ts console/src/*.css) console/index.html \
               console/build.mjs console/tsconfig.json console/package-lock.json

console: $(CONSOLE)

console/node_modules/.installed: console/package.json console/package-lock.json | deps
	cd console && npm ci --no-audit --no-fund --loglevel=error
	@touch $@

$(CONSOLE): $(CONSOLE_SRC) console/node_modules/.installed
	node console/build.mjs $(B)/console

# --- tests ------------------------------------------------------------------
UNIT_SRC   := $(wildcard tests/unit/test_*.c)
UNIT_BINS  := $(patsubst tests/unit/%.c,$(B)/tests/%,$(UNIT_SRC))

# A unit test is named after the part it tests (test_common_*.c,
# test_agent_*.c, test_wharfd_*.c, test_ctl_*.c) and links that part's
# objects, except the file with main(). One exception: test_agent_proc,
# the supervisor's test, links the supervisor alone (AGENT_SUP_OBJS, its
# own rule below), never the shipper or the API: the supervisor reports
# through hooks (agent/proc.h) and must not need them, which that link
# proves.
AGENT_LIB_OBJS  := $(filter-out $(B)/obj/agent/main.o,$(call obj,$(AGENT_SRC)))
WHARFD_LIB_OBJS := $(filter-out $(B)/obj/fcgi_backend/main.o,$(call obj,$(WHARFD_SRC)))
CLI_LIB_OBJS    := $(filter-out $(B)/obj/cli/main.o,$(call obj,$(CLI_SRC)))
UNIT_CC = $(CC) $(CFLAGS) -o $@ $^ $(TEST_LIBS)

$(B)/tests/test_common_%: tests/unit/test_common_%.c $(LIB_COMMON)
	@mkdir -p $(dir $@)
	$(UNIT_CC) $(LDFLAGS)
$(B)/tests/test_agent_%: tests/unit/test_agent_%.c $(AGENT_LIB_OBJS) $(LIB_COMMON)
	@mkdir -p $(dir $@)
	$(UNIT_CC) $(AGENT_LIBS) $(LDFLAGS)
AGENT_SUP_OBJS := $(call obj,agent/proc.c agent/child.c agent/lines.c agent/detect.c \
                     agent/reaper.c)
$(B)/tests/test_agent_proc: tests/unit/test_agent_proc.c $(AGENT_SUP_OBJS) \
                            $(LIB_COMMON)
	@mkdir -p $(dir $@)
	$(UNIT_CC) $(call pc,libuv) $(LDFLAGS)
$(B)/tests/test_wharfd_%: tests/unit/test_wharfd_%.c $(WHARFD_LIB_OBJS) $(LIB_COMMON)
	@mkdir -p $(dir $@)
	$(UNIT_CC) $(WHARFD_LIBS) $(LDFLAGS)
$(B)/tests/test_ctl_%: tests/unit/test_ctl_%.c $(CLI_LIB_OBJS) $(LIB_COMMON)
	@mkdir -p $(dir $@)
	$(UNIT_CC) $(CLI_LIBS) $(LDFLAGS)

unit: $(UNIT_BINS)
$(UNIT_BINS): | deps-test

# --- fuzzing (libFuzzer) -----------------------------------------------------
# tests/fuzz/fuzz_<part>_<name>.c is a libFuzzer target linked, like a unit
# test, with that part's objects. Seed corpora live in tests/fuzz/corpus/<t>/.
#   make fuzz                    build all targets and run each FUZZ_SECONDS
#   make fuzz FUZZ_TARGETS=...   only these
# `make test` runs each target for a short smoke pass (tests/run).
FUZZ_SRC     := $(wildcard tests/fuzz/fuzz_*.c)
FUZZ_BINS    := $(patsubst tests/fuzz/%.c,build/fuzz/fuzz/%,$(FUZZ_SRC))
FUZZ_SECONDS ?= 60
FUZZ_TARGETS ?= $(patsubst tests/fuzz/%.c,%,$(FUZZ_SRC))
FUZZ_CC = $(CC) $(CFLAGS) -fsanitize=fuzzer -o $@ $^

$(B)/fuzz/fuzz_common_%: tests/fuzz/fuzz_common_%.c $(LIB_COMMON)
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(COMMON_LIBS)
$(B)/fuzz/fuzz_agent_%: tests/fuzz/fuzz_agent_%.c $(AGENT_LIB_OBJS) $(LIB_COMMON)
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(AGENT_LIBS)
$(B)/fuzz/fuzz_wharfd_%: tests/fuzz/fuzz_wharfd_%.c $(WHARFD_LIB_OBJS) $(LIB_COMMON)
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(WHARFD_LIBS)
$(B)/fuzz/fuzz_ctl_%: tests/fuzz/fuzz_ctl_%.c $(CLI_LIB_OBJS) $(LIB_COMMON)
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(CLI_LIBS)
# wharfctl's answers without a network: the target's __wrap_ctl_http
# replaces the transport; everything after it is the CLI's own code.
$(B)/fuzz/fuzz_ctl_response: CLI_LIBS += -Wl,--wrap=ctl_http
# The module's targets #include its ngx_module/*.c file as nginx builds it,
# with the headers of the configured nginx tree (build/nginx, configured by
# a plain build) and the module's warnings; see tests/fuzz/fuzz_ngx_route.c.
NGX_FUZZ_TREE   := build/nginx
NGX_FUZZ_CFLAGS := -std=gnu11 -O2 -g -Wall -Wextra -Werror \
                   -Wno-unused-parameter $(SANFLAGS) \
                   $(addprefix -isystem $(NGX_FUZZ_TREE)/,objs src/core \
                     src/event src/event/modules src/os/unix src/http \
                     src/http/modules src/http/v2) -Ingx_module -Icommon
$(B)/fuzz/fuzz_ngx_%: tests/fuzz/fuzz_ngx_%.c $(MODULE_SRC) \
                      $(NGX_FUZZ_TREE)/objs/Makefile $(LIB_COMMON)
	@mkdir -p $(dir $@)
	$(CC) $(NGX_FUZZ_CFLAGS) -fsanitize=fuzzer -o $@ $< $(LIB_COMMON) \
	    $(COMMON_LIBS)
ifeq ($(FUZZ),1)
$(NGX_FUZZ_TREE)/objs/Makefile: config
	@$(MAKE) --no-print-directory FUZZ=0 SANITIZE=0 $@
endif

.PHONY: fuzz fuzz-build
fuzz-build:
ifeq ($(FUZZ),1)
	@$(MAKE) --no-print-directory $(FUZZ_BINS)
else
	@scripts/install-deps test
	@$(MAKE) --no-print-directory FUZZ=1 fuzz-build
endif

fuzz: fuzz-build
	@tests/fuzz/run $(FUZZ_SECONDS) $(FUZZ_TARGETS)

tests/node_modules/.installed: tests/package.json tests/package-lock.json | deps-test
	cd tests && npm ci --no-audit --no-fund --loglevel=error
	@touch $@

# The pinned TypeScript compiler scripts/migrate.py checks migrated
# TypeScript with (docs/migrate.md); not needed by the build, `make run` or
# `make test` (the tests pin their own in tests/package.json).
.PHONY: migrate-deps
migrate-deps: scripts/node_modules/.installed
scripts/node_modules/.installed: scripts/package.json scripts/package-lock.json | deps
	cd scripts && npm ci --no-audit --no-fund --loglevel=error
	@touch $@

test: deps-test all unit fuzz-build tests/node_modules/.installed
	@B=$(B) SANITIZE=$(SANITIZE) tests/run

# The README on a machine that has never seen wharf: a fresh clone in a
# clean Debian 12 container (debootstrap + docker import, Debian's docker.io
# with no network of its own), `apt-get install make` and `make test` there,
# once. About 15 minutes; not part of `make test` (scripts/test-fresh).
.PHONY: test-fresh
test-fresh:
	@scripts/test-fresh

# The module on every nginx version (docs/DIRECTIVES.md, "Supported nginx
# versions"): for each nginx-X.Y.Z.tar.gz in NGINX_SOURCES, nginx and the
# module built with nginx's own flags (cached per version under
# /var/cache/wharf/nginx/), then Debian's nginx; the module's integration
# and end-to-end files on each (scripts/test-nginx).
#   make test-nginx NGINX_SOURCES=DIR   (a folder of nginx-X.Y.Z.tar.gz)
.PHONY: test-nginx
test-nginx: deps-test all tests/node_modules/.installed
	@test -n "$(NGINX_SOURCES)" || { echo "make: test-nginx needs NGINX_SOURCES=DIR (nginx-X.Y.Z.tar.gz archives)" >&2; exit 2; }
	@B=$(B) SANITIZE=$(SANITIZE) scripts/test-nginx "$(NGINX_SOURCES)"

# Valgrind memcheck of wharfd, wharf-agent and wharfctl through the node
# tests (docs/SECURITY.md "Memory safety"): a plain -O1 -g build in build/vg
# (gcc's format-truncation check misfires at -O1's inlining, so it warns
# there instead of failing); a log with an error or a definite leak fails
# the run; tests failing by their own clock are listed, not counted
# (WHARF_VG_STRICT=1 counts them).
#   make test-valgrind VG_FILTER=wharfd   only node files whose path has it
VG_FILTER ?= tests/
.PHONY: test-valgrind
test-valgrind: deps-test tests/node_modules/.installed
	@$(MAKE) --no-print-directory B=build/vg \
	    EXTRA_CFLAGS="-O1 -Wno-error=format-truncation" module wharfd agent wharfctl
	@B=build/vg WHARF_VALGRIND=1 tests/run $(VG_FILTER)

# Soak (docs/SECURITY.md "Soak"): one stack under mixed load for
# SOAK_SECONDS (20 agents shipping, 200 terminals, 50 feed subscribers,
# REST queries); exits non-zero on any lost row, error or RSS growth > 10 %.
SOAK_SECONDS ?= 600
.PHONY: soak
soak: all tests/node_modules/.installed
	B=$(B) SANITIZE=$(SANITIZE) SOAK_SECONDS=$(SOAK_SECONDS) node tests/soak/soak.mjs

run: all
	@B=$(B) SANITIZE=$(SANITIZE) scripts/run-stack

# --- install -------------------------------------------------------------------
# The layout of a distribution package (PREFIX=/usr, DESTDIR for staging):
#   bin/wharfctl, bin/wharf-agent, sbin/wharfd
#   lib/nginx/modules/ngx_http_wharf_module.so   (Debian's modules folder)
#   SYSCONFDIR/wharf/  nginx.conf (template), wharf.conf, wharf_fastcgi_params,
#                      wharfd.conf, workers.d/   (kept if already there)
#   lib/systemd/system/wharfd.service            (paths filled in)
#   share/wharf/  templates/worker, schema, scripts (new-worker, worker-conf,
#                 render-nginx-conf, migrate.py), console (served at /console/:
#                 the installed wharf.conf names this folder)
#   share/doc/wharf/  README.md and docs/
# SYSCONFDIR is /etc for PREFIX=/usr, else PREFIX/etc.
PREFIX     ?= /usr/local
DESTDIR    ?=
SYSCONFDIR ?= $(if $(filter /usr,$(PREFIX)),/etc,$(PREFIX)/etc)
INSTALL    ?= install

.PHONY: install uninstall
install: all
	$(INSTALL) -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(PREFIX)/sbin \
	    $(DESTDIR)$(PREFIX)/lib/nginx/modules \
	    $(DESTDIR)$(PREFIX)/lib/systemd/system \
	    $(DESTDIR)$(SYSCONFDIR)/wharf/workers.d $(DESTDIR)/var/lib/wharf/workers \
	    $(DESTDIR)$(PREFIX)/share/wharf/scripts \
	    $(DESTDIR)$(PREFIX)/share/doc/wharf
	$(INSTALL) -m 755 $(WHARFCTL) $(AGENT) $(DESTDIR)$(PREFIX)/bin/
	$(INSTALL) -m 755 $(WHARFD) $(DESTDIR)$(PREFIX)/sbin/
	$(INSTALL) -m 644 $(MODULE) $(DESTDIR)$(PREFIX)/lib/nginx/modules/
	for f in nginx.conf wharf_fastcgi_params wharfd.conf; do \
	    test -e $(DESTDIR)$(SYSCONFDIR)/wharf/$$f \
	        || $(INSTALL) -m 644 conf/$$f $(DESTDIR)$(SYSCONFDIR)/wharf/$$f; \
	done
	test -e $(DESTDIR)$(SYSCONFDIR)/wharf/wharf.conf \
	    || { sed -e 's|@CONSOLE_DIR@|$(PREFIX)/share/wharf/console|g' conf/wharf.conf \
	             > $(DESTDIR)$(SYSCONFDIR)/wharf/wharf.conf \
	         && chmod 644 $(DESTDIR)$(SYSCONFDIR)/wharf/wharf.conf; }
	sed -e 's|@SBINDIR@|$(PREFIX)/sbin|g' -e 's|@SYSCONFDIR@|$(SYSCONFDIR)|g' \
	    conf/wharfd.service > $(DESTDIR)$(PREFIX)/lib/systemd/system/wharfd.service
	cp -R templates schema $(DESTDIR)$(PREFIX)/share/wharf/
	rm -rf $(DESTDIR)$(PREFIX)/share/wharf/console
	cp -R $(B)/console $(DESTDIR)$(PREFIX)/share/wharf/console
	$(INSTALL) -m 755 scripts/new-worker scripts/worker-conf \
	    scripts/render-nginx-conf scripts/migrate.py \
	    $(DESTDIR)$(PREFIX)/share/wharf/scripts/
	cp -R README.md docs/. $(DESTDIR)$(PREFIX)/share/doc/wharf/

uninstall:
	rm -f $(DESTDIR)$(PREFIX)/bin/wharfctl $(DESTDIR)$(PREFIX)/bin/wharf-agent \
	    $(DESTDIR)$(PREFIX)/sbin/wharfd \
	    $(DESTDIR)$(PREFIX)/lib/nginx/modules/ngx_http_wharf_module.so \
	    $(DESTDIR)$(PREFIX)/lib/systemd/system/wharfd.service
	rm -rf $(DESTDIR)$(PREFIX)/share/wharf $(DESTDIR)$(PREFIX)/share/doc/wharf

# --- benchmarks ---------------------------------------------------------------
# bench/wsproxy: WebSocket echo through wharf_route against a plain
# proxy_pass and a direct connection, handshakes with auth on and off, idle
# sessions, and callgrind instructions per handshake (docs/BENCHMARKS.md).
#   make bench-wsproxy                      this one alone, about 10 minutes
#   make bench-wsproxy BENCH_ARGS=--quick   a short smoke run
BENCH_BINS := $(B)/bench/wsload $(B)/bench/wsecho

$(B)/bench/wsload: bench/wsproxy/wsload.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -o $@ $< $(LDFLAGS) $(call pc,libcrypto)
$(B)/bench/wsecho: bench/wsproxy/wsecho.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -o $@ $< $(LDFLAGS) $(call pc,libcrypto)

.PHONY: bench bench-wsproxy
bench: bench-wsproxy
bench-wsproxy: module $(BENCH_BINS) tests/node_modules/.installed
	B=$(B) node bench/wsproxy/run.mjs $(BENCH_ARGS)

# --- benchmarks (wharfd) -------------------------------------------------------
# bench/ingest: ingestion through nginx vs the raw limit of the schema;
# bench/query: latest 100 logs under 64 connections vs a trivial responder.
# Results: docs/BENCHMARKS.md (wharfd section).
$(B)/bench/raw: bench/ingest/raw.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -o $@ $< $(call pc,sqlite3) $(LDFLAGS)
# PostgreSQL's own limit on the same schema (bench/ingest/pg.mjs).
$(B)/bench/pg_ceiling: bench/ingest/pg_ceiling.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -o $@ $< $(call pc,libpq) $(LDFLAGS)
$(B)/bench/trivial: bench/query/trivial.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -o $@ $< -lfcgi -lpthread $(LDFLAGS)
# In-process cost per row/request (run under callgrind: docs/BENCHMARKS.md).
$(B)/bench/inproc: bench/ingest/inproc.c $(WHARFD_LIB_OBJS) $(LIB_COMMON)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -o $@ $^ $(WHARFD_LIBS) $(LDFLAGS)

.PHONY: bench bench-wharfd
bench: bench-wharfd
bench-wharfd: wharfd module $(B)/bench/raw $(B)/bench/pg_ceiling $(B)/bench/trivial tests/node_modules/.installed
	@scripts/install-deps bench
	B=$(B) node bench/ingest/run.mjs
	B=$(B) node bench/ingest/pg.mjs
	B=$(B) node bench/query/run.mjs
	WHARF_BENCH_CLIENT=wrk B=$(B) node bench/query/run.mjs
	WHARF_BENCH_ENGINE=postgresql B=$(B) node bench/query/run.mjs

# --- benchmarks (agent) --------------------------------------------------------
# bench/terminal: terminal throughput, keystroke echo, first prompt and RSS
# per session through nginx, against the bare-PTY ceiling; bench/agent:
# lines captured and shipped, CPU per line, peak RSS (docs/BENCHMARKS.md).
$(B)/bench/ttyload: bench/terminal/ttyload.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -o $@ $< $(LDFLAGS) $(call pc,libcrypto) -lutil

.PHONY: bench bench-agent bench-terminal
bench: bench-agent bench-terminal
bench-terminal: all $(B)/bench/ttyload tests/node_modules/.installed
	B=$(B) node bench/terminal/run.mjs 5
bench-agent: all tests/node_modules/.installed
	B=$(B) node bench/agent/run.mjs 10 3
	B=$(B) node bench/agent/e2e.mjs 10

# --- benchmarks (console) ------------------------------------------------------
# bench/console: the console in Chromium with 500 workers: fleet time to
# first row and to all rows; keystroke to screen in a grid of 16 terminals
# against one alone; gzipped JS+CSS size (docs/BENCHMARKS.md).
.PHONY: bench bench-console
bench: bench-console
bench-console: all deps-test tests/node_modules/.installed
	B=$(B) node bench/console/run.mjs $(BENCH_ARGS)

# --- benchmarks (live registry) --------------------------------------------------
# bench/registry: 1,000 workers added and removed through the API and through
# the reload path, while 200 terminals type (docs/BENCHMARKS.md).
#   make bench-registry BENCH_ARGS=--quick   a short smoke run
.PHONY: bench bench-registry
bench: bench-registry
bench-registry: all tests/node_modules/.installed
	B=$(B) node bench/registry/run.mjs $(BENCH_ARGS)

clean:
	rm -rf build

distclean: clean
	rm -rf run tests/node_modules console/node_modules scripts/node_modules

-include $(shell find $(B)/obj -name '*.d' 2>/dev/null)
