#!/usr/bin/env bash
# The test command: set-up, build (tools/build.sh: the same build/ as tools/demo.sh, with the
# tests), ctest. Prints ctest's summary last; fails when ctest finds no test to run.
# Usage: tools/test.sh [--sanitize] [extra ctest args, e.g. -L cuda or -R config]
#   default: every test but the labels slow and cuda
#   --sanitize: the same suite in the ASan+UBSan build (build-asan/)
# Installs (tools/setup.sh --with-slurm) the Debian packages to build and test, and the Slurm
# and munge daemons for the slurm label's single-node cluster.
# LSSD_PYTHON: the Python of the Python tests and tools (default /usr/bin/python3, where
# tools/setup.sh installs Debian's python3-torch and friends); it becomes the CMake cache
# variable LSSD_PYTHON.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
cd "$here"

build=build
cmake_extra=()
if [[ "${1:-}" == "--sanitize" ]]; then
  shift
  build=build-asan
  cmake_extra+=(-DLSSD_SANITIZE=ON -DCMAKE_BUILD_TYPE=RelWithDebInfo)
  export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=0:abort_on_error=1}
  export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1}
fi

tools/setup.sh --with-slurm
"${LSSD_PYTHON:-/usr/bin/python3}" tools/lssd_pydeps.py
tools/build.sh --dir "$build" "${cmake_extra[@]}"

label_args=(-LE 'slow|cuda')
for a in "$@"; do
  if [[ "$a" == -L || "$a" == -LE ]]; then label_args=(); fi
done
cd "$build"
ctest --no-tests=error --output-on-failure --timeout 1800 -j 1 "${label_args[@]}" "$@"
