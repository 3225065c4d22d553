#!/usr/bin/env bash
# Fuzzes the segment parser (tests/fuzz/segment_fuzz.cpp) with libFuzzer under
# ASan + UBSan for a bounded time; exits non-zero on any finding.
#   scripts/fuzz.sh [SECONDS]     fuzz for SECONDS (default 120), on a copy of the corpus
#   scripts/fuzz.sh --make-corpus regenerate tests/fuzz/corpus from real segments
# Environment: FUZZ_BUILD_DIR (default build-fuzz), FUZZ_JOBS (parallel fuzzing
# processes, default 1), FUZZ_KEEP_CORPUS=DIR (keep the grown corpus there).
set -euo pipefail
cd "$(dirname "$0")/.."
build=${FUZZ_BUILD_DIR:-build-fuzz}
case $build in /*) ;; *) build=$PWD/$build ;; esac
jobs=${FUZZ_JOBS:-1}

command -v clang++ >/dev/null || { echo "fuzz.sh: error: clang++ not found (scripts/install-deps.sh)" >&2; exit 2; }
cmake -S tests/fuzz -B "$build" -G Ninja -DCMAKE_CXX_COMPILER=clang++ >/dev/null
cmake --build "$build" -j 2 >/dev/null

if [ "${1:-}" = "--make-corpus" ]; then
  rm -rf tests/fuzz/corpus
  "$build/make_corpus" tests/fuzz/corpus
  exit 0
fi
seconds=${1:-120}
case $seconds in '' | *[!0-9]*) echo "fuzz.sh: error: SECONDS must be a number, not '$seconds'" >&2; exit 2 ;; esac

# Fuzz a copy: the corpus libFuzzer grows stays out of the repository.
work=$(mktemp -d "${TMPDIR:-/tmp}/framebus-fuzz.XXXXXX")
trap 'rm -rf "$work"' EXIT
cp -r tests/fuzz/corpus "$work/corpus"
mkdir -p "$build/artifacts"
log=$work/fuzz.log

export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1}
args=(-max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -max_len=32768
      -print_final_stats=1 -artifact_prefix="$build/artifacts/")
[ "$jobs" -gt 1 ] && args+=(-jobs="$jobs" -workers="$jobs")

echo "fuzz.sh: fuzzing parse_segment for ${seconds}s ($jobs job(s)), seeds: $(ls tests/fuzz/corpus | wc -l)"
status=0
# From the temporary directory: with FUZZ_JOBS, libFuzzer writes fuzz-N.log there.
(cd "$work" && "$build/segment_fuzz" "${args[@]}" corpus >"$log" 2>&1) || status=$?
if [ "$jobs" -gt 1 ]; then cat "$work"/fuzz-*.log >>"$log" 2>/dev/null || true; fi

# Executions: the final stats line (one per fuzzing process with FUZZ_JOBS).
if [ "$jobs" -gt 1 ]; then
  execs=$(awk '/stat::number_of_executed_units:/ {n += $2} END {print n + 0}' "$log")
else
  execs=$(awk '/stat::number_of_executed_units:/ {n = $2} END {print n + 0}' "$log")
fi
coverage=$(grep -o 'cov: [0-9]*' "$log" | tail -1 || true)
if [ "$status" -ne 0 ] || grep -qE 'ERROR: (AddressSanitizer|libFuzzer|LeakSanitizer)|runtime error:' "$log"; then
  sed -n '/ERROR: \|runtime error:/,$p' "$log" | head -40 >&2
  echo "fuzz.sh: error: finding after $execs executions; reproducer(s) in $build/artifacts/:" >&2
  ls -1 "$build/artifacts" >&2
  echo "  replay one: $build/segment_fuzz $build/artifacts/<file>" >&2
  exit 1
fi
if [ -n "${FUZZ_KEEP_CORPUS:-}" ]; then
  mkdir -p "$FUZZ_KEEP_CORPUS" && cp "$work"/corpus/* "$FUZZ_KEEP_CORPUS"/
fi
echo "fuzz.sh: ok: $execs executions in ${seconds}s, ${coverage:-cov: ?}, corpus $(ls "$work/corpus" | wc -l) inputs, no findings"
