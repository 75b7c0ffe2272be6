#!/usr/bin/env python3
"""E2E: lssd-infer over sample_data plus a corpus of bad, odd and hostile inputs
(tests/e2e/bad_corpus.py: truncated/random/mislabelled files, 1x1 and odd sizes, 8-channel and
8 kHz audio, VFR, backwards and absurd timestamps, HLS/ffconcat/image-sequence files naming
/etc/passwd and URLs, a symlink to /etc/passwd, a symlink loop, a FIFO, a mode-000 file, a
non-UTF-8 name), with MEDIA.DEADLINE_S 20 and the whole run under a timeout.

(a) The run ends (no crash, no hang) with exit code 3; every corpus file does what
    bad_corpus.py says (ok / skipped_short / failed with a message matching its regex, and an
    errors.jsonl line naming it / a discover error); every good sample_data file is done;
    nothing in any output, manifest or error log contains /etc/passwd's content
    ('root:x:0:0'); the HLS/concat/sequence/symlink inputs have no output.
(b) Deadlines: a 12 s 720p video with MEDIA.DEADLINE_S 0.02 fails with a deadline message;
    two multi-clip videos with MEDIA.DEADLINE_S 1 and TEST.BATCH_SIZE 1 (the clip queue full,
    the decoder waiting for the encoder) succeed: time spent waiting on the encoder does not
    count against a file's deadline.
Env: LSSD_BUILD_DIR, LSSD_TEST_MODEL_DIR, LSSD_KEEP_TMP=1.
"""
import os
import re
import shutil
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import bad_corpus  # noqa: E402
import e2e_common as ec  # noqa: E402

RUN_TIMEOUT = 900  # the whole run; a hang fails the test instead of blocking ctest
SAMPLE_FAILED = {"video/misc/broken.mp4"}
SAMPLE_SKIPPED = {"video/misc/one_frame.mp4", "audio/edge/one_sample.wav"}
DEFAULT_EXTS = {".mp4", ".avi", ".mp3", ".wav", ".flac", ".opus"}
PASSWD_MARK = b"root:x:0:0"


def run(data, out, *overrides, timeout=RUN_TIMEOUT):
    try:
        return ec.run_infer(data, out, *overrides, timeout=timeout)
    except subprocess.TimeoutExpired:
        return None, f"TIMEOUT after {timeout} s", timeout


def latest(out):
    """{(modality, rel_path bytes): record} over both manifests."""
    res = {}
    for m in ("video", "audio"):
        for r in ec.read_manifest(out, m):
            rel = bytes.fromhex(r["rel_path_hex"]) if "rel_path_hex" in r else r["rel_path"].encode()
            res[(m, rel)] = r
    return res


def error_paths(errors):
    return [bytes.fromhex(e["path_hex"]) if "path_hex" in e else e["path"].encode() for e in errors]


def grep_tree(root, needle):
    hits = []
    for dirpath, _dirs, files in os.walk(root):
        for f in files:
            p = os.path.join(dirpath, f)
            if os.path.islink(p) or not os.path.isfile(p):
                continue
            with open(p, "rb") as fh:
                if needle in fh.read():
                    hits.append(p)
    return hits


def check_bad_corpus(c, tmp, timings):
    data, out = os.path.join(tmp, "data"), os.path.join(tmp, "out")
    shutil.copytree(ec.SAMPLE_DIR, os.path.join(data, "sample"))
    cases = bad_corpus.generate(os.path.join(data, "bad"))
    c.check(len({v.kind for v in cases.values()}) >= 20, f"(a) the corpus has {len(cases)} cases (>= 20 kinds)")
    rc, log, dt = run(data, out, "MEDIA.DEADLINE_S", "20")
    timings["(a) sample_data + bad corpus"] = dt
    if not c.check(rc == 3, f"(a) run ends with exit code 3 (some inputs failed), got {rc} in {dt:.1f} s"):
        print(log[-4000:])
        if rc is None:
            return
    recs = latest(out)
    errors = ec.read_errors(out)
    epaths = error_paths(errors)
    root_ok = "ok" if os.geteuid() == 0 else "discover"
    results = []
    for rel, case in sorted(cases.items()):
        full = os.fsencode(os.path.join(data, "bad")) + b"/" + rel
        key = (case.modality, b"bad/" + rel)
        r = recs.get(key)
        expect = root_ok if case.expect == "root_ok" else case.expect
        name = os.fsdecode(rel)
        if expect == "discover":
            hit = [e for e, p in zip(errors, epaths) if p == full and e["stage"] == "discover"]
            ok = r is None and len(hit) == 1 and re.search(case.message, hit[0]["message"]) is not None
            got = hit[0]["message"] if hit else ("a record" if r else "nothing")
        elif r is None:
            ok, got = False, "no manifest record"
        elif expect == "failed":
            msg = r.get("error", {}).get("message", "")
            named = sum(1 for p in epaths if p == full)
            ok = r["status"] == "failed" and re.search(case.message, msg) is not None and named == 1
            got = f"{r['status']}: {msg}" + ("" if named == 1 else f" (errors.jsonl names it {named} times)")
        else:
            ok = r["status"] == expect
            got = r["status"] + (f" M={r['M']}" if r["status"] == "ok" else f": {r.get('error', {}).get('message')}")
        results.append((name, case.kind, got))
        c.check(ok, f"(a) {name} ({case.kind}): expected {expect}, got {got}")
    # Every good sample_data file done.
    n_sample = 0
    for dirpath, _dirs, files in os.walk(ec.SAMPLE_DIR):
        for f in files:
            rel = os.path.relpath(os.path.join(dirpath, f), ec.SAMPLE_DIR)
            ext = os.path.splitext(f)[1]
            if ext not in DEFAULT_EXTS:
                continue
            n_sample += 1
            m = "video" if ext in (".mp4", ".avi") else "audio"
            r = recs.get((m, ("sample/" + rel).encode()))
            want = "failed" if rel in SAMPLE_FAILED else "skipped_short" if rel in SAMPLE_SKIPPED else "ok"
            c.check(r is not None and r["status"] == want,
                    f"(a) sample_data {rel}: {want} (got {r['status'] if r else 'no record'})")
    c.check(n_sample == 18, f"(a) 18 sample_data inputs checked (got {n_sample})")
    # Nothing of /etc/passwd anywhere in the outputs; no output for the hostile text inputs.
    if os.path.exists("/etc/passwd") and PASSWD_MARK in open("/etc/passwd", "rb").read():
        hits = grep_tree(out, PASSWD_MARK)
        c.check(not hits, f"(a) no output/manifest/error file contains '{PASSWD_MARK.decode()}' ({hits})")
    npys = ec.npy_files(out)
    for name in ("hls_playlist.mp4", "concat_list.mp4", "subfile_url.mp4", "seq_%03d.mp4", "seq_001.mp4",
                 "passwd_link.mp4"):
        c.check(("video", f"bad/video/{name}.npy") not in npys, f"(a) no output for bad/video/{name}")
    for name in ("concat_url.wav", "hls_playlist.mp3"):
        c.check(("audio", f"bad/audio/{name}.npy") not in npys, f"(a) no output for bad/audio/{name}")
    c.check(not [p for _m, p in npys if ".tmp." in p], "(a) no temporary .tmp.* file left among the outputs")
    print("\nbad input results:")
    for name, kind, got in results:
        print(f"  {name:32s} {got[:90]:90s} | {kind}")


def check_deadlines(c, tmp, timings):
    data, out = os.path.join(tmp, "b_data"), os.path.join(tmp, "b_out")
    os.makedirs(os.path.join(data, "slow"))
    big = os.path.join(data, "slow", "big_720p_12s.mp4")
    bad_corpus.ff("-f", "lavfi", "-i", "testsrc=s=1280x720:r=25:d=12", "-c:v", "mpeg4", "-q:v", "2",
                  *bad_corpus.DET, big)
    rc, log, dt = run(data, out, "MEDIA.DEADLINE_S", "0.02", timeout=300)
    timings["(b) deadline 0.02 s"] = dt
    recs = latest(out)
    r = recs.get(("video", b"slow/big_720p_12s.mp4"))
    msg = r.get("error", {}).get("message", "") if r else ""
    c.check(rc == 3 and r is not None and r["status"] == "failed" and "deadline" in msg,
            f"(b) a 12 s 720p video with MEDIA.DEADLINE_S 0.02 fails with a deadline message "
            f"(rc {rc}, {msg!r}, {dt:.1f} s)")
    # Encoder back-pressure does not count against the deadline.
    data2, out2 = os.path.join(tmp, "b2_data"), os.path.join(tmp, "b2_out")
    os.makedirs(os.path.join(data2, "v"))
    for rel in ("video/avi/testsrc_320x240_30fps_7.5s.avi", "video/vfr/testsrc2_320x240_vfr_5.0s.mp4"):
        shutil.copy(os.path.join(ec.SAMPLE_DIR, rel), os.path.join(data2, "v"))
    rc, log, dt = run(data2, out2, "MEDIA.DEADLINE_S", "1", "TEST.BATCH_SIZE", "1", "DIST.NUM_WORKERS", "2",
                      timeout=600)
    timings["(b) deadline 1 s, encoder-bound"] = dt
    recs = latest(out2)
    st = {k[1].decode(): (v["status"], v.get("error", {}).get("message"), round(v["wall_s"], 1))
          for k, v in recs.items()}
    c.check(rc == 0 and len(st) == 2 and all(v[0] == "ok" for v in st.values()),
            f"(b) multi-clip videos waiting on the encoder do not hit MEDIA.DEADLINE_S 1 (rc {rc}, {st})")


def make_removable(tmp):
    """chmod 000 files make rmtree fail for non-root users."""
    for dirpath, _dirs, files in os.walk(tmp):
        for f in files:
            p = os.path.join(dirpath, f)
            if not os.path.islink(p):
                try:
                    os.chmod(p, 0o644)
                except OSError:
                    pass


if __name__ == "__main__":
    sys.exit(ec.e2e_main("test_bad_inputs", "lssd_e2e_bad_", [check_bad_corpus, check_deadlines], timings=True,
                         before_cleanup=make_removable))
