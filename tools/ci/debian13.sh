#!/usr/bin/env bash
# CI stage 2: lssd on the Debian 13 (trixie) stack, LibTorch 2.6 and FFmpeg 7.1, in a chroot.
# Usage: tools/ci/debian13.sh [--fresh] [extra ctest args]   (CI: .ci/run, then tools/ci/cuda13.sh)
#
# Stages (each timed; a summary closes the run):
#   chroot    debootstrap --variant=minbase trixie from the Debian mirror that this machine's apt
#             sources name. Kept in $LSSD_DEBIAN13_ROOT (default /var/tmp/lssd-chroot/debian13)
#             between local runs; --fresh makes a new one and removes it at the end (.ci/run
#             instead names a new $LSSD_DEBIAN13_ROOT, which tools/ci/cuda13.sh then reuses).
#   packages  tools/setup.sh's package list, installed in the chroot, less what this stage does
#             not use (clang and libclang-rt-dev: fuzzing; espeak-ng: sample data; git); ccache
#             (base_dir /lssd) keeps the objects for tools/ci/cuda13.sh's build
#   build     lssd + tests in the chroot, -DLSSD_WERROR_DEPRECATED=ON (a deprecated LibTorch or
#             FFmpeg API is an error), into /lssd/build-debian13 inside the chroot
#   models    the tiny test encoders, exported on THIS machine (Debian 12, torch 1.13) into the
#             chroot's build tree: the e2e tests load them with LibTorch 2.6, as a GPU user
#             loads our exporter's files with a newer LibTorch
#   tests     ctest -L 'unit|e2e' in the chroot, except what needs the release's Python stack
#             (the oracle label; e2e.test_infer_parity and e2e.test_bench_smoke, which run the
#             Python reference pipeline: Debian 13's torchvision is not the release's 0.14.1 and
#             its torchaudio has only the sox backend, which cannot open sample_data's opus
#             file) and the fuzz smoke test (clang; it runs in the Debian 12 suite)
#   exporter  tools/lssd_export.py under Debian 13's python3-torch on the same seeded checkpoint
#             (--no-verify: its eager re-runs cost minutes; the comparison below is the check);
#             lssd-infer (Debian 13 build) embeds sample_data with both exports and
#             `lssd-read compare` requires them to agree (cosine >= 0.9999, |diff| <= 1e-4); then
#             RUNTIME.PRECISION bf16 (the exports' bf16 method) with both: within cosine 0.999 of
#             fp32 and of each other
# Needs root (debootstrap, chroot, mounts) and this machine's Debian 12 python3-torch
# (tools/setup.sh installs it).
set -euo pipefail
here=$(cd "$(dirname "$0")/../.." && pwd)
cd "$here"
source tools/ci/chroot.sh

fresh=0
if [[ "${1:-}" == "--fresh" ]]; then
  fresh=1
  shift
fi
root=${LSSD_DEBIAN13_ROOT:-/var/tmp/lssd-chroot/debian13}
if ((fresh)); then
  mkdir -p /var/tmp/lssd-chroot
  root=$(mktemp -d /var/tmp/lssd-chroot/debian13-ci.XXXXXX)
  rmdir "$root"
fi
cleanup() {
  chroot_umount "$root"
  if ((fresh)); then chroot_remove "$root"; fi
}
trap cleanup EXIT
t_all=$(date +%s)

stage_start "debian13 chroot"
chroot_make "$root" trixie
chroot_mount "$root"
stage_end

# The working tree (tracked and untracked, not ignored files) at /lssd; its build tree is kept.
mkdir -p "$root/lssd"
find "$root/lssd" -mindepth 1 -maxdepth 1 ! -name 'build-*' -exec rm -rf {} +
lssd_copy_tree "$root/lssd"

stage_start "debian13 packages"
mapfile -t pkgs < <(lssd_chroot_packages)
echo "  ${#pkgs[@]} packages of tools/setup.sh (less clang libclang-rt-dev espeak-ng git)"
echo "base_dir = /lssd" >"$root/etc/ccache.conf"
chroot_run "$root" "apt-get update -q && apt-get install -y -q --no-install-recommends ${pkgs[*]}" \
  >"$root/setup.log" 2>&1 || { tail -40 "$root/setup.log"; exit 1; }
chroot_run "$root" 'dpkg-query -W -f="  \${Package} \${Version}\n" libtorch-dev libavcodec-dev python3-torch g++ cmake'
stage_end

stage_start "debian13 build"
log=$root/lssd/build-debian13.log
chroot_run "$root" "cd /lssd && cmake -S . -B build-debian13 -G Ninja -DLSSD_WERROR_DEPRECATED=ON >/dev/null &&
  cmake --build build-debian13 -j $(nproc)" >"$log" 2>&1 || { tail -60 "$log"; exit 1; }
tail -1 "$log"
echo "deprecation warnings: $(grep -c 'Wdeprecated-declarations' "$log" || true)"
stage_end

stage_start "debian13 models (exported with Debian 12 torch $(/usr/bin/python3 -c 'import torch; print(torch.__version__)'))"
models=$root/lssd/build-debian13/test-models
rm -rf "$models" && mkdir -p "$models/tiny"
/usr/bin/python3 tools/lssd_checkpoint.py random --size S --tiny --seed 0 -o "$models/tiny.pyth" >/dev/null
/usr/bin/python3 tools/lssd_export.py --checkpoint "$models/tiny.pyth" --out-dir "$models/tiny" --threads 2 |
  tail -2
stage_end

stage_start "debian13 tests"
rc=0
chroot_run "$root" "cd /lssd/build-debian13 && ctest --output-on-failure --timeout 1800 -j 1 -L 'unit|e2e' \
  -E 'e2e.test_(fuzz_smoke|infer_parity|bench_smoke)$' $*" || rc=$?
stage_end

stage_start "debian13 exporter (Debian 13 torch)"
chroot_run "$root" 'set -e; cd /lssd; m=build-debian13/test-models
  python3 -c "import torch; print(\"torch\", torch.__version__)"
  rm -rf $m/tiny13 /tmp/out12 /tmp/out13
  python3 tools/lssd_export.py --checkpoint $m/tiny.pyth --out-dir $m/tiny13 --threads 2 --no-verify | tail -2
  for v in 12 13; do
    d=$m/tiny; [[ $v == 13 ]] && d=$m/tiny13
    build-debian13/lssd-infer --cfg configs/B3.yaml DATA.PATH_TO_DATA_DIR sample_data OUTPUT_DIR /tmp/out$v \
      MODEL.VIDEO_ENCODER_FILE $d/video.pt MODEL.AUDIO_ENCODER_FILE $d/audio.pt RUNTIME.DEVICE cpu \
      RUNTIME.NUM_THREADS 2 LOG.PROGRESS_INTERVAL_S 1000 >/tmp/infer$v.log 2>&1 || [[ $? == 3 ]]
    grep "^.*done:" /tmp/infer$v.log | tail -1
  done
  build-debian13/lssd-read compare /tmp/out12 /tmp/out13 --min-cosine 0.9999 --atol 1e-4 | tail -3
  echo "exports of torch 1.13 and torch $(python3 -c "import torch; print(torch.__version__)") agree"
  # CPU bf16 (the exports bf16 method) under LibTorch 2.6: near fp32, and the same for both exports.
  for v in 12 13; do
    d=$m/tiny; [[ $v == 13 ]] && d=$m/tiny13
    build-debian13/lssd-infer --cfg configs/B3.yaml DATA.PATH_TO_DATA_DIR sample_data OUTPUT_DIR /tmp/out${v}bf \
      MODEL.VIDEO_ENCODER_FILE $d/video.pt MODEL.AUDIO_ENCODER_FILE $d/audio.pt RUNTIME.DEVICE cpu \
      RUNTIME.PRECISION bf16 RUNTIME.NUM_THREADS 2 LOG.PROGRESS_INTERVAL_S 1000 >/tmp/infer${v}bf.log 2>&1 || [[ $? == 3 ]]
    grep "^.*done:" /tmp/infer${v}bf.log | tail -1
  done
  build-debian13/lssd-read compare /tmp/out12 /tmp/out12bf --min-cosine 0.999 | tail -1
  build-debian13/lssd-read compare /tmp/out12bf /tmp/out13bf --min-cosine 0.999 | tail -1
  echo "bf16 under LibTorch 2.6: within cosine 0.999 of fp32, both exports alike"' || rc=$?
stage_end

echo "== debian13 stage times:"
printf '   %s\n' "${STAGE_TIMES[@]}"
echo "   total: $(($(date +%s) - t_all)) s"
exit $rc
