#!/usr/bin/env bash
# CI stage 3: lssd built against a CUDA LibTorch (Debian 13 contrib's libtorch-cuda-dev, LibTorch
# 2.6 with CUDA 12.4), in the Debian 13 chroot, on a machine without a GPU: the CUDA code paths
# are compiled and linked, and the CPU tests run with that build (torch::cuda::is_available() is
# false there). Usage: tools/ci/cuda13.sh [extra ctest args]
#
# The chroot is $LSSD_DEBIAN13_ROOT (default /var/tmp/lssd-chroot/debian13-cuda): CI passes the one
# tools/ci/debian13.sh has just used, whose packages and ccache this stage reuses; made (debootstrap)
# when missing. Debian ships the CPU and the CUDA LibTorch at the same paths: libtorch-cuda-2.6
# conflicts with libtorch2.6, libtorch-cuda-dev with libtorch-dev and python3-torch-cuda with
# python3-torch (torchvision and torchaudio accept either), so they cannot live side by side and
# apt swaps them here; the chroot is a CUDA one afterwards.
#
# Stages (each timed; a summary closes the run):
#   disk      free space where the chroot lives against what apt says the swap needs (download +
#             unpacked) plus 2 GB for the build; stops here, saying so, when it is short
#   packages  contrib and non-free (nvidia-cuda-toolkit, the CUDA libraries) in the chroot's apt
#             sources; libtorch-cuda-dev, python3-torch-cuda, nvidia-cuda-toolkit (LibTorch's CMake
#             package needs nvcc). nvidia-cudnn is an installer that downloads cuDNN from NVIDIA at
#             configure time: declined (debconf), and tools/ci/cudnn_stub.sh puts a link stub of
#             libcudnn.so.9 in its place. The downloaded .debs are removed afterwards
#   build     lssd-infer, lssd-read, the probes (the CUDA test's lssd_encoder_probe), the unit tests,
#             -DLSSD_WERROR_DEPRECATED=ON, into /lssd/build-cuda13 (ccache: only what includes
#             LibTorch's headers recompiles after tools/ci/debian13.sh's build)
#   cuda      what a machine without a GPU can check of the CUDA path: torch and LibTorch report
#             no device; lssd-infer with RUNTIME.DEVICE auto falls back to the CPU, with
#             RUNTIME.DEVICE cuda it stops with exit 1 and a message naming CUDA; ctest lists the
#             cuda-labelled test (it needs a GPU: not run)
#   tests     the unit tests' binary (one process: LibTorch with CUDA takes ~1 s to load, 120-odd
#             ctest processes cost two minutes), then ctest's other unit and e2e tests, the
#             Debian 13 stage's selection
# Needs root (chroot, mounts, apt) and this machine's Debian 12 python3-torch (the test models
# are exported here when the Debian 13 stage did not leave them).
set -euo pipefail
here=$(cd "$(dirname "$0")/../.." && pwd)
cd "$here"
source tools/ci/chroot.sh

root=${LSSD_DEBIAN13_ROOT:-/var/tmp/lssd-chroot/debian13-cuda}
trap 'chroot_umount "$root"' EXIT
t_all=$(date +%s)
build=build-cuda13

stage_start "cuda13 chroot ($root)"
chroot_make "$root" trixie
chroot_mount "$root"
mkdir -p "$root/lssd"
find "$root/lssd" -mindepth 1 -maxdepth 1 ! -name 'build-*' -exec rm -rf {} +
lssd_copy_tree "$root/lssd"
stage_end

# The package set: tools/setup.sh's (less what no CI stage in the chroot uses), with the CUDA
# LibTorch and PyTorch in place of the CPU ones, and nvcc.
mapfile -t pkgs < <(lssd_chroot_packages | sed -e 's/^libtorch-dev$/libtorch-cuda-dev/' -e 's/^python3-torch$/python3-torch-cuda/')
pkgs+=(nvidia-cuda-toolkit)
mirror=$(chroot_mirror)
echo "base_dir = /lssd" >"$root/etc/ccache.conf"
echo "deb $mirror trixie main contrib non-free non-free-firmware" >"$root/etc/apt/sources.list"

stage_start "cuda13 disk"
chroot_run "$root" "apt-get update -q >/dev/null"
# apt's own figures: "Need to get 2,363 MB of archives." and "After this operation, 5,868 MB of
# additional disk space will be used." (--assume-no: nothing is done)
plan=$(chroot_run "$root" "LANG=C apt-get install --assume-no --no-install-recommends ${pkgs[*]} 2>&1" || true)
mb() { sed -nE "s/.*$1 ([0-9.,]+) ([kMG]?B).*/\1 \2/p" <<<"$plan" | head -1 |
  awk '{ gsub(",", "", $1); f = ($2 == "GB") ? 1024 : ($2 == "kB") ? 1 / 1024 : ($2 == "B") ? 1 / 1048576 : 1; printf "%d", $1 * f + 0.5 }'; }
get_mb=$(mb "Need to get")
add_mb=$(mb "After this operation,")
need_mb=$((${get_mb:-0} + ${add_mb:-0} + 2048))
free_mb=$(df -Pm "$root" | awk 'NR == 2 { print $4 }')
echo "  download ${get_mb:-0} MB + unpacked ${add_mb:-0} MB + build 2048 MB = ${need_mb} MB needed; ${free_mb} MB free on $(df -P "$root" | awk 'NR == 2 { print $6 }')"
if ((free_mb < need_mb)); then
  echo "cuda13: NOT RUN: the disk is short: ${free_mb} MB free under $root, the CUDA stage needs ${need_mb} MB" >&2
  exit 1
fi
stage_end

stage_start "cuda13 packages (libtorch-cuda-dev, python3-torch-cuda, nvidia-cuda-toolkit)"
chroot_run "$root" "echo 'nvidia-cudnn nvidia-cudnn/question select I Decline' | debconf-set-selections &&
  apt-get install -y -q --no-install-recommends ${pkgs[*]} && apt-get clean" >"$root/cuda-setup.log" 2>&1 ||
  { tail -40 "$root/cuda-setup.log"; exit 1; }
grep -E '^(Fetched|Need to get)|newly installed' "$root/cuda-setup.log" | sed 's/^/  /' || true
removed=$(sed -nE 's/^Removing ([^ ]+) .*/\1/p' "$root/cuda-setup.log" | tr '\n' ' ')
echo "  removed (the CPU LibTorch and PyTorch): ${removed:-none (a CUDA chroot already)}"
chroot_run "$root" /lssd/tools/ci/cudnn_stub.sh | sed 's/^/  /'
chroot_run "$root" 'dpkg-query -W -f="  \${Package} \${Version}\n" libtorch-cuda-dev python3-torch-cuda nvidia-cuda-toolkit \
    libcudart12 nvidia-cudnn g++ cmake; nvcc --version | tail -2 | sed "s/^/  /"'
stage_end

stage_start "cuda13 build"
log=$root/lssd/$build.log
chroot_run "$root" "cd /lssd && ccache -z >/dev/null 2>&1; cmake -S . -B $build -G Ninja -DLSSD_WERROR_DEPRECATED=ON \
  >$build.configure.log 2>&1 && cmake --build $build -j $(nproc)" >"$log" 2>&1 ||
  { tail -60 "$log"; tail -30 "$root/lssd/$build.configure.log"; exit 1; }
grep -E 'PyTorch: CUDA detected|CUDA nvcc is|Found Torch' "$root/lssd/$build.configure.log" | sed 's/^/  /'
tail -1 "$log"
echo "  deprecation warnings: $(grep -c 'Wdeprecated-declarations' "$log" || true)"
chroot_run "$root" "ccache -s 2>/dev/null | grep -E '^ *(Hits|Misses):' | head -2 | sed 's/^/  ccache /'" || true
chroot_run "$root" "cd /lssd/$build && for b in lssd-infer tests/lssd_encoder_probe; do
  echo \"  \$b links \$(ldd \$b | grep -oE 'lib(torch_cuda|c10_cuda|cudart)\\.so[^ ]*' | sort -u | tr '\\n' ' ')\"; done"
stage_end

stage_start "cuda13 models"
models=$root/lssd/$build/test-models
if [[ -f "$root/lssd/build-debian13/test-models/tiny/video.pt" ]]; then
  rm -rf "$models" && cp -a "$root/lssd/build-debian13/test-models" "$models"
  echo "  the tiny test encoders of the Debian 13 stage (exported by Debian 12 torch on the host)"
else
  rm -rf "$models" && mkdir -p "$models/tiny"
  /usr/bin/python3 tools/lssd_checkpoint.py random --size S --tiny --seed 0 -o "$models/tiny.pyth" >/dev/null
  /usr/bin/python3 tools/lssd_export.py --checkpoint "$models/tiny.pyth" --out-dir "$models/tiny" --threads 2 | tail -2
fi
stage_end

stage_start "cuda13 cuda (no GPU here)"
rc=0
chroot_run "$root" "set -e; cd /lssd; b=$build; m=\$b/test-models/tiny
  python3 -c 'import torch; print(\"  torch\", torch.__version__, \"CUDA\", torch.version.cuda, \"is_available:\", torch.cuda.is_available())'
  run() { \$b/lssd-infer --cfg configs/B3.yaml DATA.PATH_TO_DATA_DIR sample_data/audio OUTPUT_DIR /tmp/cuda13-\$1 \
    MODEL.VIDEO_ENCODER_FILE \$m/video.pt MODEL.AUDIO_ENCODER_FILE \$m/audio.pt RUNTIME.NUM_THREADS 2 \
    LOG.PROGRESS_INTERVAL_S 1000 RUNTIME.DEVICE \$1 >/tmp/cuda13-\$1.log 2>&1; }
  rc=0; run auto || rc=\$?
  grep -q 'running on CPU' /tmp/cuda13-auto.log && grep -q 'encoders on cpu' /tmp/cuda13-auto.log && [[ \$rc == 0 || \$rc == 3 ]] ||
    { tail -20 /tmp/cuda13-auto.log; echo '  FAIL: RUNTIME.DEVICE auto did not fall back to the CPU'; exit 1; }
  echo \"  RUNTIME.DEVICE auto: on the CPU, exit \$rc: \$(grep -o 'done: .*' /tmp/cuda13-auto.log | tail -1)\"
  rc=0; run cuda || rc=\$?
  msg=\$(grep -o 'asks for CUDA, but this LibTorch has no usable CUDA device[^;]*' /tmp/cuda13-cuda.log | head -1)
  [[ \$rc == 1 && -n \"\$msg\" ]] || { tail -20 /tmp/cuda13-cuda.log; echo \"  FAIL: RUNTIME.DEVICE cuda: exit \$rc\"; exit 1; }
  echo \"  RUNTIME.DEVICE cuda: exit 1, '\$msg'\"
  echo \"  ctest -L cuda: \$(cd \$b && ctest -N -L cuda | grep -c 'Test *#') test(s), built, not run (needs a GPU)\"" || rc=$?
stage_end

stage_start "cuda13 tests"
chroot_run "$root" "cd /lssd/$build && tests/lssd_unit_tests --gtest_brief=1 2>&1" || rc=$?
chroot_run "$root" "cd /lssd/$build && ctest --output-on-failure --timeout 1800 -j 1 -L 'unit|e2e' \
  -E '^[A-Z][A-Za-z0-9]*\\.|e2e.test_(fuzz_smoke|infer_parity|bench_smoke)$' $*" || rc=$?
stage_end

echo "== cuda13 stage times:"
printf '   %s\n' "${STAGE_TIMES[@]}"
echo "   total: $(($(date +%s) - t_all)) s"
exit $rc
