#!/bin/sh
# Slow-client attacks against the real `hypercorn` command (docs/conformance.md, "Slow clients").
#
#   conformance/slow/run.sh MODE [hypercorn flags...]
#
# MODE is slowhttptest's: -B (slow body) or -X (slow read). Starts `hypercorn` with the
# given flags on 127.0.0.1:$PORT serving conformance/slow/app.py, runs slowhttptest with
# 200 connections for $LENGTH seconds, and prints one line per second: slowhttptest's
# own counts, whether its probe was answered, and the connections the server still holds
# (ss, server side). In slow-read mode slowhttptest keeps counting a connection the
# server has reset as connected until it has read its own receive buffer dry (32 bytes a
# second), so the server-side column is the one that shows the deadline.
set -eu
MODE=$1
shift
PORT=${PORT:-8091}
LENGTH=${LENGTH:-30}
HERE=$(cd "$(dirname "$0")" && pwd)
OUT=${OUT:-$(mktemp -d)}
hypercorn --bind "127.0.0.1:$PORT" "$@" "$HERE/app.py:app" >"$OUT/server.log" 2>&1 &
SERVER=$!
trap 'kill $SERVER 2>/dev/null || true' EXIT
until curl -s -o /dev/null "http://127.0.0.1:$PORT/probe"; do sleep 0.2; done
START=$(date +%s)
# "second count" samples; a sample takes a while under load, so each carries its time
(
  while kill -0 $SERVER 2>/dev/null; do
    held=$(ss -Htn state established "( sport = :$PORT )" | wc -l)
    echo "$(($(date +%s) - START)) $held"
    sleep 0.5
  done
) >"$OUT/server-side.txt" &
SAMPLER=$!
case $MODE in
  -B) ATTACK="-B -i 10 -s 8192" ;;
  -X) ATTACK="-X -n 1 -w 512 -y 1024 -z 32 -k 1" ;;
  *) echo "MODE is -B or -X" >&2; exit 2 ;;
esac
# shellcheck disable=SC2086
slowhttptest $ATTACK -c 200 -r 200 -l "$LENGTH" -p 3 -u "http://127.0.0.1:$PORT/" \
  -g -o "$OUT/slow" >"$OUT/slowhttptest.txt" 2>&1 || true
kill $SAMPLER 2>/dev/null || true
echo "second closed pending connected probe server_side"
tail -n +2 "$OUT/slow.csv" | tr ',' ' ' | while read -r second closed pending connected available; do
  held=$(awk -v s="$second" '$1 == s { h = $2 } END { print h }' "$OUT/server-side.txt")
  if [ "$available" -gt 0 ]; then probe=yes; else probe=no; fi
  echo "$second $closed $pending $connected $probe ${held:-?}"
done
echo "(records in $OUT)"
