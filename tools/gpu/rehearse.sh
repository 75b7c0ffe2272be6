#!/usr/bin/env bash
# Rehearses tools/gpu/check.sh where no GPU is: a clean Debian 12 chroot with only PyTorch
# (python3-torch, CPU; Debian ships its LibTorch headers and CMake package as libtorch-dev) and
# build tools (g++, make, cmake, ninja), none of lssd's other dependencies (checked), and no
# network (unshare -n). The repository's working tree and BUNDLE are copied in (their size is
# printed: a GPU machine takes ~64 MB), and check.sh runs there; its CUDA steps report
# "no CUDA device" and the rest runs on the CPU.
# Usage: tools/gpu/rehearse.sh BUNDLE [--fresh] [--keep-build] [check.sh options, e.g. --scale 0.05]
#   chroot: $LSSD_GPU_REHEARSAL_ROOT (default /var/tmp/lssd-chroot/debian12-gpu), kept between
#   runs unless --fresh; the check's build (models and corpus included) starts from nothing, as on
#   a GPU machine, unless --keep-build; the check's output is copied to build-gpu-rehearsal/ in the
#   repository.
set -euo pipefail
here=$(cd "$(dirname "$0")/../.." && pwd)
cd "$here"
source tools/ci/chroot.sh
bundle=${1:?usage: tools/gpu/rehearse.sh BUNDLE [--fresh] [check.sh options]}
shift
bundle=$(cd "$bundle" && pwd)
fresh=0 keep_build=0
if [[ "${1:-}" == "--fresh" ]]; then fresh=1; shift; fi
if [[ "${1:-}" == "--keep-build" ]]; then keep_build=1; shift; fi
root=${LSSD_GPU_REHEARSAL_ROOT:-/var/tmp/lssd-chroot/debian12-gpu}
((fresh)) && chroot_remove "$root"
trap 'chroot_umount "$root"' EXIT

stage_start "rehearsal chroot (Debian 12)"
chroot_make "$root" bookworm
chroot_mount "$root"
stage_end

stage_start "rehearsal packages: python3-torch libtorch-dev g++ make cmake ninja-build"
chroot_run "$root" "apt-get update -q >/dev/null && apt-get install -y -q --no-install-recommends \
  python3-torch libtorch-dev g++ make cmake ninja-build >/tmp/apt.log 2>&1 || { tail -20 /tmp/apt.log; exit 1; }"
present=$(chroot_run "$root" 'for p in libavcodec-dev libavformat-dev libswscale-dev libyaml-cpp-dev libspdlog-dev \
  libfmt-dev libcli11-dev nlohmann-json3-dev libgtest-dev googletest libssl-dev pkg-config pkgconf ffmpeg nasm; do
  dpkg-query -W -f="\${Status}" $p 2>/dev/null | grep -q "install ok installed" && echo $p; done; true')
if [[ -n "$present" ]]; then
  echo "rehearsal: the chroot has packages a GPU machine lacks: $present" >&2
  exit 1
fi
echo "none of FFmpeg, yaml-cpp, spdlog, fmt, CLI11, nlohmann-json, GoogleTest, OpenSSL headers, pkg-config in the chroot"
stage_end

stage_start "copy the working tree and the bundle"
rm -rf "$root/bundle"
mkdir -p "$root/lssd"
if ((keep_build)); then
  find "$root/lssd" -mindepth 1 -maxdepth 1 ! -name build-gpu -exec rm -rf {} +
else
  rm -rf "$root/lssd" && mkdir -p "$root/lssd"
fi
git ls-files -co --exclude-standard -z | tar --null -T - -cf - | tar -C "$root/lssd" -xf -
cp -a "$bundle" "$root/bundle"
repo_mb=$(($(git ls-files -co --exclude-standard -z | tar --null -T - -cf - | wc -c) / 1048576))
bundle_mb=$(du -sm "$root/bundle" | cut -f1)
echo "copied to a GPU machine: repository ${repo_mb} MB + bundle ${bundle_mb} MB = $((repo_mb + bundle_mb)) MB"
stage_end

stage_start "tools/gpu/check.sh /bundle $* (no network)"
rc=0
unshare -n chroot "$root" /usr/bin/env -i HOME=/root PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
  LANG=C.UTF-8 /bin/bash -c "cd /lssd && tools/gpu/check.sh /bundle --out /lssd/build-gpu/check-out $*" || rc=$?
stage_end
rm -rf build-gpu-rehearsal && mkdir -p build-gpu-rehearsal
cp -a "$root/lssd/build-gpu/check-out/." build-gpu-rehearsal/ 2>/dev/null || true
echo "== rehearsal times:"
printf '   %s\n' "${STAGE_TIMES[@]}"
echo "check.sh exit $rc; its output is in build-gpu-rehearsal/"
exit $rc
