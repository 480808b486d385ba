#!/usr/bin/env bash
# Fuzzes the parsers of outside input with cargo-fuzz (libFuzzer), one target
# after the other, each for a bounded time. Needs a nightly toolchain and
# `cargo install cargo-fuzz`; without them it says so and exits 0, since the
# same invariants also run as property tests (tests/it/properties.rs).
#
#   scripts/fuzz.sh                 every target, FUZZ_SECONDS each (default 120)
#   scripts/fuzz.sh acr return_to   just these targets
#   scripts/fuzz.sh --smoke         every target for 5 s (after a first build)
#
# Findings land in fuzz/artifacts/<target>/ and the script exits non-zero;
# replay one with `cargo +nightly fuzz run <target> <file>`. The growing
# corpus stays in fuzz/corpus/<target>/ (ignored by git); fuzz/seeds/<target>/
# holds the committed starting points.
set -euo pipefail
cd "$(dirname "$0")/../fuzz"

seconds=${FUZZ_SECONDS:-120}
targets=()
for arg in "$@"; do
  case "$arg" in
    --smoke) seconds=5 ;;
    -h|--help) sed -n '2,15p' "$0"; exit 0 ;;
    *) targets+=("$arg") ;;
  esac
done
[ ${#targets[@]} -gt 0 ] || targets=(acr return_to jose_header callback_query permission_statement bankid_answers own_cookies)

if ! cargo +nightly --version >/dev/null 2>&1 || ! cargo +nightly fuzz --version >/dev/null 2>&1; then
  echo "skipped: cargo-fuzz/nightly not installed (rustup toolchain install nightly; cargo install cargo-fuzz)"
  exit 0
fi

cargo +nightly fuzz build -O
mkdir -p logs
for target in "${targets[@]}"; do
  mkdir -p "corpus/$target" "seeds/$target"
  echo "=== $target: ${seconds}s"
  status=0
  cargo +nightly fuzz run -O "$target" "corpus/$target" "seeds/$target" -- \
    -max_total_time="$seconds" -max_len=4096 -timeout=10 -print_final_stats=1 >"logs/$target.log" 2>&1 || status=$?
  grep -E '^(Done|stat::number_of_executed_units|stat::new_units_added|SUMMARY)|panicked' "logs/$target.log" || true
  if [ "$status" -ne 0 ]; then
    tail -n 30 "logs/$target.log"
    echo "FINDING in $target (exit $status): see fuzz/artifacts/$target/ and fuzz/logs/$target.log"
    exit 1
  fi
done
echo "fuzzing ok: ${#targets[@]} target(s), ${seconds}s each"
