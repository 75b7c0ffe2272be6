#!/usr/bin/python3
"""Our MViTv2 towers vs the release tables.

For S, B, S_overlap, B_overlap and both towers: state_dict keys (in order), shapes and dtypes
equal state_dict_*.tsv exactly, and every block's widths / heads / pooling kernels / strides /
flags equal blocks_*.tsv (as does the patch embedding and token grid in the table header).
Also: the tiny variant follows the same naming scheme and ends at 768.
"""

import sys

import lssd_oracle_common as common

import lssd_mvit  # noqa: E402  (tools/ is on sys.path via lssd_oracle_common)

BLOCK_COLS = ["dim_in", "dim_out", "num_heads", "kernel_q", "stride_q", "kernel_kv", "stride_kv",
              "rel_pos_spatial", "rel_pos_temporal", "residual_pooling", "dim_mul_in_att"]


def main() -> int:
    args = common.parse_args(__doc__)
    c = common.Checker("test_mvit_state_dict")
    print(f"tables: {common.tables_dir()}")
    with common.scratch(args.tmp):
        for size in ("S", "B"):
            for overlap in (False, True):
                tag = common.table_suffix(size, overlap)
                expected = common.read_state_dict_tsv(size, overlap)
                got = []
                for modality in lssd_mvit.MODALITIES:
                    model = lssd_mvit.build_tower(modality, size, overlap)
                    for k, t in model.state_dict().items():
                        got.append((lssd_mvit.PREFIX[modality] + k, list(t.shape), str(t.dtype).replace("torch.", "")))

                    comments, rows = common.read_blocks_tsv(modality, size, overlap)
                    ours = lssd_mvit.describe_blocks(model)
                    c.check(len(rows) == len(ours), f"{modality} {tag}: {len(ours)} blocks (table {len(rows)})")
                    bad = []
                    for r, o in zip(rows, ours):
                        for col in BLOCK_COLS:
                            if r[col] != o[col]:
                                bad.append(f"block {r['block']} {col}: ours {o[col]} table {r[col]}")
                    c.check(not bad, f"{modality} {tag}: per-block settings equal blocks table"
                            + (f" ({'; '.join(bad[:5])})" if bad else ""))
                    grid = common.table_patch_grid(comments)
                    c.check(list(model.patch_thw) == grid,
                            f"{modality} {tag}: patch grid {list(model.patch_thw)} (table {grid})")
                    k, s, p = lssd_mvit.PATCH_GEOMETRY[(modality, overlap)]
                    header = " ".join(comments)
                    c.check(f"kernel={list(k)} stride={list(s)} padding={list(p)}" in header,
                            f"{modality} {tag}: patch kernel {list(k)} stride {list(s)} padding {list(p)} in table header")
                    c.check(("cls_token: True" in header) == model.has_cls, f"{modality} {tag}: cls token {model.has_cls}")

                exp_keys = [e[0] for e in expected]
                got_keys = [g[0] for g in got]
                missing = sorted(set(exp_keys) - set(got_keys))
                extra = sorted(set(got_keys) - set(exp_keys))
                c.check(not missing and not extra,
                        f"{tag}: {len(got)} keys vs table {len(expected)} (missing {missing[:5]}, extra {extra[:5]})")
                c.check(exp_keys == got_keys, f"{tag}: key order equals the table")
                exp_map = {k: (s, d) for k, s, d in expected}
                mism = [f"{k}: ours {s} {d}, table {exp_map[k][0]} {exp_map[k][1]}"
                        for k, s, d in got if k in exp_map and (s, d) != exp_map[k]]
                c.check(not mism, f"{tag}: shapes and dtypes equal the table" + (f" ({'; '.join(mism[:5])})" if mism else ""))
                n_rel = sum(1 for k in exp_keys if "rel_pos_" in k)
                print(f"     {tag}: {len(expected)} keys, {n_rel} rel_pos tables checked")

        # The tiny variant: same naming scheme, fewer blocks, 768-d out.
        for modality in lssd_mvit.MODALITIES:
            model = lssd_mvit.build_tower(modality, "tiny", False)
            blocks = lssd_mvit.describe_blocks(model)
            c.check(len(blocks) == 3 and blocks[-1]["dim_out"] == 768 and model.variant == "tiny",
                    f"tiny {modality}: {len(blocks)} blocks, widths {[b['dim_out'] for b in blocks]}, "
                    f"heads {[b['num_heads'] for b in blocks]}")
            full_keys = {k.split(".", 2)[-1] if k.startswith("blocks.") else k
                         for k in lssd_mvit.build_tower(modality, "S", False).state_dict()}
            tiny_keys = {k.split(".", 2)[-1] if k.startswith("blocks.") else k for k in model.state_dict()}
            c.check(tiny_keys <= full_keys, f"tiny {modality}: key names are a subset of the release scheme")
    return c.finish()


if __name__ == "__main__":
    sys.exit(main())
