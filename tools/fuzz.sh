#!/usr/bin/env bash
# Fuzzes the media path (open / probe / decode / clip planning / video transform: src/media/,
# src/clips/*.cc, src/transform/video_transform.cc)
# with libFuzzer + ASan + UBSan for a fixed time. See tests/fuzz/README.md.
# Usage: tools/fuzz.sh [SECONDS=600] [extra libFuzzer flags, e.g. -jobs=4 -workers=4]
# Needs clang and libclang-rt-<ver>-dev (installed with apt-get when missing and root), and the
# FFmpeg -dev packages of tools/setup.sh. Output: build-fuzz/ (binary, corpus, crash-* files), or
# $LSSD_FUZZ_DIR.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
cd "$here"
secs=${1:-600}
shift || true
out=${LSSD_FUZZ_DIR:-build-fuzz}
mkdir -p "$out/corpus" "$out/artifacts"

cxx=$(command -v clang++ || command -v clang++-14 || true)
probe() { echo 'extern "C" int LLVMFuzzerTestOneInput(const unsigned char*, unsigned long){return 0;}' |
  "$cxx" -x c++ -fsanitize=fuzzer,address -o "$out/.probe" - >/dev/null 2>&1; }
if [[ -z "$cxx" ]] || ! probe; then
  echo "installing clang and libclang-rt-dev (libFuzzer, sanitizer runtimes)" >&2
  apt_get=(apt-get); [[ $(id -u) -ne 0 ]] && apt_get=(sudo apt-get)
  "${apt_get[@]}" update -qq && DEBIAN_FRONTEND=noninteractive "${apt_get[@]}" install -y -qq clang libclang-rt-dev
  cxx=$(command -v clang++)
  probe || { echo "clang cannot build a libFuzzer target" >&2; exit 1; }
fi
rm -f "$out/.probe"

bin=$out/fuzz_media
# src/media/nvdec_cuda.cc needs LibTorch: tests/fuzz/nvdec_unavailable.cc stands in (HWACCEL none).
srcs=(tests/fuzz/fuzz_media.cc tests/fuzz/nvdec_unavailable.cc src/clips/*.cc src/transform/video_transform.cc)
for f in src/media/*.cc; do [[ $f == src/media/nvdec_cuda.cc ]] || srcs+=("$f"); done
if [[ ! -x $bin ]] || [[ -n $(find "${srcs[@]}" include/lssd -newer "$bin" 2>/dev/null | head -1) ]]; then
  echo "building $bin with $cxx" >&2
  "$cxx" -std=c++17 -O1 -g -fno-omit-frame-pointer -fsanitize=fuzzer,address,undefined \
    -fno-sanitize-recover=undefined -Iinclude -Isrc "${srcs[@]}" -o "$bin" \
    $(pkg-config --cflags --libs libavformat libavcodec libavutil libswscale spdlog)
fi

# Seeds: the bad-input corpus (generated once) and sample_data.
if [[ ! -e $out/seeds/.done ]]; then
  rm -rf "$out/seeds"
  "${LSSD_PYTHON:-/usr/bin/python3}" tests/e2e/bad_corpus.py "$out/seeds/bad" >/dev/null
  cp -r sample_data "$out/seeds/sample"
  touch "$out/seeds/.done"
fi
seed_dir=$out/seeds/flat
rm -rf "$seed_dir" && mkdir -p "$seed_dir"
i=0
while IFS= read -r -d '' f; do
  cp "$f" "$seed_dir/seed$((i++))" 2>/dev/null || true  # a FIFO, a loop, mode 000 (non-root)
done < <(find "$out/seeds/bad" "$out/seeds/sample" -type f ! -name '*.md' -size -2M -print0)
echo "fuzzing for $secs s; $i seeds; corpus $out/corpus; findings $out/artifacts/" >&2
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:allocator_may_return_null=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
set +e
"$bin" "$out/corpus" "$seed_dir" -max_total_time="$secs" -timeout=30 -rss_limit_mb=4096 -max_len=262144 \
  -artifact_prefix="$out/artifacts/" -print_final_stats=1 "$@" 2>&1 | tee "$out/fuzz.log" | grep -v '^#[0-9]*.*\(NEW\|REDUCE\)'
rc=${PIPESTATUS[0]}
set -e
echo "libFuzzer exit code $rc; log $out/fuzz.log; findings:" >&2
ls -la "$out/artifacts/" >&2
exit "$rc"
