#!/usr/bin/env bash
# Runs every framebus benchmark in one go and prints the markdown report.
#   scripts/bench.sh                  build (Release, build-bench/), full run, report on stdout
#   scripts/bench.sh --smoke          a few frames of each suite: the programs run and a
#                                     table comes out (what the bench-smoke test runs)
#   scripts/bench.sh --bin-dir DIR    use framebus-bench and framebus-bench-report from DIR
#                                     instead of building
#   scripts/bench.sh --build-dir DIR  build there instead of build-bench/
#   scripts/bench.sh -- ARGS...       pass ARGS to framebus-bench (e.g. --benchmark_filter=bus_)
# Benchmark progress goes to stderr, the report to stdout; the JSON is kept
# next to the binaries (bench-results.json, or bench-results-smoke.json).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)

smoke=0
bin_dir=""
build_dir=$root/build-bench
extra=()
while [ $# -gt 0 ]; do
  case "$1" in
    --smoke) smoke=1 ;;
    --bin-dir) bin_dir=${2:?--bin-dir needs a directory}; shift ;;
    --build-dir) build_dir=${2:?--build-dir needs a directory}; shift ;;
    --) shift; extra=("$@"); break ;;
    -h|--help) sed -n '2,11p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "bench.sh: error: unknown option '$1' (see --help)" >&2; exit 2 ;;
  esac
  shift
done

# Directories given are relative to where we were called from.
[ -n "$bin_dir" ] && bin_dir=$(realpath -m "$bin_dir")
build_dir=$(realpath -m "$build_dir")
cd "$root"

if [ -z "$bin_dir" ]; then
  scripts/install-deps.sh
  cmake -S . -B "$build_dir" -G Ninja -DCMAKE_BUILD_TYPE=Release -DFRAMEBUS_BUILD_BENCH=ON >/dev/null
  cmake --build "$build_dir" -j "$(nproc)" --target framebus-bench framebus-bench-report >&2
  bin_dir=$build_dir/bench
fi
for program in framebus-bench framebus-bench-report; do
  if [ ! -x "$bin_dir/$program" ]; then
    echo "bench.sh: error: no $program in $bin_dir" >&2
    exit 2
  fi
done

run_args=()
results=$bin_dir/bench-results.json
if [ "$smoke" -eq 1 ]; then
  run_args+=(--smoke)
  results=$bin_dir/bench-results-smoke.json
fi
rm -f "$results"
start=$(date +%s)
"$bin_dir/framebus-bench" "${run_args[@]}" --benchmark_out="$results" \
  --benchmark_out_format=json ${extra[@]+"${extra[@]}"} >&2
echo "bench.sh: benchmarks took $(($(date +%s) - start)) s; results in $results" >&2

report=$("$bin_dir/framebus-bench-report" --check "$results") || status=$?
printf '%s\n' "$report"
if [ "${status:-0}" -ne 0 ]; then
  echo "bench.sh: error: some benchmarks failed or are missing (see the end of the report)" >&2
  exit 1
fi
# The smoke run's whole point: a report with its tables.
if ! grep -q '^| publish (acquire + commit)' <<<"$report" || ! grep -q '^| pipe' <<<"$report"; then
  echo "bench.sh: error: the report has no framebus or baseline table" >&2
  exit 1
fi
