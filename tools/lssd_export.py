#!/usr/bin/python3
"""Export the LSSD encoder towers of a release-layout checkpoint to TorchScript.

  lssd_export.py --checkpoint CKPT --out-dir DIR [--config CONFIG.yaml] [--size S|B|tiny]
                 [--patch-overlap true|false] [--modality video|audio|both] [--kernels fast|reference]
                 [--fast-gemm auto|blas|onednn] [--no-verify]
      Writes DIR/video.pt ([B,3,16,224,224] -> [B,768]) and DIR/audio.pt ([B,1,96,288] -> [B,768]),
      valid for any batch size B. Size, patch overlap and variant are inferred from the checkpoint;
      --size / --patch-overlap, when given, must agree (exit 2 otherwise). Loading is strict.
      --config: the model's config.yaml (a released one, or configs/*.yaml): its MVIT.SIZE and
      MVIT.PATCH_OVERLAP (release defaults S, False) must agree with the checkpoint, and a key that
      would change the towers (MVIT.USE_MEAN_POOLING, ...) away from its default is refused (exit 2).
      --kernels (default fast): the formulation of the forward (tools/lssd_mvit.py): "fast" runs
      faster kernels on CPU float32 inputs and the reference ops on any other device or dtype
      (CUDA); "reference" is the formulation of the oracle tests everywhere. --fast-gemm: with
      fast kernels, the linears and attention products through the BLAS ("blas", as the
      reference) or oneDNN ("onednn"); "auto" (default) times both on this machine, one thread,
      and takes oneDNN only when it is at least 1.25x faster (it is 4x where OpenBLAS runs its
      generic kernels on a CPU it does not know; with kernels for the CPU the BLAS is as fast).
      The metadata's "kernels" and "fast_gemm" record the choice (with the timing).
      A fast export also holds the towers' bf16 forward as the method forward_bf16 (what lssd-infer
      runs for RUNTIME.PRECISION bf16 on CPU; lssd_mvit.py "Precision"; metadata "bf16_method"),
      with its bf16 weight copies saved empty (lssd-infer, lssd_mvit.prepare_bf16 fill them).
      Each module is traced at batch 2 in eval mode and verified at batch 1 and 3 (the traced
      module run as lssd-infer runs it, without the graph executor's optimisations) against the
      eager model with the same kernels (max abs diff <= 1e-5) and, for "fast", against the eager
      reference formulation (<= 1e-4), and forward_bf16 against the eager bf16 forward (<= 1e-5)
      with its lowest cosine to the float32 reference reported (batch_B_bf16_min_cos_vs_fp32; a
      warning below 0.999); the JSON metadata is embedded as the TorchScript extra file
      "lssd_meta.json".
  lssd_export.py --check --out-dir DIR [--checkpoint CKPT] [--config CONFIG.yaml] [--modality ...]
      Re-checks exported modules: metadata present and well-formed, output shape [B,768] at
      batch 1 and 3, batch-independence (row 0 of batch 3 equals batch 1), and, when a checkpoint
      is given, its sha256 and the max abs diff against the eager model (with the module's kernels,
      <= 1e-5; for "fast" also against the reference formulation, <= 1e-4, and forward_bf16 against
      the eager bf16 forward, <= 1e-5); with --config, that the modules' size and patch overlap are
      the config's.

Prints one JSON report on stdout. Exit status: 0 success; 1 bad checkpoint / failed
verification / failed check; 2 usage error or --size/--patch-overlap disagreeing with the
checkpoint.
"""

import argparse
import json
import os
import sys
import time
from typing import Dict, Optional

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from lssd_pydeps import require  # noqa: E402

require("torch", main=__name__ == "__main__")
import torch  # noqa: E402

import lssd_checkpoint as ck  # noqa: E402
import lssd_mvit  # noqa: E402
import lssd_pydeps  # noqa: E402
import lssd_release_config  # noqa: E402

FORMAT = "lssd-encoder"
FORMAT_VERSION = 1
EXPORTER_VERSION = "1.2.0"
META_NAME = "lssd_meta.json"
TRACE_BATCH = 2
VERIFY_BATCHES = (1, 3)
TOLERANCE = 1e-5
# Fast kernels against the reference formulation (summation order only; measured ~4e-6).
FAST_TOLERANCE = 1e-4
# The bf16 method (fast exports): what lssd-infer runs for RUNTIME.PRECISION bf16 on CPU.
BF16_METHOD = "forward_bf16"
# Reported, not enforced: the lowest cosine of the bf16 method's outputs against the float32
# reference (seeded-random towers: >= 0.9999); below it the export prints a warning.
BF16_MIN_COS = 0.999
# The default: faster on CPU (tools/bench/kernels.py); on CUDA a "fast" module runs the reference ops.
DEFAULT_KERNELS = "fast"
# --fast-gemm auto takes oneDNN's GEMMs when they are at least this much faster than the BLAS's.
GEMM_MARGIN = 1.25
# Linear shapes (tokens, in, out) of the S towers that --fast-gemm auto times.
GEMM_PROBE_SHAPES = ((393, 384, 1536), (1569, 192, 768), (129, 768, 3072), (864, 96, 288))
KERNELS_NOTE = {
    "reference": "the reference formulation on every device",
    "fast": "CPU float32 inputs: depthwise pooling as per-tap depthwise conv2d, skip max-pooling "
            "per frame, linears and attention products through {gemm}; any other device or dtype "
            "(CUDA; fp16 inputs): the reference ops; method forward_bf16 (RUNTIME.PRECISION bf16 on CPU): "
            "the fast kernels with linears, attention products, pooling and the video patch embedding in "
            "bf16 (oneDNN), layer norms, softmax and residual adds float32",
}
GEMM_NAMES = {"blas": "the BLAS (as the reference)", "onednn": "oneDNN"}

PREPROCESSING = {
    "video": {
        "fps": 25, "n_frames": 16, "short_side": 256, "crop": 224, "five_crop": True,
        "five_crop_order": ["top_left", "top_right", "bottom_left", "bottom_right", "center"],
        "scale": "1/255", "mean": None, "std": None, "resize": "bilinear, align_corners=False, no antialias",
        "layout": "C,T,H,W (RGB)",
    },
    "audio": {
        "sample_rate": 48000, "n_fft": 1024, "win_length": 1024, "hop_length": 501, "n_mels": 96,
        "window": "hann_periodic", "power": 2.0, "center": True, "pad_mode": "reflect",
        "mel_scale": "htk", "f_min": 0.0, "f_max": 24000.0, "mel_norm": None,
        "crop": [96, 288], "db": "10*log10(max(x,1e-10))", "top_db": None, "mono": "mean of 2 channels",
        "layout": "1,n_mels,frames",
    },
}


class UsageError(Exception):
    pass


def _bool_arg(v: str) -> bool:
    t = v.strip().lower()
    if t in ("true", "1", "yes", "on"):
        return True
    if t in ("false", "0", "no", "off"):
        return False
    raise argparse.ArgumentTypeError(f"expected true or false, got {v!r}")


def example_input(modality: str, batch: int, seed: int = 0) -> torch.Tensor:
    """Deterministic, plausible encoder inputs: video pixels in [0,1]; audio log-mel in dB."""
    g = torch.Generator().manual_seed(1000 * seed + batch)
    shape = (batch,) + lssd_mvit.INPUT_SHAPE[modality]
    if modality == "video":
        return torch.rand(shape, generator=g)
    return torch.randn(shape, generator=g) * 20.0 - 30.0


def trace(model: lssd_mvit.LSSDTower, modality: str):
    """The exported TorchScript module: `model` traced at batch TRACE_BATCH (no grad); with fast
    kernels also its bf16 forward as the method BF16_METHOD (the model's bf16 weight copies are
    filled first; the traced module shares them, and save() leaves them out of the file)."""
    x = example_input(modality, TRACE_BATCH)
    with torch.no_grad():
        if model.kernels != "fast":
            return torch.jit.trace(model, x, check_trace=False)
        lssd_mvit.prepare_bf16(model)
        return torch.jit.trace_module(model, {"forward": x, BF16_METHOD: x}, check_trace=False)


def has_bf16(module) -> bool:
    """Whether an exported (or traced) module has the bf16 method."""
    return hasattr(module, BF16_METHOD)


def save(module, path: str, meta: Dict) -> None:
    """torch.jit.save with the metadata embedded, through a temporary name; the bf16 weight copies
    are saved empty (lssd-infer and prepare_bf16 make them at load) and restored after."""
    kept = {}
    for name, mod in module.named_modules():
        for attr in lssd_mvit.BF16_COPIES:
            attr += lssd_mvit.BF16_SUFFIX
            if hasattr(mod, attr):
                kept[(name, attr)] = (mod, getattr(mod, attr))
                setattr(mod, attr, torch.empty(0, dtype=torch.bfloat16))
    tmp = path + ".tmp"
    try:
        torch.jit.save(module, tmp, _extra_files={META_NAME: json.dumps(meta, indent=1, sort_keys=True)})
        os.replace(tmp, path)
    finally:
        for (_, attr), (mod, t) in kept.items():
            setattr(mod, attr, t)


def make_meta(model: lssd_mvit.LSSDTower, ckpt: Dict, sha256: str) -> Dict:
    rnd = ckpt.get(ck.RANDOM_MARKER)
    return {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "modality": model.modality,
        "size": model.size,
        "patch_overlap": model.patch_overlap,
        "variant": model.variant,
        "depth": len(model.blocks),
        "input_shape": list(model.input_shape),
        "input_dtype": "float32",
        "output_shape": [lssd_mvit.EMBED_OUT_DIM],
        "embed_dim": lssd_mvit.EMBED_OUT_DIM,
        "preprocessing": PREPROCESSING[model.modality],
        "checkpoint_sha256": sha256,
        "exporter_version": EXPORTER_VERSION,
        "export_method": f"torch.jit.trace at batch {TRACE_BATCH}, eval mode, float32, cpu",
        "kernels": model.kernels,
        "fast_gemm": model.gemm if model.kernels == "fast" else None,
        "kernels_note": KERNELS_NOTE[model.kernels].format(gemm=GEMM_NAMES[model.gemm]),
        # The method lssd-infer runs for RUNTIME.PRECISION bf16 on CPU (None: CPU autocast of forward).
        "bf16_method": BF16_METHOD if model.kernels == "fast" else None,
        "torch_version": torch.__version__,
        "random_weights": rnd is not None,
        "random_seed": rnd.get("seed") if isinstance(rnd, dict) else None,
    }


def max_abs_diff(a: torch.Tensor, b: torch.Tensor) -> float:
    return float((a - b).abs().max())


def eager_outputs(eager: lssd_mvit.LSSDTower, x: torch.Tensor, kernels: str, gemm: str = "blas") -> torch.Tensor:
    """The eager tower's output with the given kernels (its own setting restored after)."""
    before = (eager.kernels, eager.gemm)
    try:
        with torch.no_grad():
            return eager.set_kernels(kernels, gemm)(x)
    finally:
        eager.set_kernels(*before)


def _set_blas_threads(n: int) -> Optional[int]:
    """OpenBLAS's thread count (returns the previous one; None when the BLAS is not OpenBLAS)."""
    import ctypes
    try:
        lib = ctypes.CDLL("libopenblas.so.0")
        prev = lib.openblas_get_num_threads()
        lib.openblas_set_num_threads(n)
        return prev
    except (OSError, AttributeError):
        return None


def measure_gemm(reps: int = 3) -> Dict:
    """GFLOP/s of the BLAS (F.linear) and of oneDNN (mkldnn_linear) on GEMM_PROBE_SHAPES, one
    thread each (as an lssd-infer CPU lane), process CPU time, best of `reps`; the choice by
    GEMM_MARGIN."""
    if not torch.backends.mkldnn.is_available():
        return {"choice": "blas", "reason": "no oneDNN in this torch"}
    threads, blas_prev = torch.get_num_threads(), _set_blas_threads(1)
    torch.set_num_threads(1)
    g = torch.Generator().manual_seed(0)
    flops, cost = 0.0, {"blas": 0.0, "onednn": 0.0}
    try:
        with torch.no_grad():
            for n, k, m in GEMM_PROBE_SHAPES:
                x, w, b = torch.randn(n, k, generator=g), torch.randn(m, k, generator=g), torch.randn(m, generator=g)
                fns = {"blas": lambda: torch.nn.functional.linear(x, w, b),
                       "onednn": lambda: lssd_mvit.fast_linear(x, w, b)}
                flops += 2.0 * n * k * m
                for name, fn in fns.items():
                    fn()
                    best = float("inf")
                    for _ in range(reps):
                        c0 = time.process_time()
                        fn()
                        best = min(best, time.process_time() - c0)
                    cost[name] += max(best, 1e-9)
    finally:
        torch.set_num_threads(threads)
        if blas_prev is not None:
            _set_blas_threads(blas_prev)
    gf = {name: flops / c / 1e9 for name, c in cost.items()}
    choice = "onednn" if gf["onednn"] >= GEMM_MARGIN * gf["blas"] else "blas"
    return {"choice": choice, "blas_gflops": round(gf["blas"], 1), "onednn_gflops": round(gf["onednn"], 1),
            "rule": f"onednn if >= {GEMM_MARGIN}x the BLAS (one thread, S linear shapes)"}


def min_cosine(a: torch.Tensor, b: torch.Tensor) -> float:
    """The lowest cosine similarity between corresponding rows."""
    return float(torch.nn.functional.cosine_similarity(a.double(), b.double(), dim=1).min())


def eager_bf16(eager: lssd_mvit.LSSDTower, x: torch.Tensor, gemm: str) -> torch.Tensor:
    """The eager tower's bf16 forward (fast kernels; its own setting restored after)."""
    before = (eager.kernels, eager.gemm)
    try:
        eager.set_kernels("fast", gemm)
        lssd_mvit.prepare_bf16(eager)
        with torch.no_grad():
            return eager.forward_bf16(x)
    finally:
        eager.set_kernels(*before)


def verify(traced, eager: lssd_mvit.LSSDTower, modality: str, kernels: str, gemm: str = "blas") -> Dict[str, float]:
    """Max abs diffs of the traced module against the eager tower at batch 1 and 3: with the same
    kernels ("batch_B_max_abs_diff", limit TOLERANCE) and, for fast kernels, with the reference
    formulation ("batch_B_max_abs_diff_vs_reference", limit FAST_TOLERANCE); for fast kernels also
    the traced bf16 method against the eager bf16 forward ("batch_B_bf16_max_abs_diff", limit
    TOLERANCE) and its lowest cosine to the float32 reference ("batch_B_bf16_min_cos_vs_fp32",
    reported)."""
    diffs = {}
    with torch.no_grad():
        for b in VERIFY_BATCHES:
            x = example_input(modality, b)
            y_t = traced(x)
            if tuple(y_t.shape) != (b, lssd_mvit.EMBED_OUT_DIM):
                raise RuntimeError(f"{modality}: traced output shape {list(y_t.shape)} at batch {b}")
            diffs[f"batch_{b}_max_abs_diff"] = max_abs_diff(eager_outputs(eager, x, kernels, gemm), y_t)
            if kernels != "reference":
                y_ref = eager_outputs(eager, x, "reference")
                diffs[f"batch_{b}_max_abs_diff_vs_reference"] = max_abs_diff(y_ref, y_t)
            if has_bf16(traced):
                y16 = getattr(traced, BF16_METHOD)(x)
                diffs[f"batch_{b}_bf16_max_abs_diff"] = max_abs_diff(eager_bf16(eager, x, gemm), y16)
                diffs[f"batch_{b}_bf16_min_cos_vs_fp32"] = min_cosine(y_ref, y16)
    return diffs


def verify_failures(diffs: Dict[str, float]) -> Dict[str, float]:
    """The diffs over their limits (the bf16 cosines are reported, not limits)."""
    return {k: v for k, v in diffs.items() if not k.endswith("_min_cos_vs_fp32")
            and not v <= (FAST_TOLERANCE if k.endswith("_vs_reference") else TOLERANCE)}


def bf16_warnings(diffs: Dict[str, float]) -> Dict[str, float]:
    """The bf16 cosines below BF16_MIN_COS."""
    return {k: v for k, v in diffs.items() if k.endswith("_min_cos_vs_fp32") and not v >= BF16_MIN_COS}


def export(args) -> Dict:
    t0 = time.time()
    if args.kernels == "fast" and args.fast_gemm == "onednn" and not torch.backends.mkldnn.is_available():
        raise UsageError("--fast-gemm onednn needs a torch built with oneDNN (torch.backends.mkldnn); "
                         "use --fast-gemm blas")
    ckpt = ck.read_checkpoint(args.checkpoint)
    towers_sd = ck.split_backbone(ckpt["model"])
    archs = {m: ck.infer_arch(sd, m) for m, sd in towers_sd.items()}
    if len(set(archs.values())) != 1:
        raise ck.CheckpointError("the two towers disagree on the architecture: "
                                 + ", ".join(f"{m}: size {s}, patch_overlap {o}" for m, (s, o) in archs.items()))
    size, overlap = archs["video"]
    check_config(args, size, overlap)
    if args.size is not None and args.size != size:
        raise UsageError(f"--size {args.size} disagrees with the checkpoint, which holds size {size} "
                         f"towers ({lssd_mvit.SIZE_RULES[size]['depth']} blocks)")
    if args.patch_overlap is not None and args.patch_overlap != overlap:
        raise UsageError(f"--patch-overlap {str(args.patch_overlap).lower()} disagrees with the checkpoint, "
                         f"whose patch embedding is {'overlapping' if overlap else 'non-overlapping'} "
                         f"(patch_overlap {str(overlap).lower()})")
    sha = ck.sha256_file(args.checkpoint)
    modalities = lssd_mvit.MODALITIES if args.modality == "both" else (args.modality,)
    # Load both towers strictly even when exporting one, so a broken checkpoint never half-exports.
    models = {m: ck.load_tower(towers_sd[m], m, size, overlap) for m in lssd_mvit.MODALITIES}
    gemm, gemm_measured = "blas", None
    if args.kernels == "fast":
        gemm = args.fast_gemm
        if gemm == "auto":
            gemm_measured = measure_gemm()
            gemm = gemm_measured["choice"]
    os.makedirs(args.out_dir, exist_ok=True)
    report = {"checkpoint": args.checkpoint, "checkpoint_sha256": sha, "size": size,
              "patch_overlap": overlap, "variant": models["video"].variant, "kernels": args.kernels,
              "fast_gemm": gemm if args.kernels == "fast" else None, "out_dir": args.out_dir, "modules": {}}
    if gemm_measured:
        report["fast_gemm_measured"] = gemm_measured
    failed = []
    for m in modalities:
        t1 = time.time()
        model = models[m].set_kernels(args.kernels, gemm)
        traced = trace(model, m)
        meta = make_meta(model, ckpt, sha)
        if gemm_measured:
            meta["fast_gemm_measured"] = gemm_measured
        entry = {"path": os.path.join(args.out_dir, f"{m}.pt"), "kernels": args.kernels}
        if args.verify:
            diffs = verify(traced, model, m, args.kernels, gemm)
            entry.update(diffs)
            low = bf16_warnings(diffs)
            if low:
                print(f"lssd_export: warning: {m}: the bf16 method's outputs have cosine {low} to float32 (< "
                      f"{BF16_MIN_COS}); RUNTIME.PRECISION bf16 on CPU will move embeddings that much",
                      file=sys.stderr)
            bad = verify_failures(diffs)
            if bad:
                failed.append(f"{m}: traced vs eager {bad} exceeds {TOLERANCE} (same kernels) / "
                              f"{FAST_TOLERANCE} (vs reference); not written")
                report["modules"][m] = entry
                continue
        save(traced, entry["path"], meta)
        entry["seconds"] = round(time.time() - t1, 2)
        report["modules"][m] = entry
    report["random_weights"] = ck.RANDOM_MARKER in ckpt
    report["seconds"] = round(time.time() - t0, 2)
    if failed:
        report["error"] = "; ".join(failed)
    return report


def check_config(args, size: str, overlap: bool) -> None:
    """--config: the config's MVIT.SIZE / MVIT.PATCH_OVERLAP are the checkpoint's (UsageError)."""
    if not args.config:
        return
    cfg = lssd_release_config.read_tower_config(args.config)
    if cfg["size"] != size:
        raise UsageError(f"{args.config}: MVIT.SIZE {cfg['size']} disagrees with the checkpoint, which holds "
                         f"size {size} towers ({lssd_mvit.SIZE_RULES[size]['depth']} blocks)")
    if cfg["patch_overlap"] != overlap:
        raise UsageError(f"{args.config}: MVIT.PATCH_OVERLAP {cfg['patch_overlap']} disagrees with the checkpoint, "
                         f"whose patch embedding is {'overlapping' if overlap else 'non-overlapping'} "
                         f"(MVIT.PATCH_OVERLAP {overlap})")


def read_meta(path: str):
    """(module, metadata dict) of an exported encoder."""
    files = {META_NAME: ""}
    module = torch.jit.load(path, map_location="cpu", _extra_files=files)
    if not files[META_NAME]:
        raise RuntimeError(f"{path}: no {META_NAME} extra file (not an LSSD encoder export)")
    return module, json.loads(files[META_NAME])


def check(args) -> Dict:
    modalities = lssd_mvit.MODALITIES if args.modality == "both" else (args.modality,)
    report = {"out_dir": args.out_dir, "modules": {}}
    problems = []
    eager: Dict[str, Optional[torch.nn.Module]] = {m: None for m in modalities}
    sha = None
    if args.checkpoint:
        ckpt, models = ck.load_checkpoint_towers(args.checkpoint)
        sha = ck.sha256_file(args.checkpoint)
        eager.update({m: models[m] for m in modalities})
    for m in modalities:
        path = os.path.join(args.out_dir, f"{m}.pt")
        entry: Dict = {"path": path}
        report["modules"][m] = entry
        if not os.path.isfile(path):
            problems.append(f"{path}: missing")
            continue
        module, meta = read_meta(path)
        entry["meta"] = meta
        try:
            check_config(args, meta.get("size"), meta.get("patch_overlap"))
        except UsageError as e:
            problems.append(f"{path}: {e}")
        want = {"format": FORMAT, "format_version": FORMAT_VERSION, "modality": m,
                "input_shape": list(lssd_mvit.INPUT_SHAPE[m]), "embed_dim": lssd_mvit.EMBED_OUT_DIM}
        for k, v in want.items():
            if meta.get(k) != v:
                problems.append(f"{path}: metadata {k}={meta.get(k)!r}, expected {v!r}")
        if sha is not None and meta.get("checkpoint_sha256") != sha:
            problems.append(f"{path}: exported from checkpoint {meta.get('checkpoint_sha256')}, not {sha}")
        # Exports older than the kernels option hold the reference formulation.
        kernels = meta.get("kernels", "reference")
        gemm = meta.get("fast_gemm") or "blas"
        if kernels not in lssd_mvit.KERNELS or gemm not in lssd_mvit.GEMMS:
            problems.append(f"{path}: metadata kernels={kernels!r} fast_gemm={gemm!r}, expected one of "
                            f"{lssd_mvit.KERNELS} / {lssd_mvit.GEMMS}")
            kernels, gemm = "reference", "blas"
        bf16 = has_bf16(module)
        if bool(meta.get("bf16_method")) != bf16:
            problems.append(f"{path}: metadata bf16_method={meta.get('bf16_method')!r}, but the module "
                            f"{'has' if bf16 else 'has no'} method {BF16_METHOD}")
        if bf16:
            lssd_mvit.prepare_bf16(module)
        with torch.no_grad():
            outs = {}
            for b in VERIFY_BATCHES:
                x = example_input(m, b)
                y = module(x)
                outs[b] = (x, y)
                if bf16:
                    y16 = getattr(module, BF16_METHOD)(x)
                    if tuple(y16.shape) != (b, lssd_mvit.EMBED_OUT_DIM) or not bool(torch.isfinite(y16).all()):
                        problems.append(f"{path}: batch {b}: {BF16_METHOD} output shape {list(y16.shape)} or "
                                        "non-finite values")
                    elif eager[m] is not None:
                        d = max_abs_diff(eager_bf16(eager[m], x, gemm), y16)
                        entry[f"batch_{b}_bf16_max_abs_diff"] = d
                        if not d <= TOLERANCE:
                            problems.append(f"{path}: batch {b}: {BF16_METHOD} differs from the eager bf16 forward by {d}")
                        entry[f"batch_{b}_bf16_min_cos_vs_fp32"] = min_cosine(eager_outputs(eager[m], x, "reference"), y16)
                if tuple(y.shape) != (b, lssd_mvit.EMBED_OUT_DIM) or not bool(torch.isfinite(y).all()):
                    problems.append(f"{path}: batch {b}: output shape {list(y.shape)} or non-finite values")
                    continue
                if eager[m] is not None:
                    d = max_abs_diff(eager_outputs(eager[m], x, kernels, gemm), y)
                    entry[f"batch_{b}_max_abs_diff"] = d
                    if not d <= TOLERANCE:
                        problems.append(f"{path}: batch {b} differs from eager ({kernels} kernels) by {d}")
                    if kernels != "reference":
                        d = max_abs_diff(eager_outputs(eager[m], x, "reference"), y)
                        entry[f"batch_{b}_max_abs_diff_vs_reference"] = d
                        if not d <= FAST_TOLERANCE:
                            problems.append(f"{path}: batch {b} differs from the reference formulation by {d}")
            # Batch independence: the first sample through a batch of 3 vs alone.
            x3, y3 = outs[3]
            d = max_abs_diff(module(x3[:1]), y3[:1])
            entry["batch_independence_max_abs_diff"] = d
            if d > TOLERANCE:
                problems.append(f"{path}: batch-dependent output ({d})")
    if problems:
        report["error"] = "; ".join(problems)
    return report


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--checkpoint", help="release-layout checkpoint (.pyth)")
    ap.add_argument("--out-dir", required=True, help="directory for video.pt / audio.pt")
    ap.add_argument("--config", metavar="CONFIG.yaml",
                    help="the model's config.yaml (released or configs/*.yaml): MVIT.SIZE / MVIT.PATCH_OVERLAP "
                         "must match the checkpoint")
    ap.add_argument("--size", choices=lssd_mvit.SIZES, help="expected size (must match the checkpoint)")
    ap.add_argument("--patch-overlap", type=_bool_arg, metavar="true|false",
                    help="expected MVIT.PATCH_OVERLAP (must match the checkpoint)")
    ap.add_argument("--modality", choices=("video", "audio", "both"), default="both")
    ap.add_argument("--kernels", choices=lssd_mvit.KERNELS, default=DEFAULT_KERNELS,
                    help=f"formulation of the exported forward (default {DEFAULT_KERNELS}: faster on CPU; "
                         "CUDA runs the reference ops either way)")
    ap.add_argument("--fast-gemm", choices=("auto",) + lssd_mvit.GEMMS, default="auto",
                    help="with --kernels fast: linears and attention products through the BLAS or oneDNN; "
                         "auto (default): whichever measures faster here (oneDNN only at >= "
                         f"{GEMM_MARGIN}x)")
    ap.add_argument("--no-verify", dest="verify", action="store_false",
                    help="skip the traced-vs-eager check at batch 1 and 3")
    ap.add_argument("--check", action="store_true", help="check existing exports instead of exporting")
    ap.add_argument("--threads", type=int, default=0, help="torch CPU threads (0: torch default)")
    args = ap.parse_args(argv)
    if args.threads > 0:
        torch.set_num_threads(args.threads)
    if not args.check and not args.checkpoint:
        ap.error("--checkpoint is required unless --check is given")
    try:
        # Traced and scripted graphs run as lssd-infer runs them (src/encoder/encoder_runtime.cc): without the graph
        # executor's optimisations. Debian 13's torch 2.6 spends minutes (tiny towers: > 20 min)
        # in its profiling executor's specialisation passes on a traced tower's first calls.
        with torch.jit.optimized_execution(False):
            report = check(args) if args.check else export(args)
    except (UsageError, lssd_release_config.ConfigFileError) as e:
        print(f"lssd_export: error: {e}", file=sys.stderr)
        return 2
    except lssd_pydeps.MissingModule as e:
        print(f"lssd_export: error: {e}", file=sys.stderr)
        return 1
    except ck.CheckpointError as e:
        print(f"lssd_export: error: {e}", file=sys.stderr)
        return 1
    print(json.dumps(report, indent=1))
    if "error" in report:
        print(f"lssd_export: error: {report['error']}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
