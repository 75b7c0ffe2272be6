"""Clip ranges and clip frames/samples of lssd_probe vs the release's rules in Python.

Video: the release's own I/O is the oracle: torchvision.io.read_video_timestamps for the
timestamps (Debian's python3-torchvision is the release's 0.14.1), the clip rule on exact
Fractions, and for every clip the pts of the frames torchvision.io.read_video(pts_unit='sec')
returns (in its order) and the 16 selected pts (torch.linspace). Audio: torchaudio.load sample counts, the sample-index rule,
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


# Video written the way other encoders write it (sample_data/video/encoders/): the release reads
# their timestamps from decoded frames, whose pts differ from the packets' (in order or in
# number). Expected: the probe's timestamp source and its decode passes when it decodes every
# frame (--decode-all; decoding only the kept frames of an MP4 plans from the packets that give
# frames and needs one pass).
ENCODER_FILES = {
    "mpeg4_asp_bframes_320x240_25fps_5.0s.avi": ("frames", 1),
    "divx_packed_320x240_30fps_4.6s.avi": ("frames", 1),
    "h264_dts_only_320x240_25fps_4.4s.avi": ("frames", 1),
    "audio_first_320x240_25fps_4.8s.mp4": ("frames", 1),
    "h264_bframes_editlist_320x240_25fps_4.5s.mp4": ("frames", 2),  # the edit list cuts the last frames
}


def packet_and_frame_pts(path):
    """PyAV (GENPTS, as torchvision opens files): the video packets' pts and the decoded frames'
    pts, each in the order they come."""
    import av

    with av.open(path, metadata_errors="ignore") as container:
        packets = [p.pts for p in container.demux(video=0) if p.pts is not None]
    with av.open(path, metadata_errors="ignore") as container:
        frames = [f.pts for f in container.decode(video=0) if f.pts is not None]
    return packets, frames


def check_encoder_file(c, path, res):
    name = os.path.basename(path)
    source, passes = ENCODER_FILES[name]
    packets, frames = packet_and_frame_pts(path)
    c.check(packets != frames, f"{name}: packet and frame pts should differ (the case under test)")
    c.check(res.get("timestamp_source") == source, f"{name}: timestamps from {res.get('timestamp_source')}, want {source}")
    with mc.tmpdir() as d:
        every = mc.run_probe("video", path, d, "--no-tensors", "--decode-all")
    c.check(every.get("decode_passes") == passes,
            f"{name}: {every.get('decode_passes')} decode passes (--decode-all), want {passes}")
    c.check(every.get("ranges") == res.get("ranges"), f"{name}: the same ranges with --decode-all")
    print(f"{name}: {len(packets)} packet pts {packets[:5]}.., {len(frames)} frame pts {frames[:5]}..")


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
    if os.path.basename(path) in ENCODER_FILES:
        check_encoder_file(c, path, res)
    exp_ranges = [[float(a), float(b)] for a, b in clips]
    c.check(len(res["ranges"]) == len(exp_ranges), f"{name}: M {len(res['ranges'])} != {len(exp_ranges)}")
    worst = max((abs(x - y) for g, e in zip(res["ranges"], exp_ranges) for x, y in zip(g, e)), default=0.0)
    c.check(worst <= 1e-9, f"{name}: ranges {res['ranges']} != {exp_ranges}")
    c.check(abs(res["avg_fps"] - fps) == 0, f"{name}: fps {res['avg_fps']} != {fps}")
    c.check(len(res["clips"]) == len(clips), f"{name}: {len(res['clips'])} clips delivered, want {len(clips)}")
    for (a, b), got in zip(clips, res["clips"]):
        _, exp_pts, _ = mc.release_read_clip(path, a, b)  # the frames read_video returns
        c.check(got["clip_pts"] == exp_pts, f"{name} clip {got['index']}: frame pts differ "
                f"(got {len(got['clip_pts'])} frames {got['clip_pts'][:4]}.., read_video {len(exp_pts)} {exp_pts[:4]}..)")
        sel = [exp_pts[i] for i in mc.select_frames(len(exp_pts), fps).tolist()]
        c.check(got["pts"] == sel, f"{name} clip {got['index']}: selected pts {got['pts']} != {sel}")
    print(f"{name}: M {len(clips)}, ranges {exp_ranges} (max |diff| {worst:g}), frames "
          f"{[len(g['clip_pts']) for g in res['clips']]}, timestamps from {res['timestamp_source']}, "
          f"{res['decode_passes']} decode pass(es)")


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
    c = mc.Checker("test_clips_oracle", quiet=True)  # messages say what failed
    videos = [p for p in mc.sample_files("video") if not p.endswith(".md")]
    found = {os.path.basename(p) for p in videos}
    c.check(set(ENCODER_FILES) <= found, f"sample_data lacks {sorted(set(ENCODER_FILES) - found)}")
    for path in videos:
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
    return c.finish()


if __name__ == "__main__":
    sys.exit(main())
