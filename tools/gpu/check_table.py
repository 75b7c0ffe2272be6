#!/usr/bin/python3
"""The table of tools/gpu/check.sh: one row per part of the GPU corpus (1080p H.264, SD H.264,
audio), each printed and appended to OUT/table.md as soon as it is measured, so that a check cut
short still leaves its first rows.

    tools/gpu/check_table.py --build BUILD --model S_DIR --corpus CORPUS --out OUTDIR
                             [--device cuda|cpu] [--threads N] [--batch 8] [--b-repeat 3]
                             [--files-per-row K] [--rows hd,sd,audio]

Per row, with the same S towers (seeded random weights), TEST.BATCH_SIZE B:
  a  lssd-infer end to end on the row's files (RUNTIME.PRECISION auto: fp16 autocast on CUDA, as
     the release; fp32 on the CPU): windows (3 s clips) / its pipeline time (lssd-infer's own
     clock, towers' load included, process start-up not), its `devices:` and `decode workers:`
     busy shares, peak GPU memory (nvidia-smi, polled)
  b  the encoder alone (tests/lssd_encoder_probe) on B real clips of the row (tests/lssd_probe's
     tensors), one forward per batch as lssd-infer on CUDA (CPU: its micro-batches of 1), after a
     warm-up at that shape: B / the median of --b-repeat forwards
  a/b  a's windows/s over b's: the share of the model-only rate reached end to end
  cosine  lssd-infer again at RUNTIME.PRECISION fp32 (TF32 off) on the same files: the lowest
     per-window cosine between the fp16 and the fp32 embeddings (video: the worst of the 5 crops)
Without a CUDA device (the rehearsal) a and b run on the CPU and the cosine is not measured.
numpy is not needed (tools/bench/npyio.py).
"""
import argparse
import array
import json
import math
import os
import re
import shutil
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.abspath(os.path.join(HERE, "..", ".."))
sys.path.insert(0, os.path.join(ROOT, "tools", "bench"))
import npyio  # noqa: E402
import run as bench  # noqa: E402

ROWS = {"hd": ("1080p H.264", "video/hd"), "sd": ("SD H.264", "video/sd"), "audio": ("audio", "audio")}
HEADER = ("| row | files | windows | a windows/s | b windows/s | a/b | busy decode | busy encoder | GPU MiB a/b "
          "| fp16 vs fp32 lowest cosine | a s |")


def say(*a):
    print("[check-table]", *a, file=sys.stderr, flush=True)


def row_files(corpus, sub, k):
    root = os.path.join(corpus, sub)
    files = [os.path.relpath(os.path.join(dp, f), corpus) for dp, _, fs in os.walk(root) for f in fs
             if f.rsplit(".", 1)[-1] in bench.VIDEO_EXTS + bench.AUDIO_EXTS]
    files.sort(key=lambda s: s.encode())
    return files[:k] if k else files


def link_subset(corpus, files, dst):
    shutil.rmtree(dst, ignore_errors=True)
    for rel in files:
        os.makedirs(os.path.dirname(os.path.join(dst, rel)), exist_ok=True)
        try:
            os.link(os.path.join(corpus, rel), os.path.join(dst, rel))
        except OSError:
            shutil.copy2(os.path.join(corpus, rel), os.path.join(dst, rel))


def infer(args, data, out, precision):
    cmd = bench.infer_cmd(args, args.model, data, out, ["RUNTIME.PRECISION", precision, "DIST.NUM_WORKERS",
                                                        str(args.threads)])
    wall, _, _, err, rc = bench.timed(cmd, bench.env_passive(args.threads), rss=False, check=False,
                                      gpu=args.device == "cuda")
    if rc not in (0, 3):
        raise RuntimeError(f"lssd-infer exited {rc}:\n{err[-3000:]}")
    done = re.findall(r"done: .*; (\d+) clips in ([\d.]+) s", err)
    devs = re.findall(r"(\S+) (\d+) clips, busy (\d+)%", (re.findall(r"devices: (.*)", err) or [""])[-1])
    workers = re.findall(r"decode workers: (\d+), busy (\d+)%", err)
    return {"wall_s": wall, "clips": int(done[-1][0]) if done else 0,
            "pipeline_s": float(done[-1][1]) if done else None,
            "devices": [(d, int(n), int(p)) for d, n, p in devs],
            "decode_busy": int(workers[-1][1]) if workers else None, "gpu_mib": bench.timed.gpu_mib,
            "precision": (re.findall(r"encoders on \S+ \((\w+)\)", err) or ["?"])[-1]}


def model_only(args, data, files, modality, work):
    """B clips of the row through the encoder alone: (windows/s, peak GPU MiB)."""
    x = bench.dump_tensors(args, data, files, modality, args.batch, work)
    if x is None:
        return None, None
    per = 5 if modality == "video" else 1
    n = x.shape[0] // per
    inp = os.path.join(work, f"b_{modality}.npy")
    npyio.save(inp, x)
    dev = (["--device", "cuda", "--precision", "auto", "--warmup", str(n * per)] if args.device == "cuda"
           else ["--device", "cpu", "--precision", "fp32", "--batch-split", "1", "--warmup", "1"])
    probe = os.path.join(args.build, "tests", "lssd_encoder_probe")
    _, _, out, err, rc = bench.timed([probe, os.path.join(args.model, f"{modality}.pt"), inp,
                                      os.path.join(work, "b_out.npy"), "--threads", str(args.threads), "--repeat",
                                      str(args.b_repeat), *dev], bench.env_passive(args.threads), rss=False,
                                     check=False, gpu=args.device == "cuda")
    os.remove(inp)
    if rc != 0:
        raise RuntimeError(f"lssd_encoder_probe exited {rc}: {err.strip()[-2000:]}")
    ts = sorted(json.loads(out.strip().splitlines()[-1])["forward_s"])
    return n / ts[len(ts) // 2], bench.timed.gpu_mib


def floats(path):
    a = npyio.load(path)
    if a.descr != "<f4":
        raise ValueError(f"{path}: {a.descr}, expected <f4")
    v = array.array("f")
    v.frombytes(a.data)
    return a.shape, v


def lowest_cosine(out16, out32):
    """The lowest per-window cosine between two lssd-infer outputs (video: the worst crop)."""
    low = None
    for m in ("video", "audio"):
        for dp, _, fs in os.walk(os.path.join(out16, m)):
            for f in fs:
                if not f.endswith(".npy"):
                    continue
                p16 = os.path.join(dp, f)
                p32 = os.path.join(out32, os.path.relpath(p16, out16))
                (shape, a), (shape32, b) = floats(p16), floats(p32)
                if shape != shape32:
                    raise ValueError(f"{f}: shapes {shape} and {shape32}")
                d = shape[-1]
                for i in range(len(a) // d):
                    x, y = a[i * d:(i + 1) * d], b[i * d:(i + 1) * d]
                    num = sum(p * q for p, q in zip(x, y))
                    den = math.sqrt(sum(p * p for p in x)) * math.sqrt(sum(q * q for q in y))
                    c = num / den if den else 0.0
                    low = c if low is None else min(low, c)
    return low


def cell(x, fmt=None):
    """A table cell: '-' for None; numbers with 3 significant digits unless fmt says otherwise."""
    if x is None:
        return "-"
    if fmt:
        return fmt.format(x)
    return f"{x:.0f}" if abs(x) >= 100 else f"{x:.3g}"


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--build", required=True)
    ap.add_argument("--model", required=True, help="the exported S towers (video.pt, audio.pt)")
    ap.add_argument("--corpus", required=True, help="tools/bench/gen_corpus.py --corpus gpu output")
    ap.add_argument("--out", required=True, help="table.md is appended here, work files go to OUT/work")
    ap.add_argument("--device", default="cuda", choices=("cuda", "cpu"))
    ap.add_argument("--threads", type=int, default=os.cpu_count())
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--b-repeat", type=int, default=0, help="timed forwards of b (default 3 on CUDA, 1 on the CPU)")
    ap.add_argument("--files-per-row", type=int, default=0, help="the first K files of each row (0: all)")
    ap.add_argument("--rows", default="hd,sd,audio")
    args = ap.parse_args()
    args.build, args.model = os.path.abspath(args.build), os.path.abspath(args.model)
    args.b_repeat = args.b_repeat or (3 if args.device == "cuda" else 1)
    args.infer_bin = os.path.join(args.build, "lssd-infer")
    args.infer_override = []
    work = os.path.join(args.out, "work")
    os.makedirs(work, exist_ok=True)
    table = os.path.join(args.out, "table.md")

    def emit(line):
        print(line, flush=True)
        with open(table, "a") as f:
            f.write(line + "\n")
            f.flush()
            os.fsync(f.fileno())

    emit(HEADER)
    emit("|" + "---|" * HEADER.count(" | ") + "---|")
    for key in args.rows.split(","):
        name, sub = ROWS[key]
        t0 = time.monotonic()
        files = row_files(args.corpus, sub, args.files_per_row)
        if not files:
            emit(f"| {name} | 0 | - | no files under {sub} | | | | | | | |")
            continue
        data = os.path.join(work, f"data_{key}")
        link_subset(args.corpus, files, data)
        modality = "audio" if key == "audio" else "video"
        try:
            a = infer(args, data, os.path.join(work, f"out_{key}_auto"), "auto")
            b_rate, b_mib = model_only(args, data, files, modality, work)
            low = None
            if args.device == "cuda":
                infer(args, data, os.path.join(work, f"out_{key}_fp32"), "fp32")
                low = lowest_cosine(os.path.join(work, f"out_{key}_auto"), os.path.join(work, f"out_{key}_fp32"))
        except (RuntimeError, SystemExit, ValueError, OSError) as e:
            emit(f"| {name} | {len(files)} | FAILED: {str(e).strip().splitlines()[-1][:200]} | | | | | | | | |")
            continue
        a_rate = a["clips"] / a["pipeline_s"] if a["pipeline_s"] else None
        enc = "/".join(f"{p}%" for _, _, p in a["devices"]) or "-"
        mib = f"{cell(a['gpu_mib'], '{:.0f}')}/{cell(b_mib, '{:.0f}')}"
        cos = cell(low, "{:.6f}") if args.device == "cuda" else "no GPU"
        emit(f"| {name} ({a['precision']}) | {len(files)} | {a['clips']} | {cell(a_rate)} | {cell(b_rate)} | "
             f"{cell(a_rate / b_rate if a_rate and b_rate else None, '{:.2f}')} | {cell(a['decode_busy'], '{}%')} | "
             f"{enc} | {mib} | {cos} | {cell(a['pipeline_s'], '{:.1f}')} |")
        say(f"{name}: {time.monotonic() - t0:.1f} s (a process wall {a['wall_s']:.1f} s; devices {a['devices']})")


if __name__ == "__main__":
    main()
