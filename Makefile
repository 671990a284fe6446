# ngx_http_recsys_module: build, test, run the demo.
#
#   make run     install what is missing, build, serve the demo catalog
#   make test    install what is missing, build, run every test
#   make bench   req/s of similar vs an nginx baseline; search, history
#                and similar with generic and AVX2 FAISS, raw FAISS q/s
#   make asan    the module, nginx and the tools with ASan+UBSan, and the
#                Test::Nginx suites against them (in build/asan)
#   make fuzz    libFuzzer targets (clang), each run FUZZ_SECONDS
#
# NGINX_SRC=/path builds against another nginx source tree; CC=... is used
# for everything, nginx's configure included.  make -j is safe.

NGINX_SRC   ?= /usr/share/nginx/src
NGINX_BIN   ?= /usr/sbin/nginx
PORT        ?= 8080
BUILD       ?= build
TOP         := $(CURDIR)
T           ?= t

# a CC given on the command line or in the environment also builds nginx
ifeq ($(origin CC),default)
CC          := gcc
NGX_WITH_CC :=
else
NGX_WITH_CC := --with-cc=$(CC)
endif

# extra compiler and linker flags for everything (make asan sets them)
SAN_FLAGS   ?=

# evaluated when used, i.e. after scripts/deps.sh installed libpq-dev
PQ_INC      ?= $(shell pg_config --includedir 2>/dev/null \
                 || pkg-config --variable=includedir libpq 2>/dev/null)

CFLAGS_PURE  = -std=gnu99 -O2 -g -Wall -Wextra -Werror -fPIC -Isrc \
               -I$(PQ_INC) $(SAN_FLAGS)

CXXFLAGS_PURE = -std=c++11 -O2 -g -Wall -Wextra -Werror -fPIC -Isrc \
               $(SAN_FLAGS)

MULTIARCH   := /usr/lib/$(shell $(CC) -print-multiarch 2>/dev/null \
                 || dpkg-architecture -qDEB_HOST_MULTIARCH 2>/dev/null)
FAISS_LIB   ?= $(MULTIARCH)/libfaiss.a
FAISS_DIR   ?= $(BUILD)/faiss

# a system libfaiss_c is used when present; else one is built from source
ifneq ($(wildcard $(MULTIARCH)/libfaiss_c.so $(MULTIARCH)/libfaiss_c.a),)
FAISS_C_LIB ?= -lfaiss_c
FAISS_C_DEP :=
else
FAISS_C_LIB ?= $(abspath $(FAISS_DIR))/libfaiss_c.a
FAISS_C_DEP := $(FAISS_C_LIB)
endif

# FAISS_SIMD=auto|avx2|generic picks the FAISS kernels (scripts/faiss-simd.sh):
# avx2 links the hot units of Debian's faiss rebuilt for AVX2+FMA
# (scripts/build-faiss-simd.sh, one object) ahead of Debian's libfaiss.a;
# auto is avx2 on a CPU that has it, generic elsewhere
FAISS_SIMD  ?= auto
FAISS_VARIANT := $(shell FAISS_SIMD='$(FAISS_SIMD)' CC='$(CC)' \
                   scripts/faiss-simd.sh)
ifeq ($(FAISS_VARIANT),)
$(error FAISS_SIMD: see the message of scripts/faiss-simd.sh above)
endif
ifeq ($(FAISS_VARIANT),avx2)
FAISS_SIMD_OBJ := $(abspath $(FAISS_DIR))/faiss-avx2.o
else
FAISS_SIMD_OBJ :=
endif

# build/faiss-variant names the variant linked; rewritten only when it
# changes, so that a switch relinks everything and reconfigures nginx
FAISS_STAMP := $(BUILD)/faiss-variant
$(shell mkdir -p $(BUILD); \
    [ "$$(cat $(FAISS_STAMP) 2>/dev/null)" = "$(FAISS_VARIANT)" ] \
    || echo "$(FAISS_VARIANT)" > $(FAISS_STAMP))
FAISS_DEPS  := $(FAISS_SIMD_OBJ) $(FAISS_STAMP)

FAISS_LIBS  := $(FAISS_C_LIB) $(FAISS_SIMD_OBJ) $(FAISS_LIB) -lblas \
               -llapack -lgomp -lstdc++ -lm

MODULE      := $(BUILD)/ngx_http_recsys_module.so
NGX_OBJS    := $(BUILD)/nginx
OBJ         := $(BUILD)/obj
LIB         := $(BUILD)/librecsys.a

PURE_SRCS   := $(wildcard src/recsys_*.c)
PURE_CXX    := $(wildcard src/recsys_*.cpp)
PURE_OBJS   := $(patsubst src/%.c,$(OBJ)/%.o,$(PURE_SRCS)) \
               $(patsubst src/%.cpp,$(OBJ)/%.o,$(PURE_CXX))
NGX_SRCS    := $(wildcard src/ngx_http_recsys_*.c src/ngx_http_recsys_*.h)
HDRS        := $(wildcard src/*.h)

TOOLS       := $(BUILD)/recsys-build $(BUILD)/recsys-gen \
               $(BUILD)/recsys-recall $(BUILD)/recsys-eval \
               $(BUILD)/recsys-eventgen $(BUILD)/recsys-faissbench
UNIT_TESTS  := $(patsubst t/unit/%.c,$(BUILD)/unit/%,$(wildcard t/unit/test_*.c))

LIBS_PURE   := $(FAISS_LIBS) -lcjson -lyaml -lpq

# the throwaway PostgreSQL cluster of the unit tests and suites
# (scripts/pg.sh); whatever uses it holds PG_LOCK, so that make -j never
# runs two of them at once (one would stop the cluster under the other)
PG_DIR      ?= $(BUILD)/pg
LOCK_DIR    ?= $(BUILD)
PG_LOCK      = flock $(LOCK_DIR)/pg.lock

.PHONY: all deps deps-test module tools lib unit unit-bins style test prove run \
        bench memcheck asan asan-run fuzz fuzz-bins fuzz-replay clean deb deb-smoke

all: module tools

# what building and serving need (make, make run); deps-test adds what
# only the tests need (make test)
deps:
	@scripts/deps.sh run

deps-test:
	@scripts/deps.sh test

$(abspath $(FAISS_DIR))/libfaiss_c.a: | deps
	scripts/build-faiss-c.sh $(FAISS_DIR)

# cached by the script itself: a second run with the same recipe is a touch
$(abspath $(FAISS_DIR))/faiss-avx2.o: scripts/build-faiss-simd.sh \
                                      scripts/faiss-simd-guard.c | deps
	scripts/build-faiss-simd.sh $(FAISS_DIR)


# ---- the module, built in a configured copy of nginx's source tree ----

# What the configured tree depends on besides `config`, rewritten only
# when it changes: the list of module sources (a file that comes or goes
# reconfigures, an edit does not), the nginx source tree, the compiler
# and the extra flags.
NGX_STAMP   := $(BUILD)/nginx-configured
# -O2 as Debian builds nginx and its modules (nginx -V), not nginx's own
# default -O, which leaves the module's small helpers and FAISS's heap
# templates uninlined
NGX_CC_OPT   = -O2 $(SAN_FLAGS)
NGX_LD_OPT   = $(SAN_FLAGS)
$(shell mkdir -p $(BUILD); \
    l="$(sort $(wildcard src/*.c src/*.cpp src/*.h)) \
       $(abspath $(NGINX_SRC)) \
       $(CC) $(NGX_CC_OPT) $(NGX_LD_OPT) $(FAISS_VARIANT)"; \
    [ "$$(cat $(NGX_STAMP) 2>/dev/null)" = "$$l" ] \
    || echo "$$l" > $(NGX_STAMP))

# nginx's configure runs in a private copy of the source tree, so the
# system's /usr/share/nginx/src is never written to
$(NGX_OBJS)/Makefile: config $(NGX_STAMP) \
                      $(wildcard $(NGINX_SRC)/src/core/nginx.h) \
                      | deps $(FAISS_C_DEP) $(FAISS_SIMD_OBJ)
	rm -rf $(NGX_OBJS)
	mkdir -p $(NGX_OBJS)
	cp -r $(NGINX_SRC)/. $(NGX_OBJS)/
	cd $(NGX_OBJS) && \
	    flags=$$(if [ -f conf_flags ]; then \
	        bash -c '. ./conf_flags; echo "$${NGX_CONF_FLAGS[@]}"'; \
	        else echo --with-compat; fi) && \
	    FAISS_C_LIB="$(FAISS_C_LIB)" FAISS_LIB="$(FAISS_LIB)" \
	    FAISS_SIMD_OBJ="$(FAISS_SIMD_OBJ)" \
	    PQ_INC="$(PQ_INC)" \
	    ./configure $$flags --with-compat $(NGX_WITH_CC) \
	        $(if $(NGX_CC_OPT),--with-cc-opt="$(NGX_CC_OPT)") \
	        $(if $(NGX_LD_OPT),--with-ld-opt="$(NGX_LD_OPT)") \
	        --add-dynamic-module=$(TOP) > configure.log 2>&1 \
	    || { tail -20 configure.log; exit 1; }
	touch $@

# nginx's Makefile does not know the FAISS object: the .so is relinked
$(MODULE): $(NGX_OBJS)/Makefile $(PURE_SRCS) $(PURE_CXX) $(NGX_SRCS) \
           $(HDRS) $(FAISS_DEPS)
	rm -f $(NGX_OBJS)/objs/ngx_http_recsys_module.so
	$(MAKE) -s -C $(NGX_OBJS) -f objs/Makefile modules
	cp $(NGX_OBJS)/objs/ngx_http_recsys_module.so $@

module: $(MODULE)


# ---- the pure library, the tools and the unit tests ----

$(OBJ)/%.o: src/%.c | deps
	@mkdir -p $(@D)
	$(CC) $(CFLAGS_PURE) -MMD -MP -c -o $@ $<

# the one C++ part: FAISS's scanner without OpenMP (recsys_faiss_scan.h)
$(OBJ)/%.o: src/%.cpp | deps
	@mkdir -p $(@D)
	$(CXX) $(CXXFLAGS_PURE) -MMD -MP -c -o $@ $<

$(LIB): $(PURE_OBJS)
	rm -f $@
	ar rcs $@ $^

lib: $(LIB)

$(BUILD)/recsys-%: tools/recsys_%.c $(LIB) $(FAISS_DEPS) | $(FAISS_C_DEP)
	$(CC) $(CFLAGS_PURE) -MMD -MP -MF $(OBJ)/tool-$*.d -o $@ $< $(LIB) \
	    $(LIBS_PURE)

tools: $(TOOLS)

$(BUILD)/unit/%: t/unit/%.c $(LIB) $(FAISS_DEPS) | deps-test $(FAISS_C_DEP)
	@mkdir -p $(@D)
	$(CC) $(CFLAGS_PURE) -MMD -MP -MF $(OBJ)/unit-$*.d -o $@ $< $(LIB) \
	    $(LIBS_PURE) -lcmocka

unit-bins: $(UNIT_TESTS)

-include $(wildcard $(OBJ)/*.d)

# test_source_pg needs a server: start one, run every test, stop it; the
# server always exists here, so test_source_pg must not skip
unit: $(UNIT_TESTS)
	@$(PG_LOCK) sh -c '\
	scripts/pg.sh start $(PG_DIR); \
	eval "$$(scripts/pg.sh env $(PG_DIR))"; rc=0; \
	for t in $(UNIT_TESTS); do echo "== $$t"; \
	    RECSYS_REQUIRE_DATABASE=1 $$t || { rc=1; break; }; done; \
	scripts/pg.sh stop $(PG_DIR); exit $$rc'

style:
	@scripts/style.sh


# ---- Test::Nginx suites, valgrind ----

# the Test::Nginx suites; fixtures are catalogs built by recsys-build;
# the PostgreSQL suites use a throwaway cluster (RECSYS_DATABASE_URL),
# which must then exist; TEST_NGINX_USE_HUP=1 runs them with one nginx
# reloaded between blocks
prove: module tools | deps-test
	@$(PG_LOCK) sh -c '\
	RECSYS_BUILD=$(TOP)/$(BUILD) scripts/test-fixtures.sh $(BUILD)/t && \
	scripts/pg.sh start $(PG_DIR) && \
	eval "$$(scripts/pg.sh env $(PG_DIR))" && \
	RECSYS_REQUIRE_DATABASE=1 \
	TEST_NGINX_BINARY=$(NGINX_BIN) \
	TEST_NGINX_LOAD_MODULES=$(TOP)/$(MODULE) \
	TEST_NGINX_DATA_DIR=$(TOP)/$(BUILD)/t \
	TEST_NGINX_CONF_DIR=$(TOP)/t/data \
	TEST_NGINX_BUILD_DIR=$(TOP)/$(BUILD) \
	TEST_NGINX_SERVROOT=$(TOP)/$(BUILD)/servroot \
	    prove -r $(T); rc=$$?; \
	scripts/pg.sh stop $(PG_DIR); exit $$rc'

memcheck: module tools | deps-test
	@NGINX_BIN=$(NGINX_BIN) RECSYS_BUILD=$(TOP)/$(BUILD) scripts/memcheck.sh


# ---- fuzzing ----

# fuzz/fuzz_<name>.c defines LLVMFuzzerTestOneInput; fuzz/corpus/<name>/
# holds its committed seeds and reproducers, fuzz/<name>.dict its
# dictionary.  make fuzz-replay (part of make test) feeds every committed
# input once to each target built with CC and fuzz/replay.c; make fuzz
# builds them with clang and libFuzzer and runs each FUZZ_SECONDS, new
# inputs going to build/fuzz/corpus/<name>, crashes to build/fuzz/.
FUZZ_NAMES  := $(patsubst fuzz/fuzz_%.c,%,$(wildcard fuzz/fuzz_*.c))
FUZZ_SECONDS ?= 60
FUZZ_CC     ?= clang
FUZZ_BUILD  ?= $(BUILD)/fuzz
FUZZ_SAN    := -fsanitize=address,undefined -fno-sanitize-recover=undefined \
               -fno-omit-frame-pointer
REPLAYS     := $(patsubst %,$(BUILD)/fuzz-replay/%,$(FUZZ_NAMES))

$(BUILD)/fuzz-replay/%: fuzz/fuzz_%.c fuzz/replay.c fuzz/fuzz.h $(LIB) \
                        $(FAISS_DEPS) | $(FAISS_C_DEP)
	@mkdir -p $(@D)
	$(CC) $(CFLAGS_PURE) -Ifuzz -MMD -MP -MF $(OBJ)/fuzz-$*.d -o $@ \
	    fuzz/fuzz_$*.c fuzz/replay.c $(LIB) $(LIBS_PURE)

fuzz-replay: $(REPLAYS)
	@for t in $(FUZZ_NAMES); do \
	    $(BUILD)/fuzz-replay/$$t fuzz/corpus/$$t || exit 1; done

# the libFuzzer binaries, in a build of their own (make fuzz calls this)
fuzz-bins: $(patsubst %,$(BUILD)/fuzz_%,$(FUZZ_NAMES))

$(BUILD)/fuzz_%: fuzz/fuzz_%.c fuzz/fuzz.h $(LIB) $(FAISS_DEPS) \
                 | $(FAISS_C_DEP)
	$(CC) $(CFLAGS_PURE) -Ifuzz -fsanitize=fuzzer -o $@ $< $(LIB) \
	    $(LIBS_PURE)

fuzz:
	@scripts/deps.sh fuzz
	@$(MAKE) --no-print-directory BUILD=$(FUZZ_BUILD) CC=$(FUZZ_CC) \
	    FAISS_DIR=$(FAISS_DIR) \
	    SAN_FLAGS="$(FUZZ_SAN) -fsanitize=fuzzer-no-link" fuzz-bins
	@for t in $(FUZZ_NAMES); do \
	    mkdir -p $(FUZZ_BUILD)/corpus/$$t && \
	    echo "== fuzz $$t: $(FUZZ_SECONDS) s" && \
	    $(FUZZ_BUILD)/fuzz_$$t -max_total_time=$(FUZZ_SECONDS) \
	        -print_final_stats=1 -dict=fuzz/$$t.dict \
	        -artifact_prefix=$(FUZZ_BUILD)/crash-$$t- \
	        $(FUZZ_BUILD)/corpus/$$t fuzz/corpus/$$t || exit 1; \
	done


# ---- sanitizers ----

# make asan: nginx itself, the module, the library, the tools and the unit
# tests with ASan and UBSan in build/asan; nginx's pools allocate every
# block with malloc (NGX_DEBUG_PALLOC) so that ASan sees overruns inside
# them.  Runs the unit tests (leak checks on), the fuzz corpora and the
# Test::Nginx suites (leak checks off: nginx frees its pools by exiting;
# ODR checks off: a dynamic module defines ngx_module_names as nginx does);
# any sanitizer report, written under build/asan/logs, fails it.
ASAN_BUILD  ?= $(BUILD)/asan
ASAN_FLAGS  := -fsanitize=address,undefined -fno-omit-frame-pointer
ASAN_LOGS    = $(TOP)/$(BUILD)/logs
UBSAN_SUPP   = $(TOP)/scripts/ubsan.supp
UBSAN_OPTS   = print_stacktrace=1:halt_on_error=1:suppressions=$(UBSAN_SUPP)
ASAN_ENV     = UBSAN_OPTIONS=$(UBSAN_OPTS):log_path=$(ASAN_LOGS)/ubsan \
               ASAN_OPTIONS=abort_on_error=1:log_path=$(ASAN_LOGS)/asan

# nginx-dev's tree lacks nginx's own .c files: the full source comes
# from Debian's nginx source package (scripts/nginx-source.sh, cached)
ASAN_NGINX  ?= $(BUILD)/nginx-full/tree

asan: | deps
	@scripts/nginx-source.sh $(dir $(ASAN_NGINX))
	@$(MAKE) --no-print-directory BUILD=$(ASAN_BUILD) FAISS_DIR=$(FAISS_DIR) \
	    LOCK_DIR=$(BUILD) SAN_FLAGS="$(ASAN_FLAGS)" \
	    NGINX_SRC=$(abspath $(ASAN_NGINX)) \
	    NGX_CC_OPT="$(ASAN_FLAGS) -DNGX_DEBUG_PALLOC=1" asan-run

# inside the build/asan make, where BUILD is build/asan
asan-run: module tools unit-bins $(REPLAYS) $(NGX_OBJS)/objs/nginx
	@rm -rf $(ASAN_LOGS) && mkdir -p $(ASAN_LOGS) && chmod 1777 $(ASAN_LOGS)
	@$(ASAN_ENV):detect_leaks=1 $(MAKE) --no-print-directory unit \
	    fuzz-replay || { scripts/asan-report.sh $(ASAN_LOGS); exit 1; }
	@$(ASAN_ENV):detect_leaks=0:detect_odr_violation=0 \
	    $(MAKE) --no-print-directory prove \
	    NGINX_BIN=$(TOP)/$(NGX_OBJS)/objs/nginx \
	    || { scripts/asan-report.sh $(ASAN_LOGS); exit 1; }
	@scripts/asan-report.sh $(ASAN_LOGS)

$(NGX_OBJS)/objs/nginx: $(MODULE)
	$(MAKE) -s -C $(NGX_OBJS) -f objs/Makefile binary

# one step after the other: the builds in parallel under -j, then the
# runs, which share the fixtures and the PostgreSQL cluster
test: deps-test
	@$(MAKE) --no-print-directory style
	@$(MAKE) --no-print-directory module tools unit-bins $(REPLAYS)
	@$(MAKE) --no-print-directory unit fuzz-replay
	@$(MAKE) --no-print-directory prove
	@$(MAKE) --no-print-directory memcheck

# the Debian package, with dpkg-buildpackage and debian/rules (which
# builds in build/deb-build, reusing build/faiss), then lintian; the
# package, its .buildinfo and .changes go to build/deb (not to ..);
# --post-clean removes debhelper's files from debian/ afterwards
DEB_OUT     := $(TOP)/build/deb
DEB_VERSION  = $(shell dpkg-parsechangelog -S Version)
# DEB_LINTIAN=no skips lintian (the image's build stage)
DEB_LINTIAN ?= yes
SMOKE_PORT  ?= 8089

# the package installed into a throwaway root, the stock nginx on it
# (DEB_SMOKE=--install: installed on this machine, purged afterwards)
deb-smoke: deb
	SMOKE_PORT=$(SMOKE_PORT) scripts/deb-smoke.sh $(DEB_SMOKE) \
	    $(DEB_OUT)/libnginx-mod-http-recsys_$(DEB_VERSION)_amd64.deb

deb:
	@scripts/deps.sh deb
	@mkdir -p $(DEB_OUT)
	dpkg-buildpackage -b -uc -us --post-clean \
	    --buildinfo-option=-u$(DEB_OUT) --changes-option=-u$(DEB_OUT) \
	    --buildinfo-file=$(DEB_OUT)/recsys_$(DEB_VERSION).buildinfo \
	    --changes-file=$(DEB_OUT)/recsys_$(DEB_VERSION).changes
	@if [ "$(DEB_LINTIAN)" != no ]; then set -x; \
	    lintian --info --display-info --fail-on error,warning \
	    $(DEB_OUT)/libnginx-mod-http-recsys_$(DEB_VERSION)_*.deb; fi
	@ls -l $(DEB_OUT)/libnginx-mod-http-recsys_$(DEB_VERSION)_*.deb

run: module tools
	@PORT=$(PORT) NGINX_BIN=$(NGINX_BIN) RECSYS_BUILD=$(TOP)/$(BUILD) \
	    scripts/run-demo.sh

# with the AVX2 kernels, a second build of the module and
# recsys-faissbench with Debian's generic FAISS in build/generic
GENERIC_BUILD := $(BUILD)/generic

bench: module tools | deps-test
ifeq ($(FAISS_VARIANT),avx2)
	@$(MAKE) --no-print-directory BUILD=$(GENERIC_BUILD) \
	    FAISS_DIR=$(FAISS_DIR) FAISS_SIMD=generic module \
	    $(GENERIC_BUILD)/recsys-faissbench
	@NGINX_BIN=$(NGINX_BIN) RECSYS_BUILD=$(TOP)/$(BUILD) \
	    BENCH_GENERIC=$(TOP)/$(GENERIC_BUILD) scripts/bench.sh
else
	@NGINX_BIN=$(NGINX_BIN) RECSYS_BUILD=$(TOP)/$(BUILD) scripts/bench.sh
endif

clean:
	rm -rf $(BUILD)
