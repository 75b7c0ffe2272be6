"""The GPU path's pixels on the CPU: clip tensors from the decoded frames' 4:2:0 planes through the
LibTorch conversion and transform (src/transform/yuv_torch.cc, what NVDEC's frames go through)
against today's path (swscale's to_rgb() + VideoTransform), clip by clip, on every sample video
and on files of other encoders written here (full range x264 and MJPEG, BT.709-tagged x264,
XviD-like MPEG-4 ASP at an odd chroma width).

Checks, per clip: the planes were delivered; the kept frames' RGB is within 1 (of 255) of
swscale's; the tensors within 1e-4 (float rounding; one RGB level is ~0.017 normalised); the embeddings of both tensors (seeded random tiny video tower,
tools/lssd_checkpoint.py; --size S for the full-size S tower) have cosine >= 0.9999 for each of
the 5 crops. Prints the max differences and the lowest per-clip cosine.
Usage: test_yuv_transform_oracle.py [--tmp DIR] [--size tiny|S]
"""
import os
import subprocess
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import lssd_oracle_common as common  # noqa: E402
import media_oracle_common as mc  # noqa: E402

import lssd_checkpoint  # noqa: E402  (tools/, on sys.path through lssd_oracle_common)
import lssd_mvit  # noqa: E402
import torch  # noqa: E402

GENERATED = [  # name, size, ffmpeg output options
    ("x264_full_range.mp4", "320x240", ["-pix_fmt", "yuvj420p", "-c:v", "libx264"]),
    ("x264_bt709_tags.mkv", "352x288", ["-pix_fmt", "yuv420p", "-colorspace", "bt709", "-color_primaries", "bt709",
                                        "-color_trc", "bt709", "-c:v", "libx264"]),
    ("mjpeg_full_range.avi", "320x240", ["-pix_fmt", "yuvj420p", "-c:v", "mjpeg", "-q:v", "3"]),
    ("xvid_like_odd_chroma.avi", "330x246", ["-pix_fmt", "yuv420p", "-c:v", "mpeg4", "-vtag", "XVID", "-bf", "2",
                                             "-q:v", "4"]),
]


def generate(d):
    out = []
    for name, size, opts in GENERATED:
        path = os.path.join(d, name)
        subprocess.run(["ffmpeg", "-nostdin", "-loglevel", "error", "-y", "-f", "lavfi", "-i",
                        f"testsrc2=size={size}:rate=25:duration=3.5", *opts, path], check=True)
        out.append(path)
    return out


def tower(size):
    prefix = lssd_mvit.PREFIX["video"]
    sd = lssd_checkpoint.random_state_dict(size, False, 0)
    video = {k[len(prefix):]: v for k, v in sd.items() if k.startswith(prefix)}
    return lssd_checkpoint.load_tower(video, "video", size, False)


def main():
    args = common.parse_args(__doc__, lambda ap: ap.add_argument("--size", default="tiny", choices=["tiny", "S"]))
    c = mc.Checker("test_yuv_transform_oracle", quiet=True)
    t0, cpu0 = time.time(), time.process_time()
    torch.manual_seed(0)
    model = tower(args.size)
    worst_rgb, worst_tensor, lowest_cos, clips = 0, 0.0, 1.0, 0
    with common.scratch(args.tmp) as d:
        files = [p for p in mc.sample_files("video") if not p.endswith(".md") and "broken" not in p]
        files += generate(d)
        for path in files:
            name = os.path.basename(path)
            out = os.path.join(d, "out_" + name)
            os.makedirs(out, exist_ok=True)
            res = mc.run_probe("video", path, out, "--yuv")
            if "error" in res:
                c.check(False, f"{name}: probe error {res['error']}")
                continue
            for rec in res["clips"]:
                k = rec["index"]
                if not c.check(rec.get("yuv") is True, f"{name} clip {k}: no 4:2:0 planes"):
                    continue
                clips += 1
                worst_rgb = max(worst_rgb, rec["yuv_rgb_max_abs_diff"])
                worst_tensor = max(worst_tensor, rec["yuv_tensor_max_abs_diff"])
                c.check(rec["yuv_rgb_max_abs_diff"] <= 1, f"{name} clip {k}: RGB max |diff| {rec['yuv_rgb_max_abs_diff']}")
                c.check(rec["yuv_tensor_max_abs_diff"] <= 1e-4,
                        f"{name} clip {k}: tensor max |diff| {rec['yuv_tensor_max_abs_diff']:.3g}")
                a = torch.from_numpy(np.load(os.path.join(out, f"clip_{k}.npy")))
                b = torch.from_numpy(np.load(os.path.join(out, f"clip_yuv_{k}.npy")))
                with torch.no_grad():
                    cos = torch.nn.functional.cosine_similarity(model(a), model(b), dim=1).min().item()
                lowest_cos = min(lowest_cos, cos)
                c.check(cos >= 0.9999, f"{name} clip {k}: embedding cosine {cos:.6f} < 0.9999")
            print(f"{name}: {len(res['clips'])} clips")
    print(f"{clips} clips: worst RGB max |diff| {worst_rgb} of 255, worst tensor max |diff| {worst_tensor:.3g}, "
          f"lowest per-clip cosine ({args.size} tower) {lowest_cos:.7f}; "
          f"{time.time() - t0:.1f} s wall, {time.process_time() - cpu0:.1f} s CPU (this process)")
    c.check(clips >= 25, f"only {clips} clips compared")
    return c.finish()


if __name__ == "__main__":
    sys.exit(main())
