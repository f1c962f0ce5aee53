# sluice - a real-time log and event pipeline in one C binary.
#
#   make            build build/sluice
#   make test       install what is missing, build, run every test
#                   (unit + end-to-end, plain and under ASan+UBSan)
#   make demo       install what is missing, build, run the pipeline fed by
#                   the built-in generators
#   make bench      the benchmark workloads, one JSON line each
#   make fuzz       build the libFuzzer targets and run each for FUZZ_SECONDS
#
# Variant builds go to their own directory: `make BUILD=build/asan
# SANITIZE=1` is the ASan+UBSan build the tests also run.

BUILD    ?= build
CC       ?= cc
CFLAGS   ?= -O2 -g
PKGS     := libmicrohttpd yaml-0.1 libzstd jansson libcurl zlib sqlite3 rdkafka snappy hiredis libpq
VERSION  := $(shell cat VERSION 2>/dev/null || echo 0.0.0)

ifeq ($(SANITIZE),1)
CFLAGS   := -O1 -g -fno-omit-frame-pointer -fsanitize=address,undefined -fno-sanitize-recover=undefined
LDFLAGS  += -fsanitize=address,undefined
endif

DEPS_CFLAGS := $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
DEPS_LIBS   := $(shell pkg-config --libs $(PKGS) 2>/dev/null) -lpthread -lm
# Tests also link PCRE2: Fluentd's nginx regex checks the hand-written parser.
TEST_LIBS   := -lcriterion -lpcre2-8
WARNINGS    := -Wall -Wextra -Werror -Wno-missing-field-initializers
ALL_CFLAGS   = -std=gnu11 -D_GNU_SOURCE $(WARNINGS) -Isrc -MMD -MP -DSLUICE_VERSION='"$(VERSION)"' \
               -DSL_HAVE_SNAPPY \
               $(DEPS_CFLAGS) $(CFLAGS)

LIB_SRC   := $(shell find src -name '*.c' ! -path src/main.c | sort)
LIB_OBJ   := $(LIB_SRC:%.c=$(BUILD)/obj/%.o)
TEST_SRC  := $(sort $(wildcard tests/unit/test_*.c))
TEST_BIN  := $(TEST_SRC:tests/unit/%.c=$(BUILD)/tests/%)
# The dashboard (web/src/ and ECharts from npm) compiled into the binary:
# scripts/embed_assets.sh writes one C file of byte arrays under $(BUILD)/gen.
WEB_SRC     := $(sort $(wildcard web/src/*.html web/src/*.css web/src/*.js web/src/*.svg))
WEB_ECHARTS := web/node_modules/echarts/dist/echarts.min.js
ASSETS_C    := $(BUILD)/gen/dashboard_assets.c
LIB_OBJ     += $(BUILD)/obj/gen/dashboard_assets.o
TOOL_SRC  := $(sort $(wildcard tests/tools/*.c))
TOOL_BIN  := $(TOOL_SRC:tests/tools/%.c=$(BUILD)/tools/%)

.PHONY: all deps test unit demo bench fuzz clean check-deps docs

all: $(BUILD)/sluice

Q := $(if $(V),,@)

$(BUILD)/obj/%.o: %.c Makefile
	@mkdir -p $(dir $@)
	@$(if $(V),,echo "  CC      $<")
	$(Q)$(CC) $(ALL_CFLAGS) -c $< -o $@

$(WEB_ECHARTS): web/package.json
	@echo "  NPM     web/ (echarts)"
	$(Q)cd web && npm install --no-audit --no-fund --loglevel=error
	$(Q)touch $@

$(ASSETS_C): scripts/embed_assets.sh $(WEB_SRC) $(WEB_ECHARTS) Makefile
	@$(if $(V),,echo "  EMBED   $@")
	$(Q)scripts/embed_assets.sh $@ $(foreach f,$(WEB_SRC),/$(notdir $(f))=$(f)) \
		/assets/echarts.min.js=$(WEB_ECHARTS) /assets/echarts-LICENSE.txt=web/node_modules/echarts/LICENSE

$(BUILD)/obj/gen/dashboard_assets.o: $(ASSETS_C)
	@mkdir -p $(dir $@)
	@$(if $(V),,echo "  CC      $<")
	$(Q)$(CC) $(ALL_CFLAGS) -c $< -o $@

$(BUILD)/libsluice.a: $(LIB_OBJ)
	@rm -f $@
	$(Q)ar rcs $@ $^

$(BUILD)/sluice: $(BUILD)/obj/src/main.o $(BUILD)/libsluice.a
	@$(if $(V),,echo "  LINK    $@")
	$(Q)$(CC) $(LDFLAGS) -o $@ $^ $(DEPS_LIBS)

$(BUILD)/tests/%: $(BUILD)/obj/tests/unit/%.o $(BUILD)/libsluice.a
	@mkdir -p $(dir $@)
	$(Q)$(CC) $(LDFLAGS) -o $@ $^ $(TEST_LIBS) $(DEPS_LIBS)

$(BUILD)/obj/tests/unit/%.o: tests/unit/%.c Makefile
	@mkdir -p $(dir $@)
	$(Q)$(CC) $(ALL_CFLAGS) -DSL_HAVE_PCRE2 -Itests/unit -c $< -o $@

$(BUILD)/tools/%: $(BUILD)/obj/tests/tools/%.o $(BUILD)/libsluice.a
	@mkdir -p $(dir $@)
	$(Q)$(CC) $(LDFLAGS) -o $@ $^ $(DEPS_LIBS)

unit: $(TEST_BIN) $(TOOL_BIN) $(BUILD)/sluice

deps:
	@scripts/deps.sh

test: deps
	@scripts/test.sh

demo: deps
	@$(MAKE) --no-print-directory all
	@scripts/demo.sh

bench: deps
	@$(MAKE) --no-print-directory all
	@bench/run.sh

FUZZ_SECONDS ?= 30
fuzz: deps
	@scripts/fuzz.sh $(FUZZ_SECONDS)

clean:
	rm -rf build

-include $(shell find $(BUILD)/obj -name '*.d' 2>/dev/null)
