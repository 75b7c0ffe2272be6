#!/usr/bin/python3
"""Reference vs fast kernels of the exported towers (tools/lssd_mvit.py, lssd_export.py --kernels).

  tools/bench/kernels.py [--towers video,audio] [--size S] [--overlap false|true|both]
                         [--threads 1] [--rounds 7] [--batch 1] [--profile] [--profile-runs 3]
                         [--top 15] [--json PATH]

For every tower: seeded-random weights (lssd_checkpoint, seed 0), traced as the exporter traces
(batch 2, eval) once per formulation, then `--rounds` interleaved rounds of one forward each at
`--batch` (per crop: batch 1), the order alternating every round (ref fast, fast ref, ...), after
two warm-up forwards each. Reports medians of wall and thread CPU time per forward (CPU time is
the better figure on a shared machine: it leaves out the time this thread waited for a core), the
ratio reference/fast, the max abs diff of the two outputs, and the 1-minute load average before
and after. --profile adds torch.profiler tables (--profile-runs more forwards each, every op's
minimum self CPU time over them): the top ops, reference and fast side by side.

Threads: --threads sets torch's intra-op threads and, before torch is imported, OpenBLAS's and
OpenMP's (OPENBLAS_NUM_THREADS, OMP_NUM_THREADS), so "--threads 1" is one thread in every library,
as one lssd-infer CPU lane runs.
"""

import argparse
import json
import os
import statistics
import sys


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


def bench_tower(modality: str, size: str, overlap: bool, args) -> dict:
    sd = ck.random_tower_state_dict(modality, size, overlap, 0)
    eager = ck.load_tower(sd, modality, size, overlap)
    traced = {k: lssd_export.trace(eager.set_kernels(k), modality) for k in lssd_mvit.KERNELS}
    eager.set_kernels("reference")
    x = lssd_export.example_input(modality, args.batch, seed=5)
    out = {}
    with torch.no_grad():
        for k in lssd_mvit.KERNELS:
            for _ in range(2):
                out[k] = traced[k](x)
        diff = float((out["fast"] - out["reference"]).abs().max())
        wall = {k: [] for k in lssd_mvit.KERNELS}
        cpu = {k: [] for k in lssd_mvit.KERNELS}
        loads = [load1()]
        for r in range(args.rounds):
            order = lssd_mvit.KERNELS if r % 2 == 0 else tuple(reversed(lssd_mvit.KERNELS))
            for k in order:
                _, w, c = timed(traced[k], x)
                wall[k].append(w)
                cpu[k].append(c)
            loads.append(load1())
        res = {
            "tower": f"{size}{'_overlap' if overlap else ''} {modality}", "batch": args.batch,
            "threads": torch.get_num_threads(), "rounds": args.rounds,
            "max_abs_diff": diff, "load1_min": min(loads), "load1_max": max(loads),
            "wall_s": wall, "cpu_s": cpu,
        }
        for what, d in (("wall", wall), ("cpu", cpu)):
            med = {k: statistics.median(v) for k, v in d.items()}
            res[f"{what}_median_s"] = med
            res[f"{what}_speedup"] = med["reference"] / med["fast"]
        if args.profile:
            res["profile"] = {}
            res["profile_runs"] = args.profile_runs
            for k in lssd_mvit.KERNELS:
                rows, total = profile_table(traced[k], x, args.profile_runs)
                res["profile"][k] = {"total_ms": total, "ops": rows}
    return res


def print_result(r: dict, top: int) -> None:
    per = f"per {'crop' if r['batch'] == 1 else 'forward of ' + str(r['batch'])}"
    print(f"\n## {r['tower']}: {per}, {r['threads']} thread(s), {r['rounds']} interleaved rounds, "
          f"load1 {r['load1_min']:.2f}-{r['load1_max']:.2f}")
    print("| | reference | fast | reference/fast |")
    print("|---|---|---|---|")
    for what in ("cpu", "wall"):
        m = r[f"{what}_median_s"]
        print(f"| {what} s (median) | {m['reference']:.3f} | {m['fast']:.3f} | {r[f'{what}_speedup']:.2f}x |")
    print(f"max abs diff fast vs reference: {r['max_abs_diff']:.2e}")
    for what in ("cpu", "wall"):
        print(f"rounds {what} s: ref " + " ".join(f"{v:.3f}" for v in r[f"{what}_s"]["reference"])
              + " | fast " + " ".join(f"{v:.3f}" for v in r[f"{what}_s"]["fast"]))
    if "profile" in r:
        ref, fast = r["profile"]["reference"], r["profile"]["fast"]
        keys = sorted(set(ref["ops"]) | set(fast["ops"]),
                      key=lambda k: -max(ref["ops"].get(k, (0, 0))[0], fast["ops"].get(k, (0, 0))[0]))[:top]
        print(f"\nProfile (self CPU ms per forward, each op's minimum over {r['profile_runs']} profiled forwards; "
              f"total ref {ref['total_ms']:.0f} ms, fast {fast['total_ms']:.0f} ms)")
        print("| op | ref ms | ref % | calls | fast ms | fast % | calls |")
        print("|---|---|---|---|---|---|---|")
        for k in keys:
            a, b = ref["ops"].get(k, (0.0, 0)), fast["ops"].get(k, (0.0, 0))
            print(f"| {k} | {a[0]:.1f} | {100 * a[0] / ref['total_ms']:.1f} | {a[1]} | "
                  f"{b[0]:.1f} | {100 * b[0] / fast['total_ms']:.1f} | {b[1]} |")


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--towers", default="video,audio")
    ap.add_argument("--size", choices=lssd_mvit.SIZES, default="S")
    ap.add_argument("--overlap", choices=("false", "true", "both"), default="false")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--rounds", type=int, default=7)
    ap.add_argument("--batch", type=int, default=1)
    ap.add_argument("--profile", action="store_true")
    ap.add_argument("--top", type=int, default=15)
    ap.add_argument("--profile-runs", type=int, default=3,
                    help="profiled forwards per formulation; each op's time is its minimum (default 3)")
    ap.add_argument("--json", help="write every measurement here")
    args = ap.parse_args(argv)
    torch.set_num_threads(args.threads)
    overlaps = {"false": (False,), "true": (True,), "both": (False, True)}[args.overlap]
    results = []
    for modality in args.towers.split(","):
        for ov in overlaps:
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
