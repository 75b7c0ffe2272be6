#!/usr/bin/env python3
"""E2E parity: lssd-infer vs tests/oracle/reference_pipeline.py (the release's steps in Python) on
sample_data with the tiny random-weight model (CPU, fp32, 2 threads): lssd-infer runs the
exporter's default export (fast kernels), the reference pipeline the same weights exported with
--kernels reference (the oracle keeps the reference formulation).

Checks: the same set of output .npy files (sample_data's edge files: broken.mp4 fails to open,
one_frame.mp4 / one_sample.wav are too short, *.MP4 / *.WAV / .mkv / .webm are ignored by the
release's case-sensitive extension lists: none gives an output); the same M and shape per file;
every clip's embedding within 1e-4 max abs diff; manifest clip ranges equal to the reference's
(video seconds to 1e-9, audio sample indices exactly); the manifest status of each skipped or
failed file. Prints the max diff per file.
The reference passes read_video the clip bounds as the release's arithmetic gives them (the tail
clip's start is the float float(end) - T, so torchvision's lo = floor(float(a) * float(1/tb)) can
be one tick below the exact-fraction lo: on testsrc2_640x360_25fps_7.6s.mp4 the tail clip keeps
77 frames, not the 76 of REFERENCE's rule read with exact fractions); the "NOTE" lines it prints
list these cases. lssd-infer's clip planner models the same float arithmetic.
Env: LSSD_BUILD_DIR (lssd-infer), LSSD_TEST_MODEL_DIR (model cache), LSSD_KEEP_TMP=1 keeps the
scratch directory.
"""
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import e2e_common as ec  # noqa: E402

TOL = 1e-4
RANGE_TOL_S = 1e-9


def main():
    c = ec.Checker("test_infer_parity")
    model = ec.tiny_model_dir()
    with ec.scratch("lssd_e2e_parity_") as tmp:
        out, ref_out = os.path.join(tmp, "out"), os.path.join(tmp, "ref")
        rc, log, t_infer = ec.run_infer(ec.SAMPLE_DIR, out, model=model)
        print(f"lssd-infer: rc {rc} in {t_infer:.1f} s")
        # broken.mp4 cannot be opened: lssd-infer records it and exits 3
        c.check(rc == 3, f"lssd-infer exit code {rc} == 3 (sample_data has a broken file)")
        if rc not in (0, 3):
            print(log)
            return c.finish()
        # The reference pipeline runs the same weights in the reference formulation (lssd-infer
        # runs the exporter's default kernels): tiny_model_dir("reference").
        ref, ref_log, t_ref = ec.run_reference(ec.SAMPLE_DIR, ref_out, os.path.join(tmp, "ref.json"))
        print(f"reference: {ref_log.strip().splitlines()[0] if ref_log.strip() else ''}")
        print(f"reference pipeline wall {t_ref:.1f} s")
        for line in ref_log.splitlines():
            if line.startswith("WARNING"):  # read_video disagreed with the frame rule
                c.check(False, f"reference: {line}")
            elif line.startswith("NOTE"):  # float vs exact-fraction clip bounds (see reference_pipeline.py)
                print(f"info: {line}")

        ours, theirs = ec.npy_files(out), ec.npy_files(ref_out)
        c.check(ours == theirs, f"same output files ({len(ours)} ours, {len(theirs)} reference)"
                + ("" if ours == theirs else f": only ours {sorted(ours - theirs)}, only reference {sorted(theirs - ours)}"))
        c.check(len(theirs) == 15, f"15 outputs on sample_data (12 video and 6 audio inputs minus one broken and two too short): {len(theirs)}")

        recs = ec.latest_records(out)
        print(f"{'file':<58} {'M':>2} {'max|diff|':>10}")
        worst = 0.0
        for r in ref["files"]:
            key = (r["modality"], r["rel_path"])
            o = recs.get(key)
            name = f"{key[0]}:{key[1]}"
            if not c.check(o is not None, f"{name}: has a manifest record"):
                continue
            if r["status"] != "ok":
                want = {"skipped_short": "skipped_short", "failed": "failed"}[r["status"]]
                c.check(o["status"] == want, f"{name}: status {o['status']} == {want}")
                c.check(not os.path.exists(os.path.join(out, key[0], key[1] + ".npy")), f"{name}: no output array")
                continue
            if not c.check(o["status"] == "ok", f"{name}: status {o['status']} == ok"):
                continue
            a = np.load(os.path.join(ref_out, key[0], key[1] + ".npy"))
            b = np.load(os.path.join(out, key[0], o["output"]))
            c.check(b.dtype == np.float32, f"{name}: dtype {b.dtype} float32")
            if not c.check(a.shape == b.shape, f"{name}: shape {list(b.shape)} == reference {list(a.shape)}"):
                continue
            c.check(o["M"] == a.shape[0] and list(o["shape"]) == list(a.shape),
                    f"{name}: manifest M {o['M']} / shape {o['shape']} match")
            per_clip = np.abs(a - b).reshape(a.shape[0], -1).max(1)
            d = float(per_clip.max())
            worst = max(worst, d)
            print(f"{name:<58} {a.shape[0]:>2} {d:>10.3g}  per clip {[f'{x:.2g}' for x in per_clip]}")
            c.check(d <= TOL, f"{name}: every clip within {TOL} (max {d:.3g})")
            ranges = o["ranges"]
            if not c.check(len(ranges) == len(r["ranges"]), f"{name}: {len(ranges)} ranges == {len(r['ranges'])}"):
                continue
            if key[0] == "video":
                ok = all(abs(x[0] - y[0]) <= RANGE_TOL_S and abs(x[1] - y[1]) <= RANGE_TOL_S
                         for x, y in zip(ranges, r["ranges"]))
                c.check(ok, f"{name}: video ranges {ranges} == {r['ranges']} (1e-9 s)")
                c.check(abs(o["fps"] - r["fps"]) <= 1e-9, f"{name}: fps {o['fps']} == {r['fps']}")
            else:
                ok = [[x[2], x[3]] for x in ranges] == r["ranges"]
                c.check(ok, f"{name}: audio sample ranges {[[x[2], x[3]] for x in ranges]} == {r['ranges']}")
                c.check(o["sample_rate"] == r["sample_rate"], f"{name}: sample rate {o['sample_rate']} == {r['sample_rate']}")
        # the release ignores these; lssd-infer must too by default
        for rel in ("video/misc/UPPER_CASE_320x240_25fps_2.4s.MP4", "audio/edge/UPPER_CASE_16kHz_mono_2.5s.WAV",
                    "video/multi/testsrc2_320x240_25fps_3.2s_vp9.webm",
                    "video/multi/testsrc2_320x240_25fps_5.0s_eng_deu.mkv"):
            c.check(not any(k[1] == rel for k in recs), f"{rel}: ignored (no manifest record)")
        print(f"max |diff| over all files: {worst:.3g}; lssd-infer {t_infer:.1f} s, reference {t_ref:.1f} s")
    return c.finish()


if __name__ == "__main__":
    sys.exit(main())
