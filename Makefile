# axon: nginx module + worker daemon.  `make` builds both, `make run` starts the
# local stack in the foreground, `make test` runs every test (docs/testing.md).

BUILD      ?= build
SANITIZE   ?=
DESKTOP    ?= 1
NGX_SRC    ?= /usr/share/nginx/src

CC         ?= cc
CFLAGS     ?= -O2 -g
WARN       := -Wall -Wextra -Wno-unused-parameter -Werror
ifeq ($(SANITIZE),1)
BUILD      := build/asan
SAN        := -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer
endif
AXON_CFLAGS := $(CFLAGS) $(WARN) $(SAN) -std=gnu11 -D_GNU_SOURCE -Ilibaxon -I$(BUILD)

CORE_SRCS   := $(wildcard libaxon/*.c)
CORE_HDRS   := $(wildcard libaxon/*.h)
CORE_LIBS   := -lsecp256k1 -lnettle -lcrypto
WORKER_SRCS := $(wildcard axon-worker/*.c)
WORKER_HDRS := $(wildcard axon-worker/*.h)
CONFIG_SRCS := $(addprefix axon-worker/,config.c config_options.c config_check.c \
                 config_print.c)
WORKER_LIBS := $(CORE_LIBS) -lpq -lhiredis -ljansson -lcurl -lm -ldl
# axon-rpc: the worker's JSON-RPC client on the command line
RPC_TOOL_SRCS := axon-worker/tools/axon-rpc.c $(addprefix axon-worker/,rpc.c eth.c log.c core.c) $(CONFIG_SRCS)
CHAIN_SRCS  := $(wildcard chain/contracts/*.sol)
MODULE_SRCS := $(wildcard ngx_axon_module/*.c ngx_axon_module/*.h)
UNIT_SRCS   := $(wildcard t/unit/*.c)
UNIT_BINS   := $(patsubst t/unit/%.c,$(BUILD)/unit/%,$(UNIT_SRCS))
UNIT_HDRS   := $(wildcard t/unit/*.h)
MIGRATIONS  := $(sort $(wildcard sql/[0-9][0-9][0-9]_*.sql))
SQL_FUNCS   := $(sort $(wildcard sql/functions/*.sql))
# the Redis scripts both sides run: one header, each with its SHA1
LUA_SRCS    := $(sort $(wildcard lua/*.lua))
LUA_LIBS    := $(wildcard lua/lib/*.lua)
LUA_HDR     := $(BUILD)/axon_lua.h

DEPS_STAMP  := .deps.stamp

.PHONY: all module worker rpc-tool x402-tool chain deps test unit run up down migrate clean bench images deb \
        fuzz fuzz-build

all: module worker rpc-tool x402-tool chain

# ---- dependencies (apt + npm), idempotent --------------------------------
deps: $(DEPS_STAMP)
$(DEPS_STAMP): scripts/deps package.json package-lock.json
	scripts/deps
	@touch $@

# ---- the nginx module -------------------------------------------------------
module: $(BUILD)/ngx_http_axon_module.so

# nginx's objs/Makefile names the module's files: configure again when the
# list changes (not on every edit)
MODULE_LIST := $(BUILD)/module-files
$(shell mkdir -p $(BUILD); echo '$(sort $(MODULE_SRCS) $(CORE_SRCS) $(CORE_HDRS))' \
    | cmp -s - $(MODULE_LIST) 2>/dev/null \
    || echo '$(sort $(MODULE_SRCS) $(CORE_SRCS) $(CORE_HDRS))' > $(MODULE_LIST))

# the module finds $(LUA_HDR) through AXON_GEN_DIR (see config)
$(BUILD)/nginx/objs/Makefile: config $(MODULE_LIST) | $(DEPS_STAMP) $(LUA_HDR)
	AXON_GEN_DIR=$(abspath $(BUILD)) scripts/ngx-configure $(BUILD)/nginx "$(SAN)"

$(BUILD)/ngx_http_axon_module.so: $(BUILD)/nginx/objs/Makefile $(MODULE_SRCS) $(CORE_SRCS) $(CORE_HDRS) $(LUA_HDR)
	$(MAKE) -s -C $(BUILD)/nginx -f objs/Makefile modules
	@# a new file, renamed into place: a running nginx keeps its mapping
	cp $(BUILD)/nginx/objs/ngx_http_axon_module.so $@.tmp && mv -f $@.tmp $@

# ---- the worker -------------------------------------------------------------
worker: $(BUILD)/axon-worker $(BUILD)/axon-launch

$(LUA_HDR): $(LUA_SRCS) $(LUA_LIBS) scripts/embed-lua
	@mkdir -p $(BUILD)
	scripts/embed-lua $(LUA_SRCS) > $@.tmp && mv -f $@.tmp $@

# the schema, embedded in the worker: the numbered migrations, then the
# function files, applied again when they change (docs/database.md)
$(BUILD)/migrations.c: $(MIGRATIONS) $(SQL_FUNCS) scripts/embed-migrations
	@mkdir -p $(BUILD)
	scripts/embed-migrations $(MIGRATIONS) --functions $(SQL_FUNCS) > $@.tmp
	mv -f $@.tmp $@

$(BUILD)/axon-worker: $(WORKER_SRCS) $(WORKER_HDRS) $(CORE_SRCS) $(CORE_HDRS) $(BUILD)/migrations.c $(LUA_HDR) | $(DEPS_STAMP)
	@mkdir -p $(BUILD)
	$(CC) $(AXON_CFLAGS) -Iaxon-worker -o $@.tmp $(WORKER_SRCS) $(CORE_SRCS) $(BUILD)/migrations.c $(WORKER_LIBS)
	mv -f $@.tmp $@

# axon-launch: the launcher from the command line (tests, operators), from
# the worker's own sources
LAUNCH_SRCS := $(addprefix axon-worker/,core.c log.c launcher.c \
                 launcher_engine.c process.c) \
               $(CONFIG_SRCS)

$(BUILD)/axon-launch: axon-worker/tools/axon-launch.c $(LAUNCH_SRCS) $(WORKER_HDRS) $(CORE_SRCS) $(CORE_HDRS) | $(DEPS_STAMP)
	@mkdir -p $(BUILD)
	$(CC) $(AXON_CFLAGS) -Iaxon-worker -o $@.tmp $< $(LAUNCH_SRCS) $(CORE_SRCS) $(CORE_LIBS) -ljansson -lcurl
	mv -f $@.tmp $@

# ---- session images ---------------------------------------------------------
# scripts/session-image tags each image with a hash of its recipe and skips
# the build when the store has that tag (a second or less): run it each time
# rather than trust a stamp, so a removed image is rebuilt.  The desktop
# image is large (2.7 GB with the science layer and Jupyter, 6 to 16 min
# cold; the ssh image 2.3 GB, about 10 min; then cached like the
# other): DESKTOP=0 leaves it out, and its tests skip saying so.
images: | $(DEPS_STAMP)
	AXON_BUILD=$(abspath $(BUILD)) scripts/session-image test
	AXON_BUILD=$(abspath $(BUILD)) scripts/session-image ssh
ifneq ($(DESKTOP),0)
	AXON_BUILD=$(abspath $(BUILD)) scripts/session-image desktop
endif

rpc-tool: $(BUILD)/axon-rpc

$(BUILD)/axon-rpc: $(RPC_TOOL_SRCS) $(WORKER_HDRS) $(CORE_SRCS) $(CORE_HDRS) | $(DEPS_STAMP)
	@mkdir -p $(BUILD)
	$(CC) $(AXON_CFLAGS) -Iaxon-worker -o $@.tmp $(RPC_TOOL_SRCS) $(CORE_SRCS) $(CORE_LIBS) -ljansson -lcurl
	mv -f $@.tmp $@

# axon-x402: an x402 payment header decoded, its EIP-3009 signer recovered
# with libaxon
x402-tool: $(BUILD)/axon-x402

$(BUILD)/axon-x402: axon-worker/tools/axon-x402.c $(CORE_SRCS) $(CORE_HDRS) | $(DEPS_STAMP)
	@mkdir -p $(BUILD)
	$(CC) $(AXON_CFLAGS) -o $@.tmp $< $(CORE_SRCS) $(CORE_LIBS) -ljansson
	mv -f $@.tmp $@

# ---- the local chain's test tokens: solc-js, when a source changes ---------
chain: $(BUILD)/chain/.compiled

$(BUILD)/chain/.compiled: $(CHAIN_SRCS) chain/compile.mjs package-lock.json | $(DEPS_STAMP)
	node chain/compile.mjs $(BUILD)/chain
	@touch $@

# ---- tests ----------------------------------------------------------------
$(BUILD)/unit/%: t/unit/%.c $(UNIT_HDRS) $(CORE_SRCS) $(CORE_HDRS) | $(DEPS_STAMP)
	@mkdir -p $(BUILD)/unit
	$(CC) $(AXON_CFLAGS) -o $@ $< $(CORE_SRCS) $(CORE_LIBS) -ljansson

# the worker's process.c, on its own
$(BUILD)/unit/test_process: t/unit/test_process.c $(UNIT_HDRS) axon-worker/process.c axon-worker/core.c axon-worker/log.c $(WORKER_HDRS) | $(DEPS_STAMP)
	@mkdir -p $(BUILD)/unit
	$(CC) $(AXON_CFLAGS) -Iaxon-worker -o $@ $< axon-worker/process.c axon-worker/core.c axon-worker/log.c

# the worker's GPU utilization parsers, on the H200 fixtures
$(BUILD)/unit/test_gpu_activity: t/unit/test_gpu_activity.c $(UNIT_HDRS) axon-worker/gpu_activity.c axon-worker/core.c axon-worker/log.c $(WORKER_HDRS) | $(DEPS_STAMP)
	@mkdir -p $(BUILD)/unit
	$(CC) $(AXON_CFLAGS) -Iaxon-worker -DGPU_FIXTURES='"$(abspath t/fixtures/gpu-h200)"' -o $@ $< axon-worker/gpu_activity.c axon-worker/core.c axon-worker/log.c -ldl

# the indexer's eth_getLogs range: pure code
$(BUILD)/unit/test_scan_range: t/unit/test_scan_range.c $(UNIT_HDRS) axon-worker/scan_range.c $(WORKER_HDRS) | $(DEPS_STAMP)
	@mkdir -p $(BUILD)/unit
	$(CC) $(AXON_CFLAGS) -Iaxon-worker -o $@ $< axon-worker/scan_range.c

# the parsing of the worker's JSON-RPC client: pure code, no node
$(BUILD)/unit/test_rpc_parse: t/unit/test_rpc_parse.c $(UNIT_HDRS) $(RPC_TOOL_SRCS) $(WORKER_HDRS) $(CORE_SRCS) $(CORE_HDRS) | $(DEPS_STAMP)
	@mkdir -p $(BUILD)/unit
	$(CC) $(AXON_CFLAGS) -Iaxon-worker -o $@ $< $(filter-out axon-worker/tools/%,$(RPC_TOOL_SRCS)) $(CORE_SRCS) $(CORE_LIBS) -ljansson -lcurl

unit: $(UNIT_BINS)
	BUILD=$(BUILD) scripts/run-unit $(UNIT_BINS)

test: all unit images
	scripts/check-links
	AXON_BUILD=$(abspath $(BUILD)) AXON_SANITIZE=$(SANITIZE) \
	    node --test --test-concurrency=1 t/

# ---- fuzzing: libFuzzer harnesses of t/fuzz/, each run FUZZ_SECONDS ------
# on a copy of its seed corpus under build/fuzz/ (t/fuzz/ is never written)

FUZZ_CC      ?= clang-16
FUZZ_SECONDS ?= 60
FUZZ_JOBS    ?= 1
FUZZ_CFLAGS  := -g -O1 -fsanitize=fuzzer,address,undefined \
                -fno-sanitize-recover=all -fno-omit-frame-pointer \
                $(WARN) -std=gnu11 -D_GNU_SOURCE -Ilibaxon -Iaxon-worker
FUZZ_SRCS    := $(wildcard t/fuzz/fuzz_*.c)
FUZZ_BINS    := $(patsubst t/fuzz/%.c,build/fuzz/%,$(FUZZ_SRCS))

# the worker's JSON-RPC client: fuzz_rpc.c includes rpc.c itself
build/fuzz/fuzz_rpc: FUZZ_EXTRA := $(addprefix axon-worker/,eth.c log.c core.c) \
                                   $(CONFIG_SRCS) \
                                   -ljansson -lcurl
build/fuzz/fuzz_rpc: axon-worker/rpc.c axon-worker/eth.c $(WORKER_HDRS)
build/fuzz/fuzz_x402: axon-worker/tools/axon-x402.c

build/fuzz/%: t/fuzz/%.c t/fuzz/fuzz.h $(CORE_SRCS) $(CORE_HDRS) | $(DEPS_STAMP)
	@mkdir -p build/fuzz
	$(FUZZ_CC) $(FUZZ_CFLAGS) -o $@ $< $(CORE_SRCS) $(FUZZ_EXTRA) \
	    $(CORE_LIBS) -ljansson

fuzz-build: $(FUZZ_BINS)

fuzz: fuzz-build
	FUZZ_SECONDS=$(FUZZ_SECONDS) FUZZ_JOBS=$(FUZZ_JOBS) \
	    t/fuzz/run $(FUZZ_BINS)

# ---- Debian packages ----------------------------------------------------
# build/deb/*.deb, built by debian/rules from a copy of the files git knows
# (a clean clone's, plus new files not ignored), then checked by lintian:
# a warning fails (an override would go in debian/, with its reason).
# Installed and purged in a clean Debian root by t/deb.test.mjs
# (docs/operating.md).
DEB_OUT := $(BUILD)/deb

deb: | $(DEPS_STAMP)
	rm -rf $(DEB_OUT) && mkdir -p $(DEB_OUT)/src/axon
	git ls-files -z --cached --others --exclude-standard \
	    | xargs -0 cp -a --parents -t $(DEB_OUT)/src/axon
	cd $(DEB_OUT)/src/axon && dpkg-buildpackage -b -us -uc >../build.log 2>&1 \
	    || { tail -40 ../build.log; exit 1; }
	mv $(DEB_OUT)/src/*.deb $(DEB_OUT)/src/*.changes $(DEB_OUT)/src/*.buildinfo \
	    $(DEB_OUT)/
	rm -rf $(DEB_OUT)/src/axon
	lintian --fail-on error,warning --info $(DEB_OUT)/*.changes

# ---- the local stack --------------------------------------------------------
# its sessions launch the desktop and SSH images: scripts/axon-stack builds
# one the store lacks (the desktop: minutes, once), `make images` one whose
# recipe changed
run: all
	scripts/axon-stack run
up: all
	scripts/axon-stack up
down:
	scripts/axon-stack down
migrate: worker
	scripts/axon-stack migrate

bench: all
	scripts/bench

clean:
	rm -rf build
