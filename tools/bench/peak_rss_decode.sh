#!/usr/bin/env bash
# Peak resident memory of the video front-end (decode + clip planning + RGB + [5,3,16,224,224]
# transform, nothing written) on a 1-minute and a 10-minute video: memory must not grow with
# the length of a file (target: ratio <= 1.2).
# Usage: tools/bench/peak_rss_decode.sh [BUILD_DIR]   (default: build)
set -euo pipefail
here=$(cd "$(dirname "$0")/../.." && pwd)
build=${1:-$here/build}
probe=$build/tests/lssd_probe
py=${LSSD_PYTHON:-/usr/bin/python3}
[[ -x "$probe" ]] || { echo "build lssd_probe first ($probe)" >&2; exit 1; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

for mins in 1 10; do
  ffmpeg -nostdin -v error -y -f lavfi -i "testsrc2=size=640x360:rate=25" -t $((mins * 60)) \
    -c:v libx264 -preset ultrafast -crf 30 -pix_fmt yuv420p "$tmp/v${mins}.mp4"
done

declare -A rss secs
for mins in 1 10; do
  mkdir -p "$tmp/out$mins"
  /usr/bin/time -v "$probe" video "$tmp/v${mins}.mp4" "$tmp/out$mins" --no-write \
    > "$tmp/log$mins" 2> "$tmp/time$mins"
  rss[$mins]=$(awk -F': ' '/Maximum resident set size/ {print $2}' "$tmp/time$mins")
  secs[$mins]=$(awk -F': ' '/Elapsed \(wall clock\)/ {print $2}' "$tmp/time$mins")
  clips=$("$py" -c "import json,sys; print(json.load(open('$tmp/out$mins/result.json'))['num_clips'])")
  echo "${mins}-minute video: ${clips} clips, peak RSS ${rss[$mins]} KB, wall ${secs[$mins]}"
done
"$py" -c "print('peak RSS ratio 10 min / 1 min: %.3f' % (${rss[10]} / ${rss[1]}))"
