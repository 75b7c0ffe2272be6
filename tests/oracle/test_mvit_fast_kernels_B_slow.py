#!/usr/bin/python3
"""test_mvit_fast_kernels.py for the B configurations (B, B_overlap): the exported fast module
against the reference formulation at batch 1 and 3, both towers, max abs diff <= 1e-4.
Label `slow` (B_overlap's reference forwards at batch 3 take the longest)."""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import test_mvit_fast_kernels  # noqa: E402

if __name__ == "__main__":
    if not any(a == "--configs" or a.startswith("--configs=") for a in sys.argv[1:]):
        sys.argv[1:1] = ["--configs", "B,B_overlap"]
    sys.exit(test_mvit_fast_kernels.main())
