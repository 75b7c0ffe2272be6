#!/usr/bin/python3
"""tools/lssd_checkpoint.py and tools/lssd_export.py, end to end.

* random S and tiny checkpoints (CLI) load strictly; the tiny generator is deterministic;
  non-backbone keys are ignored;
* a removed key, a changed shape, an unexpected backbone key each fail with the key named;
  a file that is not an LSSD checkpoint fails clearly; --size / --patch-overlap disagreeing with
  the checkpoint exit 2;
* export (CLI) of tiny and S with the default kernels (fast; --fast-gemm auto), and of tiny with
  --kernels reference: TorchScript vs eager with the same kernels at batch 1 and 3, max abs diff <= 1e-5,
  and (fast) vs the eager reference formulation <= 1e-4 (measured here on the saved files,
  independently of the exporter's own check); metadata lssd_meta.json present and correct,
  "kernels" and "fast_gemm" included (read back with torch.jit.load(_extra_files=...)); random_weights true;
  --check passes;
* fast exports carry the bf16 method (metadata "bf16_method"), saved with its bf16 weight copies
  empty: after prepare_bf16 it equals the eager bf16 forward (<= 1e-5) and is within cosine 0.999
  of the float32 reference; reference exports have none.
"""

import contextlib
import io
import json
import os
import subprocess
import sys

import torch

import lssd_oracle_common as common

import lssd_checkpoint as ck  # noqa: E402
import lssd_export  # noqa: E402
import lssd_mvit  # noqa: E402

TOL = 1e-5
CKPT_TOOL = os.path.join(common.TOOLS, "lssd_checkpoint.py")
EXPORT_TOOL = os.path.join(common.TOOLS, "lssd_export.py")


def run(cmd):
    """Run a tool as a subprocess (exercises the CLI exactly as users call it)."""
    p = subprocess.run([sys.executable] + cmd, capture_output=True, text=True)
    return p.returncode, p.stdout, p.stderr


def run_inproc(cmd):
    """Run a tool's main() in this process (same code path, without paying torch's import again)."""
    tool, argv = cmd[0], cmd[1:]
    main_fn = {EXPORT_TOOL: lssd_export.main, CKPT_TOOL: ck.main}[tool]
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            rc = main_fn(argv)
        except SystemExit as e:  # argparse errors
            rc = e.code
    return rc, out.getvalue(), err.getvalue()


def check_bf16(c, tag, m, module, meta, eager, kernels, gemm) -> None:
    has = lssd_export.has_bf16(module)
    c.check(has == (kernels == "fast") and meta.get("bf16_method") == (lssd_export.BF16_METHOD if has else None),
            f"{tag}/{m}: bf16 method {'present' if has else 'absent'}, metadata bf16_method {meta.get('bf16_method')!r}")
    if not has:
        return
    empty = [n for n, b in module.named_buffers() if n.endswith(lssd_mvit.BF16_SUFFIX) and b.numel()]
    c.check(not empty, f"{tag}/{m}: bf16 weight copies saved empty" + (f" (not: {empty[:3]})" if empty else ""))
    n = lssd_mvit.prepare_bf16(module)
    with torch.no_grad():
        x = lssd_export.example_input(m, 2, seed=12)
        y16 = getattr(module, lssd_export.BF16_METHOD)(x)
        d = float((y16 - lssd_export.eager_bf16(eager, x, gemm or "blas")).abs().max())
        cos = lssd_export.min_cosine(lssd_export.eager_outputs(eager, x, "reference"), y16)
    c.check(d <= TOL and cos >= 0.999,
            f"{tag}/{m}: {lssd_export.BF16_METHOD} ({n} copies filled) vs eager bf16 max abs diff {d:.2e}, "
            f"min cosine vs float32 reference {cos:.6f}")


def main() -> int:
    args = common.parse_args(__doc__)
    c = common.Checker("test_checkpoint_export")
    with common.scratch(args.tmp) as tmp:
        paths = {}
        for name, extra, runner in (("tiny", ["--tiny"], run), ("S", ["--size", "S"], run_inproc)):
            paths[name] = os.path.join(tmp, f"random_{name}.pyth")
            rc, out, err = runner([CKPT_TOOL, "random", *extra, "--seed", "0", "-o", paths[name]])
            c.check(rc == 0, f"lssd_checkpoint.py random {' '.join(extra)}: rc {rc} {err.strip()[-300:]}")

        # Strict loading of both, heads ignored, marker present.
        for name, path in paths.items():
            try:
                raw, models = ck.load_checkpoint_towers(path)
                ok = all(m.size == name for m in models.values())
                c.check(ok, f"{name}: strict load, inferred sizes {[m.size for m in models.values()]}")
                heads = [k for k in raw["model"] if k.startswith("head.")]
                c.check(len(heads) > 0, f"{name}: {len(heads)} non-backbone keys present and ignored")
                c.check(raw.get(ck.RANDOM_MARKER, {}).get("seed") == 0, f"{name}: marker {raw.get(ck.RANDOM_MARKER)}")
            except ck.CheckpointError as e:
                c.check(False, f"{name}: strict load failed: {e}")

        # Determinism (tiny).
        a = ck.random_state_dict("tiny", False, 0)
        b = torch.load(paths["tiny"], map_location="cpu")["model"]
        c.check(list(a) == list(b) and all(torch.equal(a[k], b[k]) for k in a),
                "tiny: generator deterministic for a given seed (in-process == CLI file)")
        a1 = ck.random_state_dict("tiny", False, 1)
        c.check(not torch.equal(a1["backbone.net.video.blocks.0.attn.qkv.weight"], a["backbone.net.video.blocks.0.attn.qkv.weight"]),
                "tiny: a different seed gives different weights")

        # Broken checkpoints (tiny based).
        base = torch.load(paths["tiny"], map_location="cpu")

        def broken(name, mutate):
            ck_ = {"model": dict(base["model"]), ck.RANDOM_MARKER: base[ck.RANDOM_MARKER]}
            mutate(ck_)
            p = os.path.join(tmp, f"broken_{name}.pyth")
            torch.save(ck_, p)
            return p

        cases = [
            ("missing", "backbone.net.audio.blocks.1.attn.rel_pos_w",
             lambda d: d["model"].pop("backbone.net.audio.blocks.1.attn.rel_pos_w")),
            ("shape", "backbone.net.video.blocks.2.mlp.fc1.weight",
             lambda d: d["model"].__setitem__("backbone.net.video.blocks.2.mlp.fc1.weight",
                                              d["model"]["backbone.net.video.blocks.2.mlp.fc1.weight"][:-1])),
            ("unexpected", "backbone.net.video.blocks.0.attn.extra_bias",
             lambda d: d["model"].__setitem__("backbone.net.video.blocks.0.attn.extra_bias", torch.zeros(3))),
            ("foreign_backbone", "backbone.net.depth.proj.weight",
             lambda d: d["model"].__setitem__("backbone.net.depth.proj.weight", torch.zeros(3))),
            ("patch_missing", "backbone.net.video.patch_embed.proj.weight",
             lambda d: d["model"].pop("backbone.net.video.patch_embed.proj.weight")),
        ]
        for name, key, mutate in cases:
            p = broken(name, mutate)
            rc, out, err = run_inproc([EXPORT_TOOL, "--checkpoint", p, "--out-dir", os.path.join(tmp, f"out_{name}")])
            c.check(rc == 1 and key in err, f"{name}: export rc {rc}, message names {key}: {err.strip()[-220:]}")
            c.check(not os.path.exists(os.path.join(tmp, f"out_{name}", "video.pt")), f"{name}: nothing exported")

        not_lssd = []
        p1 = os.path.join(tmp, "tensor.pt")
        torch.save(torch.zeros(3), p1)
        not_lssd.append(("a tensor", p1))
        p2 = os.path.join(tmp, "nomodel.pth")
        torch.save({"state_dict": base["model"]}, p2)
        not_lssd.append(("dict without model", p2))
        p3 = os.path.join(tmp, "text.txt")
        with open(p3, "w") as f:
            f.write("hello\n")
        not_lssd.append(("a text file", p3))
        p4 = os.path.join(tmp, "heads_only.pyth")
        torch.save({"model": {"head.video.weight": torch.zeros(2)}}, p4)
        not_lssd.append(("no backbone keys", p4))
        for what, p in not_lssd:
            rc, out, err = (run if what == "a text file" else run_inproc)(
                [EXPORT_TOOL, "--checkpoint", p, "--out-dir", os.path.join(tmp, "out_bad")])
            c.check(rc == 1 and "not an LSSD checkpoint" in err, f"{what}: rc {rc}: {err.strip()[-160:]}")

        for flags, what in ((["--size", "B"], "size"), (["--patch-overlap", "true"], "patch-overlap")):
            rc, out, err = run_inproc([EXPORT_TOOL, "--checkpoint", paths["tiny"], "--out-dir", os.path.join(tmp, "out_x"), *flags])
            c.check(rc == 2 and "disagrees" in err, f"--{what} disagreeing: rc {rc}: {err.strip()[-200:]}")

        # Export and verify.
        for name, kernels in (("tiny", lssd_export.DEFAULT_KERNELS), ("tiny", "reference"),
                              ("S", lssd_export.DEFAULT_KERNELS)):
            out_dir = os.path.join(tmp, f"export_{name}_{kernels}")
            # tiny: the CLI with the exporter's own batch 1/3 verification; S: in-process and
            # --no-verify, since the same measurement is made below on the saved files.
            if name == "tiny":
                rc, out, err = run([EXPORT_TOOL, "--checkpoint", paths[name], "--out-dir", out_dir,
                                    "--size", name, "--patch-overlap", "false", "--kernels", kernels])
            else:
                rc, out, err = run_inproc([EXPORT_TOOL, "--checkpoint", paths[name], "--out-dir", out_dir,
                                           "--size", name, "--patch-overlap", "false", "--no-verify"])
            if not c.check(rc == 0, f"export {name} ({kernels}): rc {rc} {err.strip()[-300:]}"):
                continue
            tag = f"{name} ({kernels})"
            rep = json.loads(out)
            for m, e in rep["modules"].items():
                if "batch_1_max_abs_diff" not in e:
                    print(f"     exported {tag}/{m} in {e['seconds']}s (exporter's check skipped)")
                    continue
                print(f"     exporter's own check {tag}/{m}: batch1 {e['batch_1_max_abs_diff']:.2e} "
                      f"batch3 {e['batch_3_max_abs_diff']:.2e} ({e['seconds']}s)")
            sha = ck.sha256_file(paths[name])
            _, eager = ck.load_checkpoint_towers(paths[name])
            for m in lssd_mvit.MODALITIES:
                path = os.path.join(out_dir, f"{m}.pt")
                files = {lssd_export.META_NAME: ""}
                module = torch.jit.load(path, map_location="cpu", _extra_files=files)
                meta = json.loads(files[lssd_export.META_NAME]) if files[lssd_export.META_NAME] else {}
                want = {
                    "format": "lssd-encoder", "format_version": 1, "modality": m, "size": name,
                    "patch_overlap": False, "variant": "tiny" if name == "tiny" else "full",
                    "input_shape": list(lssd_mvit.INPUT_SHAPE[m]), "embed_dim": 768,
                    "checkpoint_sha256": sha, "random_weights": True, "random_seed": 0, "kernels": kernels,
                }
                wrong = {k: meta.get(k) for k, v in want.items() if meta.get(k) != v}
                c.check(not wrong, f"{tag}/{m}: metadata fields {sorted(want)} correct" + (f" (wrong: {wrong})" if wrong else ""))
                gemm = meta.get("fast_gemm")
                c.check(gemm in lssd_mvit.GEMMS if kernels == "fast" else gemm is None,
                        f"{tag}/{m}: metadata fast_gemm {gemm!r} ({meta.get('fast_gemm_measured')})")
                pre = meta.get("preprocessing", {})
                if m == "video":
                    exp_pre = {"fps": 25, "n_frames": 16, "short_side": 256, "crop": 224, "five_crop": True,
                               "scale": "1/255", "mean": None, "std": None}
                else:
                    exp_pre = {"sample_rate": 48000, "n_fft": 1024, "hop_length": 501, "n_mels": 96,
                               "crop": [96, 288], "db": "10*log10(max(x,1e-10))"}
                wrong = {k: pre.get(k) for k, v in exp_pre.items() if pre.get(k) != v}
                c.check(not wrong and "exporter_version" in meta,
                        f"{tag}/{m}: preprocessing metadata {exp_pre}" + (f" (wrong: {wrong})" if wrong else ""))
                with torch.no_grad():
                    for bsz in (1, 3):
                        x = lssd_export.example_input(m, bsz, seed=11)
                        y_t = module(x)
                        y_e = lssd_export.eager_outputs(eager[m], x, kernels, gemm or "blas")
                        d = float((y_t - y_e).abs().max())
                        c.check(tuple(y_t.shape) == (bsz, 768) and d <= TOL,
                                f"{tag}/{m}: TorchScript vs eager ({kernels}) at batch {bsz}: shape {tuple(y_t.shape)}, "
                                f"max abs diff {d:.2e}")
                        if kernels != "reference":
                            d = float((y_t - lssd_export.eager_outputs(eager[m], x, "reference")).abs().max())
                            c.check(d <= lssd_export.FAST_TOLERANCE,
                                    f"{tag}/{m}: TorchScript vs eager reference formulation at batch {bsz}: "
                                    f"max abs diff {d:.2e} (tol {lssd_export.FAST_TOLERANCE})")
                check_bf16(c, tag, m, module, meta, eager[m], kernels, gemm)
            if name == "tiny":
                rc, out, err = run_inproc([EXPORT_TOOL, "--check", "--out-dir", out_dir, "--checkpoint", paths[name]])
                c.check(rc == 0, f"--check {tag}: rc {rc} {err.strip()[-200:]}")
    return c.finish()


if __name__ == "__main__":
    sys.exit(main())
