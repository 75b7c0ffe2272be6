#!/usr/bin/python3
"""lssd benchmark: one run, same files, same weights, same thread count (CPU, or CUDA for a, b).

    tools/bench/run.py [--corpus sample|large|gpu|DIR] [--model tiny|S|DIR[,..]] [--threads N]
                       [--device cpu|cuda] [--max-files N] [--legs a,b,c,d,e] [--repeat N]
                       [--kernels fast|reference] [--precision fp32,bf16]
                       [--json FILE] [--cache DIR]

Legs (see tools/bench/README.md):
  a  lssd-infer end to end (process wall time, clips/s, peak RSS)
  b  encoder forward only on pre-computed clip tensors, in the batch shapes lssd-infer uses
     (TEST.BATCH_SIZE clips -> 5*batch crops for video): tests/lssd_encoder_probe
  c  the Python reference pipeline (tests/oracle/reference_pipeline.py), always on the reference
     formulation of the towers (the same weights exported with --kernels reference)
  d  decode-only floor: `ffmpeg -threads 1 -i F -f null -` over the same files
  e  peak RSS of lssd-infer (tiny model) on generated 1-minute and 10-minute videos
--device cuda runs legs a and b on CUDA at the release's precision (fp16 autocast), records the
peak GPU memory of each (nvidia-smi) and times the front-end alone (tests/lssd_probe: decode, and
decode + video transform, per file; lssd_audio_probe: audio transform per clip) to give the busy
share of decode workers, transforms and encoder during a, so that the limiting stage shows.
numpy is not needed (tools/bench/npyio.py).
Every timed process gets OMP_WAIT_POLICY=PASSIVE. The load average is recorded around each leg.
With --repeat N, legs a, b and c run N rounds, interleaved (a b c a b c ...), and the table shows
each leg's median run (every run is in the JSON; the per-round a/b and c/a are printed).
--precision P1,P2,...: legs a and b once per precision (RUNTIME.PRECISION, the probe's
--precision) on the same files, interleaved within each round (the order rotating per round),
one table row each; then the speed ratios P1/Pk of a and b, b's seconds per video crop and per
audio clip, and the lowest per-clip cosine between P1's and Pk's outputs of a's last round
(lssd-read compare; video: a clip's worst crop).
"""
import argparse
import datetime
import glob
import json
import os
import re
import shutil
import subprocess
import tempfile
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.abspath(os.path.join(HERE, "..", ".."))
sys.path.insert(0, os.path.join(ROOT, "tools"))

# The Python of the reference pipeline and the checkpoint tools: $LSSD_PYTHON, else this one.
# numpy is not needed here (tools/bench/npyio.py): GPU machines may have PyTorch without it.
PY = os.environ.get("LSSD_PYTHON") or sys.executable
VIDEO_EXTS = ("mp4", "avi")
AUDIO_EXTS = ("mp3", "wav", "flac", "opus")

sys.path.insert(0, HERE)
import gen_corpus  # noqa: E402
import npyio  # noqa: E402


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


class GpuMemory:
    """Peak GPU memory (MiB) of a process tree, polled with nvidia-smi every 0.2 s: the sum over
    the tree's compute processes, or, where nvidia-smi lists no processes (containers), the
    device's used memory above what it was before the start. .peak_mib is None without nvidia-smi."""

    def __init__(self, root_pid):
        self.root, self.peak_mib, self.how = root_pid, None, None
        self._stop = threading.Event()
        self._base = self._device_used()
        self._t = threading.Thread(target=self._loop, daemon=True)
        if self._base is not None:
            self._t.start()

    @staticmethod
    def _smi(*q):
        try:
            r = subprocess.run(["nvidia-smi", *q, "--format=csv,noheader,nounits"], capture_output=True, text=True,
                               timeout=10)
            return [line.split(",") for line in r.stdout.strip().splitlines() if line.strip()] if r.returncode == 0 \
                else None
        except (OSError, subprocess.TimeoutExpired):
            return None

    def _device_used(self):
        rows = self._smi("--query-gpu=memory.used")
        return sum(float(r[0]) for r in rows) if rows else None

    def _in_tree(self, pid):
        for _ in range(16):
            if pid == self.root:
                return True
            try:
                with open(f"/proc/{pid}/stat") as f:
                    pid = int(f.read().rsplit(")", 1)[1].split()[1])
            except (OSError, ValueError, IndexError):
                return False
            if pid <= 1:
                return False
        return False

    def _loop(self):
        while not self._stop.is_set():
            apps = self._smi("--query-compute-apps=pid,used_memory") or []
            mine = [float(a[1]) for a in apps if len(a) > 1 and a[0].strip().isdigit() and self._in_tree(int(a[0]))]
            if mine:
                v, how = sum(mine), "process"
            else:
                used = self._device_used()
                v, how = (used - self._base if used is not None else None), "device"
            if v is not None and (self.peak_mib is None or v > self.peak_mib):
                self.peak_mib, self.how = v, how
            self._stop.wait(0.2)

    def stop(self):
        self._stop.set()
        if self._t.is_alive():
            self._t.join()
        return self.peak_mib


def timed(cmd, env, rss=True, check=True, cwd=None, quiet=True, gpu=False):
    """Runs cmd under /usr/bin/time -v; returns (wall_s, peak_rss_kb, stdout, stderr, rc). With
    gpu=True the peak GPU memory (MiB or None) is stored in timed.gpu_mib."""
    tv = os.path.exists("/usr/bin/time") and rss
    full = (["/usr/bin/time", "-v"] if tv else []) + cmd
    t0 = time.monotonic()
    proc = subprocess.Popen(full, env=env, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            errors="replace")
    mon = GpuMemory(proc.pid) if gpu else None
    out, err = proc.communicate()
    wall = time.monotonic() - t0
    timed.gpu_mib = mon.stop() if mon else None
    p = subprocess.CompletedProcess(full, proc.returncode, out, err)
    peak = None
    if tv:
        m = re.search(r"Maximum resident set size \(kbytes\): (\d+)", p.stderr)
        peak = int(m.group(1)) if m else None
    if check and p.returncode not in (0, 3):
        sys.stderr.write(p.stderr[-4000:])
        raise SystemExit(f"command failed ({p.returncode}): {' '.join(cmd)}")
    return wall, peak, p.stdout, p.stderr, p.returncode


def cpu_seconds(cmd, env=None):
    """(user + system CPU seconds of cmd, its returncode)."""
    p = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    _, status, ru = os.wait4(p.pid, 0)
    p.returncode = os.waitstatus_to_exitcode(status)
    return ru.ru_utime + ru.ru_stime, p.returncode


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
    elif args.corpus in ("large", "gpu"):
        src = gen_corpus.generate(os.path.join(args.cache, "corpus", args.corpus), args.large_scale,
                                  corpus=args.corpus, ffmpeg=args.ffmpeg, jobs=args.threads)
    else:
        src = os.path.abspath(args.corpus)
    files = corpus_files(src)
    if args.stride > 1 or (args.max_files and args.max_files < len(files)):
        files = files[:: max(args.stride, 1)]
        files = files[: args.max_files] if args.max_files else files
        tag = (f"-every{args.stride}" if args.stride > 1 else "") + (f"-first{args.max_files}" if args.max_files else "")
        dst = os.path.join(args.cache, "corpus", f"{os.path.basename(src.rstrip('/'))}{tag}")
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


def export_meta(pt):
    """An exported encoder's metadata (None when the file has no LSSD metadata)."""
    import zipfile
    with zipfile.ZipFile(pt) as z:
        name = next((n for n in z.namelist() if n.endswith("/extra/lssd_meta.json")), None)
        return json.loads(z.read(name)) if name else None


def export_kernels(pt):
    """The "kernels" of an exported encoder's metadata ("reference" for exports made before the
    option existed; None when the file has no LSSD metadata)."""
    meta = export_meta(pt)
    return meta.get("kernels", "reference") if meta is not None else None


def _model_ready(d, kernels):
    """Whether d holds both towers exported with these kernels (fast ones with the bf16 method,
    which exports older than exporter 1.2.0 lack)."""
    pts = [os.path.join(d, f"{m}.pt") for m in ("video", "audio")]
    if not all(os.path.exists(p) for p in pts):
        return False
    metas = [export_meta(p) or {} for p in pts]
    return all(m.get("kernels", "reference") == kernels and (kernels != "fast" or m.get("bf16_method"))
               for m in metas)


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
            "RUNTIME.DEVICE", args.device, "RUNTIME.NUM_THREADS", str(args.threads),
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


def precision_override(precision):
    return ["RUNTIME.PRECISION", precision] if precision else []


def leg_a(args, model_dir, data, work, precision=None):
    out = os.path.join(work, "infer_out" + (f"-{precision}" if precision else ""))
    shutil.rmtree(out, ignore_errors=True)
    la0 = loadavg()
    wall, rss, _, err, rc = timed(infer_cmd(args, model_dir, data, out,
                                            args.infer_override + precision_override(precision)),
                                  env_passive(args.threads), gpu=args.device == "cuda")
    gpu_mib = timed.gpu_mib
    clips, files = manifest_clips(out)
    m = re.search(r"done: .* (\d+) clips in ([\d.]+) s", err)
    t = re.search(r"time: encoder forwards ([\d.]+) s \(video ([\d.]+) s, audio ([\d.]+) s[;)].*"
                  r"encoders loaded after ([\d.]+) s", err)
    w = re.search(r"encoders on (\S+) \((\w+)\), batch \d+, (\d+) decode worker", err)
    cpu = [re.search(rf"{k} time \(seconds\): ([\d.]+)", err) for k in ("User", "System")]
    n = clips["video"] + clips["audio"]
    return {"wall_s": wall, "cpu_s": sum(float(c.group(1)) for c in cpu) if all(cpu) else None,
            "pipeline_wall_s": float(m.group(2)) if m else None,
            "encode_s": float(t.group(1)) if t else None, "models_ready_s": float(t.group(4)) if t else None,
            "encode_video_s": float(t.group(2)) if t else None, "encode_audio_s": float(t.group(3)) if t else None,
            "device": w.group(1) if w else None, "precision": w.group(2) if w else None,
            "workers": int(w.group(3)) if w else None, "gpu_peak_mib": gpu_mib,
            "rc": rc, "peak_rss_kb": rss,
            "clips": clips, "files_ok": files, "clips_per_s": n / wall if wall else 0,
            "load_before": la0, "load_after": loadavg(), "out": out}


def dump_tensors(args, data, files, modality, want, work):
    """Up to `want` encoder inputs of one modality from the corpus, in file order:
    video [5*k,3,16,224,224] (FiveCrop stacks of k clips), audio [k,1,96,288]."""
    probe = os.path.join(args.build, "tests", "lssd_probe")
    aprobe = os.path.join(args.build, "tests", "lssd_audio_probe")
    tensors = []
    transform_s = []  # audio: lssd_audio_probe's seconds per clip (log-mel + crop)
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
                tensors.append(npyio.load(os.path.join(d, f"clip_{i}.npy")))
            else:
                raw = os.path.join(d, f"audio_{i}.f32")
                samples = npyio.load(os.path.join(d, f"audio_{i}.npy"))
                if samples.descr != "<f4":
                    raise SystemExit(f"{rel}: audio samples are {samples.descr}, expected <f4")
                with open(raw, "wb") as f:
                    f.write(samples.data)
                o = os.path.join(d, f"mel_{i}.npy")
                r = subprocess.run([aprobe, raw, str(res["sample_rate"]), o, "--stage", "crop"], check=True,
                                   stdout=subprocess.PIPE, text=True)
                try:
                    transform_s.append(float(json.loads(r.stdout.strip().splitlines()[-1])["mean_s"]))
                except (ValueError, KeyError, IndexError, TypeError):
                    pass
                tensors.append(npyio.load(o).with_leading_axis())  # [1,1,96,288]
            n += 1
        shutil.rmtree(d, ignore_errors=True)
    if not tensors:
        return None
    x = npyio.concatenate(tensors)
    x.transform_s = transform_s
    return x


_DUMPS = {}  # (corpus, modality, count) -> dumped clip tensors, shared by the rounds


def leg_b(args, model_dir, data, files, clips, work, precision=None):
    """Forward time of the batches lssd-infer would run with no partial batches: per modality
    floor(N/B) full batches and one of N%B (tests/lssd_encoder_probe, real clip tensors)."""
    probe = os.path.join(args.build, "tests", "lssd_encoder_probe")
    res = {"by_modality": {}, "load_before": loadavg()}
    total = 0.0
    gpu_peak = None
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
        if mt == "audio":
            res["audio_transform_s_per_clip"] = (sum(x.transform_s) / len(x.transform_s)) if x.transform_s else None
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
            npyio.save(inp, x.first(bs * per))
            if args.device == "cuda":  # lssd-infer's CUDA path: the release's fp16 autocast, one forward per batch
                dev = ["--device", "cuda", "--precision", precision or "auto", "--warmup", str(bs * per)]
            else:
                dev = ["--warmup", "1", "--precision", precision or "auto"] + \
                    (["--batch-split", str(args.b_split)] if args.b_split else [])
            _, _, out, err, rc = timed([probe, model, inp, os.path.join(work, "b_out.npy"), "--threads",
                                        str(args.threads), "--repeat", str(reps_run), *dev],
                                       env_passive(args.threads), rss=False, gpu=args.device == "cuda", check=False)
            if rc != 0:
                raise SystemExit(f"lssd_encoder_probe failed ({rc}): {err.strip()[-2000:]}")
            gpu_peak = max(gpu_peak or 0, timed.gpu_mib or 0) if timed.gpu_mib is not None else gpu_peak
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
        res["by_modality"][mt]["s_per_input"] = res["by_modality"][mt]["total_s"] / (n * per)
    res["forward_total_s"] = total
    res["gpu_peak_mib"] = gpu_peak
    res["load_after"] = loadavg()
    n = sum(clips.values())
    res["clips_per_s"] = n / total if total else 0
    return res


def leg_frontend(args, data, files, work):
    """CPU seconds of the front-end alone on every file, one process per file, in parallel:
    video decode (lssd_probe --no-tensors) and decode + FiveCrop transform (--no-write); audio
    decode (lssd_probe audio --no-tensors). Audio transform time comes from leg b's dump."""
    probe = os.path.join(args.build, "tests", "lssd_probe")
    env = env_passive(1)
    env["OMP_NUM_THREADS"] = "1"

    def one(rel):
        ext = rel.rsplit(".", 1)[-1]
        mt = "video" if ext in VIDEO_EXTS else "audio"
        d = os.path.join(work, "frontend", rel.replace("/", "_"))
        os.makedirs(d, exist_ok=True)
        f = os.path.join(data, rel)
        dec, rc = cpu_seconds([probe, mt, f, d, "--no-tensors"], env)
        both = None
        if mt == "video" and rc == 0:
            both, rc = cpu_seconds([probe, mt, f, d, "--no-write"], env)
        shutil.rmtree(d, ignore_errors=True)
        return mt, dec, both, rc

    t0 = time.monotonic()
    with ThreadPoolExecutor(max_workers=max(1, os.cpu_count() or 1)) as pool:
        rows = list(pool.map(one, files))
    res = {"video_decode_cpu_s": 0.0, "video_transform_cpu_s": 0.0, "audio_decode_cpu_s": 0.0, "failed": 0}
    for mt, dec, both, rc in rows:
        if rc != 0:
            res["failed"] += 1
            continue
        res[f"{mt}_decode_cpu_s"] += dec
        if both is not None:
            res["video_transform_cpu_s"] += max(both - dec, 0.0)
    res["wall_s"] = time.monotonic() - t0
    return res


FRONTEND_VIDEO_EXTS = ("mp4", "avi", "mkv", "mov", "webm", "m4v", "MP4", "AVI", "MKV", "MOV")


def leg_frontend_files(args, data):
    """Per video file, one at a time: the front-end's own time in lssd_probe (decode + plan +
    RGB + FiveCrop transform, no encoder; the probe's in-process front_end_s, so process start-up
    and LibTorch loading are left out) with --threads N decoder threads, against
    `ffmpeg -threads N -i F -f null -` (a full decode, process wall), and the frames decoded vs
    the frames in the file."""
    probe = os.path.join(args.build, "tests", "lssd_probe")
    env = env_passive(1)
    files = []
    for dp, dns, fns in os.walk(data):
        dns.sort()
        files += [os.path.join(dp, fn) for fn in fns if fn.rsplit(".", 1)[-1] in FRONTEND_VIDEO_EXTS]
    rows = []
    n = args.threads
    for f in sorted(files, key=lambda x: x.encode()):
        with tempfile.TemporaryDirectory(prefix="lssd_fe_") as d:
            r = subprocess.run([probe, "video", f, d, "--no-write", "--threads", str(n)], env=env,
                               capture_output=True, text=True)
            res = json.load(open(os.path.join(d, "result.json"))) if os.path.exists(os.path.join(d, "result.json")) else {}
        if r.returncode != 0 or "front_end_s" not in res:
            rows.append({"file": os.path.relpath(f, data), "error": res.get("error", r.stderr.strip()[-200:])})
            continue
        ff_wall, _, _, _, ff_rc = timed(["ffmpeg", "-nostdin", "-v", "quiet", "-threads", str(n), "-i", f, "-f", "null",
                                         "-"], env, rss=False, check=False)
        rows.append({"file": os.path.relpath(f, data), "threads": n, "clips": res.get("num_clips"),
                     "frames_decoded": res.get("decoded_frames"), "frames_total": res.get("num_timestamps"),
                     "front_end_s": res["front_end_s"], "front_end_cpu_s": res["front_end_cpu_s"],
                     "ffmpeg_s": ff_wall if ff_rc == 0 else None,
                     "front_end_over_ffmpeg": res["front_end_s"] / ff_wall if ff_rc == 0 and ff_wall else None,
                     "load": loadavg()})
        log(f"f {rows[-1]['file']}: front-end {res['front_end_s']:.2f} s, ffmpeg {ff_wall:.2f} s, "
            f"frames {res.get('decoded_frames')}/{res.get('num_timestamps')}")
    return rows


def frontend_table(rows):
    lines = ["| file | threads | frames decoded / total | front-end s (cpu s) | ffmpeg -f null s | front-end / ffmpeg |",
             "|---|---|---|---|---|---|"]
    for r in rows:
        if "error" in r:
            lines.append(f"| {r['file']} | - | error: {r['error']} | | | |")
            continue
        ratio = f"{r['front_end_over_ffmpeg']:.2f}" if r["front_end_over_ffmpeg"] is not None else "-"
        ff = f"{r['ffmpeg_s']:.2f}" if r["ffmpeg_s"] is not None else "-"
        lines.append(f"| {r['file']} | {r['threads']} | {r['frames_decoded']} / {r['frames_total']} | "
                     f"{r['front_end_s']:.2f} ({r['front_end_cpu_s']:.2f}) | {ff} | {ratio} |")
    return "\n".join(lines)


def busy_shares(a, b, fe, clips):
    """Busy share of each stage during run a: stage time / (its threads x a's pipeline time).
    Decode and transform run in a's decode workers; their time is the front-end's CPU time
    measured alone (leg f); the encoder's is a's own forward time per replica."""
    wall = a.get("pipeline_wall_s") or a["wall_s"]
    workers = a.get("workers") or 1
    out = {}
    if fe:
        at = (b or {}).get("audio_transform_s_per_clip") or 0.0
        decode = fe["video_decode_cpu_s"] + fe["audio_decode_cpu_s"]
        transform = fe["video_transform_cpu_s"] + at * clips.get("audio", 0)
        out["decode"] = decode / (workers * wall)
        out["transform"] = transform / (workers * wall)
        out["workers"] = out["decode"] + out["transform"]
    if a.get("encode_s") is not None:
        out["encoder"] = a["encode_s"] / wall
    return out


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


def report_cuda(results):
    hdr = ["model", "corpus", "files", "clips v/a", "a s", "a clips/s", "b fwd s", "b clips/s", "a/b",
           "GPU MB a/b", "busy decode", "busy transform", "busy encoder", "limit"]
    rows = []
    for r in results["runs"]:
        a, b = r.get("a"), r.get("b")
        clips = a["clips"] if a else {}
        sh = r.get("busy", {})
        pct = lambda k: f"{100 * sh[k]:.0f}%" if k in sh else "-"  # noqa: E731
        stages = {k: sh[k] for k in ("workers", "encoder") if k in sh}
        limit = max(stages, key=stages.get) if stages else "-"
        limit = {"workers": "decode workers", "encoder": "encoder"}.get(limit, limit)
        mem = lambda x: "-" if not x or x.get("gpu_peak_mib") is None else f"{x['gpu_peak_mib']:.0f}"  # noqa: E731
        rows.append([os.path.basename(r["model"].rstrip("/")) + (f" {r['precision']}" if r.get("precision") else ""),
                     r["corpus"], str(r["files"]),
                     f"{clips.get('video', 0)}/{clips.get('audio', 0)}",
                     fmt(a and a["wall_s"], 1), fmt(a and a["clips_per_s"]), fmt(b and b["forward_total_s"], 1),
                     fmt(b and b["clips_per_s"]), fmt(r["ratios"].get("a_over_b")), f"{mem(a)}/{mem(b)}",
                     pct("decode"), pct("transform"), pct("encoder"), limit])
    w = [max(len(h), *(len(x[i]) for x in rows)) if rows else len(h) for i, h in enumerate(hdr)]
    lines = ["| " + " | ".join(h.ljust(w[i]) for i, h in enumerate(hdr)) + " |",
             "|" + "|".join("-" * (x + 2) for x in w) + "|"]
    for x in rows:
        lines.append("| " + " | ".join(v.ljust(w[i]) for i, v in enumerate(x)) + " |")
    for r in results["runs"]:
        a = r.get("a") or {}
        lines.append(f"[{r['model']}] a: lssd-infer on {a.get('device')} ({a.get('precision')}), "
                     f"{a.get('workers')} decode workers, TEST.BATCH_SIZE {results['batch']}, pipeline "
                     f"{fmt(a.get('pipeline_wall_s'), 1)} s of {fmt(a.get('wall_s'), 1)} s, forwards "
                     f"{fmt(a.get('encode_s'), 1)} s, towers ready after {fmt(a.get('models_ready_s'), 1)} s; "
                     f"b: encoder alone (lssd_encoder_probe"
                     + (", fp16 autocast, one forward per batch)" if results["device"] == "cuda" else
                        f", CPU, micro-batches of {results['b_split']})"))
        fe = r.get("f")
        if fe:
            lines.append(f"[{r['model']}] front-end alone (CPU s): video decode {fe['video_decode_cpu_s']:.1f}, "
                         f"video transform {fe['video_transform_cpu_s']:.1f}, audio decode "
                         f"{fe['audio_decode_cpu_s']:.1f}; busy = stage time / (threads x a's pipeline time)")
    if results["device"] == "cuda":
        lines.append("GPU MB: peak of the process (nvidia-smi; with the CUDA context), '-' without nvidia-smi")
    return "\n".join(lines)


def label(run):
    """A table row's model name, with its precision when --precision gave one."""
    return run["model"] + (f" {run['precision']}" if run.get("precision") else "")


def report(results):
    if not results["runs"]:
        return ""
    if results.get("device") == "cuda" or results.get("frontend"):
        return report_cuda(results)
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
        rows.append([r["model"] + (f" ({r['kernels']})" if r.get("kernels") else "")
                     + (f" {r['precision']}" if r.get("precision") else ""), r["corpus"], str(r["files"]),
                     f"{clips.get('video', 0)}/{clips.get('audio', 0)}",
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
            lines.append(f"rounds [{label(r)}] (s; the table shows each leg's median): " + "; ".join(parts))
    seen = set()
    for r in results["runs"]:
        if r.get("kernels") and r["model"] not in seen:
            seen.add(r["model"])
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


def run_round(args, legs, tag, model_dir, ref_dir, data, files, work, precision, with_c):
    """Legs a, b (and c when with_c) of one round at one precision."""
    rnd = {}
    if "a" in legs:
        log(f"{tag} a: lssd-infer, load {loadavg()}")
        rnd["a"] = leg_a(args, model_dir, data, work, precision)
        log(f"{tag} a: {rnd['a']['wall_s']:.1f} s, clips {rnd['a']['clips']}")
    if "b" in legs:
        clips = rnd["a"]["clips"] if "a" in rnd else None
        if clips is None:  # count clips with the reference's plan (same as lssd-infer's)
            log("b without a: running a first to count clips is required; add a to --legs")
        else:
            log(f"{tag} b: encoder forward only, load {loadavg()}")
            rnd["b"] = leg_b(args, model_dir, data, files, clips, work, precision)
            log(f"{tag} b: {rnd['b']['forward_total_s']:.1f} s")
    if "c" in legs and with_c:
        log(f"{tag} c: Python reference, load {loadavg()}")
        rnd["c"] = leg_c(args, ref_dir, data, work)
        log(f"{tag} c: {rnd['c']['wall_s']:.1f} s, clips {rnd['c']['clips']}")
    return rnd


def summarise(run, rounds, args, legs, data, files, work, d_run):
    """Fills one table row (`run`) from its rounds: each leg's median run, the rounds, d, f, ratios."""
    model = run["model"]
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
    if d_run is not None:
        run["d"] = d_run
    if "f" in legs:
        log(f"[{model}] f: front-end alone (decode, transforms), load {loadavg()}")
        run["f"] = leg_frontend(args, data, files, work)
        log(f"[{model}] f: {run['f']['wall_s']:.1f} s")
    if "a" in run:
        run["busy"] = busy_shares(run["a"], run.get("b"), run.get("f"), run["a"]["clips"])
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


def compare_precisions(args, model, rounds, precisions):
    """The first precision against each other one: medians of the interleaved rounds' a (wall) and
    b (forward) times and their ratios, b's seconds per video crop / audio clip, and the lowest
    per-clip cosine between the last round's outputs of a (lssd-read compare --json)."""
    def med(p, leg, key):
        xs = sorted(r[leg][key] for r in rounds[p] if leg in r)
        return xs[(len(xs) - 1) // 2] if xs else None

    def per_input(p):
        xs = [r["b"]["by_modality"] for r in rounds[p] if "b" in r]
        out = {}
        for mt in ("video", "audio"):
            v = sorted(x[mt]["s_per_input"] for x in xs if mt in x)
            out[mt] = v[(len(v) - 1) // 2] if v else None
        return out

    base = precisions[0]
    res = {"model": model, "base": base, "by_precision": {}, "pairs": []}
    for p in precisions:
        res["by_precision"][p] = {"a_wall_s": med(p, "a", "wall_s"), "a_forwards_s": med(p, "a", "encode_s"),
                                  "a_cpu_s": med(p, "a", "cpu_s"),
                                  "b_forward_s": med(p, "b", "forward_total_s"), "b_s_per_input": per_input(p),
                                  "a_rounds": [r["a"]["wall_s"] for r in rounds[p] if "a" in r],
                                  "b_rounds": [r["b"]["forward_total_s"] for r in rounds[p] if "b" in r]}
    read = os.path.join(args.build, "lssd-read")
    for p in precisions[1:]:
        pair = {"a": base, "b": p}
        x, y = res["by_precision"][base], res["by_precision"][p]
        for key in ("a_wall_s", "a_cpu_s", "b_forward_s"):
            pair[f"{key}_ratio"] = x[key] / y[key] if x[key] and y[key] else None
        pair["b_s_per_input_ratio"] = {mt: (x["b_s_per_input"][mt] / y["b_s_per_input"][mt]
                                            if x["b_s_per_input"][mt] and y["b_s_per_input"][mt] else None)
                                       for mt in ("video", "audio")}
        out_a, out_b = rounds[base][-1]["a"]["out"], rounds[p][-1]["a"]["out"]
        r = subprocess.run([read, "compare", "--json", "--min-cosine", "0", out_a, out_b], capture_output=True,
                           text=True)
        try:
            j = json.loads(r.stdout)
            pair["min_cosine"] = j["min_cosine"]
            pair["max_abs_diff"] = j["max_abs_diff"]
            pair["files_compared"] = j["compared"]
            for mt in ("video", "audio"):
                cs = [f["min_cosine"] for f in j["files"] if f.get("mtype") == mt and "min_cosine" in f]
                pair[f"min_cosine_{mt}"] = min(cs) if cs else None
                pair[f"clips_{mt}"] = sum(f.get("M", 0) for f in j["files"] if f.get("mtype") == mt)
        except (ValueError, KeyError):
            pair["compare_error"] = (r.stdout + r.stderr).strip()[-500:]
        res["pairs"].append(pair)
    return res


def precision_report(results):
    lines = []
    for c in results.get("precision_compare", []):
        for p, x in c["by_precision"].items():
            per = x["b_s_per_input"]
            lines.append(f"precision [{c['model']}] {p}: a {fmt(x['a_wall_s'], 1)} s (CPU {fmt(x['a_cpu_s'], 1)} s; "
                         f"forwards {fmt(x['a_forwards_s'], 1)} s; rounds "
                         f"{' / '.join(f'{v:.1f}' for v in x['a_rounds'])}), "
                         f"b {fmt(x['b_forward_s'], 1)} s (rounds {' / '.join(f'{v:.1f}' for v in x['b_rounds'])}): "
                         f"{fmt(per['video'], 3)} s per video crop, {fmt(per['audio'], 3)} s per audio clip "
                         f"({results['threads']} lanes of 1 thread)")
        for pair in c["pairs"]:
            pr = pair["b_s_per_input_ratio"]
            lines.append(f"precision [{c['model']}] {pair['a']}/{pair['b']}: a {fmt(pair['a_wall_s_ratio'])}x "
                         f"(CPU {fmt(pair['a_cpu_s_ratio'])}x), "
                         f"b {fmt(pair['b_forward_s_ratio'])}x (per video crop {fmt(pr['video'])}x, per audio clip "
                         f"{fmt(pr['audio'])}x); lowest per-clip cosine {pair['b']} vs {pair['a']}: "
                         + (f"{fmt(pair.get('min_cosine'), 6)} (video {fmt(pair.get('min_cosine_video'), 6)} over "
                            f"{pair.get('clips_video')} clips, worst crop; audio "
                            f"{fmt(pair.get('min_cosine_audio'), 6)} over {pair.get('clips_audio')} clips; "
                            f"max |diff| {fmt(pair.get('max_abs_diff'), 4)})"
                            if "compare_error" not in pair else f"compare failed: {pair['compare_error']}"))
    return "\n".join(lines)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--corpus", default="sample", help="sample | large | gpu | a directory (default sample)")
    ap.add_argument("--device", default="cpu", choices=("cpu", "cuda"),
                    help="legs a and b on CPU (default) or CUDA (fp16 autocast; adds the front-end leg f)")
    ap.add_argument("--ffmpeg", default=os.environ.get("LSSD_BENCH_FFMPEG", "ffmpeg"),
                    help="the ffmpeg program that generates corpora (default ffmpeg; tools/gpu: the bundle's)")
    ap.add_argument("--model", default="tiny", help="tiny | S | B | an exported model dir; comma list (default tiny)")
    ap.add_argument("--threads", type=int, default=os.cpu_count(), help="torch threads for every leg (default: all)")
    ap.add_argument("--batch", type=int, default=8, help="TEST.BATCH_SIZE (default 8, as configs/*.yaml)")
    ap.add_argument("--max-files", type=int, default=0, help="only the first N files (sorted by relative path)")
    ap.add_argument("--stride", type=int, default=1,
                    help="only every K-th file (sorted by relative path; before --max-files): a spread of the kinds")
    ap.add_argument("--legs", default="a,b,c,d",
                    help="comma list of a,b,c,d,e,f (default a,b,c,d; e is separate; f: front-end alone and busy "
                         "shares, the table of --device cuda; always on with --device cuda; f alone: per video "
                         "file of --corpus, front-end vs ffmpeg -threads N, frames decoded)")
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
    ap.add_argument("--precision", default="",
                    help="comma list of RUNTIME.PRECISION values (auto, fp32, bf16, fp16 on CUDA): legs a and b once "
                         "per precision, interleaved; reports the speed ratios and the lowest per-clip cosine "
                         "between the first precision's outputs and each other's (default: none given, the "
                         "config's auto)")
    ap.add_argument("--json", default=None, help="results file (default CACHE/results/<time>.json)")
    args = ap.parse_args()
    args.build = os.path.abspath(args.build)
    args.infer_bin = args.infer_bin or os.path.join(args.build, "lssd-infer")
    args.infer_override = [x for kv in args.infer_override for x in kv]
    legs = set(args.legs.split(","))
    if args.device == "cuda":
        if legs & {"c", "d", "e"}:
            raise SystemExit("--device cuda runs legs a and b (and the front-end leg f) only")
        legs.add("f")
    for exe in (args.infer_bin, os.path.join(args.build, "tests", "lssd_probe"),
                os.path.join(args.build, "tests", "lssd_encoder_probe"),
                os.path.join(args.build, "tests", "lssd_audio_probe")):
        if not os.access(exe, os.X_OK):
            raise SystemExit(f"missing {exe}: cmake --build build --target lssd-infer lssd_encoder_probe "
                             "lssd_probe lssd_audio_probe")
    os.makedirs(args.cache, exist_ok=True)
    stamp = datetime.datetime.now().strftime("%Y%m%d-%H%M%S")
    results = {"started": stamp, "host": os.uname().nodename, "cpus": os.cpu_count(), "threads": args.threads,
               "device": args.device, "frontend": "f" in legs,
               "batch": args.batch, "b_split": args.b_split, "env_LSSD_CPU_MAX_BATCH": os.environ.get("LSSD_CPU_MAX_BATCH"), "corpus": args.corpus, "max_files": args.max_files, "overrides":
               args.infer_override, "infer_bin": args.infer_bin, "kernels": args.kernels, "load_start": loadavg(), "runs": []}
    t_start = time.monotonic()
    precisions = args.precision.split(",") if args.precision else [None]
    results["precisions"] = precisions
    if legs & {"a", "b", "c", "d"}:
        data, files = prepare_corpus(args)
        log(f"corpus {data}: {len(files)} files; threads {args.threads}, batch {args.batch}")
        for model in args.model.split(","):
            model_dir, ref_dir = prepare_model(model, args)
            work = os.path.join(args.cache, "work", f"{stamp}-{model}")
            os.makedirs(work, exist_ok=True)
            base = {"model": model, "model_dir": model_dir, "reference_model_dir": ref_dir,
                    "kernels": export_kernels(os.path.join(model_dir, "video.pt")),
                    "reference_kernels": export_kernels(os.path.join(ref_dir, "video.pt")),
                    "corpus": args.corpus, "data": data, "files": len(files)}
            rounds = {p: [] for p in precisions}
            for k in range(max(args.repeat, 1)):
                tag = f"[{model}]" + (f" round {k + 1}/{args.repeat}" if args.repeat > 1 else "")
                for i, p in enumerate(precisions[k % len(precisions):] + precisions[:k % len(precisions)]):
                    rounds[p].append(run_round(args, legs, f"{tag}" + (f" {p}" if p else ""), model_dir, ref_dir,
                                               data, files, work, p, with_c=i == 0))
                # leg c runs once per round (it does not depend on the precision): every precision's row gets it
                c_run = next((r["c"] for p in precisions for r in rounds[p][-1:] if "c" in r), None)
                for p in precisions:
                    if c_run is not None:
                        rounds[p][-1]["c"] = c_run
            d_run = leg_d(args, data, files) if "d" in legs else None
            for p in precisions:
                run = dict(base, precision=p)
                summarise(run, rounds[p], args, legs, data, files, work, d_run)
                results["runs"].append(run)
            if len(precisions) > 1 and "a" in legs:
                results.setdefault("precision_compare", []).append(compare_precisions(args, model, rounds, precisions))
    if "f" in legs and not legs & {"a", "b", "c", "d"}:  # the front-end alone, per file, on any directory
        data, _ = prepare_corpus(args)
        log(f"f: front-end per file in {data}, {args.threads} decoder thread(s), load {loadavg()}")
        results["f_files"] = leg_frontend_files(args, data)
    if "e" in legs:
        log(f"e: peak RSS, load {loadavg()}")
        results["e"] = leg_e(args, os.path.join(args.cache, "work", f"{stamp}-rss"))
    results["load_end"] = loadavg()
    results["total_s"] = time.monotonic() - t_start
    table = report(results)
    if results.get("precision_compare"):
        table += "\n" + precision_report(results)
    if results.get("f_files"):
        table = (table + "\n\n" if table.strip() else "") + frontend_table(results["f_files"])
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
