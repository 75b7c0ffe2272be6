#!/usr/bin/python3
"""Audio towers: token grids, widths, rel-pos interpolation, output pooling.

For S, S_overlap, B, B_overlap (seeded random weights, batch 2, dB-like input):
* forward hooks on the patch embedding and on every block record the token count and width:
  they equal blocks_audio_*.tsv (grid after the patch embedding from the table header, then each
  block's query pooling: kernel (1,3,3), padding kernel//2, the table's stride_q);
* every block's attention output equals a literal re-implementation written here (the 8-d
  broadcast formulation of PySlowFast's decomposed relative position, with the rel-pos table
  linearly interpolated whenever its length differs from 2*max(q,k)-1 -- which the non-square
  audio grids make happen -- and the q/k ratio scaling of the distance index), fed with the
  block's recorded input; max abs diff <= 1e-4;
* the tower output equals the mean over tokens of the final LayerNorm's output.
"""

import math
import sys

import torch
import torch.nn.functional as F

import lssd_oracle_common as common

import lssd_checkpoint as ck  # noqa: E402
import lssd_mvit  # noqa: E402

TOL = 1e-4


def conv_out(n, k, s):
    return (n + 2 * (k // 2) - k) // s + 1


def ref_attention(mod, x, thw):
    """Literal pooling attention without cls token (audio), shapes taken from the tensors."""
    B, N, _ = x.shape
    H, hd = mod.num_heads, mod.head_dim
    qkv = F.linear(x, mod.qkv.weight, mod.qkv.bias).reshape(B, N, 3, H, hd).permute(2, 0, 3, 1, 4)
    q, k, v = qkv[0], qkv[1], qkv[2]

    def pool(t, conv, norm):
        T, Hh, W = thw
        t = t.reshape(B * H, T, Hh, W, hd).permute(0, 4, 1, 2, 3).contiguous()
        t = conv(t)
        shape = list(t.shape[2:])
        t = t.reshape(B, H, hd, -1).transpose(2, 3)
        return norm(t), shape

    q, q_shape = pool(q, mod.pool_q, mod.norm_q)
    k, k_shape = pool(k, mod.pool_k, mod.norm_k)
    v, _ = pool(v, mod.pool_v, mod.norm_v)
    attn = (q * mod.scale) @ k.transpose(-2, -1)

    q_t, q_h, q_w = q_shape
    k_t, k_h, k_w = k_shape

    def table(rp, d):
        if rp.shape[0] == d:
            return rp
        return F.interpolate(rp.reshape(1, rp.shape[0], -1).permute(0, 2, 1), size=d,
                             mode="linear").reshape(-1, d).permute(1, 0)

    def dist(qn, kn):
        qr, kr = max(kn / qn, 1.0), max(qn / kn, 1.0)
        d = torch.arange(qn)[:, None] * qr - torch.arange(kn)[None, :] * kr
        d += (kn - 1) * kr
        return d.long()

    Rh = table(mod.rel_pos_h, int(2 * max(q_h, k_h) - 1))[dist(q_h, k_h)]
    Rw = table(mod.rel_pos_w, int(2 * max(q_w, k_w) - 1))[dist(q_w, k_w)]
    r_q = q.reshape(B, H, q_t, q_h, q_w, hd)
    rel_h = torch.einsum("bythwc,hkc->bythwk", r_q, Rh)
    rel_w = torch.einsum("bythwc,wkc->bythwk", r_q, Rw)
    attn = (attn.view(B, H, q_t, q_h, q_w, k_t, k_h, k_w)
            + rel_h[:, :, :, :, :, None, :, None]
            + rel_w[:, :, :, :, :, None, None, :]).view(B, H, q_t * q_h * q_w, k_t * k_h * k_w)
    attn = attn.softmax(dim=-1)
    out = attn @ v + q
    out = out.transpose(1, 2).reshape(B, -1, mod.dim_out)
    return F.linear(out, mod.proj.weight, mod.proj.bias), q_shape, (int(2 * max(q_h, k_h) - 1), int(2 * max(q_w, k_w) - 1))


def main() -> int:
    args = common.parse_args(__doc__)
    c = common.Checker("test_mvit_audio_blocks")
    with common.scratch(args.tmp), torch.no_grad():
        for size in ("S", "B"):
            for overlap in (False, True):
                tag = common.table_suffix(size, overlap)
                comments, rows = common.read_blocks_tsv("audio", size, overlap)
                grid = common.table_patch_grid(comments)
                model = lssd_mvit.build_tower("audio", size, overlap).eval()
                model.load_state_dict(ck.random_tower_state_dict("audio", size, overlap, seed=3, tower=model))

                rec = {}
                hooks = [model.patch_embed.register_forward_hook(lambda m, i, o: rec.__setitem__("patch", o.shape)),
                         model.norm.register_forward_hook(lambda m, i, o: rec.__setitem__("norm", o.clone()))]
                for i, blk in enumerate(model.blocks):
                    hooks.append(blk.register_forward_hook(lambda m, inp, o, i=i: rec.__setitem__(("block", i), o.shape)))
                    hooks.append(blk.attn.register_forward_hook(
                        lambda m, inp, o, i=i: rec.__setitem__(("attn", i), (inp[0].clone(), o.clone()))))
                g = torch.Generator().manual_seed(5)
                x = torch.randn(2, 1, 96, 288, generator=g) * 20.0 - 30.0
                y = model(x)
                for h in hooks:
                    h.remove()

                c.check(tuple(rec["patch"]) == (2, math.prod(grid), rows[0]["dim_in"]),
                        f"audio {tag}: patch embed tokens {tuple(rec['patch'])}, table grid {grid} x {rows[0]['dim_in']}")
                thw = list(grid)
                bad, attn_diffs, interp = [], [], []
                for r, blk in zip(rows, model.blocks):
                    i = r["block"]
                    want = [conv_out(n, kq, sq) for n, kq, sq in zip(thw, r["kernel_q"], r["stride_q"])]
                    got = rec[("block", i)]
                    if tuple(got) != (2, math.prod(want), r["dim_out"]) or list(blk.thw_out) != want:
                        bad.append(f"block {i}: tokens {tuple(got)} grid {list(blk.thw_out)}, table-derived {want} x {r['dim_out']}")
                    a_in, a_out = rec[("attn", i)]
                    ref_out, q_shape, (dh, dw) = ref_attention(blk.attn, a_in, tuple(thw))
                    attn_diffs.append(float((ref_out - a_out).abs().max()))
                    if q_shape != want:
                        bad.append(f"block {i}: reference q grid {q_shape} != {want}")
                    n_tab = blk.attn.rel_pos_h.shape[0]
                    if n_tab != dh or n_tab != dw:
                        interp.append(f"{i}:{n_tab}->({dh},{dw})")
                    thw = want
                c.check(not bad, f"audio {tag}: every block's token grid and width equal the table"
                        + (f" ({'; '.join(bad[:4])})" if bad else f" (final grid {thw})"))
                worst = max(attn_diffs)
                c.check(worst <= TOL, f"audio {tag}: attention vs literal reference, max abs diff {worst:.3e} over "
                        f"{len(attn_diffs)} blocks (tol {TOL})")
                c.check(len(interp) > 0, f"audio {tag}: rel-pos tables interpolated in {len(interp)} blocks: "
                        f"{' '.join(interp[:6])}{' ...' if len(interp) > 6 else ''}")
                d = float((y - rec["norm"].mean(dim=1)).abs().max())
                c.check(tuple(y.shape) == (2, 768) and d == 0.0,
                        f"audio {tag}: output {tuple(y.shape)} = mean over tokens of norm output (diff {d})")
    return c.finish()


if __name__ == "__main__":
    sys.exit(main())
