#!/usr/bin/env python3
"""Readers agree: on lssd-infer's output of sample_data (tiny model), `lssd-read ls/show --json`
(the C++ reader API), `lssd-read export --jsonl` and the numpy reader tools/lssd_postprocess.py
give the same files in the same order with identical arrays; `show` prints what torch prints;
`compare` of a dir with itself gives cosine 1 (exit 0), a perturbed copy exits 1; `verify` names
a deleted, a truncated and an extra file (exit 1); corrupt data is an error naming the file; the
examples of README.md's "Reading the embeddings" section run as written."""
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



def main():
    c = Checker("test_read_consistency")
    if not os.path.exists(READ):
        sys.exit(f"missing {READ}: build the lssd-read target")
    with scratch("lssd_read_cons_") as tmp:
        out = os.path.join(tmp, "out")
        reuse = os.environ.get("LSSD_READ_REUSE_OUT")  # development: a finished lssd-infer output of sample_data
        if reuse:
            shutil.copytree(reuse, out)
            rc, log, wall = 3, "", 0.0
        else:
            rc, log, wall = run_infer(SAMPLE_DIR, out)
        print(f"lssd-infer on sample_data: exit {rc} in {wall:.1f}s", flush=True)
        if not c.check(rc in (0, 3) and os.path.isdir(os.path.join(out, "video")), f"lssd-infer ran (exit {rc})"):
            print(log[-3000:])
            return c.finish()

        # --- the same files, order and arrays through every reader ---
        ls = read_json("ls", out, "--json")
        c.check(ls["layout"] == {"video": "lssd", "audio": "lssd"}, f"ls --json layout {ls['layout']}")
        statuses = {r["status"] for r in ls["records"]}
        c.check({"ok", "failed", "skipped_short"} <= statuses, f"ls lists every status ({sorted(statuses)})")
        total = 0
        for m in ("video", "audio"):
            recs = [r for r in ls["records"] if r["mtype"] == m]
            rels = [r["rel_path"].encode() for r in recs]
            c.check(rels == sorted(rels), f"{m}: ls order is sorted by rel_path")
            ok = [r for r in recs if r["status"] == "ok"]
            py = lssd_postprocess.postprocess(out, m)
            c.check([r["path"] for r in ok] == [f for f, _ in py],
                    f"{m}: lssd-read ls and numpy postprocess list the same {len(py)} files in the same order")
            same = True
            same_str = True
            for r, (f, arr) in zip(ok, py):
                show = read_json("show", out, r["rel_path"], "--mtype", m, "--json", "--values")
                c.check(len(show) == 1, f"show {r['rel_path']} matches one record")
                s = show[0]
                vals = np.array(s["values"], dtype=np.float32).reshape(s["shape"])
                if not (arr.dtype == np.float32 and vals.shape == arr.shape and np.array_equal(vals, arr)):
                    same = False
                    print(f"  differs: {f}")
                if list(arr.shape) != (r["shape"]) or arr.shape[0] != len(r["ranges"]):
                    same = False
                import torch  # the test may use torch; the reader must not
                if s["tensor_str"] != str(torch.from_numpy(arr)):
                    same_str = False
                    print(f"  torch print differs for {f}:\n{s['tensor_str']}\nvs\n{torch.from_numpy(arr)}")
                total += arr.shape[0]
            c.check(same, f"{m}: show --json --values (C++) equals the numpy arrays exactly, shapes match ranges")
            c.check(same_str, f"{m}: show prints each tensor exactly as torch's print does")
            c.check(len(py) >= 4, f"{m}: {len(py)} embedded files")

        # export --jsonl / --csv: one row per clip (video: per crop), same values
        jl = os.path.join(tmp, "all.jsonl")
        rc, _, err = lssd_read("export", out, "--jsonl", jl)
        rows = [json.loads(line) for line in open(jl)]
        want = {m: [(f, a) for f, a in lssd_postprocess.postprocess(out, m)] for m in ("video", "audio")}
        n_rows = sum(a.shape[0] * (5 if m == "video" else 1) for m in want for _, a in want[m])
        c.check(rc == 0 and len(rows) == n_rows, f"export --jsonl: {len(rows)} rows (expected {n_rows})")
        rebuilt = {}
        for row in rows:
            rebuilt.setdefault((row["mtype"], row["file"]), []).append(row["embedding"])
        ok = all(np.array_equal(np.array(rebuilt[(m, f)], dtype=np.float32).reshape(a.shape), a)
                 for m in want for f, a in want[m])
        c.check(ok, "export --jsonl rows rebuild every array exactly")
        csv = os.path.join(tmp, "all.csv")
        rc, _, _ = lssd_read("export", out, "--csv", csv, "--mtype", "audio")
        lines = open(csv).read().splitlines()
        head = lines[0].split(",")
        c.check(rc == 0 and head[:7] == ["mtype", "file", "track", "clip", "crop", "start", "stop"] and len(head) == 775,
                "export --csv header: mtype,file,track,clip,crop,start,stop,e0..e767")
        f0, a0 = want["audio"][0]
        first = lines[1].split(",")
        c.check(len(lines) - 1 == sum(a.shape[0] for _, a in want["audio"]) and first[1] == f0 and
                np.array_equal(np.array(first[7:], dtype=np.float32), a0[0]),
                "export --csv: one row per audio clip, first row's values exact")

        # the numpy reader does not import torch
        r = subprocess.run([PYTHON, "-c", "import sys; sys.path.insert(0, sys.argv[1]); import lssd_postprocess as p;"
                            "recs = p.postprocess(sys.argv[2], 'video'); print(len(recs), 'torch' in sys.modules)",
                            os.path.join(SOURCE_DIR, "tools"), out], capture_output=True, text=True)
        c.check(r.returncode == 0 and r.stdout.split()[1:] == ["False"], f"lssd_postprocess never imports torch ({r.stdout.strip()})")
        r = subprocess.run([PYTHON, os.path.join(SOURCE_DIR, "tools", "lssd_postprocess.py"), out, "audio"],
                           capture_output=True, text=True)
        c.check(r.returncode == 0 and len(r.stdout.splitlines()) == len(want["audio"]) and "(2, 768)" in r.stdout,
                "lssd_postprocess.py CLI prints file and shape")

        # --- compare ---
        rc, o, _ = lssd_read("compare", out, out, "--json", "--atol", "0")
        j = json.loads(o)
        cos = [cl["cosine"] for f in j["files"] for cl in f.get("clips", [])]
        c.check(rc == 0 and j["ok"] and cos and min(cos) == 1.0 and j["max_abs_diff"] == 0.0,
                f"compare DIR DIR: exit {rc}, {len(cos)} clips, min cosine {min(cos) if cos else None}")
        pert = os.path.join(tmp, "perturbed")
        shutil.copytree(out, pert)
        f_audio = [r for r in ls["records"] if r["mtype"] == "audio" and r["status"] == "ok"][0]
        npy = os.path.join(pert, "audio", f_audio["output"])
        a = np.load(npy)
        rng = np.random.default_rng(0)
        np.save(npy, (a + rng.normal(0, 1.0, a.shape)).astype(np.float32))
        rc, o, _ = lssd_read("compare", out, pert, "--json")
        j = json.loads(o)
        bad = [f["file"] for f in j["files"] if f.get("ok") is False]
        c.check(rc == 1 and bad == [f_audio["rel_path"]], f"compare with a perturbed copy: exit {rc}, flags {bad}")
        rc, o, _ = lssd_read("compare", out, pert)
        c.check(rc == 1 and "DIFF" in o and f_audio["rel_path"] in o and "FAIL" in o, "compare text names the differing file")
        np.save(npy, (a + 1e-4).astype(np.float32))
        rc1, _, _ = lssd_read("compare", out, pert, "--atol", "1e-6")
        rc2, _, _ = lssd_read("compare", out, pert, "--atol", "1e-3")
        c.check(rc1 == 1 and rc2 == 0, f"compare --atol: 1e-4 shift fails at 1e-6 ({rc1}), passes at 1e-3 ({rc2})")
        shutil.rmtree(os.path.join(pert, "video"))
        rc, o, _ = lssd_read("compare", out, pert, "--json", "--atol", "1e-3")
        j = json.loads(o)
        c.check(rc == 1 and len(j["only_in_a"]) == len([r for r in ls["records"] if r["mtype"] == "video"]),
                f"compare lists files found on one side only (exit {rc}, {len(j['only_in_a'])} only in A)")
        rc, _, _ = lssd_read("compare", out)
        c.check(rc == 2, f"compare with one dir is a usage error (exit {rc})")

        # --- verify ---
        rc, o, _ = lssd_read("verify", out, "--json")
        c.check(rc == 0 and json.loads(o)["ok"], f"verify on the fresh output: exit {rc}")
        ver = os.path.join(tmp, "verify")
        shutil.copytree(out, ver)
        oks = [r for r in ls["records"] if r["status"] == "ok"]
        deleted = os.path.join(ver, oks[0]["mtype"], oks[0]["output"])
        truncated = os.path.join(ver, oks[1]["mtype"], oks[1]["output"])
        extra = os.path.join(ver, "audio", "stray", "extra.wav.npy")
        os.remove(deleted)
        with open(truncated, "r+b") as f:
            f.truncate(os.path.getsize(truncated) - 1000)
        os.makedirs(os.path.dirname(extra))
        np.save(extra, np.zeros((1, 768), np.float32))
        rc, o, _ = lssd_read("verify", ver, "--json")
        j = json.loads(o)
        kinds = {(p["kind"], os.path.normpath(p["file"])) for p in j["problems"]}
        c.check(rc == 1, f"verify with damage: exit {rc}")
        c.check(("missing", deleted) in kinds, "verify names the deleted file (missing)")
        c.check(("corrupt", truncated) in kinds, "verify names the truncated file (corrupt)")
        c.check(("orphan", extra) in kinds, "verify names the extra file (orphan)")
        c.check(len(kinds) == 3, f"verify reports exactly those 3 problems: {sorted(kinds)}")
        rc, o, _ = lssd_read("verify", ver)
        c.check(rc == 1 and all(p in o for p in (deleted, truncated, extra)), "verify text names all three files")

        # --- corrupt data: clear errors naming the file ---
        try:
            lssd_postprocess.postprocess(ver, oks[0]["mtype"])
            c.check(False, "numpy postprocess raises on a missing .npy")
        except lssd_postprocess.LssdReadError as e:
            c.check(deleted in str(e), f"numpy postprocess names the missing file: {e}")
        shutil.copy(os.path.join(out, oks[0]["mtype"], oks[0]["output"]), deleted)
        rc, _, err = lssd_read("show", ver, oks[1]["rel_path"], "--mtype", oks[1]["mtype"])
        c.check(rc == 1 and truncated in err and "truncated" in err, f"show of a truncated .npy: exit {rc}, {err.strip()}")
        try:
            lssd_postprocess.postprocess(ver, oks[1]["mtype"])
            c.check(False, "numpy postprocess raises on a truncated .npy")
        except lssd_postprocess.LssdReadError as e:
            c.check(truncated in str(e) and "truncated" in str(e), f"numpy postprocess names the truncated file: {e}")
        man = os.path.join(ver, "video", "manifest.jsonl")
        with open(man, "r+") as f:
            lines = f.read().splitlines(True)
            lines.insert(1, '{"v": 1, "modality": "video", broken\n')
            f.seek(0)
            f.writelines(lines)
        rc, _, err = lssd_read("ls", ver)
        c.check(rc == 1 and f"{man}:2" in err, f"ls on a bad manifest line: exit {rc}, {err.strip()}")
        rc, o, _ = lssd_read("verify", ver, "--json", "--mtype", "video")
        c.check(rc == 1 and any(p["kind"] == "manifest" and f"{man}:2" in p["message"] for p in json.loads(o)["problems"]),
                "verify reports the bad manifest line")
        try:
            lssd_postprocess.postprocess(ver, "video")
            c.check(False, "numpy postprocess raises on a bad manifest line")
        except lssd_postprocess.LssdReadError as e:
            c.check(f"{man}:2" in str(e), f"numpy postprocess names the manifest line: {e}")

        # --- usage errors ---
        rc, _, _ = lssd_read("ls", os.path.join(tmp, "nope"))
        c.check(rc == 2, f"ls of a missing dir: exit {rc}")
        rc, _, _ = lssd_read("export", out)
        c.check(rc == 2, f"export without a target: exit {rc}")
        rc, _, err = lssd_read("show", out, "no/such/file.mp4")
        c.check(rc == 1 and "no/such/file.mp4" in err, f"show of an unknown file: exit {rc}")

        # --- the README examples run as written ---
        readme_examples(c, tmp, out)
    return c.finish()


def readme_examples(c, tmp, out):
    readme = open(os.path.join(SOURCE_DIR, "README.md")).read()
    text = readme.split("## Reading the embeddings", 1)[1].split("\n## ", 1)[0]
    blocks = re.findall(r"```(\w+)\n(.*?)```", text, re.S)
    work = os.path.join(tmp, "readme")
    os.makedirs(work)
    shutil.copytree(out, os.path.join(work, "out"))
    os.symlink(os.path.join(SOURCE_DIR, "tools"), os.path.join(work, "tools"))
    os.symlink(BUILD_DIR, os.path.join(work, "build"))
    sh = [b for lang, b in blocks if lang == "sh" and "lssd-read" in b]
    py = [b for lang, b in blocks if lang == "python"]
    cpp = [b for lang, b in blocks if lang == "cpp"]
    c.check(len(sh) == 1 and len(py) == 3 and len(cpp) == 1,
            "README's reading section has the shell, 3 Python and the C++ examples")
    for b in sh:
        r = subprocess.run(["bash", "-euo", "pipefail", "-c", b], cwd=work, capture_output=True, text=True)
        c.check(r.returncode == 0, f"README shell example runs (exit {r.returncode})")
        if r.returncode:
            print(r.stdout[-2000:], r.stderr[-2000:])
    for i, b in enumerate(py):
        r = subprocess.run([PYTHON, "-c", b], cwd=work, capture_output=True, text=True)
        c.check(r.returncode == 0 and "(" in r.stdout, f"README Python example {i + 1} runs: {r.stdout.splitlines()[:1]}")
        if r.returncode:
            print(r.stderr[-2000:])
    if cpp:
        rc, o = build_cpp_example(cpp[0], work)
        c.check(rc == 0 and "[" in o, f"README C++ example compiles, links against liblssd and runs (exit {rc})")
        if rc:
            print(o[-3000:])


def build_cpp_example(code, work):
    """Compiles the README's C++ example with the flags and libraries lssd-read gets."""
    ninja = open(os.path.join(BUILD_DIR, "build.ninja")).read()
    link = re.search(r"^build lssd-read: .*\n((?:  .*\n)+)", ninja, re.M)
    comp = re.search(r"^build CMakeFiles/lssd-read\.dir/src/apps/lssd_read\.cc\.o: .*\n((?:  .*\n)+)", ninja, re.M)
    if not link or not comp:
        return 1, "cannot find lssd-read's build flags in build.ninja"
    var = dict(re.findall(r"^  (\w+) = (.*)$", comp.group(1), re.M))
    lvar = dict(re.findall(r"^  (\w+) = (.*)$", link.group(1), re.M))
    if "LINK_LIBRARIES" not in lvar:
        return 1, "cannot find lssd-read's link libraries in build.ninja"
    # A sanitizer build (tools/test.sh --sanitize) instruments liblssd.a: the example needs the
    # same -fsanitize flags to compile and link against it.
    sanitize = " ".join(f for f in var.get("FLAGS", "").split() if "sanitize" in f)
    src = os.path.join(work, "my_reader.cc")
    exe = os.path.join(work, "my_reader")
    open(src, "w").write(code)
    cmd = (f"g++ {var.get('DEFINES', '')} {var.get('INCLUDES', '')} {sanitize} -std=gnu++17 -O1 {src} -o {exe} "
           f"{lvar.get('LINK_FLAGS', '')} {lvar['LINK_LIBRARIES']}")
    r = subprocess.run(["bash", "-c", cmd], cwd=BUILD_DIR, capture_output=True, text=True)
    if r.returncode:
        return r.returncode, r.stdout + r.stderr
    r = subprocess.run([exe], cwd=work, capture_output=True, text=True)
    return r.returncode, r.stdout + r.stderr


if __name__ == "__main__":
    sys.exit(main())
