#!/usr/bin/env python3
"""lssd-read dedup and tracks end to end with the tiny model, on media generated here with
ffmpeg: a 15 s video (mandelbrot zoom), a re-encoded copy trimmed by 4.5 s, two unrelated
videos (life, cellauto), and a container with two FLAC tracks identical for the first 6 s and
different after (a chirp; white noise).

What random tiny towers can honestly show: their clip vectors separate content kinds but vary
little within one file (clips of one file score 0.95-0.999 against each other; the first 3 s of
the zoom are the exception). So the test first asserts the separation the threshold relies on
(every clip of the copy scores >= T against a clip of the original at 3 s or 6 s offset; every
clip pair of unrelated files scores < T), then that dedup at T finds exactly one pair, the copy
and its original, with offset 4.5 +- 1.5 s (the 3 s clip grid: 3 or 6), exact and --approx.
tracks: the first two clips of the two tracks score 1 +- 1e-6, the others < T, and the pair is
flagged (exit 1) with the time range 6-12 s."""
import json
import os
import subprocess
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from e2e_common import Checker, run_infer, scratch, lssd_read  # noqa: E402

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))), "tools"))
import lssd_postprocess  # noqa: E402

DEDUP_T = 0.9   # clip match threshold for the tiny model (measured separation printed below)
TRACKS_T = 0.9
X264 = ["-c:v", "libx264", "-threads", "1", "-preset", "veryfast", "-pix_fmt", "yuv420p", "-x264-params", "log=-1"]


def ff(*args):
    subprocess.run(["ffmpeg", "-nostdin", "-hide_banner", "-loglevel", "error", "-y", *args], check=True)


def make_media(d):
    os.makedirs(d)
    ff("-f", "lavfi", "-i", "mandelbrot=size=320x240:rate=25", "-frames:v", "375", *X264, "-crf", "30",
       os.path.join(d, "a_zoom.mp4"))
    # The copy: the original from 4.5 s, re-encoded at another quality (10.5 s: 3 clips).
    ff("-ss", "4.5", "-i", os.path.join(d, "a_zoom.mp4"), *X264, "-crf", "36", os.path.join(d, "b_zoom_trimmed.mp4"))
    ff("-f", "lavfi", "-i", "life=size=320x240:rate=25:mold=10:ratio=0.5", "-frames:v", "225", *X264, "-crf", "30",
       os.path.join(d, "c_life.mp4"))
    ff("-f", "lavfi", "-i", "cellauto=size=320x240:rate=25:rule=110", "-frames:v", "225", *X264, "-crf", "30",
       os.path.join(d, "d_cellauto.mp4"))
    chirp = "sin(2*PI*(200+40*t)*t)*0.5"
    ff("-f", "lavfi", "-i", "testsrc2=size=160x120:rate=10", "-f", "lavfi", "-i", f"aevalsrc={chirp}:s=48000:d=12",
       "-f", "lavfi", "-i", f"aevalsrc=if(lt(t\\,6)\\,{chirp}\\,0.3*(2*random(0)-1)):s=48000:d=12",
       "-map", "0:v", "-map", "1:a", "-map", "2:a", "-t", "12", *X264, "-crf", "36", "-c:a", "flac",
       "-metadata:s:a:0", "language=eng", "-metadata:s:a:1", "language=fra", os.path.join(d, "e_dub.mkv"))


def similarity(out):
    X, rows = lssd_postprocess.clip_matrix(out, "video")
    names = [os.path.basename(r[0]) for r in rows]
    return X @ X.T, rows, names


def check_separation(c, out):
    S, rows, names = similarity(out)
    np.set_printoptions(linewidth=200, precision=3, suppress=True)
    print("video clip similarity (rows: " + ", ".join(f"{n}#{r[2]}" for n, r in zip(names, rows)) + ")\n" + str(S))
    a = [i for i, n in enumerate(names) if n == "a_zoom.mp4"]
    b = [i for i, n in enumerate(names) if n == "b_zoom_trimmed.mp4"]
    c.check(len(a) == 5 and len(b) == 3, f"the original has 5 clips, the trimmed copy 3 ({len(a)}, {len(b)})")
    # the copy's clip j covers the original's 4.5+3j .. 7.5+3j: half of its clips j+1 and j+2
    best = {d: min(S[b[j], a[j + d]] for j in range(len(b)) if j + d < len(a)) for d in (1, 2)}
    c.check(max(best.values()) >= DEDUP_T,
            f"separation: the copy's clips score >= {DEDUP_T} against the original at 3 s or 6 s (worst clip per offset {best})")
    unrelated = [(i, j) for i in range(len(rows)) for j in range(len(rows))
                 if names[i] != names[j] and not {names[i], names[j]} == {"a_zoom.mp4", "b_zoom_trimmed.mp4"}]
    worst = max(S[i, j] for i, j in unrelated)
    c.check(worst < DEDUP_T, f"separation: unrelated files' clips score < {DEDUP_T} (highest {worst:.4f})")


def check_dedup(c, out, approx):
    extra = ["--approx"] if approx else []
    rc, o, err = lssd_read("dedup", out, "--mtype", "video", "--threshold", str(DEDUP_T), "--min-clips", "3", "--json", *extra)
    if not c.check(rc == 0, f"dedup{' --approx' if approx else ''}: exit {rc} {err.strip()}"):
        return
    pairs = json.loads(o)["modalities"]["video"]["pairs"]
    print(json.dumps(pairs, indent=1)[:1500])
    names = [(os.path.basename(p["a"]["file"]), os.path.basename(p["b"]["file"])) for p in pairs]
    c.check(names == [("a_zoom.mp4", "b_zoom_trimmed.mp4")], f"dedup finds exactly the copy and its original: {names}")
    if pairs:
        p = pairs[0]
        c.check(abs(p["offset_s"] - 4.5) <= 1.5 + 1e-9 and p["length"] == 3 and p["b"]["clips"] == [0, 2],
                f"offset {p['offset_s']} s (4.5 +- 1.5), run {p['length']} clips, mean {p['mean_score']:.4f}")
    rc, text, _ = lssd_read("dedup", out, "--mtype", "video", "--threshold", str(DEDUP_T), "--min-clips", "3", *extra)
    c.check(rc == 0 and "a_zoom.mp4  <-  b_zoom_trimmed.mp4" in text and "1 duplicate pair" in text, "dedup text output")


def check_tracks(c, out):
    rc, o, err = lssd_read("tracks", out, "--threshold", str(TRACKS_T), "--json")
    c.check(rc == 1, f"tracks flags the dub (exit {rc}) {err.strip()}")
    j = json.loads(o)
    pairs = j["pairs"]
    if not c.check(len(pairs) == 1 and pairs[0]["rel_path"] == "e_dub.mkv", f"one track pair: {[p['rel_path'] for p in pairs]}"):
        return
    p = pairs[0]
    cos = p["cosine"]
    print(f"e_dub.mkv track cosines {cos}")
    c.check(len(cos) == 4 and all(abs(x - 1) <= 1e-6 for x in cos[:2]), f"identical first 6 s: clips 0, 1 cosine 1 +- 1e-6 ({cos[:2]})")
    c.check(all(x < TRACKS_T for x in cos[2:]), f"different after: clips 2, 3 below {TRACKS_T} ({cos[2:]})")
    c.check(p["below"] == [[6.0, 12.0]] and p["flagged"] and not j["ok"] and p["min"] == min(cos),
            f"below {TRACKS_T}: {p['below']}, min {p['min']:.4f}, mean {p['mean']:.4f}")
    c.check((p["a"]["track"], p["a"]["language"], p["b"]["track"], p["b"]["language"]) == (1, "eng", 2, "fra"),
            "the pair names both tracks and languages")
    rc, text, _ = lssd_read("tracks", out, "e_dub.mkv", "--threshold", str(TRACKS_T))
    c.check(rc == 1 and "6.00-12.00 s" in text and "FLAGGED" in text, "tracks FILE: text report with the time range")
    rc, _, err = lssd_read("tracks", out, "a_zoom.mp4")
    c.check(rc == 1 and "a_zoom.mp4" in err, f"tracks of a file without two tracks: exit {rc}, {err.strip()}")


def main():
    c = Checker("test_dedup_tracks")
    with scratch("lssd_dedup_") as tmp:
        data = os.path.join(tmp, "in")
        make_media(data)
        out = os.path.join(tmp, "out")
        rc, log, wall = run_infer(data, out, "DATA.AUDIO_FROM_VIDEO", "True")
        print(f"lssd-infer: exit {rc} in {wall:.1f}s", flush=True)
        if not c.check(rc == 0, f"lssd-infer ran (exit {rc})"):
            print(log[-3000:])
            return c.finish()
        check_separation(c, out)
        check_dedup(c, out, approx=False)
        check_dedup(c, out, approx=True)
        check_tracks(c, out)
    return c.finish()


if __name__ == "__main__":
    sys.exit(main())
