#!/usr/bin/env bash
# The test command: installs what is missing, builds, runs every test.
#   scripts/test.sh             the whole suite (unit, process, programs)
#   scripts/test.sh -L unit     any ctest arguments pass through
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
scripts/build.sh build -DFRAMEBUS_WERROR=ON
ctest --test-dir build --output-on-failure --timeout 300 "$@"
