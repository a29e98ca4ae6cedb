#!/bin/sh
# deps.sh - install the Debian 12 packages chorusd builds and runs with.
# Run as root; does nothing when everything is already there.
set -e
PKGS="build-essential autoconf automake pkg-config
      libwebsockets-dev libwebsockets-evlib-uv libuv1-dev libcurl4-openssl-dev
      libjansson-dev liblua5.4-dev libhiredis-dev libssl-dev zlib1g-dev redis-server"
[ -n "$CHORUS_EXTRA_PKGS" ] && PKGS="$PKGS $CHORUS_EXTRA_PKGS"
missing=""
for p in $PKGS; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done
[ -z "$missing" ] && exit 0
if [ "$(id -u)" != 0 ]; then
  echo "deps.sh: missing packages:$missing (run as root, or: sudo apt-get install$missing)" >&2
  exit 1
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends $missing >/dev/null
