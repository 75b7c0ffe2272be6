"""Shared helpers of the media oracle tests: paths, the probe runner, and the release's rules
written in Python (torchvision 0.14 / PyAV / torchaudio / pytorchvideo-style code)."""
import json
import math
import os
import subprocess
import sys
import tempfile
from fractions import Fraction

SOURCE_DIR = os.environ.get("LSSD_SOURCE_DIR", os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
BUILD_DIR = os.environ.get("LSSD_BUILD_DIR", os.path.join(SOURCE_DIR, "build"))
SAMPLE_DIR = os.path.join(SOURCE_DIR, "sample_data")
PROBE = os.path.join(BUILD_DIR, "tests", "lssd_probe")
T = 3.0


def sample_files(kind):
    """Every sample file under sample_data/<kind>/ (sorted), broken ones included."""
    out = []
    for root, _, files in os.walk(os.path.join(SAMPLE_DIR, kind)):
        for f in files:
            out.append(os.path.join(root, f))
    return sorted(out)


def run_probe(mode, path, out_dir, *extra):
    r = subprocess.run([PROBE, mode, path, out_dir, *extra], capture_output=True, text=True)
    with open(os.path.join(out_dir, "result.json")) as f:
        res = json.load(f)
    if r.returncode not in (0, 3):
        raise RuntimeError(f"lssd_probe failed ({r.returncode}): {r.stderr}")
    return res


def release_video_timestamps(path):
    """torchvision.io.read_video_timestamps(path, pts_unit='pts'): sorted pts, time base, fps."""
    import av
    import torchvision.io.video as tvv

    with av.open(path, metadata_errors="ignore") as container:
        stream = container.streams.video[0]
        tb = stream.time_base
        fps = float(stream.average_rate) if stream.average_rate is not None else None
        pts = tvv._decode_video_timestamps(container)
    return sorted(pts), tb, fps


def release_video_clips(pts, tb):
    """The clip rule on exact fractions: [[a, b], ...] with a, b float or Fraction as the
    release would have them."""
    if len(pts) < 2:
        return None
    end = pts[-1] * tb  # Fraction
    clips = []
    i = 0
    while (i + 1) * T < end:
        clips.append([i * T, (i + 1) * T])
        i += 1
    if not clips:
        clips = [[0.0, end]]
    elif end - clips[-1][1] > T / 2:  # Fraction - float -> float
        clips.append([end - T, end])  # end - T is a float
    return clips


def clip_pts_range(a, b, tb):
    """torchvision _read_from_stream(pts_unit='sec') bounds."""
    lo = int(math.floor(a * (1 / tb)))
    hi = int(math.ceil(b * (1 / tb)))
    return lo, hi


def clip_frame_pts(sorted_pts, lo, hi):
    res = [p for p in sorted_pts if lo <= p <= hi]
    if lo > 0 and lo not in sorted_pts:
        prev = [p for p in sorted_pts if p < lo]
        if prev:
            res.insert(0, max(prev))
    return res


def uniform_temporal_subsample_idx(t, num_samples):
    """pytorchvideo's uniform_temporal_subsample indices."""
    import torch

    idx = torch.linspace(0, t - 1, num_samples)
    return torch.clamp(idx, 0, t - 1).long()


def select_frames(n, fps):
    import torch

    idx = torch.arange(n)
    if fps != 25:
        idx = idx[uniform_temporal_subsample_idx(n, math.ceil(n / fps * 25))]
    return idx[uniform_temporal_subsample_idx(len(idx), 16)]


class Checker:
    def __init__(self):
        self.failures = []

    def check(self, cond, msg):
        if not cond:
            self.failures.append(msg)
            print("FAIL:", msg)

    def finish(self):
        if self.failures:
            print(f"{len(self.failures)} failure(s)")
            sys.exit(1)
        print("OK")


def tmpdir():
    return tempfile.TemporaryDirectory(prefix="lssd_oracle_")
