#!/usr/bin/python3
"""Makes the README's picture of `lssd-read report` (docs/report.png): sample_data plus a 12 s
container with three language-tagged audio tracks (eng and deu the same chirp; fra the chirp for
6 s, then noise) and a copy of a sample video, embedded by the seeded-random tiny towers
(DATA.AUDIO_FROM_VIDEO True), reported (the 3 slowest inputs per modality), the top of the page
rendered by headless Chromium (1000 px wide) and reduced to a 256-colour PNG (ffmpeg's palettegen/paletteuse) that must stay under 200 KB.

    tools/report_screenshot.py [--build build] [--models models/demo-tiny] [--out docs/report.png]
                               [--work DIR] [--height 1700]

Needs the built lssd-infer and lssd-read, ffmpeg and chromium (tools/setup.sh), and the tiny
towers: --models (made like tools/demo.sh --tiny makes them when the directory lacks them).
e2e.test_report builds its inputs with make_demo_data() from here."""
import argparse
import os
import shutil
import subprocess
import sys
import tempfile

ROOT = os.path.abspath(os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
SAMPLE_DIR = os.path.join(ROOT, "sample_data")
PY = os.environ.get("LSSD_PYTHON") or sys.executable
COPY_OF = "video/ucf/testsrc2_320x240_25fps_2.0s.mp4"  # its copy under dup/ is a sure duplicate
DUB = "dubs/three_tracks.mkv"
CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync",
                  "--disable-dev-shm-usage", "--hide-scrollbars"]
MAX_BYTES = 200 * 1024


def ff(*args):
    subprocess.run(["ffmpeg", "-nostdin", "-hide_banner", "-loglevel", "error", "-y", *args], check=True)


def make_demo_data(data):
    """data/{video,audio} -> sample_data's folders (symlinks: the inputs keep their relative paths);
    data/dup/copy_<a sample video>; data/dubs/three_tracks.mkv (ffmpeg: testsrc2 160x120 at 10 fps,
    H.264; FLAC tracks eng, deu: one chirp; fra: the chirp for 6 s, then noise; 12 s)."""
    os.makedirs(os.path.join(data, "dup"))
    os.makedirs(os.path.join(data, "dubs"))
    for top in ("video", "audio"):
        os.symlink(os.path.join(SAMPLE_DIR, top), os.path.join(data, top))
    shutil.copy(os.path.join(SAMPLE_DIR, COPY_OF), os.path.join(data, "dup", "copy_" + os.path.basename(COPY_OF)))
    chirp = "sin(2*PI*(200+40*t)*t)*0.5"
    ff("-f", "lavfi", "-i", "testsrc2=size=160x120:rate=10", "-f", "lavfi", "-i", f"aevalsrc={chirp}:s=48000:d=12",
       "-f", "lavfi", "-i", f"aevalsrc=if(lt(t\\,6)\\,{chirp}\\,0.3*(2*random(0)-1)):s=48000:d=12",
       "-map", "0:v", "-map", "1:a", "-map", "1:a", "-map", "2:a", "-t", "12",
       "-c:v", "libx264", "-threads", "1", "-preset", "veryfast", "-pix_fmt", "yuv420p", "-x264-params", "log=-1",
       "-crf", "36", "-c:a", "flac", "-metadata:s:a:0", "language=eng", "-metadata:s:a:1", "language=deu",
       "-metadata:s:a:2", "language=fra", os.path.join(data, DUB))


def tiny_models(d):
    if all(os.path.isfile(os.path.join(d, f)) for f in ("video.pt", "audio.pt")):
        return d
    ckpt = os.path.join(tempfile.mkdtemp(prefix="lssd-tiny-"), "tiny.pyth")
    subprocess.run([PY, os.path.join(ROOT, "tools", "lssd_checkpoint.py"), "random", "--size", "S", "--tiny", "--seed",
                    "0", "-o", ckpt], check=True, stdout=subprocess.DEVNULL)
    subprocess.run([PY, os.path.join(ROOT, "tools", "lssd_export.py"), "--checkpoint", ckpt, "--out-dir", d],
                   check=True, stdout=subprocess.DEVNULL)
    shutil.rmtree(os.path.dirname(ckpt))
    return d


def screenshot(html, png, height, work):
    chromium = shutil.which("chromium")
    if not chromium:
        sys.exit("no chromium (tools/setup.sh installs it)")
    raw = os.path.join(work, "raw.png")
    profile = tempfile.mkdtemp(prefix="profile-", dir=work)
    subprocess.run([chromium, *CHROMIUM_FLAGS, f"--user-data-dir={profile}", f"--window-size=1000,{height}",
                    f"--screenshot={raw}", f"file://{os.path.abspath(html)}"],
                   check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    ff("-i", raw, "-vf", "split[a][b];[a]palettegen=max_colors=256[p];[b][p]paletteuse=dither=none", png)


def make(args, work):
    data, out = os.path.join(work, "data"), os.path.join(work, "out")
    if not os.path.exists(data):
        make_demo_data(data)
    models = tiny_models(args.models)
    r = subprocess.run([os.path.join(args.build, "lssd-infer"), "--cfg", os.path.join(ROOT, "configs", "B3.yaml"),
                        "DATA.PATH_TO_DATA_DIR", data, "OUTPUT_DIR", out,
                        "MODEL.VIDEO_ENCODER_FILE", os.path.join(models, "video.pt"),
                        "MODEL.AUDIO_ENCODER_FILE", os.path.join(models, "audio.pt"),
                        "RUNTIME.DEVICE", "cpu", "DATA.AUDIO_FROM_VIDEO", "True"], capture_output=True, text=True)
    if r.returncode not in (0, 3):  # 3: sample_data's broken.mp4 fails on purpose
        sys.exit(f"lssd-infer failed ({r.returncode}):\n{r.stderr[-3000:]}")
    html = os.path.join(work, "report.html")
    subprocess.run([os.path.join(args.build, "lssd-read"), "report", out, "-o", html, "--tracks-threshold", "0.9",
                    "--dedup-threshold", "0.99", "--min-clips", "1", "--slowest", "3"], check=True)
    os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
    screenshot(html, args.out, args.height, work)
    size = os.path.getsize(args.out)
    print(f"{args.out}: {size} bytes" + (f" (the page: {html})" if args.work else ""))
    if size > MAX_BYTES:
        sys.exit(f"{args.out} is {size} bytes, over {MAX_BYTES}")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--build", default=os.path.join(ROOT, "build"))
    ap.add_argument("--models", default=os.path.join(ROOT, "models", "demo-tiny"))
    ap.add_argument("--out", default=os.path.join(ROOT, "docs", "report.png"))
    ap.add_argument("--work", default="", help="keep the inputs, outputs and page here (default: a temporary dir)")
    ap.add_argument("--height", type=int, default=1700, help="the picture's height (px; the top of the page)")
    args = ap.parse_args()
    if args.work:
        make(args, args.work)
    else:
        with tempfile.TemporaryDirectory(prefix="lssd-report-shot-") as work:
            make(args, work)
    return 0


if __name__ == "__main__":
    sys.exit(main())
