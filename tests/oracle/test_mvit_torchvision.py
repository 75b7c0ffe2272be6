#!/usr/bin/python3
"""Our video towers vs torchvision's MViT (an independent port of PySlowFast's MViTv2).

For each config (S and S_overlap here; B and B_overlap in test_mvit_torchvision_B_slow.py) build torchvision.models.video.mvit.MViT
with the block settings of blocks_video_*.tsv, residual_pool=True, residual_with_cls_embed=False,
rel_pos_embed=True, proj_after_attn=True, the same patch-embedding kernel/stride/padding and the
head replaced by Identity; copy our seeded random weights into it (key map below), and compare in
eval mode at batch 1: torchvision gets the input after our input BatchNorm (torchvision has none),
so the running statistics are non-trivial and still exact. Max abs diff must be <= 1e-4.
(S_overlap is torchvision's mvit_v2_s configuration.)
"""

import sys
import time

import torch
import torch.nn as nn

import lssd_oracle_common as common

import lssd_checkpoint as ck  # noqa: E402
import lssd_mvit  # noqa: E402

TOL = 1e-4


def torchvision_model(size: str, overlap: bool) -> nn.Module:
    from torchvision.models.video.mvit import MSBlockConfig, MViT
    _, rows = common.read_blocks_tsv("video", size, overlap)
    cfg = [MSBlockConfig(num_heads=r["num_heads"], input_channels=r["dim_in"], output_channels=r["dim_out"],
                         kernel_q=r["kernel_q"], kernel_kv=r["kernel_kv"], stride_q=r["stride_q"],
                         stride_kv=r["stride_kv"]) for r in rows]
    k, s, p = lssd_mvit.PATCH_GEOMETRY[("video", overlap)]
    m = MViT(spatial_size=(224, 224), temporal_size=16, block_setting=cfg, residual_pool=True,
             residual_with_cls_embed=False, rel_pos_embed=True, proj_after_attn=True,
             stochastic_depth_prob=0.0, patch_embed_kernel=k, patch_embed_stride=s, patch_embed_padding=p)
    m.head = nn.Identity()
    return m.eval()


def map_key(k: str) -> str:
    """Our state-dict key -> torchvision's."""
    if k == "cls_token":
        return "pos_encoding.class_token"
    if k.startswith("patch_embed.proj."):
        return "conv_proj." + k.split(".")[-1]
    parts = k.split(".")
    if parts[0] == "blocks":
        head, rest = ".".join(parts[:2]), parts[2:]
        r = ".".join(rest)
        table = {
            "attn.proj": "attn.project.0", "mlp.fc1": "mlp.0", "mlp.fc2": "mlp.3", "proj": "project",
            "attn.pool_q": "attn.pool_q.pool", "attn.pool_k": "attn.pool_k.pool", "attn.pool_v": "attn.pool_v.pool",
            "attn.norm_q": "attn.pool_q.norm_act.0", "attn.norm_k": "attn.pool_k.norm_act.0",
            "attn.norm_v": "attn.pool_v.norm_act.0",
        }
        mod, leaf = ".".join(rest[:-1]), rest[-1]
        if mod in table:
            return f"{head}.{table[mod]}.{leaf}"
        return f"{head}.{r}"
    return k


def main() -> int:
    def extra(ap):
        ap.add_argument("--configs", default="S,S_overlap",
                        help="comma-separated subset of S,S_overlap,B,B_overlap (B and B_overlap run in "
                             "test_mvit_torchvision_B_slow.py)")
    args = common.parse_args(__doc__, extra)
    c = common.Checker("test_mvit_torchvision")
    torch.manual_seed(0)
    with common.scratch(args.tmp), torch.no_grad():
        for name in args.configs.split(","):
            size, overlap = name.split("_")[0], name.endswith("_overlap")
            ours = lssd_mvit.build_tower("video", size, overlap).eval()
            sd = ck.random_tower_state_dict("video", size, overlap, seed=7, tower=ours)
            ours.load_state_dict(sd, strict=True)
            tv = torchvision_model(size, overlap)
            tv_sd = tv.state_dict()
            mapped = {}
            for k, v in sd.items():
                if k.startswith("patch_embed.norm."):
                    continue  # applied to torchvision's input instead
                tk = map_key(k)
                if tk not in tv_sd:
                    c.check(False, f"{name}: no torchvision key for {k} (mapped {tk})")
                    continue
                mapped[tk] = v.reshape(tv_sd[tk].shape)
            unmapped = sorted(set(tv_sd) - set(mapped))
            c.check(not unmapped, f"{name}: all {len(tv_sd)} torchvision keys mapped from ours"
                    + (f" (left: {unmapped[:5]})" if unmapped else ""))
            tv.load_state_dict(mapped, strict=True)

            x = torch.rand(1, 3, 16, 224, 224)
            t0 = time.time()
            y_ours = ours(x)
            t1 = time.time()
            y_tv = tv(ours.patch_embed.norm(x))
            t2 = time.time()
            d = float((y_ours - y_tv).abs().max())
            c.check(tuple(y_ours.shape) == (1, 768) and tuple(y_tv.shape) == (1, 768), f"{name}: output shapes [1,768]")
            c.check(d <= TOL, f"{name}: max abs diff vs torchvision {d:.3e} (tol {TOL}); |y| max {float(y_ours.abs().max()):.2f}; "
                    f"ours {t1 - t0:.2f}s torchvision {t2 - t1:.2f}s")
            if overlap:
                continue
            # Sensitivity: the comparison must see the relative positions.
            saved = ours.blocks[0].attn.rel_pos_h.clone()
            ours.blocks[0].attn.rel_pos_h.zero_()
            d_rel = float((ours(x) - y_tv).abs().max())
            ours.blocks[0].attn.rel_pos_h.copy_(saved)
            c.check(d_rel > 100 * TOL, f"{name}: zeroing blocks.0.attn.rel_pos_h changes the output by {d_rel:.3e}")
            del ours, tv
    return c.finish()


if __name__ == "__main__":
    sys.exit(main())
