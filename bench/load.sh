#!/usr/bin/env bash
# The load test: each echo server in turn holds CONNECTIONS loopback connections that
# all echo for SECONDS; bench/src/bin/load.rs measures messages per second, latency and
# the server's resident memory per connection (idle, then busy). Servers:
#   wsengine-tokio     hosts/tokio's tokio_echo_server (no deflate)
#   tokio-tungstenite  bench/src/bin/tungstenite_echo.rs, the same server on tokio-tungstenite
#   component          wsengine-host serve: every connection in one instance of the component
#                      (target/component/wsengine.wasm, built by ./dev) on one thread
# Prints a Markdown table. Outside ./dev test (minutes at 10,000); ./dev test runs a smoke,
# with HOST_PROFILE=debug (the release build of Wasmtime takes minutes).
#
#   bench/load.sh [-c CONNECTIONS] [-t SECONDS] [-s SIZE] [-i MS]   (defaults 10000, 10, 32, 0)
# -i MS paces each connection to a message every MS milliseconds (latency at a load the
# servers can carry); without it every connection sends its next message as soon as its
# echo is in (the most the servers can do).
set -euo pipefail
cd "$(dirname "$0")/.."
connections=10000
seconds=10
size=32
interval=0
while getopts "c:t:s:i:" opt; do
  case $opt in
    c) connections=$OPTARG ;;
    t) seconds=$OPTARG ;;
    s) size=$OPTARG ;;
    i) interval=$OPTARG ;;
    *) sed -n '2,10p' "$0"; exit 2 ;;
  esac
done
# Both ends hold a socket per connection.
ulimit -n $((connections * 2 + 1024)) 2>/dev/null || ulimit -n "$(ulimit -Hn)"
cargo build --release --quiet -p wsengine-tokio --example tokio_echo_server
cargo build --release --quiet -p wsengine-bench --bin load --bin tungstenite_echo
host_profile=${HOST_PROFILE:-release}
if [ "$host_profile" = release ]; then
  cargo build --release --quiet -p wsengine-host
else
  cargo build --quiet -p wsengine-host
fi

port=${LOAD_PORT:-9010}
echo "| server | connections | pace | msg/s | p50 µs | p99 µs | p99.9 µs | idle KiB/conn | busy KiB/conn |"
echo "|---|---:|---|---:|---:|---:|---:|---:|---:|"
for server in wsengine-tokio tokio-tungstenite component; do
  case $server in
    wsengine-tokio) cmd=(target/release/examples/tokio_echo_server "127.0.0.1:$port") ;;
    tokio-tungstenite) cmd=(target/release/tungstenite_echo "127.0.0.1:$port") ;;
    component) cmd=(target/$host_profile/wsengine-host serve "127.0.0.1:$port") ;;
  esac
  "${cmd[@]}" 2>/dev/null &
  pid=$!
  trap 'kill $pid 2>/dev/null || true' EXIT
  for _ in $(seq 1 100); do (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && break; sleep 0.1; done
  line=$(target/release/load "ws://127.0.0.1:$port/" --connections "$connections" --seconds "$seconds" \
    --size "$size" --interval "$interval" --pid "$pid")
  kill $pid 2>/dev/null || true
  wait $pid 2>/dev/null || true
  get() { sed -n "s/.*\b$1=\([^ ]*\).*/\1/p" <<<"$line"; }
  pace=$([ "$interval" = 0 ] && echo "as fast as echoed" || echo "1 per $interval ms")
  echo "| $server | $(get connections) | $pace | $(get msg_per_s) | $(get p50_us) | $(get p99_us) | $(get p999_us) | $(get rss_idle_kib_per_conn) | $(get rss_busy_kib_per_conn) |"
  port=$((port + 1))
done
