#!/usr/bin/python3
"""Generates the benchmark's "large" corpus: a deterministic set of synthetic media files.

    tools/bench/gen_corpus.py OUT_DIR [--scale F] [--list]

32 files (12 video: SD 320x240 / 640x360 and HD 1280x720, H.264 .mp4 and MPEG-4 .avi, 25 and
29.97 fps; 20 audio: .wav/.flac/.mp3/.opus, 16-48 kHz, mono/stereo/5.1), about 5.5 minutes of
media at --scale 1 (durations are multiplied by --scale). Only FFmpeg's lavfi sources are used
(testsrc2, mandelbrot, smptehdbars, sine, anoisesrc with a fixed seed), with fixed encoder
settings and bitexact flags, so a rerun with the same FFmpeg gives the same files. Files that
already exist with their recorded spec (OUT_DIR/corpus.json) are kept; the rest are (re)made.
Only the default extensions of lssd-infer and of tests/oracle/reference_pipeline.py are used, so
both see exactly the same inputs. Nothing here is committed: OUT_DIR is a cache.
"""
import argparse
import json
import os
import subprocess
import sys

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


def video_cmd(path, w, h, fps, secs, src, codec):
    if src == "mandelbrot":
        lavfi = f"mandelbrot=size={w}x{h}:rate={fps}"
    else:
        lavfi = f"{src}=size={w}x{h}:rate={fps}"
    enc = (["-c:v", "libx264", "-preset", "veryfast", "-crf", "28", "-pix_fmt", "yuv420p", "-threads", "1"]
           if codec == "h264" else ["-c:v", "mpeg4", "-q:v", "5", "-threads", "1"])
    return ["ffmpeg", "-nostdin", "-v", "error", "-y", "-f", "lavfi", "-i", lavfi, "-t", f"{secs:g}", *enc,
            "-fflags", "+bitexact", "-flags:v", "+bitexact", "-map_metadata", "-1", path]


def audio_cmd(path, rate, layout, secs, src, ext):
    ch = {"mono": 1, "stereo": 2, "5.1": 6}[layout]
    if src == "noise":
        lavfi = f"anoisesrc=sample_rate={rate}:seed=42:amplitude=0.3:color=pink"
    else:
        lavfi = f"sine=frequency=440:sample_rate={rate}:beep_factor=3"
    enc = {"wav": ["-c:a", "pcm_s16le"], "flac": ["-c:a", "flac"], "mp3": ["-c:a", "libmp3lame", "-b:a", "128k"],
           "opus": ["-c:a", "libopus", "-b:a", "96k"]}[ext]
    return ["ffmpeg", "-nostdin", "-v", "error", "-y", "-f", "lavfi", "-i", lavfi, "-t", f"{secs:g}",
            "-af", f"aformat=channel_layouts={layout}", "-ac", str(ch), *enc,
            "-fflags", "+bitexact", "-flags:a", "+bitexact", "-map_metadata", "-1", path]


def plan(scale):
    out = []
    for name, w, h, fps, secs, src, codec in VIDEO:
        out.append({"name": name, "kind": "video", "seconds": secs * scale,
                    "cmd": video_cmd("{OUT}", w, h, fps, secs * scale, src, codec)})
    for name, rate, layout, secs, src in AUDIO:
        out.append({"name": name, "kind": "audio", "seconds": secs * scale,
                    "cmd": audio_cmd("{OUT}", rate, layout, secs * scale, src, name.rsplit(".", 1)[1])})
    return out


def generate(out_dir, scale=1.0, quiet=False):
    os.makedirs(out_dir, exist_ok=True)
    spec_path = os.path.join(out_dir, "corpus.json")
    try:
        old = {f["name"]: f for f in json.load(open(spec_path))["files"]}
    except (OSError, ValueError, KeyError):
        old = {}
    files = plan(scale)
    made = 0
    for f in files:
        path = os.path.join(out_dir, f["name"])
        if old.get(f["name"], {}).get("cmd") == f["cmd"] and os.path.exists(path):
            continue
        os.makedirs(os.path.dirname(path), exist_ok=True)
        cmd = [path if c == "{OUT}" else c for c in f["cmd"]]
        subprocess.run(cmd, check=True)
        made += 1
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
    ap.add_argument("--list", action="store_true", help="print the plan as JSON and exit")
    a = ap.parse_args()
    if a.list:
        json.dump(plan(a.scale), sys.stdout, indent=1)
        return
    generate(a.out_dir, a.scale)


if __name__ == "__main__":
    main()
