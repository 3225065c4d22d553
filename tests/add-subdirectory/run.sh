#!/usr/bin/env bash
# Builds a project that adds framebus with add_subdirectory (embedder/) and
# checks it got the library alone: no framebus tests registered, and its
# install installs the embedder's own program and nothing of framebus.
# usage: run.sh FRAMEBUS_SOURCE_DIR [cmake args for the embedder...]
set -euo pipefail
framebus_source=$(cd "$1" && pwd)
shift
here=$(cd "$(dirname "$0")" && pwd)
# A fixed place in the build tree, so a compiler cache (ccache) hits next time.
work=$PWD/add-subdirectory-embedder
rm -rf "$work"
trap 'rm -rf "$work"' EXIT
cmake -S "$here/embedder" -B "$work/build" -DFRAMEBUS_SOURCE_DIR="$framebus_source" "$@" >/dev/null
cmake --build "$work/build" --target embedder --parallel 2 >/dev/null
"$work/build/embedder"
tests=$(cd "$work/build" && ctest -N | sed -n 's/^Total Tests: //p')
if [[ ${tests:-0} != 0 ]]; then
  echo "add_subdirectory(framebus) registered $tests tests" >&2
  exit 1
fi
cmake --install "$work/build" --prefix "$work/prefix" >/dev/null
installed=$(cd "$work/prefix" && find . -type f | sort)
if [[ $installed != "./bin/embedder" ]]; then
  echo "installing the embedder installed more than its own program:" >&2
  echo "$installed" >&2
  exit 1
fi
echo "add_subdirectory(framebus) gave the library alone"
