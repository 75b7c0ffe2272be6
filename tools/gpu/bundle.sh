#!/usr/bin/env bash
# Packs what lssd-infer, its encoder probe and its CUDA tests need, besides LibTorch and CUDA, for
# a GPU machine that has PyTorch, a compiler, CMake and ninja and nothing else of ours (no
# FFmpeg, yaml-cpp, spdlog, CLI11, nlohmann-json, GoogleTest; no internet). Run on Debian 12.
# Usage: tools/gpu/bundle.sh DIR [--crypto static|none] [--jobs N]
#   then copy DIR and the repository to the GPU machine and run tools/gpu/check.sh DIR there.
#
# DIR holds (all from Debian 12 packages, source packages through deb-src of the mirror that
# this machine's apt sources name; a private apt state under the cache, nothing system-wide):
#   ffmpeg/       a minimal static FFmpeg (libavformat, libavcodec, libswscale, libswresample,
#                 libavutil) built from Debian's ffmpeg source package: the file protocol, the
#                 demuxers lssd allows (src/media/ffmpeg.cc) and common video/audio decoders, x86 asm,
#                 PIC, no external libraries, no debug info; with a CMake package (LssdFFmpeg,
#                 used by -DLSSD_FFMPEG_PACKAGE=ON). C only: no C++ ABI concerns.
#   bin/lssd-corpus-ffmpeg  a static ffmpeg program that only generates test media (lavfi
#                 sources, libx264, FLAC, PCM, AAC and Opus encoders, mp4/wav/flac/ogg muxers);
#                 GPL because of x264; never linked into lssd
#   include/, share/cmake/  header-only spdlog + fmt (their CMake package is written here),
#                 CLI11, nlohmann-json (Debian's headers and CMake packages)
#   lib/libcrypto.a, include/openssl/  OpenSSL's static libcrypto (--crypto static, the default;
#                 C only) for builds that hash with libcrypto
#   src/yaml-cpp, src/googletest  C++ sources (Debian's yaml-cpp source package, /usr/src/googletest),
#                 compiled on the GPU machine with its compiler and its PyTorch's C++ ABI: yaml-cpp by
#                 check.sh; GoogleTest only for a build of the unit tests (the check needs none)
#   BUNDLE.txt    versions, configure lines, sizes
# Cache: $LSSD_GPU_BUNDLE_CACHE (default /var/tmp/lssd-gpu-bundle): sources and FFmpeg builds.
set -euo pipefail
here=$(cd "$(dirname "$0")/../.." && pwd)
out=""
crypto=static
jobs=$(nproc)
while (($#)); do
  case "$1" in
    --crypto) crypto=$2; shift 2 ;;
    --jobs) jobs=$2; shift 2 ;;
    -*) echo "usage: tools/gpu/bundle.sh DIR [--crypto static|none] [--jobs N]" >&2; exit 2 ;;
    *) out=$1; shift ;;
  esac
done
[[ -n "$out" ]] || { echo "usage: tools/gpu/bundle.sh DIR [--crypto static|none] [--jobs N]" >&2; exit 2; }
[[ "$crypto" == static || "$crypto" == none ]] || { echo "--crypto static|none" >&2; exit 2; }
. /etc/os-release
[[ "${VERSION_CODENAME:-}" == bookworm ]] || echo "bundle: warning: made for Debian 12 (bookworm), this is ${PRETTY_NAME:-?}" >&2
cache=${LSSD_GPU_BUNDLE_CACHE:-/var/tmp/lssd-gpu-bundle}
mkdir -p "$cache" "$out"
out=$(cd "$out" && pwd)
t0=$(date +%s)
log() { echo "[bundle $(($(date +%s) - t0))s] $*" >&2; }

# ---------------------------------------------------------------- build dependencies
need=(build-essential dpkg-dev nasm pkg-config cmake libspdlog-dev libfmt-dev libcli11-dev nlohmann-json3-dev
  googletest libx264-dev libssl-dev xz-utils)
missing=()
for p in "${need[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  log "installing ${missing[*]}"
  sudo=""; [[ $(id -u) -ne 0 ]] && sudo=sudo
  export DEBIAN_FRONTEND=noninteractive
  $sudo apt-get update -q >/dev/null
  $sudo apt-get install -y -q --no-install-recommends "${missing[@]}" >/dev/null
fi

# ---------------------------------------------------------------- source packages (deb-src)
source "$here/tools/ci/chroot.sh"
apt_src() {  # apt-get with a private deb-src list for this machine's mirror and suite
  local a=$cache/apt
  mkdir -p "$a/lists/partial" "$a/cache/archives/partial"
  if [[ ! -f "$a/sources.list" ]]; then
    local mirror
    mirror=$(chroot_mirror)
    echo "deb-src $mirror ${VERSION_CODENAME:-bookworm} main" >"$a/sources.list"
    # security updates of the same release, when the machine's sources name them
    local sec
    if sec=$(chroot_mirror debian-security); then
      echo "deb-src $sec ${VERSION_CODENAME:-bookworm}-security main" >>"$a/sources.list"
    fi
  fi
  apt-get -q -o Dir::Etc::SourceList="$a/sources.list" -o Dir::Etc::SourceParts=/dev/null \
    -o Dir::State::Lists="$a/lists" -o Dir::Cache="$a/cache" -o APT::Sandbox::User=root "$@"
}
fetch_source() {  # fetch_source PKG VERSION -> prints the unpacked directory
  local pkg=$1 ver=${2%+b[0-9]*} d=$cache/src  # a binNMU (+bN) is built from the source without it
  local upstream=${ver#*:}
  upstream=${upstream%-*}
  mkdir -p "$d"
  if [[ ! -d "$d/$pkg-$upstream" ]]; then
    [[ -n "$(ls "$a_lists"/*Sources* 2>/dev/null)" ]] || apt_src update >/dev/null 2>&1
    (cd "$d" && apt_src source --download-only "$pkg=$ver" >/dev/null 2>&1) ||
      { apt_src update >/dev/null 2>&1; (cd "$d" && apt_src source --download-only "$pkg=$ver" >/dev/null); } ||
      { echo "bundle: cannot fetch the source package $pkg $ver (deb-src of $(chroot_mirror))" >&2; return 1; }
    (cd "$d" && dpkg-source --no-check -x "${pkg}_${ver#*:}.dsc" "$pkg-$upstream" >/dev/null)
  fi
  echo "$d/$pkg-$upstream"
}
a_lists=$cache/apt/lists
ver_of() { dpkg-query -W -f='${Version}' "$1"; }
ff_ver=$(apt-cache policy libavcodec-dev 2>/dev/null | awk '/Candidate:/ {print $2}')
[[ -n "$ff_ver" && "$ff_ver" != "(none)" ]] || ff_ver=$(ver_of libavcodec59 2>/dev/null || true)
log "ffmpeg source $ff_ver"
ff_src=$(fetch_source ffmpeg "$ff_ver") || exit 1
ff_tag=${ff_ver#*:}
ycpp_ver=$(apt-cache policy libyaml-cpp-dev 2>/dev/null | awk '/Candidate:/ {print $2}')
log "yaml-cpp source $ycpp_ver"
ycpp_src=$(fetch_source yaml-cpp "$ycpp_ver") || exit 1

# ---------------------------------------------------------------- FFmpeg: the libraries lssd links
# Demuxers: src/media/ffmpeg.cc's whitelist. Decoders: the common codecs of those containers.
demuxers=mov,matroska,avi,wav,w64,flac,mp3,ogg,aac,aiff,mpegts,flv,asf
vdec=h264,hevc,mpeg4,mpeg1video,mpeg2video,vp8,vp9,mjpeg,h263,msmpeg4v1,msmpeg4v2,msmpeg4v3,wmv1,wmv2,wmv3,vc1,theora,prores,dnxhd,ffv1,rawvideo,flv
adec=aac,aac_latm,mp3,mp3float,mp2,mp2float,mp1,opus,vorbis,flac,alac,ac3,eac3,wmav1,wmav2,wmapro,dca,truehd,mlp
adec+=,pcm_s16le,pcm_s16be,pcm_s24le,pcm_s24be,pcm_s32le,pcm_s32be,pcm_f32le,pcm_f32be,pcm_f64le,pcm_f64be
adec+=,pcm_u8,pcm_s8,pcm_alaw,pcm_mulaw,adpcm_ima_wav,adpcm_ms,gsm_ms
parsers=h264,hevc,mpeg4video,mpegvideo,vp8,vp9,mjpeg,h263,vc1,dnxhd,aac,aac_latm,mpegaudio,opus,vorbis,flac,ac3,dca,mlp
ff_common=(--disable-everything --disable-autodetect --disable-doc --disable-debug --disable-network
  --enable-static --disable-shared --enable-pic --enable-pthreads --disable-iconv --disable-zlib --disable-bzlib
  --disable-lzma --enable-x86asm)
ff_lib_cfg=(--disable-programs --disable-avdevice --disable-avfilter --disable-postproc
  --enable-protocol=file --enable-demuxer=$demuxers --enable-decoder=$vdec,$adec --enable-parser=$parsers
  --enable-bsf=h264_mp4toannexb,hevc_mp4toannexb,aac_adtstoasc,vp9_superframe_split,null)
ff_build=$cache/ffmpeg-lib-$ff_tag
ff_prefix=$cache/ffmpeg-lib-$ff_tag.install
if [[ ! -f "$ff_prefix/.done" ]]; then
  log "configuring the FFmpeg libraries (minimal, static)"
  rm -rf "$ff_build" "$ff_prefix" && mkdir -p "$ff_build"
  (cd "$ff_build" && "$ff_src/configure" --prefix="$ff_prefix" "${ff_common[@]}" "${ff_lib_cfg[@]}" >configure.log 2>&1) ||
    { tail -20 "$ff_build/configure.log" "$ff_build/ffbuild/config.log" >&2; exit 1; }
  # Portable to glibc < 2.36: no arc4random (libavutil's random seed falls back to /dev/urandom).
  sed -i 's/^#define HAVE_ARC4RANDOM 1/#define HAVE_ARC4RANDOM 0/' "$ff_build/config.h"
  log "building the FFmpeg libraries (-j $jobs; minutes)"
  make -C "$ff_build" -j "$jobs" >"$ff_build/build.log" 2>&1 || { tail -30 "$ff_build/build.log" >&2; exit 1; }
  make -C "$ff_build" install >/dev/null
  touch "$ff_prefix/.done"
fi

# ---------------------------------------------------------------- the corpus generator program
ff_cli_cfg=(--enable-gpl --enable-libx264 --disable-ffprobe --disable-ffplay --enable-ffmpeg --disable-postproc
  --enable-avdevice --enable-avfilter --enable-indev=lavfi --enable-protocol=file,pipe
  --enable-filter=testsrc2,mandelbrot,smptehdbars,sine,anoisesrc,scale,format,aformat,aresample,null,anull,trim,atrim,noise,setpts,asetpts
  --enable-encoder=libx264,aac,flac,pcm_s16le,opus --enable-muxer=mp4,mov,wav,flac,ogg,opus,matroska,null
  --enable-decoder=rawvideo,pcm_s16le,pcm_s32le,pcm_f32le,pcm_f64le,pcm_u8 --pkg-config-flags=--static)
cli_build=$cache/ffmpeg-cli-$ff_tag
cli_bin=$cli_build/ffmpeg
if [[ ! -f "$cli_build/.done" ]]; then
  log "configuring the corpus generator (ffmpeg + libx264, static)"
  rm -rf "$cli_build" && mkdir -p "$cli_build"
  (cd "$cli_build" && "$ff_src/configure" "${ff_common[@]}" "${ff_cli_cfg[@]}" \
    --extra-ldexeflags=-static-pie --extra-libs="-lpthread -lm -ldl" >configure.log 2>&1) ||
    (cd "$cli_build" && "$ff_src/configure" "${ff_common[@]}" "${ff_cli_cfg[@]}" \
      --extra-libs="-lpthread -lm -ldl" >configure.log 2>&1) ||
    { tail -20 "$cli_build/configure.log" "$cli_build/ffbuild/config.log" >&2; exit 1; }
  sed -i 's/^#define HAVE_ARC4RANDOM 1/#define HAVE_ARC4RANDOM 0/' "$cli_build/config.h"
  log "building the corpus generator (-j $jobs; minutes)"
  make -C "$cli_build" -j "$jobs" ffmpeg >"$cli_build/build.log" 2>&1 || { tail -30 "$cli_build/build.log" >&2; exit 1; }
  strip "$cli_bin"
  touch "$cli_build/.done"
fi

# ---------------------------------------------------------------- assemble DIR
log "assembling $out"
rm -rf "$out"/{ffmpeg,include,lib,share,src,bin,BUNDLE.txt}
mkdir -p "$out"/{ffmpeg,include,lib/cmake,share/cmake,src,bin}
cp -a "$ff_prefix/include" "$ff_prefix/lib" "$out/ffmpeg/"
rm -rf "$out/ffmpeg/lib/pkgconfig"
mkdir -p "$out/ffmpeg/lib/cmake/LssdFFmpeg"
cat >"$out/ffmpeg/lib/cmake/LssdFFmpeg/LssdFFmpegConfig.cmake" <<'EOF'
# A minimal static FFmpeg made by lssd's tools/gpu/bundle.sh: target LssdFFmpeg::ffmpeg.
if(NOT TARGET LssdFFmpeg::ffmpeg)
  get_filename_component(_lssd_ff "${CMAKE_CURRENT_LIST_DIR}/../../.." ABSOLUTE)
  find_package(Threads REQUIRED)
  add_library(LssdFFmpeg::ffmpeg INTERFACE IMPORTED)
  set_target_properties(LssdFFmpeg::ffmpeg PROPERTIES
    INTERFACE_INCLUDE_DIRECTORIES "${_lssd_ff}/include"
    INTERFACE_LINK_LIBRARIES "${_lssd_ff}/lib/libavformat.a;${_lssd_ff}/lib/libavcodec.a;${_lssd_ff}/lib/libswscale.a;${_lssd_ff}/lib/libswresample.a;${_lssd_ff}/lib/libavutil.a;Threads::Threads;m;dl")
  unset(_lssd_ff)
endif()
EOF
cp "$cli_bin" "$out/bin/lssd-corpus-ffmpeg"

for d in spdlog fmt CLI nlohmann; do cp -a "/usr/include/$d" "$out/include/"; done
cp -a /usr/include/nlohmann "$out/include/" 2>/dev/null || true
cp -a /usr/share/cmake/CLI11 /usr/share/cmake/nlohmann_json "$out/share/cmake/"
mkdir -p "$out/lib/cmake/spdlog"
cat >"$out/lib/cmake/spdlog/spdlogConfig.cmake" <<'EOF'
# spdlog and fmt header-only (Debian's headers), made by lssd's tools/gpu/bundle.sh: spdlog::spdlog.
if(NOT TARGET spdlog::spdlog)
  get_filename_component(_lssd_sp "${CMAKE_CURRENT_LIST_DIR}/../../.." ABSOLUTE)
  add_library(spdlog::spdlog INTERFACE IMPORTED)
  set_target_properties(spdlog::spdlog PROPERTIES
    INTERFACE_INCLUDE_DIRECTORIES "${_lssd_sp}/include"
    INTERFACE_COMPILE_DEFINITIONS "SPDLOG_FMT_EXTERNAL;FMT_HEADER_ONLY")
  unset(_lssd_sp)
endif()
set(spdlog_FOUND TRUE)
EOF
if [[ "$crypto" == static ]]; then
  cp -a /usr/include/openssl "$out/include/"
  cp -a /usr/include/x86_64-linux-gnu/openssl/. "$out/include/openssl/"
  cp /usr/lib/x86_64-linux-gnu/libcrypto.a "$out/lib/"
fi

mkdir -p "$out/src/googletest"
cp -a /usr/src/googletest/. "$out/src/googletest/"
rm -rf "$out/src/googletest"/{googletest,googlemock}/{test,docs,samples} "$out/src/googletest/docs" 2>/dev/null || true
cp -a "$ycpp_src" "$out/src/yaml-cpp"
rm -rf "$out/src/yaml-cpp"/{test,docs,debian,.pc} 2>/dev/null || true

{
  echo "lssd GPU bundle, made $(date -u +%Y-%m-%dT%H:%MZ) on ${PRETTY_NAME:-?} by tools/gpu/bundle.sh"
  echo "ffmpeg: Debian source $ff_ver (static, minimal)"
  echo "  configure: ${ff_common[*]} ${ff_lib_cfg[*]}"
  echo "corpus generator: ffmpeg $ff_ver + libx264 $(ver_of libx264-dev)"
  echo "yaml-cpp: Debian source ${ycpp_ver%+b[0-9]*} (compiled by check.sh)"
  echo "googletest: Debian googletest $(ver_of googletest) (for the unit tests; check.sh does not build it)"
  echo "spdlog $(ver_of libspdlog-dev), fmt $(ver_of libfmt-dev) (header-only), CLI11 $(ver_of libcli11-dev), nlohmann-json $(ver_of nlohmann-json3-dev)"
  if [[ "$crypto" == static ]]; then echo "libcrypto: OpenSSL $(ver_of libssl-dev) static (lib/libcrypto.a)"; else echo "libcrypto: none"; fi
  echo "sizes:"
  du -sh "$out"/{ffmpeg,bin,include,lib,share,src} | sed 's/^/  /'
  echo "total: $(du -sh "$out" | cut -f1)"
} >"$out/BUNDLE.txt"
cat "$out/BUNDLE.txt"
log "done"
