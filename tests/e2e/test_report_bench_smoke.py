#!/usr/bin/env python3
"""The report benchmark (tools/bench/report_bench.py with build/lssd-report-synth) runs on a small
instance and reports its figures; the synthetic directory reads back with the counts the
generator printed. No timing is asserted: the figures live in tools/bench/README.md."""
import json
import os
import re
import shutil
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from e2e_common import BUILD_DIR, PYTHON, SOURCE_DIR, Checker, lssd_read, scratch  # noqa: E402

N = 1000


def main():
    c = Checker("test_report_bench_smoke")
    with scratch("lssd_report_bench_") as tmp:
        out = os.path.join(tmp, "r.json")
        r = subprocess.run([PYTHON, os.path.join(SOURCE_DIR, "tools", "bench", "report_bench.py"), "--n", str(N),
                            "--modes", "approx", "--build", BUILD_DIR, "--cache", tmp, "--json", out],
                           capture_output=True, text=True, timeout=600)
        print(r.stdout[-3000:], r.stderr[-3000:])
        if not c.check(r.returncode == 0, f"report_bench.py exit {r.returncode}"):
            return c.finish()
        j = json.load(open(out))
        res = j["results"][0]
        c.check(j["n"] == N and res["mode"] == "approx" and res["bytes"] > 0 and res["wall_s"] > 0 and
                res["peak_rss_mb"] > 0, f"figures reported: {res['summary']}")
        if shutil.which("chromium"):
            c.check(res["chromium"]["rendered"] == "ok" and res["chromium"]["load_ms"] is not None,
                    f"Chromium opened the page: {res['chromium']}")
        c.check(re.search(rf"\| {N:,} \| 32 \| approx \| [\d.]+ \|", r.stdout), "the markdown row")
        made = re.search(r"(\d+) records, (\d+) clips", r.stderr)
        stats = json.loads(lssd_read("stats", j["fixture"], "--json")[1])["modalities"]
        records = sum(m["records"] for m in stats.values())
        clips = sum(m["clips"] for m in stats.values())
        c.check(made and (int(made.group(1)), int(made.group(2))) == (records, clips),
                f"the synthetic directory reads back: {records} records, {clips} clips "
                f"(generator: {made and made.groups()}); shards read as one")
    return c.finish()


if __name__ == "__main__":
    sys.exit(main())
