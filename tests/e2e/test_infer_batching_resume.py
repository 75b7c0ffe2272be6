#!/usr/bin/env python3
"""E2E: lssd-infer batching, resume and failure handling, with the tiny random-weight model
(CPU, fp32, 2 threads).

(a) TEST.BATCH_SIZE 1 and 16 give bit-identical embeddings on 4 files with 2-3 clips each (two
    videos, two audio files): on CPU every input runs on a lane's thread count whatever its
    batch (the fast export's oneDNN linears round differently with another thread count).
(b) Resume, on a copy of 4 small files (a 1-clip video, two wavs, the one-sample wav): a rerun into
    the same OUTPUT_DIR computes 0 outputs (summary line; no new manifest records; .npy mtimes
    unchanged); after deleting one .npy exactly that one is recomputed; `TEST.CLIP_LEN 2.0`
    recomputes all 4; `--overwrite` recomputes all 4 again.
(c) Failures: sample_data plus 3 broken files (zero-byte video/bad1.mp4, random bytes
    audio/bad2.wav, video/bad3.mp4 = the first 30% of a good mp4): exit code 3; errors.jsonl
    names exactly 4 inputs, those 3 and sample_data's own video/misc/broken.mp4; every other
    file is done (15 outputs ok, one_frame.mp4 / one_sample.wav skipped_short).
(d) Outputs of the earlier video reading rule (packet pts without GENPTS; the video model id did
    not name a rule then): on two videos and a wav, the first run's video records are rewritten
    as that rule left them (another model id; the DivX packed AVI as skipped_short, no array);
    a rerun recomputes exactly the two videos (the AVI now ok with its clips), not the wav.
Env: LSSD_BUILD_DIR, LSSD_TEST_MODEL_DIR, LSSD_KEEP_TMP=1.
"""
import os
import random
import re
import shutil
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import e2e_common as ec  # noqa: E402

SUMMARY_RE = re.compile(r"done: (\d+) outputs = (\d+) written \+ (\d+) already done \+ (\d+) too short"
                        r"(?: \+ \d+ without audio)?(?: \+ (\d+) failed)?")


def copy_subset(dst, rels):
    for rel in rels:
        os.makedirs(os.path.dirname(os.path.join(dst, rel)), exist_ok=True)
        shutil.copy2(os.path.join(ec.SAMPLE_DIR, rel), os.path.join(dst, rel))


def summary(log):
    """(inputs, written, resumed, too_short, failed) of the run's last summary line."""
    m = SUMMARY_RE.findall(log)
    return tuple(int(x or 0) for x in m[-1]) if m else None


def npy_mtimes(out):
    return {k: os.stat(os.path.join(out, k[0], k[1])).st_mtime_ns for k in ec.npy_files(out)}


def n_records(out):
    return len(ec.read_manifest(out, "video")) + len(ec.read_manifest(out, "audio"))


def check_batch_size_bit_identical(c, tmp, timings):
    data = os.path.join(tmp, "a_data")
    copy_subset(data, ["video/ucf/testsrc2_640x360_25fps_7.6s.mp4", "video/ucf/mandelbrot_240x320_29.97fps_4.64s.mp4",
                       "audio/speech/english_44.1kHz_stereo_7.6s.flac", "audio/music/tones_48kHz_stereo_4.64s.mp3"])
    outs = {}
    for bs in (1, 16):
        out = os.path.join(tmp, f"a_out_bs{bs}")
        rc, log, dt = ec.run_infer(data, out, "TEST.BATCH_SIZE", str(bs))
        timings[f"(a) batch {bs}"] = dt
        c.check(rc == 0, f"(a) batch {bs}: exit code {rc} == 0")
        if rc != 0:
            print(log)
        outs[bs] = out
    f1, f16 = ec.npy_files(outs[1]), ec.npy_files(outs[16])
    c.check(f1 == f16 and len(f1) == 4, f"(a) the same 4 output files at batch 1 and 16 ({len(f1)}, {len(f16)})")
    for k in sorted(f1 & f16):
        a = np.load(os.path.join(outs[1], k[0], k[1]))
        b = np.load(os.path.join(outs[16], k[0], k[1]))
        if not c.check(a.shape == b.shape, f"(a) {k[1]}: shape {a.shape} == {b.shape}"):
            continue
        d = float(np.abs(a - b).max())
        c.check(d == 0.0, f"(a) {k[1]}: M {a.shape[0]}, batch 1 vs 16 bit-identical (max |diff| {d:.3g})")


def check_resume(c, tmp, timings):
    data, out = os.path.join(tmp, "b_data"), os.path.join(tmp, "b_out")
    copy_subset(data, ["video/ucf/testsrc2_320x240_25fps_2.0s.mp4", "audio/speech/german_16kHz_mono_7.5s.wav",
                       "audio/music/sine_16kHz_5.1_3.5s.wav", "audio/edge/one_sample.wav"])

    def run(step, *args, flags=()):
        rc, log, dt = ec.run_infer(data, out, *args, flags=flags)
        timings[f"(b) {step}"] = dt
        c.check(rc == 0, f"(b) {step}: exit code {rc} == 0")
        if rc != 0:
            print(log)
        s = summary(log)
        c.check(s is not None, f"(b) {step}: summary line found")
        return s

    s = run("first run")
    c.check(s == (4, 3, 0, 1, 0), f"(b) first run: 4 inputs, 3 written, 1 too short: {s}")
    recs0, mt0 = n_records(out), npy_mtimes(out)
    c.check(recs0 == 4 and len(mt0) == 3, f"(b) first run: 4 records ({recs0}), 3 arrays ({len(mt0)})")

    s = run("rerun")
    c.check(s == (4, 0, 4, 0, 0), f"(b) rerun: 0 written, 4 already done: {s}")
    c.check(n_records(out) == recs0, f"(b) rerun: no new manifest records ({n_records(out)} == {recs0})")
    c.check(npy_mtimes(out) == mt0, "(b) rerun: output mtimes unchanged")

    victim = ("audio", "audio/speech/german_16kHz_mono_7.5s.wav.npy")
    os.remove(os.path.join(out, *victim))
    s = run("one .npy deleted")
    c.check(s == (4, 1, 3, 0, 0), f"(b) one .npy deleted: exactly 1 written, 3 already done: {s}")
    c.check(n_records(out) == recs0 + 1, f"(b) one .npy deleted: 1 new record ({n_records(out) - recs0})")
    mt1 = npy_mtimes(out)
    c.check(victim in mt1, "(b) the deleted output is back")
    c.check({k: v for k, v in mt1.items() if k != victim} == {k: v for k, v in mt0.items() if k != victim},
            "(b) the other outputs are untouched")
    recs1 = n_records(out)

    s = run("TEST.CLIP_LEN 2.0", "TEST.CLIP_LEN", "2.0")
    c.check(s == (4, 3, 0, 1, 0), f"(b) TEST.CLIP_LEN 2.0: all 4 recomputed (3 written, 1 too short): {s}")
    c.check(n_records(out) == recs1 + 4, f"(b) TEST.CLIP_LEN 2.0: 4 new records ({n_records(out) - recs1})")
    last = ec.latest_records(out)
    german = last.get(("audio", "audio/speech/german_16kHz_mono_7.5s.wav"), {})
    c.check(german.get("M") == 4, f"(b) TEST.CLIP_LEN 2.0: the 7.5 s wav now has 4 clips ({german.get('M')})")
    recs2, mt2 = n_records(out), npy_mtimes(out)

    time.sleep(0.05)
    s = run("--overwrite", "TEST.CLIP_LEN", "2.0", flags=("--overwrite",))
    c.check(s == (4, 3, 0, 1, 0), f"(b) --overwrite: all 4 recomputed: {s}")
    c.check(n_records(out) == recs2 + 4, f"(b) --overwrite: 4 new records ({n_records(out) - recs2})")
    mt3 = npy_mtimes(out)
    c.check(all(mt3[k] != mt2[k] for k in mt2), "(b) --overwrite: every output rewritten (mtimes changed)")


def check_failures_recorded(c, tmp, timings):
    data, out = os.path.join(tmp, "c_data"), os.path.join(tmp, "c_out")
    shutil.copytree(ec.SAMPLE_DIR, data)
    open(os.path.join(data, "video", "bad1.mp4"), "wb").close()
    rng = random.Random(1234)
    with open(os.path.join(data, "audio", "bad2.wav"), "wb") as f:
        f.write(bytes(rng.getrandbits(8) for _ in range(8192)))
    good = os.path.join(ec.SAMPLE_DIR, "video", "ucf", "testsrc2_320x240_25fps_2.0s.mp4")
    with open(good, "rb") as f:
        blob = f.read()
    with open(os.path.join(data, "video", "bad3.mp4"), "wb") as f:
        f.write(blob[: int(len(blob) * 0.3)])

    rc, log, dt = ec.run_infer(data, out, "TEST.BATCH_SIZE", "16")
    timings["(c) sample_data + 3 broken files"] = dt
    c.check(rc == 3, f"(c) exit code {rc} == 3")
    errs = ec.read_errors(out)
    bad = {os.path.join(data, p) for p in ("video/bad1.mp4", "audio/bad2.wav", "video/bad3.mp4",
                                           "video/misc/broken.mp4")}
    got = [e["path"] for e in errs]
    c.check(sorted(got) == sorted(bad),
            f"(c) errors.jsonl names exactly bad1.mp4, bad2.wav, bad3.mp4 and sample_data's broken.mp4: "
            f"{sorted(os.path.relpath(p, data) for p in got)}")
    for e in errs:
        print(f"    {os.path.relpath(e['path'], data)}: [{e.get('stage')}] {e.get('message')}")
    last = ec.latest_records(out)
    status = {}
    for k, r in last.items():
        status.setdefault(r["status"], []).append(k[1])
    c.check(len(status.get("ok", [])) == 15, f"(c) 15 good files done: {sorted(status.get('ok', []))}")
    c.check(sorted(status.get("skipped_short", [])) == ["audio/edge/one_sample.wav", "video/misc/one_frame.mp4"],
            f"(c) too short: {sorted(status.get('skipped_short', []))}")
    c.check(sorted(status.get("failed", [])) == sorted(os.path.relpath(p, data) for p in bad),
            f"(c) failed records: {sorted(status.get('failed', []))}")
    for k, r in last.items():
        if r["status"] == "ok":
            a = np.load(os.path.join(out, k[0], r["output"]))
            c.check(list(a.shape) == r["shape"] and np.isfinite(a).all(), f"(c) {k[1]}: {list(a.shape)} finite")
    s = summary(log)
    c.check(s is not None and s[4] == 4, f"(c) summary line: 4 failed ({s})")


def rewrite_manifest(out, modality, edit):
    """Applies edit(record) to every record of OUTPUT_DIR/<modality>/manifest.jsonl."""
    import json

    path = os.path.join(out, modality, "manifest.jsonl")
    with open(path) as f:
        recs = [json.loads(line) for line in f if line.strip()]
    with open(path, "w") as f:
        for r in recs:
            edit(r)
            f.write(json.dumps(r) + "\n")


def check_earlier_reading_rule_recomputed(c, tmp, timings):
    data, out = os.path.join(tmp, "d_data"), os.path.join(tmp, "d_out")
    divx = "video/encoders/divx_packed_320x240_30fps_4.6s.avi"
    copy_subset(data, [divx, "video/ucf/testsrc2_320x240_25fps_2.0s.mp4", "audio/speech/german_16kHz_mono_7.5s.wav"])
    rc, log, dt = ec.run_infer(data, out)
    timings["(d) first run"] = dt
    c.check(rc == 0 and summary(log) == (3, 3, 0, 0, 0), f"(d) first run: 3 written ({rc}, {summary(log)})")

    def as_earlier_rule(r):
        r["model_id"] = "0123456789abcdef"  # the id of the same model under the earlier rule
        if r["rel_path"] == divx:  # that rule found fewer than 2 packet timestamps
            os.remove(os.path.join(out, "video", r["output"]))
            r.update(status="skipped_short", output="", M=0, shape=[], ranges=[])

    rewrite_manifest(out, "video", as_earlier_rule)
    rc, log, dt = ec.run_infer(data, out)
    timings["(d) rerun"] = dt
    c.check(rc == 0 and summary(log) == (3, 2, 1, 0, 0),
            f"(d) rerun: the 2 videos recomputed, the wav already done ({rc}, {summary(log)})")
    r = ec.latest_records(out).get(("video", divx), {})
    c.check(r.get("status") == "ok" and r.get("M") == 2 and r.get("timestamps") == "frames",
            f"(d) the DivX AVI is embedded now: {r.get('status')}, M {r.get('M')}, timestamps {r.get('timestamps')}")


if __name__ == "__main__":
    sys.exit(ec.e2e_main("test_infer_batching_resume", "lssd_e2e_batching_",
                         [check_batch_size_bit_identical, check_resume, check_failures_recorded,
                          check_earlier_reading_rule_recomputed], timings=True))
