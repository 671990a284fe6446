# ngx_http_recsys_module: build, test, run the demo.
#
#   make run     install what is missing, build, serve the demo catalog
#   make test    install what is missing, build, run every test
#   make bench   req/s of similar vs an nginx baseline
#
# NGINX_SRC=/path builds against another nginx source tree.

NGINX_SRC   ?= /usr/share/nginx/src
NGINX_BIN   ?= /usr/sbin/nginx
PORT        ?= 8080
BUILD       ?= build
TOP         := $(CURDIR)
T           ?= t

CC          ?= gcc
CFLAGS_PURE := -std=gnu99 -O2 -g -Wall -Wextra -Werror -fPIC -Isrc \
               -I/usr/include/postgresql

MULTIARCH   := /usr/lib/$(shell gcc -print-multiarch)
FAISS_LIB   ?= $(MULTIARCH)/libfaiss.a

# a system libfaiss_c is used when present; else one is built from source
ifneq ($(wildcard $(MULTIARCH)/libfaiss_c.so $(MULTIARCH)/libfaiss_c.a),)
FAISS_C_LIB ?= -lfaiss_c
FAISS_C_DEP :=
else
FAISS_C_LIB ?= $(TOP)/$(BUILD)/faiss/libfaiss_c.a
FAISS_C_DEP := $(FAISS_C_LIB)
endif
FAISS_LIBS  := $(FAISS_C_LIB) $(FAISS_LIB) -lblas -llapack -lgomp \
               -lstdc++ -lm

MODULE      := $(BUILD)/ngx_http_recsys_module.so
NGX_OBJS    := $(BUILD)/nginx

PURE_SRCS   := $(wildcard src/recsys_*.c)
NGX_SRCS    := $(wildcard src/ngx_http_recsys_*.c src/ngx_http_recsys_*.h)
HDRS        := $(wildcard src/*.h)

TOOLS       := $(BUILD)/recsys-build $(BUILD)/recsys-gen \
               $(BUILD)/recsys-recall
UNIT_TESTS  := $(patsubst t/unit/%.c,$(BUILD)/unit/%,$(wildcard t/unit/test_*.c))

LIBS_PURE   := $(FAISS_LIBS) -lcjson -lyaml -lpq

# the throwaway PostgreSQL cluster of the unit tests (scripts/pg.sh)
PG_DIR      ?= $(BUILD)/pg

.PHONY: all deps module tools unit style test prove run bench memcheck \
        clean

all: module tools

deps:
	@scripts/deps.sh

$(TOP)/$(BUILD)/faiss/libfaiss_c.a:
	scripts/build-faiss-c.sh $(BUILD)/faiss

# nginx's configure runs in a private copy of the source tree, so the
# system's /usr/share/nginx/src is never written to
# the list of module sources, rewritten only when a file comes or goes, so
# adding a source reconfigures nginx's tree and editing one does not
SRC_LIST    := $(BUILD)/module-sources
$(shell mkdir -p $(BUILD); l="$(sort $(wildcard src/*.c src/*.h))"; \
    [ "$$(cat $(SRC_LIST) 2>/dev/null)" = "$$l" ] || echo "$$l" > $(SRC_LIST))

$(NGX_OBJS)/Makefile: config $(SRC_LIST) | $(FAISS_C_DEP)
	rm -rf $(NGX_OBJS)
	mkdir -p $(NGX_OBJS)
	cp -r $(NGINX_SRC)/. $(NGX_OBJS)/
	cd $(NGX_OBJS) && \
	    flags=$$(if [ -f conf_flags ]; then \
	        bash -c '. ./conf_flags; echo "$${NGX_CONF_FLAGS[@]}"'; \
	        else echo --with-compat; fi) && \
	    FAISS_C_LIB="$(FAISS_C_LIB)" FAISS_LIB="$(FAISS_LIB)" \
	    ./configure $$flags --with-compat \
	        --add-dynamic-module=$(TOP) > configure.log 2>&1 \
	    || { tail -20 configure.log; exit 1; }
	touch $@

$(MODULE): $(NGX_OBJS)/Makefile $(PURE_SRCS) $(NGX_SRCS) $(HDRS)
	$(MAKE) -s -C $(NGX_OBJS) -f objs/Makefile modules
	cp $(NGX_OBJS)/objs/ngx_http_recsys_module.so $@

module: deps $(MODULE)

$(BUILD)/recsys-%: tools/recsys_%.c $(PURE_SRCS) $(HDRS) | $(FAISS_C_DEP)
	$(CC) $(CFLAGS_PURE) -o $@ $< $(PURE_SRCS) $(LIBS_PURE)

tools: deps $(TOOLS)

$(BUILD)/unit/%: t/unit/%.c $(PURE_SRCS) $(HDRS) | $(FAISS_C_DEP)
	@mkdir -p $(BUILD)/unit
	$(CC) $(CFLAGS_PURE) -o $@ $< $(PURE_SRCS) $(LIBS_PURE) -lcmocka

# test_source_pg needs a server: start one, run every test, stop it
unit: deps $(UNIT_TESTS)
	@scripts/pg.sh start $(PG_DIR)
	@eval "$$(scripts/pg.sh env $(PG_DIR))"; rc=0; \
	for t in $(UNIT_TESTS); do echo "== $$t"; $$t || { rc=1; break; }; done; \
	scripts/pg.sh stop $(PG_DIR); exit $$rc

style:
	@scripts/style.sh

# the Test::Nginx suites; fixtures are catalogs built by recsys-build;
# the PostgreSQL suites use a throwaway cluster (RECSYS_DATABASE_URL)
prove: module tools
	@RECSYS_BUILD=$(TOP)/$(BUILD) scripts/test-fixtures.sh $(BUILD)/t
	@scripts/pg.sh start $(PG_DIR)
	@eval "$$(scripts/pg.sh env $(PG_DIR))"; \
	TEST_NGINX_BINARY=$(NGINX_BIN) \
	TEST_NGINX_LOAD_MODULES=$(TOP)/$(MODULE) \
	TEST_NGINX_DATA_DIR=$(TOP)/$(BUILD)/t \
	TEST_NGINX_CONF_DIR=$(TOP)/t/data \
	TEST_NGINX_BUILD_DIR=$(TOP)/$(BUILD) \
	TEST_NGINX_SERVROOT=$(TOP)/$(BUILD)/servroot \
	    prove -r $(T); rc=$$?; \
	scripts/pg.sh stop $(PG_DIR); exit $$rc

test: deps style module tools unit prove memcheck

run: module tools
	@PORT=$(PORT) NGINX_BIN=$(NGINX_BIN) scripts/run-demo.sh

memcheck: module tools
	@NGINX_BIN=$(NGINX_BIN) RECSYS_BUILD=$(TOP)/$(BUILD) scripts/memcheck.sh

bench: module tools
	@NGINX_BIN=$(NGINX_BIN) RECSYS_BUILD=$(TOP)/$(BUILD) scripts/bench.sh

clean:
	rm -rf $(BUILD)
