#!/usr/bin/env python3
"""Oracle: lssd's audio transform vs torchaudio 0.13 / torchvision 0.14 (the release's code).

Signals (tones, noise, chirp, speech-like, quiet) at 48000, 44100, 16000 Hz (plus 22050 and
8000), shorter and longer than the 3 s clip, go through
  torchaudio.functional.resample -> truncate/zero-pad -> MelSpectrogram -> AmplitudeToDB
  -> torchvision CenterCrop
and through tests/tools/lssd_audio_probe on the same float32 samples. Pass: max |diff| <= 1e-3 dB
in every case. Prints the measured figure per case and the C++ time per clip.
Env: LSSD_BUILD_DIR (the build tree with tests/lssd_audio_probe).
"""
import json
import math
import os
import subprocess
import sys
import tempfile
import time

import numpy as np
import torch
import torchaudio
import torchaudio.functional as AF
import torchvision
from torchaudio.functional.functional import _apply_sinc_resample_kernel, _get_sinc_resample_kernel

TOL_DB = 1e-3
SR = 48000


def probe_path():
    build = os.environ.get("LSSD_BUILD_DIR", os.path.join(os.path.dirname(__file__), "..", "..", "build"))
    p = os.path.join(build, "tests", "lssd_audio_probe")
    if not os.path.exists(p):
        sys.exit(f"missing {p}: build the lssd_audio_probe target")
    return p


def reference(x, sr, clip_len=3.0, crop=(96, 288), resampler="functional"):
    """The release's audio clip -> [1,96,288], op for op."""
    w = torch.from_numpy(x)[None]  # [1, n]
    if sr != SR:
        if resampler == "functional":
            w = AF.resample(w, sr, SR)
        else:  # torchaudio.transforms.Resample: kernel built in float64, cast to float32
            w = torchaudio.transforms.Resample(sr, SR)(w)
    n = int(clip_len * SR)
    if w.shape[-1] >= n:
        w = w[:, :n]
    else:
        w = torch.nn.functional.pad(w, (0, n - w.shape[-1]))
    mel = torchaudio.transforms.MelSpectrogram(sample_rate=SR, n_fft=1024, hop_length=501, n_mels=96)(w)
    db = torchaudio.transforms.AmplitudeToDB()(mel)
    return torchvision.transforms.CenterCrop(list(crop))(db).numpy()


def signal(kind, sr, seconds, rng):
    n = int(round(seconds * sr))
    t = np.arange(n) / sr
    if kind == "tone":
        x = 0.5 * np.sin(2 * np.pi * 1000.0 * t) + 0.2 * np.sin(2 * np.pi * 3150.0 * t + 0.3)
    elif kind == "noise":
        x = 0.3 * rng.standard_normal(n)
    elif kind == "chirp":  # 50 Hz -> 0.45 sr, exponential sweep
        f0, f1 = 50.0, 0.45 * sr
        k = (f1 / f0) ** (1.0 / max(seconds, 1e-9))
        x = 0.6 * np.sin(2 * np.pi * f0 * (k ** t - 1.0) / np.log(k))
    elif kind == "speech":  # glottal pulse train through formant-like resonances, syllable envelope
        f0 = 120.0 + 30.0 * np.sin(2 * np.pi * 0.7 * t)
        phase = np.cumsum(f0 / sr)
        src = np.zeros(n)
        src[np.nonzero(np.diff(np.floor(phase), prepend=0.0))[0]] = 1.0
        x = np.zeros(n)
        pulses = np.nonzero(src)[0]
        m = int(0.03 * sr)
        k = np.arange(m)
        for fc, bw in ((700.0, 90.0), (1200.0, 110.0), (2600.0, 160.0)):
            r = math.exp(-math.pi * bw / sr)
            ring = (r ** k) * np.sin(2 * np.pi * fc / sr * (k + 1))  # a resonator's impulse response
            for i in pulses:
                j = min(n, i + m)
                x[i:j] += ring[:j - i]
        env = 0.5 * (1 - np.cos(2 * np.pi * 3.0 * t)) + 0.05
        x = env * x + 0.01 * rng.standard_normal(n)
        x = 0.7 * x / (np.abs(x).max() + 1e-9)
    elif kind == "quiet":  # mostly near the -100 dB floor
        x = 1e-4 * np.sin(2 * np.pi * 440.0 * t) + 1e-6 * rng.standard_normal(n)
    else:
        raise ValueError(kind)
    return x.astype(np.float32)


def run_batch(probe, tmp, jobs, repeat=1):
    """jobs: [(x, sr, stage, clip_len)] -> [(array, info)], one probe process for all."""
    lines = []
    for i, (x, sr, stage, clip_len) in enumerate(jobs):
        inp = os.path.join(tmp, f"x{i}.f32")
        x.astype("<f4").tofile(inp)
        lines.append(f"{inp} {sr} {os.path.join(tmp, f'y{i}.npy')} {stage} {clip_len!r}")
    listing = os.path.join(tmp, "jobs.txt")
    with open(listing, "w") as f:
        f.write("\n".join(lines) + "\n")
    r = subprocess.run([probe, "--batch", listing, "--repeat", str(repeat)], capture_output=True, text=True)
    if r.returncode != 0:
        raise RuntimeError(f"probe failed ({r.returncode}): {r.stderr}")
    infos = [json.loads(line) for line in r.stdout.strip().splitlines()]
    assert len(infos) == len(jobs), r.stdout
    return [(np.load(info["out"]), info) for info in infos]


def maxdiff(a, b):
    if a.shape != b.shape:
        return float("inf")
    return float(np.abs(a.astype(np.float64) - b.astype(np.float64)).max())


def resample64(x, sr):
    """torchaudio's resampler with the kernel in float64 (what the sparse path approximates)."""
    g = math.gcd(sr, SR)
    k, w = _get_sinc_resample_kernel(sr, SR, g, dtype=torch.float64)
    return _apply_sinc_resample_kernel(torch.from_numpy(x.astype(np.float64))[None], sr, SR, g, k, w)[0].numpy()


def main():
    t_start = time.time()
    probe = probe_path()
    rng = np.random.default_rng(1)
    failures = []
    worst = {}
    with tempfile.TemporaryDirectory() as tmp:
        # 1. The full transform, against the release's operators.
        cases = []
        for sr in (48000, 44100, 16000):
            for kind in ("tone", "noise", "chirp", "speech", "quiet"):
                for seconds in (1.3, 4.7):
                    cases.append((kind, sr, seconds, 3.0))
        for sr in (22050, 8000):
            for kind in ("chirp", "speech"):
                cases.append((kind, sr, 3.4, 3.0))
        cases.append(("speech", 44100, 3.0, 3.0))  # exactly the clip length at the native rate
        # Other clip lengths: 2 s gives 192 frames, zero-padded by CenterCrop to 288 (48 + 48);
        # 4 s gives 384 frames, cropped to the middle 288; 2.01 s gives 193 frames (odd padding).
        for clip_len in (2.0, 2.01, 4.0):
            cases.append(("speech", 44100, 5.0, clip_len))
        signals = [signal(kind, sr, seconds, rng) for kind, sr, seconds, _ in cases]
        results = run_batch(probe, tmp, [(x, c[1], "crop", c[3]) for x, c in zip(signals, cases)])
        print(f"{'case':44s} {'max|diff| dB':>13s} {'bit-equal':>9s}")
        for (kind, sr, seconds, clip_len), x, (got, _) in zip(cases, signals, results):
            ref = reference(x, sr, clip_len=clip_len)
            name = f"{kind} {sr} Hz {seconds} s" + (f" clip_len {clip_len}" if clip_len != 3.0 else "")
            d = maxdiff(got, ref)
            if clip_len == 3.0:
                worst[sr] = max(worst.get(sr, 0.0), d)
            print(f"{name:44s} {d:13.3e} {str(bool(np.array_equal(got, ref))):>9s}")
            if not d <= TOL_DB:
                failures.append(f"{name}: max diff {d} dB > {TOL_DB} (shapes {got.shape} {ref.shape})")

        # 2. The resampled waveform: bit-equal to torchaudio through the kernel path; the sparse
        # (kernel-free) path matches the float64-kernel resampler, and torchaudio's float32-kernel
        # one to within that kernel's own error.
        rates = (44100, 16000, 22050, 8000, 32000, 96000)
        xs = [signal("noise", sr, 1.7, rng) for sr in rates]
        jobs = [(x, sr, "resample", 3.0) for x, sr in zip(xs, rates)] + \
               [(x, sr, "direct", 3.0) for x, sr in zip(xs, rates)]
        res = run_batch(probe, tmp, jobs)
        for i, (x, sr) in enumerate(zip(xs, rates)):
            ref32 = AF.resample(torch.from_numpy(x)[None], sr, SR)[0].numpy()
            ref64 = resample64(x, sr)
            dk, dd32, dd64 = maxdiff(res[i][0], ref32), maxdiff(res[len(rates) + i][0], ref32), \
                maxdiff(res[len(rates) + i][0], ref64)
            print(f"resample {sr:6d} Hz: kernel vs torchaudio {dk:.1e}; sparse vs torchaudio {dd32:.1e}, "
                  f"vs float64 kernel {dd64:.1e}")
            if not (dk == 0.0 and dd32 <= 5e-5 and dd64 <= 1e-6):
                failures.append(f"resample {sr}: kernel diff {dk}, sparse diffs {dd32} / {dd64}")

        # 3. A prime rate (a 48000 x 44071-tap kernel in torchaudio: 8 GB) takes the sparse path.
        x = signal("chirp", 44057, 0.5, rng)
        (got, info), = run_batch(probe, tmp, [(x, 44057, "crop", 3.0)])
        if got.shape != (1, 96, 288) or not np.isfinite(got).all() or info["kernel_cache"]["builds"] != 0:
            failures.append(f"44057 Hz: bad output {got.shape} {info}")
        print(f"chirp 44057 Hz (sparse path): shape {got.shape}, kernel cache {info['kernel_cache']}")

        # For information: torchaudio.transforms.Resample builds its kernel in float64.
        x = signal("speech", 44100, 3.2, rng)
        a, b = reference(x, 44100), reference(x, 44100, resampler="transforms")
        print(f"info: functional.resample vs transforms.Resample (44100 Hz speech): "
              f"max |diff| {maxdiff(a, b):.3e} dB")

        # 4. C++ time per clip (the probe's own timing, warm, after one warm-up run).
        threads = os.environ.get("OMP_NUM_THREADS", "default")
        trates = (48000, 44100, 16000)
        res = run_batch(probe, tmp, [(signal("noise", sr, 3.0, rng), sr, "crop", 3.0) for sr in trates], repeat=21)
        for sr, (_, info) in zip(trates, res):
            print(f"time per 3 s clip at {sr} Hz: mean {info['mean_s'] * 1e3:.2f} ms, "
                  f"min {info['min_s'] * 1e3:.2f} ms (first call {info['first_s'] * 1e3:.2f} ms, "
                  f"OMP_NUM_THREADS={threads})")

    print("worst per rate (3 s clips): " + ", ".join(f"{k} Hz {v:.3e} dB" for k, v in sorted(worst.items())))
    print(f"oracle took {time.time() - t_start:.1f} s")
    if failures:
        print("FAIL:\n  " + "\n  ".join(failures))
        return 1
    print("PASS")
    return 0


if __name__ == "__main__":
    sys.exit(main())
