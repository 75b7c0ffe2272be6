#!/usr/bin/python3
"""test_mvit_torchvision.py for the B configurations (B, B_overlap): our video towers vs
torchvision's MViT with the same block settings and weights, max abs diff <= 1e-4 at batch 1.
Label `slow` (the B_overlap forward pair is the slowest part of the oracle suite)."""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import test_mvit_torchvision  # noqa: E402

if __name__ == "__main__":
    if not any(a == "--configs" or a.startswith("--configs=") for a in sys.argv[1:]):
        sys.argv[1:1] = ["--configs", "B,B_overlap"]
    sys.exit(test_mvit_torchvision.main())
