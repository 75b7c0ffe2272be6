"""DATA.AUDIO_FROM_VIDEO: every audio track of a video container becomes its own audio output,
named with the stream index and language; silent containers are skipped (not errors);
DATA.EXTENSIONS_CASE_INSENSITIVE picks up upper-case extensions; a rerun redoes nothing."""
import os
import shutil
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(__file__))
from e2e_common import SOURCE_DIR, Checker, latest_records, npy_files, read_manifest, run_infer, scratch  # noqa: E402


def main():
    c = Checker("test_audio_tracks")
    with scratch("lssd_tracks_") as tmp:
        data = os.path.join(tmp, "in")
        os.makedirs(data)
        sd = os.path.join(SOURCE_DIR, "sample_data")
        for rel in ("video/multi/testsrc2_320x240_25fps_5.0s_eng_deu.mkv",
                    "video/ucf/testsrc2_320x240_25fps_2.0s.mp4",
                    "audio/edge/UPPER_CASE_16kHz_mono_2.5s.WAV"):
            shutil.copy(os.path.join(sd, rel), os.path.join(data, os.path.basename(rel)))
        out = os.path.join(tmp, "out")
        args = ("DATA.USE_VIDEO", "False", "DATA.AUDIO_FROM_VIDEO", "True", "DATA.EXTENSIONS_CASE_INSENSITIVE", "True")
        rc, log, _ = run_infer(data, out, *args)
        c.check(rc == 0, f"exit code {rc}")
        files = npy_files(out)
        mkv = "testsrc2_320x240_25fps_5.0s_eng_deu.mkv"
        c.check(("audio", f"{mkv}.a1-eng.npy") in files, "track 1 (eng) has its own output")
        c.check(("audio", f"{mkv}.a2-deu.npy") in files, "track 2 (deu) has its own output")
        c.check(("audio", "UPPER_CASE_16kHz_mono_2.5s.WAV.npy") in files, "upper-case .WAV picked up")
        c.check(not any(m == "video" for m, _ in files), "DATA.USE_VIDEO False: no video outputs")
        recs = [r for r in read_manifest(out, "audio") if r["rel_path"] == mkv]
        langs = sorted((r["track"]["index"], r["track"]["language"], r["track"]["total"]) for r in recs)
        c.check(langs == [(1, "eng", 2), (2, "deu", 2)], f"manifest tracks: {langs}")
        a = np.load(os.path.join(out, "audio", f"{mkv}.a1-eng.npy"))
        b = np.load(os.path.join(out, "audio", f"{mkv}.a2-deu.npy"))
        c.check(a.shape[1:] == (768,) and b.shape[1:] == (768,), f"shapes {a.shape} {b.shape}")
        c.check(float(np.abs(a[0] - b[0]).max()) > 1e-3, "the two language tracks give different embeddings")
        mp4 = latest_records(out).get(("audio", "testsrc2_320x240_25fps_2.0s.mp4"))
        has_audio = mp4 is not None and mp4["status"] == "ok"
        c.check(mp4 is not None and mp4["status"] in ("ok", "skipped_no_audio"),
                f"the mp4's audio: {mp4 and mp4['status']}")
        c.check(not os.path.exists(os.path.join(out, "errors.jsonl")) or os.path.getsize(os.path.join(out, "errors.jsonl")) == 0,
                "no errors recorded")
        rc, log, _ = run_infer(data, out, *args)
        c.check(rc == 0 and "0 outputs to compute" in log, "a rerun computes nothing (tracks and silent files resume)")
        print(f"(the 2.0 s mp4 {'has' if has_audio else 'has no'} audio track)")
    return c.finish()


if __name__ == "__main__":
    sys.exit(main())
