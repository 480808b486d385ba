#!/usr/bin/env bash
# Every documented figure of issue #12 in one go, into one report file
# (bench-report-<UTC date and time>.txt in the repository root, path printed
# at the end), headed by the machine's facts, with the load average before
# and after each step, and at the end a summary of every figure line
# (RATIO, LADDER, MEM, test result) step by step:
#   scripts/load.sh, CACHE=0 too         item 1 (memory store; login cache on, off)
#   REDIS=1 scripts/load.sh, CACHE=0 too item 2 (the whole ladder on Redis; cache on, off)
#   CHURN=1 ONLY_CHURN=1 scripts/load.sh item 6 (logins and logouts under load; memory, Redis)
#   cargo bench --bench extractor        item 3
#   cargo bench --features fuzzing --bench parsers   item 3
#   cargo bench --bench memory           item 4
#   cargo test --release --test it round_trips::   item 5
# Everything is built first, so no step measures while cargo compiles.
# A failing step is recorded and the others still run; the exit status is
# non-zero if any step failed.
#   usage: scripts/bench-all.sh [seconds] [connections]   (passed to load.sh)
#   env: ROUNDS, THREADS, PROFILE, BACKCHANNEL, SMALL, REDIS_PORT: passed to load.sh
#        QUICK=1  a smoke run: criterion with --warm-up-time 0.2
#                 --measurement-time 0.5 --noplot, and the memory bench with
#                 SESSIONS=1000 LOGINS=20 CIBA=1000 CIBA_POLLED=20 unless set;
#                 the numbers are then only a check that every line appears
#        REPORT   the report's path (default bench-report-<date>.txt)
#        CARGO_TARGET_DIR as for cargo (default target)
set -uo pipefail
cd "$(dirname "$0")/.."
root="$(pwd)"
report="${REPORT:-$root/bench-report-$(date -u +%Y-%m-%dT%H%M%SZ).txt}"
: >"$report" || { echo "cannot write $report"; exit 1; }
target="${CARGO_TARGET_DIR:-target}"
load_args=("$@")
criterion_args=()
if [ "${QUICK:-0}" = 1 ]; then
  criterion_args=(-- --warm-up-time 0.2 --measurement-time 0.5 --noplot)
  export SESSIONS="${SESSIONS:-1000}" LOGINS="${LOGINS:-20}" CIBA="${CIBA:-1000}" CIBA_POLLED="${CIBA_POLLED:-20}"
fi
failed=()
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

say() { echo "$@" | tee -a "$report"; }
loadavg() { cut -d' ' -f1-3 /proc/loadavg; }
first_line() { "$@" 2>&1 | head -n1; }

# step NAME COMMAND...: runs COMMAND with its output in the report, between
# the load averages before and after it and its exit status; its figure
# lines (RATIO, LADDER, MEM, test result) also go to the summary under NAME.
step() {
  local name="$1" start rc out="$work/step.out" shown
  shift
  shown="$(printf '%q ' "$@")"
  say ""
  say "=== $name"
  say "\$ ${shown% }"
  say "load average before: $(loadavg)"
  start=$(date +%s)
  "$@" 2>&1 | tee "$out" | tee -a "$report"
  rc=${PIPESTATUS[0]}
  say "load average after: $(loadavg); exit status $rc; $(($(date +%s) - start)) s"
  [ "$rc" = 0 ] || failed+=("$name")
  { echo "-- $name (exit status $rc)"; grep -E '^(RATIO|LADDER|MEM|CHURN|CACHE|CACHE_MAX|STATUS) |^test result:' "$out"; } >>"$work/summary"
}

say "# axum-bankid benchmarks (issue #12), scripts/bench-all.sh ${load_args[*]}"
say "date (UTC):   $(date -u '+%Y-%m-%d %H:%M:%S')"
say "commit:       $(git rev-parse --short HEAD 2>/dev/null)$(git diff --quiet HEAD 2>/dev/null || echo ' (uncommitted changes)')"
say "kernel:       $(uname -sr)"
say "nproc:        $(nproc)"
say "CPU:          $(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n1)"
say "memory:       $(awk '/^MemTotal/ {printf "%.1f GB", $2 / 1048576}' /proc/meminfo)"
say "rustc:        $(first_line rustc -V)"
say "cargo:        $(first_line cargo -V)"
say "wrk:          $(first_line wrk -v)"
say "redis-server: $(first_line redis-server -v)"
say "perf:         $(first_line perf --version)"
say "knobs:        seconds=${1:-10} connections=${2:-32} ROUNDS=${ROUNDS:-3} THREADS=${THREADS:-2} QUICK=${QUICK:-0} PROFILE=${PROFILE:-0} BACKCHANNEL=${BACKCHANNEL:-0} CARGO_TARGET_DIR=$target"
say "load average: $(loadavg)"

step "build: the login example" cargo build -q --release --example login
step "build: the benches" cargo bench -q --no-run
step "build: round_trips" cargo test -q --release --no-run --test it
step "item 1: wrk, memory store, login cache on" scripts/load.sh "${load_args[@]}"
step "item 1: wrk, memory store, login cache off" env CACHE=0 PUBLIC=0 PROFILE=0 scripts/load.sh "${load_args[@]}"
step "item 2: wrk, Redis, login cache on" env REDIS=1 PROFILE=0 scripts/load.sh "${load_args[@]}"
step "item 2: wrk, Redis, login cache off" env REDIS=1 CACHE=0 PUBLIC=0 PROFILE=0 scripts/load.sh "${load_args[@]}"
step "item 6: logins and logouts under load, memory, cache bound below the sessions" \
  env CHURN=1 ONLY_CHURN=1 POOL=1000 CACHE_MAX_ENTRIES=500 scripts/load.sh "${load_args[@]}"
step "item 6: logins and logouts under load, Redis, every session fits the cache" \
  env REDIS=1 CHURN=1 ONLY_CHURN=1 POOL=1000 CACHE_MAX_ENTRIES=50000 scripts/load.sh "${load_args[@]}"
step "item 3: in process (extractor)" cargo bench -q --bench extractor "${criterion_args[@]}"
step "item 3: parsers" cargo bench -q --features fuzzing --bench parsers "${criterion_args[@]}"
step "item 4: memory" cargo bench -q --bench memory
step "item 5: store round trips" cargo test --release --test it round_trips::

say ""
say "=== summary"
tee -a "$report" <"$work/summary"
if [ "${#failed[@]}" -gt 0 ]; then
  say "FAILED steps: ${failed[*]}"
fi
echo "report: $report"
[ "${#failed[@]}" = 0 ]
