#!/usr/bin/env bash
# Runs every cargo-fuzz target, or those named, for SECONDS each, JOBS at a time, from the
# committed minimized corpus (corpus-min/), the seeds and the local corpus (corpus/,
# git-ignored). Prints, per target, the executions, their rate and the findings (new files
# in artifacts/<target>, and a failing run, whose log's end is shown: the script then exits
# 1); then merges everything each target kept into a minimal corpus-min/<target>
# (libFuzzer's -merge=1), which is what gets committed. -n leaves corpus-min/ as it is:
# ./dev test runs the targets so, for 30 s each; campaigns run outside it. Each target runs
# under its own sanitizer (`sanitizer` below: `none` runs 5-6 times faster, fuzz/README.md
# says for which targets and why); -s picks one for all (cargo fuzz's -s). A sanitizer other
# than address builds apart, in target/<sanitizer>.
#
#   fuzz/campaign.sh [-n] [-t SECONDS] [-j JOBS] [-s SANITIZER] [TARGET...]
#   (defaults: 600 s, 1 job, each target's sanitizer, all targets)
#
# Run from anywhere; needs nightly and cargo-fuzz (./dev test installs both). Logs go to
# fuzz/target/campaign/<target>.log.
set -euo pipefail
cd "$(dirname "$0")"
secs=600
jobs=1
merge=1
only=
while getopts "nt:j:s:" opt; do
  case $opt in
    n) merge=0 ;;
    t) secs=$OPTARG ;;
    j) jobs=$OPTARG ;;
    s) only=$OPTARG ;;
    *) sed -n '2,16p' "$0"; exit 2 ;;
  esac
done
shift $((OPTIND - 1))
targets=("$@")
[ ${#targets[@]} -gt 0 ] || mapfile -t targets < <(cargo +nightly fuzz list)
logs=target/campaign
mkdir -p "$logs"

# The sanitizer a target runs under unless -s says otherwise.
sanitizer() {
  case $1 in
    connection | handshake) echo none ;;
    *) echo address ;;
  esac
}

# Sets `build` to cargo fuzz's arguments for target $1's sanitizer.
build_args() {
  local s=${only:-$(sanitizer "$1")}
  build=()
  [ "$s" = address ] || build=(-s "$s" --target-dir "target/$s")
}

# Built first, one at a time: parallel runs would otherwise build side by side.
for t in "${targets[@]}"; do
  build_args "$t"
  cargo +nightly fuzz build "${build[@]}" "$t" 2>&1 | grep -E "^error" || true
done

run() {
  local t=$1 extra=() dirs=("corpus/$t") build
  build_args "$t"
  mkdir -p "corpus/$t" "artifacts/$t"
  [ -d "corpus-min/$t" ] && dirs+=("corpus-min/$t")
  [ -d "seeds/$t" ] && dirs+=("seeds/$t")
  [ -f "dict/$t.dict" ] && extra+=("-dict=dict/$t.dict")
  ls "artifacts/$t" > "$logs/$t.before"
  local status=0
  cargo +nightly fuzz run "${build[@]}" "$t" "${dirs[@]}" -- "${extra[@]}" -max_total_time="$secs" -rss_limit_mb=2048 \
    -print_final_stats=1 > "$logs/$t.log" 2>&1 || status=$?
  echo "$status" > "$logs/$t.status"
}

running=0
for t in "${targets[@]}"; do
  run "$t" &
  running=$((running + 1))
  if [ "$running" -ge "$jobs" ]; then wait -n || true; running=$((running - 1)); fi
done
wait

table=$'| target | sanitizer | seconds | executions | exec/s | corpus-min files | findings |\n|---|---|---:|---:|---:|---:|---|'
found=0
for t in "${targets[@]}"; do
  execs=$(sed -n 's/.*stat::number_of_executed_units: *//p' "$logs/$t.log" | tail -1)
  new=$(comm -13 "$logs/$t.before" <(ls "artifacts/$t") | tr '\n' ' ')
  status=$(cat "$logs/$t.status")
  findings=none
  if [ -n "$new" ] || [ "$status" != 0 ]; then
    findings="exit $status; new in artifacts/$t: ${new:-none} (log: fuzz/$logs/$t.log)"
    found=1
    tail -n 60 "$logs/$t.log"
  fi
  if [ "$merge" = 1 ]; then
    build_args "$t"
    # Everything this target kept, merged into the smallest set with the same coverage.
    rm -rf "corpus-min/$t.new"
    mkdir -p "corpus-min/$t.new"
    kept=("corpus/$t")
    [ -d "corpus-min/$t" ] && kept+=("corpus-min/$t")
    [ -d "seeds/$t" ] && kept+=("seeds/$t")
    cargo +nightly fuzz run "${build[@]}" "$t" "corpus-min/$t.new" "${kept[@]}" -- -merge=1 -rss_limit_mb=2048 \
      > "$logs/$t.merge.log" 2>&1
    rm -rf "corpus-min/$t"
    mv "corpus-min/$t.new" "corpus-min/$t"
  fi
  table+=$(printf '\n| `%s` | %s | %s | %s | %s | %s | %s |' "$t" "${only:-$(sanitizer "$t")}" "$secs" "${execs:-?}" "$(( ${execs:-0} / secs ))" \
    "$(ls "corpus-min/$t" 2>/dev/null | wc -l)" "$findings")
done
printf '\n%s\n' "$table"
exit "$found"
