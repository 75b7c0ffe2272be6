"""Shared helpers of the Python oracle tests (not a test itself).

Each tests/oracle/test_*.py is a standalone script: exit 0 on success, non-zero on failure, it
prints what it measured, and takes an optional --tmp DIR (default: a fresh temporary directory).
Here: the release's tables, parse_args/scratch, the encoder probe and the encoder tests' inputs();
Checker and the paths come from tests/lssd_testing.py.
"""

import argparse
import ast
import contextlib
import os
import sys
import tempfile

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
TOOLS = os.path.join(REPO, "tools")
if TOOLS not in sys.path:
    sys.path.insert(0, TOOLS)
sys.path.insert(0, os.path.join(REPO, "tests"))
from lssd_testing import BUILD_DIR, PYTHON, SOURCE_DIR, Checker  # noqa: E402,F401  (re-exported)


def tables_dir() -> str:
    """The release's state-dict and block tables (tests/data/release, see its README.md)."""
    return os.path.join(REPO, "tests", "data", "release")


def table_suffix(size: str, overlap: bool) -> str:
    return f"{size}{'_overlap' if overlap else ''}"


def read_state_dict_tsv(size: str, overlap: bool):
    """[(key, shape list, dtype str)] of state_dict_<size>[_overlap].tsv, in file order."""
    path = os.path.join(tables_dir(), f"state_dict_{table_suffix(size, overlap)}.tsv")
    rows = []
    with open(path) as f:
        header = f.readline().rstrip("\n").split("\t")
        assert header == ["key", "shape", "dtype"], f"{path}: unexpected header {header}"
        for line in f:
            if line.strip():
                k, shape, dtype = line.rstrip("\n").split("\t")
                rows.append((k, list(ast.literal_eval(shape)), dtype))
    return rows


def read_blocks_tsv(modality: str, size: str, overlap: bool):
    """(header comment lines, [dict per block]) of blocks_<modality>_<size>[_overlap].tsv."""
    path = os.path.join(tables_dir(), f"blocks_{modality}_{table_suffix(size, overlap)}.tsv")
    comments, rows, cols = [], [], None
    with open(path) as f:
        for line in f:
            line = line.rstrip("\n")
            if not line:
                continue
            if line.startswith("#"):
                comments.append(line[1:].strip())
                continue
            fields = line.split("\t")
            if cols is None:
                cols = fields
                continue
            row = {}
            for c, v in zip(cols, fields):
                row[c] = ast.literal_eval(v) if v not in ("True", "False") else v == "True"
            rows.append(row)
    return comments, rows


def table_patch_grid(comments):
    """The token grid (T,H,W) stated in a blocks table header."""
    for c in comments:
        if c.startswith("token grid after patch embed"):
            return list(ast.literal_eval(c.split(":", 1)[1].split(";")[0].strip()))
    raise AssertionError("no token grid line in the table header")


def parse_args(description: str, extra=None):
    ap = argparse.ArgumentParser(description=description)
    ap.add_argument("--tmp", help="scratch directory (default: a fresh temporary directory)")
    if extra:
        extra(ap)
    return ap.parse_args()


@contextlib.contextmanager
def scratch(tmp):
    if tmp:
        os.makedirs(tmp, exist_ok=True)
        yield tmp
    else:
        with tempfile.TemporaryDirectory(prefix="lssd_oracle_") as d:
            yield d


def encoder_probe():
    """tests/tools/lssd_encoder_probe of the build under test (the C++ encoder on saved inputs)."""
    for p in (os.path.join(BUILD_DIR, "tests", "lssd_encoder_probe"), os.path.join(BUILD_DIR, "lssd_encoder_probe")):
        if os.path.exists(p):
            return p
    return os.path.join(BUILD_DIR, "tests", "lssd_encoder_probe")


def inputs(modality, n, seed):
    """n seeded random encoder inputs: video [n,3,16,224,224] in [0,1), audio [n,1,96,288]
    log-mel-like (N(-30, 20^2)); the same for every test that compares encoders."""
    import torch

    g = torch.Generator().manual_seed(seed)
    if modality == "video":
        return torch.rand((n, 3, 16, 224, 224), generator=g)
    return torch.randn((n, 1, 96, 288), generator=g) * 20.0 - 30.0
