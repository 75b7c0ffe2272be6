#!/usr/bin/python3
"""Oracle: the C++ encoder (tests/tools/lssd_encoder_probe) against the same TorchScript module
run by Python torch 1.13, on the same saved inputs.

Models: the tiny variant (video and audio towers) and the full-size S video tower, with seeded
random weights from tools/lssd_checkpoint.py, exported by tools/lssd_export.py.
Checks: max abs diff <= 1e-5 at batch 1 (--batch-split 1) and at batch 3 (S video: 2), the
metadata the C++ side reads, the file sha256 against hashlib; CPU bf16 on the tiny towers (the
export's bf16 method): lowest cosine to fp32 >= 0.999, equal to Python's bf16 method (1e-5),
RUNTIME.PRECISION auto bit-identical to fp32; and CPU bf16 autocast of a --kernels reference
export (tiny audio, no bf16 method) against fp32 and Python's torch.autocast("cpu", bfloat16).
Env: LSSD_BUILD_DIR (the probe), LSSD_SOURCE_DIR (tools/). Prints every diff and timing.
"""
import hashlib
import json
import os
import subprocess
import sys
import tempfile
import time

import lssd_oracle_common as common

# Shared CI machines: OpenMP spin-waiting makes 2-thread forwards several times slower when the
# cores are busy with other processes; passive waiting costs little when they are not.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import numpy as np  # noqa: E402
import torch  # noqa: E402

SRC = common.SOURCE_DIR
PROBE = common.encoder_probe()
PY = sys.executable or "/usr/bin/python3"  # the Python running this test
TOL = 1e-5
THREADS = 2


def run(cmd, **kw):
    t = time.time()
    r = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, **kw)
    if r.returncode != 0:
        sys.stderr.write(r.stdout + r.stderr)
        raise SystemExit(f"FAIL: {' '.join(cmd)} exited {r.returncode}")
    return r.stdout, time.time() - t


def make_models(tmp):
    tiny_ck, s_ck = os.path.join(tmp, "tiny.pyth"), os.path.join(tmp, "s.pyth")
    run([PY, os.path.join(SRC, "tools/lssd_checkpoint.py"), "random", "--tiny", "--seed", "0", "-o", tiny_ck])
    run([PY, os.path.join(SRC, "tools/lssd_checkpoint.py"), "random", "--size", "S", "--seed", "0", "-o", s_ck])
    _, t = run([PY, os.path.join(SRC, "tools/lssd_export.py"), "--checkpoint", tiny_ck, "--out-dir",
                os.path.join(tmp, "tiny"), "--no-verify", "--threads", str(THREADS)])
    print(f"export tiny: {t:.1f} s")
    _, t = run([PY, os.path.join(SRC, "tools/lssd_export.py"), "--checkpoint", tiny_ck, "--out-dir",
                os.path.join(tmp, "tiny_ref"), "--modality", "audio", "--kernels", "reference", "--no-verify",
                "--threads", str(THREADS)])
    print(f"export tiny audio (reference kernels): {t:.1f} s")
    _, t = run([PY, os.path.join(SRC, "tools/lssd_export.py"), "--checkpoint", s_ck, "--out-dir",
                os.path.join(tmp, "s"), "--modality", "video", "--no-verify", "--threads", str(THREADS)])
    print(f"export S video: {t:.1f} s")
    return hashlib.sha256(open(s_ck, "rb").read()).hexdigest()


def check(c, name, model, modality, n, tmp, expect):
    x = common.inputs(modality, n, seed=n)
    xin = os.path.join(tmp, f"{name}_in.npy")
    np.save(xin, x.numpy())
    m = torch.jit.load(model)
    t = time.time()
    with torch.no_grad():
        ref = m(x).numpy()
    t_py = time.time() - t
    sha = hashlib.sha256(open(model, "rb").read()).hexdigest()
    for split in (0, 1):
        out = os.path.join(tmp, f"{name}_out_{split}.npy")
        stdout, _ = run([PROBE, model, xin, out, "--device", "cpu", "--precision", "fp32",
                         "--threads", str(THREADS), "--batch-split", str(split)])
        rep = json.loads(stdout.strip().splitlines()[-1])
        y = np.load(out)
        assert y.shape == (n, 768) and y.dtype == np.float32, (y.shape, y.dtype)
        diff = float(np.abs(y - ref).max())
        batch = n if split == 0 else 1
        times = ", ".join(f"{s:.2f}" for s in rep["forward_s"])
        c.check(diff <= TOL, f"{name}: batch {batch}: max abs diff {diff:.3g} <= {TOL} (C++ forwards {times} s; "
                f"Python batch {n} {t_py:.2f} s)")
        c.check(rep["file_sha256"] == sha, f"{name}: the probe's sha256 {rep['file_sha256'][:16]}... is hashlib's")
        for k, v in expect.items():
            c.check(rep.get(k) == v, f"{name}: probe reports {k}={rep.get(k)!r}, expected {v!r}")
        c.check(rep.get("random_weights"), f"{name}: random_weights reported")


def min_cos(a, b):
    return float(((a * b).sum(1) / (np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1))).min())


def check_bf16_method(c, name, model, modality, tmp):
    """CPU bf16 through the export's bf16 method: near fp32, Python's bf16 method, auto = fp32."""
    sys.path.insert(0, os.path.join(SRC, "tools"))
    import lssd_export
    import lssd_mvit
    x = common.inputs(modality, 3, seed=13)
    xin = os.path.join(tmp, f"{name}_bf16_in.npy")
    np.save(xin, x.numpy())
    out = {}
    for prec in ("fp32", "auto", "bf16"):
        path = os.path.join(tmp, f"{name}_{prec}.npy")
        run([PROBE, model, xin, path, "--device", "cpu", "--precision", prec, "--threads", str(THREADS),
             "--batch-split", "1"])
        out[prec] = np.load(path)
    m = torch.jit.load(model)
    lssd_mvit.prepare_bf16(m)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # as each lane of the probe: one input per forward on one thread
    with torch.no_grad(), torch.jit.optimized_execution(False):
        py16 = np.concatenate([getattr(m, lssd_export.BF16_METHOD)(x[i:i + 1]).numpy() for i in range(len(x))])
    torch.set_num_threads(threads)
    cos, d_py = min_cos(out["bf16"], out["fp32"]), float(np.abs(out["bf16"] - py16).max())
    print(f"{name} bf16: max abs diff vs fp32 {float(np.abs(out['bf16'] - out['fp32']).max()):.3g}")
    c.check(cos >= 0.999, f"{name} bf16: lowest cosine vs fp32 {cos:.6f} >= 0.999")
    c.check(d_py <= TOL, f"{name} bf16: max abs diff vs Python's bf16 method {d_py:.3g} <= {TOL}")
    c.check(not np.array_equal(out["bf16"], out["fp32"]),
            f"{name} bf16: output differs from fp32 (the bf16 method ran)")
    c.check(np.array_equal(out["auto"], out["fp32"]), f"{name}: RUNTIME.PRECISION auto on CPU is bit-identical to fp32")


def check_bf16(c, model, tmp):
    """CPU bf16 autocast of an export without the bf16 method (tiny audio, reference kernels):
    close to fp32, and to Python's torch.autocast("cpu")."""
    x = common.inputs("audio", 3, seed=11)
    xin, out = os.path.join(tmp, "bf16_in.npy"), os.path.join(tmp, "bf16_out.npy")
    np.save(xin, x.numpy())
    m = torch.jit.load(model)
    with torch.no_grad():
        ref = m(x).numpy()
        with torch.autocast("cpu", dtype=torch.bfloat16):
            ref16 = m(x).float().numpy()
    run([PROBE, model, xin, out, "--device", "cpu", "--precision", "bf16", "--threads", str(THREADS)])
    y = np.load(out)

    cos = min_cos
    print(f"tiny audio (reference kernels) bf16 autocast: min cosine vs fp32 {cos(y, ref):.6f}, "
          f"vs Python autocast {cos(y, ref16):.6f}, "
          f"max abs diff vs Python autocast {float(np.abs(y - ref16).max()):.3g}")
    c.check(cos(y, ref) >= 0.999, f"bf16: min cosine vs fp32 {cos(y, ref):.6f} >= 0.999")
    c.check(cos(y, ref16) >= 0.9999, f"bf16: min cosine vs Python autocast {cos(y, ref16):.6f} >= 0.9999")
    c.check(float(np.abs(y - ref).max()) != 0.0, "bf16: output differs from fp32 (autocast had an effect)")


def main():
    if not os.path.exists(PROBE):
        raise SystemExit(f"FAIL: {PROBE} not built")
    torch.set_num_threads(THREADS)
    c = common.Checker("test_encoder_cpp_oracle")
    with tempfile.TemporaryDirectory(prefix="lssd_enc_oracle_") as tmp:
        make_models(tmp)
        check(c, "tiny video", os.path.join(tmp, "tiny/video.pt"), "video", 3, tmp,
              {"modality": "video", "variant": "tiny"})
        check(c, "tiny audio", os.path.join(tmp, "tiny/audio.pt"), "audio", 3, tmp,
              {"modality": "audio", "variant": "tiny"})
        check_bf16_method(c, "tiny video", os.path.join(tmp, "tiny/video.pt"), "video", tmp)
        check_bf16_method(c, "tiny audio", os.path.join(tmp, "tiny/audio.pt"), "audio", tmp)
        check_bf16(c, os.path.join(tmp, "tiny_ref/audio.pt"), tmp)
        check(c, "S video", os.path.join(tmp, "s/video.pt"), "video", 2, tmp,
              {"modality": "video", "size": "S", "variant": "full"})
    return c.finish()


if __name__ == "__main__":
    sys.exit(main())
