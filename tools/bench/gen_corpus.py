#!/usr/bin/python3
"""Generates the benchmark's "large" corpus: a deterministic set of synthetic media files.

    tools/bench/gen_corpus.py OUT_DIR [--scale F] [--corpus large|gpu] [--ffmpeg PATH] [--jobs N] [--list]

32 files (12 video: SD 320x240 / 640x360 and HD 1280x720, H.264 .mp4 and MPEG-4 .avi, 25 and
29.97 fps; 20 audio: .wav/.flac/.mp3/.opus, 16-48 kHz, mono/stereo/5.1), about 5.5 minutes of
media at --scale 1 (durations are multiplied by --scale). Only FFmpeg's lavfi sources are used
(testsrc2, mandelbrot, smptehdbars, sine, anoisesrc with a fixed seed), with fixed encoder
settings and bitexact flags, so a rerun with the same FFmpeg gives the same files. Files that
already exist with their recorded spec (OUT_DIR/corpus.json) are kept; the rest are (re)made.
Only the default extensions of lssd-infer and of tests/oracle/reference_pipeline.py are used, so
both see exactly the same inputs. Nothing here is committed: OUT_DIR is a cache.

--corpus gpu: the CUDA check's corpus (tools/gpu/check.sh), 40 files, 40 minutes of media at
--scale 1: 8 H.264 1080p videos (testsrc2 with temporal noise, so that decoding costs what
camera video costs rather than what a flat test pattern costs), 16 SD H.264 videos (640x360,
640x480), 16 audio files (.wav/.flac/.opus, 44.1/48 kHz, mono/stereo), 60 s each. Made with
only FFmpeg's native encoders and libx264 (--ffmpeg: the GPU bundle's bin/lssd-corpus-ffmpeg).
"""
import argparse
import json
import os
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor

# (name, kind, params). Video: (w, h, fps, seconds, source, codec). Audio: (rate, layout, seconds, source).
VIDEO = [
    ("video/sd/testsrc2_320x240_25fps_7s.mp4", 320, 240, "25", 7.0, "testsrc2", "h264"),
    ("video/sd/testsrc2_320x240_30fps_5s.avi", 320, 240, "30", 5.0, "testsrc2", "mpeg4"),
    ("video/sd/mandelbrot_320x240_2997_6s.mp4", 320, 240, "30000/1001", 6.0, "mandelbrot", "h264"),
    ("video/sd/testsrc2_640x360_25fps_6s.mp4", 640, 360, "25", 6.0, "testsrc2", "h264"),
    ("video/sd/testsrc2_640x360_25fps_9s.mp4", 640, 360, "25", 9.0, "testsrc2", "h264"),
    ("video/sd/smpte_640x480_25fps_4s.avi", 640, 480, "25", 4.0, "smptehdbars", "mpeg4"),
    ("video/sd/testsrc2_480x640_portrait_25fps_5s.mp4", 480, 640, "25", 5.0, "testsrc2", "h264"),
    ("video/hd/testsrc2_1280x720_25fps_6s.mp4", 1280, 720, "25", 6.0, "testsrc2", "h264"),
    ("video/hd/testsrc2_1280x720_30fps_7s.mp4", 1280, 720, "30", 7.0, "testsrc2", "h264"),
    ("video/hd/mandelbrot_1280x720_25fps_5s.mp4", 1280, 720, "25", 5.0, "mandelbrot", "h264"),
    ("video/hd/smpte_1280x720_2997_4s.mp4", 1280, 720, "30000/1001", 4.0, "smptehdbars", "h264"),
    ("video/hd/testsrc2_1920x1080_25fps_4s.mp4", 1920, 1080, "25", 4.0, "testsrc2", "h264"),
]
AUDIO = []
_rates = [16000, 22050, 44100, 48000]
_layouts = ["mono", "stereo", "stereo", "5.1"]
_exts = ["wav", "flac", "mp3", "opus"]
for i in range(20):
    ext = _exts[i % 4]
    rate = _rates[(i // 4) % 4] if ext != "opus" else 48000
    layout = _layouts[(i + i // 4) % 4]
    if ext == "mp3" and layout == "5.1":
        layout = "stereo"  # libmp3lame: at most 2 channels
    secs = 9.0 + (i * 7) % 9  # 9..17 s
    src = "sine" if i % 3 else "noise"
    AUDIO.append((f"audio/{ext}/{src}_{rate}Hz_{layout}_{secs:g}s_{i:02d}.{ext}", rate, layout, secs, src))


# The GPU corpus: (name, w, h, fps, seconds, source, codec) and (name, rate, layout, seconds, source).
GPU_VIDEO = [(f"video/hd/testsrc2n_1920x1080_{fps.replace('/', '_')}fps_{i}.mp4", 1920, 1080, fps, 60.0, "testsrc2n",
              "h264") for i, fps in enumerate(["30", "25", "30000/1001", "30"] * 2)]
GPU_VIDEO += [(f"video/sd/testsrc2n_{w}x{h}_{fps}fps_{i}.mp4", w, h, fps, 60.0, "testsrc2n", "h264")
              for i, (w, h, fps) in enumerate([(640, 360, "25"), (640, 480, "30")] * 8)]
GPU_AUDIO = [(f"audio/{ext}/{src}_{rate}Hz_{layout}_{i:02d}.{ext}", rate, layout, 60.0, src)
             for i, (ext, rate, layout, src) in enumerate(
                 [("wav", 48000, "stereo", "sine"), ("flac", 44100, "mono", "noise"),
                  ("opus", 48000, "stereo", "noise"), ("flac", 48000, "stereo", "sine")] * 4)]


def video_cmd(path, w, h, fps, secs, src, codec, ffmpeg="ffmpeg"):
    vf = []
    if src == "mandelbrot":
        lavfi = f"mandelbrot=size={w}x{h}:rate={fps}"
    elif src == "testsrc2n":  # test pattern + temporal noise: camera-like bitrate and decoding cost
        lavfi = f"testsrc2=size={w}x{h}:rate={fps}"
        vf = ["-vf", "noise=alls=12:allf=t"]
    else:
        lavfi = f"{src}=size={w}x{h}:rate={fps}"
    enc = (["-c:v", "libx264", "-preset", "veryfast", "-crf", "28", "-pix_fmt", "yuv420p", "-threads", "1"]
           if codec == "h264" else ["-c:v", "mpeg4", "-q:v", "5", "-threads", "1"])
    return [ffmpeg, "-nostdin", "-v", "error", "-y", "-f", "lavfi", "-i", lavfi, "-t", f"{secs:g}", *vf, *enc,
            "-fflags", "+bitexact", "-flags:v", "+bitexact", "-map_metadata", "-1", path]


def audio_cmd(path, rate, layout, secs, src, ext, ffmpeg="ffmpeg", native=False):
    ch = {"mono": 1, "stereo": 2, "5.1": 6}[layout]
    if src == "noise":
        lavfi = f"anoisesrc=sample_rate={rate}:seed=42:amplitude=0.3:color=pink"
    else:
        lavfi = f"sine=frequency=440:sample_rate={rate}:beep_factor=3"
    enc = {"wav": ["-c:a", "pcm_s16le"], "flac": ["-c:a", "flac"], "mp3": ["-c:a", "libmp3lame", "-b:a", "128k"],
           "opus": (["-c:a", "opus", "-strict", "-2", "-b:a", "96k"] if native
                    else ["-c:a", "libopus", "-b:a", "96k"])}[ext]
    return [ffmpeg, "-nostdin", "-v", "error", "-y", "-f", "lavfi", "-i", lavfi, "-t", f"{secs:g}",
            "-af", f"aformat=channel_layouts={layout}", "-ac", str(ch), *enc,
            "-fflags", "+bitexact", "-flags:a", "+bitexact", "-map_metadata", "-1", path]


def plan(scale, corpus="large", ffmpeg="ffmpeg"):
    video, audio, native = (VIDEO, AUDIO, False) if corpus == "large" else (GPU_VIDEO, GPU_AUDIO, True)
    out = []
    for name, w, h, fps, secs, src, codec in video:
        out.append({"name": name, "kind": "video", "seconds": secs * scale,
                    "cmd": video_cmd("{OUT}", w, h, fps, secs * scale, src, codec, ffmpeg)})
    for name, rate, layout, secs, src in audio:
        out.append({"name": name, "kind": "audio", "seconds": secs * scale,
                    "cmd": audio_cmd("{OUT}", rate, layout, secs * scale, src, name.rsplit(".", 1)[1], ffmpeg,
                                     native)})
    return out


def generate(out_dir, scale=1.0, quiet=False, corpus="large", ffmpeg="ffmpeg", jobs=1):
    os.makedirs(out_dir, exist_ok=True)
    spec_path = os.path.join(out_dir, "corpus.json")
    try:
        old = {f["name"]: f for f in json.load(open(spec_path))["files"]}
    except (OSError, ValueError, KeyError):
        old = {}
    files = plan(scale, corpus, ffmpeg)
    todo = []
    for f in files:
        path = os.path.join(out_dir, f["name"])
        if old.get(f["name"], {}).get("cmd") == f["cmd"] and os.path.exists(path):
            continue
        os.makedirs(os.path.dirname(path), exist_ok=True)
        todo.append([path if c == "{OUT}" else c for c in f["cmd"]])
    with ThreadPoolExecutor(max_workers=max(1, jobs)) as pool:
        for _ in pool.map(lambda cmd: subprocess.run(cmd, check=True), todo):
            pass
    made = len(todo)
    tmp = spec_path + ".tmp"
    with open(tmp, "w") as fh:
        json.dump({"scale": scale, "files": files,
                   "total_seconds": sum(f["seconds"] for f in files)}, fh, indent=1)
    os.replace(tmp, spec_path)
    if not quiet:
        v = sum(f["seconds"] for f in files if f["kind"] == "video")
        a = sum(f["seconds"] for f in files if f["kind"] == "audio")
        print(f"corpus {out_dir}: {len(files)} files ({made} made), video {v:.0f} s, audio {a:.0f} s, "
              f"total {v + a:.0f} s", file=sys.stderr)
    return out_dir


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("out_dir")
    ap.add_argument("--scale", type=float, default=1.0, help="multiply every duration (default 1)")
    ap.add_argument("--corpus", default="large", choices=("large", "gpu"), help="which corpus (default large)")
    ap.add_argument("--ffmpeg", default="ffmpeg", help="the ffmpeg program (default ffmpeg)")
    ap.add_argument("--jobs", type=int, default=1, help="files made at once (default 1)")
    ap.add_argument("--list", action="store_true", help="print the plan as JSON and exit")
    a = ap.parse_args()
    if a.list:
        json.dump(plan(a.scale, a.corpus, a.ffmpeg), sys.stdout, indent=1)
        return
    generate(a.out_dir, a.scale, corpus=a.corpus, ffmpeg=a.ffmpeg, jobs=a.jobs)


if __name__ == "__main__":
    main()
