#!/usr/bin/env python3
"""The benchmark harness runs: tools/bench/run.py on 3 sample files with the tiny model, every
leg (a, b, c, d) and two interleaved rounds, prints the table and writes a JSON whose numbers
are consistent (both rounds kept, the table's run is the median one, lssd-infer and the
reference embedded the same clips; a and b ran the fast kernels, c the reference formulation);
then --precision fp32,bf16 (legs a and b): one row per precision, the comparison line, and the
lowest per-clip cosine between the two outputs (>= 0.999 with the tiny random towers). No timing is asserted: speed targets live in the benchmark itself (tools/bench/README.md), not
in tests."""
import json
import os
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from e2e_common import BUILD_DIR, PYTHON, SOURCE_DIR, Checker, scratch, tiny_model_dir  # noqa: E402


def main():
    c = Checker("test_bench_smoke")
    # run.py's "tiny" takes these two (fast for a/b, reference for c) when they are in BUILD_DIR
    # (else it exports them into its cache).
    tiny_model_dir()
    tiny_model_dir("reference")
    with scratch("lssd-bench-smoke-") as tmp:
        def run_bench(name, *args):
            """tools/bench/run.py on 3 sample files with the tiny towers; (process, its JSON's path)."""
            out_json = os.path.join(tmp, name)
            cmd = [PYTHON, os.path.join(SOURCE_DIR, "tools", "bench", "run.py"), "--corpus", "sample", "--max-files",
                   "3", "--model", "tiny", "--threads", "2", *args, "--build", BUILD_DIR, "--cache", tmp, "--json",
                   out_json]
            r = subprocess.run(cmd, capture_output=True, text=True, timeout=1200)
            print(r.stdout[-3000:])
            return r, out_json

        r, out_json = run_bench("r.json", "--legs", "a,b,c,d", "--repeat", "2")
        if not c.check(r.returncode == 0, f"run.py exits 0 (got {r.returncode}): {r.stderr[-2000:]}"):
            return c.finish()
        c.check("a/b" in r.stdout and "targets:" in r.stdout, "the table is printed")
        c.check("rounds [" in r.stdout, "the per-round ratios are printed")
        res = json.load(open(out_json))
        run = res["runs"][0]
        for leg in ("a", "b", "c", "d"):
            c.check(leg in run, f"leg {leg} in the JSON")
        c.check(len(run.get("a_all", [])) == 2 and len(run.get("b_all", [])) == 2 and len(run.get("c_all", [])) == 2,
                "both rounds of a, b and c are kept")
        walls = sorted(x["wall_s"] for x in run.get("a_all", []))
        c.check(bool(walls) and run["a"]["wall_s"] == walls[0], "the table's a is the median (lower middle) run")
        n = sum(run["a"]["clips"].values())
        c.check(n > 0, f"lssd-infer embedded clips ({run['a']['clips']})")
        c.check(run["ratios"].get("same_clips") is True,
                f"lssd-infer and the reference embedded the same clips ({run['a']['clips']} vs {run['c']['clips']})")
        c.check(run["ratios"].get("a_over_b", 0) > 0 and run["ratios"].get("c_over_a", 0) > 0, "ratios computed")
        c.check(run["b"]["forward_total_s"] > 0 and run["d"]["wall_s"] > 0, "b and d timed")
        c.check(run.get("kernels") == "fast" and run.get("reference_kernels") == "reference",
                f"a and b ran the fast kernels ({run.get('kernels')}), c the reference ({run.get('reference_kernels')})")
        c.check(res["b_split"] == 1, "leg b splits batches as lssd-infer does on CPU (1 input per forward)")

        r, out_json = run_bench("p.json", "--legs", "a,b", "--precision", "fp32,bf16")
        if not c.check(r.returncode == 0, f"run.py --precision exits 0 (got {r.returncode}): {r.stderr[-2000:]}"):
            return c.finish()
        res = json.load(open(out_json))
        c.check([x.get("precision") for x in res["runs"]] == ["fp32", "bf16"], "one row per precision")
        c.check(all(x["a"]["precision"] == p for x, p in zip(res["runs"], ("fp32", "bf16"))),
                f"lssd-infer ran each precision ({[x['a']['precision'] for x in res['runs']]})")
        pairs = res.get("precision_compare", [{}])[0].get("pairs", [])
        cos = pairs[0].get("min_cosine") if pairs else None
        c.check(cos is not None and 0.999 <= cos < 1.0, f"lowest per-clip cosine bf16 vs fp32 {cos}")
        c.check("precision [tiny] fp32/bf16" in r.stdout, "the comparison line is printed")
    return c.finish()


if __name__ == "__main__":
    sys.exit(main())
