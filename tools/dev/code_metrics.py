#!/usr/bin/env python3
"""Size metrics of the C++ tree, for before/after notes of restructurings: the longest functions,
the largest files, files per folder and the longest parameter lists (universal-ctags, Debian's
universal-ctags package). Usage: tools/dev/code_metrics.py [--top N] [DIR ...] (default src include)."""
import argparse
import collections
import json
import os
import subprocess
import sys


def tags(paths):
    r = subprocess.run(["ctags", "--output-format=json", "--fields=+neS", "--kinds-C++=f", "--languages=C++",
                        "-R", "-f", "-", *paths], capture_output=True, text=True, check=True)
    return [json.loads(line) for line in r.stdout.splitlines() if line.startswith("{")]


def params(signature):
    inner = signature.strip()[1:-1].strip() if signature else ""
    if not inner or inner == "void":
        return 0
    depth, n = 0, 1
    for ch in inner:
        depth += ch in "(<[{"
        depth -= ch in ")>]}"
        n += ch == "," and depth == 0
    return n


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--top", type=int, default=8)
    ap.add_argument("paths", nargs="*", default=["src", "include"])
    a = ap.parse_args()
    fns = [t for t in tags(a.paths) if t.get("kind") == "function" and "end" in t]
    longest = sorted(fns, key=lambda t: t["end"] - t["line"] + 1, reverse=True)[:a.top]
    print("longest functions (lines):")
    for t in longest:
        print(f"  {t['end'] - t['line'] + 1:4d}  {t['path']}:{t['line']}  {t.get('scope', '') + '::' if t.get('scope') else ''}{t['name']}")
    print("longest parameter lists:")
    for t in sorted(fns, key=lambda t: params(t.get("signature", "")), reverse=True)[:a.top]:
        print(f"  {params(t.get('signature', '')):4d}  {t['path']}:{t['line']}  {t['name']}")
    files = []
    for p in a.paths:
        for d, _, names in os.walk(p):
            files += [os.path.join(d, n) for n in names if n.endswith((".cc", ".h"))]
    sizes = sorted(((sum(1 for _ in open(f)), f) for f in files), reverse=True)
    print("largest files (lines):")
    for n, f in sizes[:a.top]:
        print(f"  {n:5d}  {f}")
    per = collections.Counter(os.path.dirname(f) for f in files)
    print("files per folder:")
    for d in sorted(per):
        print(f"  {per[d]:3d}  {d}/")
    return 0


if __name__ == "__main__":
    sys.exit(main())
