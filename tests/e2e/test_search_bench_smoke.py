#!/usr/bin/env python3
"""The search benchmark (tools/bench/search_bench.cc) runs on a small instance and reports its
figures; scanning every IVF cell gives recall 1. No timing is asserted: the figures live in
tools/bench/search.md."""
import json
import os
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from e2e_common import BUILD_DIR, Checker, scratch  # noqa: E402

BENCH = os.path.join(BUILD_DIR, "lssd-search-bench")


def main():
    c = Checker("test_search_bench_smoke")
    if not os.path.exists(BENCH):
        sys.exit(f"missing {BENCH}: build the lssd-search-bench target")
    with scratch("lssd_search_bench_") as tmp:
        out = os.path.join(tmp, "r.json")
        n, nlist = 20000, 50
        r = subprocess.run([BENCH, "--n", str(n), "--clusters", "200", "--queries", "40", "--single", "3", "--nlist", str(nlist),
                            "--nprobe", f"1,{nlist}", "--index-file", os.path.join(tmp, "i.faiss"), "--json", out],
                           capture_output=True, text=True, env=dict(os.environ, OMP_WAIT_POLICY="PASSIVE"), timeout=900)
        print(r.stdout[-3000:], r.stderr[-2000:])
        c.check(r.returncode == 0, f"lssd-search-bench exit {r.returncode}")
        j = json.load(open(out))
        c.check(j["n"] == n and j["nlist"] == nlist and j["ivf_build_s"] > 0 and j["peak_rss_mb"] > 0 and
                j["exact_single_ms"] > 0 and j["ivf_file_mb"] > n * 768 * 4 / 2**20, "figures reported")
        rec = {e["nprobe"]: e["recall"] for e in j["ivf"]}
        c.check(rec.get(nlist) == 1.0, f"every cell scanned: recall@10 = 1 ({rec})")
        c.check(0 <= rec.get(1, -1) <= 1, f"one cell: recall@10 {rec.get(1)}")
        c.check("load" in r.stdout and "peak RSS" in r.stdout, "the text report shows load averages and peak RSS")
    return c.finish()


if __name__ == "__main__":
    sys.exit(main())
