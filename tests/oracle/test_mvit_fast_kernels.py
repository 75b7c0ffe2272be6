#!/usr/bin/python3
"""Fast kernels against the reference formulation (tools/lssd_mvit.py, lssd_export.py --kernels).

For each config (S and S_overlap here; B and B_overlap in test_mvit_fast_kernels_B_slow.py) and
both towers, with seeded random weights loaded strictly into one eager tower:
  * the exported fast modules (traced as lssd_export traces them; GEMMs through the BLAS and
    through oneDNN) against the eager reference formulation at batch 1 and 3: max abs diff
    <= 1e-4, output shape [B,768];
  * the traced fast graphs really hold the fast kernels (conv2d, for video max_pool2d, and with
    oneDNN GEMMs mkldnn_linear; with BLAS GEMMs none of those) and the traced reference graph none;
  * state_dict() is the same object set for both formulations (same keys, same tensors);
  * the bf16 method of the fast modules (lssd-infer's CPU bf16) against the eager bf16 forward
    (max abs diff <= 1e-5) and against the float32 reference at batch 1 and 3 (lowest cosine
    >= 0.999; seeded-random towers), its graph with bfloat16 products (aten::linear and
    aten::matmul on bfloat16 casts), the forward's graph without any bfloat16.
For S (no overlap), both towers: inputs that are not CPU float32 take the reference ops (what a
CUDA run does): the fast module in float64 equals the reference module in float64 to 1e-12.
Traced modules run with graph optimisation off (lssd-infer's default executor, "simple").
"""

import sys
import time

import torch

import lssd_oracle_common as common

import lssd_checkpoint as ck  # noqa: E402
import lssd_export  # noqa: E402
import lssd_mvit  # noqa: E402

TOL = 1e-4
FAST_OPS = {"video": ("aten::conv2d", "aten::max_pool2d"), "audio": ("aten::conv2d",)}
ONEDNN_OP = "aten::mkldnn_linear"


def graph_ops(traced) -> str:
    return str(traced.inlined_graph)


def check_config(c: common.Checker, name: str, modality: str) -> None:
    size, overlap = name.split("_")[0], name.endswith("_overlap")
    tower = lssd_mvit.build_tower(modality, size, overlap)
    sd = ck.random_tower_state_dict(modality, size, overlap, seed=3, tower=tower)
    tower.load_state_dict(sd, strict=True)
    tower.eval()
    tag = f"{name} {modality}"
    keys_ref = {k: v.data_ptr() for k, v in tower.state_dict().items()}
    fast = {g: lssd_export.trace(tower.set_kernels("fast", g), modality) for g in lssd_mvit.GEMMS}
    keys_fast = {k: v.data_ptr() for k, v in tower.state_dict().items()}
    c.check(keys_ref == keys_fast, f"{tag}: state_dict keys and tensors unchanged by set_kernels('fast')")
    ref_traced = lssd_export.trace(tower.set_kernels("reference"), modality)
    g_ref = graph_ops(ref_traced)
    for g, mod in fast.items():
        g_fast = graph_ops(mod)
        want = FAST_OPS[modality] + ((ONEDNN_OP,) if g == "onednn" else ())
        missing = [op for op in want if op not in g_fast]
        extra = [ONEDNN_OP] if g == "blas" and ONEDNN_OP in g_fast else []
        leaked = [op for op in FAST_OPS[modality] + (ONEDNN_OP,) if op in g_ref]
        c.check(not missing and not leaked and not extra,
                f"{tag}: fast/{g} graph holds {', '.join(want)}; reference graph none"
                + (f" (missing {missing}, unexpected {extra}, in reference {leaked})" if missing or leaked or extra else ""))
        # (Graphs read before any run: running a traced method can rewrite its graph.)
        bf16 = str(getattr(mod, lssd_export.BF16_METHOD).inlined_graph)
        found = {"bf16 in forward": "BFloat16" in g_fast, "linear": "aten::linear" in bf16,
                 "matmul": "aten::matmul" in bf16, "bf16": "BFloat16" in bf16}
        c.check(found == {"bf16 in forward": False, "linear": True, "matmul": True, "bf16": True},
                f"{tag}: fast/{g}: {lssd_export.BF16_METHOD} graph has bfloat16 linears and matmuls, forward none "
                f"({found})")
    with torch.no_grad():
        for b in (1, 3):
            x = lssd_export.example_input(modality, b, seed=21)
            t0 = time.time()
            y_ref = tower(x)
            t_ref = time.time() - t0
            for g, mod in fast.items():
                t1 = time.time()
                with torch.jit.optimized_execution(False):
                    y_fast = mod(x)
                t_fast = time.time() - t1
                d = float((y_fast - y_ref).abs().max())
                c.check(tuple(y_fast.shape) == (b, 768) and d <= TOL,
                        f"{tag} batch {b}: fast/{g} (traced) vs reference (eager) max abs diff {d:.2e} (tol {TOL}); "
                        f"|y| max {float(y_ref.abs().max()):.2f}; reference {t_ref:.2f}s fast {t_fast:.2f}s")
            check_bf16(c, tag, b, tower, fast["blas"], x, y_ref)
    return fast["onednn"]


def check_bf16(c: common.Checker, tag: str, b: int, tower, traced, x, y_ref) -> None:
    with torch.no_grad(), torch.jit.optimized_execution(False):
        t0 = time.time()
        y16 = getattr(traced, lssd_export.BF16_METHOD)(x)
        t16 = time.time() - t0
        d = float((y16 - lssd_export.eager_bf16(tower, x, "blas")).abs().max())
    tower.set_kernels("reference")
    cos = lssd_export.min_cosine(y_ref, y16)
    c.check(d <= 1e-5 and cos >= 0.999,
            f"{tag} batch {b}: bf16 (traced) vs eager bf16 max abs diff {d:.2e} (tol 1e-5); lowest cosine vs "
            f"reference {cos:.6f} (>= 0.999); bf16 {t16:.2f}s")


def check_fallback(c: common.Checker, modality: str, fast) -> None:
    """Not CPU float32 -> the reference ops (float64 stands in for CUDA here: same branch)."""
    tower = lssd_mvit.build_tower(modality, "S", False)
    tower.load_state_dict(ck.random_tower_state_dict(modality, "S", False, seed=3, tower=tower), strict=True)
    tower.eval().double()
    fast = fast.double()
    with torch.no_grad():
        x = lssd_export.example_input(modality, 1, seed=22).double()
        with torch.jit.optimized_execution(False):
            y_fast = fast(x)
        d = float((y_fast - tower(x)).abs().max())
    c.check(d <= 1e-12, f"S {modality}: float64 input through the fast module = the reference formulation "
            f"(max abs diff {d:.1e}, tol 1e-12)")


def main() -> int:
    def extra(ap):
        ap.add_argument("--configs", default="S,S_overlap",
                        help="comma-separated subset of S,S_overlap,B,B_overlap (B and B_overlap run in "
                             "test_mvit_fast_kernels_B_slow.py)")
    args = common.parse_args(__doc__, extra)
    c = common.Checker("test_mvit_fast_kernels")
    torch.manual_seed(0)
    with common.scratch(args.tmp):
        for name in args.configs.split(","):
            for modality in lssd_mvit.MODALITIES:
                fast = check_config(c, name, modality)
                if name == "S":
                    check_fallback(c, modality, fast)
                del fast
    return c.finish()


if __name__ == "__main__":
    sys.exit(main())
