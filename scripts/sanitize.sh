#!/usr/bin/env bash
# The test suite under sanitizers, each in its own build directory:
#   build-asan  ASan + UBSan, the whole ctest suite (programs included) but
#               the labels whose code runs inside an uninstrumented host
#               (python: /usr/bin/python3; gst, rtsp: gst-launch-1.0 and
#               GStreamer's registry scanner), and soak (its own CI stage)
#   build-tsan  TSan, the thread-level tests (ctest -L 'unit|concurrency')
# Exits non-zero on any failing test or any sanitizer report, including one
# from a child process whose exit code a test does not look at: every report
# goes to a log file (log_path) that this script checks afterwards.
#   scripts/sanitize.sh            both
#   scripts/sanitize.sh asan|tsan  one of them
# Environment: SANITIZE_JOBS (ctest -j, default 1), FRAMEBUS_KILL_SECONDS
# (the kill matrix's budget; 60 here unless set), FRAMEBUS_HOSTILE_SECONDS (the
# hostile-writer test's, default 10), FRAMEBUS_SOAK_SECONDS (the soak run's, default 20).
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
which=${1:-all}
jobs=${SANITIZE_JOBS:-1}
export FRAMEBUS_KILL_SECONDS=${FRAMEBUS_KILL_SECONDS:-60}
failed=0
# Warnings are the normal -Werror build's job: with sanitizers, g++ 12 warns
# falsely (-Wmaybe-uninitialized inside <regex> and <functional>).
no_werror=(-DFRAMEBUS_WERROR=OFF -DCMAKE_CXX_FLAGS=-Wno-maybe-uninitialized)

# A sanitizer report makes the process exit with 86 (no test expects that
# code, unlike 1 or 2) and writes <dir>/report.<pid>.
sanitizer_env() {  # dir
  local dir=$1
  rm -rf "$dir" && mkdir -p "$dir"
  local common="exitcode=86:log_path=$dir/report:print_summary=1"
  export ASAN_OPTIONS="$common:detect_leaks=1:halt_on_error=1"
  export UBSAN_OPTIONS="$common:halt_on_error=1:print_stacktrace=1"
  export LSAN_OPTIONS="$common:suppressions=$root/tests/reliability/lsan.supp:print_suppressions=0"
  export TSAN_OPTIONS="$common:halt_on_error=1:second_deadlock_stack=1"
}

check_reports() {  # dir label
  local dir=$1 label=$2
  if compgen -G "$dir/report*" >/dev/null; then
    echo "sanitize.sh: error: $label: sanitizer reports:" >&2
    for f in "$dir"/report*; do
      echo "--- $f" >&2
      head -60 "$f" >&2
    done
    failed=1
  fi
}

run_asan() {
  local build=build-asan t0=$SECONDS
  echo "=== ASan+UBSan: configure and build $build"
  cmake -S . -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo "${no_werror[@]}" \
    -DFRAMEBUS_SANITIZE=address,undefined -DFRAMEBUS_BUILD_BENCH=OFF >/dev/null
  # Benchmarks are left out: they measure speed, which ASan changes tenfold;
  # the library code they run is covered by the tests here.
  sanitizer_env "$root/$build/sanitizer-reports"
  cmake --build "$build" -j 2
  echo "=== ASan+UBSan: ctest (built in $((SECONDS - t0)) s)"
  # find_package_consumer builds a consumer against the installed (sanitized)
  # library: the consumer needs the sanitizer runtime too, as any would.
  CXXFLAGS="-fsanitize=address,undefined" LDFLAGS="-fsanitize=address,undefined" \
    ctest --test-dir "$build" --output-on-failure --timeout 600 -j "$jobs" \
      -LE 'python|gst|rtsp|soak' -E 'HotPath\.' || failed=1
  # HotPath (no system call on acquire/commit/lease/release, under seccomp)
  # is proven in the plain build (scripts/test.sh). Under UBSan its vptr
  # check of std::shared_ptr's control block probes memory with pipe2 the
  # first time: the sanitizer's system call, which the filter kills.
  check_reports "$root/$build/sanitizer-reports" "ASan+UBSan"
  echo "=== ASan+UBSan: done in $((SECONDS - t0)) s"
}

run_tsan() {
  local build=build-tsan t0=$SECONDS
  echo "=== TSan: configure and build $build"
  # Some kernels randomise mmap more than TSan's shadow layout allows
  # ("FATAL: ThreadSanitizer: unexpected memory mapping"): run without ASLR then.
  local norandom=()
  local probe_dir
  probe_dir=$(mktemp -d)
  printf '#include <thread>\nint main() { std::thread([] {}).join(); }\n' >"$probe_dir/p.cpp"
  c++ -fsanitize=thread "$probe_dir/p.cpp" -o "$probe_dir/p"
  if ! "$probe_dir/p" >"$probe_dir/log" 2>&1; then
    if grep -q "unexpected memory mapping" "$probe_dir/log" && setarch "$(uname -m)" -R "$probe_dir/p"; then
      norandom=(setarch "$(uname -m)" -R)
      echo "TSan needs ASLR off on this kernel: running under setarch -R"
    else
      cat "$probe_dir/log" >&2
      rm -rf "$probe_dir"
      echo "sanitize.sh: error: TSan does not run here" >&2
      failed=1
      return
    fi
  fi
  rm -rf "$probe_dir"
  cmake -S . -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo "${no_werror[@]}" \
    -DFRAMEBUS_SANITIZE=thread \
    -DFRAMEBUS_BUILD_PROGRAMS=OFF -DFRAMEBUS_BUILD_BENCH=OFF >/dev/null
  sanitizer_env "$root/$build/sanitizer-reports"
  # The build runs the test binaries too (gtest test discovery).
  "${norandom[@]}" cmake --build "$build" -j 2 --target framebus_unit_tests framebus_concurrency_tests
  echo "=== TSan: ctest -L 'unit|concurrency' (built in $((SECONDS - t0)) s)"
  "${norandom[@]}" ctest --test-dir "$build" --output-on-failure --timeout 600 -j "$jobs" \
    -L 'unit|concurrency' || failed=1
  check_reports "$root/$build/sanitizer-reports" "TSan"
  echo "=== TSan: done in $((SECONDS - t0)) s"
}

case $which in
  all) run_asan; run_tsan ;;
  asan) run_asan ;;
  tsan) run_tsan ;;
  *) echo "usage: scripts/sanitize.sh [asan|tsan]" >&2; exit 2 ;;
esac
[ "$failed" -eq 0 ] || { echo "sanitize.sh: FAILED" >&2; exit 1; }
echo "sanitize.sh: ok"
