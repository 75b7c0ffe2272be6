#!/usr/bin/python3
"""The report benchmark: size and build time of `lssd-read report` over a synthetic output
directory of N inputs (default 100,000), and how long headless Chromium takes to open the page.

    tools/bench/report_bench.py [--n 100000] [--dim 32] [--modes no-dedup,approx,exact]
                                [--build build] [--cache DIR] [--json FILE] [--no-browser]

The fixture is written once per (N, dim) by build/lssd-report-synth (tools/bench/report_synth.cc:
the project's npy and manifest writers; four shard parts; 55 % video, 42 % audio, 3 % containers
with 2-3 audio tracks, 1 % near copies, 0.5 % failed, 0.5 % too short) under
--cache (default $LSSD_BENCH_CACHE or /tmp/lssd-bench)/report/. No input file exists, so the
pages have no thumbnails (each says so). Modes: `no-dedup` (--no-dedup: run summary, tracks,
projection), `approx` (duplicates with the IVF index, built afresh each run: --approx
--index-dir in a new directory), `exact` (duplicates by exact search: every clip against every
clip; minutes at this size). Each report runs as its own process: wall time, CPU time (user +
sys, wait4) and peak RSS; then the page's size and, with Chromium, its opening: the process's
wall time for --dump-dom and the page's own load time (performance.now() at the load event,
which the page writes into <body data-load-ms>). The 1-minute load average is printed around
each step (the development machine is shared). Prints one markdown row per mode."""
import argparse
import json
import os
import re
import shutil
import sys
import tempfile

from proc_timing import loadavg, timed  # tools/bench/, this script's folder

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.abspath(os.path.join(HERE, "..", ".."))
CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync",
                  "--disable-dev-shm-usage", "--hide-scrollbars"]
MODES = {"no-dedup": ["--no-dedup"], "approx": ["--approx"], "exact": []}


def fixture(args):
    d = os.path.join(args.cache, "report", f"synth-{args.n}-d{args.dim}")
    if os.path.exists(os.path.join(d, ".complete")):
        return d
    if os.path.exists(d):
        shutil.rmtree(d)
    rc, out, err, wall, user, sys_s, _ = timed([os.path.join(args.build, "lssd-report-synth"), d, "--n", str(args.n),
                                                 "--dim", str(args.dim)])
    if rc != 0:
        sys.exit(f"lssd-report-synth failed ({rc}): {err}")
    print(f"[report-bench] {out.strip()} ({wall:.1f} s)", file=sys.stderr, flush=True)
    open(os.path.join(d, ".complete"), "w").close()
    return d


def open_in_chromium(page, tmp):
    chromium = shutil.which("chromium")
    if not chromium:
        return None
    profile = tempfile.mkdtemp(prefix="profile-", dir=tmp)
    rc, dom, _, wall, user, sys_s, rss = timed([chromium, *CHROMIUM_FLAGS, f"--user-data-dir={profile}", "--dump-dom",
                                                 "file://" + os.path.abspath(page)])
    body = re.search(r"<body[^>]*>", dom)
    attrs = dict(re.findall(r'([\w-]+)="([^"]*)"', body.group(0))) if body else {}
    return {"exit": rc, "wall_s": wall, "cpu_s": user + sys_s, "rendered": attrs.get("data-rendered"),
            "load_ms": int(attrs["data-load-ms"]) if "data-load-ms" in attrs else None}


def run_mode(args, out_dir, mode, tmp):
    page = os.path.join(tmp, f"report-{mode}.html")
    extra = list(MODES[mode])
    if mode == "approx":
        extra += ["--index-dir", tempfile.mkdtemp(prefix="index-", dir=tmp)]
    l0 = loadavg()
    cmd = [os.path.join(args.build, "lssd-read"), "report", out_dir, "-o", page, *extra]
    rc, _, err, wall, user, sys_s, rss = timed(cmd, env=dict(os.environ, OMP_WAIT_POLICY="PASSIVE"))
    l1 = loadavg()
    if rc != 0:
        sys.exit(f"lssd-read report ({mode}) failed ({rc}): {err}")
    print(f"[report-bench] {mode}: {err.strip().splitlines()[-1]}", file=sys.stderr, flush=True)
    r = {"mode": mode, "wall_s": wall, "cpu_s": user + sys_s, "peak_rss_mb": rss, "bytes": os.path.getsize(page),
         "load": [l0, l1], "summary": err.strip().splitlines()[-1]}
    if not args.no_browser:
        r["chromium"] = open_in_chromium(page, tmp)
    return r


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, default=100000)
    ap.add_argument("--dim", type=int, default=32)
    ap.add_argument("--modes", default="no-dedup,approx")
    ap.add_argument("--build", default=os.path.join(ROOT, "build"))
    ap.add_argument("--cache", default=os.environ.get("LSSD_BENCH_CACHE", "/tmp/lssd-bench"))
    ap.add_argument("--json", default="")
    ap.add_argument("--no-browser", action="store_true")
    args = ap.parse_args()
    modes = [m for m in args.modes.split(",") if m]
    for m in modes:
        if m not in MODES:
            sys.exit(f"unknown mode {m} (no-dedup, approx, exact)")
    out_dir = fixture(args)
    results = []
    with tempfile.TemporaryDirectory(prefix="lssd-report-bench-") as tmp:
        for m in modes:
            results.append(run_mode(args, out_dir, m, tmp))
    print(f"| inputs | dims | mode | report s (wall) | CPU s | peak RSS MB | page MB | Chromium opens it: s (process) "
          f"/ load ms (page) | load avg |\n|---|---|---|---|---|---|---|---|---|")
    for r in results:
        c = r.get("chromium")
        opened = (f"{c['wall_s']:.1f} / {c['load_ms']} ({c['rendered']})" if c else "-")
        print(f"| {args.n:,} | {args.dim} | {r['mode']} | {r['wall_s']:.1f} | {r['cpu_s']:.1f} | {r['peak_rss_mb']:.0f} | "
              f"{r['bytes'] / 1e6:.2f} | {opened} | {r['load'][0]:.1f}-{r['load'][1]:.1f} |")
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"n": args.n, "dim": args.dim, "fixture": out_dir, "results": results}, f, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
