"""Video clip tensors of lssd_probe vs the release's Python path, clip by clip.

Reference per clip: torchvision.io.read_video(path, a, b, pts_unit='sec') (PyAV decode,
frame.to_rgb()), pytorchvideo-style uniform_temporal_subsample to 25 fps then 16 frames,
float / 255, short side to 256 with torch.nn.functional.interpolate(bilinear,
align_corners=False), torchvision FiveCrop(224), stacked to [5, 3, 16, 224, 224].
Checks: the decoded RGB frames are bit-identical, and the tensors agree within 1e-5.
"""
import math
import os
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import media_oracle_common as mc  # noqa: E402

TOL = 1e-5


def reference_clip(path, a, b, fps):
    import torch
    import torchvision
    import torchvision.transforms as TT

    frames, _, _ = torchvision.io.read_video(path, a, b, pts_unit="sec")  # [n, H, W, 3] uint8
    n = frames.shape[0]
    sel = mc.select_frames(n, fps)
    x = frames[sel]  # [16, H, W, 3]
    raw = x.numpy()
    x = x.permute(3, 0, 1, 2).float() / 255.0  # [3, 16, H, W]
    c, t, h, w = x.shape
    size = 256
    if w < h:
        new_h, new_w = int(math.floor((float(h) / w) * size)), size
    else:
        new_h, new_w = size, int(math.floor((float(w) / h) * size))
    x = torch.nn.functional.interpolate(x, size=(new_h, new_w), mode="bilinear", align_corners=False)
    crops = TT.FiveCrop(224)(x)
    return torch.stack(crops).numpy(), raw, n


def main():
    c = mc.Checker("test_video_oracle", quiet=True)  # messages say what failed
    t0 = time.time()
    worst = 0.0
    for path in mc.sample_files("video"):
        name = os.path.relpath(path, mc.SOURCE_DIR)
        if path.endswith(".md") or "broken" in path:
            continue
        pts, tb, fps = mc.release_video_timestamps(path)
        clips = mc.release_video_clips(pts, tb)
        if clips is None:
            continue
        with mc.tmpdir() as d:
            res = mc.run_probe("video", path, d, "--frames")
            c.check("error" not in res, f"{name}: probe error {res.get('error')}")
            if "error" in res:
                continue
            c.check(len(res["clips"]) == len(clips), f"{name}: {len(res['clips'])} clips, want {len(clips)}")
            for k, (a, b) in enumerate(clips):
                want, raw, n = reference_clip(path, a, b, fps)
                got = np.load(os.path.join(d, f"clip_{k}.npy"))
                frames = np.load(os.path.join(d, f"frames_{k}.npy"))
                c.check(res["clips"][k]["num_decoded"] == n,
                        f"{name} clip {k}: {res['clips'][k]['num_decoded']} frames decoded, read_video gave {n}")
                c.check(frames.shape == raw.shape and np.array_equal(frames, raw),
                        f"{name} clip {k}: RGB frames differ from PyAV to_rgb() "
                        f"(max {np.abs(frames.astype(int) - raw.astype(int)).max() if frames.shape == raw.shape else 'shape'})")
                if got.shape != want.shape:
                    c.check(False, f"{name} clip {k}: shape {got.shape} != {want.shape}")
                    continue
                diff = float(np.abs(got - want).max())
                worst = max(worst, diff)
                c.check(diff <= TOL, f"{name} clip {k}: max |diff| {diff:g} > {TOL}")
                print(f"{name} clip {k} [{float(a):.4f}, {float(b):.4f}]: {n} frames, shape {list(got.shape)}, "
                      f"max |diff| {diff:.3g}, mean |diff| {float(np.abs(got - want).mean()):.3g}")
    print(f"worst max |diff| {worst:.3g}; {time.time() - t0:.1f} s")
    return c.finish()


if __name__ == "__main__":
    sys.exit(main())
