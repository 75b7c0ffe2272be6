#!/usr/bin/env python3
"""E2E: lssd-infer never writes outside OUTPUT_DIR, and fails clearly when it cannot write
(tiny model, CPU).

(a) A DATA.PATH_TO_FILE_LIST with `../` entries and an absolute path: the outputs land under
    OUTPUT_DIR/<modality>/_up_/... and _abs/...; no file appears anywhere else.
(b) Symlinks planted inside OUTPUT_DIR: a directory OUTPUT_DIR/video/d -> a directory outside
    (the input d/x.mp4 fails with an error saying it resolves outside; nothing is written
    there); a file OUTPUT_DIR/video/f/y.mp4.npy -> a file outside (replaced by the real output,
    the outside file untouched); OUTPUT_DIR/audio/manifest.jsonl -> a file outside (refused:
    exit 1, the outside file untouched).
(c) An unusable OUTPUT_DIR (a regular file in its place; a path under /proc): exit 1 with a
    message naming the output directory, within seconds.
(d) A full output file system (a 64 KiB tmpfs; skipped when mount is refused): the run ends
    with a non-zero exit and a message about space; no crash (no signal); every output recorded
    ok in the manifest is intact (loads, right shape).
Env: LSSD_BUILD_DIR, LSSD_TEST_MODEL_DIR, LSSD_KEEP_TMP=1.
"""
import os
import shutil
import subprocess
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import e2e_common as ec  # noqa: E402

VID = "video/ucf/testsrc2_320x240_25fps_2.0s.mp4"
WAV = "audio/speech/german_16kHz_mono_7.5s.wav"
SHORT_WAV = "audio/edge/UPPER_CASE_16kHz_mono_2.5s.WAV"


def snapshot(root, exclude):
    res = {}
    for dp, dirs, files in os.walk(root):
        if os.path.abspath(dp).startswith(os.path.abspath(exclude)):
            dirs[:] = []
            continue
        for f in files:
            p = os.path.join(dp, f)
            st = os.lstat(p)
            res[p] = (st.st_size, st.st_mtime_ns)
    return res


def infer(out, *overrides, data=None, timeout=600):
    model = ec.tiny_model_dir()
    cmd = [ec.infer_path(), "OUTPUT_DIR", out, "MODEL.VIDEO_ENCODER_FILE", os.path.join(model, "video.pt"),
           "MODEL.AUDIO_ENCODER_FILE", os.path.join(model, "audio.pt"), "RUNTIME.DEVICE", "cpu",
           "RUNTIME.NUM_THREADS", str(ec.THREADS), *overrides]
    if data:
        cmd[1:1] = ["DATA.PATH_TO_DATA_DIR", data]
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    return r.returncode, r.stdout + r.stderr


def check_file_list_stays_inside(c, tmp):
    base = os.path.join(tmp, "a")
    data, outside, absdir, out = (os.path.join(base, x) for x in ("data", "outside", "absdir", "out"))
    for d in (data, outside, absdir):
        os.makedirs(d)
    shutil.copy(os.path.join(ec.SAMPLE_DIR, SHORT_WAV), os.path.join(outside, "up.wav"))
    shutil.copy(os.path.join(ec.SAMPLE_DIR, SHORT_WAV), os.path.join(absdir, "abs.wav"))
    shutil.copy(os.path.join(ec.SAMPLE_DIR, SHORT_WAV), os.path.join(data, "in.wav"))
    lst = os.path.join(base, "list.txt")
    with open(lst, "w") as f:
        f.write(f"../outside/up.wav\n{os.path.join(absdir, 'abs.wav')}\nin.wav\n./../data/../outside/up.wav\n")
    before = snapshot(base, out)
    rc, log = infer(out, "DATA.PATH_TO_DATA_DIR", data, "DATA.PATH_TO_FILE_LIST", lst)
    after = snapshot(base, out)
    c.check(rc == 0, f"(a) file list with ../ and absolute entries: exit 0 (got {rc})")
    new = sorted(set(after) - set(before))
    c.check(not new, f"(a) no file created outside OUTPUT_DIR ({new[:3]})")
    npys = ec.npy_files(out)
    want = {("audio", "_up_/outside/up.wav.npy"), ("audio", "in.wav.npy"),
            ("audio", "_abs" + os.path.join(absdir, "abs.wav") + ".npy")}
    c.check(want <= npys, f"(a) outputs under _up_/ and _abs/ inside OUTPUT_DIR ({sorted(npys)})")
    c.check(all(os.path.realpath(os.path.join(out, m, p)).startswith(os.path.realpath(out) + "/") for m, p in npys),
            "(a) every output's real path is inside OUTPUT_DIR")
    if rc != 0:
        print(log[-2000:])


def check_symlinks_in_output_dir(c, tmp):
    base = os.path.join(tmp, "b")
    data, outside, out = (os.path.join(base, x) for x in ("data", "outside", "out"))
    for d in ("d", "f", "g"):
        os.makedirs(os.path.join(data, d))
    shutil.copy(os.path.join(ec.SAMPLE_DIR, VID), os.path.join(data, "d", "x.mp4"))
    shutil.copy(os.path.join(ec.SAMPLE_DIR, VID), os.path.join(data, "f", "y.mp4"))
    shutil.copy(os.path.join(ec.SAMPLE_DIR, SHORT_WAV), os.path.join(data, "g", "z.wav"))
    os.makedirs(outside)
    victim = os.path.join(outside, "victim.txt")
    with open(victim, "w") as f:
        f.write("do not touch\n")
    os.makedirs(os.path.join(out, "video", "f"))
    os.symlink(outside, os.path.join(out, "video", "d"))
    os.symlink(victim, os.path.join(out, "video", "f", "y.mp4.npy"))
    rc, log = infer(out, data=data)
    recs = ec.latest_records(out)
    rx = recs.get(("video", "d/x.mp4"))
    msg = (rx or {}).get("error", {}).get("message", "")
    c.check(rc == 3 and rx is not None and rx["status"] == "failed" and "outside" in msg,
            f"(b) output dir symlinked outside: d/x.mp4 fails with a clear error (rc {rc}: {msg!r})")
    c.check(sorted(os.listdir(outside)) == ["victim.txt"] and open(victim).read() == "do not touch\n",
            f"(b) nothing written outside (outside/ holds {sorted(os.listdir(outside))})")
    y = os.path.join(out, "video", "f", "y.mp4.npy")
    ry = recs.get(("video", "f/y.mp4"))
    c.check(ry is not None and ry["status"] == "ok" and not os.path.islink(y) and np.load(y).shape[1:] == (5, 768),
            "(b) a symlink planted at an output's name is replaced by the output (not written through)")
    errs = [e for e in ec.read_errors(out) if e["path"].endswith("d/x.mp4")]
    c.check(len(errs) == 1 and errs[0]["stage"] == "output", "(b) errors.jsonl names d/x.mp4 (stage output)")
    # A manifest symlinked outside.
    out2 = os.path.join(base, "out2")
    os.makedirs(os.path.join(out2, "audio"))
    victim2 = os.path.join(outside, "empty.jsonl")  # empty: readable as a manifest, so only the append can refuse
    open(victim2, "w").close()
    os.symlink(victim2, os.path.join(out2, "audio", "manifest.jsonl"))
    rc, log = infer(out2, data=os.path.join(data, "g"))
    c.check(rc == 1 and "manifest.jsonl" in log and os.path.getsize(victim2) == 0,
            f"(b) a manifest symlinked outside is refused: exit 1, outside file untouched (rc {rc}) "
            f"{[l for l in log.splitlines() if 'manifest' in l][-1:]}")


def check_unusable_output_dir(c, tmp):
    data = os.path.join(tmp, "c_data")
    os.makedirs(data)
    shutil.copy(os.path.join(ec.SAMPLE_DIR, SHORT_WAV), os.path.join(data, "a.wav"))
    as_file = os.path.join(tmp, "c_out_file")
    with open(as_file, "w") as f:
        f.write("x")
    for out, what in ((as_file, "a regular file in place of OUTPUT_DIR"),
                      ("/proc/lssd_no_such_dir/out", "a path under /proc"),
                      (os.path.join(as_file, "sub"), "a path below a regular file")):
        rc, log = infer(out, data=data, timeout=120)
        last = [l for l in log.splitlines() if "output" in l.lower()][-1:]
        c.check(rc == 1 and out in log, f"(c) {what}: exit 1 naming the directory (rc {rc}) {last}")


def check_full_file_system(c, tmp):
    mnt = os.path.join(tmp, "d_mnt")
    os.makedirs(mnt)
    r = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", mnt], capture_output=True, text=True)
    if r.returncode != 0:
        print(f"skip (d): cannot mount a tmpfs ({r.stderr.strip()})")
        return
    try:
        data = os.path.join(tmp, "d_data")
        for i in range(10):
            os.makedirs(os.path.join(data, f"c{i}"))
            shutil.copy(os.path.join(ec.SAMPLE_DIR, WAV), os.path.join(data, f"c{i}", "speech.wav"))
        out = os.path.join(mnt, "out")
        rc, log = infer(out, "DIST.NUM_WORKERS", "2", data=data)
        space = [l for l in log.splitlines() if "No space left" in l]
        c.check(rc is not None and rc > 0, f"(d) full file system: non-zero exit, no signal (rc {rc})")
        c.check(bool(space) and "run stopped, the output cannot be written" in log,
                f"(d) a clear message about space and the run stopped early ({space[-1:]})")
        recs = ec.latest_records(out) if os.path.isdir(os.path.join(out, "audio")) else {}
        ok = [r for r in recs.values() if r["status"] == "ok"]
        bad = []
        for r in ok:
            try:
                a = np.load(os.path.join(out, r["modality"], r["output"]))
                if list(a.shape) != r["shape"]:
                    bad.append(r["output"])
            except Exception as e:  # noqa: BLE001
                bad.append(f"{r['output']}: {e}")
        c.check(not bad, f"(d) every output recorded ok ({len(ok)}) loads with its recorded shape ({bad[:3]})")
        if rc is None or rc < 0 or not space:
            print(log[-3000:])
    finally:
        subprocess.run(["umount", mnt])


if __name__ == "__main__":
    sys.exit(ec.e2e_main("test_output_safety", "lssd_e2e_outsafe_",
                         [check_file_list_stays_inside, check_symlinks_in_output_dir, check_unusable_output_dir,
                          check_full_file_system]))
