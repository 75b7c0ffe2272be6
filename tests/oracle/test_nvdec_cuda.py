"""NVDEC against the CPU decoder (MEDIA.HWACCEL cuda; README "Decoding on the GPU"), on a machine
with a GPU (label cuda: not run by tools/test.sh). Per file (every sample video, and files written
here: full-range and BT.709-tagged x264, 1080p x264 (1088 coded rows, cropped), HEVC, XviD-like
MPEG-4 ASP, MJPEG), tests/lssd_probe with --hwaccel none and --hwaccel cuda:
- H.264, HEVC and VP9 are decoded by NVDEC ("decoder": "nvdec"), the others on the CPU with the
  reason ("fallback"), and their tensors are then bit-identical;
- both give the same clips (count, pts of every clip and of its kept frames);
- the clip tensors agree within 1e-4 (one RGB level is 1/255/std, ~0.017 normalised: a pixel NVDEC decodes or
  converts otherwise fails this), and the tiny video tower's embeddings of each clip have cosine
  >= 0.9999 for all 5 crops. Prints the largest difference and the lowest cosine.
Usage: test_nvdec_cuda.py [--tmp DIR]
"""
import json
import os
import subprocess
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import lssd_oracle_common as common  # noqa: E402
import media_oracle_common as mc  # noqa: E402
import test_yuv_transform_oracle as yuv  # noqa: E402  (its generated files and tiny tower)

import torch  # noqa: E402

NVDEC_CODECS = ("h264", "hevc", "vp9")
MORE = [  # name, size, ffmpeg output options (beside test_yuv_transform_oracle's)
    ("x264_1080p.mp4", "1920x1080", ["-pix_fmt", "yuv420p", "-c:v", "libx264", "-preset", "veryfast"]),
    ("x265.mp4", "640x360", ["-pix_fmt", "yuv420p", "-c:v", "libx265", "-x265-params", "log-level=error"]),
]


def generate_more(d):
    out = []
    for name, size, opts in MORE:
        path = os.path.join(d, name)
        r = subprocess.run(["ffmpeg", "-nostdin", "-loglevel", "error", "-y", "-f", "lavfi", "-i",
                            f"testsrc2=size={size}:rate=25:duration=3.5", *opts, path])
        if r.returncode == 0:
            out.append(path)
        else:
            print(f"{name}: this ffmpeg cannot write it (skipped)")
    return out


def codec_of(path):
    info = subprocess.run([mc.PROBE, "info", path], capture_output=True, text=True)
    streams = json.loads(info.stdout).get("streams", []) if info.returncode == 0 else []
    return next((s["codec"] for s in streams if s["type"] == "video"), "?")


def main():
    args = common.parse_args(__doc__)
    c = mc.Checker("test_nvdec_cuda", quiet=True)
    if not c.check(torch.cuda.is_available(), "a CUDA device (this test needs a GPU)"):
        return c.finish()
    t0 = time.time()
    model = yuv.tower("tiny")
    worst, lowest, nvdec_clips = 0.0, 1.0, 0
    with common.scratch(args.tmp) as d:
        files = [p for p in mc.sample_files("video") if not p.endswith(".md") and "broken" not in p]
        files += yuv.generate(d) + generate_more(d)
        for path in files:
            name, codec = os.path.basename(path), codec_of(path)
            res = {}
            for h in ("none", "cuda"):
                out = os.path.join(d, f"{h}_{name}")
                os.makedirs(out, exist_ok=True)
                res[h] = (mc.run_probe("video", path, out, "--hwaccel", h), out)
            (cpu, cpu_dir), (gpu, gpu_dir) = res["none"], res["cuda"]
            if not c.check("error" not in gpu and "error" not in cpu, f"{name}: {gpu.get('error') or cpu.get('error')}"):
                continue
            want = "nvdec" if codec in NVDEC_CODECS else "cpu"
            c.check(gpu["decoder"] == want, f"{name} ({codec}): decoder {gpu['decoder']} ({gpu['fallback']}), want {want}")
            c.check(len(gpu["clips"]) == len(cpu["clips"]) and all(
                a["pts"] == b["pts"] and a["clip_pts"] == b["clip_pts"] for a, b in zip(gpu["clips"], cpu["clips"])),
                f"{name}: the clips differ between the decoders")
            for rec in cpu["clips"]:
                k = rec["index"]
                a = np.load(os.path.join(cpu_dir, f"clip_{k}.npy"))
                b = np.load(os.path.join(gpu_dir, f"clip_{k}.npy"))
                diff = float(np.abs(a - b).max())
                if gpu["decoder"] == "nvdec":
                    nvdec_clips += 1
                    worst = max(worst, diff)
                    c.check(diff <= 1e-4, f"{name} clip {k}: NVDEC tensor max |diff| {diff:.3g} > 1e-4")
                    with torch.no_grad():
                        cos = torch.nn.functional.cosine_similarity(model(torch.from_numpy(a)),
                                                                    model(torch.from_numpy(b)), dim=1).min().item()
                    lowest = min(lowest, cos)
                    c.check(cos >= 0.9999, f"{name} clip {k}: cosine {cos:.6f} < 0.9999")
                else:
                    c.check(diff == 0.0, f"{name} clip {k}: CPU fallback differs from the CPU ({diff:.3g})")
            print(f"{name} ({codec}): {gpu['decoder']}, {len(cpu['clips'])} clips")
    print(f"{nvdec_clips} NVDEC clips: worst tensor max |diff| {worst:.3g}, lowest per-clip cosine (tiny) "
          f"{lowest:.7f}; {time.time() - t0:.1f} s")
    c.check(nvdec_clips >= 10, f"only {nvdec_clips} clips on NVDEC")
    return c.finish()


if __name__ == "__main__":
    sys.exit(main())
