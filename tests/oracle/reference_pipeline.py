#!/usr/bin/env python3
"""A Python reference pipeline that follows the release's rules (README.md, "The Python release's
behaviour") literally, the way the LSSD release computes embeddings (torchvision 0.14 /
torchaudio 0.13 / pytorchvideo-style code), on CPU in fp32, one file at a time. It is an oracle
for lssd-infer (tests/e2e/test_infer_parity.py) and a baseline for timing; it is not a test
itself.

  reference_pipeline.py --data DIR --out DIR --video-model video.pt --audio-model audio.pt
                        [--threads N] [--json-summary FILE] [--limit-files N] [--clip-len S]
                        [--no-video] [--no-audio] [-q]

Files: os.walk of --data (recursive), video extensions `mp4 avi`, audio `mp3 wav flac opus`
(case-sensitive, as the release: `X.MP4`, `.mkv`, `.webm` are ignored), sorted by relative path
(lssd-infer's order; the release's metadata order is the walk order).

Video (REFERENCE "Clips" and "Video clip -> tensor"):
  * timestamps: torchvision.io.read_video_timestamps(path, pts_unit='pts') (packet pts when the
    first stream's extradata contains "Lavc", else decoded frame pts), sorted; tb = time base of
    the first video stream; end = pts[-1] * tb as an exact Fraction. Fewer than 2: skipped.
  * clips: [i*T, (i+1)*T] (floats) while (i+1)*T < end (float vs Fraction: an exact
    comparison); none: [0, end]; else if end - last_stop > T/2 (Fraction - float = a float
    subtraction in Python) one more [end - T, end] whose start is the float float(end) - T and
    whose stop is the exact Fraction end.
  * frames: torchvision.io.read_video(path, a, b, pts_unit='sec') with exactly those values.
    torchvision's _read_from_stream computes lo = floor(a * (1/tb)), hi = ceil(b * (1/tb)); for
    a float a that is float(a) * float(1/tb) (Fraction's float fallback), for the Fraction `end`
    it is exact (hi = pts[-1]). It keeps every decoded frame with lo <= pts <= hi, in pts
    order, plus (lo > 0 and no frame at lo) the last frame before lo: REFERENCE's rule, with
    lo/hi as torchvision computes them. The script counts the frames that rule picks from the
    timestamps and warns ("WARNING") if read_video returned a different number.
    Exact fractions vs floats: REFERENCE says "times are exact fractions", but the tail start
    end - T is a Python float (Fraction - float), and float(end) - T times float(1/tb) can land
    just below an integer. On sample_data (T = 3):
      - testsrc2_640x360_25fps_7.6s.mp4, tail [4.6, 7.6], tb 1/12800: the exact lo is
        4.6 x 12800 = 58880 (a frame: 76 frames), torchvision's lo is floor(58879.99999999999)
        = 58879, so the frame before (pts 58368) is put first: 77 frames.
      - mandelbrot_240x320_29.97fps_4.64s.mp4, tail start 49139/30000 s: lo 49138 vs exact
        49139, no frame at either, the same 91 frames.
    By default the script passes the floats as the release's arithmetic gives them (which is
    also what lssd-infer's clip planner models); --exact-bounds passes exact Fractions instead
    (REFERENCE read literally). Each difference is printed as a "NOTE" line and recorded in the
    summary's "frame_check" (lo/hi/frames as used, exact_lo/exact_hi/exact_rule_frames).
  * fps = float(stream.average_rate); fps != 25: keep indices linspace(0, n-1, ceil(n/fps*25))
    (pytorchvideo uniform_temporal_subsample: torch.linspace, clamp, .long()); then 16 frames the
    same way; float / 255; pytorchvideo short_side_scale to 256 (F.interpolate bilinear,
    align_corners=False, on [C,T,H,W]); torchvision FiveCrop(224) (tl, tr, bl, br, center); each
    crop [1,3,16,224,224] through the TorchScript video encoder at batch 1; stacked to [5,768].

Audio: torchaudio.load (float in [-1,1], [C,n], native rate); mono = mean over channels (the
release rejects more than 2 channels; lssd-infer averages them all, so this does too); fewer than
2 samples: skipped; clips [int(i*T*sr), int((i+1)*T*sr)) while (i+1)*T*sr < n, none: [0, n),
else if n - last_stop > int(T*sr/2) one more [n - int(T*sr), n); each clip: resample to 48000
(torchaudio.functional.resample) when sr differs, truncate/zero-pad to int(T*48000),
MelSpectrogram(48000, n_fft 1024, hop 501, 96 mels), AmplitudeToDB(), CenterCrop([96,288]),
the audio encoder on [1,1,96,288].

Files that fail to open are skipped with a message (the release's read_video_timestamps only
warns and returns no timestamps, so it skips them as "too short").

Output (lssd-infer's layout): OUT/<video|audio>/<rel_path>.npy, float32 [M,5,768] / [M,768];
a JSON summary (--json-summary, default OUT/reference_summary.json):
  {"files": [{"modality", "rel_path", "path", "status": "ok"|"skipped_short"|"failed",
              "num_clips", "ranges", "fps"|"sample_rate", "frame_check"?, "error"?, "wall_s"}],
   "timing": {"wall_s", "clips", "clips_per_s", "decode_s", "encode_s", "threads"}}
Video ranges are float seconds [[a, b], ...]; audio ranges are sample indices [[s, e], ...].
Exit status: 0 (also when files were skipped), 2 on usage errors.
"""
import argparse
import json
import math
import os
import sys
import time
import warnings
from fractions import Fraction

VIDEO_EXTENSIONS = ("mp4", "avi")
AUDIO_EXTENSIONS = ("mp3", "wav", "flac", "opus")
TARGET_FPS = 25
N_FRAMES = 16
SHORT_SIDE = 256
CROP = 224
SR = 48000
N_FFT, HOP, N_MELS = 1024, 501, 96
AUDIO_CROP = (96, 288)


def discover(data_dir):
    """[(modality, rel_path, path)] sorted by relative path."""
    out = []
    for root, _dirs, files in os.walk(data_dir):
        for f in files:
            ext = f.rsplit(".", 1)[-1] if "." in f else ""
            path = os.path.join(root, f)
            rel = os.path.relpath(path, data_dir)
            if ext in VIDEO_EXTENSIONS:
                out.append(("video", rel, path))
            elif ext in AUDIO_EXTENSIONS:
                out.append(("audio", rel, path))
    out.sort(key=lambda x: x[1].encode("utf-8", "surrogateescape"))
    return out


# ---------------------------------------------------------------- clip rules

def video_clips(end, T):
    """The release's clip list for a video ending at `end` (a Fraction): [(a, b)] with a, b the
    values it passes to read_video (floats, or the Fraction `end`)."""
    clips = []
    i = 0
    while (i + 1) * T < end:  # float < Fraction: exact comparison
        clips.append((i * T, (i + 1) * T))
        i += 1
    if not clips:
        clips = [(0.0, end)]
    elif end - clips[-1][1] > T / 2:  # Fraction - float -> float
        clips.append((end - T, end))  # end - T is the float float(end) - T
    return clips


def audio_clips(n, sr, T):
    clips = []
    i = 0
    while (i + 1) * T * sr < n:
        clips.append((int(i * T * sr), int((i + 1) * T * sr)))
        i += 1
    if not clips:
        clips = [(0, n)]
    elif n - clips[-1][1] > int(T * sr / 2):
        clips.append((n - int(T * sr), n))
    return clips


def rule_frame_count(sorted_pts, lo, hi):
    """How many frames REFERENCE's rule picks from the timestamps."""
    sorted_pts = sorted(set(sorted_pts))
    k = sum(1 for p in sorted_pts if lo <= p <= hi)
    if lo > 0 and lo not in sorted_pts and any(p < lo for p in sorted_pts):
        k += 1
    return k


# ---------------------------------------------------------------- transforms

def uniform_temporal_subsample(x, num_samples, temporal_dim):
    """pytorchvideo.transforms.functional.uniform_temporal_subsample."""
    import torch

    t = x.shape[temporal_dim]
    idx = torch.linspace(0, t - 1, num_samples)
    idx = torch.clamp(idx, 0, t - 1).long()
    return torch.index_select(x, temporal_dim, idx)


def short_side_scale(x, size):
    """pytorchvideo.transforms.functional.short_side_scale (backend pytorch) on [C,T,H,W]."""
    import torch

    _c, _t, h, w = x.shape
    if w < h:
        new_h, new_w = int(math.floor((float(h) / w) * size)), size
    else:
        new_h, new_w = size, int(math.floor((float(w) / h) * size))
    return torch.nn.functional.interpolate(x, size=(new_h, new_w), mode="bilinear", align_corners=False)


def video_clip_tensor(vframes, fps):
    """[n,H,W,3] uint8 -> the five crops, each [3,16,224,224] float."""
    import torchvision.transforms as TT

    x = vframes.permute(3, 0, 1, 2)  # [C,T,H,W]
    if fps != TARGET_FPS:
        n = x.shape[1]
        x = uniform_temporal_subsample(x, math.ceil(n / fps * TARGET_FPS), 1)
    x = uniform_temporal_subsample(x, N_FRAMES, 1)
    x = x.float() / 255.0
    x = short_side_scale(x, SHORT_SIDE)
    return TT.FiveCrop(CROP)(x)


_AUDIO_TF = {}


def audio_clip_tensor(mono, sr, T):
    """[n] float mono at sr -> [1,96,288]."""
    import torch
    import torchaudio
    import torchaudio.functional as AF
    import torchvision.transforms as TT

    if not _AUDIO_TF:
        _AUDIO_TF["mel"] = torchaudio.transforms.MelSpectrogram(sample_rate=SR, n_fft=N_FFT, hop_length=HOP,
                                                                n_mels=N_MELS)
        _AUDIO_TF["db"] = torchaudio.transforms.AmplitudeToDB()
        _AUDIO_TF["crop"] = TT.CenterCrop(list(AUDIO_CROP))
    w = mono[None]  # [1,n]
    if sr != SR:
        w = AF.resample(w, sr, SR)
    n = int(T * SR)
    if w.shape[-1] >= n:
        w = w[:, :n]
    else:
        w = torch.nn.functional.pad(w, (0, n - w.shape[-1]))
    return _AUDIO_TF["crop"](_AUDIO_TF["db"](_AUDIO_TF["mel"](w)))


# ---------------------------------------------------------------- per file

class Timer:
    def __init__(self):
        self.decode = 0.0
        self.encode = 0.0


def process_video(path, model, T, timer, log, exact_bounds=False):
    import av
    import torch
    import torchvision.io as tvio

    rec = {}
    t0 = time.perf_counter()
    try:
        with av.open(path, metadata_errors="ignore") as c:
            if not c.streams.video:
                return {"status": "failed", "error": "no video stream"}
            st = c.streams.video[0]
            tb = st.time_base
            fps = float(st.average_rate) if st.average_rate is not None else None
    except av.AVError as e:
        return {"status": "failed", "error": f"cannot open: {e}"}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        pts, _ = tvio.read_video_timestamps(path, pts_unit="pts")
    rec["fps"] = fps
    if len(pts) < 2:
        timer.decode += time.perf_counter() - t0
        rec["status"] = "skipped_short"
        return rec
    end = pts[-1] * tb  # Fraction
    clips = video_clips(end, T)
    rec["ranges"] = [[float(a), float(b)] for a, b in clips]
    embs, checks = [], []
    for k, (a, b) in enumerate(clips):
        # REFERENCE's real bounds as exact fractions: i*T, (i+1)*T; or end - T, end (tail clip)
        tail = k > 0 and k == len(clips) - 1 and isinstance(b, Fraction)
        a_ex, b_ex = (end - Fraction(T) if tail else Fraction(a)), Fraction(b)
        if exact_bounds:
            a, b = a_ex, b_ex
        t1 = time.perf_counter()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            vframes, _, info = tvio.read_video(path, a, b, pts_unit="sec")
        # the bounds torchvision computes from what was passed, and the exact ones
        tv_lo, tv_hi = int(math.floor(a * (1 / tb))), int(math.ceil(b * (1 / tb)))
        ex_lo, ex_hi = math.floor(a_ex / tb), math.ceil(b_ex / tb)
        tv_n, ex_n = rule_frame_count(pts, tv_lo, tv_hi), rule_frame_count(pts, ex_lo, ex_hi)
        checks.append({"lo": tv_lo, "hi": tv_hi, "frames": int(vframes.shape[0]), "rule_frames": tv_n,
                       "exact_lo": ex_lo, "exact_hi": ex_hi, "exact_rule_frames": ex_n})
        if vframes.shape[0] != tv_n:
            log(f"WARNING {path} clip [{float(a)}, {float(b)}]: read_video gave {vframes.shape[0]} frames, the "
                f"rule picks {tv_n} from the timestamps (lo {tv_lo}, hi {tv_hi})")
        if (tv_lo, tv_hi) != (ex_lo, ex_hi):
            log(f"NOTE {path} clip [{float(a)}, {float(b)}]: torchvision's float bounds lo/hi {tv_lo}/{tv_hi} "
                f"({tv_n} frames) differ from the exact-fraction bounds {ex_lo}/{ex_hi} ({ex_n} frames)")
        if vframes.shape[0] == 0:
            raise RuntimeError(f"no frames decoded for clip [{float(a)}, {float(b)}]")
        crops = video_clip_tensor(vframes, info.get("video_fps", fps))
        t2 = time.perf_counter()
        timer.decode += t2 - t1
        with torch.no_grad():
            rows = [model(c[None]) for c in crops]  # each [1,768]
        embs.append(torch.cat(rows, 0))  # [5,768]
        timer.encode += time.perf_counter() - t2
    rec["frame_check"] = checks
    rec["status"] = "ok"
    rec["embedding"] = torch.stack(embs, 0).numpy()
    return rec


def process_audio(path, model, T, timer, log):
    import torch
    import torchaudio

    t0 = time.perf_counter()
    try:
        wav, sr = torchaudio.load(path)
    except Exception as e:  # noqa: BLE001 (RuntimeError from sox, among others)
        return {"status": "failed", "error": f"cannot open: {e}"}
    rec = {"sample_rate": int(sr)}
    n = wav.shape[1]
    if n < 2:
        timer.decode += time.perf_counter() - t0
        rec["status"] = "skipped_short"
        return rec
    mono = wav.mean(0) if wav.shape[0] > 1 else wav[0]
    clips = audio_clips(n, sr, T)
    rec["ranges"] = [[int(s), int(e)] for s, e in clips]
    timer.decode += time.perf_counter() - t0
    embs = []
    for s, e in clips:
        t1 = time.perf_counter()
        x = audio_clip_tensor(mono[s:e], sr, T)  # [1,96,288]
        t2 = time.perf_counter()
        timer.decode += t2 - t1
        with torch.no_grad():
            embs.append(model(x[None])[0])  # [768]
        timer.encode += time.perf_counter() - t2
    rec["status"] = "ok"
    rec["embedding"] = torch.stack(embs, 0).numpy()
    return rec


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter, epilog=__doc__)
    ap.add_argument("--data", required=True, help="input root (searched recursively)")
    ap.add_argument("--out", required=True, help="output root")
    ap.add_argument("--video-model", help="TorchScript video encoder (video.pt)")
    ap.add_argument("--audio-model", help="TorchScript audio encoder (audio.pt)")
    ap.add_argument("--threads", type=int, default=0, help="torch.set_num_threads (0: torch default)")
    ap.add_argument("--json-summary", help="summary file (default OUT/reference_summary.json)")
    ap.add_argument("--limit-files", type=int, default=0, help="only the first N input files (0: all)")
    ap.add_argument("--clip-len", type=float, default=3.0, help="TEST.CLIP_LEN in seconds")
    ap.add_argument("--no-video", action="store_true", help="skip video files")
    ap.add_argument("--no-audio", action="store_true", help="skip audio files")
    ap.add_argument("--exact-bounds", action="store_true",
                    help="pass exact Fraction clip bounds to read_video (REFERENCE's exact-fraction reading) "
                         "instead of the release's float tail start")
    ap.add_argument("-q", "--quiet", action="store_true", help="only the timing line and warnings")
    a = ap.parse_args(argv)

    import numpy as np
    import torch

    if a.threads > 0:
        torch.set_num_threads(a.threads)
    if not os.path.isdir(a.data):
        ap.error(f"--data {a.data}: not a directory")

    def log(msg):
        print(msg, file=sys.stderr, flush=True)

    t_start = time.perf_counter()
    files = discover(a.data)
    files = [f for f in files if not (a.no_video and f[0] == "video") and not (a.no_audio and f[0] == "audio")]
    if a.limit_files > 0:
        files = files[: a.limit_files]
    models = {}
    for m, p in (("video", a.video_model), ("audio", a.audio_model)):
        if any(f[0] == m for f in files):
            if not p:
                ap.error(f"--{m}-model is needed: there are {m} files")
            models[m] = torch.jit.load(p, map_location="cpu").eval()
    t_models = time.perf_counter() - t_start

    timer = Timer()
    summary = []
    clips_total = 0
    for modality, rel, path in files:
        t0 = time.perf_counter()
        try:
            if modality == "video":
                rec = process_video(path, models["video"], a.clip_len, timer, log, a.exact_bounds)
            else:
                rec = process_audio(path, models["audio"], a.clip_len, timer, log)
        except Exception as e:  # noqa: BLE001: one bad file does not stop the oracle
            rec = {"status": "failed", "error": f"{type(e).__name__}: {e}"}
        rec.update(modality=modality, rel_path=rel, path=path)
        emb = rec.pop("embedding", None)
        if emb is not None:
            out = os.path.join(a.out, modality, rel + ".npy")
            os.makedirs(os.path.dirname(out), exist_ok=True)
            np.save(out, emb.astype(np.float32))
            rec["num_clips"] = int(emb.shape[0])
            rec["shape"] = list(emb.shape)
            clips_total += int(emb.shape[0])
        else:
            rec["num_clips"] = 0
        rec["wall_s"] = time.perf_counter() - t0
        summary.append(rec)
        if rec["status"] == "failed":
            log(f"{path}: skipped: {rec['error']}")
        elif rec["status"] == "skipped_short":
            if not a.quiet:
                log(f"{path}: skipped (fewer than 2 {'timestamps' if modality == 'video' else 'samples'})")
        elif not a.quiet:
            log(f"{path}: {rec['num_clips']} clips in {rec['wall_s']:.2f} s")

    wall = time.perf_counter() - t_start
    timing = {"wall_s": wall, "clips": clips_total, "clips_per_s": clips_total / wall if wall > 0 else 0.0,
              "model_load_s": t_models, "decode_s": timer.decode, "encode_s": timer.encode,
              "threads": torch.get_num_threads(), "files": len(files)}
    js = a.json_summary or os.path.join(a.out, "reference_summary.json")
    os.makedirs(os.path.dirname(os.path.abspath(js)), exist_ok=True)
    with open(js, "w") as f:
        json.dump({"files": summary, "timing": timing}, f, indent=1)
    ok = sum(r["status"] == "ok" for r in summary)
    print(f"reference: {len(files)} files ({ok} ok, {sum(r['status'] == 'skipped_short' for r in summary)} too short, "
          f"{sum(r['status'] == 'failed' for r in summary)} failed), {clips_total} clips in {wall:.1f} s "
          f"({timing['clips_per_s']:.3f} clips/s; decode+transform {timer.decode:.1f} s, encode {timer.encode:.1f} s, "
          f"{timing['threads']} threads)", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
