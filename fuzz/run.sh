#!/usr/bin/env bash
# Runs the fuzz targets for a bounded time each, one after the other.
#
#   bash fuzz/run.sh [SECONDS_PER_TARGET] [TARGET...]     (default: 60 s; decode and session)
#
# Needs a C++ compiler (libFuzzer is built from source) and cargo-fuzz, installed here when
# missing. cargo-fuzz needs nightly flags: RUSTC_BOOTSTRAP=1 lets the stable toolchain take them.
# Set FUZZ_SANITIZER=none for speed (default: address). Each target grows its corpus in
# fuzz/corpus/<target>/; a crash is saved in fuzz/artifacts/<target>/ and makes the script
# exit 1 after the other targets have run. Full libFuzzer output goes to fuzz/logs/<target>.log.
set -euo pipefail
cd "$(dirname "$0")"

secs=${1:-60}
shift || true
if [ "$#" -gt 0 ]; then
  targets=("$@")
else
  targets=(decode session)
fi
case $secs in
  '' | *[!0-9]*) echo "usage: bash fuzz/run.sh [SECONDS_PER_TARGET] [TARGET...]" >&2; exit 2 ;;
esac
sanitizer=${FUZZ_SANITIZER:-address}

export RUSTC_BOOTSTRAP=1
if ! cargo fuzz --version >/dev/null 2>&1; then
  echo "+ cargo install cargo-fuzz --locked"
  cargo install cargo-fuzz --locked
fi

# The session target keeps its server's files in a temporary folder that outlives the process
# (libFuzzer exits without running destructors): give each run its own, removed at the end.
scratch=$(mktemp -d "${TMPDIR:-/tmp}/ftpd-fuzz-run.XXXXXX")
trap 'rm -rf "$scratch"' EXIT

# -a: debug assertions and overflow checks on, so arithmetic overflow is a finding too.
build=(-a -s "$sanitizer")
echo "+ cargo fuzz build ${build[*]}"
cargo fuzz build "${build[@]}"

mkdir -p logs
failed=()
summary=()
for target in "${targets[@]}"; do
  mkdir -p "corpus/$target" "artifacts/$target"
  log="logs/$target.log"
  echo "+ cargo fuzz run ${build[*]} $target corpus/$target -- -max_total_time=$secs -timeout=30 -print_final_stats=1   (log: fuzz/$log)"
  status=0
  TMPDIR=$scratch cargo fuzz run "${build[@]}" "$target" "corpus/$target" -- \
    -max_total_time="$secs" -timeout=30 -print_final_stats=1 >"$log" 2>&1 || status=$?
  done_line=$(grep -E '^Done [0-9]+ runs in [0-9]+ second' "$log" | tail -n 1 || true)
  runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1)
  rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -n 1)
  corpus_files=$(find "corpus/$target" -type f | wc -l)
  if [ "$status" -eq 0 ] && [ -n "$done_line" ]; then
    echo "$target: $done_line ($rate exec/s); corpus: $corpus_files files"
    summary+=("$target: ok, ${runs:-?} runs, ${rate:-?} exec/s, corpus $corpus_files files")
  else
    echo "$target: FAILED (exit $status) after ${runs:-?} runs; the end of fuzz/$log:" >&2
    grep -v '^#[0-9]' "$log" | tail -n 40 >&2
    failed+=("$target")
    summary+=("$target: FAILED (exit $status), ${runs:-?} runs; artifacts in fuzz/artifacts/$target/")
  fi
done

echo
echo "Summary ($secs s per target, sanitizer $sanitizer):"
printf '  %s\n' "${summary[@]}"
if [ "${#failed[@]}" -gt 0 ]; then
  echo "crashes or errors in: ${failed[*]} (reproduce: RUSTC_BOOTSTRAP=1 cargo fuzz run -a TARGET ARTIFACT)" >&2
  exit 1
fi
