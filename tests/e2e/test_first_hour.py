#!/usr/bin/env python3
"""E2E: what a new user meets in the first hour (tiny random-weight model, CPU), each item as the
user meets it.

(a) The command line takes yacs literals as the release's does: lists ([224,224] unquoted and
    "[mp4,avi,mkv,mov]" quoted), lists of lists, tuples, quoted strings, booleans, numbers, and
    "--" before the pairs; --print-config shows them parsed (and exits 0 without running); an
    unknown option in a key's place is a usage error (exit 2).
(b) OUTPUT_DIR equal to DATA.PATH_TO_DATA_DIR: exit 2, nothing written. OUTPUT_DIR inside it: a
    warning, and its subtree is left out of the walk (a media file planted in it is not an input).
(c) DATA.AUDIO_FROM_VIDEO: one start-up line says how many containers give audio inputs and how
    many only for their audio; a broken .mp4 is one errors.jsonl line per modality, and its two
    log lines differ (they name the modality).
(d) An empty (0-byte) file is reported as "empty file"; like any failure of the file's content,
    a rerun does not retry it (exit 0, "failed earlier"); a failure that is not the content's (a
    decode deadline) is retried by every rerun.
(e) Run from another directory with relative model paths: the error names the current directory;
    OUTPUT_DIR/config.yaml records absolute paths.
(f) lssd-read: `show` of a failed input exits 1; `search --exclude-self` leaves out hits from the
    query's own file; an audio track without a language tag reads "und", as in the file names.
(g) RUNTIME.DEVICE gpu: the bad value is named once.
"""
import json
import os
import re
import shutil
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import e2e_common as ec  # noqa: E402


def copy(dst, rel, name=None):
    os.makedirs(dst, exist_ok=True)
    shutil.copy(os.path.join(ec.SAMPLE_DIR, rel), os.path.join(dst, name or os.path.basename(rel)))


def infer(*args, cwd=None):
    r = subprocess.run([ec.infer_path(), *args], capture_output=True, text=True, timeout=600, cwd=cwd)
    return r.returncode, r.stdout, r.stderr


def check_yacs_literals_on_command_line(c, tmp):
    rc, out, err = infer("--cfg", "configs/B3.yaml", "--print-config", "VIDEO.CROP_SIZE", "[224,224]",
                         "DATA.VIDEO_EXTENSIONS", "[mp4,avi,mkv,mov]", "MVIT.DIM_MUL", "[[1, 2.0], [3, 2.0]]",
                         "AUDIO.CROP_SIZE", "(96, 288)", "OUTPUT_DIR", "'out dir'", "DATA.USE_AUDIO", "False",
                         "--", "TEST.BATCH_SIZE", "4", "MEDIA.DEADLINE_S", "30.5")
    c.check(rc == 0, f"(a) --print-config with list literals: exit {rc} == 0 {err.strip()[-300:]}")
    want = ["CROP_SIZE: [224, 224]", "VIDEO_EXTENSIONS: [mp4, avi, mkv, mov]", "DIM_MUL: [[1, 2.0], [3, 2.0]]",
            "CROP_SIZE: [96, 288]", "USE_AUDIO: False", "BATCH_SIZE: 4", "DEADLINE_S: 30.5",
            f'OUTPUT_DIR: "{os.path.join(os.getcwd(), "out dir")}"']
    missing = [w for w in want if w not in out]
    c.check(not missing, f"(a) the printed config holds every value as given: missing {missing}")
    rc, _, err = infer("--cfg", "configs/B3.yaml", "--print-config", "TEST.BATCH_SIZE", "4", "--bogus")
    c.check(rc == 2 and "--bogus" in err, f"(a) an unknown option in a key's place: exit {rc} == 2, named")
    rc, _, err = infer("--cfg", "configs/B3.yaml", "--print-config", "TEST.BATCH_SIZE")
    c.check(rc == 2 and "odd number" in err, f"(a) a key without a value: exit {rc} == 2")


def check_output_dir_in_data_dir(c, tmp):
    data = os.path.join(tmp, "b_in")
    copy(data, "audio/speech/german_16kHz_mono_7.5s.wav")
    rc, log, _ = ec.run_infer(data, data)
    c.check(rc == 2 and "DATA.PATH_TO_DATA_DIR" in log and "itself" in log,
            f"(b) OUTPUT_DIR == data dir: exit {rc} == 2 naming both")
    c.check(sorted(os.listdir(data)) == ["german_16kHz_mono_7.5s.wav"], "(b) ... and nothing was written")
    out = os.path.join(data, "out")
    rc, log, _ = ec.run_infer(data, out)
    c.check(rc == 0 and "is inside DATA.PATH_TO_DATA_DIR" in log, f"(b) OUTPUT_DIR inside: exit {rc} == 0, warned")
    copy(out, "audio/music/tones_48kHz_stereo_4.64s.mp3", "planted.mp3")  # media inside OUTPUT_DIR
    rc, log, _ = ec.run_infer(data, out)
    c.check(rc == 0 and "found 1 input files" in log and "planted.mp3" not in log,
            f"(b) rerun: the walk leaves OUTPUT_DIR out (1 input, planted.mp3 not found): exit {rc}")


def check_audio_from_video_startup_line_and_errors(c, tmp):
    data, out = os.path.join(tmp, "c_in"), os.path.join(tmp, "c_out")
    copy(data, "video/multi/testsrc2_320x240_25fps_5.0s_eng_deu.mkv")
    copy(data, "video/multi/testsrc2_320x240_25fps_3.2s_vp9.webm")
    copy(data, "video/ucf/testsrc2_320x240_25fps_2.0s.mp4")
    open(os.path.join(data, "broken.mp4"), "wb").write(b"not a video\n" * 10)
    rc, log, _ = ec.run_infer(data, out, "DATA.AUDIO_FROM_VIDEO", "True")
    c.check(rc == 3, f"(c) exit {rc} == 3 (broken.mp4)")
    line = next((ln for ln in log.splitlines() if "DATA.AUDIO_FROM_VIDEO:" in ln), "")
    c.check("the audio tracks of 4 video container(s)" in line and "2 of them (1 .mkv, 1 .webm) only for their audio"
            in line, f"(c) the start-up line counts the containers: {line.split('] ', 2)[-1]}")
    errs = ec.read_errors(out)
    c.check(sorted(e["modality"] for e in errs) == ["audio", "video"] and all(e["path"].endswith("broken.mp4")
                                                                              for e in errs),
            f"(c) errors.jsonl: one line per modality for broken.mp4: {[(e['path'], e['modality']) for e in errs]}")
    lines = [ln.split("] ", 2)[-1] for ln in log.splitlines() if "broken.mp4: [" in ln]
    c.check(len(lines) == 2 and len(set(lines)) == 2 and "[video open]" in lines[0] + lines[1]
            and "[audio open]" in lines[0] + lines[1], f"(c) the two error lines name their modality: {lines}")


def check_content_failures_stick(c, tmp):
    data, out = os.path.join(tmp, "d_in"), os.path.join(tmp, "d_out")
    copy(data, "audio/speech/german_16kHz_mono_7.5s.wav")
    open(os.path.join(data, "empty.mp4"), "wb").close()
    rc, log, _ = ec.run_infer(data, out)
    errs = ec.read_errors(out)
    c.check(rc == 3 and len(errs) == 1 and "empty file" in errs[0]["message"],
            f"(d) a 0-byte file: exit {rc} == 3, 'empty file': {[e['message'] for e in errs]}")
    rc, log, _ = ec.run_infer(data, out)
    c.check(rc == 0 and "+ 1 failed earlier" in log and len(ec.read_errors(out)) == 1,
            f"(d) rerun: exit {rc} == 0, reported as failed earlier, still in errors.jsonl")
    # A decode deadline is not the file's fault: retried by every rerun (no "failed earlier").
    out2 = os.path.join(tmp, "d_out2")
    for k in (1, 2):
        rc, log, _ = ec.run_infer(data, out2, "MEDIA.DEADLINE_S", "0.000001", "DATA.USE_VIDEO", "False")
        errs = ec.read_errors(out2)
        c.check(rc == 3 and "+ 1 failed earlier" not in log and len(errs) == 1 and "deadline" in errs[0]["message"]
                and "from_content" not in errs[0], f"(d) deadline, run {k}: exit {rc} == 3, retried: {errs}")


def check_relative_paths_from_another_directory(c, tmp):
    elsewhere = os.path.join(tmp, "e_cwd")
    os.makedirs(elsewhere)
    data, out = os.path.join(tmp, "e_in"), os.path.join(tmp, "e_out")
    copy(data, "audio/speech/german_16kHz_mono_7.5s.wav")
    rc, _, err = infer("--cfg", os.path.join(ec.SOURCE_DIR, "configs", "B3.yaml"), "DATA.PATH_TO_DATA_DIR", data,
                       "OUTPUT_DIR", out, "RUNTIME.DEVICE", "cpu", cwd=elsewhere)
    c.check(rc == 1 and f"relative to the current directory {elsewhere}" in err,
            f"(e) models/B3/audio.pt from {elsewhere}: exit {rc} == 1, the error names the directory")
    model = ec.tiny_model_dir()
    rel_model = os.path.relpath(model, elsewhere)
    rc, _, err = infer("DATA.PATH_TO_DATA_DIR", os.path.relpath(data, elsewhere), "OUTPUT_DIR", "out_rel",
                       "MODEL.VIDEO_ENCODER_FILE", os.path.join(rel_model, "video.pt"), "MODEL.AUDIO_ENCODER_FILE",
                       os.path.join(rel_model, "audio.pt"), "RUNTIME.DEVICE", "cpu", "-q", cwd=elsewhere)
    cfg = open(os.path.join(elsewhere, "out_rel", "config.yaml")).read() if rc == 0 else ""
    want = [f"AUDIO_ENCODER_FILE: {os.path.join(model, 'audio.pt')}", f"PATH_TO_DATA_DIR: {data}",
            f"OUTPUT_DIR: {os.path.join(elsewhere, 'out_rel')}"]
    c.check(rc == 0 and all(w in cfg for w in want),
            f"(e) relative paths: exit {rc} == 0; config.yaml records them absolute: {[w for w in want if w not in cfg]}")


def check_read_show_failed_exclude_self_und_track(c, tmp):
    data, out = os.path.join(tmp, "f_in"), os.path.join(tmp, "f_out")
    copy(data, "video/multi/testsrc2_320x240_25fps_3.2s_vp9.webm")  # an audio track without a language tag
    copy(data, "audio/speech/german_16kHz_mono_7.5s.wav")
    copy(data, "audio/music/tones_48kHz_stereo_4.64s.mp3")
    open(os.path.join(data, "broken.wav"), "wb").write(b"RIFF0000WAVEjunk" * 4)
    rc, _, _ = ec.run_infer(data, out, "DATA.AUDIO_FROM_VIDEO", "True")
    c.check(rc == 3, f"(f) run: exit {rc} == 3 (broken.wav)")
    rc, stdout, _ = ec.lssd_read("show", out, "broken.wav")
    c.check(rc == 1 and "status failed" in stdout, f"(f) show of a failed input: exit {rc} == 1")
    rc, stdout, _ = ec.lssd_read("show", out, "german_16kHz_mono_7.5s.wav")
    c.check(rc == 0, f"(f) show of an embedded input: exit {rc} == 0")
    rc, stdout, _ = ec.lssd_read("ls", out, "--mtype", "audio")
    webm = next((ln for ln in stdout.splitlines() if ".webm" in ln), "")
    c.check(re.search(r"\.webm \[track \d+ und\]$", webm) is not None, f"(f) an untagged track reads 'und': {webm}")
    npy = [f for f in os.listdir(os.path.join(out, "audio")) if f.endswith(".npy")]
    c.check(any(re.search(r"\.webm\.a\d+-und\.npy$", f) for f in npy), f"(f) ... as its file name says: {npy}")
    q = "german_16kHz_mono_7.5s.wav"
    hits = ec.read_json("search", out, "--file", q, "--mtype", "audio", "-k", "3", "--json")["queries"]
    own = [h for qq in hits for h in qq["hits"] if h["rel_path"] == q]
    c.check(len(own) > 0, f"(f) search without --exclude-self finds the query's own clips ({len(own)})")
    hits = ec.read_json("search", out, "--file", q, "--mtype", "audio", "-k", "3", "--exclude-self", "--json")
    hits = hits["queries"]
    own = [h for qq in hits for h in qq["hits"] if h["rel_path"] == q]
    sizes = [len(qq["hits"]) for qq in hits]
    c.check(not own and sizes == [3] * len(hits),
            f"(f) --exclude-self: no hit from the query's file, still 3 hits per query: {sizes}")


def check_bad_device_named_once(c, tmp):
    rc, _, err = infer("--cfg", "configs/B3.yaml", "--print-config", "RUNTIME.DEVICE", "gpu")
    c.check(rc == 2 and err.count("gpu") == 1, f"(g) RUNTIME.DEVICE gpu: exit {rc} == 2, the value once: {err.strip()}")


if __name__ == "__main__":
    sys.exit(ec.e2e_main("test_first_hour", "lssd_first_hour_",
                         [check_yacs_literals_on_command_line, check_output_dir_in_data_dir,
                          check_audio_from_video_startup_line_and_errors, check_content_failures_stick,
                          check_relative_paths_from_another_directory, check_read_show_failed_exclude_self_und_track,
                          check_bad_device_named_once]))
