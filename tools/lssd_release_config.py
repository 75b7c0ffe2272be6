"""What the exporter reads from a config.yaml: a released one (the Python release's yacs tree) or
one of configs/*.yaml.

  read_tower_config(path) -> {"size": "S"|"B"|"tiny", "patch_overlap": bool, "path": path}

Values are decoded the way yacs decodes a YAML file: a string that is a Python literal becomes
that literal ("None", "[[1, 2.0]]", "True"), any other string stays a string. MVIT.SIZE (default
"S"; "tiny" is lssd's test variant) and MVIT.PATCH_OVERLAP (default False) decide the towers; the
release's tower builder overwrites the other MVIT keys from them, except the seven of
TOWER_DEFAULTS: a config that sets one of those to another value asks for towers that
tools/lssd_mvit.py does not build, and is refused with an error naming the key and the value.
Every other key is accepted and not read here (lssd-infer checks the whole tree).
"""
import ast
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from lssd_pydeps import require  # noqa: E402

# The release's defaults of the keys that change the towers and that its tower builder keeps;
# the same keys are KeyUse::DefaultOnly in src/config/config_keys.cc (checked by
# tests/e2e/test_release_config.py).
TOWER_DEFAULTS = {
    "MVIT.POOL_FIRST": False,
    "MVIT.LAYER_SCALE_INIT_VALUE": 0.0,
    "MVIT.NORM_STEM": False,
    "MVIT.SEP_POS_EMBED": False,
    "MVIT.SEPARATE_QKV": False,
    "MVIT.USE_MEAN_POOLING": False,
    "MVIT.USE_FIXED_SINCOS_POS": False,
}
SIZES = ("S", "B", "tiny")


class ConfigFileError(Exception):
    """A config file that cannot be used; the message starts with the file."""


def _decode(v):
    """yacs's _decode_cfg_value for a value loaded from YAML."""
    if isinstance(v, str):
        try:
            return ast.literal_eval(v)
        except (ValueError, SyntaxError):
            return v
    return v


def flatten(tree, prefix=""):
    """{"MVIT.SIZE": "S", ...} of a nested mapping, values decoded as yacs does."""
    out = {}
    for k, v in (tree or {}).items():
        key = f"{prefix}{k}"
        if isinstance(v, dict):
            out.update(flatten(v, key + "."))
        else:
            out[key] = _decode(v)
    return out


def _show(v) -> str:
    return repr(v) if isinstance(v, str) else str(v)


def read_tower_config(path: str):
    require("yaml", who="tools/lssd_export.py --config")
    import yaml

    try:
        with open(path) as f:
            tree = yaml.safe_load(f)
    except OSError as e:
        raise ConfigFileError(f"{path}: cannot read the config file ({e.strerror})") from None
    except yaml.YAMLError as e:
        raise ConfigFileError(f"{path}: not valid YAML: {e}") from None
    if tree is not None and not isinstance(tree, dict):
        raise ConfigFileError(f"{path}: a config file holds a mapping of keys")
    cfg = flatten(tree)
    size = cfg.get("MVIT.SIZE", "S")
    if size not in SIZES:
        raise ConfigFileError(f"{path}: MVIT.SIZE {_show(size)}: expected S or B")
    overlap = cfg.get("MVIT.PATCH_OVERLAP", False)
    if not isinstance(overlap, bool):
        raise ConfigFileError(f"{path}: MVIT.PATCH_OVERLAP {_show(overlap)}: expected True or False")
    for key, default in TOWER_DEFAULTS.items():
        if key not in cfg:
            continue
        v = cfg[key]
        ok_type = isinstance(v, bool) if isinstance(default, bool) else (
            isinstance(v, (int, float)) and not isinstance(v, bool))
        if not ok_type:
            raise ConfigFileError(f"{path}: {key} {_show(v)}: expected a {type(default).__name__}")
        if v != default:
            raise ConfigFileError(
                f"{path}: {key} {_show(v)} is not supported: it changes the MViT towers, and lssd's towers "
                f"(tools/lssd_mvit.py) implement only the release's default {key} {_show(default)}")
    return {"size": size, "patch_overlap": overlap, "path": path}
