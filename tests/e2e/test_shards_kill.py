#!/usr/bin/env python3
"""E2E: kill -9 at random moments of a run in the sharded layout, then a rerun: the outputs are
those of an uninterrupted run, and only the inputs of the parts that were not sealed are
computed again (tiny model, CPU).

Corpus: 24 small WAVs (tools/bench/gen_small_wavs.py, 8 kHz, 1 s; one broken: a content
failure), OUTPUT.LAYOUT shards, OUTPUT.SHARD_INPUTS 4 (6 parts).
1. An uninterrupted run into ref/.
2. At least 20 trials, each into a fresh OUTPUT_DIR: a run killed with SIGKILL at a random
   moment (seeded), a third of them in the middle of a seal (LSSD_TEST_SEAL_PAUSE_MS: the part
   sealing pauses before its rename and before its records; the kill lands, in turn, before the
   rename, between the rename and the records, or just after), then a rerun. After each rerun:
   - every record present after the kill is unchanged (same part, row and seq: not recomputed),
     and the rerun wrote exactly the ok outputs that were missing ("N written");
   - the latest records equal ref's (status, M, shape, clip ranges) and every vector equals ref's
     bit for bit (numpy postprocess);
   - no temporary file and no part that no record names is left; lssd-read verify passes.
Env: LSSD_BUILD_DIR, LSSD_TEST_MODEL_DIR, LSSD_KEEP_TMP=1, LSSD_KILL_TRIALS (default 20).
"""
import os
import queue
import random
import signal
import subprocess
import sys
import threading
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import e2e_common as ec  # noqa: E402

sys.path.insert(0, os.path.join(ec.SOURCE_DIR, "tools"))
import lssd_postprocess  # noqa: E402

TRIALS = int(os.environ.get("LSSD_KILL_TRIALS", "20"))
SEAL_PAUSE_MS = 300
SHARDS = ("OUTPUT.LAYOUT", "shards", "OUTPUT.SHARD_INPUTS", "4", "DIST.NUM_WORKERS", "2")
GEN = os.path.join(ec.SOURCE_DIR, "tools", "bench", "gen_small_wavs.py")


def make_corpus(data):
    r = subprocess.run([ec.PYTHON, GEN, data, "--count", "24", "--seconds", "1.0", "--bad", "0.042", "--per-dir", "8"],
                       capture_output=True, text=True)
    if r.returncode != 0:
        raise RuntimeError(r.stderr)


def latest(out):
    """{(modality, rel_path, track): record} as the readers see it."""
    return {("audio", r["rel_path"], r["_track"]): r for r in lssd_postprocess.read_records(out, "audio")}


def meaningful(r):
    return (r["status"], r["M"], tuple(r["shape"]), tuple(tuple(x) for x in r["ranges"]))


def vectors(out):
    return {os.fsdecode(str(f)): a.tobytes() for f, a in lssd_postprocess.postprocess(out, "audio")}


def leftovers(out):
    return [os.path.join(dp, f) for dp, _d, fs in os.walk(out) for f in fs if f.startswith(".tmp.")]


def killed_run(data, out, during_seal, delay):
    """Starts lssd-infer, kills it -9 after `delay` s (during_seal: `delay` s after a seal began).
    Returns (killed, what happened)."""
    env = dict(os.environ)
    if during_seal:
        env["LSSD_TEST_SEAL_PAUSE_MS"] = str(SEAL_PAUSE_MS)
    p = subprocess.Popen(ec.infer_cmd(data, out, *SHARDS), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                         text=True, env=env)
    lines = queue.Queue()
    threading.Thread(target=lambda: [lines.put(x) for x in p.stderr], daemon=True).start()
    t0 = time.time()
    if during_seal:
        while time.time() - t0 < 120:
            try:
                line = lines.get(timeout=0.5)
            except queue.Empty:
                if p.poll() is not None:
                    break
                continue
            if "test hook: sealing" in line:
                break
    time.sleep(delay)
    killed = p.poll() is None
    if killed:
        os.kill(p.pid, signal.SIGKILL)
    p.wait()
    return killed, f"{'seal+' if during_seal else ''}{delay:.2f} s after {'the seal began' if during_seal else 'start'}"


def check_trials(c, tmp):
    data, ref = os.path.join(tmp, "data"), os.path.join(tmp, "ref")
    make_corpus(data)
    rc, log, wall = ec.run_infer(data, ref, *SHARDS)
    if not c.check(rc == 3, f"uninterrupted run: exit 3 (one broken input) in {wall:.1f} s"):
        print(log[-3000:])
        return
    ref_recs, ref_vec = latest(ref), vectors(ref)
    n_ok = sum(r["status"] == "ok" for r in ref_recs.values())
    rng = random.Random(26)
    kills, problems, during_seal, attempts = 0, [], 0, 0
    while kills < TRIALS and attempts < TRIALS + 10:
        attempts += 1
        out = os.path.join(tmp, f"t{attempts}")
        seal = attempts % 3 == 0
        # During a seal: before its rename, between the rename and its records, or just after (in turn).
        window = (attempts // 3) % 3
        delay = (window + rng.uniform(0.15, 0.85)) * SEAL_PAUSE_MS / 1000 if seal else rng.uniform(0.05, wall)
        killed, what = killed_run(data, out, seal, delay)
        if not killed:
            print(f"trial {attempts}: the run ended before the kill ({what})")
            continue
        kills += 1
        during_seal += seal
        before = latest(out) if os.path.isdir(os.path.join(out, "audio")) else {}
        rc, log, _ = ec.run_infer(data, out, *SHARDS)
        counts = ec.summary_counts(log)
        after = latest(out)
        missing_ok = n_ok - sum(r["status"] == "ok" for r in before.values())
        bad = []
        if rc not in (0, 3):
            bad.append(f"rerun exit {rc}")
        if any(after.get(k, {}).get("seq") != r.get("seq") for k, r in before.items()):
            bad.append("a record of before the kill was rewritten")
        if counts.get("written") != missing_ok:
            bad.append(f"rerun wrote {counts.get('written')}, {missing_ok} were missing")
        if {k: meaningful(r) for k, r in after.items()} != {k: meaningful(r) for k, r in ref_recs.items()}:
            bad.append("records differ from the uninterrupted run's")
        if vectors(out) != ref_vec:
            bad.append("vectors differ from the uninterrupted run's")
        if leftovers(out):
            bad.append(f"temporaries left: {leftovers(out)[:2]}")
        v = ec.lssd_read_json_any("verify", out, "--json")
        if not v["ok"] or v["warnings"]:
            bad.append(f"verify: {v['problems'][:2]} {v['warnings'][:2]}")
        print(f"trial {attempts}: killed {what}: {len(before)} records survived, rerun wrote "
              f"{counts.get('written')} -> {'ok' if not bad else bad}", flush=True)
        if bad:
            problems.append((attempts, what, bad))
    c.check(kills >= TRIALS and during_seal >= TRIALS // 4,
            f"{kills} runs killed at random moments ({during_seal} during a seal) in {attempts} attempts")
    c.check(not problems, f"every rerun: nothing recorded recomputed, only the missing outputs written, outputs "
                          f"identical to the uninterrupted run, nothing left over ({problems[:3]})")


if __name__ == "__main__":
    if not os.path.exists(ec.READ):
        sys.exit(f"missing {ec.READ}: build the lssd-read target")
    sys.exit(ec.e2e_main("test_shards_kill", "lssd_e2e_shards_kill_", [check_trials]))
