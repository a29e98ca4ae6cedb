## fuzz.mk - libFuzzer targets for the parsers that read the outside world.
#
# Built with clang apart from the autotools build (which stays on gcc):
#   make fuzz                         each target for FUZZ_SECONDS (60) seconds
#   make -f fuzz/fuzz.mk all          build only
#   make -f fuzz/fuzz.mk run-sse FUZZ_SECONDS=600
# Outputs go to fuzz/build/: the programs, the corpus each run grows
# (fuzz/build/corpus/<target>; the seeds in fuzz/corpus/<target> are only
# read), crash inputs (fuzz/build/crashes/) and one log per run.
# See docs/fuzzing.md.

srcdir ?= .
FUZZ_CC ?= clang
FUZZ_SECONDS ?= 60
# Extra libFuzzer flags, e.g. FUZZ_FLAGS=-jobs=2 -workers=2
FUZZ_FLAGS ?=
B = fuzz/build

PKGS = libwebsockets libuv libcurl jansson lua5.4 hiredis libcrypto zlib
DEP_CFLAGS := $(shell pkg-config --cflags $(PKGS))
DEP_LIBS := $(shell pkg-config --libs $(PKGS)) -lm -pthread
SAN = -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer
CFLAGS_FUZZ = -std=c11 -D_GNU_SOURCE -g -O1 -Wall -Wextra -Wno-unused-parameter $(SAN) \
	-MMD -MP -I$(srcdir)/src -DCHORUS_SRCDIR='"$(abspath $(srcdir))"' -DPACKAGE_VERSION='"fuzz"'

TARGETS = webchat_frame discord_json discord_rest discord_zlib sse ndjson http_headers command_args \
	lpattern schedule config webhook_auth redis_url utf8 ws_frame http_chunked

# The code under test of each target (beside fuzz/fuzz_<target>.c).
SRC_webchat_frame = platforms/webchat/webchat_frame.c lib/json_fast.c lib/utf8.c lib/xalloc.c
SRC_discord_json = lib/json_fast.c lib/utf8.c lib/xalloc.c lib/log.c lib/redact.c \
	platforms/discord/discord_events.c platforms/discord/discord_commands.c core/commands.c
SRC_discord_rest = platforms/discord/discord_ratelimit.c io/http_client.c io/timer.c lib/http_headers.c lib/json_fast.c \
	lib/dict.c lib/log.c lib/redact.c lib/utf8.c lib/xalloc.c
SRC_discord_zlib = platforms/discord/discord_zlib.c lib/json_fast.c lib/utf8.c lib/xalloc.c
SRC_sse = lib/sse.c lib/xalloc.c
SRC_ndjson = lib/ndjson.c lib/xalloc.c
SRC_http_headers = lib/http_headers.c io/http_client.c lib/log.c lib/redact.c lib/utf8.c lib/xalloc.c io/timer.c
SRC_command_args = lib/lpattern.c
SRC_lpattern = lib/lpattern.c
SRC_schedule = lib/schedule.c
SRC_config = conf/config.c conf/config_schema.c core/core_config.c lib/lua_json.c lib/log.c \
	lib/redact.c lib/redis_url.c lib/utf8.c lib/xalloc.c lib/dict.c io/redis_sentinel.c io/redis_uv.c io/timer.c
SRC_webhook_auth = lib/webhook_auth.c
SRC_redis_url = lib/redis_url.c lib/xalloc.c
SRC_utf8 = lib/utf8.c lib/xalloc.c
SRC_ws_frame = lib/ws_frame.c lib/utf8.c lib/xalloc.c
SRC_http_chunked = lib/http_chunked.c

PROGS = $(TARGETS:%=$(B)/fuzz_%)

all: $(PROGS)

$(B)/obj/%.o: $(srcdir)/src/%.c
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(CFLAGS_FUZZ) -fsanitize=fuzzer-no-link $(DEP_CFLAGS) -c $< -o $@

$(B)/obj/fuzz_%.o: $(srcdir)/fuzz/fuzz_%.c $(srcdir)/fuzz/fuzz_input.h
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(CFLAGS_FUZZ) -fsanitize=fuzzer-no-link $(DEP_CFLAGS) -c $< -o $@

# fuzz_<target>: its harness and the objects of its code under test.
define fuzz_program
$(B)/fuzz_$(1): $(B)/obj/fuzz_$(1).o $(patsubst %.c,$(B)/obj/%.o,$(SRC_$(1)))
	$$(FUZZ_CC) $$(SAN) -fsanitize=fuzzer $$^ $$(DEP_LIBS) -o $$@
endef
$(foreach t,$(TARGETS),$(eval $(call fuzz_program,$(t))))

# run-<target>: fuzz for FUZZ_SECONDS from the seeds; fails on a crash,
# a leak, a timeout or an out-of-memory, and prints the log's end.
run-%: $(B)/fuzz_%
	@mkdir -p $(B)/corpus/$* $(B)/crashes $(B)/logs
	@if $(B)/fuzz_$* -max_total_time=$(FUZZ_SECONDS) -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
	    -artifact_prefix=$(B)/crashes/$*- $(FUZZ_FLAGS) $(B)/corpus/$* $(srcdir)/fuzz/corpus/$* \
	    >$(B)/logs/$*.log 2>&1; then \
	  echo "fuzz $*: ok, $$(grep -a 'stat::number_of_executed_units' $(B)/logs/$*.log | awk '{s += $$2} END {print s}') runs in $(FUZZ_SECONDS) s, $$(ls $(B)/corpus/$* | wc -l) files in the grown corpus"; \
	else echo "fuzz $*: FAILED (log: $(B)/logs/$*.log)"; \
	  grep -av -E '^ +#[0-9]+ |^#[0-9]+|^INFO|NEW_FUNC|^"|Recommended dictionary' $(B)/logs/$*.log | tail -30; exit 1; fi

run: $(TARGETS:%=run-%)

-include $(shell find $(B)/obj -name '*.d' 2>/dev/null)

clean:
	rm -rf $(B)

.PHONY: all run clean
