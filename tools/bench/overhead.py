#!/usr/bin/python3
"""Per-input overhead: lssd-infer over many small WAV files (tools/bench/gen_small_wavs.py: 3.2 s at
8 kHz, one clip each, in nested folders, 1 % broken), files vs shards layout, the tiny towers.

    tools/bench/overhead.py [--count 20000] [--layouts files,shards] [--rounds 1] [--build build]
                            [--model-dir BUILD/test-models/tiny] [--cache DIR] [--json FILE]
                            [KEY VALUE ...]

The encoder runs on one thread (RUNTIME.NUM_THREADS 1, RUNTIME.CPU_LANES 1), so that its forwards
run on the thread that calls them and lssd-infer's summary ("CPU of their calling threads") gives
their whole CPU time. For each layout (rounds interleaved): wall time, process CPU time (user +
sys of lssd-infer, wait4), peak RSS, the forwards' CPU, and per input: inputs/s and the CPU time
outside the forwards (process CPU - forwards' CPU) / inputs; the inputs written and failed (every
broken file must be recorded as failed); the files on disk under OUTPUT_DIR per 1,000 inputs.
The corpus is made once under --cache (default $LSSD_BENCH_CACHE or /tmp/lssd-bench)/small-wavs-N;
each run writes into a fresh OUTPUT_DIR there, removed afterwards. The 1-minute load average is
printed with each row (the development machine is shared). Trailing KEY VALUE pairs go to
lssd-infer (e.g. LOG.PROGRESS_INTERVAL_S 0)."""
import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import time

from proc_timing import loadavg, timed  # tools/bench/, this script's folder

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.abspath(os.path.join(HERE, "..", ".."))


def corpus(args):
    d = os.path.join(args.cache, f"small-wavs-{args.count}")
    if not os.path.exists(os.path.join(d, ".complete")):
        shutil.rmtree(d, ignore_errors=True)
        subprocess.run([sys.executable, os.path.join(HERE, "gen_small_wavs.py"), d, "--count", str(args.count)],
                       check=True)
        open(os.path.join(d, ".complete"), "w").close()
    return d


def files_under(d):
    return sum(len(fs) for _dp, _dn, fs in os.walk(d))


def one_run(args, data, layout, extra):
    out = os.path.join(args.cache, f"overhead-out-{layout}")
    shutil.rmtree(out, ignore_errors=True)
    cmd = [os.path.join(args.build, "lssd-infer"), "DATA.PATH_TO_DATA_DIR", data, "OUTPUT_DIR", out,
           "MODEL.VIDEO_ENCODER_FILE", os.path.join(args.model_dir, "video.pt"),
           "MODEL.AUDIO_ENCODER_FILE", os.path.join(args.model_dir, "audio.pt"),
           "DATA.USE_VIDEO", "False", "RUNTIME.DEVICE", "cpu", "RUNTIME.NUM_THREADS", "1", "RUNTIME.CPU_LANES", "1",
           "OUTPUT.LAYOUT", layout, *extra]
    load = loadavg()
    rc, _, err, wall, user, sys_s, rss = timed(cmd)
    done = re.search(r"\] done: (\d+) outputs = (\d+) written.*?(?:\+ (\d+) failed)?;", err)
    fwd = re.search(r"time: encoder forwards ([\d.]+) s .*CPU of their calling threads ([\d.]+) s", err)
    if rc not in (0, 3) or not done or not fwd:
        sys.exit(f"lssd-infer {layout}: exit {rc}\n{err[-3000:]}")
    inputs = int(done.group(1))
    row = {"layout": layout, "rc": rc, "load": load, "inputs": inputs, "written": int(done.group(2)),
           "failed": int(done.group(3) or 0), "wall_s": wall, "user_s": user, "sys_s": sys_s, "cpu_s": user + sys_s,
           "peak_rss_mb": rss, "forward_wall_s": float(fwd.group(1)), "forward_cpu_s": float(fwd.group(2)),
           "files_on_disk": files_under(out)}
    row["inputs_per_s"] = inputs / wall
    row["outside_ms_per_input"] = 1000 * (row["cpu_s"] - row["forward_cpu_s"]) / inputs
    row["files_per_1000_inputs"] = 1000 * row["files_on_disk"] / inputs
    shutil.rmtree(out, ignore_errors=True)
    return row


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--count", type=int, default=20000)
    ap.add_argument("--layouts", default="files,shards")
    ap.add_argument("--rounds", type=int, default=1)
    ap.add_argument("--build", default=os.path.join(ROOT, "build"))
    ap.add_argument("--model-dir", default=None)
    ap.add_argument("--cache", default=os.environ.get("LSSD_BENCH_CACHE", "/tmp/lssd-bench"))
    ap.add_argument("--json", default=None)
    args, extra = ap.parse_known_args()
    args.model_dir = args.model_dir or os.path.join(args.build, "test-models", "tiny")
    os.makedirs(args.cache, exist_ok=True)
    data = corpus(args)
    rows = []
    for r in range(args.rounds):
        for layout in args.layouts.split(","):
            row = one_run(args, data, layout, extra)
            row["round"] = r
            rows.append(row)
            print(json.dumps(row), file=sys.stderr, flush=True)
    print("| layout | inputs | written | failed | inputs/s | CPU s (user+sys) | forwards' CPU s | "
          "outside the forwards ms/input | files per 1,000 inputs | peak RSS MB | load |")
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    for x in rows:
        print(f"| {x['layout']} | {x['inputs']:,} | {x['written']:,} | {x['failed']} | {x['inputs_per_s']:.1f} | "
              f"{x['cpu_s']:.1f} ({x['user_s']:.1f}+{x['sys_s']:.1f}) | {x['forward_cpu_s']:.1f} | "
              f"{x['outside_ms_per_input']:.2f} | {x['files_per_1000_inputs']:.1f} | {x['peak_rss_mb']:.0f} | "
              f"{x['load']:.1f} |")
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"count": args.count, "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()), "rows": rows},
                      f, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
