#!/usr/bin/env bash
# Configures and builds a build tree the one way that tools/demo.sh and tools/test.sh share
# (CMake + Ninja, tests on, a deprecated LibTorch/FFmpeg API is an error), so that running one
# after the other rebuilds nothing and a build made by the demo still has its tests.
# Usage: tools/build.sh [--dir DIR] [--configure-only] [--quiet] [-DVAR=VALUE ...] [TARGET ...]
#   --dir DIR          the build tree (default build/)
#   --configure-only   configure, do not build
#   --quiet            no configure output (the build's own output stays)
#   -DVAR=VALUE        more CMake cache settings (e.g. tools/test.sh --sanitize's)
#   TARGET             build only these (default: everything)
# LSSD_PYTHON, when set, becomes the CMake cache variable LSSD_PYTHON (the Python tests' Python).
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
cd "$here"

dir=build
configure_only=0
quiet=0
cmake_args=(-DLSSD_BUILD_TESTS=ON -DLSSD_WERROR_DEPRECATED=ON)
targets=()
while (($#)); do
  case "$1" in
    --dir) dir=$2; shift 2 ;;
    --configure-only) configure_only=1; shift ;;
    --quiet) quiet=1; shift ;;
    -D*) cmake_args+=("$1"); shift ;;
    *) targets+=("$1"); shift ;;
  esac
done
if [[ -n "${LSSD_PYTHON:-}" ]]; then cmake_args+=(-DLSSD_PYTHON="$LSSD_PYTHON"); fi

if ((quiet)); then
  cmake -S . -B "$dir" -G Ninja "${cmake_args[@]}" >/dev/null
else
  cmake -S . -B "$dir" -G Ninja "${cmake_args[@]}"
fi
if ((configure_only)); then exit 0; fi
if ((${#targets[@]})); then
  cmake --build "$dir" -j "$(nproc)" --target "${targets[@]}"
else
  cmake --build "$dir" -j "$(nproc)"
fi
