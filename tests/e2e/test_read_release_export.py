#!/usr/bin/env python3
"""`lssd-read export DIR --release OUT` writes the release's layout exactly: OUT/<mtype>/metadata.json
(range: video float seconds / audio int samples; filepath; sample_rate: video fps float / audio
int rate) and OUT/<mtype>/<mtype>.pt (float32, [sum M,5,768] / [sum M,768]) that torch.load reads.
REFERENCE's postprocess (split the tensor by len(range[i]) along dim 0) gives exactly the arrays
of our layout, file for file and in the same order. The export of a shard-split output equals
the export of the single run, and lssd-read / the numpy reader read the release layout back."""
import json
import os
import shutil
import subprocess
import sys

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from e2e_common import PYTHON, SAMPLE_DIR, SOURCE_DIR, Checker, run_infer, scratch, READ, lssd_read  # noqa: E402

sys.path.insert(0, os.path.join(SOURCE_DIR, "tools"))
import lssd_postprocess  # noqa: E402

# A subset of sample_data: videos at 30 and 25 fps (2 and 1 clips), audio at 48 kHz and 16 kHz.
SUBSET = ["video/avi/testsrc_320x240_30fps_7.5s.avi", "video/ucf/testsrc2_320x240_25fps_2.0s.mp4",
          "video/misc/one_frame.mp4", "audio/music/tones_48kHz_stereo_4.64s.mp3",
          "audio/speech/german_16kHz_mono_7.5s.wav", "audio/edge/one_sample.wav"]


def reference_postprocess(output_dir, mtype):
    """The release's postprocess, as README.md ("The Python release's behaviour", "Output") describes it."""
    with open(os.path.join(output_dir, mtype, "metadata.json")) as f:
        meta = json.load(f)
    t = torch.load(os.path.join(output_dir, mtype, f"{mtype}.pt"))
    parts = torch.split(t, [len(r) for r in meta["range"]], dim=0)
    return meta, t, list(zip(meta["filepath"], parts))


def main():
    c = Checker("test_read_release_export")
    if not os.path.exists(READ):
        sys.exit(f"missing {READ}: build the lssd-read target")
    with scratch("lssd_read_rel_") as tmp:
        data = os.path.join(tmp, "data")
        for rel in SUBSET:
            os.makedirs(os.path.dirname(os.path.join(data, rel)), exist_ok=True)
            shutil.copy(os.path.join(SAMPLE_DIR, rel), os.path.join(data, rel))
        out = os.path.join(tmp, "out")
        rc, log, wall = run_infer(data, out)
        print(f"lssd-infer on {len(SUBSET)} files: exit {rc} in {wall:.1f}s", flush=True)
        if not c.check(rc == 0, f"lssd-infer ran (exit {rc})"):
            print(log[-3000:])
            return c.finish()
        rel = os.path.join(tmp, "release")
        rc, _, err = lssd_read("export", out, "--release", rel)
        c.check(rc == 0, f"export --release: exit {rc} {err.strip()}")
        for m in ("video", "audio"):
            c.check(set(os.listdir(os.path.join(rel, m))) == {"metadata.json", f"{m}.pt"},
                    f"{m}: OUT/{m}/ holds metadata.json and {m}.pt only")
            meta, t, ref = reference_postprocess(rel, m)
            ours = lssd_postprocess.postprocess(out, m)
            c.check(set(meta) == {"range", "filepath", "sample_rate"} and
                    len(meta["range"]) == len(meta["filepath"]) == len(meta["sample_rate"]) == len(ours),
                    f"{m}: metadata.json has range/filepath/sample_rate lists, one entry per embedded file ({len(ours)})")
            dims = (5, 768) if m == "video" else (768,)
            c.check(t.dtype == torch.float32 and tuple(t.shape) == (sum(a.shape[0] for _, a in ours), *dims),
                    f"{m}: torch.load gives float32 {tuple(t.shape)}")
            c.check([f for f, _ in ref] == [f for f, _ in ours], f"{m}: same files in the same order as our layout")
            c.check(all(torch.equal(e, torch.from_numpy(a)) for (_, e), (_, a) in zip(ref, ours)),
                    f"{m}: the release's postprocess gives exactly our arrays, file for file")
            recs = {r["rel_path"]: r for r in lssd_postprocess.read_records(out, m) if r["status"] == "ok"}
            by_path = {os.fsdecode(r["_path"]): r for r in recs.values()}
            ok_ranges = ok_rates = True
            for f, rng, sr in zip(meta["filepath"], meta["range"], meta["sample_rate"]):
                r = by_path[f]
                if m == "video":
                    want = [[x[0], x[1]] for x in r["ranges"]]
                    ok_ranges &= rng == want and all(isinstance(v, float) for p in rng for v in p)
                    ok_rates &= isinstance(sr, float) and sr == r["fps"]
                else:
                    want = [[x[2], x[3]] for x in r["ranges"]]
                    ok_ranges &= rng == want and all(isinstance(v, int) for p in rng for v in p)
                    ok_rates &= isinstance(sr, int) and sr == r["sample_rate"]
            c.check(ok_ranges, f"{m}: ranges are {'float seconds' if m == 'video' else 'int native-rate samples'}, "
                    f"as in the manifest: {meta['range']}")
            c.check(ok_rates, f"{m}: sample_rate {'fps float' if m == 'video' else 'int rate'}: {meta['sample_rate']}")
            # the readers read the release layout back
            back = lssd_postprocess.postprocess(rel, m)
            c.check([f for f, _ in back] == [f for f, _ in ours] and
                    all(np.array_equal(a, b) for (_, a), (_, b) in zip(back, ours)),
                    f"{m}: the numpy reader reads the release layout (without torch) identically")
        c.check(meta["range"][0] == [[0, 144000], [78720, 222720]] and meta["sample_rate"] == [48000, 16000],
                f"audio metadata as expected for the 4.64 s mp3 and the 16 kHz wav: {meta['range']}")
        rc, o, _ = lssd_read("ls", rel, "--json")
        j = json.loads(o)
        c.check(rc == 0 and j["layout"] == {"video": "release", "audio": "release"} and len(j["records"]) == 4,
                "lssd-read ls detects the release layout")
        rc, o, _ = lssd_read("compare", out, rel, "--atol", "0", "--json")
        j = json.loads(o)
        c.check(rc == 0 and j["compared"] == 4 and j["max_abs_diff"] == 0.0,
                f"compare ours vs the export: exit {rc}, {j['compared']} files identical; "
                f"skipped files only on our side: {[f['file'] for f in j['only_in_a']]}")
        rc, o, _ = lssd_read("verify", rel)
        c.check(rc == 0, f"verify on the release layout: exit {rc}")
        rc, o, _ = lssd_read("show", rel, meta["filepath"][0], "--mtype", "audio")
        c.check(rc == 0 and o.count("tensor([[") == 1, "show works on the release layout")

        # a shard-split run exports the same thing
        sh = os.path.join(tmp, "sharded")
        for i in range(2):
            rc, log, _ = run_infer(data, sh, "DIST.NUM_SHARDS", "2", "DIST.SHARD_ID", str(i))
            c.check(rc == 0, f"shard {i} of 2: exit {rc}")
        parts = sorted(os.listdir(os.path.join(sh, "video")))
        c.check(sum(p.startswith("manifest.shard-") for p in parts) == 2, f"two manifest parts: {parts}")
        rel2 = os.path.join(tmp, "release2")
        rc, _, _ = lssd_read("export", sh, "--release", rel2)
        same = rc == 0
        diff = 0.0
        for m in ("video", "audio"):
            same &= open(os.path.join(rel, m, "metadata.json")).read() == open(os.path.join(rel2, m, "metadata.json")).read()
            t1, t2 = torch.load(os.path.join(rel, m, f"{m}.pt")), torch.load(os.path.join(rel2, m, f"{m}.pt"))
            same &= t1.shape == t2.shape
            if t1.shape == t2.shape:
                diff = max(diff, (t1 - t2).abs().max().item())
        # Values may differ in the last bits: other batch compositions take other BLAS paths.
        c.check(same and diff < 1e-4, "export of the 2-shard output equals the single run's "
                f"(metadata byte for byte, max |diff| {diff:.2e})")

        # torch.load in a fresh Python reads our .pt (no state shared with this process)
        r = subprocess.run([PYTHON, "-c", "import sys, torch; t = torch.load(sys.argv[1]); print(t.dtype, tuple(t.shape))",
                            os.path.join(rel, "video", "video.pt")], capture_output=True, text=True)
        c.check(r.returncode == 0 and r.stdout.startswith("torch.float32 (3, 5, 768)"),
                f"fresh torch.load of video.pt: {r.stdout.strip()} {r.stderr.strip()[-300:]}")
    return c.finish()


if __name__ == "__main__":
    sys.exit(main())
