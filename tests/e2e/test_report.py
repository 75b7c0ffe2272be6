#!/usr/bin/env python3
"""lssd-read report end to end: the outputs of sample_data (tiny towers, DATA.AUDIO_FROM_VIDEO True)
plus a container made here with ffmpeg (a 12 s test pattern with three language-tagged FLAC
tracks: eng and deu the same chirp, fra the chirp for 6 s and then noise) and a copy of a sample
video (a sure duplicate): make_demo_data() of tools/report_screenshot.py, the README picture's
inputs. The data dir links sample_data's folders, so its inputs keep their relative paths.

The page is rendered by headless Chromium (Debian's `chromium`, installed by tools/setup.sh; the
test installs nothing and says SKIP for the rendering when it is not there): --dump-dom gives the
DOM after the load event, --screenshot a PNG that stays under BUILD/test-artifacts/report/ with
the page, its JSON and Chromium's log. Checked: no console message at all (a script error, a
load the page's Content-Security-Policy refused), the page's own load check (every image
decoded: data-rendered="ok"), each section with the counts that lssd-read's own commands give
(ls, tracks, dedup: same thresholds), a thumbnail for each flagged clip and for both sides of the
copy, one scatter point per clip. Then, without a browser: --json agrees with the page, the limits
count what they leave out, and once the container is gone the page says so instead of showing
thumbnails."""
import json
import os
import re
import shutil
import struct
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from e2e_common import BUILD_DIR, SOURCE_DIR, Checker, lssd_read, run_infer, scratch, tiny_model_dir  # noqa: E402

sys.path.insert(0, os.path.join(SOURCE_DIR, "tools"))
from report_screenshot import COPY_OF, DUB, make_demo_data  # noqa: E402  (the README picture's inputs)

TRACKS_T = "0.9"
DEDUP = ["--dedup-threshold", "0.99", "--min-clips", "1"]
ARTIFACTS = os.path.join(BUILD_DIR, "test-artifacts", "report")
CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync",
                  "--disable-dev-shm-usage", "--hide-scrollbars", "--enable-logging=stderr", "--v=0"]


def read_json(*args, ok=(0,)):
    rc, out, err = lssd_read(*args)
    if rc not in ok:
        raise RuntimeError(f"lssd-read {' '.join(args)} -> {rc}: {err}")
    return json.loads(out)


def expected(out):
    """What lssd-read's own commands say the page must show."""
    recs = read_json("ls", out, "--json")["records"]
    tracks = read_json("tracks", out, "--threshold", TRACKS_T, "--json", ok=(0, 1))
    dedup = read_json("dedup", out, "--threshold", "0.99", "--min-clips", "1", "--json")["modalities"]
    clips = {m: sum(r["M"] for r in recs if r["mtype"] == m and r["status"] == "ok") for m in ("video", "audio")}
    return {"inputs": len({r["path"] for r in recs}), "outputs": len(recs),
            "failures": sum(r["status"] == "failed" for r in recs),
            "containers": tracks["containers"], "pairs": len(tracks["pairs"]),
            "flagged": sum(p["flagged"] for p in tracks["pairs"]), "tracks": tracks,
            "dups": {m: len(d["pairs"]) for m, d in dedup.items()}, "dedup": dedup, "clips": clips}


def attrs_of(dom, pattern):
    """The attributes (dict) of each start tag matching `pattern` (a regex of the tag's start)."""
    res = []
    for m in re.finditer(pattern + r"[^>]*>", dom):
        res.append(dict(re.findall(r'([\w-]+)="([^"]*)"', m.group(0))))
    return res


def segment(dom, start_pattern, end_tag):
    """Each piece of the DOM from a match of start_pattern to the next end_tag."""
    return [dom[m.start():dom.find(end_tag, m.start())] for m in re.finditer(start_pattern, dom)]


def png_size(path):
    with open(path, "rb") as f:
        head = f.read(24)
    return struct.unpack(">II", head[16:24]) if head[:8] == b"\x89PNG\r\n\x1a\n" else (0, 0)


def render(c, html, tmp):
    """Chromium's DOM and screenshot of the page, and its log; None when Chromium is missing."""
    chromium = shutil.which("chromium")
    if not chromium:
        print("SKIP (rendering): no chromium here (tools/setup.sh installs Debian's chromium); the page is "
              "checked without a browser only")
        return None
    shot = os.path.join(ARTIFACTS, "report.png")
    profile = os.path.join(tmp, "chromium-profile")
    os.makedirs(profile)
    cmd = [chromium, *CHROMIUM_FLAGS, f"--user-data-dir={profile}", "--window-size=1280,2400",
           f"--screenshot={shot}", "--dump-dom", "file://" + os.path.abspath(html)]
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    with open(os.path.join(ARTIFACTS, "chromium.log"), "w") as f:
        f.write(r.stderr)
    c.check(r.returncode == 0 and "</html>" in r.stdout, f"chromium rendered the page (exit {r.returncode})")
    console = [line for line in r.stderr.splitlines() if ":CONSOLE" in line or "Uncaught" in line]
    c.check(not console, f"no console message while loading the page: {console[:5]}")
    w, h = png_size(shot) if os.path.exists(shot) else (0, 0)
    c.check((w, h) == (1280, 2400) and os.path.getsize(shot) > 20000,
            f"screenshot kept: {shot} ({w}x{h}, {os.path.getsize(shot) if w else 0} bytes)")
    return r.stdout


def check_dom(c, dom, exp):
    body = attrs_of(dom, r"<body")[0]
    imgs = len(re.findall(r"<img ", dom))
    c.check(body.get("data-rendered") == "ok" and body.get("data-broken-images") == "0" and
            body.get("data-images") == str(imgs) and imgs > 0,
            f"the page's load check: every image decoded ({body.get('data-images')} images, "
            f"{body.get('data-broken-images')} broken, rendered={body.get('data-rendered')})")
    sections = {a.get("id"): a for a in attrs_of(dom, r"<section ")}
    c.check(list(sections) == ["summary", "tracks", "duplicates", "projection"], f"every section: {list(sections)}")
    s = sections.get("summary", {})
    c.check((s.get("data-inputs"), s.get("data-outputs"), s.get("data-failures")) ==
            (str(exp["inputs"]), str(exp["outputs"]), str(exp["failures"])),
            f"summary: {exp['inputs']} inputs, {exp['outputs']} outputs, {exp['failures']} failures "
            f"(page: {s.get('data-inputs')}, {s.get('data-outputs')}, {s.get('data-failures')})")
    c.check(len(re.findall(r'<tr class="failure">', dom)) == exp["failures"] and "moov atom not found" in dom,
            "each failure listed with its message")
    t = sections.get("tracks", {})
    c.check((t.get("data-containers"), t.get("data-pairs"), t.get("data-flagged"), t.get("data-shown")) ==
            (str(exp["containers"]), str(exp["pairs"]), str(exp["flagged"]), str(exp["pairs"])),
            f"tracks: {exp['containers']} containers, {exp['pairs']} pairs, {exp['flagged']} flagged (page {t})")
    c.check(len(re.findall(r'<svg class="timeline"', dom)) == exp["pairs"], "a timeline per track pair")
    c.check(len(re.findall(r'<line class="thr"', dom)) == exp["pairs"], "the threshold drawn on each timeline")
    dub_pairs = [p for p in segment(dom, r'<div class="pair ', "</table>") if "three_tracks.mkv" in p]
    flagged = [p for p in dub_pairs if 'data-flagged="1"' in p]
    c.check(len(dub_pairs) == 3 and len(flagged) == 2, f"three_tracks.mkv: 3 pairs, 2 flagged ({len(dub_pairs)}, {len(flagged)})")
    for p in flagged:
        rows = segment(p, r'<tr class="flag">', "</tr>")
        c.check(len(rows) == 2 and all("<img class=\"thumb\"" in r for r in rows) and "0:06.0" in p and "0:12.0" in p,
                f"a flagged pair lists clips 6-12 s, each with a thumbnail ({len(rows)} rows)")
    dups = {a["data-mtype"]: a for a in attrs_of(dom, r'<div class="dedup"')}
    for m, n in exp["dups"].items():
        c.check(dups.get(m, {}).get("data-pairs") == str(n), f"duplicates {m}: {n} pairs (page {dups.get(m)})")
    video_dups = segment(dom, r'<div class="dedup" data-mtype="video"', "</table>")
    rows = segment(video_dups[0], r'<tr class="dup">', "</tr>") if video_dups else []
    c.check(len(rows) == min(exp["dups"]["video"], 50), f"one row per video duplicate pair ({len(rows)})")
    copy = [r for r in rows if "dup/copy_" + os.path.basename(COPY_OF) in r and COPY_OF + "<" in r]
    c.check(len(copy) == 1 and copy[0].count('<img class="thumb"') == 2,
            f"the copy and its original: one row, a thumbnail each ({len(copy)} rows)")
    for fig in segment(dom, r'<figure class="scatter"', "</figure>"):
        m = re.search(r'data-mtype="(\w+)" data-points="(\d+)"', fig)
        circles = len(re.findall(r"<circle ", fig))
        c.check(m and circles == int(m.group(2)) == exp["clips"][m.group(1)] and "<title>" in fig,
                f"scatter {m and m.group(1)}: a point with a title per clip ({circles}, clips {exp['clips']})")


def check_json_and_limits(c, out, exp, page_json):
    j = page_json
    c.check(j["run"]["inputs"] == exp["inputs"] and j["tracks"]["pairs_total"] == exp["pairs"] and
            {m: d["pairs_total"] for m, d in j["duplicates"].items()} == exp["dups"] and
            {m: p["shown"] for m, p in j["projection"].items()} == exp["clips"],
            "--json: the same counts as the page")
    ref = {(p["rel_path"], p["a"]["track"], p["b"]["track"]): p["cosine"] for p in exp["tracks"]["pairs"]}
    mine = {(p["rel_path"], p["a"]["track"], p["b"]["track"]): p["cosine"] for p in j["tracks"]["pairs"]}
    c.check(mine == ref, "--json: each pair's per-clip cosines are those of lssd-read tracks")
    small = read_json("report", out, "-o", "-", "--json", "--max-pairs", "1", "--max-points", "5",
                      "--max-duplicates", "0", "--max-failures", "1", "--no-thumbnails", *DEDUP)
    c.check(len(small["tracks"]["pairs"]) == 1 and small["tracks"]["left_out"] == exp["pairs"] - 1 and
            small["tracks"]["pairs"][0]["flagged"], "--max-pairs 1: the worst (flagged) pair, the rest counted")
    c.check(all(len(p["points"]) == min(5, exp["clips"][m]) for m, p in small["projection"].items()),
            "--max-points 5: 5 points per modality")
    c.check(all(d["pairs"] == [] and d["left_out"] == d["pairs_total"] for d in small["duplicates"].values()),
            "--max-duplicates 0: none listed, all counted")
    c.check(small["thumbnails_made"] == 0 and small["run"]["failures_left_out"] == exp["failures"] - 1,
            "--no-thumbnails, --max-failures 1")


def check_gone(c, data, out, tmp):
    moved = os.path.join(tmp, "three_tracks.mkv.moved")
    os.rename(os.path.join(data, DUB), moved)
    try:
        html = os.path.join(tmp, "gone.html")
        rc, _, err = lssd_read("report", out, "-o", html, "--tracks-threshold", TRACKS_T, "--no-dedup")
        page = open(html).read() if rc == 0 else ""
        c.check(rc == 0 and "is not there any more" in page and "no thumbnail: input file not found" in page,
                f"the container gone: the page says so, no thumbnails (exit {rc}) {err.strip()[-200:]}")
        rc, _, err = lssd_read("report", out, "-o", os.path.join(tmp, "found.html"), "--no-dedup",
                               "--data-dir", os.path.join(tmp, "elsewhere"))
        c.check(rc == 0, f"--data-dir that lacks it too: still written (exit {rc})")
    finally:
        os.rename(moved, os.path.join(data, DUB))


def main():
    c = Checker("test_report")
    tiny_model_dir()
    os.makedirs(ARTIFACTS, exist_ok=True)
    with scratch("lssd_report_") as tmp:
        data, out = os.path.join(tmp, "data"), os.path.join(tmp, "out")
        make_demo_data(data)
        rc, log, wall = run_infer(data, out, "DATA.AUDIO_FROM_VIDEO", "True")
        print(f"lssd-infer: exit {rc} in {wall:.1f}s", flush=True)
        if not c.check(rc == 3, f"lssd-infer ran (exit 3: sample_data's broken.mp4 fails) (exit {rc})"):
            print(log[-3000:])
            return c.finish()
        exp = expected(out)
        print(f"expected: inputs {exp['inputs']}, outputs {exp['outputs']}, failures {exp['failures']}, "
              f"pairs {exp['pairs']} ({exp['flagged']} flagged), duplicates {exp['dups']}, clips {exp['clips']}")
        html = os.path.join(ARTIFACTS, "report.html")
        rc, _, err = lssd_read("report", out, "-o", html, "--tracks-threshold", TRACKS_T, *DEDUP)
        print(err.strip())
        if not c.check(rc == 0 and os.path.getsize(html) > 0, f"lssd-read report wrote {html} (exit {rc})"):
            return c.finish()
        page_json = read_json("report", out, "-o", "-", "--json", "--tracks-threshold", TRACKS_T, *DEDUP)
        with open(os.path.join(ARTIFACTS, "report.json"), "w") as f:
            json.dump(page_json, f, indent=1)
        text = open(html).read()
        c.check(not re.search(r'(src|href)="(https?:)?//', text) and "Content-Security-Policy" in text,
                "nothing loads from the network (no remote src/href; a CSP that forbids it)")
        dom = render(c, html, tmp)
        if dom is not None:
            check_dom(c, dom, exp)
        check_json_and_limits(c, out, exp, page_json)
        check_gone(c, data, out, tmp)
    return c.finish()


if __name__ == "__main__":
    sys.exit(main())
