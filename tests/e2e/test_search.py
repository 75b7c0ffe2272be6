#!/usr/bin/env python3
"""lssd-read search on lssd-infer's output of sample_data (tiny model, DATA.AUDIO_FROM_VIDEO True):
every clip is its own top hit (score >= 1 - 1e-6; an exactly equal clip of an earlier file may
come first); exact search equals a numpy brute force over lssd_postprocess.clip_matrix (same
rows, same scores, same order under the tie rule: score, then file, track, clip), with --file,
--clip, --track and --vector; a duplicated file ties and is ordered after the original; the
approximate index is saved under OUT/index (or --index-dir), loaded, and rebuilt when the
manifest changes; records of two model ids are refused (both named) unless --model-id picks
one, in C++ and in Python; a missing modality or no tracks is exit 1, usage errors exit 2; the
README's search section runs as written."""
import json
import os
import re
import shutil
import subprocess
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from e2e_common import BUILD_DIR, PYTHON, SAMPLE_DIR, SOURCE_DIR, Checker, run_infer, scratch, READ, lssd_read, read_json  # noqa: E402

sys.path.insert(0, os.path.join(SOURCE_DIR, "tools"))
import lssd_postprocess  # noqa: E402



def key(h):
    return (h["file"], h["track"], h["clip"])


def brute_force(X, rows, q, k):
    """(file, track, clip, score) of the k best rows: scores summed in order in float64 (as
    lssd-read does), rounded to float32; ties by row (= file, track, clip)."""
    s = np.cumsum(X.astype(np.float64) * q.astype(np.float64)[None, :], axis=1)[:, -1].astype(np.float32)
    order = sorted(range(len(rows)), key=lambda i: (-float(s[i]), i))[:k]
    return [(rows[i][0], rows[i][1], rows[i][2], float(s[i])) for i in order]


def check_modality(c, out, m):
    X, rows = lssd_postprocess.clip_matrix(out, m)
    n = len(rows)
    c.check(X.dtype == np.float32 and X.shape == (n, 768) and n > 0, f"{m}: clip_matrix {X.shape} {X.dtype}")
    recs = [r for r in read_json("ls", out, "--mtype", m, "--json")["records"] if r["status"] == "ok"]
    want_rows = [(r["path"], r["track"]["index"] if r["track"] else None, i, rg[0], rg[1])
                 for r in recs for i, rg in enumerate(r["ranges"])]
    c.check(rows == want_rows, f"{m}: clip_matrix rows follow lssd-read ls (file, track, clip, start, stop)")
    own_ok, same, ties = True, True, 0
    files = list(dict.fromkeys(r[0] for r in rows))  # every file (all its tracks), in one call
    res = read_json("search", out, "--mtype", m, *[a for f in files for a in ("--file", f)], "-k", str(n), "--json")
    c.check(len(res["queries"]) == n, f"{m}: one call with {len(files)} --file options queries all {n} clips")
    for q in res["queries"]:
        qk = (q["query"]["file"], q["query"]["track"], q["query"]["clip"])
        hits = q["hits"]
        own = [i for i, h in enumerate(hits) if key(h) == qk]
        if not own or hits[own[0]]["score"] < 1 - 1e-6 or any(h["score"] != hits[own[0]]["score"] for h in hits[:own[0]]):
            own_ok = False
            print(f"  own hit of {qk}: {hits[:3]}")
        ties += own[0] if own else 0
        row = rows.index((qk[0], qk[1], qk[2], q["query"]["start"], q["query"]["stop"]))
        bf = brute_force(X, rows, X[row], n)
        got = [(h["file"], h["track"], h["clip"], h["score"]) for h in hits]
        if got != bf:
            same = False
            print(f"  {qk}: lssd-read {got[:4]}\n  numpy {bf[:4]}")
    c.check(own_ok, f"{m}: every one of {n} clips is its own top hit, score >= 1 - 1e-6 ({ties} behind an equal clip)")
    c.check(same, f"{m}: exact search equals the numpy brute force for every clip (all {n} rows, scores, tie order)")
    # --clip, -k and --vector
    f, track, clip = rows[-1][0], rows[-1][1], rows[-1][2]
    extra = ["--track", str(track)] if track is not None else []
    one = read_json("search", out, "--mtype", m, "--file", f, "--clip", str(clip), "-k", "3", "--json", *extra)
    c.check(len(one["queries"]) == 1 and [key(h) for h in one["queries"][0]["hits"]] ==
            [b[:3] for b in brute_force(X, rows, X[-1], 3)], f"{m}: --clip {clip} -k 3")
    return X, rows


def main():
    c = Checker("test_search")
    if not os.path.exists(READ):
        sys.exit(f"missing {READ}: build the lssd-read target")
    with scratch("lssd_search_") as tmp:
        out = os.path.join(tmp, "out")
        reuse = os.environ.get("LSSD_SEARCH_REUSE_OUT")  # development: a finished run of this test's lssd-infer
        if reuse:
            shutil.copytree(reuse, out, ignore=shutil.ignore_patterns("index"))
            rc = 3
        else:
            rc, log, wall = run_infer(SAMPLE_DIR, out, "DATA.AUDIO_FROM_VIDEO", "True")
            print(f"lssd-infer on sample_data: exit {rc} in {wall:.1f}s", flush=True)
        if not c.check(rc in (0, 3) and os.path.isdir(os.path.join(out, "audio")), f"lssd-infer ran (exit {rc})"):
            return c.finish()

        Xa, rows_a = check_modality(c, out, "audio")
        Xv, rows_v = check_modality(c, out, "video")
        c.check(any(r[1] is not None for r in rows_a), "audio rows include tracks of a container")

        vec = os.path.join(tmp, "q.npy")
        np.save(vec, Xa[[0, 3]] * 7.0)  # any scale: queries are normalised
        res = read_json("search", out, "--mtype", "audio", "--vector", vec, "-k", "4", "--json")
        c.check([[key(h) for h in q["hits"]] for q in res["queries"]] ==
                [[b[:3] for b in brute_force(Xa, rows_a, Xa[i], 4)] for i in (0, 3)], "--vector V.npy [2,768]: the same hits")
        np.save(vec, np.load(os.path.join(out, "video", [r for r in read_json("ls", out, "--mtype", "video", "--json")["records"]
                                                         if r["status"] == "ok"][0]["output"])))
        res = read_json("search", out, "--mtype", "video", "--vector", vec, "-k", "1", "--json")
        c.check(all(h["score"] >= 1 - 1e-6 for q in res["queries"] for h in q["hits"]), "--vector with a video .npy [M,5,768]")
        rc, _, err = lssd_read("search", out, "--vector", vec)
        c.check(rc == 2 and "--mtype" in err, f"--vector with two modalities and no --mtype: usage error ({rc})")
        rc, _, err = lssd_read("search", out)
        c.check(rc == 2, f"search without --file/--vector: exit {rc}")
        rc, _, err = lssd_read("search", out, "--file", "no/such.wav")
        c.check(rc == 1 and "no/such.wav" in err, f"search for an unknown file: exit {rc}: {err.strip()}")

        # text output names the hits
        rc, text, _ = lssd_read("search", out, "--mtype", "audio", "--file", rows_a[0][0], "-k", "2")
        c.check(rc == 0 and "1.000000" in text and os.path.relpath(rows_a[0][0], SAMPLE_DIR) in text, "search text output")

        check_release_layout(c, tmp, out, Xa, rows_a)
        check_index(c, tmp, out, Xa, rows_a)
        check_duplicate_and_models(c, tmp, out, rows_a)
        check_errors(c, tmp, out)
        readme_examples(c, tmp, out)
    return c.finish()


def check_release_layout(c, tmp, out, Xa, rows_a):
    rel = os.path.join(tmp, "release")
    rc, _, err = lssd_read("export", out, "--release", rel, "--mtype", "audio")
    c.check(rc == 0, f"export --release (exit {rc}) {err.strip()}")
    X, rows = lssd_postprocess.clip_matrix(rel, "audio")
    c.check(np.array_equal(X, Xa) and [(r[0], r[2]) for r in rows] == [(r[0], r[2]) for r in rows_a] and
            np.allclose([r[3:] for r in rows], [r[3:] for r in rows_a]), "clip_matrix reads the release layout: the same vectors")
    f = rows_a[0][0]
    a = read_json("search", rel, "--mtype", "audio", "--file", f, "-k", "5", "--json")
    b = read_json("search", out, "--mtype", "audio", "--file", f, "-k", "5", "--json")
    c.check([[(h["file"], h["clip"], h["score"]) for h in q["hits"]] for q in a["queries"]] ==
            [[(h["file"], h["clip"], h["score"]) for h in q["hits"]] for q in b["queries"]],
            "search on the release layout gives the same hits")


def check_index(c, tmp, out, Xa, rows_a):
    n = len(rows_a)
    f = rows_a[0][0]
    exact = read_json("search", out, "--mtype", "audio", "--file", f, "-k", "5", "--json")
    a1 = read_json("search", out, "--mtype", "audio", "--file", f, "-k", "5", "--json", "--approx")
    info = a1["modalities"]["audio"]
    c.check(info["method"] == "ivf" and info["state"] == "built" and info["indexed"] == n and
            os.path.isfile(os.path.join(out, "index", "audio.ivf.faiss")) and
            os.path.isfile(os.path.join(out, "index", "audio.ivf.json")), f"--approx builds OUT/index/audio.ivf.*: {info}")
    side = json.load(open(os.path.join(out, "index", "audio.ivf.json")))
    c.check(side["rows"] == n and side["fingerprint"] and side["nlist"] >= 1 and side["mtype"] == "audio",
            "the index's .json records the manifest state (fingerprint), rows and parameters")
    same = all([key(h) for h in qa["hits"]] == [key(h) for h in qe["hits"]] and
               all(abs(x["score"] - y["score"]) < 1e-6 for x, y in zip(qa["hits"], qe["hits"]))
               for qa, qe in zip(a1["queries"], exact["queries"]))
    c.check(same, "approximate hits equal exact ones on this small output (every cell scanned)")
    a2 = read_json("search", out, "--mtype", "audio", "--file", f, "-k", "5", "--json", "--approx")
    c.check(a2["modalities"]["audio"]["state"] == "loaded", f"second --approx loads it: {a2['modalities']['audio']['state']}")
    elsewhere = os.path.join(tmp, "idx")
    a3 = read_json("search", out, "--mtype", "audio", "--file", f, "--json", "--approx", "--index-dir", elsewhere)
    c.check(a3["modalities"]["audio"]["state"] == "built" and os.path.isfile(os.path.join(elsewhere, "audio.ivf.faiss")),
            "--index-dir keeps the index elsewhere (a read-only OUT)")
    # a changed manifest: rebuilt
    out2 = os.path.join(tmp, "out_changed")
    shutil.copytree(out, out2)
    add_copy(out2, "audio", "zzz/copy.wav")
    a4 = read_json("search", out2, "--mtype", "audio", "--file", f, "--json", "--approx")
    st = a4["modalities"]["audio"]
    c.check(st["state"].startswith("rebuilt") and st["indexed"] == n + copy_clips(out2, "zzz/copy.wav"),
            f"a new manifest record: the index is rebuilt ({st['state']}, {st['indexed']} vectors)")


def first_ok(out, m):
    return [r for r in lssd_postprocess.read_records(out, m) if r["status"] == "ok" and r["_track"] < 0][0]


def add_copy(out, m, rel):
    """Appends a record for a copy of the first ok file's array under a new rel_path."""
    r = first_ok(out, m)
    src = os.path.join(out, m, r["output"])
    dst = os.path.join(out, m, rel + ".npy")
    os.makedirs(os.path.dirname(dst), exist_ok=True)
    shutil.copy(src, dst)
    j = {k: v for k, v in r.items() if not k.startswith("_")}
    j.update(rel_path=rel, path="/copies/" + rel, output=rel + ".npy")
    with open(os.path.join(out, m, "manifest.jsonl"), "a") as fh:
        fh.write(json.dumps(j) + "\n")
    return r


def copy_clips(out, rel):
    return [r for r in lssd_postprocess.read_records(out, "audio") if r["rel_path"] == rel][0]["M"]


def check_duplicate_and_models(c, tmp, out, rows_a):
    out2 = os.path.join(tmp, "dup")
    shutil.copytree(out, out2, ignore=shutil.ignore_patterns("index"))
    orig = add_copy(out2, "audio", "zzz/copy.wav")
    res = read_json("search", out2, "--mtype", "audio", "--file", orig["rel_path"], "--clip", "0", "-k", "2", "--json")
    hits = res["queries"][0]["hits"]
    c.check(len(hits) == 2 and hits[0]["rel_path"] == orig["rel_path"] and hits[1]["rel_path"] == "zzz/copy.wav" and
            hits[0]["score"] == hits[1]["score"], "a copied file ties exactly and comes after the original (file order)")
    res = read_json("search", out2, "--mtype", "audio", "--file", "zzz/copy.wav", "--clip", "0", "-k", "2", "--json")
    hits = res["queries"][0]["hits"]
    c.check([h["rel_path"] for h in hits] == [orig["rel_path"], "zzz/copy.wav"],
            "the copy's own clip ties with the original, which comes first (its own hit at rank 2)")
    # two model ids
    j = {k: v for k, v in first_ok(out2, "audio").items() if not k.startswith("_")}
    j.update(rel_path="zzz/other_model.wav", path="/x/other_model.wav", output="zzz/copy.wav.npy", model_id="another-model")
    with open(os.path.join(out2, "audio", "manifest.jsonl"), "a") as fh:
        fh.write(json.dumps(j) + "\n")
    mid = j["model_id"]
    ours = orig["model_id"]
    rc, _, err = lssd_read("search", out2, "--mtype", "audio", "--file", orig["rel_path"])
    c.check(rc == 1 and mid in err and ours in err and "--model-id" in err, f"two model ids refused, both named: {err.strip()}")
    for cmd in (["dedup", out2, "--mtype", "audio"], ["tracks", out2]):
        rc, _, err = lssd_read(*cmd)
        c.check(rc == 1 and mid in err, f"{cmd[0]} refuses two model ids (exit {rc})")
    res = read_json("search", out2, "--mtype", "audio", "--file", orig["rel_path"], "--json", "-k", "50", "--model-id", ours)
    c.check(all(h["rel_path"] != "zzz/other_model.wav" for q in res["queries"] for h in q["hits"]), "--model-id filters")
    try:
        lssd_postprocess.clip_matrix(out2, "audio")
        c.check(False, "clip_matrix refuses two model ids")
    except lssd_postprocess.LssdReadError as e:
        c.check(mid in str(e) and ours in str(e), f"clip_matrix refuses two model ids: {e}")
    X, rows = lssd_postprocess.clip_matrix(out2, "audio", model_id=mid)
    c.check(len(rows) == X.shape[0] and {r[0] for r in rows} == {"/x/other_model.wav"}, "clip_matrix(model_id=...) filters")


def check_errors(c, tmp, out):
    only_audio = os.path.join(tmp, "only_audio")
    os.makedirs(only_audio)
    shutil.copytree(os.path.join(out, "audio"), os.path.join(only_audio, "audio"))
    for cmd in (["search", only_audio, "--mtype", "video", "--file", "x.mp4"], ["dedup", only_audio, "--mtype", "video"]):
        rc, _, err = lssd_read(*cmd)
        c.check(rc == 1 and "no video" in err, f"{cmd[0]} on an OUT without video: exit {rc}: {err.strip()}")
    man = os.path.join(only_audio, "audio", "manifest.jsonl")
    lines = [ln for ln in open(man) if '"track"' not in ln]
    open(man, "w").writelines(lines)
    rc, _, err = lssd_read("tracks", only_audio)
    c.check(rc == 1 and "two or more" in err, f"tracks without tracks: exit {rc}: {err.strip()}")
    rc, _, err = lssd_read("tracks", os.path.join(out, "video"))
    c.check(rc == 1, f"tracks on a dir with no audio: exit {rc}")


def readme_examples(c, tmp, out):
    readme = open(os.path.join(SOURCE_DIR, "README.md")).read()
    text = readme.split("## Similarity search", 1)[1].split("\n## ", 1)[0]
    blocks = re.findall(r"```(\w+)\n(.*?)```", text, re.S)
    work = os.path.join(tmp, "readme")
    os.makedirs(work)
    shutil.copytree(out, os.path.join(work, "out"), ignore=shutil.ignore_patterns("index"))
    os.symlink(os.path.join(SOURCE_DIR, "tools"), os.path.join(work, "tools"))
    os.symlink(BUILD_DIR, os.path.join(work, "build"))
    sh = [b for lang, b in blocks if lang == "sh" and "lssd-read" in b]
    py = [b for lang, b in blocks if lang == "python"]
    c.check(len(sh) == 1 and len(py) == 1, f"README's search section has a shell and a Python example ({len(sh)}, {len(py)})")
    for b in sh:
        r = subprocess.run(["bash", "-euo", "pipefail", "-c", b], cwd=work, capture_output=True, text=True)
        c.check(r.returncode == 0, f"README search shell example runs (exit {r.returncode})")
        if r.returncode:
            print(r.stdout[-2000:], r.stderr[-2000:])
    for b in py:
        r = subprocess.run([PYTHON, "-c", b], cwd=work, capture_output=True, text=True)
        c.check(r.returncode == 0 and "(" in r.stdout, f"README search Python example runs: {r.stdout.splitlines()[:1]}")
        if r.returncode:
            print(r.stderr[-2000:])


if __name__ == "__main__":
    sys.exit(main())
