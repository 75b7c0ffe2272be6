"""Clip ranges and clip frames/samples of lssd_probe vs the release's rules in Python.

Video: PyAV timestamps as torchvision.io.read_video_timestamps reads them, the clip rule on
exact Fractions, the frame pts of every clip (lo/hi bounds and the preceding-frame rule) and the
16 selected pts (torch.linspace). Audio: torchaudio.load sample counts, the sample-index rule,
and the mono samples (mean over channels) of every clip; the MKV's language-tagged tracks are
checked against PyAV.
"""
import json
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import media_oracle_common as mc  # noqa: E402
T = mc.T


def check_video(c, path):
    with mc.tmpdir() as d:
        res = mc.run_probe("video", path, d, "--no-tensors")
    name = os.path.relpath(path, mc.SOURCE_DIR)
    try:
        pts, tb, fps = mc.release_video_timestamps(path)
    except Exception as e:  # the release cannot open it: we must report an error
        c.check("error" in res, f"{name}: release cannot open ({e}) but probe gave {res}")
        print(f"{name}: error as expected ({res.get('error')})")
        return
    if "error" in res:
        c.check(False, f"{name}: probe error {res['error']}")
        return
    clips = mc.release_video_clips(pts, tb)
    if clips is None:
        c.check(res["skipped"], f"{name}: release skips (<2 timestamps), probe did not")
        print(f"{name}: skipped as expected")
        return
    c.check(not res["skipped"], f"{name}: probe skipped")
    exp_ranges = [[float(a), float(b)] for a, b in clips]
    c.check(res["ranges"] == exp_ranges, f"{name}: ranges {res['ranges']} != {exp_ranges}")
    c.check(abs(res["avg_fps"] - fps) == 0, f"{name}: fps {res['avg_fps']} != {fps}")
    for (a, b), got in zip(clips, res["clips"]):
        lo, hi = mc.clip_pts_range(a, b, tb)
        exp_pts = mc.clip_frame_pts(pts, lo, hi)
        c.check(got["clip_pts"] == exp_pts, f"{name} clip {got['index']}: frame pts differ "
                f"(got {len(got['clip_pts'])} frames {got['clip_pts'][:3]}.., want {len(exp_pts)} {exp_pts[:3]}..)")
        sel = [exp_pts[i] for i in mc.select_frames(len(exp_pts), fps).tolist()]
        c.check(got["pts"] == sel, f"{name} clip {got['index']}: selected pts {got['pts']} != {sel}")
    print(f"{name}: {len(clips)} clips, ranges {exp_ranges}, frames {[len(g['clip_pts']) for g in res['clips']]}, "
          f"timestamps from {res['timestamp_source']}")


def check_audio(c, path):
    import torchaudio

    name = os.path.relpath(path, mc.SOURCE_DIR)
    with mc.tmpdir() as d:
        res = mc.run_probe("audio", path, d)
        wav, sr = torchaudio.load(path)
        n = wav.shape[1]
        mono = wav.mean(0).numpy()
        c.check(res.get("sample_rate") == sr, f"{name}: sample rate {res.get('sample_rate')} != {sr}")
        c.check(res.get("num_samples") == n, f"{name}: n {res.get('num_samples')} != torchaudio's {n}")
        if n < 2:
            c.check(res.get("skipped"), f"{name}: should be skipped")
            print(f"{name}: skipped as expected")
            return
        L = int(T * sr)
        exp = []
        i = 0
        while (i + 1) * T * sr < n:
            exp.append([int(i * T * sr), int((i + 1) * T * sr)])
            i += 1
        if not exp:
            exp = [[0, n]]
        elif n - exp[-1][1] > int(T * sr / 2):
            exp.append([n - L, n])
        c.check(res["ranges"] == exp, f"{name}: ranges {res['ranges']} != {exp}")
        maxdiff = 0.0
        for k, (a, b) in enumerate(exp):
            got = np.load(os.path.join(d, f"audio_{k}.npy"))
            want = mono[a:b]
            if got.shape != want.shape:
                c.check(False, f"{name} clip {k}: {got.shape} samples, want {want.shape}")
                continue
            maxdiff = max(maxdiff, float(np.abs(got - want).max()))
        c.check(maxdiff <= 1e-6, f"{name}: mono samples differ by {maxdiff}")
        print(f"{name}: sr {sr}, n {n}, channels {wav.shape[0]}, ranges {exp}, max |diff| {maxdiff:g}")


def check_mkv_tracks(c, path):
    import av

    name = os.path.relpath(path, mc.SOURCE_DIR)
    with av.open(path) as container:
        langs = {s.index: s.metadata.get("language", "") for s in container.streams.audio}
    for idx, lang in langs.items():
        with av.open(path) as container:
            st = container.streams[idx]
            chunks = []
            for f in container.decode(st):
                a = f.to_ndarray()
                nch = len(f.layout.channels)
                chunks.append(a if f.format.is_planar else a.reshape(-1, nch).T)
            sr = st.rate
        x = np.concatenate(chunks, axis=1).astype(np.float32)
        mono = x.mean(0) if x.shape[0] > 1 else x[0]
        with mc.tmpdir() as d:
            res = mc.run_probe("audio", path, d, "--stream", str(idx))
            c.check(res.get("language") == lang, f"{name}#{idx}: language {res.get('language')} != {lang}")
            c.check(res.get("num_samples") == mono.shape[0], f"{name}#{idx}: n {res.get('num_samples')} != {mono.shape[0]}")
            md = 0.0
            for k, (a, b) in enumerate(res["ranges"]):
                got = np.load(os.path.join(d, f"audio_{k}.npy"))
                md = max(md, float(np.abs(got - mono[a:b]).max()))
            c.check(md <= 1e-6, f"{name}#{idx}: samples differ by {md}")
        print(f"{name} stream {idx} ({lang}): sr {sr}, n {mono.shape[0]}, ranges {res['ranges']}, max |diff| {md:g}")


def main():
    c = mc.Checker()
    for path in mc.sample_files("video"):
        if path.endswith(".md"):
            continue
        check_video(c, path)
    for path in mc.sample_files("audio"):
        check_audio(c, path)
    for path in mc.sample_files("video"):
        if path.endswith(".mkv"):
            check_mkv_tracks(c, path)
    # A protocol prefix and a non-whitelisted container are refused with an "open" error.
    with mc.tmpdir() as d:
        res = mc.run_probe("video", "concat:" + mc.sample_files("video")[0], d)
        c.check(res.get("stage") == "open", f"concat: prefix not refused: {res}")
        img = os.path.join(d, "x.png")
        os.system(f"ffmpeg -v error -f lavfi -i testsrc2=size=64x64 -frames:v 1 -y {img}")
        res = mc.run_probe("video", img, d)
        c.check(res.get("stage") == "open", f"png (image2) not refused: {res}")
        print("refused:", res.get("error"))
    c.finish()


if __name__ == "__main__":
    main()
