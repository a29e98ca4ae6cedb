# fuzz/local.mk - `make fuzz`: the libFuzzer targets of fuzz/, built with
# clang by fuzz/fuzz.mk, apart from this (gcc) build. FUZZ_SECONDS sets the
# time per target (default 60); docs/fuzzing.md says more.
fuzz:
	$(MAKE) -f $(srcdir)/fuzz/fuzz.mk srcdir=$(srcdir) run

# CI: every target briefly, two at a time.
fuzz-ci:
	$(MAKE) -j2 -f $(srcdir)/fuzz/fuzz.mk srcdir=$(srcdir) run FUZZ_SECONDS=10
.PHONY: fuzz fuzz-ci

EXTRA_DIST += fuzz/fuzz.mk fuzz/fuzz_input.h fuzz/seeds.py fuzz/corpus \
	fuzz/fuzz_command_args.c fuzz/fuzz_config.c fuzz/fuzz_discord_json.c fuzz/fuzz_discord_rest.c fuzz/fuzz_discord_zlib.c \
	fuzz/fuzz_http_headers.c fuzz/fuzz_lpattern.c fuzz/fuzz_ndjson.c fuzz/fuzz_redis_url.c \
	fuzz/fuzz_schedule.c fuzz/fuzz_sse.c fuzz/fuzz_utf8.c fuzz/fuzz_webchat_frame.c fuzz/fuzz_webhook_auth.c fuzz/fuzz_ws_frame.c \
	fuzz/fuzz_http_chunked.c
