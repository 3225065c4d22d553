#!/usr/bin/env bash
# The main job: the writer on its built-in test pattern plus one reader.
# A window when there is a display, the headless statistics otherwise.
#   scripts/run.sh              until Ctrl-C
#   scripts/run.sh 10           for 10 seconds
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-0}
scripts/install-deps.sh
scripts/build.sh build >/dev/null
bin=build

name=framebus-demo-$$
"$bin"/writer/framebus-writer --name "$name" &
writer=$!
trap 'kill -TERM $writer 2>/dev/null || true; wait $writer 2>/dev/null || true' EXIT

reader_args=(--name "$name" --wait 5 --verify)
[ "$seconds" != 0 ] && reader_args+=(--duration "$seconds")
[ -z "${DISPLAY:-}" ] && reader_args+=(--headless)
"$bin"/reader/framebus-reader "${reader_args[@]}"
