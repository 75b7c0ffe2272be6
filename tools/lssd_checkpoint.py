#!/usr/bin/python3
"""LSSD checkpoints: random release-layout checkpoints for tests, and strict loading.

Release layout: a ``torch.save``d dict whose ``"model"`` entry is a state dict; keys under
``backbone.net.video.`` and ``backbone.net.audio.`` are the two encoder towers, every other key
(projection heads, ...) is ignored. Loading is strict.

CLI:
  lssd_checkpoint.py random --size {S,B} [--overlap] [--tiny] [--seed N] -o OUT.pyth
      Write a checkpoint with seeded random weights (deterministic for a given seed, size,
      overlap). It carries a top-level "lssd_random_weights" entry marking it as random.
  lssd_checkpoint.py info CKPT
      Print the architecture inferred from a checkpoint (size, overlap, variant per tower), after
      a strict load of both towers.
Exit status: 0 success, 1 bad checkpoint, 2 usage error.
"""

import argparse
import collections
import hashlib
import json
import math
import os
import sys
from typing import Dict, Optional, Tuple

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from lssd_pydeps import require  # noqa: E402

require("torch", main=__name__ == "__main__")
import torch  # noqa: E402

import lssd_mvit  # noqa: E402

RANDOM_MARKER = "lssd_random_weights"
GENERATOR_VERSION = 1
# Non-backbone keys written into random checkpoints, to prove they are ignored.
IGNORED_EXTRA = {
    "head.video.weight": (512, 768),
    "head.video.bias": (512,),
    "head.audio.weight": (512, 768),
    "head.audio.bias": (512,),
    "head.logit_scale": (),
}


class CheckpointError(Exception):
    """A checkpoint that cannot be used (not LSSD, missing / unexpected key, shape mismatch)."""


# ----------------------------------------------------------------------------- random weights

def _key_generator(seed: int, key: str) -> torch.Generator:
    digest = hashlib.sha256(f"lssd-random-v{GENERATOR_VERSION}/{seed}/{key}".encode()).digest()
    g = torch.Generator()
    g.manual_seed(int.from_bytes(digest[:8], "little") & ((1 << 63) - 1))
    return g


def _trunc_normal(shape, std: float, g: torch.Generator, mean: float = 0.0) -> torch.Tensor:
    """Normal(mean, std) truncated to +-2 std (inverse-CDF sampling, like nn.init.trunc_normal_)."""
    lo = 0.5 * (1.0 + math.erf(-2.0 / math.sqrt(2.0)))
    hi = 1.0 - lo
    u = torch.empty(shape, dtype=torch.float64).uniform_(lo, hi, generator=g)
    x = torch.erfinv(2.0 * u - 1.0) * (std * math.sqrt(2.0)) + mean
    return x.to(torch.float32)


def _random_tensor(key: str, ref: torch.Tensor, seed: int, modality: str) -> torch.Tensor:
    g = _key_generator(seed, key)
    shape = tuple(ref.shape)
    name = key.split(".")[-1]
    if key.endswith("patch_embed.norm.running_mean"):
        # Plausible input statistics: video pixels in [0,1]; audio log-mel in dB.
        return _trunc_normal(shape, 0.05, g, 0.45) if modality == "video" else _trunc_normal(shape, 3.0, g, -30.0)
    if key.endswith("patch_embed.norm.running_var"):
        u = torch.empty(shape, dtype=torch.float32).uniform_(0.0, 1.0, generator=g)
        return 0.05 + 0.15 * u if modality == "video" else 300.0 + 200.0 * u
    if name == "num_batches_tracked":
        return torch.tensor(123456, dtype=torch.int64)
    if "rel_pos_" in name:
        return _trunc_normal(shape, 0.1, g)
    if name == "cls_token":
        return _trunc_normal(shape, 0.02, g)
    is_ln = any(f".{n}." in f".{key}" for n in ("norm1", "norm2", "norm_q", "norm_k", "norm_v")) \
        or key.endswith("net.video.norm.weight") or key.endswith("net.video.norm.bias") \
        or key.endswith("net.audio.norm.weight") or key.endswith("net.audio.norm.bias")
    if is_ln:
        return _trunc_normal(shape, 0.05, g, 1.0) if name == "weight" else _trunc_normal(shape, 0.02, g)
    if name == "bias":
        return _trunc_normal(shape, 0.02, g)
    if name == "weight" and ref.dim() >= 3:  # convolutions: unit-gain fan-in scaling
        fan_in = int(torch.tensor(shape[1:]).prod())
        return _trunc_normal(shape, 1.0 / math.sqrt(fan_in), g)
    if name == "weight":  # linear layers
        return _trunc_normal(shape, 0.02, g)
    raise AssertionError(f"no random rule for {key}")


def random_tower_state_dict(modality: str, size: str, patch_overlap: bool, seed: int,
                            tower: Optional[torch.nn.Module] = None) -> "collections.OrderedDict[str, torch.Tensor]":
    """Seeded random weights of one tower, keys without the backbone prefix (the same values as
    that tower's part of random_state_dict(size, patch_overlap, seed))."""
    if tower is None:
        tower = lssd_mvit.build_tower(modality, size, patch_overlap)
    out = collections.OrderedDict()
    for k, ref in tower.state_dict().items():
        out[k] = _random_tensor(lssd_mvit.PREFIX[modality] + k, ref, seed, modality)
    return out


def random_state_dict(size: str, patch_overlap: bool, seed: int) -> "collections.OrderedDict[str, torch.Tensor]":
    out = collections.OrderedDict()
    for modality in lssd_mvit.MODALITIES:
        for k, v in random_tower_state_dict(modality, size, patch_overlap, seed).items():
            out[lssd_mvit.PREFIX[modality] + k] = v
    for k, shape in IGNORED_EXTRA.items():
        out[k] = _trunc_normal(shape, 0.02, _key_generator(seed, k))
    return out


def make_random_checkpoint(size: str, patch_overlap: bool, seed: int) -> Dict:
    return {
        "model": random_state_dict(size, patch_overlap, seed),
        RANDOM_MARKER: {
            "seed": int(seed),
            "size": size,
            "variant": "tiny" if size == "tiny" else "full",
            "patch_overlap": bool(patch_overlap),
            "generator": "tools/lssd_checkpoint.py",
            "generator_version": GENERATOR_VERSION,
        },
    }


# ----------------------------------------------------------------------------- loading

def sha256_file(path: str) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def read_checkpoint(path: str) -> Dict:
    """torch.load a checkpoint; CheckpointError unless it is a dict with a "model" state dict."""
    if not os.path.isfile(path):
        raise CheckpointError(f"{path}: no such file")
    try:
        obj = torch.load(path, map_location="cpu")
    except Exception as e:  # noqa: BLE001 - any unpickling failure means "not a checkpoint"
        raise CheckpointError(f"{path}: not an LSSD checkpoint (torch.load failed: {type(e).__name__}: {e})")
    if not isinstance(obj, dict) or "model" not in obj or not isinstance(obj["model"], dict):
        what = type(obj).__name__ if not isinstance(obj, dict) else f"dict without a 'model' state dict (keys: {sorted(map(str, obj))[:8]})"
        raise CheckpointError(f"{path}: not an LSSD checkpoint (expected a dict with a 'model' state dict, got {what})")
    return obj


def split_backbone(model_sd: Dict) -> Dict[str, Dict[str, torch.Tensor]]:
    """Split a release state dict into the two towers' state dicts (prefix removed).

    Keys outside ``backbone.`` are ignored; a ``backbone.`` key that belongs to neither tower is
    an error; a tower with no key at all is an error."""
    towers: Dict[str, Dict[str, torch.Tensor]] = {m: collections.OrderedDict() for m in lssd_mvit.MODALITIES}
    for key, value in model_sd.items():
        if not isinstance(key, str) or not key.startswith("backbone."):
            continue
        for m, prefix in lssd_mvit.PREFIX.items():
            if key.startswith(prefix):
                if not torch.is_tensor(value):
                    raise CheckpointError(f"key {key}: not a tensor ({type(value).__name__})")
                towers[m][key[len(prefix):]] = value
                break
        else:
            raise CheckpointError(f"unexpected backbone key {key} (expected backbone.net.video.* or backbone.net.audio.*)")
    for m in lssd_mvit.MODALITIES:
        if not towers[m]:
            raise CheckpointError(f"not an LSSD checkpoint: no {lssd_mvit.PREFIX[m]}* keys in 'model'")
    return towers


def infer_arch(tower_sd: Dict[str, torch.Tensor], modality: str) -> Tuple[str, bool]:
    """(size, patch_overlap) of a tower state dict, from its number of blocks, its patch-embedding
    kernel and width."""
    prefix = lssd_mvit.PREFIX[modality]
    key = "patch_embed.proj.weight"
    if key not in tower_sd:
        raise CheckpointError(f"missing key {prefix}{key} (cannot infer the architecture without it)")
    w = tower_sd[key]
    kernels = {k[-1] if modality == "video" else tuple(k): ov
               for (mod, ov), (k, _, _) in lssd_mvit.PATCH_GEOMETRY.items() if mod == modality}
    kk = w.shape[-1] if modality == "video" else tuple(w.shape[-2:])
    if kk not in kernels:
        raise CheckpointError(f"{prefix}{key}: shape {list(w.shape)} matches no known patch embedding")
    overlap = kernels[kk]
    blocks = {int(k.split(".")[1]) for k in tower_sd if k.startswith("blocks.") and k.split(".")[1].isdigit()}
    depth = max(blocks) + 1 if blocks else 0
    embed = w.shape[0]
    for size, rule in lssd_mvit.SIZE_RULES.items():
        if rule["depth"] == depth and rule["embed"] == embed:
            return size, overlap
    raise CheckpointError(f"{prefix}*: {depth} blocks with patch width {embed} match no known size "
                          f"({', '.join('%s: %d blocks' % (s, r['depth']) for s, r in lssd_mvit.SIZE_RULES.items())})")


def check_tower_keys(model: torch.nn.Module, tower_sd: Dict[str, torch.Tensor], modality: str) -> None:
    """Strict key / shape check with messages that name the full checkpoint key."""
    prefix = lssd_mvit.PREFIX[modality]
    expected = model.state_dict()
    missing = [k for k in expected if k not in tower_sd]
    unexpected = [k for k in tower_sd if k not in expected]
    problems = []
    if missing:
        problems.append("missing key(s): " + ", ".join(prefix + k for k in missing[:10])
                        + (f" (+{len(missing) - 10} more)" if len(missing) > 10 else ""))
    if unexpected:
        problems.append("unexpected key(s): " + ", ".join(prefix + k for k in unexpected[:10])
                        + (f" (+{len(unexpected) - 10} more)" if len(unexpected) > 10 else ""))
    for k, ref in expected.items():
        if k in tower_sd and tuple(tower_sd[k].shape) != tuple(ref.shape):
            problems.append(f"shape mismatch for {prefix}{k}: checkpoint {list(tower_sd[k].shape)}, "
                            f"model {list(ref.shape)}")
        elif k in tower_sd and tower_sd[k].is_floating_point() != ref.is_floating_point():
            problems.append(f"dtype mismatch for {prefix}{k}: checkpoint {tower_sd[k].dtype}, model {ref.dtype}")
    if problems:
        raise CheckpointError(f"{modality} tower ({model.size}, patch_overlap={model.patch_overlap}): "
                              + "; ".join(problems))


def load_tower(tower_sd: Dict[str, torch.Tensor], modality: str, size: Optional[str] = None,
               patch_overlap: Optional[bool] = None) -> lssd_mvit.LSSDTower:
    """Build the tower (architecture inferred unless given) and load it strictly, in eval mode."""
    if size is None or patch_overlap is None:
        inf_size, inf_overlap = infer_arch(tower_sd, modality)
        size = inf_size if size is None else size
        patch_overlap = inf_overlap if patch_overlap is None else patch_overlap
    model = lssd_mvit.build_tower(modality, size, patch_overlap)
    check_tower_keys(model, tower_sd, modality)
    sd = {k: (v.float() if v.is_floating_point() else v) for k, v in tower_sd.items()}
    model.load_state_dict(sd, strict=True)
    return model.eval()


def load_checkpoint_towers(path: str) -> Tuple[Dict, Dict[str, lssd_mvit.LSSDTower]]:
    ckpt = read_checkpoint(path)
    towers = split_backbone(ckpt["model"])
    return ckpt, {m: load_tower(sd, m) for m, sd in towers.items()}


# ----------------------------------------------------------------------------- CLI

def _cmd_random(a) -> int:
    size = "tiny" if a.tiny else a.size
    ckpt = make_random_checkpoint(size, a.overlap, a.seed)
    out_dir = os.path.dirname(os.path.abspath(a.output))
    os.makedirs(out_dir, exist_ok=True)
    tmp = a.output + ".tmp"
    torch.save(ckpt, tmp)
    os.replace(tmp, a.output)
    n = sum(1 for k in ckpt["model"] if k.startswith("backbone."))
    print(json.dumps({"output": a.output, "backbone_keys": n, "ignored_keys": len(IGNORED_EXTRA),
                      RANDOM_MARKER: ckpt[RANDOM_MARKER], "sha256": sha256_file(a.output)}))
    return 0


def _cmd_info(a) -> int:
    ckpt, models = load_checkpoint_towers(a.checkpoint)
    info = {"checkpoint": a.checkpoint, "sha256": sha256_file(a.checkpoint),
            "random_weights": ckpt.get(RANDOM_MARKER)}
    for m, model in models.items():
        info[m] = {"size": model.size, "patch_overlap": model.patch_overlap, "variant": model.variant,
                   "depth": len(model.blocks), "params": sum(p.numel() for p in model.parameters())}
    info["ignored_keys"] = [k for k in ckpt["model"] if not str(k).startswith("backbone.")]
    print(json.dumps(info, indent=1))
    return 0


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)
    r = sub.add_parser("random", help="write a checkpoint with seeded random weights")
    r.add_argument("--size", choices=("S", "B"), default="S")
    r.add_argument("--overlap", action="store_true", help="PATCH_OVERLAP architecture")
    r.add_argument("--tiny", action="store_true", help="the tiny test architecture (overrides --size)")
    r.add_argument("--seed", type=int, default=0)
    r.add_argument("-o", "--output", required=True)
    i = sub.add_parser("info", help="strictly load a checkpoint and print its architecture")
    i.add_argument("checkpoint")
    a = ap.parse_args(argv)
    try:
        return _cmd_random(a) if a.cmd == "random" else _cmd_info(a)
    except CheckpointError as e:
        print(f"lssd_checkpoint: error: {e}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
