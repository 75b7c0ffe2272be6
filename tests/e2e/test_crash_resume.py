#!/usr/bin/env python3
"""E2E: kill -9 in the middle of a run, then rerun into the same OUTPUT_DIR (tiny model, CPU,
1 thread).

Corpus: 4 copies each of a 1-clip and a 2-clip video and of two audio files (16 inputs).
1. An uninterrupted run into out_ref.
2. A run into out, killed with SIGKILL as soon as its first output is in a manifest. Then, to
   also cover what a kill cannot produce but a power loss can: a torn (half-written) manifest
   line is appended, and a stale temporary `.tmp.<name>.<n>` file is planted next to an output.
3. A rerun into out: exit code 0; it resumes (>= 1 output reported already done); every input
   is present once in the manifests' latest records; the records equal out_ref's as sets
   (rel_path, status, M, shape, clip ranges); every embedding within 1e-5 of out_ref's; no
   `.tmp.*` file is left under out (the rerun removes leftovers of the killed run); lssd-read
   verify passes on out.
Env: LSSD_BUILD_DIR, LSSD_TEST_MODEL_DIR, LSSD_KEEP_TMP=1.
"""
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import e2e_common as ec  # noqa: E402

TOL = 1e-5
SOURCES = ["video/ucf/testsrc2_320x240_25fps_2.0s.mp4", "video/vfr/testsrc2_320x240_vfr_5.0s.mp4",
           "audio/speech/german_16kHz_mono_7.5s.wav", "audio/music/tones_48kHz_stereo_4.64s.mp3"]
COPIES = 4
THREADS = "1"


def make_corpus(data):
    for i in range(COPIES):
        for rel in SOURCES:
            d = os.path.join(data, f"copy{i}", os.path.dirname(rel))
            os.makedirs(d, exist_ok=True)
            shutil.copy2(os.path.join(ec.SAMPLE_DIR, rel), d)


def infer_cmd(data, out):
    model = ec.tiny_model_dir()
    return [ec.infer_path(), "DATA.PATH_TO_DATA_DIR", data, "OUTPUT_DIR", out,
            "MODEL.VIDEO_ENCODER_FILE", os.path.join(model, "video.pt"),
            "MODEL.AUDIO_ENCODER_FILE", os.path.join(model, "audio.pt"),
            "RUNTIME.DEVICE", "cpu", "RUNTIME.NUM_THREADS", THREADS, "DIST.NUM_WORKERS", "2"]


def run(data, out, timeout=900):
    t0 = time.time()
    r = subprocess.run(infer_cmd(data, out), capture_output=True, text=True, timeout=timeout)
    return r.returncode, r.stdout + r.stderr, time.time() - t0


def n_ok_records(out):
    n = 0
    for m in ("video", "audio"):
        d = os.path.join(out, m)
        if not os.path.isdir(d):
            continue
        for name in os.listdir(d):
            if name.startswith("manifest") and name.endswith(".jsonl"):
                with open(os.path.join(d, name), "rb") as f:
                    n += f.read().count(b'"status":"ok"')
    return n


def meaningful(rec):
    ranges = tuple(tuple(round(x, 9) if isinstance(x, float) else x for x in rg) for rg in rec["ranges"])
    return (rec["modality"], rec["rel_path"], rec["status"], rec["M"], tuple(rec["shape"]), ranges)


def tmp_files(root):
    return [os.path.join(dp, f) for dp, _d, fs in os.walk(root) for f in fs if f.startswith(".tmp.")]


def check_kill_and_rerun(c, tmp, timings):
    """Steps 1-3 of the docstring: the uninterrupted run, the killed run, the rerun."""
    data, ref, out = (os.path.join(tmp, x) for x in ("data", "out_ref", "out"))
    make_corpus(data)
    n_inputs = COPIES * len(SOURCES)

    rc, log, dt = run(data, ref)
    timings["uninterrupted run"] = dt
    if not c.check(rc == 0, f"uninterrupted run: exit 0 (got {rc}, {dt:.1f} s)"):
        print(log[-3000:])
        return
    ref_recs = ec.latest_records(ref)
    c.check(len(ref_recs) == n_inputs, f"uninterrupted run: {n_inputs} records (got {len(ref_recs)})")

    # The run to kill.
    t0 = time.time()
    p = subprocess.Popen(infer_cmd(data, out), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    while p.poll() is None and n_ok_records(out) < 1 and time.time() - t0 < 600:
        time.sleep(0.05)
    killed_at = time.time() - t0
    still_running = p.poll() is None
    if still_running:
        os.kill(p.pid, signal.SIGKILL)
    p.wait()
    done_before = n_ok_records(out)
    timings["killed run"] = killed_at
    c.check(still_running and p.returncode == -signal.SIGKILL,
            f"killed with SIGKILL mid-run after {killed_at:.1f} s ({done_before} outputs recorded)")
    c.check(0 < done_before < n_inputs, f"the kill left partial work: {done_before} of {n_inputs} recorded")

    # A torn last manifest line and a stale temporary file (what a power loss leaves).
    with open(os.path.join(out, "audio", "manifest.jsonl"), "ab") as f:
        f.write(b'{"v":1,"modality":"audio","path":"' + data.encode() + b'/copy3/audio/sp')
    planted = os.path.join(out, "video", "copy0", "video", "ucf", ".tmp.testsrc2_320x240_25fps_2.0s.mp4.npy.42")
    os.makedirs(os.path.dirname(planted), exist_ok=True)
    with open(planted, "wb") as f:
        f.write(b"\x93NUMPY partial")
    leftovers = tmp_files(out)

    rc, log, dt = run(data, out)
    timings["rerun"] = dt
    m = re.findall(r"done: (\d+) outputs = (\d+) written \+ (\d+) already done", log)
    resumed = int(m[-1][2]) if m else -1
    if not c.check(rc == 0, f"rerun: exit 0 (got {rc}, {dt:.1f} s)"):
        print(log[-3000:])
    c.check(resumed >= 1 and resumed == done_before,
            f"rerun resumes: {resumed} outputs already done (the killed run recorded {done_before})")
    c.check("incomplete last line ignored" in log, "rerun warns about the torn manifest line")
    bad_lines = []
    for mod in ("video", "audio"):
        with open(os.path.join(out, mod, "manifest.jsonl"), "rb") as f:
            for k, line in enumerate(f.read().split(b"\n"), 1):
                try:
                    if line.strip():
                        json.loads(line)
                except ValueError:
                    bad_lines.append(f"{mod}:{k}")
    c.check(not bad_lines, f"the torn line is cut off: every manifest line parses ({bad_lines})")
    recs = ec.latest_records(out)
    c.check(set(recs) == set(ref_recs) and len(recs) == n_inputs,
            f"every input present once in the latest records ({len(recs)} of {n_inputs})")
    a = {meaningful(r) for r in recs.values()}
    b = {meaningful(r) for r in ref_recs.values()}
    c.check(a == b, f"manifest records equal the uninterrupted run's as sets (differ: {sorted(a ^ b)[:4]})")
    worst, missing = 0.0, []
    for key, r in ref_recs.items():
        x = os.path.join(ref, r["modality"], r["output"])
        y = os.path.join(out, r["modality"], r["output"])
        if not os.path.exists(y):
            missing.append(y)
            continue
        ax, ay = np.load(x), np.load(y)
        worst = max(worst, float(np.abs(ax - ay).max()) if ax.shape == ay.shape else float("inf"))
    c.check(not missing and worst <= TOL, f"embeddings within {TOL} of the uninterrupted run "
                                          f"(max abs diff {worst:.2e}, missing {missing[:3]})")
    c.check(planted in leftovers, f"before the rerun: {len(leftovers)} leftover .tmp.* file(s) (incl. the planted one)")
    left = tmp_files(out)
    c.check(not left, f"no .tmp.* file left under OUTPUT_DIR after the rerun ({left[:3]})")
    c.check("leftover temporary" in log, "the rerun logs the removal of leftover temporary files")
    reader = os.path.join(ec.BUILD_DIR, "lssd-read")
    if os.path.exists(reader):
        r = subprocess.run([reader, "verify", out], capture_output=True, text=True, timeout=300)
        c.check(r.returncode == 0 and "leftover" not in r.stdout + r.stderr,
                f"lssd-read verify passes with no warnings (rc {r.returncode}) {(r.stdout + r.stderr)[-300:]}")


if __name__ == "__main__":
    sys.exit(ec.e2e_main("test_crash_resume", "lssd_e2e_crash_", [check_kill_and_rerun], timings=True))
