#!/usr/bin/env python3
"""E2E: the sharded layout (OUTPUT.LAYOUT shards) gives the files layout's vectors, bit for bit,
through every reader; a folder mixing both layouts reads the same; lssd-read convert turns one
layout into the other (tiny model, CPU).

Corpus: 7 inputs of sample_data (3 videos, one of them twice, a two-track .mkv read for its audio
tracks with DATA.AUDIO_FROM_VIDEO True, 3 audio files).
1. lssd-infer into files/ (OUTPUT.LAYOUT files) and into shards/ (OUTPUT.LAYOUT shards,
   OUTPUT.SHARD_INPUTS 2: several parts per modality); shards/ holds parts (valid .npy that
   numpy.load opens with mmap) and no per-input .npy.
2. Every reader gives the same on both: lssd-read ls, show --values, stats, verify, export
   --csv / --jsonl / --release (byte-identical files), search, dedup, tracks, report (--json, the
   layout's own fields aside: output, row, npy), compare files/ shards/ --atol 0; numpy:
   postprocess(), read_records(), clip_matrix() (arrays equal bit for bit, same dtype).
3. A mixed folder: a files-layout run of the video only, then a shards-layout rerun with audio:
   the video records stay .npy (not recomputed), audio goes to parts; every reader gives the
   same vectors as files/; --overwrite in shards removes the superseded .npy (verify: no orphan).
4. lssd-read convert files/ -> shards (compare --atol 0, verify) -> files (every .npy
   byte-identical to files/'s); convert into a non-empty folder is refused (exit 2).
Env: LSSD_BUILD_DIR, LSSD_TEST_MODEL_DIR, LSSD_KEEP_TMP=1.
"""
import filecmp
import json
import os
import shutil
import subprocess
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import e2e_common as ec  # noqa: E402

sys.path.insert(0, os.path.join(ec.SOURCE_DIR, "tools"))
import lssd_postprocess  # noqa: E402

INPUTS = ["video/ucf/testsrc2_320x240_25fps_2.0s.mp4", "video/vfr/testsrc2_320x240_vfr_5.0s.mp4",
          "video/multi/testsrc2_320x240_25fps_5.0s_eng_deu.mkv", "audio/speech/german_16kHz_mono_7.5s.wav",
          "audio/music/tones_48kHz_stereo_4.64s.mp3", "audio/speech/english_44.1kHz_stereo_7.6s.flac"]
TRACKS = ("DATA.AUDIO_FROM_VIDEO", "True")
LAYOUT_FIELDS = ("output", "row", "npy", "source")


def make_corpus(data):
    for rel in INPUTS:
        os.makedirs(os.path.join(data, os.path.dirname(rel)), exist_ok=True)
        shutil.copy2(os.path.join(ec.SAMPLE_DIR, rel), os.path.join(data, rel))
    dup = os.path.join(data, "dup", "copy.mp4")  # a pair for dedup
    os.makedirs(os.path.dirname(dup))
    shutil.copy2(os.path.join(ec.SAMPLE_DIR, INPUTS[0]), dup)


def strip(obj, roots):
    """obj with the layout's own fields removed and each root path replaced by ROOT."""
    if isinstance(obj, dict):
        return {k: strip(v, roots) for k, v in obj.items() if k not in LAYOUT_FIELDS}
    if isinstance(obj, list):
        return [strip(v, roots) for v in obj]
    if isinstance(obj, str):
        for r in roots:
            obj = obj.replace(r, "ROOT")
        return obj
    return obj


def untimed_report(rep):
    """lssd-read report's JSON without what each run's timing decides (when it was made, the
    inputs' wall times)."""
    rep.pop("generated", None)
    for m in rep.get("run", {}).get("modalities", {}).values():
        m.pop("wall_s", None)
    return rep


def reader_outputs(out, scratch_dir):
    """{command: its output (parsed JSON or bytes)} for every lssd-read command and the numpy reader."""
    res = {}
    ls = ec.read_json("ls", out, "--json")
    res["ls"] = ls
    for r in ls["records"]:
        if r["status"] == "ok":
            args = ["show", out, r["rel_path"], "--mtype", r["mtype"], "--json", "--values"]
            res["show " + r["rel_path"] + " " + r["mtype"]] = ec.read_json(*args)
    res["stats"] = ec.read_json("stats", out, "--json")
    res["verify"] = ec.read_json("verify", out, "--json")
    for fmt in ("--csv", "--jsonl"):
        rc, text, err = ec.lssd_read("export", out, fmt, "-")
        res["export " + fmt] = text if rc == 0 else f"rc {rc}: {err}"
    rel = os.path.join(scratch_dir, "release-" + os.path.basename(out))
    rc, _, err = ec.lssd_read("export", out, "--release", rel)
    for m in ("video", "audio"):
        for f in ("metadata.json", m + ".pt"):
            p = os.path.join(rel, m, f)
            res[f"export --release {m}/{f}"] = open(p, "rb").read() if os.path.exists(p) else f"missing ({err})"
    for m in ("video", "audio"):
        first = next(r for r in ls["records"] if r["mtype"] == m and r["status"] == "ok")
        res["search " + m] = ec.read_json("search", out, "--mtype", m, "--file", first["rel_path"], "-k", "5",
                                          "--json")
        res["dedup " + m] = ec.read_json("dedup", out, "--mtype", m, "--threshold", "0.9", "--min-clips", "1",
                                         "--json")
    rc, text, err = ec.lssd_read("tracks", out, "--json")
    res["tracks"] = json.loads(text) if text.strip() else f"rc {rc}: {err}"
    # lssd-read report: the run summary (manifests and every writer's error log), tracks,
    # duplicates, projection (--slowest 0: the slowest inputs are timings of each run)
    rc, text, err = ec.lssd_read("report", out, "-o", "-", "--json", "--no-thumbnails", "--slowest", "0",
                                 "--min-clips", "1")
    res["report"] = untimed_report(json.loads(text)) if rc == 0 and text.strip() else f"rc {rc}: {err}"
    for m in ("video", "audio"):
        res["numpy postprocess " + m] = [(repr(f), a.dtype.str, a.tobytes()) for f, a in
                                         lssd_postprocess.postprocess(out, m)]
        res["numpy read_records " + m] = [{k: v for k, v in r.items() if k not in ("v", "seq", "wall_s", "_output")
                                           + LAYOUT_FIELDS} for r in lssd_postprocess.read_records(out, m)]
        X, rows = lssd_postprocess.clip_matrix(out, m)
        res["numpy clip_matrix " + m] = (X.dtype.str, X.tobytes(), rows)
    return res


_OUTPUTS = {}


def same_readers(c, a_dir, b_dir, tmp, what):
    for d in (a_dir, b_dir):  # files/ is read once, for both comparisons
        if d not in _OUTPUTS or not d.endswith("files"):
            _OUTPUTS[d] = reader_outputs(d, tmp)
    a, b = _OUTPUTS[a_dir], _OUTPUTS[b_dir]
    differ = [k for k in sorted(set(a) | set(b))
              if strip(a.get(k), [a_dir]) != strip(b.get(k), [b_dir])]
    c.check(not differ and len(a) > 20, f"{what}: {len(a)} reader outputs identical (differ: {differ[:5]})")
    rc, out, err = ec.lssd_read("compare", a_dir, b_dir, "--atol", "0", "--min-cosine", "1")
    c.check(rc == 0 and "max |diff| 0;" in out, f"{what}: lssd-read compare --atol 0 passes (rc {rc}) {out[-200:]}")


def infer(c, data, out, *overrides, flags=()):
    rc, log, wall = ec.run_infer(data, out, *TRACKS, *overrides, flags=flags)
    if not c.check(rc == 0, f"lssd-infer {' '.join(overrides)} -> {out}: exit 0 ({wall:.1f} s)"):
        print(log[-3000:])
    return log


def check_layouts(c, tmp):
    data, files, shards = (os.path.join(tmp, x) for x in ("data", "files", "shards"))
    make_corpus(data)
    infer(c, data, files)
    infer(c, data, shards, "OUTPUT.LAYOUT", "shards", "OUTPUT.SHARD_INPUTS", "2")
    parts = sorted(os.path.join(dp, f) for dp, _d, fs in os.walk(shards) for f in fs if f.endswith(".npy"))
    c.check(parts and all("/parts/" in p for p in parts), f"shards/: {len(parts)} .npy, every one a part")
    rows = {p: np.load(p, mmap_mode="r").shape for p in parts}
    recs = [json.loads(line) for m in ("video", "audio") for line in open(os.path.join(shards, m, "manifest.jsonl"))]
    ok = [r for r in recs if r["status"] == "ok"]
    c.check(all(r["v"] == 2 and r["row"] + r["M"] <= rows[os.path.join(shards, r["modality"], r["output"])][0]
                for r in ok), f"{len(ok)} ok records name rows inside their parts (manifest v 2)")
    same_readers(c, files, shards, tmp, "files vs shards")


def check_mixed(c, tmp):
    data, files, mixed = (os.path.join(tmp, x) for x in ("data", "files", "mixed"))
    infer(c, data, mixed, "DATA.USE_AUDIO", "False")
    video_before = open(os.path.join(mixed, "video", "manifest.jsonl")).read()
    log = infer(c, data, mixed, "OUTPUT.LAYOUT", "shards")
    c.check(open(os.path.join(mixed, "video", "manifest.jsonl")).read() == video_before,
            "mixed: the shards rerun keeps the video outputs of the files run (no new video record)")
    c.check(os.path.isdir(os.path.join(mixed, "audio", "parts")) and
            not os.path.isdir(os.path.join(mixed, "video", "parts")), "mixed: audio in parts, video as .npy")
    same_readers(c, files, mixed, tmp, "files vs mixed")
    infer(c, data, mixed, "OUTPUT.LAYOUT", "shards", flags=["--overwrite"])
    left = [f for dp, _d, fs in os.walk(os.path.join(mixed, "video")) for f in fs
            if f.endswith(".npy") and "/parts" not in dp]
    c.check(not left, f"--overwrite in shards: the superseded .npy are removed ({left[:2]})")
    orphans = {p["file"] for p in ec.lssd_read_json_any("verify", mixed, "--json")["problems"] if p["kind"] == "orphan"}
    c.check(orphans and all("/parts/" in p for p in orphans), f"... and the superseded parts are orphans ({len(orphans)})")
    log = infer(c, data, mixed, "OUTPUT.LAYOUT", "shards")
    c.check("shard part(s)" in log and ec.read_json("verify", mixed, "--json")["ok"],
            "the next run removes the parts no record names: verify ok")


def check_convert(c, tmp):
    files, shards, conv, back = (os.path.join(tmp, x) for x in ("files", "shards", "conv", "back"))
    rc, out, err = ec.lssd_read("convert", files, conv, "--to", "shards", "--shard-inputs", "3")
    c.check(rc == 0, f"convert files -> shards: exit 0 ({out.strip()} {err})")
    rc, out, _ = ec.lssd_read("compare", shards, conv, "--atol", "0", "--min-cosine", "1")
    c.check(rc == 0 and ec.read_json("verify", conv, "--json")["ok"], "converted shards: compare --atol 0 and verify")
    rc, out, err = ec.lssd_read("convert", conv, back, "--to", "files")
    npys = [os.path.relpath(os.path.join(dp, f), files) for dp, _d, fs in os.walk(files) for f in fs
            if f.endswith(".npy")]
    same = all(filecmp.cmp(os.path.join(files, p), os.path.join(back, p), shallow=False) for p in npys)
    c.check(rc == 0 and npys and same, f"convert back to files: {len(npys)} .npy byte-identical to files/")
    rc, _, err = ec.lssd_read("convert", files, back, "--to", "shards")
    c.check(rc == 2 and "not an empty directory" in err, f"convert into a non-empty folder: exit 2 ({err.strip()})")


if __name__ == "__main__":
    if not os.path.exists(ec.READ):
        sys.exit(f"missing {ec.READ}: build the lssd-read target")
    sys.exit(ec.e2e_main("test_shards", "lssd_e2e_shards_", [check_layouts, check_mixed, check_convert]))
