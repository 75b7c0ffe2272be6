#!/usr/bin/env python3
"""E2E: tools/check_same_outputs.py, the "no change" check (tiny model, CPU, --quick inputs and a
few of its lssd-read commands, so that it stays fast).

(a) The normalisations on made-up text: log timestamps, progress lines, the time and done lines'
    figures, sorted log lines; manifest wall_s and error-log time fields, sorted lines; absolute
    paths -> $WORK, $BUILD, ...; .npy bytes untouched.
(b) record, then compare with the same build: exit 0, "no difference", every item the same; the
    items hold no scratch path and the --help page names $BUILD/lssd-read.
(c) diff of the reference and a perturbed copy of the current record (one byte of a .npy
    flipped, a line of an lssd-read stdout changed, an item deleted, one added): exit 1, each of
    the four named (the .npy with its differing value count), nothing else.
(d) Usage: record into a directory that already holds items, and a build dir without the
    programs, exit 2 with a message.
"""
import os
import shutil
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import e2e_common as ec  # noqa: E402

SCRIPT = os.path.join(ec.SOURCE_DIR, "tools", "check_same_outputs.py")
sys.path.insert(0, os.path.dirname(SCRIPT))
import check_same_outputs as cso  # noqa: E402

ONLY = ["infer/help", "infer/error-dtype", "read/help", "read/ls", "read/show-video", "read/export-release",
        "tracks-read/tracks"]
NPY = f"out@run/video/{cso.V}.npy"


def tool(*args):
    r = subprocess.run([ec.PYTHON, SCRIPT, *args], capture_output=True, text=True, timeout=900)
    return r.returncode, r.stdout + r.stderr


def check_normalisations(c, tmp):
    paths = cso.Paths(WORK="/tmp/w1", BUILD="/x/build", MODELS="/tmp/w1/m")
    log = (b"[2026-12-06 01:53:52.845] [info] found 3 input files\n"
           b"[2026-12-06 01:54:02.852] [info] progress [####....]  29% | inputs 1/3 | 1.20 clips/s | ETA 0m24s\n"
           b"[2026-12-06 01:53:53.196] [warning] encoder /tmp/w1/m/video.pt (video tiny) has RANDOM weights\n"
           b"[2026-12-06 01:54:18.861] [info] done: 3 outputs = 3 written; 34 clips in 26.0 s (1.31 clips/s)\n"
           b"[2026-12-06 01:54:18.861] [info] time: encoder forwards 25.0 s (video 24.3 s); loaded after 0.6 s\n"
           b"[2026-12-06 01:53:52.900] [error] /tmp/w1/data/b.mp4: [video open] cannot open\n")
    got = cso.norm_log(log, paths, infer=True)
    want = (b"[error] $WORK/data/b.mp4: [video open] cannot open\n"
            b"[info] done: 3 outputs = 3 written; 34 clips in # s (# clips/s)\n"
            b"[info] found 3 input files\n"
            b"[info] time: encoder forwards # s (video # s); loaded after # s\n"
            b"[warning] encoder $MODELS/video.pt (video tiny) has RANDOM weights\n")
    c.check(got == want, f"(a) lssd-infer log: timestamps, progress, figures, paths, order normalised: {got!r}")
    got = cso.norm_log(b"usage: /x/build/lssd-read ls\naudio index i: built in 0.0 s (nlist 1)\n", paths, infer=False)
    c.check(got == b"usage: $BUILD/lssd-read ls\naudio index i: built in # s (nlist 1)\n",
            f"(a) lssd-read output: the program path and index build time normalised, lines kept in order: {got!r}")
    nested = cso.Paths(SRC="/x", BUILD="/x/build")
    got = nested(b"Usage: /x/build/lssd-read; /x/tools/a.py, /x. /x-read /xy")
    c.check(got == b"Usage: $BUILD/lssd-read; $SRC/tools/a.py, $SRC. /x-read /xy",
            f"(a) paths: whole path names only, the longest first, replaced text not scanned again: {got!r}")
    man = (b'{"M":2,"path":"/tmp/w1/data/a.wav","rel_path":"a.wav","v":1,"wall_s":1e-05}\n'
           b'{"M":1,"path":"/tmp/w1/data/b.wav","rel_path":"b.wav","v":1,"wall_s":4.6}\n')
    got = cso.norm_file("out@run/audio/manifest.jsonl", man, paths)
    c.check(got == {"out@run/audio/manifest.jsonl": b'{"M":1,"path":"$WORK/data/b.wav","rel_path":"b.wav","v":1}\n'
                                                    b'{"M":2,"path":"$WORK/data/a.wav","rel_path":"a.wav","v":1}\n'},
            f"(a) manifest: wall_s removed, lines sorted (as bytes): {got}")
    err = b'{"message":"x","path":"/tmp/w1/data/b.mp4","stage":"open","time":"2026-12-06T01:52:43Z"}\n'
    got = cso.norm_file("out@run/errors.jsonl", err, paths)
    c.check(got == {"out@run/errors.jsonl": b'{"message":"x","path":"$WORK/data/b.mp4","stage":"open"}\n'},
            f"(a) errors.jsonl: time removed: {got}")
    raw = b"\x93NUMPY /tmp/w1 \x00\x01"
    c.check(cso.norm_file("x/a.npy", raw, paths) == {"x/a.npy": raw}, "(a) .npy bytes are kept as they are")


def check_record_compare_diff(c, tmp):
    ref, cur = os.path.join(tmp, "ref"), os.path.join(tmp, "cur")
    model = ec.tiny_model_dir()
    only = [x for p in ONLY for x in ("--only", p)]
    rc, out = tool("record", ref, "--build", ec.BUILD_DIR, "--model-dir", model, "--quick", *only)
    print(out.strip().splitlines()[-1] if out.strip() else "", flush=True)
    if not c.check(rc == 0 and os.path.isdir(os.path.join(ref, "items")), f"(b) record: exit {rc} == 0"):
        print(out[-3000:])
        return
    rc, out = tool("compare", ref, "--build", ec.BUILD_DIR, "--keep", cur)
    last = out.strip().splitlines()[-1] if out.strip() else ""
    print(last, flush=True)
    c.check(rc == 0 and last.startswith("no difference") and ", 0 different, 0 only in the reference" in last,
            f"(b) compare with the same build: exit {rc} == 0, no difference\n{out[-2000:] if rc else ''}")
    items = cso.list_items(os.path.join(ref, "items"))
    names = set(items)
    want = {"data/files", "models/sha256", "infer/run/rc", "infer/run/stderr", "infer/rerun/stdout",
            "infer/tracks/rc", "read/ls/stdout", "read/show-video/stdout", "tracks-read/tracks/stdout",
            "read/export-release/files/video/video.pt", "out@run/video/manifest.jsonl", "out@run/config.yaml", NPY,
            "out@tracks/audio/manifest.jsonl"}
    # A .pt saved by LibTorch >= 2.x is recorded member by member ("video.pt!archive/data.pkl", N7).
    missing = sorted(w for w in want if w not in names and not any(n.startswith(w + "!") for n in names))
    c.check(not missing, f"(b) the expected items are recorded ({len(names)}): missing {missing}")
    c.check(not any(n.startswith("read/stats") for n in names), "(b) --only left the other commands out")
    leaks = [n for n, p in items.items() if not n.endswith(".npy") and b"lssd_same_" in open(p, "rb").read()]
    c.check(not leaks, f"(b) no item names the scratch dir: {leaks[:3]}")
    cfg = open(items["out@run/config.yaml"], "rb").read()
    c.check(b"OUTPUT_DIR: $WORK/out" in cfg, "(b) config.yaml's OUTPUT_DIR reads $WORK/out")
    c.check(b"Usage: $BUILD/lssd-read" in open(items["read/help/stdout"], "rb").read(),
            "(b) the --help page names $BUILD/lssd-read")
    c.check(open(items["infer/run/rc"]).read() == "3\n", "(b) the run's exit code 3 (broken.mp4) is recorded")

    # (c) perturb the current record
    ci = os.path.join(cur, "items")
    with open(os.path.join(ci, NPY), "r+b") as f:
        f.seek(-1, os.SEEK_END)
        last_byte = f.read(1)
        f.seek(-1, os.SEEK_END)
        f.write(bytes([last_byte[0] ^ 0x01]))
    with open(os.path.join(ci, "read/ls/stdout"), "ab") as f:
        f.write(b"one more line\n")
    os.remove(os.path.join(ci, "read/help/stdout"))
    with open(os.path.join(ci, "read/ls/extra"), "wb") as f:
        f.write(b"x\n")
    rc, out = tool("diff", ref, cur)
    print(out, flush=True)
    lines = [ln for ln in out.splitlines() if ln.startswith(("DIFFERENT", "ONLY IN"))]
    c.check(rc == 1, f"(c) diff of a perturbed record: exit {rc} == 1")
    c.check(any(ln.startswith(f"DIFFERENT {NPY}:") and "1 values differ" in ln for ln in lines),
            "(c) the flipped .npy byte is named, with one value differing")
    c.check("DIFFERENT read/ls/stdout:" in lines and "+one more line" in out.replace("    ", ""),
            "(c) the changed stdout is named, with its diff")
    c.check("ONLY IN REFERENCE read/help/stdout" in lines and "ONLY IN CURRENT read/ls/extra" in lines,
            "(c) the deleted and the added item are named")
    c.check(len(lines) == 4, f"(c) nothing else is reported ({len(lines)} lines)")

    # (d) usage errors
    rc, out = tool("record", ref, "--model-dir", model, "--quick")
    c.check(rc == 2 and "exists" in out,
            f"(d) record into a directory with items: exit {rc} == 2: {out.strip()[-200:]}")
    nobuild = os.path.join(tmp, "nobuild")
    os.makedirs(nobuild)
    rc, out = tool("record", os.path.join(tmp, "ref2"), "--build", nobuild, "--model-dir", model, "--quick")
    c.check(rc == 2 and "lssd-infer" in out,
            f"(d) a build dir without the programs: exit {rc} == 2: {out.strip()[-200:]}")
    shutil.rmtree(cur, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(ec.e2e_main("test_same_outputs", "lssd_same_test_", [check_normalisations, check_record_compare_diff]))
