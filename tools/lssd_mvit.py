#!/usr/bin/python3
"""MViTv2 towers of LSSD ("Looking Similar, Sounding Different"), written for this project.

One implementation, two modalities and three sizes:

* ``modality``: ``"video"`` (input ``[B,3,16,224,224]``, Conv3d patch embedding, cls token,
  spatial + temporal decomposed relative positions, output = final LayerNorm then cls token) or
  ``"audio"`` (input ``[B,1,96,288]``, Conv2d patch embedding treated as T=1, no cls token,
  spatial relative positions only, output = final LayerNorm then mean over tokens).
* ``size``: ``"S"`` (depth 16), ``"B"`` (depth 24) or ``"tiny"`` (depth 3, widths
  192/384/768, heads 2/4/8; for tests/benchmarks; not a released model).
* ``patch_overlap``: the release's ``MVIT.PATCH_OVERLAP`` switch (patch kernel/stride/padding).

The module / parameter names follow the PySlowFast layout used by the release checkpoints
(``patch_embed.norm``, ``patch_embed.proj``, ``cls_token``, ``blocks.N.{norm1,attn,norm2,mlp,proj}``,
``norm``), so ``state_dict()`` keys prefixed with ``backbone.net.video.`` / ``backbone.net.audio.``
equal the release's keys (checked by tests/oracle/test_mvit_state_dict.py).

All token-grid sizes are computed statically from the fixed input shape, so the forward pass uses
no Python values derived from tensor shapes except through ``-1`` in reshapes: a trace at one batch
size is valid at any batch size.

``kernels`` picks how the forward computes (never what: ``state_dict()`` is the same for both):

* ``"reference"`` (default): the formulation the oracle tests check against PySlowFast and
  torchvision, and the one tests/oracle/reference_pipeline.py runs.
* ``"fast"``: the same function through faster CPU kernels (see "Fast kernels" below): the
  depthwise 3-D pooling convolutions as depthwise 2-D convolutions per temporal tap on
  channels-last frames, the skip max-pooling (kernel 1 in time) as a 2-D max-pooling per frame,
  and, with ``gemm="onednn"``, the linear layers and attention products through oneDNN
  (``mkldnn_linear``) instead of the BLAS (``gemm="blas"``: as the reference). oneDNN's GEMMs win
  only where the BLAS is slow (OpenBLAS without kernels for the CPU: 4x; a BLAS that knows the
  CPU is as fast or faster), so the exporter measures which (lssd_export.py --fast-gemm auto).
  Each fast op decides at run time,
  on its input: CPU float32 takes the fast kernel, anything else (CUDA, or fp16/bf16 tensors)
  the reference op, so one exported file serves both devices and a CUDA run computes exactly the
  reference formulation (the pooling kernels also take CPU bfloat16, for the bf16 forward). Under
  CPU bf16 autocast of ``forward``, oneDNN's ``mkldnn_linear`` (gemm "onednn") sees the float32
  output of the float32 layer norms and stays float32 (no faster than float32), and the skip
  max-pooling's bf16 input takes the reference op; hence the bf16 forward below.
  Outputs differ from the reference by summation order only (max abs diff 1-4e-6 on the towers'
  outputs; tests/oracle/test_mvit_fast_kernels.py).

Precision: with the fast kernels, ``forward_bf16`` is the same tower with its matrix work in
bfloat16, what lssd-infer runs for RUNTIME.PRECISION bf16 on CPU (the exporter traces it as a
second method of the same file). The linears (qkv, proj, the MLP, the stage projections), the
attention products q @ k^T and attn @ v, the depthwise pooling convolutions and the video patch
embedding take bfloat16 inputs and weights (oneDNN's bf16 GEMMs and convolutions, float32
accumulation inside; bfloat16 outputs; the GELU runs on fc1's bfloat16 output, as under
autocast). As the release's autocast, the layer norms and softmax run in float32; the residual
stream stays float32 (every residual add is float32; the pooling taps are summed in float32).
The weights it multiplies with are bfloat16 copies in non-persistent buffers (``weight_bf16``,
``bias_bf16`` beside the linears' and the video patch embedding's weight and bias), empty in an
exported file and filled by ``prepare_bf16`` (lssd-infer: src/encoder/) before a bf16 run, so
a file is no larger and a float32 run holds no second copy. Measured in lssd's C++ encoder (one
thread, MViT-S, AVX512-BF16, tools/bench/README.md "CPU bf16"): video 1.67x, audio 1.65x faster
than the float32 fast forward with the BLAS's GEMMs (1.83x, 2.11x than with oneDNN's); lowest
cosine to float32 0.99994-0.99998 (seeded-random towers).
"""

import math
import os
import sys
from typing import Dict, List, Optional, Sequence, Tuple

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from lssd_pydeps import require  # noqa: E402

require("torch", main=__name__ == "__main__")
import torch  # noqa: E402
import torch.nn as nn  # noqa: E402
import torch.nn.functional as F  # noqa: E402

EMBED_OUT_DIM = 768
LN_EPS = 1e-6

MODALITIES = ("video", "audio")
SIZES = ("S", "B", "tiny")

# Input shapes without batch.
INPUT_SHAPE = {"video": (3, 16, 224, 224), "audio": (1, 96, 288)}

# Patch embedding geometry: (kernel, stride, padding) per modality and PATCH_OVERLAP.
PATCH_GEOMETRY = {
    ("video", False): ((3, 9, 9), (2, 8, 8), (1, 4, 4)),
    ("video", True): ((3, 7, 7), (2, 4, 4), (1, 3, 3)),
    ("audio", False): ((7, 9), (4, 8), (3, 4)),
    ("audio", True): ((7, 7), (4, 4), (3, 3)),
}

# The stage rule. At each stage start the width and the number of heads double and the
# query pooling stride is (1,2,2); the key/value stride starts at KV_STRIDE0 and is divided by
# the query stride at every stage start (never below 1). Pooling kernels are fixed per modality.
#   embed: width after the patch embedding; heads0: heads of the first stage.
SIZE_RULES = {
    "S": {"depth": 16, "stage_starts": (1, 3, 14), "embed": 96, "heads0": 1},
    "B": {"depth": 24, "stage_starts": (2, 5, 21), "embed": 96, "heads0": 1},
    # The tiny variant (tests, benchmarks; not a released model): 3 blocks, each a stage start,
    # widths 96 -> 192 -> 384 -> 768, heads 2, 4, 8; same patch embedding family and the same
    # code path; output stays 768-d. (Pooling the query in block 0 keeps it cheap: no block
    # runs at the full patch-grid resolution.)
    "tiny": {"depth": 3, "stage_starts": (0, 1, 2), "embed": 96, "heads0": 1},
}
POOL_KERNEL = {"video": (3, 3, 3), "audio": (1, 3, 3)}
KV_STRIDE0 = {"video": (1, 8, 8), "audio": (1, 4, 4)}


def conv_out(n: int, k: int, s: int, p: int) -> int:
    return (n + 2 * p - k) // s + 1


def patch_grid(modality: str, patch_overlap: bool) -> Tuple[int, int, int]:
    """Token grid (T,H,W) after the patch embedding (audio: T=1)."""
    k, s, p = PATCH_GEOMETRY[(modality, patch_overlap)]
    spatial = INPUT_SHAPE[modality][1:]
    dims = [conv_out(n, kk, ss, pp) for n, kk, ss, pp in zip(spatial, k, s, p)]
    if modality == "audio":
        dims = [1] + dims
    return tuple(dims)  # type: ignore[return-value]


def block_settings(modality: str, size: str) -> List[Dict]:
    """Per-block settings from the stage rule (equal to the release's blocks_*.tsv tables)."""
    if modality not in MODALITIES:
        raise ValueError(f"unknown modality {modality!r}")
    if size not in SIZE_RULES:
        raise ValueError(f"unknown size {size!r} (expected one of {', '.join(SIZES)})")
    rule = SIZE_RULES[size]
    dim, heads = rule["embed"], rule["heads0"]
    kv = list(KV_STRIDE0[modality])
    kernel = list(POOL_KERNEL[modality])
    out = []
    for i in range(rule["depth"]):
        if i in rule["stage_starts"]:
            dim_out, heads = dim * 2, heads * 2
            stride_q = [1, 2, 2]
            kv = [max(s // q, 1) for s, q in zip(kv, stride_q)]
        else:
            dim_out, stride_q = dim, [1, 1, 1]
        out.append({
            "block": i, "dim_in": dim, "dim_out": dim_out, "num_heads": heads,
            "kernel_q": list(kernel), "stride_q": stride_q,
            "kernel_kv": list(kernel), "stride_kv": list(kv),
            "rel_pos_spatial": True, "rel_pos_temporal": modality == "video",
            "residual_pooling": True, "dim_mul_in_att": True,
        })
        dim = dim_out
    if dim != EMBED_OUT_DIM:
        raise AssertionError(f"{size}: output width {dim} != {EMBED_OUT_DIM}")
    return out


def _pool_out(thw: Sequence[int], kernel: Sequence[int], stride: Sequence[int]) -> Tuple[int, int, int]:
    return tuple(conv_out(n, k, s, k // 2) for n, k, s in zip(thw, kernel, stride))  # type: ignore


def _rel_pos_index(q_size: int, k_size: int) -> torch.Tensor:
    """Distance index of the decomposed relative position (PySlowFast's rule, incl. the
    scaling by the q/k size ratio when the two grids differ)."""
    q_ratio = max(k_size / q_size, 1.0)
    k_ratio = max(q_size / k_size, 1.0)
    dist = torch.arange(q_size)[:, None] * q_ratio - torch.arange(k_size)[None, :] * k_ratio
    dist += (k_size - 1) * k_ratio
    return dist.long()


def _resize_rel_pos(rel_pos: torch.Tensor, table_len: int, length: int) -> torch.Tensor:
    """Linear interpolation of a [table_len, C] table to [length, C] (identity when equal).

    table_len is passed as a Python int (the parameter's static length) so that tracing does
    not turn the comparison into a tensor."""
    if table_len == length:
        return rel_pos
    resized = F.interpolate(
        rel_pos.reshape(1, table_len, -1).permute(0, 2, 1), size=length, mode="linear")
    return resized.reshape(-1, length).permute(1, 0)


# ----------------------------------------------------------------------------- Fast kernels
#
# TorchScript functions, so that a traced tower keeps their device test as control flow: each one
# runs its fast formulation on CPU float32 inputs and the reference op (the exact ops of the
# reference forward) on anything else. Measured per shape with torch 1.13 (Debian), one thread,
# MViT-S and S_overlap video shapes (tools/bench/kernels.py --ops): the per-tap depthwise conv2d
# 6-46x faster than the depthwise Conv3d; the per-frame 2-D max-pooling 17-21x; neither is
# slower on any shape of the LSSD towers, so they have no per-shape exceptions. oneDNN linears:
# 1.2-4.2x faster than an OpenBLAS that runs its generic (Prescott) kernels on a CPU it does not
# know, 0.7-1.0x against OpenBLAS's AVX-512 (SkylakeX) or AVX2 (Haswell) kernels: a property of
# the machine, not of the shape (lssd_export.py measures it: --fast-gemm auto).

KERNELS = ("reference", "fast")
GEMMS = ("blas", "onednn")
# The bf16 forward's weight copies: buffer NAME + BF16_SUFFIX beside each NAME (prepare_bf16).
BF16_COPIES = ("weight", "bias")
BF16_SUFFIX = "_bf16"


def _use_fast(x: torch.Tensor) -> bool:
    return x.device.type == "cpu" and x.dtype == torch.float32


def _use_fast_pool(x: torch.Tensor) -> bool:
    """The pooling kernels also take CPU bfloat16 (the bf16 forward's q, k, v)."""
    return x.device.type == "cpu" and (x.dtype == torch.float32 or x.dtype == torch.bfloat16)


def _fast_linear(x: torch.Tensor, weight: torch.Tensor, bias: Optional[torch.Tensor]) -> torch.Tensor:
    """F.linear(x, weight, bias); on CPU float32 through oneDNN (mkldnn_linear), whose
    single-threaded GEMM is 2-4x faster than the BLAS's at these shapes. Only the input is
    converted to oneDNN's layout: mkldnn_linear takes a dense contiguous weight and bias as they
    are (converting them too cost up to half the time of the small-token linears)."""
    if not (_use_fast(x) and weight.dtype == torch.float32):
        return F.linear(x, weight, bias)
    shape = x.shape
    y = torch._C._nn.mkldnn_linear(x.reshape(-1, shape[-1]).to_mkldnn(), weight.contiguous(), bias)
    return y.to_dense().reshape(shape[:-1] + [weight.shape[0]])


def _fast_matmul_nt(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """a @ b^T for a [..., M, K], b [..., N, K] (the same leading dims); on CPU float32 one oneDNN
    product (mkldnn_linear with b as the weight) per leading index, 1.5-4x faster single-threaded
    than the BLAS's batched GEMM at the attention shapes."""
    if not (_use_fast(a) and b.dtype == torch.float32):
        return torch.matmul(a, b.transpose(-2, -1))
    lead = a.shape[:-2]
    m, k, n = a.shape[-2], a.shape[-1], b.shape[-2]
    a3 = a.reshape(-1, m, k)
    b3 = b.reshape(-1, n, k)
    outs: List[torch.Tensor] = []
    for i in range(a3.shape[0]):
        outs.append(torch._C._nn.mkldnn_linear(a3[i].to_mkldnn(), b3[i].contiguous(), None).to_dense())
    return torch.stack(outs).reshape(lead + [m, n])


def _fast_dwconv3d(x: torch.Tensor, weight: torch.Tensor, thw: List[int], stride: List[int],
                   padding: List[int]) -> torch.Tensor:
    """Depthwise Conv3d (weight [C,1,kt,kh,kw], no bias) over token-major input
    x [N, T*H*W, C] (grid thw); returns [N, To*Ho*Wo, C].

    CPU float32 or bfloat16 (bf16 forward: a float32 result) with temporal stride 1 and padding
    kt//2: out[t] = sum_d conv2d_d(x[t+d-kt//2]),
    one depthwise conv2d per temporal tap over every frame at once, channels-last (the token-major
    memory is already NHWC, so no transpose), the taps summed into time-shifted slices (zero
    outside the clip, as the Conv3d's temporal padding). Otherwise the reference's Conv3d."""
    t, h, w = thw[0], thw[1], thw[2]
    c = weight.shape[0]
    kt = weight.shape[2]
    if not (_use_fast_pool(x) and stride[0] == 1 and kt % 2 == 1 and padding[0] == kt // 2):
        y = F.conv3d(x.reshape(-1, t, h, w, c).permute(0, 4, 1, 2, 3).contiguous(), weight, None,
                     stride, padding, [1, 1, 1], c)
        return y.flatten(2).transpose(1, 2)
    frames = x.reshape(-1, h, w, c).permute(0, 3, 1, 2)
    weight = weight.to(x.dtype)
    sp_stride, sp_pad = stride[1:], padding[1:]
    p = kt // 2
    z = F.conv2d(frames, weight[:, :, p], None, sp_stride, sp_pad, [1, 1], c)
    n_sp = z.shape[2] * z.shape[3]
    # The taps are summed in float32 (a bfloat16 input's per-tap products come out bfloat16).
    out = z.permute(0, 2, 3, 1).reshape(-1, t, n_sp, c).to(torch.float32)
    for d in range(kt):
        off = d - p
        if off == 0 or off >= t or -off >= t:
            continue
        zd = F.conv2d(frames, weight[:, :, d], None, sp_stride, sp_pad, [1, 1], c)
        zd = zd.permute(0, 2, 3, 1).reshape(-1, t, n_sp, c)
        if off < 0:
            out[:, -off:] += zd[:, :t + off]
        else:
            out[:, :t - off] += zd[:, off:]
    return out.reshape(-1, t * n_sp, c)


def _fast_maxpool3d(x: torch.Tensor, thw: List[int], kernel: List[int], stride: List[int],
                    padding: List[int]) -> torch.Tensor:
    """MaxPool3d over token-major x [N, T*H*W, C] (grid thw); returns [N, To*Ho*Wo, C]. With a
    temporal kernel and stride of 1 (and no temporal padding) on CPU float32: a 2-D max-pooling
    of every frame, channels-last. Otherwise the reference's MaxPool3d."""
    t, h, w = thw[0], thw[1], thw[2]
    c = x.shape[-1]
    if not (_use_fast(x) and kernel[0] == 1 and stride[0] == 1 and padding[0] == 0):
        y = F.max_pool3d(x.reshape(-1, t, h, w, c).permute(0, 4, 1, 2, 3), kernel, stride, padding)
        return y.flatten(2).transpose(1, 2)
    y = F.max_pool2d(x.reshape(-1, h, w, c).permute(0, 3, 1, 2), kernel[1:], stride[1:], padding[1:])
    return y.permute(0, 2, 3, 1).reshape(-1, t * y.shape[2] * y.shape[3], c)


def linear_bf16(x: torch.Tensor, lin: nn.Module) -> torch.Tensor:
    """lin(x) in bfloat16 (the bf16 forward): input, weight and bias bfloat16 (the weight and bias
    from lin's weight_bf16 / bias_bf16 buffers, filled by prepare_bf16), float32 accumulation
    inside oneDNN's GEMM, bfloat16 output. Traced as plain ATen ops."""
    return F.linear(x.to(torch.bfloat16), lin.weight_bf16, lin.bias_bf16)


fast_linear = torch.jit.script(_fast_linear)
fast_matmul_nt = torch.jit.script(_fast_matmul_nt)
fast_dwconv3d = torch.jit.script(_fast_dwconv3d)
fast_maxpool3d = torch.jit.script(_fast_maxpool3d)


class PatchEmbed(nn.Module):
    """BatchNorm (affine=False, running stats in eval) over input channels, then a conv."""

    def __init__(self, modality: str, in_chans: int, embed_dim: int, kernel, stride, padding):
        super().__init__()
        if modality == "video":
            self.norm = nn.BatchNorm3d(in_chans, affine=False)
            self.proj = nn.Conv3d(in_chans, embed_dim, kernel, stride=stride, padding=padding)
        else:
            self.norm = nn.BatchNorm2d(in_chans, affine=False)
            self.proj = nn.Conv2d(in_chans, embed_dim, kernel, stride=stride, padding=padding)
        self.precision = "fp32"

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.precision == "bf16" and isinstance(self.proj, nn.Conv3d):
            # The video patch embedding in bfloat16 (2x faster; the audio Conv2d is not).
            p = self.proj
            x = F.conv3d(self.norm(x).to(torch.bfloat16), p.weight_bf16, p.bias_bf16, p.stride, p.padding)
            return x.flatten(2).transpose(1, 2).to(torch.float32)
        x = self.proj(self.norm(x))
        return x.flatten(2).transpose(1, 2)


class Mlp(nn.Module):
    def __init__(self, dim: int, hidden: int):
        super().__init__()
        self.fc1 = nn.Linear(dim, hidden)
        self.act = nn.GELU()
        self.fc2 = nn.Linear(hidden, dim)
        self.kernels = "reference"
        self.gemm = "blas"
        self.precision = "fp32"

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.precision == "bf16":
            return linear_bf16(self.act(linear_bf16(x, self.fc1)), self.fc2)
        if self.kernels == "fast" and self.gemm == "onednn":
            h = self.act(fast_linear(x, self.fc1.weight, self.fc1.bias))
            return fast_linear(h, self.fc2.weight, self.fc2.bias)
        return self.fc2(self.act(self.fc1(x)))


class MultiScaleAttention(nn.Module):
    """Pooling attention with dim_mul_in_att, residual pooling and decomposed relative positions.

    thw_in: the static token grid of the input (cls token, if any, held out).
    table_thw: PySlowFast's tracked grid (patch grid // strides so far), which sizes the rel-pos
    tables: spatial length int(2*max(size/stride_q, size/stride_kv) - 1) with size = H for a square
    grid (video) and (H+W)/2 (a float) for the non-square audio grid; temporal length 2*T-1.
    """

    def __init__(self, dim: int, dim_out: int, num_heads: int, kernel_q, stride_q, kernel_kv,
                 stride_kv, thw_in: Tuple[int, int, int], table_thw: Tuple[int, int, int],
                 has_cls: bool, rel_pos_spatial: bool, rel_pos_temporal: bool):
        super().__init__()
        self.num_heads = num_heads
        self.dim_out = dim_out
        self.head_dim = dim_out // num_heads
        self.scale = self.head_dim ** -0.5
        self.has_cls = has_cls
        self.kernels = "reference"
        self.gemm = "blas"
        self.precision = "fp32"
        self.rel_pos_spatial = rel_pos_spatial
        self.rel_pos_temporal = rel_pos_temporal
        self.thw_in = tuple(thw_in)
        self.q_thw = _pool_out(thw_in, kernel_q, stride_q)
        self.kv_thw = _pool_out(thw_in, kernel_kv, stride_kv)
        self.n_in = math.prod(self.thw_in) + int(has_cls)
        self.n_q = math.prod(self.q_thw) + int(has_cls)

        hd = self.head_dim
        # Rel-pos tables are sized from the (integer-divided) grid tracked through the strides,
        # as in PySlowFast; at run time the actual pooled sizes decide (interpolating the table
        # when its length differs).
        if rel_pos_spatial:
            t_size, h_size, w_size = table_thw
            size = h_size if h_size == w_size else (h_size + w_size) / 2
            q_size = size / stride_q[1]
            kv_size = size / stride_kv[1]
            sp_dim = int(2 * max(q_size, kv_size) - 1)
            self.rel_len_sp = sp_dim
            self.rel_pos_h = nn.Parameter(torch.zeros(sp_dim, hd))
            self.rel_pos_w = nn.Parameter(torch.zeros(sp_dim, hd))
        if rel_pos_temporal:
            self.rel_len_t = 2 * table_thw[0] - 1
            self.rel_pos_t = nn.Parameter(torch.zeros(self.rel_len_t, hd))

        # Distance indices of the decomposed relative positions for the static q/kv grids.
        # Non-persistent buffers: not in state_dict(), but they follow .to(device) in TorchScript.
        for axis, qn, kn in zip("thw", self.q_thw, self.kv_thw):
            self.register_buffer(f"rel_idx_{axis}", _rel_pos_index(qn, kn), persistent=False)
        # The decomposed terms are added to the attention logits inside the q @ k^T product:
        # per query they are vectors over the key's h index, w index (and t index); the key side
        # is a 0/1 indicator of its own (h, w, t) indices (zero row for the cls key). So
        #   [q*scale | rel_h rel_w rel_t] @ [k | onehot]^T = q*scale @ k^T + rel_h[kh] + rel_w[kw] + rel_t[kt],
        # which is PySlowFast's attn + broadcast terms without materialising 8-d broadcasts.
        if rel_pos_spatial or rel_pos_temporal:
            k_t, k_h, k_w = self.kv_thw
            tt, hh, ww = torch.meshgrid(torch.arange(k_t), torch.arange(k_h), torch.arange(k_w), indexing="ij")
            cols = []
            if rel_pos_spatial:
                cols += [F.one_hot(hh.reshape(-1), k_h), F.one_hot(ww.reshape(-1), k_w)]
            if rel_pos_temporal:
                cols.append(F.one_hot(tt.reshape(-1), k_t))
            onehot = torch.cat(cols, dim=1).to(torch.float32)
            if has_cls:
                onehot = F.pad(onehot, (0, 0, 1, 0))
            self.register_buffer("rel_key_onehot", onehot, persistent=False)
            self.rel_cols = int(onehot.shape[1])

        self.qkv = nn.Linear(dim, 3 * dim_out)
        self.proj = nn.Linear(dim_out, dim_out)

        def pool(kernel, stride):
            return nn.Conv3d(hd, hd, tuple(kernel), stride=tuple(stride),
                             padding=tuple(k // 2 for k in kernel), groups=hd, bias=False)

        self.pool_q = pool(kernel_q, stride_q)
        self.norm_q = nn.LayerNorm(hd, eps=LN_EPS)
        self.pool_k = pool(kernel_kv, stride_kv)
        self.norm_k = nn.LayerNorm(hd, eps=LN_EPS)
        self.pool_v = pool(kernel_kv, stride_kv)
        self.norm_v = nn.LayerNorm(hd, eps=LN_EPS)

    def _pool(self, x: torch.Tensor, pool: nn.Module, norm: nn.Module, out_thw) -> torch.Tensor:
        # x: [B, heads, N, hd]; the cls token is held out of the pooling, put back before the norm.
        if self.has_cls:
            cls_tok, x = x[:, :, :1, :], x[:, :, 1:, :]
        t, h, w = self.thw_in
        x = x.reshape(-1, t, h, w, self.head_dim).permute(0, 4, 1, 2, 3).contiguous()
        x = pool(x)
        x = x.reshape(-1, self.num_heads, self.head_dim, math.prod(out_thw))
        x = x.transpose(2, 3)
        if self.has_cls:
            x = torch.cat((cls_tok, x), dim=2)
        return norm(x)

    def _pool_fast(self, x: torch.Tensor, pool: nn.Module, norm: nn.Module, out_thw) -> torch.Tensor:
        # The same as _pool, through fast_dwconv3d on the token-major layout (one copy into
        # [B*heads, T*H*W, head_dim], no transposes).
        if self.has_cls:
            cls_tok, x = x[:, :, :1, :], x[:, :, 1:, :]
        x = x.reshape(-1, math.prod(self.thw_in), self.head_dim)
        x = fast_dwconv3d(x, pool.weight, list(self.thw_in), list(pool.stride), list(pool.padding))
        x = x.reshape(-1, self.num_heads, math.prod(out_thw), self.head_dim)
        if self.has_cls:
            if self.precision == "bf16":
                cls_tok = cls_tok.to(torch.float32)
            x = torch.cat((cls_tok, x), dim=2)
        return norm(x)

    def _rel_terms(self, q: torch.Tensor) -> torch.Tensor:
        """[B, heads, Nq, k_h + k_w (+ k_t)]: the decomposed relative-position terms of every
        query (PySlowFast's cal_rel_pos_spatial / cal_rel_pos_temporal, computed from the pooled,
        normed, unscaled q; zero for the cls query)."""
        sp = int(self.has_cls)
        q_t, q_h, q_w = self.q_thw
        k_t, k_h, k_w = self.kv_thw
        heads, hd = self.num_heads, self.head_dim
        r_q = q[:, :, sp:].reshape(-1, heads, q_t, q_h, q_w, hd)
        parts = []
        if self.rel_pos_spatial:
            rh = _resize_rel_pos(self.rel_pos_h, self.rel_len_sp, int(2 * max(q_h, k_h) - 1))[self.rel_idx_h]
            rw = _resize_rel_pos(self.rel_pos_w, self.rel_len_sp, int(2 * max(q_w, k_w) - 1))[self.rel_idx_w]
            parts.append(torch.einsum("bythwc,hkc->bythwk", r_q, rh))
            parts.append(torch.einsum("bythwc,wkc->bythwk", r_q, rw))
        if self.rel_pos_temporal:
            rt = _resize_rel_pos(self.rel_pos_t, self.rel_len_t, int(2 * max(q_t, k_t) - 1))[self.rel_idx_t]
            parts.append(torch.einsum("bythwc,tkc->bythwk", r_q, rt))
        rel = torch.cat(parts, dim=-1) if len(parts) > 1 else parts[0]
        rel = rel.reshape(-1, heads, q_t * q_h * q_w, self.rel_cols)
        if self.has_cls:
            rel = F.pad(rel, (0, 0, 1, 0))
        return rel

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.precision == "bf16":
            return self._forward_bf16(x)
        fast = self.kernels == "fast"
        onednn = fast and self.gemm == "onednn"
        qkv = fast_linear(x, self.qkv.weight, self.qkv.bias) if onednn else self.qkv(x)
        qkv = qkv.reshape(-1, self.n_in, 3, self.num_heads, self.head_dim).permute(2, 0, 3, 1, 4)
        q, k, v = qkv[0], qkv[1], qkv[2]
        pool = self._pool_fast if fast else self._pool
        q = pool(q, self.pool_q, self.norm_q, self.q_thw)
        k = pool(k, self.pool_k, self.norm_k, self.kv_thw)
        v = pool(v, self.pool_v, self.norm_v, self.kv_thw)

        q_scaled = q * self.scale
        if self.rel_pos_spatial or self.rel_pos_temporal:
            # attn = (q*scale) @ k^T + relative-position terms, as one product (see __init__).
            q_scaled = torch.cat((q_scaled, self._rel_terms(q)), dim=-1)
            k = torch.cat((k, self.rel_key_onehot.expand(k.shape[0], self.num_heads, -1, -1)), dim=-1)
        if onednn:
            attn = fast_matmul_nt(q_scaled, k).softmax(dim=-1)
            x = fast_matmul_nt(attn, v.transpose(-2, -1))
        else:
            attn = (q_scaled @ k.transpose(-2, -1)).softmax(dim=-1)
            x = attn @ v
        # Residual pooling: add the pooled query (not to the cls token).
        if self.has_cls:
            x = x + F.pad(q[:, :, 1:, :], (0, 0, 1, 0))
        else:
            x = x + q
        x = x.transpose(1, 2).reshape(-1, self.n_q, self.dim_out)
        return fast_linear(x, self.proj.weight, self.proj.bias) if onednn else self.proj(x)

    def _forward_bf16(self, x: torch.Tensor) -> torch.Tensor:
        """forward() with the products in bfloat16 (fast kernels only): qkv, the depthwise
        pooling, q @ k^T, attn @ v and proj take bfloat16 inputs; the pooled q, k, v come out of
        the pooling in float32 for their layer norms, the logits are softmaxed in float32 and the
        residual pooling adds in float32. Returns proj's bfloat16 output."""
        qkv = linear_bf16(x, self.qkv)
        qkv = qkv.reshape(-1, self.n_in, 3, self.num_heads, self.head_dim).permute(2, 0, 3, 1, 4)
        q, k, v = qkv[0], qkv[1], qkv[2]
        q = self._pool_fast(q, self.pool_q, self.norm_q, self.q_thw)
        k = self._pool_fast(k, self.pool_k, self.norm_k, self.kv_thw)
        v = self._pool_fast(v, self.pool_v, self.norm_v, self.kv_thw)
        q_scaled = q * self.scale
        if self.rel_pos_spatial or self.rel_pos_temporal:
            q_scaled = torch.cat((q_scaled, self._rel_terms(q)), dim=-1)
            k = torch.cat((k, self.rel_key_onehot.expand(k.shape[0], self.num_heads, -1, -1)), dim=-1)
        attn = torch.matmul(q_scaled.to(torch.bfloat16), k.to(torch.bfloat16).transpose(-2, -1))
        attn = attn.to(torch.float32).softmax(dim=-1)
        x = torch.matmul(attn.to(torch.bfloat16), v.to(torch.bfloat16))
        if self.has_cls:
            x = x + F.pad(q[:, :, 1:, :], (0, 0, 1, 0))
        else:
            x = x + q
        x = x.transpose(1, 2).reshape(-1, self.n_q, self.dim_out)
        return linear_bf16(x, self.proj)


class MultiScaleBlock(nn.Module):
    def __init__(self, setting: Dict, thw_in, table_thw, has_cls: bool):
        super().__init__()
        dim, dim_out = setting["dim_in"], setting["dim_out"]
        self.dim, self.dim_out = dim, dim_out
        self.has_cls = has_cls
        self.kernels = "reference"
        self.gemm = "blas"
        self.precision = "fp32"
        self.thw_in = tuple(thw_in)
        self.norm1 = nn.LayerNorm(dim, eps=LN_EPS)
        self.attn = MultiScaleAttention(
            dim, dim_out, setting["num_heads"], setting["kernel_q"], setting["stride_q"],
            setting["kernel_kv"], setting["stride_kv"], thw_in, table_thw, has_cls,
            setting["rel_pos_spatial"], setting["rel_pos_temporal"])
        self.thw_out = self.attn.q_thw
        self.norm2 = nn.LayerNorm(dim_out, eps=LN_EPS)
        self.mlp = Mlp(dim_out, 4 * dim_out)
        if dim != dim_out:
            self.proj = nn.Linear(dim, dim_out)
        stride_q = setting["stride_q"]
        self.pool_skip: Optional[nn.Module] = None
        if math.prod(stride_q) > 1:
            kernel_skip = [s + 1 if s > 1 else s for s in stride_q]
            self.pool_skip = nn.MaxPool3d(kernel_skip, stride_q, [k // 2 for k in kernel_skip])
            if _pool_out(thw_in, kernel_skip, stride_q) != self.thw_out:
                raise AssertionError("skip pooling grid differs from the query pooling grid")

    def _skip_pool(self, x: torch.Tensor) -> torch.Tensor:
        if self.has_cls:
            cls_tok, x = x[:, :1, :], x[:, 1:, :]
        t, h, w = self.thw_in
        c = x.shape[-1]
        x = x.reshape(-1, t, h, w, c).permute(0, 4, 1, 2, 3)
        x = self.pool_skip(x)
        x = x.flatten(2).transpose(1, 2)
        if self.has_cls:
            x = torch.cat((cls_tok, x), dim=1)
        return x

    def _skip_pool_fast(self, x: torch.Tensor) -> torch.Tensor:
        # The same as _skip_pool, through fast_maxpool3d on the token-major layout.
        if self.has_cls:
            cls_tok, x = x[:, :1, :], x[:, 1:, :]
        p = self.pool_skip
        x = fast_maxpool3d(x, list(self.thw_in), list(p.kernel_size), list(p.stride), list(p.padding))
        if self.has_cls:
            x = torch.cat((cls_tok, x), dim=1)
        return x

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x_norm = self.norm1(x)
        x_attn = self.attn(x_norm)
        fast = self.kernels == "fast"
        if self.dim != self.dim_out:
            if self.precision == "bf16":
                x = linear_bf16(x_norm, self.proj).to(torch.float32)
            elif fast and self.gemm == "onednn":
                x = fast_linear(x_norm, self.proj.weight, self.proj.bias)
            else:
                x = self.proj(x_norm)
        if self.pool_skip is not None:
            x = self._skip_pool_fast(x) if fast else self._skip_pool(x)
        x = x + x_attn
        return x + self.mlp(self.norm2(x))


class LSSDTower(nn.Module):
    """One LSSD encoder tower: [B, *INPUT_SHAPE[modality]] -> [B, 768]."""

    def __init__(self, modality: str = "video", size: str = "S", patch_overlap: bool = False,
                 kernels: str = "reference"):
        super().__init__()
        settings = block_settings(modality, size)
        self.modality, self.size, self.patch_overlap = modality, size, bool(patch_overlap)
        self.settings = settings
        self.has_cls = modality == "video"
        self.input_shape = INPUT_SHAPE[modality]
        embed = settings[0]["dim_in"]
        if self.has_cls:
            self.cls_token = nn.Parameter(torch.zeros(1, 1, embed))
        kernel, stride, padding = PATCH_GEOMETRY[(modality, self.patch_overlap)]
        self.patch_embed = PatchEmbed(modality, self.input_shape[0], embed, kernel, stride, padding)

        thw = patch_grid(modality, self.patch_overlap)
        self.patch_thw = thw
        # PySlowFast's tracked grid (input // patch stride, then // each q stride) sizes the tables.
        in_sp = ([self.input_shape[1]] if modality == "video" else [1]) + list(self.input_shape[-2:])
        st = ([stride[0]] if modality == "video" else [1]) + list(stride[-2:])
        table_thw = [n // s for n, s in zip(in_sp, st)]
        blocks = []
        for s in settings:
            blk = MultiScaleBlock(s, thw, tuple(table_thw), self.has_cls)
            blocks.append(blk)
            thw = blk.thw_out
            table_thw = [n // q for n, q in zip(table_thw, s["stride_q"])]
        self.blocks = nn.ModuleList(blocks)
        self.norm = nn.LayerNorm(settings[-1]["dim_out"], eps=LN_EPS)
        # bfloat16 copies of the weights that the bf16 forward multiplies with (linears, the video
        # patch embedding): non-persistent, empty until prepare_bf16() fills them.
        for mod in self.modules():
            if isinstance(mod, nn.Linear) or (mod is self.patch_embed.proj and isinstance(mod, nn.Conv3d)):
                for name in BF16_COPIES:
                    mod.register_buffer(name + BF16_SUFFIX, torch.empty(0, dtype=torch.bfloat16), persistent=False)
        self.kernels, self.gemm = "reference", "blas"
        self.set_kernels(kernels)

    def set_kernels(self, kernels: str, gemm: str = "blas") -> "LSSDTower":
        """Switch the formulation of the forward ("reference" or "fast"; with "fast", gemm "blas"
        or "onednn" for the linears and attention products; module docstring). The parameters,
        and so state_dict(), are untouched. Returns self."""
        if kernels not in KERNELS:
            raise ValueError(f"unknown kernels {kernels!r} (expected one of {', '.join(KERNELS)})")
        if gemm not in GEMMS:
            raise ValueError(f"unknown gemm {gemm!r} (expected one of {', '.join(GEMMS)})")
        self.kernels, self.gemm = kernels, gemm if kernels == "fast" else "blas"
        for mod in self.modules():
            if isinstance(mod, (MultiScaleBlock, MultiScaleAttention, Mlp)):
                mod.kernels, mod.gemm = self.kernels, self.gemm
        return self

    def _set_precision(self, precision: str) -> None:
        for mod in self.modules():
            if isinstance(mod, (PatchEmbed, MultiScaleBlock, MultiScaleAttention, Mlp)):
                mod.precision = precision

    def forward_bf16(self, x: torch.Tensor) -> torch.Tensor:
        """forward() with the matrix work in bfloat16 (fast kernels only; module docstring,
        "Precision"). Needs prepare_bf16(self) first. Output float32."""
        if self.kernels != "fast":
            raise ValueError("forward_bf16 needs the fast kernels (set_kernels('fast'))")
        self._set_precision("bf16")
        try:
            return self.forward(x)
        finally:
            self._set_precision("fp32")

    @property
    def variant(self) -> str:
        return "tiny" if self.size == "tiny" else "full"

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not torch.jit.is_tracing() and tuple(x.shape[1:]) != tuple(self.input_shape):
            raise ValueError(f"{self.modality} tower expects [B,{','.join(map(str, self.input_shape))}], "
                             f"got {list(x.shape)}")
        x = self.patch_embed(x)
        if self.has_cls:
            x = torch.cat((self.cls_token.expand(x.shape[0], -1, -1), x), dim=1)
        for blk in self.blocks:
            x = blk(x)
        x = self.norm(x)
        return x[:, 0] if self.has_cls else x.mean(dim=1)


def prepare_bf16(module) -> int:
    """Fills every bfloat16 weight copy (buffer NAME_bf16 of a module that has a NAME: weight,
    bias) of a tower, eager or exported (TorchScript), with NAME cast to bfloat16; an empty
    buffer again where NAME is None. Returns the number of buffers filled. The exported files
    hold them empty (src/encoder/encoder_runtime.cc fills them the same way before a CPU bf16 run)."""
    n = 0
    for mod in module.modules():
        for name in BF16_COPIES:
            if not hasattr(mod, name + BF16_SUFFIX):
                continue
            src = getattr(mod, name)
            setattr(mod, name + BF16_SUFFIX,
                    src.detach().to(torch.bfloat16) if src is not None else torch.empty(0, dtype=torch.bfloat16))
            n += 1
    return n


def clear_bf16(module) -> None:
    """Empties the bfloat16 weight copies (as an exported file holds them)."""
    for mod in module.modules():
        for name in BF16_COPIES:
            if hasattr(mod, name + BF16_SUFFIX):
                setattr(mod, name + BF16_SUFFIX, torch.empty(0, dtype=torch.bfloat16))


def build_tower(modality: str, size: str, patch_overlap: bool, kernels: str = "reference") -> LSSDTower:
    return LSSDTower(modality, size, patch_overlap, kernels)


PREFIX = {"video": "backbone.net.video.", "audio": "backbone.net.audio."}


def describe_blocks(model: LSSDTower) -> List[Dict]:
    """Per-block settings plus the static token grids, for tests and reports."""
    out = []
    for s, blk in zip(model.settings, model.blocks):
        d = dict(s)
        d["thw_in"] = list(blk.thw_in)
        d["thw_out"] = list(blk.thw_out)
        d["kv_thw"] = list(blk.attn.kv_thw)
        out.append(d)
    return out


if __name__ == "__main__":
    import argparse
    import json

    ap = argparse.ArgumentParser(description="Print an LSSD tower's block settings and parameter count.")
    ap.add_argument("--modality", choices=MODALITIES, default="video")
    ap.add_argument("--size", choices=SIZES, default="S")
    ap.add_argument("--patch-overlap", action="store_true")
    a = ap.parse_args()
    m = build_tower(a.modality, a.size, a.patch_overlap)
    print(json.dumps({"patch_thw": list(m.patch_thw),
                      "params": sum(p.numel() for p in m.parameters()),
                      "blocks": describe_blocks(m)}, indent=1))
