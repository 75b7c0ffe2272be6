"""Shared helpers of the Python end-to-end tests (not a test itself).

tiny_model_dir(): the tiny random-weight encoders (video.pt, audio.pt), made once and reused:
  $LSSD_TEST_MODEL_DIR if set, else $LSSD_BUILD_DIR/test-models/tiny (default build/). Made
  under an exclusive file lock (<dir>.lock) so that tests running in parallel do not race; the
  export goes to a temporary sibling that is renamed into place when complete. The exporter's
  default kernels (what lssd-infer runs); tiny_model_dir("reference") is the same weights with
  the reference formulation (<dir>-reference), which run_reference() uses: the Python reference
  pipeline is an oracle and keeps the reference formulation.
run_infer(): runs lssd-infer with the tiny model on CPU at 2 threads, returns (rc, stderr text).
e2e_main(): the main() of a test made of steps (one Checker, the tiny model, one scratch dir).
Checker and the paths (SOURCE_DIR, BUILD_DIR, SAMPLE_DIR, PYTHON) come from tests/lssd_testing.py.
"""
import contextlib
import fcntl
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))  # tests/
from lssd_testing import BUILD_DIR, PYTHON, SAMPLE_DIR, SOURCE_DIR, Checker  # noqa: E402,F401  (re-exported)

REFERENCE = os.path.join(SOURCE_DIR, "tests", "oracle", "reference_pipeline.py")
THREADS = 2


def infer_path():
    p = os.path.join(BUILD_DIR, "lssd-infer")
    if not os.path.exists(p):
        sys.exit(f"missing {p}: build the lssd-infer target")
    return p


def _model_complete(d):
    files = [os.path.join(d, f) for f in ("video.pt", "audio.pt")]
    return all(os.path.isfile(f) and os.path.getsize(f) > 0 for f in files)


def tiny_model_dir(kernels=None):
    """The directory holding the tiny test encoders (made on first use, then reused); kernels:
    None for the exporter's default, or "reference"/"fast" (lssd_export.py --kernels)."""
    d = os.environ.get("LSSD_TEST_MODEL_DIR") or os.path.join(BUILD_DIR, "test-models", "tiny")
    d = os.path.abspath(d) + (f"-{kernels}" if kernels else "")
    if _model_complete(d):
        return d
    os.makedirs(os.path.dirname(d), exist_ok=True)
    with open(d + ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            if _model_complete(d):  # made by another test while we waited
                return d
            t0 = time.time()
            tmp = tempfile.mkdtemp(prefix=os.path.basename(d) + ".tmp-", dir=os.path.dirname(d))
            os.chmod(tmp, 0o755)
            try:
                ckpt = os.path.join(tmp, "tiny.pyth")
                tools = os.path.join(SOURCE_DIR, "tools")
                for cmd in ([PYTHON, os.path.join(tools, "lssd_checkpoint.py"), "random", "--size", "S", "--tiny",
                             "--seed", "0", "-o", ckpt],
                            [PYTHON, os.path.join(tools, "lssd_export.py"), "--checkpoint", ckpt, "--out-dir", tmp,
                             "--threads", str(THREADS)] + (["--kernels", kernels] if kernels else [])):
                    r = subprocess.run(cmd, capture_output=True, text=True)
                    if r.returncode != 0:
                        raise RuntimeError(f"{' '.join(cmd)} failed ({r.returncode}):\n{r.stdout}\n{r.stderr}")
                os.remove(ckpt)
                if os.path.exists(d):  # an incomplete leftover
                    shutil.rmtree(d)
                os.rename(tmp, d)
            finally:
                if os.path.exists(tmp):
                    shutil.rmtree(tmp, ignore_errors=True)
            print(f"made the tiny test model in {d} ({time.time() - t0:.1f} s)", file=sys.stderr, flush=True)
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)
    return d


def infer_cmd(data, out, *overrides, flags=(), model=None):
    """The lssd-infer command line of run_infer()."""
    model = model or tiny_model_dir()
    return [infer_path(), *flags, "DATA.PATH_TO_DATA_DIR", data, "OUTPUT_DIR", out,
            "MODEL.VIDEO_ENCODER_FILE", os.path.join(model, "video.pt"),
            "MODEL.AUDIO_ENCODER_FILE", os.path.join(model, "audio.pt"),
            "RUNTIME.DEVICE", "cpu", "RUNTIME.NUM_THREADS", str(THREADS), *overrides]


def summary_counts(log):
    """The counts of the last "done: ..." line of an lssd-infer log: {"outputs": N, "written": W,
    "already done": R, "failed": F, ...} ({} when there is none)."""
    lines = [line for line in log.splitlines() if "] done: " in line]
    if not lines:
        return {}
    text = lines[-1].split("] done: ", 1)[1].split(";")[0]
    total, parts = text.split(" outputs = ")
    res = {"outputs": int(total)}
    for part in parts.split(" + "):
        n, what = part.split(" ", 1)
        res[what] = int(n)
    return res


def run_infer(data, out, *overrides, flags=(), model=None, timeout=1500):
    """lssd-infer on `data` into `out` with the tiny model, CPU, 2 threads. Returns
    (returncode, stderr text, wall seconds)."""
    cmd = infer_cmd(data, out, *overrides, flags=flags, model=model)
    t0 = time.time()
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    return r.returncode, r.stdout + r.stderr, time.time() - t0


def run_reference(data, out, summary, model=None, extra=(), timeout=1500):
    """tests/oracle/reference_pipeline.py (default model: the tiny encoders with the reference
    kernels); returns (parsed summary, output text, wall seconds)."""
    model = model or tiny_model_dir("reference")
    cmd = [PYTHON, REFERENCE, "--data", data, "--out", out, "--video-model", os.path.join(model, "video.pt"),
           "--audio-model", os.path.join(model, "audio.pt"), "--threads", str(THREADS), "--json-summary", summary,
           *extra]
    t0 = time.time()
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    if r.returncode != 0:
        raise RuntimeError(f"reference pipeline failed ({r.returncode}):\n{r.stdout}\n{r.stderr}")
    with open(summary) as f:
        return json.load(f), r.stdout + r.stderr, time.time() - t0


READ = os.path.join(BUILD_DIR, "lssd-read")


def lssd_read(*args, cwd=None):
    """Runs build/lssd-read; returns (exit code, stdout, stderr)."""
    r = subprocess.run([READ, *args], capture_output=True, text=True, cwd=cwd)
    return r.returncode, r.stdout, r.stderr


def read_json(*args):
    """lssd-read's JSON output of a command that must succeed."""
    rc, out, err = lssd_read(*args)
    if rc != 0:
        raise RuntimeError(f"lssd-read {' '.join(args)} -> {rc}: {err}")
    return json.loads(out)


def lssd_read_json_any(*args):
    """lssd-read's JSON output whatever its exit code."""
    _rc, out, _err = lssd_read(*args)
    return json.loads(out)


def read_manifest(out, modality):
    """Every record of OUTPUT_DIR/<modality>/manifest*.jsonl, in file order."""
    d = os.path.join(out, modality)
    recs = []
    if not os.path.isdir(d):
        return recs
    for name in sorted(os.listdir(d)):
        if name.startswith("manifest") and name.endswith(".jsonl"):
            with open(os.path.join(d, name)) as f:
                recs += [json.loads(line) for line in f if line.strip()]
    return recs


def latest_records(out):
    """{(modality, rel_path): last record} over both manifests."""
    res = {}
    for m in ("video", "audio"):
        for r in read_manifest(out, m):
            res[(m, r["rel_path"])] = r
    return res


def npy_files(out):
    """{(modality, rel .npy path under OUTPUT_DIR/<modality>)} of every output array."""
    res = set()
    for m in ("video", "audio"):
        root = os.path.join(out, m)
        for dirpath, _dirs, files in os.walk(root):
            for f in files:
                if f.endswith(".npy"):
                    res.add((m, os.path.relpath(os.path.join(dirpath, f), root)))
    return res


def read_errors(out):
    res = []
    for name in sorted(os.listdir(out)):
        if name.startswith("errors") and name.endswith(".jsonl"):
            with open(os.path.join(out, name)) as f:
                res += [json.loads(line) for line in f if line.strip()]
    return res


@contextlib.contextmanager
def scratch(prefix):
    keep = os.environ.get("LSSD_KEEP_TMP")
    d = tempfile.mkdtemp(prefix=prefix)
    try:
        yield d
    finally:
        if keep:
            print(f"kept {d}")
        else:
            shutil.rmtree(d, ignore_errors=True)


def e2e_main(name, scratch_prefix, steps, timings=False, before_cleanup=None):
    """The main() of an e2e test made of steps: one Checker(name), the tiny model made (or found)
    first, one scratch directory for all steps; runs step(c, tmp) (step(c, tmp, timings) with
    timings=True: a dict of {what: seconds} printed at the end) in order, then
    before_cleanup(tmp) if given (even when a step raised); returns the exit code for sys.exit."""
    c = Checker(name)
    tiny_model_dir()
    times = {}
    with scratch(scratch_prefix) as tmp:
        try:
            for step in steps:
                if timings:
                    step(c, tmp, times)
                else:
                    step(c, tmp)
        finally:
            if before_cleanup:
                before_cleanup(tmp)
    for k, v in times.items():
        print(f"time {k}: {v:.1f} s")
    return c.finish()
