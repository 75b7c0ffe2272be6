#!/usr/bin/env bash
# The demo: set-up, build, write and export a seeded-random checkpoint in the release layout,
# run lssd-infer on sample_data/, show what was written.
# Usage: tools/demo.sh [--tiny]   (--tiny: the small test variant instead of full-size MViT-S)
# Outputs: checkpoints/demo-*.pyth, models/demo-*/{video,audio}.pt, out/demo/
# The Python tools run with $LSSD_PYTHON (default /usr/bin/python3, where tools/setup.sh installs
# Debian's python3-torch and friends).
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
cd "$here"
variant=S
tiny_flag=()
if [[ "${1:-}" == "--tiny" ]]; then variant=tiny; tiny_flag=(--tiny); fi

tools/setup.sh
py=${LSSD_PYTHON:-/usr/bin/python3}
"$py" tools/lssd_pydeps.py torch numpy >/dev/null
tools/build.sh --quiet lssd-infer lssd-read  # build/ as tools/test.sh has it (test.sh builds the tests)

ckpt=checkpoints/demo-$variant.pyth
models=models/demo-$variant
if [[ ! -f $models/video.pt || ! -f $models/audio.pt ]]; then
  mkdir -p checkpoints
  echo "== writing a seeded-random $variant checkpoint (release layout): $ckpt"
  "$py" tools/lssd_checkpoint.py random --size S "${tiny_flag[@]}" --seed 0 -o "$ckpt" >/dev/null
  echo "== exporting it to TorchScript: $models/{video,audio}.pt"
  "$py" tools/lssd_export.py --checkpoint "$ckpt" --out-dir "$models" >/dev/null
fi

echo "== lssd-infer on sample_data/ (sample_data/video/misc/broken.mp4 is broken on purpose: exit 3)"
set +e
build/lssd-infer --cfg configs/B3.yaml DATA.PATH_TO_DATA_DIR sample_data OUTPUT_DIR out/demo \
  MODEL.VIDEO_ENCODER_FILE "$models/video.pt" MODEL.AUDIO_ENCODER_FILE "$models/audio.pt"
rc=$?
set -e
echo "lssd-infer exit code: $rc"

echo "== what was written"
find out/demo -maxdepth 1 -type f | sort
build/lssd-read ls out/demo 2>/dev/null || find out/demo -name '*.npy' | sort
echo "== read back with numpy (tools/lssd_postprocess.py)"
"$py" - <<'PY'
import sys
sys.path.insert(0, "tools")
from lssd_postprocess import postprocess
for mtype in ("video", "audio"):
    records = postprocess("out/demo", mtype)
    for path, emb in records:
        print(f"{mtype:5s} {str(emb.shape):14s} {path}")
PY
