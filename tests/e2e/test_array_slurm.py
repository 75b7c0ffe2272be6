"""Slurm scale-out (label slurm): a single-node slurmctld + slurmd runs a 3-task job array
with tools/slurm/lssd-array.sbatch; the union of the shard outputs equals a single-process
run file for file, with no duplicates, and no two shards wrote the same manifest part."""
import glob
import json
import os
import shutil
import subprocess
import sys
import tempfile

import numpy as np

sys.path.insert(0, os.path.dirname(__file__))
from e2e_common import tiny_model_dir  # noqa: E402
from slurm_local import LocalSlurm  # noqa: E402

SRC = os.environ.get("LSSD_SOURCE_DIR", os.getcwd())
BUILD = os.environ.get("LSSD_BUILD_DIR", os.path.join(SRC, "build"))
INFER = os.path.join(BUILD, "lssd-infer")


def outputs(root):
    res = {}
    for f in glob.glob(os.path.join(root, "*", "**", "*.npy"), recursive=True):
        res[os.path.relpath(f, root)] = np.load(f)
    return res


def records(root):
    recs = []
    for f in sorted(glob.glob(os.path.join(root, "*", "manifest*.jsonl"))):
        for line in open(f):
            if line.strip():
                recs.append((os.path.basename(f), json.loads(line)))
    return recs


def main():
    if os.geteuid() != 0:
        print("SKIP: the local Slurm needs root")
        return 0
    if not shutil.which("slurmctld") or not shutil.which("munged"):
        print("FAIL: slurm-wlm / munge not installed (tools/setup.sh --with-slurm)")
        return 1
    models = tiny_model_dir()
    tmp = tempfile.mkdtemp(prefix="lssd_slurm_")
    data = os.path.join(SRC, "sample_data")
    common = ["MODEL.VIDEO_ENCODER_FILE", os.path.join(models, "video.pt"),
              "MODEL.AUDIO_ENCODER_FILE", os.path.join(models, "audio.pt"),
              "RUNTIME.NUM_THREADS", "1", "DIST.NUM_WORKERS", "1"]
    env = {k: v for k, v in os.environ.items() if not k.startswith("SLURM_")}
    single = os.path.join(tmp, "single")
    r = subprocess.run([INFER, "-q", "--cfg", "configs/B3.yaml", "DATA.PATH_TO_DATA_DIR", data, "OUTPUT_DIR", single]
                       + common, cwd=SRC, env=env)
    assert r.returncode in (0, 3), r.returncode

    slurm = LocalSlurm(os.path.join(tmp, "slurm"))
    try:
        slurm.start()
        sharded = os.path.join(tmp, "sharded")
        env2 = dict(env, LSSD_INFER=INFER, SLURM_CONF=slurm.conf)
        r = subprocess.run(["sbatch", "--wait", "--array=0-2", "--cpus-per-task=1",
                            f"--output={tmp}/task-%a.log", os.path.join(SRC, "tools/slurm/lssd-array.sbatch"),
                            "configs/B3.yaml", data, sharded] + common,
                           cwd=SRC, env=env2, capture_output=True, text=True, timeout=1200)
        logs = "".join(open(f).read() for f in sorted(glob.glob(f"{tmp}/task-*.log")))
        print(r.stdout, r.stderr)
        # Exit 3 (sample_data's broken file) in the task holding it makes sbatch --wait exit non-zero.
        for n in range(3):
            assert f"lssd array task {n} of 3" in logs, logs[-3000:]
    finally:
        slurm.stop()

    a, b = outputs(single), outputs(sharded)
    assert sorted(a) == sorted(b), (sorted(set(a) ^ set(b)))
    for k in a:
        assert a[k].shape == b[k].shape, k
        d = float(np.abs(a[k] - b[k]).max()) if a[k].size else 0.0
        assert d <= 1e-5, (k, d)
    parts = {}
    keys = []
    for part, rec in records(sharded):
        parts.setdefault(part, 0)
        parts[part] += 1
        keys.append((rec["modality"], rec["rel_path"], rec.get("track", {}).get("index", -1)))
    assert len(keys) == len(set(keys)), "an input was recorded by two shards"
    single_keys = sorted((rec["modality"], rec["rel_path"], rec.get("track", {}).get("index", -1))
                         for _, rec in records(single))
    assert sorted(keys) == single_keys
    shard_parts = sorted(p for p in parts if "shard" in p)
    assert len(shard_parts) >= 3 * 1, parts  # video and audio parts of each of the 3 shards
    errors = sorted(glob.glob(os.path.join(sharded, "errors.shard-*.jsonl")))
    print(f"{len(a)} outputs identical; manifest parts: {parts}; error parts: {[os.path.basename(e) for e in errors]}")
    shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
