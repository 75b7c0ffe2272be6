"""Shared helpers of the media oracle tests: paths, the probe runner, and the release's rules
written in Python (torchvision 0.14 / PyAV / torchaudio / pytorchvideo-style code). Checker and
the paths come from tests/lssd_testing.py (the media tests check per file and clip: quiet=True)."""
import json
import math
import os
import subprocess
import sys
import tempfile
from fractions import Fraction

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))  # tests/
from lssd_testing import BUILD_DIR, SAMPLE_DIR, SOURCE_DIR, Checker  # noqa: E402,F401  (re-exported)

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
    """The release's own call, torchvision.io.read_video_timestamps(path) (pts_unit='pts'):
    sorted pts, the first video stream's time base, fps."""
    import warnings

    import av
    import torchvision.io as tvio

    with av.open(path, metadata_errors="ignore") as container:
        tb = container.streams.video[0].time_base
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        pts, fps = tvio.read_video_timestamps(path, pts_unit="pts")
    return pts, tb, fps


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


def release_read_clip(path, a, b):
    """torchvision.io.read_video(path, a, b, pts_unit='sec'), the release's own call, plus the pts
    of the frames it returned (recorded from torchvision's _read_from_stream, which read_video
    calls): (frames uint8 [n,H,W,3], [pts...], info)."""
    import warnings

    import torchvision.io.video as tvv

    seen = []
    original = tvv._read_from_stream

    def recording(container, start, end, unit, stream, stream_name):
        frames = original(container, start, end, unit, stream, stream_name)
        if stream.type == "video":
            seen.append([f.pts for f in frames])
        return frames

    tvv._read_from_stream = recording
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            frames, _, info = tvv.read_video(path, a, b, pts_unit="sec")
    finally:
        tvv._read_from_stream = original
    return frames, (seen[0] if seen else []), info


def clip_pts_range(a, b, tb):
    """torchvision _read_from_stream(pts_unit='sec') bounds."""
    lo = int(math.floor(a * (1 / tb)))
    hi = int(math.ceil(b * (1 / tb)))
    return lo, hi


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


def tmpdir():
    return tempfile.TemporaryDirectory(prefix="lssd_oracle_")
