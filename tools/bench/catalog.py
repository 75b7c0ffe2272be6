#!/usr/bin/python3
"""The bookkeeping benchmark: what lssd-infer does before (and instead of) embedding anything, over
a catalogue of N inputs (default 1,000,000) that an earlier run computed completely.

    tools/bench/catalog.py [--n 1000000] [--layouts files,shards] [--writers 16]
                           [--caches warm,cold] [--discovery walk,list] [--infer]
                           [--build build] [--audio-model PATH] [--cache DIR] [--keep] [--json FILE]

build/lssd-catalog-bench (tools/bench/catalog_bench.cc) makes the catalogue under --cache (default
$LSSD_BENCH_CACHE or /tmp/lssd-bench)/catalog-N/: N empty sparse input files in folders of 1,000
(shared by both layouts) and, per layout, the output folder an lssd-infer run over them would have
left: M drawn from 1-40 clips, 1 % failed on content, manifests of --writers writers (1,000
consecutive inputs each in turn), written by the project's writer code with fsync off (data left
as holes: sparse files). Then, for each layout, discovery (tree walk or DATA.PATH_TO_FILE_LIST)
and page cache (cold first, then warm: measured right after the cold pass; cold: /proc/sys/vm/drop_caches where
permitted (root), else every file's pages dropped with posix_fadvise(DONTNEED), which leaves
directory entries and inodes cached; the output says which), one process measures discovery,
planning, the resume check (every manifest read, every output validated) and the start-up sweep
with the functions lssd-infer calls: wall and CPU seconds and peak RSS per phase. --infer also
times lssd-infer itself rerun over the catalogue (the tiny audio tower, nothing left to compute):
its wall and CPU time and peak RSS. The 1-minute load average is printed with each row (the
development machine is shared). The catalogue is removed at the end unless --keep."""
import argparse
import json
import os
import shutil
import subprocess
import sys
import time

from proc_timing import loadavg, timed  # tools/bench/, this script's folder

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.abspath(os.path.join(HERE, "..", ".."))


def drop_cache(bench, d):
    """Empties the page cache of d: drop_caches where permitted, else posix_fadvise per file."""
    try:
        subprocess.run(["sync"], check=False)
        with open("/proc/sys/vm/drop_caches", "w") as f:
            f.write("3\n")
        return "drop_caches"
    except OSError:
        r = subprocess.run([bench, "evict", d], capture_output=True, text=True)
        if r.returncode != 0:
            sys.exit(f"evict failed: {r.stderr}")
        return "fadvise (drop_caches not permitted: not root)"


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, default=1_000_000)
    ap.add_argument("--layouts", default="files,shards")
    ap.add_argument("--writers", type=int, default=16)
    ap.add_argument("--caches", default="warm,cold")
    ap.add_argument("--discovery", default="walk,list")
    ap.add_argument("--infer", action="store_true", help="also time lssd-infer rerun over the catalogue")
    ap.add_argument("--build", default=os.path.join(ROOT, "build"))
    ap.add_argument("--audio-model", default=None, help="default: BUILD/test-models/tiny/audio.pt")
    ap.add_argument("--cache", default=os.environ.get("LSSD_BENCH_CACHE", "/tmp/lssd-bench"))
    ap.add_argument("--keep", action="store_true")
    ap.add_argument("--json", default=None)
    args = ap.parse_args()
    bench = os.path.join(args.build, "lssd-catalog-bench")
    infer = os.path.join(args.build, "lssd-infer")
    model = args.audio_model or os.path.join(args.build, "test-models", "tiny", "audio.pt")
    for p in (bench, model):
        if not os.path.exists(p):
            sys.exit(f"missing {p} (build lssd-catalog-bench; the tiny model comes from any e2e test)")
    d = os.path.join(args.cache, f"catalog-{args.n}")
    os.makedirs(d, exist_ok=True)
    st = os.statvfs(d)
    print(f"catalogue in {d}: {st.f_bavail * st.f_frsize / 2**30:.1f} GiB and {st.f_favail:,} inodes free",
          file=sys.stderr)
    results = {"n": args.n, "writers": args.writers, "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
               "made": [], "rows": []}
    try:
        for layout in args.layouts.split(","):
            t = time.time()
            rc, out, err, wall, user, sys_s, rss = timed([bench, "make", d, "--inputs", str(args.n), "--layout", layout,
                                                           "--writers", str(args.writers), "--audio-model", model,
                                                           "--out", "out-" + layout])
            if rc != 0:
                sys.exit(f"make {layout} failed ({rc}): {err[-2000:]}")
            made = json.loads(out)
            made.update(wall_s=wall, cpu_s=user + sys_s)
            results["made"].append(made)
            print(f"made {layout}: {made} in {time.time() - t:.0f} s", file=sys.stderr, flush=True)
            for disc in args.discovery.split(","):
                caches = args.caches.split(",")
                for k, cache in enumerate(sorted(caches)):  # cold first: it warms the cache for warm
                    cmd = [bench, "measure", d, "--audio-model", model, "--out", "out-" + layout]
                    if disc == "list":
                        cmd.append("--list")
                    if cache == "cold":
                        how = drop_cache(bench, d)
                    elif k > 0:
                        how = "right after the cold pass"
                    else:
                        timed(cmd)  # a first pass warms the cache
                        how = "after a first pass"
                    load = loadavg()
                    rc, out, err, wall, user, sys_s, rss = timed(cmd)
                    if rc != 0:
                        sys.exit(f"measure {layout} {disc} {cache} failed ({rc}): {out[-2000:]} {err[-2000:]}")
                    m = json.loads(out)
                    m.update(layout=layout, cache=cache, cache_how=how, load=load, process_rss_mb=rss)
                    results["rows"].append(m)
                    print(json.dumps(m), file=sys.stderr, flush=True)
            if args.infer:
                for cache in sorted(args.caches.split(",")):
                    out_dir = os.path.join(d, "out-" + layout)
                    cmd = [infer, "DATA.PATH_TO_DATA_DIR", os.path.join(d, "in"), "OUTPUT_DIR", out_dir,
                           "MODEL.AUDIO_ENCODER_FILE", model, "DATA.USE_VIDEO", "False", "RUNTIME.DEVICE", "cpu",
                           "OUTPUT.LAYOUT", layout]
                    how = drop_cache(bench, d) if cache == "cold" else "right after the measures"
                    load = loadavg()
                    rc, out, err, wall, user, sys_s, rss = timed(cmd)
                    done = [line for line in err.splitlines() if "done:" in line]
                    row = {"layout": layout, "cache": cache, "cache_how": how, "load": load, "infer": True,
                           "rc": rc, "wall_s": wall, "cpu_s": user + sys_s, "peak_rss_mb": rss,
                           "summary": done[-1] if done else err[-500:]}
                    results["rows"].append(row)
                    print(json.dumps(row), file=sys.stderr, flush=True)
    finally:
        if not args.keep:
            shutil.rmtree(d, ignore_errors=True)
    print(f"| layout | discovery | cache | phase | wall s | CPU s | peak RSS MB | load |")
    print("|---|---|---|---|---|---|---|---|")
    for r in results["rows"]:
        if r.get("infer"):
            print(f"| {r['layout']} | walk | {r['cache']} | lssd-infer rerun (rc {r['rc']}) | {r['wall_s']:.1f} | "
                  f"{r['cpu_s']:.1f} | {r['peak_rss_mb']:.0f} | {r['load']:.1f} |")
            continue
        for p in r["phases"]:
            print(f"| {r['layout']} | {r['discovery']} | {r['cache']} | {p['phase']} | {p['wall_s']:.2f} | "
                  f"{p['cpu_s']:.2f} | {p['peak_rss_mb']:.0f} | {r['load']:.1f} |")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(results, f, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
