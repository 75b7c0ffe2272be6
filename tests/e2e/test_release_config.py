#!/usr/bin/env python3
"""Released config files work as given, in lssd-infer and in the exporter.

tests/data/configs/release_tree.yaml sets every key of the release's config tree (yacs-dump
style: block lists, lists of lists, null), the keys lssd reads at their defaults and the
overwritten tower keys at values of another size (MVIT.DEPTH 24, ...). With a seeded-random
MViT-S checkpoint (only the audio tower is exported, to keep the test short):
- `tools/lssd_export.py --config release_tree.yaml` exports; the same config with MVIT.SIZE B,
  or with MVIT.USE_MEAN_POOLING True, stops with exit 2 naming the key and the value;
- `lssd-infer --cfg release_tree.yaml -v` runs, lists the ignored keys it set, and writes the
  same embeddings as a run without the config; MVIT.USE_MEAN_POOLING True (in the file or as an
  override) stops with exit 2 naming the key and the value;
- the tower keys refused by the exporter are the KeyUse::DefaultOnly keys of src/config/config_keys.cc,
  and the 60 keys of release_tree.yaml are all declared there.
"""
import os
import re
import shutil
import subprocess
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from e2e_common import PYTHON, SAMPLE_DIR, SOURCE_DIR, THREADS, Checker, infer_path, scratch  # noqa: E402

sys.path.insert(0, os.path.join(SOURCE_DIR, "tools"))
import lssd_release_config  # noqa: E402

TREE = os.path.join(SOURCE_DIR, "tests", "data", "configs", "release_tree.yaml")
TOOLS = os.path.join(SOURCE_DIR, "tools")
AUDIO_FILE = os.path.join(SAMPLE_DIR, "audio", "speech", "german_16kHz_mono_7.5s.wav")


def run(cmd, **kw):
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=1200, **kw)
    return r.returncode, r.stdout, r.stderr


def variant(tmp, name, old, new):
    """A copy of release_tree.yaml with one line changed."""
    text = open(TREE).read()
    assert old in text, old
    path = os.path.join(tmp, name)
    with open(path, "w") as f:
        f.write(text.replace(old, new))
    return path


def declared_keys():
    """{key: use} of src/config/config_keys.cc (use: Used, Ignored, DefaultOnly)."""
    text = open(os.path.join(SOURCE_DIR, "src", "config", "config_keys.cc")).read()
    keys = {}
    for m in re.finditer(r'\{"([A-Z0-9_.]+)",(.*?)\},?\n(?=\s*(?:\{|//|\}))', text, re.S):
        use = re.search(r"U::(\w+)\s*$", m.group(2).strip())
        keys[m.group(1)] = use.group(1) if use else "Used"
    return keys


def tree_keys():
    import yaml
    return set(lssd_release_config.flatten(yaml.safe_load(open(TREE))))


def main():
    c = Checker("test_release_config")
    keys = declared_keys()
    tree = tree_keys()
    c.check(len(tree) == 60 and tree <= set(keys),
            f"release_tree.yaml sets {len(tree)} keys, all declared (missing: {sorted(tree - set(keys))})")
    c.check(sum(u != "Used" for u in keys.values()) == 36, "36 release-only keys in src/config/config_keys.cc")
    default_only = {k for k, u in keys.items() if u == "DefaultOnly"}
    c.check(default_only == set(lssd_release_config.TOWER_DEFAULTS),
            f"the exporter refuses the same tower keys as lssd-infer ({sorted(default_only)})")

    with scratch("lssd_release_cfg_") as tmp:
        ckpt = os.path.join(tmp, "S.pyth")
        models = os.path.join(tmp, "models")
        rc, _, err = run([PYTHON, os.path.join(TOOLS, "lssd_checkpoint.py"), "random", "--size", "S", "--seed", "3",
                          "-o", ckpt])
        if not c.check(rc == 0, f"random MViT-S checkpoint (exit {rc})"):
            print(err[-2000:])
            return c.finish()
        export = [PYTHON, os.path.join(TOOLS, "lssd_export.py"), "--checkpoint", ckpt, "--out-dir", models,
                  "--modality", "audio", "--threads", str(THREADS)]

        # --- the exporter ---
        for name, old, new, key in [("size_b.yaml", "  SIZE: S\n", "  SIZE: B\n", "MVIT.SIZE B"),
                                    ("meanpool.yaml", "  USE_MEAN_POOLING: false\n", "  USE_MEAN_POOLING: true\n",
                                     "MVIT.USE_MEAN_POOLING True"),
                                    ("overlap.yaml", "  PATCH_OVERLAP: false\n", "  PATCH_OVERLAP: 'True'\n",
                                     "MVIT.PATCH_OVERLAP True")]:
            cfg = variant(tmp, name, old, new)
            rc, _, err = run(export + ["--config", cfg])
            c.check(rc == 2 and key in err and cfg in err and not os.path.exists(models),
                    f"exporter --config with {key}: exit {rc}, {err.strip()[:200]}")
        rc, out, err = run(export + ["--config", TREE])
        if not c.check(rc == 0 and os.path.isfile(os.path.join(models, "audio.pt")),
                       f"exporter --config release_tree.yaml exports (exit {rc})"):
            print(out[-1000:], err[-2000:])
            return c.finish()
        rc, _, err = run([PYTHON, os.path.join(TOOLS, "lssd_export.py"), "--check", "--out-dir", models,
                          "--modality", "audio", "--config", TREE])
        c.check(rc == 0, f"exporter --check --config release_tree.yaml (exit {rc}) {err.strip()[:200]}")

        # --- lssd-infer ---
        data = os.path.join(tmp, "in")
        os.makedirs(data)
        shutil.copy(AUDIO_FILE, data)
        common = ["DATA.PATH_TO_DATA_DIR", data, "DATA.USE_VIDEO", "False", "MODEL.AUDIO_ENCODER_FILE",
                  os.path.join(models, "audio.pt"), "RUNTIME.DEVICE", "cpu", "RUNTIME.NUM_THREADS", str(THREADS)]
        out1 = os.path.join(tmp, "out_tree")
        rc, stdout, err = run([infer_path(), "--cfg", TREE, "-v", "OUTPUT_DIR", out1, *common])
        if not c.check(rc == 0, f"lssd-infer --cfg release_tree.yaml runs (exit {rc})"):
            print(err[-3000:])
            return c.finish()
        line = next((ln for ln in err.splitlines() if "ignored config keys" in ln), "")
        c.check("MVIT.DEPTH 24" in line and "MVIT.DIM_MUL [[2, 2.0], [5, 2.0], [21, 2.0]]" in line
                and "DIST.BACKEND nccl" in line and line.count(", MVIT.") + line.count(", DIST.") >= 27,
                f"-v lists the ignored keys: {line[:160]}...")
        c.check("POOL_KVQ_KERNEL: [3, 3, 3]" in stdout, "-v prints the resolved tree (lists kept)")
        resolved = open(os.path.join(out1, "config.yaml")).read()
        c.check("DEPTH: 24" in resolved and "POOL_Q_STRIDE: [[0, 1, 1, 1]" in resolved,
                "OUTPUT_DIR/config.yaml holds the release keys")
        out2 = os.path.join(tmp, "out_plain")
        rc, _, err = run([infer_path(), "OUTPUT_DIR", out2, *common])
        name = os.path.basename(AUDIO_FILE) + ".npy"
        a = np.load(os.path.join(out1, "audio", name))
        b = np.load(os.path.join(out2, "audio", name))
        c.check(rc == 0 and a.shape == b.shape and np.array_equal(a, b),
                f"the ignored keys change nothing: same {a.shape} embeddings as without the config")
        cfg = variant(tmp, "meanpool.yaml", "  USE_MEAN_POOLING: false\n", "  USE_MEAN_POOLING: true\n")
        for how, args in [("in the file", ["--cfg", cfg]), ("as an override", ["--cfg", TREE, "MVIT.USE_MEAN_POOLING",
                                                                                 "True"])]:
            out3 = os.path.join(tmp, "out_refused")
            rc, _, err = run([infer_path(), *args, "OUTPUT_DIR", out3, *common])
            c.check(rc == 2 and "MVIT.USE_MEAN_POOLING True" in err and not os.path.exists(os.path.join(out3, "audio")),
                    f"lssd-infer with MVIT.USE_MEAN_POOLING True {how}: exit {rc}, {err.strip()[-200:]}")
    return c.finish()


if __name__ == "__main__":
    sys.exit(main())
