#!/usr/bin/env python3
"""The bookkeeping benchmark (tools/bench/catalog.py with build/lssd-catalog-bench) on a small
catalogue: both layouts, walk and list, warm and cold cache, and lssd-infer rerun over it. Every
measure finds each generated input done (nothing to compute, the content failures not retried,
the gone writer's temporaries swept), the same counts in both layouts, and lssd-infer agrees. No
timing is asserted: the figures live in tools/bench/README.md."""
import json
import os
import re
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from e2e_common import BUILD_DIR, PYTHON, SOURCE_DIR, Checker, scratch, tiny_model_dir  # noqa: E402

N = 20000  # above 16,384 jobs: the resume check judges in threads


def main():
    c = Checker("test_catalog_bench_smoke")
    model = os.path.join(tiny_model_dir(), "audio.pt")
    with scratch("lssd_catalog_bench_") as tmp:
        out = os.path.join(tmp, "r.json")
        r = subprocess.run([PYTHON, os.path.join(SOURCE_DIR, "tools", "bench", "catalog.py"), "--n", str(N),
                            "--writers", "3", "--infer", "--build", BUILD_DIR, "--audio-model", model, "--cache", tmp,
                            "--json", out], capture_output=True, text=True, timeout=600)
        print(r.stdout[-4000:], r.stderr[-3000:])
        if not c.check(r.returncode == 0, f"catalog.py exit {r.returncode}"):
            return c.finish()
        j = json.load(open(out))
        made = {m["layout"]: m for m in j["made"]}
        c.check(set(made) == {"files", "shards"} and all(m["inputs"] == N for m in made.values()) and
                made["files"]["failed"] == made["shards"]["failed"] > 0 and
                made["files"]["clips"] == made["shards"]["clips"], f"both catalogues made alike: {made}")
        failed = made["files"]["failed"]
        measures = [row for row in j["rows"] if not row.get("infer")]
        c.check(sorted((m["layout"], m["discovery"], m["cache"]) for m in measures) ==
                sorted((lay, d, ca) for lay in ("files", "shards") for d in ("walk", "list") for ca in ("warm", "cold")),
                "one measure per layout, discovery and cache")
        for m in measures:
            what = f"{m['layout']} {m['discovery']} {m['cache']}"
            c.check(m["inputs"] == N and m["jobs"] == N and m["todo"] == 0 and m["resumed"] == N - failed and
                    m["failed_earlier"] == failed and m["records"] == N and m["swept"] == 10,
                    f"{what}: every input done, {failed} failures not retried, 10 temporaries swept: "
                    f"{ {k: m[k] for k in ('inputs', 'jobs', 'todo', 'resumed', 'failed_earlier', 'swept')} }")
            c.check([p["phase"] for p in m["phases"]] == ["discovery", "planning", "resume check", "sweep"] and
                    all(p["wall_s"] >= 0 and p["cpu_s"] >= 0 and p["peak_rss_mb"] > 0 for p in m["phases"]),
                    f"{what}: the four phases measured")
        reruns = [row for row in j["rows"] if row.get("infer")]
        c.check(len(reruns) == 4, "lssd-infer rerun in both layouts, warm and cold")
        for row in reruns:
            done = re.search(r"done: (\d+) outputs = 0 written \+ (\d+) already done", row["summary"])
            c.check(row["rc"] == 0 and done and int(done.group(1)) == N and int(done.group(2)) == N - failed,
                    f"lssd-infer rerun {row['layout']} {row['cache']}: nothing computed: {row['summary']}")
        c.check(re.search(r"\| shards \| list \| cold \| resume check \| [\d.]+ \|", r.stdout), "the markdown rows")
        c.check(not os.path.exists(os.path.join(tmp, f"catalog-{N}")), "the catalogue removed")
    return c.finish()


if __name__ == "__main__":
    sys.exit(main())
