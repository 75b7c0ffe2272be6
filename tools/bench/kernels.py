#!/usr/bin/python3
"""Reference vs fast kernels of the exported towers (tools/lssd_mvit.py, lssd_export.py --kernels,
--fast-gemm): three formulations, "reference", "fast/blas" and "fast/onednn"; with --bf16 also
three bf16 ones: "reference@autocast" (a --kernels reference export under CPU bf16 autocast),
"fast/blas@autocast" (a fast export without the bf16 method under autocast: what
RUNTIME.PRECISION bf16 ran before the bf16 method) and "fast@bf16" (the bf16 method,
lssd_mvit.LSSDTower.forward_bf16: what RUNTIME.PRECISION bf16 runs on CPU now).

  tools/bench/kernels.py [--towers video,audio] [--size S] [--overlap false|true|both]
                         [--threads 1] [--rounds 7] [--batch 1] [--bf16] [--forms A,B,...]
                         [--profile] [--profile-runs 3] [--top 15] [--cpp [BUILD]] [--cpp-crops 5]
                         [--json PATH]
  tools/bench/kernels.py --ops [--towers ...] [--size S] [--overlap ...] [--ops-runs 5]

For every tower: seeded-random weights (lssd_checkpoint, seed 0), traced as the exporter traces
(batch 2, eval) once per formulation, then `--rounds` interleaved rounds of one forward each at
`--batch` (per crop: batch 1), the order rotating every round, after two warm-up forwards each,
graph optimisation off (lssd-infer's default executor). Reports medians of wall and thread CPU time per forward (CPU time is
the better figure on a shared machine: it leaves out the time this thread waited for a core), the
ratios reference/fast (with --bf16 also fast fp32/bf16), the max abs diff and the lowest cosine
of each output against the reference, OpenBLAS's
kernel family (openblas_get_corename: "Prescott" means generic kernels for a CPU it does not
know; OPENBLAS_CORETYPE overrides it) and the 1-minute load average before and after. --profile adds torch.profiler tables (--profile-runs more forwards each, every op's
minimum self CPU time over them): the top ops, reference and fast side by side.
--cpp [BUILD] (default build/) also saves the modules as the exporter does (metadata embedded)
and times them in the C++ encoder (BUILD/tests/lssd_encoder_probe, lssd-infer's CPU path:
--batch-split 1, one lane per thread) on --cpp-crops inputs per call, interleaved rounds,
process CPU and wall time per input.

--ops times each op that a fast kernel replaces (linear, depthwise Conv3d pooling, MaxPool3d
skip pooling), per distinct shape of one batch-1 forward, reference op vs fast kernel on
token-major inputs (as in the towers; the reference's transposes included): the evidence for
choosing a formulation per shape.

Threads: --threads sets torch's intra-op threads and, before torch is imported, OpenBLAS's and
OpenMP's (OPENBLAS_NUM_THREADS, OMP_NUM_THREADS), so "--threads 1" is one thread in every library,
as one lssd-infer CPU lane runs.
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile


def _early_threads(argv):
    """--threads must reach OpenBLAS before torch loads it."""
    for i, a in enumerate(argv):
        if a == "--threads" and i + 1 < len(argv):
            return argv[i + 1]
        if a.startswith("--threads="):
            return a.split("=", 1)[1]
    return "1"


_T = _early_threads(sys.argv[1:])
os.environ["OPENBLAS_NUM_THREADS"] = _T
os.environ["OMP_NUM_THREADS"] = _T
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import time  # noqa: E402

import torch  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(ROOT, "tools"))
import lssd_checkpoint as ck  # noqa: E402
import lssd_export  # noqa: E402
import lssd_mvit  # noqa: E402


def load1() -> float:
    return os.getloadavg()[0]


def timed(fn, x):
    w0, c0 = time.perf_counter(), time.thread_time()
    y = fn(x)
    return y, time.perf_counter() - w0, time.thread_time() - c0


def profile_table(fn, x, runs: int):
    """{op: (self CPU ms, calls)} of one forward: the profiler's times are wall clock per op, so
    each op's figure is its minimum over `runs` profiled forwards (robust to a busy machine)."""
    from torch.profiler import ProfilerActivity, profile
    rows = {}
    for _ in range(runs):
        with profile(activities=[ProfilerActivity.CPU]) as p:
            fn(x)
        for e in p.key_averages():
            ms = e.self_cpu_time_total / 1e3
            rows[e.key] = (min(ms, rows[e.key][0]), e.count) if e.key in rows else (ms, e.count)
    total = sum(v[0] for v in rows.values())
    return rows, total


# Formulations timed: label -> (kernels, gemm, precision). precision: "fp32" (forward),
# "autocast" (forward under CPU bf16 autocast, from a module without the bf16 method), "bf16" (the
# bf16 method).
FORMS = {"reference": ("reference", "blas", "fp32"), "fast/blas": ("fast", "blas", "fp32"),
         "fast/onednn": ("fast", "onednn", "fp32")}
BF16_FORMS = {"reference@autocast": ("reference", "blas", "autocast"),
              "fast/blas@autocast": ("fast", "blas", "autocast"),
              "fast/onednn@autocast": ("fast", "onednn", "autocast"), "fast@bf16": ("fast", "blas", "bf16")}


def rotate(names, r: int):
    """Round r's order of the formulations (rotating, so no formulation always runs first)."""
    names = list(names)
    k = r % len(names)
    return names[k:] + names[:k]


def trace_form(eager, modality: str, form) -> torch.jit.ScriptModule:
    """The module a formulation runs: as the exporter traces it, except that "@autocast" forms are
    traced without the bf16 method (so that the C++ encoder autocasts them)."""
    kernels, gemm, precision = form
    eager.set_kernels(kernels, gemm)
    if precision == "autocast":
        with torch.no_grad():
            return torch.jit.trace(eager, lssd_export.example_input(modality, lssd_export.TRACE_BATCH),
                                   check_trace=False)
    return lssd_export.trace(eager, modality)


def runner(module, precision: str):
    """One forward of a formulation in Python, as lssd-infer runs it: graph optimisation off,
    except under autocast (where the JIT autocast pass does the casts, as in src/encoder/encoder.cc)."""
    if precision == "bf16":
        lssd_mvit.prepare_bf16(module)
        method = getattr(module, lssd_export.BF16_METHOD)

        def run(x):
            with torch.jit.optimized_execution(False):
                return method(x)
    elif precision == "autocast":
        def run(x):
            with torch.autocast("cpu", dtype=torch.bfloat16), torch.jit.optimized_execution(True):
                return module(x).float()
    else:
        def run(x):
            with torch.jit.optimized_execution(False):
                return module(x)
    return run


def bench_tower(modality: str, size: str, overlap: bool, args) -> dict:
    sd = ck.random_tower_state_dict(modality, size, overlap, 0)
    eager = ck.load_tower(sd, modality, size, overlap)
    forms = args.forms
    traced = {name: trace_form(eager, modality, f) for name, f in forms.items()}
    run = {name: runner(traced[name], f[2]) for name, f in forms.items()}
    eager.set_kernels("reference")
    x = lssd_export.example_input(modality, args.batch, seed=5)
    out = {}
    with torch.no_grad():
        for k in forms:
            for _ in range(3):  # the profiling executor (autocast forms) optimises on the third run
                out[k] = run[k](x)
        with torch.jit.optimized_execution(False):
            y_ref = out["reference"] if "reference" in out else traced_reference(eager, modality)(x)
        diffs = {k: float((out[k] - y_ref).abs().max()) for k in forms if k != "reference"}
        cosines = {k: lssd_export.min_cosine(y_ref, out[k]) for k in forms if k != "reference"}
        wall = {k: [] for k in forms}
        cpu = {k: [] for k in forms}
        loads = [load1()]
        for r in range(args.rounds):
            for k in rotate(forms, r):
                _, w, c = timed(run[k], x)
                wall[k].append(w)
                cpu[k].append(c)
            loads.append(load1())
        res = {
            "tower": f"{size}{'_overlap' if overlap else ''} {modality}", "batch": args.batch,
            "threads": torch.get_num_threads(), "rounds": args.rounds, "forms": list(forms),
            "max_abs_diff": diffs, "min_cos": cosines, "load1_min": min(loads), "load1_max": max(loads),
            "wall_s": wall, "cpu_s": cpu, "blas_core": blas_core(), "cpu_bf16": cpu_bf16_flags(),
        }
        for what, d in (("wall", wall), ("cpu", cpu)):
            res[f"{what}_median_s"] = {k: statistics.median(v) for k, v in d.items()}
        if args.cpp:
            res["cpp"] = bench_cpp(modality, traced, eager, args)
        if args.profile:
            res["profile"] = {}
            res["profile_runs"] = args.profile_runs
            for k in forms:
                rows, total = profile_table(run[k], x, args.profile_runs)
                res["profile"][k] = {"total_ms": total, "ops": rows}
    return res


def traced_reference(eager, modality: str):
    """The reference formulation's forward (for diffs when it is not among the timed forms)."""
    return runner(trace_form(eager, modality, FORMS["reference"]), "fp32")


def cpu_bf16_flags() -> str:
    """This CPU's native bf16 flags from /proc/cpuinfo ("none" if none)."""
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("flags"):
                    got = [w for w in line.split() if w in ("avx512_bf16", "amx_bf16")]
                    return ", ".join(got) or "none"
    except OSError:
        pass
    return "unknown"


def blas_core():
    """OpenBLAS's kernel family (openblas_get_corename), or None."""
    import ctypes
    try:
        lib = ctypes.CDLL("libopenblas.so.0")
        lib.openblas_get_corename.restype = ctypes.c_char_p
        return lib.openblas_get_corename().decode()
    except (OSError, AttributeError):
        return None


def bench_cpp(modality: str, traced: dict, eager, args) -> dict:
    """The formulations in the C++ encoder (lssd_encoder_probe), interleaved rounds."""
    import numpy as np
    probe = os.path.join(args.cpp, "tests", "lssd_encoder_probe")
    forms = args.forms
    per = {k: {"cpu": [], "wall": []} for k in forms}
    with tempfile.TemporaryDirectory(prefix="lssd_kernels_") as tmp:
        paths = {}
        for k, mod in traced.items():
            kernels, gemm, _ = forms[k]
            meta = lssd_export.make_meta(eager.set_kernels(kernels, gemm), {}, "none")
            paths[k] = os.path.join(tmp, f"{modality}_{k.replace('/', '_').replace('@', '_')}.pt")
            lssd_export.save(mod, paths[k], meta)
        eager.set_kernels("reference")
        xin = os.path.join(tmp, "in.npy")
        np.save(xin, lssd_export.example_input(modality, args.cpp_crops, seed=9).numpy())
        loads = [load1()]
        for r in range(args.rounds):
            for k in rotate(forms, r):
                prec = "fp32" if forms[k][2] == "fp32" else "bf16"
                out = subprocess.run([probe, paths[k], xin, os.path.join(tmp, "out.npy"), "--device", "cpu",
                                      "--precision", prec, "--threads", str(args.threads), "--batch-split", "1",
                                      "--warmup", "1"], capture_output=True, text=True, check=True).stdout
                rep = json.loads(out.strip().splitlines()[-1])
                per[k]["cpu"].append(rep["forward_cpu_s"][0] / args.cpp_crops)
                per[k]["wall"].append(rep["forward_s"][0] / args.cpp_crops)
            loads.append(load1())
    med = {k: {w: statistics.median(v[w]) for w in ("cpu", "wall")} for k, v in per.items()}
    return {"crops_per_call": args.cpp_crops, "per_input_s": per, "median_s": med,
            "load1_min": min(loads), "load1_max": max(loads)}


def print_result(r: dict, top: int) -> None:
    per = f"per {'crop' if r['batch'] == 1 else 'forward of ' + str(r['batch'])}"
    print(f"\n## {r['tower']}: {per}, {r['threads']} thread(s), {r['rounds']} interleaved rounds, "
          f"load1 {r['load1_min']:.2f}-{r['load1_max']:.2f}, OpenBLAS core {r.get('blas_core')}, "
          f"CPU bf16 {r.get('cpu_bf16')}")
    names = r["forms"]
    # Speedups: the reference over each other form; each fp32 fast form over the bf16 method.
    ratios = [("reference", n) for n in names if n != "reference" and "reference" in names]
    ratios += [(n, "fast@bf16") for n in names if n.startswith("fast/") and "@" not in n and "fast@bf16" in names]
    print("| s (median) | " + " | ".join(names) + " | " + " | ".join(f"{a} / {b}" for a, b in ratios) + " |")
    print("|---" * (1 + len(names) + len(ratios)) + "|")
    rows = [(f"Python {w}", r[f"{w}_median_s"]) for w in ("cpu", "wall")]
    if "cpp" in r:
        rows += [(f"C++ encoder {w}", {k: v[w] for k, v in r["cpp"]["median_s"].items()}) for w in ("cpu", "wall")]
    for label, m in rows:
        print(f"| {label} | " + " | ".join(f"{m[n]:.3f}" for n in names) + " | "
              + " | ".join(f"{m[a] / m[b]:.2f}x" for a, b in ratios) + " |")
    print("vs reference: max abs diff " + ", ".join(f"{k} {v:.2e}" for k, v in r["max_abs_diff"].items())
          + "; lowest cosine " + ", ".join(f"{k} {v:.6f}" for k, v in r["min_cos"].items()))
    if "cpp" in r:
        c = r["cpp"]
        print(f"C++ encoder: lssd_encoder_probe, {c['crops_per_call']} inputs per call, --batch-split 1, "
              f"load1 {c['load1_min']:.2f}-{c['load1_max']:.2f}; rounds cpu s per input: "
              + "; ".join(f"{n} " + " ".join(f"{v:.3f}" for v in c["per_input_s"][n]["cpu"]) for n in names))
    for what in ("cpu", "wall"):
        print(f"rounds Python {what} s: "
              + "; ".join(f"{n} " + " ".join(f"{v:.3f}" for v in r[f"{what}_s"][n]) for n in names))
    if "profile" in r:
        prof = r["profile"]
        keys = sorted(set().union(*(p["ops"] for p in prof.values())),
                      key=lambda k: -max(p["ops"].get(k, (0, 0))[0] for p in prof.values()))[:top]
        print(f"\nProfile (self CPU ms per forward, each op's minimum over {r['profile_runs']} profiled forwards; "
              "totals " + ", ".join(f"{n} {prof[n]['total_ms']:.0f} ms" for n in names) + ")")
        print("| op | " + " | ".join(f"{n} ms | % | calls" for n in names) + " |")
        print("|---" * (1 + 3 * len(names)) + "|")
        for k in keys:
            cells = []
            for n in names:
                ms, calls = prof[n]["ops"].get(k, (0.0, 0))
                cells.append(f"{ms:.1f} | {100 * ms / prof[n]['total_ms']:.1f} | {calls}")
            print(f"| {k} | " + " | ".join(cells) + " |")


def _cpu_median(fn, runs: int) -> float:
    fn()
    ts = []
    for _ in range(runs):
        c0 = time.thread_time()
        fn()
        ts.append(time.thread_time() - c0)
    return statistics.median(ts)


def op_shapes(modality: str, size: str, overlap: bool):
    """Distinct shapes of the ops the fast kernels replace, from one eager reference forward at
    batch 1: {(kind, shape, params): calls}."""
    import torch.nn as nn
    tower = lssd_mvit.build_tower(modality, size, overlap).eval()
    seen = {}

    def hook(mod, inp, _out):
        x = inp[0]
        if isinstance(mod, nn.Linear):
            key = ("linear", (int(x.numel() // x.shape[-1]), mod.in_features, mod.out_features), ())
        elif isinstance(mod, nn.Conv3d) and mod.groups > 1:
            key = ("dwconv3d", tuple(x.shape), (tuple(mod.stride), tuple(mod.padding)))
        elif isinstance(mod, nn.MaxPool3d):
            key = ("maxpool3d", tuple(x.shape), (tuple(mod.kernel_size), tuple(mod.stride), tuple(mod.padding)))
        else:
            return
        seen[key] = seen.get(key, 0) + 1

    hooks = [m.register_forward_hook(hook) for m in tower.modules()]
    with torch.no_grad():
        tower(lssd_export.example_input(modality, 1))
    for h in hooks:
        h.remove()
    return seen


def bench_ops(modality: str, size: str, overlap: bool, runs: int):
    """Reference op vs fast kernel per distinct shape (token-major inputs, as in the towers),
    interleaved, median thread CPU time."""
    import torch.nn.functional as F
    rows = []
    g = torch.Generator().manual_seed(0)
    with torch.no_grad():
        for (kind, shape, params), calls in sorted(op_shapes(modality, size, overlap).items()):
            if kind == "linear":
                n, k, m = shape
                x, w, b = (torch.randn(1, n, k, generator=g), torch.randn(m, k, generator=g),
                           torch.randn(m, generator=g))
                ref, fast = (lambda: F.linear(x, w, b)), (lambda: lssd_mvit.fast_linear(x, w, b))
            else:
                bh, c, t, h, wd = shape
                xt = torch.randn(bh, t * h * wd, c, generator=g)
                thw = [t, h, wd]
                if kind == "dwconv3d":
                    stride, pad = params
                    w = torch.randn(c, 1, 3 if t > 1 else 1, 3, 3, generator=g)

                    def ref():
                        y = F.conv3d(xt.reshape(-1, t, h, wd, c).permute(0, 4, 1, 2, 3).contiguous(), w, None,
                                     stride, pad, 1, c)
                        return y.flatten(2).transpose(1, 2)
                    fast = (lambda: lssd_mvit.fast_dwconv3d(xt, w, thw, list(stride), list(pad)))
                else:
                    kern, stride, pad = params

                    def ref():
                        y = F.max_pool3d(xt.reshape(-1, t, h, wd, c).permute(0, 4, 1, 2, 3), kern, stride, pad)
                        return y.flatten(2).transpose(1, 2)
                    fast = (lambda: lssd_mvit.fast_maxpool3d(xt, thw, list(kern), list(stride), list(pad)))
            d = float((ref() - fast()).abs().max())
            t_ref, t_fast = [], []
            for r in range(3):  # interleaved: ref fast fast ref ref fast
                for which in (("ref", "fast") if r % 2 == 0 else ("fast", "ref")):
                    (t_ref if which == "ref" else t_fast).append(_cpu_median(ref if which == "ref" else fast, runs))
            rows.append({"op": kind, "shape": list(shape), "params": [list(p) for p in params], "calls": calls,
                         "ref_ms": 1e3 * min(t_ref), "fast_ms": 1e3 * min(t_fast), "max_abs_diff": d})
    return rows


def print_ops(tag: str, rows) -> None:
    print(f"\n## {tag}: ops per shape (batch 1; thread CPU ms, median of runs, best of 3 interleaved rounds)")
    print("| op | shape | stride etc. | calls | ref ms | fast ms | ref/fast | max abs diff |")
    print("|---|---|---|---|---|---|---|---|")
    for r in rows:
        shape = "x".join(map(str, r["shape"]))
        print(f"| {r['op']} | {shape} | {r['params'] or ''} | {r['calls']} | {r['ref_ms']:.2f} | "
              f"{r['fast_ms']:.2f} | {r['ref_ms'] / r['fast_ms']:.1f}x | {r['max_abs_diff']:.1e} |")
    tot_r = sum(r["ref_ms"] * r["calls"] for r in rows)
    tot_f = sum(r["fast_ms"] * r["calls"] for r in rows)
    print(f"sum over the forward's calls: reference {tot_r:.0f} ms, fast {tot_f:.0f} ms")


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--towers", default="video,audio")
    ap.add_argument("--size", choices=lssd_mvit.SIZES, default="S")
    ap.add_argument("--overlap", choices=("false", "true", "both"), default="false")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--rounds", type=int, default=7)
    ap.add_argument("--batch", type=int, default=1)
    ap.add_argument("--bf16", action="store_true",
                    help="also the bf16 formulations (reference@autocast, fast/blas@autocast, fast@bf16)")
    ap.add_argument("--forms", help="comma-separated subset of the formulations to time (default: all)")
    ap.add_argument("--profile", action="store_true")
    ap.add_argument("--top", type=int, default=15)
    ap.add_argument("--profile-runs", type=int, default=3,
                    help="profiled forwards per formulation; each op's time is its minimum (default 3)")
    ap.add_argument("--cpp", nargs="?", const=os.path.join(ROOT, "build"), default=None, metavar="BUILD",
                    help="also time the formulations in the C++ encoder (BUILD/tests/lssd_encoder_probe; default build/)")
    ap.add_argument("--cpp-crops", type=int, default=5, help="inputs per C++ encoder call (default 5)")
    ap.add_argument("--ops", action="store_true",
                    help="instead: each replaced op per distinct shape, reference op vs fast kernel")
    ap.add_argument("--ops-runs", type=int, default=5, help="--ops: timed calls per round (default 5)")
    ap.add_argument("--json", help="write every measurement here")
    args = ap.parse_args(argv)
    all_forms = dict(FORMS, **(BF16_FORMS if args.bf16 or args.forms else {}))
    names = args.forms.split(",") if args.forms else list(all_forms)
    unknown = [n for n in names if n not in all_forms]
    if unknown:
        ap.error(f"unknown formulation(s) {unknown}; known: {', '.join(all_forms)}")
    args.forms = {n: all_forms[n] for n in names}
    torch.set_num_threads(args.threads)
    overlaps = {"false": (False,), "true": (True,), "both": (False, True)}[args.overlap]
    results = []
    for modality in args.towers.split(","):
        for ov in overlaps:
            if args.ops:
                rows = bench_ops(modality, args.size, ov, args.ops_runs)
                print_ops(f"{args.size}{'_overlap' if ov else ''} {modality}", rows)
                results.append({"tower": f"{args.size}{'_overlap' if ov else ''} {modality}", "ops": rows})
                continue
            r = bench_tower(modality, args.size, ov, args)
            print_result(r, args.top)
            sys.stdout.flush()
            results.append(r)
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"torch": torch.__version__, "results": results}, f, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
