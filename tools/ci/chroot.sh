# Helpers for Debian chroots made with debootstrap (sourced by tools/ci/debian13.sh and
# tools/gpu/rehearse.sh; not a command). Needs root, debootstrap (installed when missing) and the
# Debian mirror that this machine's apt sources already name.
#
#   chroot_mirror                     the Debian archive URI from /etc/apt/sources.list{,.d/*}
#   chroot_make ROOT SUITE            debootstrap --variant=minbase SUITE into ROOT (kept if done)
#   chroot_mount ROOT / chroot_umount ROOT   /proc, /sys (ro), /dev, /dev/pts, /dev/shm, resolv.conf
#   chroot_run ROOT CMD...            runs CMD in ROOT (bash -c), HOME=/root, noninteractive apt
#   chroot_remove ROOT                unmounts and deletes ROOT (refuses while anything is mounted)
#   stage_start NAME / stage_end      one timed stage: prints "== NAME" and "== NAME: N s"
#   lssd_chroot_packages              tools/setup.sh's packages that the chroot stages install (one a line)
#   lssd_copy_tree DIR                the working tree (tracked and untracked, not ignored files) into DIR

_stage_name="" _stage_t0=0
STAGE_TIMES=()
stage_start() {
  _stage_name=$1
  _stage_t0=$(date +%s)
  echo "== $1 ($(date +%H:%M:%S))"
}
stage_end() {
  local dt=$(($(date +%s) - _stage_t0))
  STAGE_TIMES+=("$_stage_name: ${dt} s")
  echo "== $_stage_name: ${dt} s"
}

# The first http(s) URI of a "deb" source whose path ends in /debian (one-line or deb822 format);
# chroot_mirror debian-security: the same for the security archive (empty, status 1, if none).
chroot_mirror() {
  local name=${1:-debian} uri
  uri=$(grep -hv '^[[:space:]]*#' /etc/apt/sources.list /etc/apt/sources.list.d/*.list 2>/dev/null |
    awk -v n="$name" '$1 == "deb" { for (i = 2; i <= NF; i++) if ($i ~ ("^https?://.*/" n "/?$")) { print $i; exit } }')
  if [[ -z "$uri" ]]; then
    uri=$(grep -hv '^[[:space:]]*#' /etc/apt/sources.list.d/*.sources 2>/dev/null | awk -v n="$name" '
      /^Types:/ { deb = ($0 ~ /(^|[ \t])deb([ \t]|$)/) }
      /^URIs:/ && deb { for (i = 2; i <= NF; i++) if ($i ~ ("^https?://.*/" n "/?$")) { print $i; exit } }')
  fi
  if [[ -z "$uri" ]]; then
    [[ "$name" == debian ]] && echo "chroot: no Debian archive (a URI ending in /debian) in /etc/apt/sources.list*" >&2
    return 1
  fi
  echo "${uri%/}"
}

_need_debootstrap() {
  command -v debootstrap >/dev/null && return 0
  echo "chroot: installing debootstrap" >&2
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends debootstrap >/dev/null ||
    { apt-get update -q >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends debootstrap >/dev/null; }
}

chroot_make() {
  local root=$1 suite=$2 mirror
  if [[ -f "$root/.lssd-debootstrap-done" ]]; then
    echo "chroot: reusing $root ($suite)"
    return 0
  fi
  _need_debootstrap
  mirror=$(chroot_mirror)
  [[ -d "$root" ]] && chroot_remove "$root"
  mkdir -p "$root"
  echo "chroot: debootstrap --variant=minbase $suite $root $mirror"
  debootstrap --variant=minbase "$suite" "$root" "$mirror" >"$root.debootstrap.log" 2>&1 ||
    { tail -30 "$root.debootstrap.log" >&2; return 1; }
  # Reachable apt sources inside: the same mirror, main only.
  echo "deb $mirror $suite main" >"$root/etc/apt/sources.list"
  touch "$root/.lssd-debootstrap-done"
}

_mounted_under() {  # mount points at or below $1, deepest first
  awk -v r="$(realpath -m "$1")" '$2 == r || index($2, r "/") == 1 { print $2 }' /proc/mounts | sort -r
}

chroot_mount() {
  local root=$1
  mountpoint -q "$root/proc" || mount -t proc proc "$root/proc"
  mountpoint -q "$root/sys" || mount -t sysfs -o ro sysfs "$root/sys"  # CPU topology for OpenMP/BLAS
  mountpoint -q "$root/dev" || mount --bind /dev "$root/dev"
  mountpoint -q "$root/dev/pts" || mount --bind /dev/pts "$root/dev/pts"
  mkdir -p "$root/dev/shm"
  mountpoint -q "$root/dev/shm" || mount -t tmpfs -o mode=1777 tmpfs "$root/dev/shm"
  cp -L /etc/resolv.conf "$root/etc/resolv.conf" 2>/dev/null || true
}

chroot_umount() {
  local root=$1 m
  for m in $(_mounted_under "$root"); do umount "$m" 2>/dev/null || umount -l "$m"; done
}

chroot_run() {
  local root=$1
  shift
  chroot "$root" /usr/bin/env -i HOME=/root PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
    LANG=C.UTF-8 DEBIAN_FRONTEND=noninteractive TERM=dumb ${CI:+CI=$CI} /bin/bash -c "$*"
}

chroot_remove() {
  local root=$1
  [[ -n "$root" && "$root" != / && -d "$root" ]] || return 0
  chroot_umount "$root"
  if [[ -n "$(_mounted_under "$root")" ]]; then
    echo "chroot: still mounted under $root, not removing it" >&2
    return 1
  fi
  rm -rf --one-file-system "$root" "$root.debootstrap.log"
}

# tools/setup.sh's package list less what no chroot stage uses (clang and libclang-rt-dev: fuzzing;
# espeak-ng: sample data; git). ccache stays: the CUDA stage recompiles only what includes LibTorch.
lssd_chroot_packages() {
  bash -c 'eval "$(sed -n "/^packages=(/,/^)/p" tools/setup.sh)"; printf "%s\n" "${packages[@]}"' |
    grep -vxE 'clang|libclang-rt-dev|espeak-ng|git'
}

lssd_copy_tree() {
  git ls-files -co --exclude-standard -z | tar --null -T - -cf - | tar -C "$1" -xf -
}
