#!/bin/sh
# run.sh - the quick start: install, build, start Redis if none answers on
# 127.0.0.1:6379, then run chorusd in the foreground with the example config.
# Open http://127.0.0.1:8080 and chat. Ctrl-C stops it.
set -e
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
sh contrib/deps.sh
if [ ! -x src/chorusd ]; then
  [ -x configure ] || autoreconf -fi
  [ -f Makefile ] || ./configure
  make -j"$(nproc)"
fi
if ! redis-cli -h 127.0.0.1 -p 6379 ping >/dev/null 2>&1; then
  mkdir -p "$top/.run"
  redis-server --port 6379 --bind 127.0.0.1 --daemonize yes --dir "$top/.run" \
    --logfile "$top/.run/redis.log" --pidfile "$top/.run/redis.pid"
  echo "run.sh: started redis-server on 127.0.0.1:6379 (data in .run/)"
fi
echo "run.sh: chat at http://127.0.0.1:8080 (model: ${OPENAI_BASE_URL:-the offline local model})"
exec src/chorusd --config contrib/chorus.conf.lua "$@"
