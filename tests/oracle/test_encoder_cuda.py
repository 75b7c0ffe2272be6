#!/usr/bin/python3
"""CUDA encoder check (ctest label cuda; not in the default run). Needs a build whose LibTorch has
CUDA and a visible GPU; fails with a clear message otherwise.

On the tiny variant (video and audio towers, seeded random weights) and the S video tower:
  --device cuda --precision fp32  vs CPU fp32: max abs diff <= 1e-4 (TF32 is off for fp32)
  --device cuda --precision auto  (fp16 autocast, as the release) vs CPU fp32: cosine >= 0.999
    for every row
and prints throughput (inputs/s) for fp32 and fp16 under the default graph executor ("simple")
and under LSSD_JIT_EXECUTOR=profiling.
Env: LSSD_BUILD_DIR (the probe), LSSD_SOURCE_DIR (tools/); tools/gpu/check.sh sets
LSSD_CUDA_TEST_QUICK=1 (the parity checks only, no throughput: the check has its own table) and
LSSD_CUDA_TEST_S_MODEL=DIR (an S export to use instead of exporting one).
"""
import json
import os
import subprocess
import sys
import tempfile
import time

import numpy as np

import lssd_oracle_common as common

SRC = common.SOURCE_DIR
PROBE = common.encoder_probe()
PY = sys.executable or "/usr/bin/python3"  # the Python running this test (tools/gpu/check.sh may pick it)
QUICK = os.environ.get("LSSD_CUDA_TEST_QUICK") == "1"


def run(cmd, env=None, check=True):
    r = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                       env=dict(os.environ, **(env or {})))
    if check and r.returncode != 0:
        sys.stderr.write(r.stdout + r.stderr)
        raise SystemExit(f"FAIL: {' '.join(cmd)} exited {r.returncode}")
    return r


def probe(model, xin, out, device, precision, extra=(), env=None):
    r = run([PROBE, model, xin, out, "--device", device, "--precision", precision, *extra], env=env)
    return json.loads(r.stdout.strip().splitlines()[-1]), np.load(out)


def check(c, name, model, modality, n, tmp, bench_batch):
    x = common.inputs(modality, n, seed=n).numpy()
    xin = os.path.join(tmp, "in.npy")
    np.save(xin, x)
    _, ref = probe(model, xin, os.path.join(tmp, "cpu.npy"), "cpu", "fp32", ["--threads", "0"])
    rep, y32 = probe(model, xin, os.path.join(tmp, "g32.npy"), "cuda", "fp32")
    d = float(np.abs(y32 - ref).max())
    c.check(d <= 1e-4, f"{name}: cuda fp32 vs cpu fp32: max abs diff {d:.3g} <= 1e-4 ({rep['device']})")
    rep, y16 = probe(model, xin, os.path.join(tmp, "g16.npy"), "cuda", "auto")
    c.check(rep["precision"] == "fp16", f"{name}: precision auto on CUDA resolved to {rep['precision']}, expected fp16")
    cos = (y16 * ref).sum(1) / (np.linalg.norm(y16, axis=1) * np.linalg.norm(ref, axis=1))
    c.check(cos.min() >= 0.999, f"{name}: cuda fp16 autocast vs cpu fp32: min cosine {cos.min():.6f} >= 0.999, "
            f"max abs diff {float(np.abs(y16 - ref).max()):.3g}")
    c.check(float(np.abs(y16 - y32).max()) != 0.0, f"{name}: fp16 autocast output differs from fp32 (autocast had an effect)")

    if QUICK:
        return
    # Throughput: bench_batch inputs per forward, 5 timed forwards after a warmup.
    xb = np.concatenate([x] * (bench_batch // n + 1))[:bench_batch]
    np.save(xin, xb)
    for executor in ("simple", "profiling"):
        for prec in ("fp32", "fp16"):
            rep, _ = probe(model, xin, os.path.join(tmp, "b.npy"), "cuda", prec,
                           ["--repeat", "5", "--warmup", str(bench_batch)], env={"LSSD_JIT_EXECUTOR": executor})
            ts = rep["forward_s"]
            print(f"{name}: {executor:9s} {prec}: batch {bench_batch}: warmup {rep['warmup_s']:.2f} s, "
                  f"forwards {', '.join(f'{t:.3f}' for t in ts)} s -> {bench_batch / min(ts):.1f} inputs/s")


def main():
    if not os.path.exists(PROBE):
        raise SystemExit(f"FAIL: {PROBE} not built")
    c = common.Checker("test_encoder_cuda")
    with tempfile.TemporaryDirectory(prefix="lssd_enc_cuda_") as tmp:
        ck = os.path.join(tmp, "tiny.pyth")
        run([PY, os.path.join(SRC, "tools/lssd_checkpoint.py"), "random", "--tiny", "--seed", "0", "-o", ck])
        run([PY, os.path.join(SRC, "tools/lssd_export.py"), "--checkpoint", ck, "--out-dir",
             os.path.join(tmp, "tiny"), "--no-verify"])
        # Does this build see CUDA at all?
        np.save(os.path.join(tmp, "one.npy"), common.inputs("audio", 1, 0).numpy())
        r = run([PROBE, os.path.join(tmp, "tiny/audio.pt"), os.path.join(tmp, "one.npy"), os.path.join(tmp, "o.npy"),
                 "--device", "cuda"], check=False)
        if r.returncode != 0:
            raise SystemExit("FAIL: the C++ encoder cannot use CUDA here (a CPU-only LibTorch, or no GPU):\n"
                             + r.stderr.strip())
        t = time.time()
        check(c, "tiny video", os.path.join(tmp, "tiny/video.pt"), "video", 3, tmp, 16)
        check(c, "tiny audio", os.path.join(tmp, "tiny/audio.pt"), "audio", 3, tmp, 64)
        s_dir = os.environ.get("LSSD_CUDA_TEST_S_MODEL")
        if not s_dir:
            s_dir = os.path.join(tmp, "s")
            ck = os.path.join(tmp, "s.pyth")
            run([PY, os.path.join(SRC, "tools/lssd_checkpoint.py"), "random", "--size", "S", "--seed", "0", "-o", ck])
            run([PY, os.path.join(SRC, "tools/lssd_export.py"), "--checkpoint", ck, "--out-dir", s_dir,
                 "--modality", "video", "--no-verify"])
        check(c, "S video", os.path.join(s_dir, "video.pt"), "video", 2, tmp, 10)
        print(f"checks took {time.time() - t:.1f} s")
    return c.finish()


if __name__ == "__main__":
    sys.exit(main())
