#!/bin/sh
# test.sh - install what the tests need, build with ASan and UBSan, run every
# test (C unit tests, integration tests against real redis-server and fake
# platform/model servers, the headless Chromium test), then make distcheck.
# Ends with the line "N passed, N failed". Each test starts its own
# redis-server on a free port; nothing here needs the network but apt/npm.
set -u
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
CHORUS_EXTRA_PKGS="chromium valgrind clang libclang-rt-14-dev ngircd inspircd atheme-services redis-sentinel" sh contrib/deps.sh || { echo "0 passed, 1 failed"; exit 1; }
(cd tests && npm install --no-audit --no-fund --silent >/dev/null 2>&1) || { echo "npm install failed"; echo "0 passed, 1 failed"; exit 1; }
(cd bench/discord && npm install --no-audit --no-fund --silent >/dev/null 2>&1) || echo "note: discord.js not installed; the Discord bench smoke runs chorusd alone"
(cd bench/slack && npm install --no-audit --no-fund --silent >/dev/null 2>&1) || echo "note: @slack/bolt not installed; the Slack bench smoke runs chorusd alone"
(cd bench/mattermost && npm install --no-audit --no-fund --silent >/dev/null 2>&1) || echo "note: @mattermost/client not installed; the Mattermost bench smoke runs chorusd alone"
(cd bench/telegram && npm install --no-audit --no-fund --silent >/dev/null 2>&1) || echo "note: grammY not installed in bench/telegram; the Telegram bench smoke runs chorusd alone"
(cd bench/irc && npm install --no-audit --no-fund --silent >/dev/null 2>&1) || echo "note: irc-framework not installed; the IRC bench smoke runs chorusd alone"
(cd bench/onebot && npm install --no-audit --no-fund --silent >/dev/null 2>&1) || echo "note: node-napcat-ts not installed in bench/onebot; the OneBot bench smoke runs chorusd alone"
(cd bench/webchat && npm install --no-audit --no-fund --silent >/dev/null 2>&1) || echo "note: ws not installed in bench/webchat; its floor uses tests/node_modules' ws"

passed=0
failed=0
count_trs() {
  # Each .trs lists one :test-result: line per TAP test point.
  p=$(cat "$@" 2>/dev/null | grep -ac '^:test-result: PASS')
  f=$(cat "$@" 2>/dev/null | grep -ac '^:test-result: \(FAIL\|ERROR\|XPASS\|SKIP\)')
  passed=$((passed + p))
  failed=$((failed + f))
}
step() {  # step NAME COMMAND...: a build step counts as one test
  name=$1; shift
  if "$@" >"$top/.ci-$name.log" 2>&1; then passed=$((passed + 1)); echo "ok - $name"
  else failed=$((failed + 1)); echo "not ok - $name (log: .ci-$name.log)"; tail -40 "$top/.ci-$name.log"; fi
}

step autoreconf autoreconf -fi
step configure ./configure --enable-sanitizers --enable-werror
step build make -j"$(nproc)"
export ASAN_OPTIONS=detect_leaks=1:abort_on_error=0
export UBSAN_OPTIONS=print_stacktrace=1
make -j2 check >"$top/.ci-check.log" 2>&1
grep -aE '^(PASS|FAIL|ERROR|XPASS|SKIP):' "$top/.ci-check.log" | grep -av '^PASS' || true
count_trs tests/unit/*.trs tests/integration/*.trs
# make check must have run and reported no failure or error; if it did not
# (a test program failed to build), that counts as a failure of its own.
if ! grep -aq '^# FAIL:  *0$' "$top/.ci-check.log" || ! grep -aq '^# ERROR:  *0$' "$top/.ci-check.log"; then
  echo "make check reported failures:"; tail -60 "$top/.ci-check.log"
  cat tests/*/*.log 2>/dev/null | grep -a -B2 -A20 '^not ok' | head -120
  failed=$((failed + 1))
fi

# The browser test: a real chorusd with the example config and the local model.
node tests/browser/run.js >"$top/.ci-browser.log" 2>&1
grep -aE '^(ok|not ok)' "$top/.ci-browser.log"
p=$(grep -ac '^ok ' "$top/.ci-browser.log"); f=$(grep -ac '^not ok ' "$top/.ci-browser.log")
[ "$p" -gt 0 ] || f=$((f + 1))
passed=$((passed + p)); failed=$((failed + f))

# Benchmarks in smoke mode: they must run and answer every message; their
# figures mean something only from a plain build (make bench).
step bench-redis-memory node tests/../bench/redis/memory.js --smoke
grep -aE '^(  per|redis|bench)' "$top/.ci-bench-redis-memory.log"
# The Discord benchmark, briefly: chorusd and discord.js against the fake Discord.
step bench-discord-smoke node bench/discord/run.js --smoke
grep -aE '^(chorusd|discord.js|ratios)' "$top/.ci-bench-discord-smoke.log"
# One busy guild channel, 64 messages outstanding: every one must be answered (issue 12).
step bench-discord-one-channel-smoke node bench/discord/run.js --smoke --one-channel
grep -aE '^(chorusd|discord.js|ratios)' "$top/.ci-bench-discord-one-channel-smoke.log"
# Scale-out, briefly: the Discord echo bot as one process, then as a gateway with 1, 2 and 4 workers over Redis Streams.
step bench-scale-smoke node bench/scale/run.js --smoke
grep -aE '^(all|[124] workers?|bench scale)' "$top/.ci-bench-scale-smoke.log"
# The Slack benchmark, briefly: chorusd and Bolt against the fake Slack, across a refresh_requested and a TCP drop.
step bench-slack-smoke node bench/slack/run.js --smoke
grep -aE '^(chorusd|bolt|ratios)' "$top/.ci-bench-slack-smoke.log"
# The Mattermost benchmark, briefly: chorusd and the @mattermost/client bot against the fake Mattermost.
step bench-mattermost-smoke node bench/mattermost/run.js --smoke
grep -aE '^(chorusd|@mattermost|ratios)' "$top/.ci-bench-mattermost-smoke.log"
# The Telegram benchmark, briefly: chorusd and grammY against the fake Bot API.
step bench-telegram-smoke node bench/telegram/run.js --smoke
grep -aE '^(chorusd|grammY|ratios)' "$top/.ci-bench-telegram-smoke.log"
# The IRC benchmark, briefly: chorusd and irc-framework on one real InspIRCd.
step bench-irc-smoke node bench/irc/run.js --smoke
grep -aE '^(chorusd|irc-framework|ratios)' "$top/.ci-bench-irc-smoke.log"
# The soak, for 20 s: web chat and Discord at once, RSS, fds and p99 per sample, exactly one answer each.
step bench-soak-smoke node bench/soak/run.js --smoke
grep -aE '^soak: ' "$top/.ci-bench-soak-smoke.log"
# The OneBot (QQ) benchmark, briefly: chorusd and a NapCat SDK bot against the fake OneBot implementation.
step bench-onebot-smoke node bench/onebot/run.js --smoke
grep -aE '^(chorusd|node-napcat-ts|ratios)' "$top/.ci-bench-onebot-smoke.log"
# The web chat path, briefly: a message in, a reply out over chorusd's websocket, against a Node ws echo server (the floor).
step bench-webchat-smoke node bench/webchat/run.js --smoke
grep -aE '^(chorusd|floor|ratios)' "$top/.ci-bench-webchat-smoke.log"
step bench-dispatch make bench-dispatch BENCH_FLAGS=--smoke
step bench-router make bench-router BENCH_FLAGS=--smoke
# A 1,000-entry lorebook matched per message: microseconds (fails over a millisecond).
step bench-lorebook make bench-lorebook BENCH_FLAGS=--smoke
grep -aE '^(bench lorebook|  per message)' "$top/.ci-bench-lorebook.log"
# Long-term recall over a channel's stored turns (5,000 in smoke mode): latency and Redis bytes; fails if a fact is not found.
step bench-recall make bench-recall BENCH_FLAGS=--smoke
grep -aE '^(bench recall|recall latency|search alone|redis:)' "$top/.ci-bench-recall.log"
# The router's cost and quality evaluation (a simulation with fake models), 100 prompts.
step bench-router-eval node bench/router/eval.js --smoke
grep -aE '^(\| (always|tiered|cascade)|  measured|check)' "$top/.ci-bench-router-eval.log"

# The fuzzers (fuzz/, built with clang and libFuzzer), each for 10 s, two
# at a time: a crash, leak or timeout on the seeds or what grows from them
# fails the step.
step fuzz make fuzz-ci
grep -aE '^fuzz ' "$top/.ci-fuzz.log"

# A plain (unsanitized) build from the release tarball, with its own tests.
step distcheck make distcheck DISTCHECK_CONFIGURE_FLAGS=--enable-werror

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
