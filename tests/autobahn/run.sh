#!/usr/bin/env bash
# Runs the Autobahn TestSuite against wsengine: cases 1.* to 10.* (the 301 core cases) and
# 12.* and 13.* (the 216 permessage-deflate cases, every build has it): 517 in all,
# as a server (wstest -m fuzzingclient against an echo server) and as a client
# (wstest -m fuzzingserver against an Autobahn client loop), and fails unless every
# case is OK (INFORMATIONAL only where the suite marks it so).
#
# usage: [SECTIONS=core|deflate|quick] tests/autobahn/run.sh [MODE] [server|client|both]
#   (both: the two roles at once, a wstest each, one per core)
#   MODE native (default): examples echo_server and autobahn_client, built --release with
#     the deflate feature.
#   MODE component: the engine as a WebAssembly component (target/component/wsengine.wasm,
#     built by ./dev) on Wasmtime: wsengine-host serve / autobahn-client, debug profile.
#   MODE tokio: wsengine-tokio (hosts/tokio): its examples tokio_echo_server (a task per
#     connection, Stream and Sink) and tokio_autobahn_client, --release with deflate.
#   MODE npm: the npm package (js/, its wasm built by ./dev) in Node, from wsengine/deflate:
#     the WebSocket facade as the client over TCP, acceptSocket as the server.
#
# Each mode names a server command (listening on $ECHO_ADDR) and a client command
# (taking the fuzzingserver URL and an agent name); later builds add their modes here.
set -euo pipefail
cd "$(dirname "$0")/../.."
here=tests/autobahn
mode=${1:-native}
sides=${2:-both}
out=$PWD/$here/reports/$mode
mkdir -p "$out"

ECHO_PORT=${ECHO_PORT:-9002}
FUZZ_PORT=${FUZZ_PORT:-9001}
ECHO_ADDR=127.0.0.1:$ECHO_PORT
FUZZ_URL=ws://127.0.0.1:$FUZZ_PORT
AGENT=wsengine-$mode
CORE='"1.*", "2.*", "3.*", "4.*", "5.*", "6.*", "7.*", "9.*", "10.*"'
# SECTIONS=core runs the 301 core cases only, SECTIONS=deflate the 216 compression cases
# only, SECTIONS=quick the core cases and 108 of the compression cases (every
# negotiation variant and payload kind of 12.* and 13.*, messages up to 16 KiB whole and
# 8 and 16 KiB in 256-byte fragments: an eighth of their time), anything else all 517.
sections=${SECTIONS:-all}
QUICK=$(for s in 12.1 12.2 12.3 12.4 12.5 13.1 13.2 13.3 13.4 13.5 13.6 13.7; do
  for c in 1 2 3 4 5 6 7 11 12; do printf ', "%s.%s"' "$s" "$c"; done
done)

wstest=${WSTEST:-$HOME/.local/bin/wstest}
py2() {
  if command -v pyenv >/dev/null 2>&1 && pyenv versions --bare 2>/dev/null | grep -qx 2.7.18; then
    PYENV_VERSION=2.7.18 pyenv exec python "$@"
  elif [ -x "$HOME/.pyenv/versions/2.7.18/bin/python" ]; then
    "$HOME/.pyenv/versions/2.7.18/bin/python" "$@"
  else
    python2.7 "$@"
  fi
}
if [ ! -x "$wstest" ]; then
  echo "== installing the Autobahn TestSuite (Python 2.7)"
  py2 -m pip install --user --quiet autobahntestsuite
fi

case "$mode" in
  native)
    cargo build --release --quiet --features deflate --example echo_server --example autobahn_client
    server_cmd=(target/release/examples/echo_server "$ECHO_ADDR")
    client_cmd=(target/release/examples/autobahn_client "$FUZZ_URL" "$AGENT")
    ;;
  component)
    if [ ! -f target/component/wsengine.wasm ]; then
      echo "target/component/wsengine.wasm is missing: build the component first (./dev)" >&2
      exit 2
    fi
    cargo build --quiet -p wsengine-host
    server_cmd=(target/debug/wsengine-host serve "$ECHO_ADDR")
    client_cmd=(target/debug/wsengine-host autobahn-client "$FUZZ_URL" "$AGENT")
    ;;
  tokio)
    cargo build --release --quiet -p wsengine-tokio --features deflate --example tokio_echo_server \
      --example tokio_autobahn_client
    server_cmd=(target/release/examples/tokio_echo_server "$ECHO_ADDR")
    client_cmd=(target/release/examples/tokio_autobahn_client "$FUZZ_URL" "$AGENT")
    ;;
  npm)
    if [ ! -f js/wasm/wsengine_bg.wasm ]; then
      echo "js/wasm is missing: build the npm package's wasm first (./dev)" >&2
      exit 2
    fi
    server_cmd=(node $here/npm_server.mjs "$ECHO_ADDR")
    client_cmd=(node $here/npm_client.mjs "$FUZZ_URL" "$AGENT")
    ;;
  *) echo "unknown mode $mode" >&2; exit 2 ;;
esac
case "$sections" in
  core) CASES="[$CORE]"; EXPECT=301 ;;
  deflate) CASES='["12.*", "13.*"]'; EXPECT=216 ;;
  quick) CASES="[$CORE$QUICK]"; EXPECT=409 ;;
  *) CASES="[$CORE, \"12.*\", \"13.*\"]"; EXPECT=517 ;;
esac
out=$out/$sections
mkdir -p "$out"

wait_port() {
  for _ in $(seq 1 200); do
    if (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; then return 0; fi
    sleep 0.1
  done
  echo "nothing listens on port $1" >&2
  return 1
}

# One role each, in a subshell of its own (its processes stopped when it ends): with
# `both` the two run at once, one wstest per core.
server_side() {
  pids=()
  trap 'for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true' EXIT
  echo "== autobahn fuzzingclient -> wsengine server ($mode)"
  rm -rf "$out/servers"
  cat > "$out/fuzzingclient.json" <<JSON
{ "outdir": "$out/servers",
  "servers": [{ "agent": "$AGENT", "url": "ws://$ECHO_ADDR" }],
  "cases": $CASES, "exclude-cases": [], "exclude-agent-cases": {} }
JSON
  "${server_cmd[@]}" > "$out/server.log" 2>&1 &
  pids+=($!)
  wait_port "$ECHO_PORT"
  (cd "$out" && "$wstest" -m fuzzingclient -s fuzzingclient.json > wstest-fuzzingclient.log 2>&1) || true
  python3 $here/check.py "$out/servers/index.json" "$AGENT" "server ($mode)" $EXPECT
}

client_side() {
  pids=()
  trap 'for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true' EXIT
  echo "== autobahn fuzzingserver -> wsengine client ($mode)"
  rm -rf "$out/clients"
  cat > "$out/fuzzingserver.json" <<JSON
{ "url": "$FUZZ_URL", "outdir": "$out/clients",
  "cases": $CASES, "exclude-cases": [], "exclude-agent-cases": {} }
JSON
  (cd "$out" && exec "$wstest" -m fuzzingserver -s fuzzingserver.json > wstest-fuzzingserver.log 2>&1) &
  pids+=($!)
  wait_port "$FUZZ_PORT"
  "${client_cmd[@]}" > "$out/client.log" 2>&1 || echo "client exited with $?" >&2
  python3 $here/check.py "$out/clients/index.json" "$AGENT" "client ($mode)" $EXPECT
}

status=0
case "$sides" in
  server) (server_side) || status=1 ;;
  client) (client_side) || status=1 ;;
  both)
    (server_side) > "$out/server-side.txt" 2>&1 &
    server_pid=$!
    (client_side) > "$out/client-side.txt" 2>&1 &
    client_pid=$!
    trap 'kill "$server_pid" "$client_pid" 2>/dev/null || true' EXIT
    wait "$server_pid" || status=1
    wait "$client_pid" || status=1
    cat "$out/server-side.txt" "$out/client-side.txt"
    ;;
  *) echo "unknown side $sides" >&2; exit 2 ;;
esac
exit $status
