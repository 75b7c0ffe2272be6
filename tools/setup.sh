#!/usr/bin/env bash
# Installs the Debian 12 packages lssd needs to build, test and run. Idempotent: a no-op when
# everything is present; otherwise one `apt-get update` and one `apt-get install`.
# Usage: tools/setup.sh [--with-slurm]   (the test script asks for slurm too)
set -euo pipefail

packages=(
  # build
  build-essential cmake ninja-build pkg-config ccache git
  # C++ libraries
  libtorch-dev libyaml-cpp-dev libcli11-dev libspdlog-dev libgtest-dev nlohmann-json3-dev libssl-dev
  libavformat-dev libavcodec-dev libswscale-dev libswresample-dev libavutil-dev
  # similarity search in lssd-read (search, dedup): FAISS 1.7.3, CPU, on OpenBLAS
  libfaiss-dev
  # an optimised BLAS: Debian's torch otherwise runs on the reference BLAS (6-20x slower)
  libopenblas0-pthread
  # tools, sample data, Python oracles
  ffmpeg espeak-ng
  python3 python3-torch python3-torchvision python3-torchaudio python3-av python3-numpy python3-yaml
  # headless rendering of lssd-read report's page in its e2e test (tests/e2e/test_report.py)
  chromium
  # sanitizer and libFuzzer runtimes (tools/test.sh --sanitize, tools/fuzz.sh, the fuzz smoke test)
  clang libclang-rt-dev
)
if [[ "${1:-}" == "--with-slurm" ]]; then
  packages+=(slurm-wlm munge)
fi

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done
if ((${#missing[@]} == 0)); then
  exit 0
fi

echo "setup: installing ${missing[*]}" >&2
sudo=""
if [[ $(id -u) -ne 0 ]]; then sudo="sudo"; fi
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -q
$sudo apt-get install -y -q --no-install-recommends "${missing[@]}"
