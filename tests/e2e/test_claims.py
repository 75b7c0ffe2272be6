#!/usr/bin/env python3
"""E2E: DIST.MODE claim: lssd-infer processes that share one OUTPUT_DIR compute each input once
(tiny model, CPU).

Corpus: 36 small WAVs (tools/bench/gen_small_wavs.py, 8 kHz, 1 s; one broken: a content
failure). ref/: one ordinary run (DIST.MODE hash, files layout).
1. Both layouts: 3 lssd-infer processes started together in claim mode (DIST.CLAIM_INPUTS 4: 9
   chunks) on one OUTPUT_DIR: each exits 0 or 3 with a summary that adds up; exactly one "ok"
   record per input over all manifests (one per writer: manifest.<writer>.jsonl), the broken
   input one "failed" record; outputs (records and vectors, bit for bit) equal ref's; the work
   is shared (at least two processes wrote something); nothing is left in writers/, no
   temporary; lssd-read verify passes.
2. A writer killed with kill -9 while it holds a chunk (files layout, DIST.CLAIM_INPUTS 12: 3
   chunks, DIST.CLAIM_TIMEOUT_S 3): it runs as another host (LSSD_HOSTNAME=node-b: its pid means
   nothing here, only the claim's age does) and stops in its chunk after recording 3 inputs
   (LSSD_TEST_HOLD=decode@4) while renewing its claim; two writers started after it do the
   other chunks and wait for its chunk; after the kill they take it over once its claim is
   DIST.CLAIM_TIMEOUT_S old (by the file system's clock), keep the 3 inputs it recorded (not
   recomputed) and do the rest: one ok record per input, outputs equal ref's.
3. A rerun in claim mode into the finished folder finds nothing to do and exits 0 with its summary.
What is not tested here: a real NFS or Lustre mount (attribute caching, the server's clock,
link(2) over the network); see README "Scale-out".
Env: LSSD_BUILD_DIR, LSSD_TEST_MODEL_DIR, LSSD_KEEP_TMP=1.
"""
import json
import os
import queue
import signal
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import e2e_common as ec  # noqa: E402

sys.path.insert(0, os.path.join(ec.SOURCE_DIR, "tools"))
import lssd_postprocess  # noqa: E402

GEN = os.path.join(ec.SOURCE_DIR, "tools", "bench", "gen_small_wavs.py")
N_INPUTS = 36
TIMEOUT_S = 3


def make_corpus(data):
    r = subprocess.run([ec.PYTHON, GEN, data, "--count", str(N_INPUTS), "--seconds", "1.0", "--bad", "0.028",
                        "--per-dir", "6"], capture_output=True, text=True)
    if r.returncode != 0:
        raise RuntimeError(r.stderr)


class Proc:
    """An lssd-infer process whose stderr is collected in a thread."""

    def __init__(self, data, out, *overrides, env=None):
        self.p = subprocess.Popen(ec.infer_cmd(data, out, *overrides), stdout=subprocess.DEVNULL,
                                  stderr=subprocess.PIPE, text=True, env={**os.environ, **(env or {})})
        self.lines, self.q = [], queue.Queue()
        self.t = threading.Thread(target=self._read, daemon=True)
        self.t.start()

    def _read(self):
        for line in self.p.stderr:
            self.lines.append(line)
            self.q.put(line)

    def wait_for(self, text, timeout=120):
        t0 = time.time()
        while time.time() - t0 < timeout:
            if any(text in x for x in self.lines):
                return True
            if self.p.poll() is not None:
                self.t.join(1)
                return any(text in x for x in self.lines)
            time.sleep(0.02)
        return False

    def finish(self, timeout=300):
        rc = self.p.wait(timeout=timeout)
        self.t.join(5)
        return rc, "".join(self.lines)


def raw_records(out):
    """Every manifest line of every writer: [(writer manifest, record)]."""
    res = []
    d = os.path.join(out, "audio")
    for name in sorted(os.listdir(d)):
        if name.startswith("manifest") and name.endswith(".jsonl"):
            res += [(name, json.loads(x)) for x in open(os.path.join(d, name)) if x.strip()]
    return res


def meaningful(r):
    return (r["status"], r["M"], tuple(r["shape"]), tuple(tuple(x) for x in r["ranges"]))


def check_outputs(c, out, ref, what):
    """One ok record per input, records and vectors equal to ref's, nothing left over."""
    raw = raw_records(out)
    ok_per_input = {}
    for _, r in raw:
        if r["status"] == "ok":
            ok_per_input[r["rel_path"]] = ok_per_input.get(r["rel_path"], 0) + 1
    ref_latest = {r["rel_path"]: r for r in lssd_postprocess.read_records(ref, "audio")}
    n_ok = sum(r["status"] == "ok" for r in ref_latest.values())
    c.check(len(ok_per_input) == n_ok and set(ok_per_input.values()) == {1},
            f"{what}: exactly one ok record per input over {len({n for n, _ in raw})} manifests "
            f"({len(ok_per_input)} inputs, counts {sorted(set(ok_per_input.values()))})")
    latest = {r["rel_path"]: r for r in lssd_postprocess.read_records(out, "audio")}
    c.check({k: meaningful(r) for k, r in latest.items()} == {k: meaningful(r) for k, r in ref_latest.items()},
            f"{what}: the latest records equal the single run's ({len(latest)} inputs)")
    a = [(str(f), x.tobytes()) for f, x in lssd_postprocess.postprocess(out, "audio")]
    b = [(str(f), x.tobytes()) for f, x in lssd_postprocess.postprocess(ref, "audio")]
    c.check(a == b, f"{what}: every vector bit-identical to the single run's ({len(a)})")
    left = [os.path.join(dp, f) for dp, _d, fs in os.walk(out) for f in fs if f.startswith(".tmp.")]
    writers = os.listdir(os.path.join(out, "writers")) if os.path.isdir(os.path.join(out, "writers")) else []
    v = ec.lssd_read_json_any("verify", out, "--json")
    c.check(not left and not writers and v["ok"],
            f"{what}: no temporary, no writer entry left, verify ok ({left[:2]} {writers} {v['problems'][:2]})")
    return raw


def check_concurrent(c, tmp):
    data, ref = os.path.join(tmp, "data"), os.path.join(tmp, "ref")
    make_corpus(data)
    rc, log, wall = ec.run_infer(data, ref)
    if not c.check(rc == 3, f"single run: exit 3 (one broken input) in {wall:.1f} s"):
        print(log[-3000:])
        return
    for layout in ("files", "shards"):
        out = os.path.join(tmp, "claim-" + layout)
        args = ("DIST.MODE", "claim", "DIST.CLAIM_INPUTS", "4", "OUTPUT.LAYOUT", layout, "OUTPUT.SHARD_INPUTS", "3")
        barrier = {"LSSD_TEST_BARRIER": os.path.join(tmp, "barrier-" + layout) + ":3"}  # start together
        procs = [Proc(data, out, *args, env=barrier) for _ in range(3)]
        results = [p.finish() for p in procs]
        written = []
        for i, (rc, log) in enumerate(results):
            s = ec.summary_counts(log)
            parts = sum(v for k, v in s.items() if k != "outputs")
            c.check(rc in (0, 3) and s and s["outputs"] == parts == N_INPUTS and "not started" not in s,
                    f"{layout}: writer {i} exit {rc}, summary adds up, nothing left: {s}")
            if rc not in (0, 3):
                print(log[-3000:])
            written.append(s.get("written", 0))
        c.check(sum(written) == N_INPUTS - 1 and sum(w > 0 for w in written) >= 2,
                f"{layout}: the writers shared the work: written {written} (sum {N_INPUTS - 1})")
        raw = check_outputs(c, out, ref, f"{layout}, 3 writers")
        failed = [r for _, r in raw if r["status"] == "failed"]
        c.check(len(failed) == 1, f"{layout}: the broken input has one failed record ({len(failed)})")
    # A rerun into the finished folder: nothing left to claim.
    rc, log, _ = ec.run_infer(data, os.path.join(tmp, "claim-files"), "DIST.MODE", "claim", "DIST.CLAIM_INPUTS", "4")
    s = ec.summary_counts(log)
    c.check(rc == 0 and s.get("written", 0) == 0 and s.get("already done") == N_INPUTS - 1,
            f"a claim-mode rerun of the finished folder: exit {rc}, nothing written: {s}")


def check_killed_writer(c, tmp):
    data, ref = os.path.join(tmp, "data"), os.path.join(tmp, "ref")
    out = os.path.join(tmp, "claim-kill")
    args = ("DIST.MODE", "claim", "DIST.CLAIM_INPUTS", "12", "DIST.CLAIM_TIMEOUT_S", str(TIMEOUT_S))
    victim = Proc(data, out, *args, "DIST.WRITER_ID", "victim-node-b",
                  env={"LSSD_HOSTNAME": "node-b", "LSSD_TEST_HOLD": "decode@4"})
    held = victim.wait_for("test hook: holding")
    recorded_by_victim, t0 = [], time.time()
    while held and time.time() - t0 < 60:  # its encoder records the clips queued before the hold
        time.sleep(0.5)
        now = [r for _, r in raw_records(out) if r["status"] in ("ok", "failed")]
        if now and len(now) == len(recorded_by_victim):
            break
        recorded_by_victim = now
    c.check(held and len(recorded_by_victim) >= 1,
            f"the writer to kill holds its chunk after recording {len(recorded_by_victim)} input(s)")
    others = [Proc(data, out, *args) for _ in range(2)]
    waiting = all(p.wait_for("waiting for") for p in others)
    want = N_INPUTS - 12 + len(recorded_by_victim)  # all but the inputs of the held chunk not recorded yet
    t0 = time.time()
    while waiting and len(lssd_postprocess.read_records(out, "audio")) < want and time.time() - t0 < 120:
        time.sleep(0.1)
    n = len(lssd_postprocess.read_records(out, "audio"))
    c.check(waiting and n == want, f"the two other writers do the free chunks ({n} of {N_INPUTS} inputs recorded), "
                                   "then wait for the held one")
    time.sleep(1.5)  # still held: the victim renews its claim
    c.check(not any("took over" in x for p in others for x in p.lines), "no take-over while the holder lives")
    t_kill = time.time()
    os.kill(victim.p.pid, signal.SIGKILL)
    victim.finish()
    results = [p.finish() for p in others]
    took = [p for p in others if any("took over chunk" in x and "victim-node-b" in x for x in p.lines)]
    waited = time.time() - t_kill
    c.check(len(took) == 1 and all(rc in (0, 3) for rc, _ in results),
            f"one of them took the chunk over ({len(took)}), both exit 0 or 3 ({[rc for rc, _ in results]}), "
            f"{waited:.1f} s after the kill (DIST.CLAIM_TIMEOUT_S {TIMEOUT_S})")
    latest = {r["rel_path"]: r for r in lssd_postprocess.read_records(out, "audio")}
    kept = [r for r in recorded_by_victim if latest[r["rel_path"]].get("seq") == r.get("seq")]
    c.check(recorded_by_victim and len(kept) == len(recorded_by_victim),
            f"the {len(recorded_by_victim)} input(s) the killed writer recorded are kept, not recomputed")
    check_outputs(c, out, ref, "after a kill -9")


if __name__ == "__main__":
    if not os.path.exists(ec.READ):
        sys.exit(f"missing {ec.READ}: build the lssd-read target")
    sys.exit(ec.e2e_main("test_claims", "lssd_e2e_claims_", [check_concurrent, check_killed_writer]))
