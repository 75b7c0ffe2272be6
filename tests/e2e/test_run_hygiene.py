#!/usr/bin/env python3
"""E2E: what lssd-infer tells a user, and what it leaves behind, on the runs where that matters
(tiny random-weight model, CPU).

(a) A directory with no media: exit 0 and a warning naming the directory and the extension lists.
(b) Files left out by extension (.mkv, .MOV) are counted per extension with the key that would
    include them.
(c) Usage errors stop before OUTPUT_DIR exists: a missing input dir (exit 2), a file given as the
    data dir (exit 2, hint about DATA.PATH_TO_FILE_LIST), a bad OUTPUT.DTYPE (exit 2, the value
    repeated); a missing model file is fatal (exit 1, names the export command), OUTPUT_DIR not
    created either. --help lists exit codes 130 and 143.
(d) Reruns: a file whose content cannot be read fails once (exit 3); reruns report it as "failed
    earlier" without retrying it (exit 0, a warning says so), errors.jsonl keeps its one entry;
    --retry-failed retries it (exit 3 again); once the file is fixed (it changed) it is retried and
    leaves the log; the summary's counts add up, with a line saying what they mean; a rerun with
    another dtype (another model id) warns how many outputs will be recomputed.
(e) On a terminal (stderr on a pseudo-terminal): the progress bar is drawn, and every log line
    erases it first ("\r\x1b[K"): no log line is glued onto the bar; FFmpeg's own text does not
    appear (its last error is quoted in lssd's error line instead).
"""
import os
import re
import shutil
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import e2e_common as ec  # noqa: E402

SUMMARY = re.compile(r"done: (\d+) outputs = ((?:\d+ [a-z ]+?)(?: \+ \d+ [a-z ]+?)*)(?:;|$)")


def summary_adds_up(c, log, what):
    m = SUMMARY.search(log)
    if not c.check(m is not None, f"{what}: summary line 'done: N outputs = ...' found"):
        return None
    parts = {p.split(" ", 1)[1]: int(p.split(" ", 1)[0]) for p in m.group(2).split(" + ")}
    c.check(sum(parts.values()) == int(m.group(1)), f"{what}: {m.group(0)} adds up")
    c.check("counts: an output per input file and modality" in log, f"{what}: a line says what the counts mean")
    return parts


def copy(dst, rel, name=None):
    os.makedirs(dst, exist_ok=True)
    shutil.copy(os.path.join(ec.SAMPLE_DIR, rel), os.path.join(dst, name or os.path.basename(rel)))


def check_no_media_and_left_out_extensions(c, tmp):
    empty, out = os.path.join(tmp, "empty"), os.path.join(tmp, "out_a")
    os.makedirs(empty)
    open(os.path.join(empty, "notes.txt"), "w").write("no media here\n")
    rc, log, _ = ec.run_infer(empty, out)
    c.check(rc == 0, f"(a) no media: exit code {rc} == 0")
    c.check(f"no input file under {empty} matches the extension lists (video [mp4, avi], audio [mp3, wav, flac, opus] "
            "(case-sensitive))" in log, "(a) the warning names the directory and the lists")
    data, out = os.path.join(tmp, "ext"), os.path.join(tmp, "out_b")
    copy(data, "video/multi/testsrc2_320x240_25fps_5.0s_eng_deu.mkv", "a.mkv")
    copy(data, "video/multi/testsrc2_320x240_25fps_5.0s_eng_deu.mkv", "b.mkv")
    copy(data, "video/ucf/testsrc2_320x240_25fps_2.0s.mp4", "c.MOV")
    copy(data, "audio/speech/german_16kHz_mono_7.5s.wav")
    rc, log, _ = ec.run_infer(data, out)
    c.check(rc == 0, f"(b) exit code {rc} == 0")
    line = next((ln for ln in log.splitlines() if "left out by extension" in ln), "")
    c.check("left out by extension: 1 .MOV, 2 .mkv" in line and ".MOV -> DATA.VIDEO_EXTENSIONS" in line
            and ".mkv -> DATA.VIDEO_EXTENSIONS" in line, f"(b) counted per extension with the key: {line}")
    print("  (b)", line.split("] ", 1)[-1])


def check_usage_errors_write_nothing(c, tmp):
    model = ec.tiny_model_dir()
    out = os.path.join(tmp, "never")

    def run(*args):
        r = subprocess.run([ec.infer_path(), *args], capture_output=True, text=True, timeout=300)
        return r.returncode, r.stdout + r.stderr

    base = ["MODEL.VIDEO_ENCODER_FILE", os.path.join(model, "video.pt"), "MODEL.AUDIO_ENCODER_FILE",
            os.path.join(model, "audio.pt"), "OUTPUT_DIR", out, "RUNTIME.DEVICE", "cpu"]
    rc, log = run("DATA.PATH_TO_DATA_DIR", os.path.join(tmp, "missing"), *base)
    c.check(rc == 2 and "does not exist" in log, f"(c) missing input dir: exit {rc} == 2, says it does not exist")
    one = os.path.join(ec.SAMPLE_DIR, "video/ucf/testsrc2_320x240_25fps_2.0s.mp4")
    rc, log = run("DATA.PATH_TO_DATA_DIR", one, *base)
    c.check(rc == 2 and "DATA.PATH_TO_FILE_LIST" in log, f"(c) a file as the data dir: exit {rc} == 2 with a hint")
    rc, log = run("DATA.PATH_TO_DATA_DIR", ec.SAMPLE_DIR, *base, "OUTPUT.DTYPE", "float64")
    c.check(rc == 2 and "float64" in log, f"(c) OUTPUT.DTYPE float64: exit {rc} == 2, repeats the value: {log.strip()}")
    rc, log = run("DATA.PATH_TO_DATA_DIR", ec.SAMPLE_DIR, *base, "MODEL.VIDEO_ENCODER_FILE", os.path.join(tmp, "no.pt"))
    c.check(rc == 1 and "no.pt" in log, f"(c) missing model file: exit {rc} == 1, names the file")
    c.check(not os.path.exists(out), "(c) OUTPUT_DIR was not created by any of these runs")
    rc, log = run("--help")
    c.check(rc == 0 and "130" in log and "143" in log, "(c) --help lists exit codes 130 and 143")


def check_reruns_and_failed_earlier(c, tmp):
    data, out = os.path.join(tmp, "rerun"), os.path.join(tmp, "out_d")
    copy(data, "video/ucf/testsrc2_320x240_25fps_2.0s.mp4", "good.mp4")
    copy(data, "audio/speech/german_16kHz_mono_7.5s.wav", "speech.wav")
    bad = os.path.join(data, "bad.mp4")
    open(bad, "wb").write(b"not a video\n" * 10)
    for k, flags in ((1, ()), (2, ()), (3, ()), (4, ("--retry-failed",))):
        rc, log, _ = ec.run_infer(data, out, flags=flags)
        new_failure = k in (1, 4)
        c.check(rc == (3 if new_failure else 0), f"(d) run {k}{''.join(' ' + f for f in flags)} with a broken file: exit code {rc}")
        errs = ec.read_errors(out)
        c.check(len(errs) == 1 and errs[0]["path"] == bad and errs[0].get("from_content") is True,
                f"(d) run {k}: errors.jsonl has one line, for bad.mp4, from its content ({errs})")
        parts = summary_adds_up(c, log, f"(d) run {k}")
        if k == 1 and parts is not None:
            c.check(parts.get("written") == 2 and parts.get("failed") == 1, f"(d) run 1: 2 written, 1 failed: {parts}")
        if k == 2 and parts is not None:
            c.check(parts.get("already done") == 2 and parts.get("failed earlier") == 1 and "failed" not in parts,
                    f"(d) run 2: 2 already done, 1 failed earlier, not retried: {parts}")
            c.check("not retried" in log and "--retry-failed" in log, "(d) run 2: a warning says it was not retried")
        if k == 4 and parts is not None:
            c.check(parts.get("failed") == 1, f"(d) run 4, --retry-failed: retried and failed again: {parts}")
    shutil.copy(os.path.join(ec.SAMPLE_DIR, "video/ucf/testsrc2_320x240_25fps_2.0s.mp4"), bad)
    rc, log, _ = ec.run_infer(data, out)
    c.check(rc == 0, f"(d) after fixing bad.mp4: exit code {rc} == 0")
    c.check(ec.read_errors(out) == [], f"(d) errors.jsonl is empty once the file is fixed ({len(ec.read_errors(out))})")
    summary_adds_up(c, log, "(d) fixed")
    rc, log, _ = ec.run_infer(data, out, "OUTPUT.DTYPE", "float16")
    line = next((ln for ln in log.splitlines() if "another model id" in ln), "")
    c.check(rc == 0 and "for 2 video and 1 audio input(s) (3 in another dtype than float16)" in line,
            f"(d) another dtype: the warning says how many will be recomputed: {line}")
    print("  (d)", line.split("] ", 1)[-1])
    parts = summary_adds_up(c, log, "(d) float16")
    c.check(parts is not None and parts.get("written") == 3, f"(d) float16: all 3 recomputed: {parts}")


def check_progress_bar_on_terminal(c, tmp):
    import pty

    data, out = os.path.join(tmp, "tty"), os.path.join(tmp, "out_e")
    copy(data, "audio/speech/german_16kHz_mono_7.5s.wav")
    copy(data, "video/ucf/testsrc2_640x360_25fps_7.6s.mp4")
    open(os.path.join(data, "broken.mp4"), "wb").write(b"not a video\n" * 10)
    model = ec.tiny_model_dir()
    master, slave = pty.openpty()
    cmd = [ec.infer_path(), "DATA.PATH_TO_DATA_DIR", data, "OUTPUT_DIR", out, "RUNTIME.DEVICE", "cpu",
           "MODEL.VIDEO_ENCODER_FILE", os.path.join(model, "video.pt"),
           "MODEL.AUDIO_ENCODER_FILE", os.path.join(model, "audio.pt")]
    p = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=slave)
    os.close(slave)
    raw = b""
    while True:
        try:
            chunk = os.read(master, 65536)
        except OSError:  # the child closed the terminal
            break
        if not chunk:
            break
        raw += chunk
    rc = p.wait(timeout=600)
    os.close(master)
    text = raw.decode("utf-8", "replace")
    c.check(rc == 3, f"(e) exit code {rc} == 3 (one broken file)")
    c.check("ETA" in text and "clips/s" in text, "(e) the progress bar was drawn")
    c.check(re.search(r"ETA [^\n]*\r\x1b\[K(\x1b\[[0-9;]*m)?\[20\d\d-", text) is not None,
            "(e) a log line came while the bar was shown, and erased it first")
    glued = [ln for ln in text.split("\n") if re.search(r"ETA [^\r]*\[20\d\d-", ln)]
    c.check(not glued, f"(e) no log line glued onto the bar: {glued[:1]}")
    c.check("moov atom not found" in text and "[mov,mp4" not in text and "@ 0x" not in text,
            "(e) FFmpeg's text only inside lssd's own error line (no '[mov,mp4,... @ 0x...]' lines)")


if __name__ == "__main__":
    sys.exit(ec.e2e_main("test_run_hygiene", "lssd_hygiene_",
                         [check_no_media_and_left_out_extensions, check_usage_errors_write_nothing,
                          check_reruns_and_failed_earlier, check_progress_bar_on_terminal]))
