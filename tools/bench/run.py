#!/usr/bin/python3
"""lssd CPU benchmark: one run, same files, same weights, same thread count.

    tools/bench/run.py [--corpus sample|large|DIR] [--model tiny|S|DIR[,..]] [--threads N]
                       [--max-files N] [--legs a,b,c,d,e] [--repeat N] [--kernels fast|reference]
                       [--json FILE] [--cache DIR]

Legs (see tools/bench/README.md):
  a  lssd-infer end to end (process wall time, clips/s, peak RSS)
  b  encoder forward only on pre-computed clip tensors, in the batch shapes lssd-infer uses
     (TEST.BATCH_SIZE clips -> 5*batch crops for video): tests/lssd_encoder_probe
  c  the Python reference pipeline (tests/oracle/reference_pipeline.py), always on the reference
     formulation of the towers (the same weights exported with --kernels reference)
  d  decode-only floor: `ffmpeg -threads 1 -i F -f null -` over the same files
  e  peak RSS of lssd-infer (tiny model) on generated 1-minute and 10-minute videos
Every timed process gets OMP_WAIT_POLICY=PASSIVE. The load average is recorded around each leg.
With --repeat N, legs a, b and c run N rounds, interleaved (a b c a b c ...), and the table shows
each leg's median run (every run is in the JSON; the per-round a/b and c/a are printed).
"""
import argparse
import datetime
import glob
import json
import os
import re
import shutil
import subprocess
import sys
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.abspath(os.path.join(HERE, "..", ".."))
PY = "/usr/bin/python3"
VIDEO_EXTS = ("mp4", "avi")
AUDIO_EXTS = ("mp3", "wav", "flac", "opus")

sys.path.insert(0, HERE)
import gen_corpus  # noqa: E402


def log(*a):
    print("[bench]", *a, file=sys.stderr, flush=True)


def loadavg():
    with open("/proc/loadavg") as f:
        return [float(x) for x in f.read().split()[:3]]


def env_passive(threads):
    e = dict(os.environ)
    e["OMP_WAIT_POLICY"] = "PASSIVE"
    e.setdefault("OMP_NUM_THREADS", str(threads))
    return e


def timed(cmd, env, rss=True, check=True, cwd=None, quiet=True):
    """Runs cmd under /usr/bin/time -v; returns (wall_s, peak_rss_kb, stdout, stderr, rc)."""
    tv = os.path.exists("/usr/bin/time") and rss
    full = (["/usr/bin/time", "-v"] if tv else []) + cmd
    t0 = time.monotonic()
    p = subprocess.run(full, env=env, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                       errors="replace")
    wall = time.monotonic() - t0
    peak = None
    if tv:
        m = re.search(r"Maximum resident set size \(kbytes\): (\d+)", p.stderr)
        peak = int(m.group(1)) if m else None
    if check and p.returncode not in (0, 3):
        sys.stderr.write(p.stderr[-4000:])
        raise SystemExit(f"command failed ({p.returncode}): {' '.join(cmd)}")
    return wall, peak, p.stdout, p.stderr, p.returncode


# ---------------------------------------------------------------- corpus and models

def corpus_files(root):
    out = []
    for dp, dns, fns in os.walk(root):
        dns.sort()
        for fn in fns:
            ext = fn.rsplit(".", 1)[-1] if "." in fn else ""
            if ext in VIDEO_EXTS + AUDIO_EXTS:
                out.append(os.path.relpath(os.path.join(dp, fn), root))
    return sorted(out, key=lambda s: s.encode())


def prepare_corpus(args):
    if args.corpus == "sample":
        src = os.path.join(ROOT, "sample_data")
    elif args.corpus == "large":
        src = gen_corpus.generate(os.path.join(args.cache, "corpus", "large"), args.large_scale)
    else:
        src = os.path.abspath(args.corpus)
    files = corpus_files(src)
    if args.max_files and args.max_files < len(files):
        files = files[: args.max_files]
        dst = os.path.join(args.cache, "corpus", f"{os.path.basename(src.rstrip('/'))}-first{args.max_files}")
        shutil.rmtree(dst, ignore_errors=True)
        for rel in files:
            d = os.path.join(dst, rel)
            os.makedirs(os.path.dirname(d), exist_ok=True)
            try:
                os.link(os.path.join(src, rel), d)
            except OSError:
                shutil.copy2(os.path.join(src, rel), d)
        src = dst
    return src, files


def export_kernels(pt):
    """The "kernels" of an exported encoder's metadata ("reference" for exports made before the
    option existed; None when the file has no LSSD metadata)."""
    import zipfile
    with zipfile.ZipFile(pt) as z:
        name = next((n for n in z.namelist() if n.endswith("/extra/lssd_meta.json")), None)
        return json.loads(z.read(name)).get("kernels", "reference") if name else None


def _model_ready(d, kernels):
    pts = [os.path.join(d, f"{m}.pt") for m in ("video", "audio")]
    return all(os.path.exists(p) for p in pts) and all(export_kernels(p) == kernels for p in pts)


def _export_model(name, args, kernels):
    d = os.path.join(args.cache, "models", f"{name}-{kernels}")
    if name == "tiny":  # the e2e tests' tiny models, when built with these kernels
        for t in ("tiny", f"tiny-{kernels}"):
            if _model_ready(os.path.join(args.build, "test-models", t), kernels):
                return os.path.join(args.build, "test-models", t)
    if _model_ready(d, kernels):
        return d
    ck = os.path.join(args.cache, "models", f"{name}.pyth")
    os.makedirs(os.path.dirname(ck), exist_ok=True)
    size_args = ["--size", "S", "--tiny"] if name == "tiny" else ["--size", name]
    log(f"exporting a seeded-random {name} model ({kernels} kernels) into {d} (minutes for a full-size one)")
    env = env_passive(args.threads)
    if not os.path.exists(ck):
        subprocess.run([PY, os.path.join(ROOT, "tools", "lssd_checkpoint.py"), "random", *size_args, "--seed", "0",
                        "-o", ck + ".tmp"], check=True, env=env)
        os.replace(ck + ".tmp", ck)
    subprocess.run([PY, os.path.join(ROOT, "tools", "lssd_export.py"), "--checkpoint", ck, "--out-dir", d,
                    "--kernels", kernels], check=True, env=env)
    return d


def prepare_model(name, args):
    """(model dir of legs a, b, e; model dir of leg c). Legs a, b, e run --kernels (default: the
    exporter's default, fast); leg c, the Python reference pipeline, keeps the reference
    formulation: the same weights exported with --kernels reference. A directory given as
    --model serves a, b, e as it is and c from its reference/ subdirectory if there is one (else
    from itself, whatever its kernels; noted in the log)."""
    if os.path.isdir(name):
        d = os.path.abspath(name)
        ref = os.path.join(d, "reference")
        if _model_ready(ref, "reference"):
            return d, ref
        log(f"note: {d} has no reference/ export; leg c runs {d}'s own kernels "
            f"({export_kernels(os.path.join(d, 'video.pt'))})")
        return d, d
    d = _export_model(name, args, args.kernels)
    return d, (d if args.kernels == "reference" else _export_model(name, args, "reference"))


# ---------------------------------------------------------------- legs

def infer_cmd(args, model_dir, data, out, extra=()):
    return [args.infer_bin, "--cfg", os.path.join(ROOT, "configs", "B3.yaml"), "--overwrite",
            "MODEL.VIDEO_ENCODER_FILE", os.path.join(model_dir, "video.pt"),
            "MODEL.AUDIO_ENCODER_FILE", os.path.join(model_dir, "audio.pt"),
            "DATA.PATH_TO_DATA_DIR", data, "OUTPUT_DIR", out,
            "RUNTIME.DEVICE", "cpu", "RUNTIME.NUM_THREADS", str(args.threads),
            "TEST.BATCH_SIZE", str(args.batch), "LOG.PROGRESS_INTERVAL_S", "1000", *extra]


def manifest_clips(out):
    clips = {"video": 0, "audio": 0}
    files = {"video": 0, "audio": 0}
    for mt in clips:
        for mf in glob.glob(os.path.join(out, mt, "manifest*.jsonl")):
            last = {}
            for line in open(mf):
                if line.strip():
                    r = json.loads(line)
                    last[(r.get("rel_path"), json.dumps(r.get("track")))] = r
            for r in last.values():
                if r.get("status") == "ok":
                    clips[mt] += int(r.get("M", 0))
                    files[mt] += 1
    return clips, files


def leg_a(args, model_dir, data, work):
    out = os.path.join(work, "infer_out")
    shutil.rmtree(out, ignore_errors=True)
    la0 = loadavg()
    wall, rss, _, err, rc = timed(infer_cmd(args, model_dir, data, out, args.infer_override),
                                  env_passive(args.threads))
    clips, files = manifest_clips(out)
    m = re.search(r"done: .* (\d+) clips in ([\d.]+) s", err)
    t = re.search(r"time: encoder forwards ([\d.]+) s .*encoders loaded after ([\d.]+) s", err)
    n = clips["video"] + clips["audio"]
    return {"wall_s": wall, "pipeline_wall_s": float(m.group(2)) if m else None,
            "encode_s": float(t.group(1)) if t else None, "models_ready_s": float(t.group(2)) if t else None,
            "rc": rc, "peak_rss_kb": rss,
            "clips": clips, "files_ok": files, "clips_per_s": n / wall if wall else 0,
            "load_before": la0, "load_after": loadavg(), "out": out}


def dump_tensors(args, data, files, modality, want, work):
    """Up to `want` encoder inputs of one modality from the corpus, in file order:
    video [5*k,3,16,224,224] (FiveCrop stacks of k clips), audio [k,1,96,288]."""
    probe = os.path.join(args.build, "tests", "lssd_probe")
    aprobe = os.path.join(args.build, "tests", "lssd_audio_probe")
    tensors = []
    exts = VIDEO_EXTS if modality == "video" else AUDIO_EXTS
    n = 0
    for rel in files:
        if n >= want:
            break
        if rel.rsplit(".", 1)[-1] not in exts:
            continue
        d = os.path.join(work, "dump", f"{modality}_{len(tensors):03d}")
        shutil.rmtree(d, ignore_errors=True)
        os.makedirs(d)
        p = subprocess.run([probe, modality, os.path.join(data, rel), d], stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, text=True)
        if p.returncode != 0:
            continue
        res = json.load(open(os.path.join(d, "result.json")))
        if res.get("skipped"):
            continue
        for c in res["clips"]:
            if n >= want:
                break
            i = c["index"]
            if modality == "video":
                tensors.append(np.load(os.path.join(d, f"clip_{i}.npy")))
            else:
                raw = os.path.join(d, f"audio_{i}.f32")
                np.load(os.path.join(d, f"audio_{i}.npy")).astype("<f4").tofile(raw)
                o = os.path.join(d, f"mel_{i}.npy")
                subprocess.run([aprobe, raw, str(res["sample_rate"]), o, "--stage", "crop"], check=True,
                               stdout=subprocess.DEVNULL)
                tensors.append(np.load(o)[None])  # [1,1,96,288]
            n += 1
        shutil.rmtree(d, ignore_errors=True)
    if not tensors:
        return None
    return np.concatenate(tensors, 0)


_DUMPS = {}  # (corpus, modality, count) -> dumped clip tensors, shared by the rounds


def leg_b(args, model_dir, data, files, clips, work):
    """Forward time of the batches lssd-infer would run with no partial batches: per modality
    floor(N/B) full batches and one of N%B (tests/lssd_encoder_probe, real clip tensors)."""
    probe = os.path.join(args.build, "tests", "lssd_encoder_probe")
    res = {"by_modality": {}, "load_before": loadavg()}
    total = 0.0
    for mt in ("video", "audio"):
        n = clips.get(mt, 0)
        if n == 0:
            continue
        per = 5 if mt == "video" else 1
        key = (data, mt, min(n, args.batch))
        if key not in _DUMPS:
            _DUMPS[key] = dump_tensors(args, data, files, mt, min(n, args.batch), work)
        x = _DUMPS[key]
        if x is None:
            continue
        k = x.shape[0] // per  # clips available (<= batch)
        nfull, rest = divmod(n, args.batch)
        runs = []
        if nfull and k == args.batch:
            runs.append((args.batch, nfull))
        elif nfull:  # fewer clips than a batch in the whole corpus cannot happen with n >= batch
            runs.append((k, nfull * args.batch // k))
        if rest:
            runs.append((rest, 1))
        timing = []
        model = os.path.join(model_dir, f"{mt}.pt")
        for bs, reps in runs:
            reps_run = reps if not args.b_max_batches else min(reps, args.b_max_batches)
            inp = os.path.join(work, f"b_{mt}_{bs}.npy")
            np.save(inp, np.ascontiguousarray(x[: bs * per]))
            split = ["--batch-split", str(args.b_split)] if args.b_split else []
            _, _, out, err, _ = timed([probe, model, inp, os.path.join(work, "b_out.npy"), "--threads",
                                       str(args.threads), "--repeat", str(reps_run), "--warmup", "1", *split],
                                      env_passive(args.threads), rss=False)
            j = json.loads(out.strip().splitlines()[-1])
            os.remove(inp)
            mean = sum(j["forward_s"]) / reps_run  # seconds per batch (all its split forwards)
            timing.append({"clips_per_batch": bs, "crops_per_batch": bs * per, "batches": reps,
                           "batches_timed": reps_run, "forward_s": j["forward_s"],
                           "forward_cpu_s": j["forward_cpu_s"], "load_s": j["load_s"],
                           "total_s": mean * reps})
            total += mean * reps
        res["by_modality"][mt] = {"clips": n, "runs": timing,
                                  "total_s": sum(t["total_s"] for t in timing)}
    res["forward_total_s"] = total
    res["load_after"] = loadavg()
    n = sum(clips.values())
    res["clips_per_s"] = n / total if total else 0
    return res


def leg_c(args, model_dir, data, work):
    out = os.path.join(work, "ref_out")
    shutil.rmtree(out, ignore_errors=True)
    summ = os.path.join(work, "ref_summary.json")
    la0 = loadavg()
    wall, rss, _, err, rc = timed([PY, os.path.join(ROOT, "tests", "oracle", "reference_pipeline.py"), "--data", data,
                                   "--out", out, "--video-model", os.path.join(model_dir, "video.pt"),
                                   "--audio-model", os.path.join(model_dir, "audio.pt"), "--threads",
                                   str(args.threads), "--json-summary", summ, "-q"], env_passive(args.threads))
    s = json.load(open(summ))
    clips = {"video": 0, "audio": 0}
    for f in s["files"]:
        if f.get("status") == "ok":
            clips[f["modality"]] += int(f.get("num_clips", 0))
    n = clips["video"] + clips["audio"]
    return {"wall_s": wall, "rc": rc, "peak_rss_kb": rss, "clips": clips, "clips_per_s": n / wall if wall else 0,
            "timing": s.get("timing"), "load_before": la0, "load_after": loadavg()}


def leg_d(args, data, files):
    la0 = loadavg()
    total = 0.0
    per = []
    for rel in files:
        wall, _, _, _, rc = timed(["ffmpeg", "-nostdin", "-v", "quiet", "-threads", "1", "-i",
                                   os.path.join(data, rel), "-f", "null", "-"], env_passive(args.threads),
                                  rss=False, check=False)
        total += wall
        per.append({"file": rel, "wall_s": wall, "rc": rc})
    return {"wall_s": total, "files": per, "load_before": la0, "load_after": loadavg()}


def leg_e(args, work):
    """Peak RSS of lssd-infer (tiny model) on a generated short and long 640x360 video."""
    model_dir, _ = prepare_model("tiny", args)
    mins = [float(m) for m in args.rss_minutes.split(",")]
    res = {"runs": [], "load_before": loadavg()}
    for m in mins:
        vdir = os.path.join(args.cache, "rss", f"v{m:g}min")
        v = os.path.join(vdir, f"testsrc2_640x360_{m:g}min.mp4")
        if not os.path.exists(v):
            os.makedirs(vdir, exist_ok=True)
            subprocess.run(["ffmpeg", "-nostdin", "-v", "error", "-y", "-f", "lavfi", "-i",
                            "testsrc2=size=640x360:rate=25", "-t", str(int(m * 60)), "-c:v", "libx264",
                            "-preset", "ultrafast", "-crf", "30", "-pix_fmt", "yuv420p", v + ".tmp.mp4"], check=True)
            os.replace(v + ".tmp.mp4", v)
        out = os.path.join(work, f"rss_out_{m:g}")
        shutil.rmtree(out, ignore_errors=True)
        wall, rss, _, err, rc = timed(infer_cmd(args, model_dir, vdir, out, args.infer_override),
                                      env_passive(args.threads))
        clips, _ = manifest_clips(out)
        res["runs"].append({"minutes": m, "wall_s": wall, "peak_rss_kb": rss, "clips": clips["video"], "rc": rc})
    res["load_after"] = loadavg()
    if len(res["runs"]) >= 2 and res["runs"][0]["peak_rss_kb"]:
        res["ratio_long_short"] = res["runs"][-1]["peak_rss_kb"] / res["runs"][0]["peak_rss_kb"]
    return res


# ---------------------------------------------------------------- report

def fmt(x, nd=2):
    return "-" if x is None else (f"{x:.{nd}f}" if isinstance(x, float) else str(x))


def la(x):
    return "/".join(f"{v:.1f}" for v in x[:1]) if x else "-"


def median_run(runs, key):
    """The run whose `key` is the median (the lower middle one for an even count)."""
    ordered = sorted(runs, key=lambda r: r[key])
    return ordered[(len(ordered) - 1) // 2]


def report(results):
    rows = []
    hdr = ["model", "corpus", "files", "clips v/a", "a infer s", "a clips/s", "a RSS MB", "b fwd s", "b clips/s",
           "c ref s", "c clips/s", "d ffmpeg s", "a/b", "c/a", "a:c clips/s", "load"]
    for r in results["runs"]:
        a, b, c, d = r.get("a"), r.get("b"), r.get("c"), r.get("d")
        ratios = r["ratios"]
        clips = a["clips"] if a else (c["clips"] if c else {})
        loads = [x for x in (a, b, c, d) if x]
        lmin = min(l["load_before"][0] for l in loads) if loads else None
        lmax = max(max(l["load_before"][0], l["load_after"][0]) for l in loads) if loads else None
        rows.append([r["model"] + (f" ({r['kernels']})" if r.get("kernels") else ""), r["corpus"], str(r["files"]), f"{clips.get('video', 0)}/{clips.get('audio', 0)}",
                     fmt(a and a["wall_s"], 1), fmt(a and a["clips_per_s"]),
                     fmt(a and a["peak_rss_kb"] and a["peak_rss_kb"] / 1024, 0),
                     fmt(b and b["forward_total_s"], 1), fmt(b and b["clips_per_s"]),
                     fmt(c and c["wall_s"], 1), fmt(c and c["clips_per_s"]), fmt(d and d["wall_s"], 2),
                     fmt(ratios.get("a_over_b")), fmt(ratios.get("c_over_a")), fmt(ratios.get("a_clips_per_s_over_c")),
                     f"{lmin:.1f}-{lmax:.1f}" if lmin is not None else "-"])
    w = [max(len(h), *(len(x[i]) for x in rows)) if rows else len(h) for i, h in enumerate(hdr)]
    lines = ["  ".join(h.rjust(w[i]) for i, h in enumerate(hdr))]
    for x in rows:
        lines.append("  ".join(v.rjust(w[i]) for i, v in enumerate(x)))
    for r in results["runs"]:
        rounds = r.get("rounds", [])
        if len(rounds) > 1:
            parts = []
            for i, x in enumerate(rounds):
                p = [f"{leg} {x[leg]:.1f}" for leg in ("a", "b", "c") if leg in x]
                if "a_fwd" in x:
                    p.append(f"a's forwards {x['a_fwd']:.1f}")
                if "a" in x and "b" in x:
                    p.append(f"a/b {x['a'] / x['b']:.2f}")
                if "a" in x and "c" in x:
                    p.append(f"c/a {x['c'] / x['a']:.2f}")
                parts.append(f"{i + 1}: " + ", ".join(p))
            lines.append(f"rounds [{r['model']}] (s; the table shows each leg's median): " + "; ".join(parts))
    for r in results["runs"]:
        if r.get("kernels"):
            lines.append(f"kernels [{r['model']}]: a, b {r['kernels']} ({r['model_dir']}); "
                         f"c {r.get('reference_kernels')} ({r.get('reference_model_dir')})")
    e = results.get("e")
    if e:
        for run in e["runs"]:
            lines.append(f"e: lssd-infer tiny, {run['minutes']:g}-minute 640x360 video: {run['clips']} clips, "
                         f"peak RSS {run['peak_rss_kb'] / 1024:.0f} MB, wall {run['wall_s']:.1f} s")
        if "ratio_long_short" in e:
            lines.append(f"e: peak RSS ratio {e['runs'][-1]['minutes']:g} min / {e['runs'][0]['minutes']:g} min = "
                         f"{e['ratio_long_short']:.3f} (target <= 1.2)")
    lines.append("targets: a/b <= 1.10 (S); c/a >= 1.3x (S; stretch 1.5x); a:c clips/s >= 10x (tiny); RSS <= 1.2")
    return "\n".join(lines)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--corpus", default="sample", help="sample | large | a directory (default sample)")
    ap.add_argument("--model", default="tiny", help="tiny | S | B | an exported model dir; comma list (default tiny)")
    ap.add_argument("--threads", type=int, default=os.cpu_count(), help="torch threads for every leg (default: all)")
    ap.add_argument("--batch", type=int, default=8, help="TEST.BATCH_SIZE (default 8, as configs/*.yaml)")
    ap.add_argument("--max-files", type=int, default=0, help="only the first N files (sorted by relative path)")
    ap.add_argument("--legs", default="a,b,c,d", help="comma list of a,b,c,d,e (default a,b,c,d; e is separate)")
    ap.add_argument("--rss-minutes", default="1,10", help="leg e: video lengths in minutes (default 1,10)")
    ap.add_argument("--b-max-batches", type=int, default=0,
                    help="leg b: time at most K forwards per batch shape and extrapolate (0: all)")
    ap.add_argument("--b-split", type=int, default=1,
                    help="leg b: run each batch as forwards of at most K inputs (crops), as lssd-infer does "
                         "on CPU (default 1 = RUNTIME.CPU_MICRO_BATCH's default; 0: one forward per batch)")
    ap.add_argument("--repeat", type=int, default=1,
                    help="rounds of legs a, b, c (interleaved); the table shows each leg's median (default 1)")
    ap.add_argument("--large-scale", type=float, default=1.0, help="duration factor of the large corpus")
    ap.add_argument("--cache", default=os.environ.get("LSSD_BENCH_CACHE", "/tmp/lssd-bench"),
                    help="corpora, models, outputs (default $LSSD_BENCH_CACHE or /tmp/lssd-bench)")
    ap.add_argument("--build", default=os.path.join(ROOT, "build"), help="build dir (lssd-infer, tests/*probe)")
    ap.add_argument("--infer-bin", default=None, help="lssd-infer to time (default BUILD/lssd-infer)")
    ap.add_argument("--set", dest="infer_override", nargs=2, action="append", default=[], metavar=("KEY", "VALUE"),
                    help="extra lssd-infer config override (repeatable), e.g. --set DIST.NUM_WORKERS 2")
    ap.add_argument("--kernels", choices=("fast", "reference"), default="fast",
                    help="exported kernels of legs a, b, e (tools/lssd_export.py --kernels; default fast, the "
                         "exporter's default); leg c always runs the reference formulation")
    ap.add_argument("--json", default=None, help="results file (default CACHE/results/<time>.json)")
    args = ap.parse_args()
    args.build = os.path.abspath(args.build)
    args.infer_bin = args.infer_bin or os.path.join(args.build, "lssd-infer")
    args.infer_override = [x for kv in args.infer_override for x in kv]
    legs = set(args.legs.split(","))
    for exe in (args.infer_bin, os.path.join(args.build, "tests", "lssd_probe"),
                os.path.join(args.build, "tests", "lssd_encoder_probe"),
                os.path.join(args.build, "tests", "lssd_audio_probe")):
        if not os.access(exe, os.X_OK):
            raise SystemExit(f"missing {exe}: cmake --build build --target lssd-infer lssd_encoder_probe "
                             "lssd_probe lssd_audio_probe")
    os.makedirs(args.cache, exist_ok=True)
    stamp = datetime.datetime.now().strftime("%Y%m%d-%H%M%S")
    results = {"started": stamp, "host": os.uname().nodename, "cpus": os.cpu_count(), "threads": args.threads,
               "batch": args.batch, "b_split": args.b_split, "env_LSSD_CPU_MAX_BATCH": os.environ.get("LSSD_CPU_MAX_BATCH"), "corpus": args.corpus, "max_files": args.max_files, "overrides":
               args.infer_override, "infer_bin": args.infer_bin, "kernels": args.kernels, "load_start": loadavg(), "runs": []}
    t_start = time.monotonic()
    if legs & {"a", "b", "c", "d"}:
        data, files = prepare_corpus(args)
        log(f"corpus {data}: {len(files)} files; threads {args.threads}, batch {args.batch}")
        for model in args.model.split(","):
            model_dir, ref_dir = prepare_model(model, args)
            work = os.path.join(args.cache, "work", f"{stamp}-{model}")
            os.makedirs(work, exist_ok=True)
            run = {"model": model, "model_dir": model_dir, "reference_model_dir": ref_dir,
                   "kernels": export_kernels(os.path.join(model_dir, "video.pt")),
                   "reference_kernels": export_kernels(os.path.join(ref_dir, "video.pt")),
                   "corpus": args.corpus, "data": data, "files": len(files)}
            rounds = []
            for k in range(max(args.repeat, 1)):
                rnd = {}
                tag = f"[{model}]" + (f" round {k + 1}/{args.repeat}" if args.repeat > 1 else "")
                if "a" in legs:
                    log(f"{tag} a: lssd-infer, load {loadavg()}")
                    rnd["a"] = leg_a(args, model_dir, data, work)
                    log(f"{tag} a: {rnd['a']['wall_s']:.1f} s, clips {rnd['a']['clips']}")
                if "b" in legs:
                    clips = rnd["a"]["clips"] if "a" in rnd else None
                    if clips is None:  # count clips with the reference's plan (same as lssd-infer's)
                        log("b without a: running a first to count clips is required; add a to --legs")
                    else:
                        log(f"{tag} b: encoder forward only, load {loadavg()}")
                        rnd["b"] = leg_b(args, model_dir, data, files, clips, work)
                        log(f"{tag} b: {rnd['b']['forward_total_s']:.1f} s")
                if "c" in legs:
                    log(f"{tag} c: Python reference, load {loadavg()}")
                    rnd["c"] = leg_c(args, ref_dir, data, work)
                    log(f"{tag} c: {rnd['c']['wall_s']:.1f} s, clips {rnd['c']['clips']}")
                rounds.append(rnd)
            for leg, key in (("a", "wall_s"), ("b", "forward_total_s"), ("c", "wall_s")):
                runs_of_leg = [r[leg] for r in rounds if leg in r]
                if runs_of_leg:
                    run[leg] = median_run(runs_of_leg, key)
                    if len(runs_of_leg) > 1:
                        run[leg + "_all"] = runs_of_leg
            run["rounds"] = [{leg: (r[leg]["wall_s"] if leg != "b" else r[leg]["forward_total_s"])
                              for leg in ("a", "b", "c") if leg in r} for r in rounds]
            for x, r in zip(run["rounds"], rounds):
                if r.get("a", {}).get("encode_s") is not None:
                    x["a_fwd"] = r["a"]["encode_s"]
            if "d" in legs:
                run["d"] = leg_d(args, data, files)
            a, b, c = run.get("a"), run.get("b"), run.get("c")
            ratios = {}
            if a and b and b["forward_total_s"]:
                ratios["a_over_b"] = a["wall_s"] / b["forward_total_s"]
                if a["pipeline_wall_s"]:
                    ratios["a_pipeline_over_b"] = a["pipeline_wall_s"] / b["forward_total_s"]
            if a and c:
                ratios["c_over_a"] = c["wall_s"] / a["wall_s"]
                ratios["a_clips_per_s_over_c"] = a["clips_per_s"] / c["clips_per_s"] if c["clips_per_s"] else None
                ratios["same_clips"] = a["clips"] == c["clips"]
            run["ratios"] = ratios
            results["runs"].append(run)
    if "e" in legs:
        log(f"e: peak RSS, load {loadavg()}")
        results["e"] = leg_e(args, os.path.join(args.cache, "work", f"{stamp}-rss"))
    results["load_end"] = loadavg()
    results["total_s"] = time.monotonic() - t_start
    table = report(results)
    results["table"] = table
    path = args.json or os.path.join(args.cache, "results", f"{stamp}.json")
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w") as f:
        json.dump(results, f, indent=1)
    print(table)
    print(f"load average (1 min) at start {results['load_start'][0]:.2f}, at end {results['load_end'][0]:.2f}; "
          f"{results['cpus']} CPUs; total {results['total_s']:.0f} s; JSON: {path}")
    for r in results["runs"]:
        if r["ratios"].get("same_clips") is False:
            print(f"note [{r['model']}]: lssd-infer and the reference embedded different clip counts: "
                  f"{r['a']['clips']} vs {r['c']['clips']}")


if __name__ == "__main__":
    main()
