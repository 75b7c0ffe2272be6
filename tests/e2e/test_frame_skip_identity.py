#!/usr/bin/env python3
"""Decoding only what the clips keep (MEDIA.SKIP_FRAMES, the default) and decoding with frame
threads give the same clips as decoding every frame on one thread: for every video of
sample_data and a few generated ones (x264's default B-pyramid at 640x360, an open-GOP stream,
MPEG-4 part 2 with B-frames in MP4, a trimmed MP4 with an edit list), the same clip ranges, the
same frame pts of every clip, and bit-identical RGB frames and clip tensors (sha256 of each).
The generated files must show frames actually skipped (the path under test is taken).
"""
import json
import os
import shutil
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import e2e_common as ec  # noqa: E402

PROBE = os.path.join(ec.BUILD_DIR, "tests", "lssd_probe")
VIDEO_EXTS = (".mp4", ".avi", ".mkv", ".webm", ".MP4")
X264 = ["-c:v", "libx264", "-threads", "1", "-pix_fmt", "yuv420p"]


def generate(d):
    ff = ["ffmpeg", "-nostdin", "-v", "error", "-y"]
    src = ["-f", "lavfi", "-i", "testsrc2=size=640x360:rate=25", "-t", "8"]
    made = {
        "x264_default_640x360.mp4": src + X264 + ["-preset", "medium"],
        "x264_open_gop.mp4": src + X264 + ["-preset", "veryfast", "-x264-params",
                                           "open-gop=1:keyint=40:min-keyint=40:scenecut=0:bframes=3"],
        "mpeg4_bframes.mp4": src + ["-c:v", "mpeg4", "-bf", "2", "-q:v", "8", "-threads", "1"],
        "x264_default_640x360.mkv": src + X264 + ["-preset", "medium"],
    }
    for name, args in made.items():
        subprocess.run(ff + args + [os.path.join(d, name)], check=True)
    subprocess.run(ff + ["-ss", "1.3", "-i", os.path.join(d, "x264_default_640x360.mp4"), "-t", "5", "-c", "copy",
                         os.path.join(d, "x264_trimmed_editlist.mp4")], check=True)
    return sorted(os.path.join(d, n) for n in os.listdir(d))


def probe(path, *args):
    with ec.scratch("lssd_skip_") as d:
        r = subprocess.run([PROBE, "video", path, d, "--no-write", "--hash", *args], capture_output=True, text=True)
        with open(os.path.join(d, "result.json")) as f:
            res = json.load(f)
    if r.returncode not in (0, 3):
        raise RuntimeError(f"lssd_probe failed on {path}: {r.stderr}")
    return res


def clips_of(res):
    return [(c["index"], c["clip_pts"], c["pts"], c.get("frames_sha256"), c.get("tensor_sha256"))
            for c in res.get("clips", [])]


def main():
    c = ec.Checker("test_frame_skip_identity")
    files = [os.path.join(dp, f) for dp, _, fs in os.walk(ec.SAMPLE_DIR) for f in fs if f.endswith(VIDEO_EXTS)]
    with ec.scratch("lssd_skip_media_") as gen:
        generated = generate(gen)
        for path in sorted(files) + generated:
            name = os.path.relpath(path, ec.SOURCE_DIR) if path.startswith(ec.SOURCE_DIR) else os.path.basename(path)
            every = probe(path, "--decode-all", "--threads", "1")
            if "error" in every:
                c.check("error" in probe(path), f"{name}: an error either way ({every['error']})")
                continue
            for args in (("--threads", "1"), ("--threads", "2"), ("--decode-all", "--threads", "2")):
                got = probe(path, *args)
                same = (got.get("ranges") == every.get("ranges") and got.get("skipped") == every.get("skipped")
                        and clips_of(got) == clips_of(every))
                c.check(same, f"{name} {' '.join(args)}: the same clips, frames and tensors as decoding every frame")
            fast = probe(path, "--threads", "1")
            print(f"{name}: {len(every.get('clips', []))} clips, frames decoded {fast.get('decoded_frames')} of "
                  f"{every.get('decoded_frames')}")
            if path in generated:
                c.check(fast.get("decoded_frames", 0) < every.get("decoded_frames", 0),
                        f"{name}: frames were skipped ({fast.get('decoded_frames')} of {every.get('decoded_frames')})")
    return c.finish()


if __name__ == "__main__":
    sys.exit(main())
