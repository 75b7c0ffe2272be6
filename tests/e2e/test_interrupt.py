#!/usr/bin/env python3
"""Ctrl-C and SIGTERM: lssd-infer says at once that it is stopping, finishes the inputs in flight,
exits 130 (SIGINT) or 143 (SIGTERM), keeps every output it wrote complete and recorded, and a
rerun finishes the rest without redoing them; a second SIGINT aborts at once.

Deterministic: the test hook LSSD_TEST_HOLD=<stage> makes the run wait in that stage (towers
loading, decoding, encoding) until it is told to stop, and says so on stderr; the signal is sent
once that line appears, never after a sleep.
  (a) SIGINT while the towers load   (b) SIGINT while decoding   (c) SIGINT while encoding
  (d) SIGTERM while encoding: exit 143
  (e) SIGINT, then SIGINT again while the run is still busy (LSSD_TEST_HOLD=decode:stuck): exit
      130 at once, no half-written output; the rerun does everything that was not recorded.
"""
import functools
import os
import shutil
import signal
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import e2e_common as ec  # noqa: E402

NOTICE = ": stopping "
FILES = ["audio/speech/german_16kHz_mono_7.5s.wav", "audio/speech/english_44.1kHz_stereo_7.6s.flac",
         "audio/music/tones_48kHz_stereo_4.64s.mp3", "video/ucf/testsrc2_320x240_25fps_2.0s.mp4",
         "video/avi/testsrc_320x240_30fps_7.5s.avi", "video/encoders/mpeg4_asp_bframes_320x240_25fps_5.0s.avi"]


class Infer:
    """lssd-infer in the background, its stderr read line by line."""

    def __init__(self, data, out, env=None):
        model = ec.tiny_model_dir()
        cmd = [ec.infer_path(), "DATA.PATH_TO_DATA_DIR", data, "OUTPUT_DIR", out,
               "MODEL.VIDEO_ENCODER_FILE", os.path.join(model, "video.pt"),
               "MODEL.AUDIO_ENCODER_FILE", os.path.join(model, "audio.pt"),
               "RUNTIME.DEVICE", "cpu", "RUNTIME.NUM_THREADS", "1", "DIST.NUM_WORKERS", "1", "TEST.BATCH_SIZE", "1"]
        self.lines = []
        self.cond = threading.Condition()
        self.p = subprocess.Popen(cmd, stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True,
                                  env=dict(os.environ, **(env or {})))
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    def _read(self):
        for line in self.p.stderr:
            with self.cond:
                self.lines.append(line.rstrip("\n"))
                self.cond.notify_all()

    def wait_for(self, text, timeout=300):
        """The time at which a stderr line containing `text` appeared (None: it did not)."""
        deadline = time.time() + timeout
        with self.cond:
            while True:
                if any(text in line for line in self.lines):
                    return time.time()
                if time.time() > deadline or self.p.poll() is not None and not self.reader.is_alive():
                    return None
                self.cond.wait(0.1)

    def finish(self, timeout=600):
        rc = self.p.wait(timeout=timeout)
        self.reader.join(timeout=10)
        return rc, "\n".join(self.lines)


def make_data(tmp, name):
    data = os.path.join(tmp, name)
    for rel in FILES:
        os.makedirs(os.path.dirname(os.path.join(data, rel)), exist_ok=True)
        shutil.copy(os.path.join(ec.SAMPLE_DIR, rel), os.path.join(data, rel))
    return data


def check_outputs_complete(c, out, what):
    recs = ec.latest_records(out)
    ok = {k for k, r in recs.items() if r["status"] == "ok"}
    npys = {(m, n[:-4]) for m, n in ec.npy_files(out)}
    c.check(npys == ok, f"{what}: every .npy has its ok record and vice versa ({len(npys)} arrays, {len(ok)} ok records)")
    return len(ok)


def rerun_finishes(c, data, out, done, what):
    rc, log, _ = ec.run_infer(data, out, "RUNTIME.NUM_THREADS", "1")
    c.check(rc == 0, f"{what}: rerun exit code {rc} == 0")
    want = f"{len(FILES) - done} outputs to compute, {done} already done"
    c.check(want in log, f"{what}: the rerun computes only the rest ('{want}')")
    c.check(check_outputs_complete(c, out, what + " rerun") == len(FILES), f"{what}: all {len(FILES)} outputs after the rerun")


def interrupt_in(c, tmp, stage, sig, code):
    what = f"{signal.Signals(sig).name} in {stage}"
    data, out = make_data(tmp, f"in_{stage}_{sig}"), os.path.join(tmp, f"out_{stage}_{sig}")
    run = Infer(data, out, {"LSSD_TEST_HOLD": stage})
    held = run.wait_for(f"test hook: holding in {stage}")
    if not c.check(held is not None, f"{what}: the run reached the {stage} stage"):
        run.p.kill()
        return
    run.p.send_signal(sig)
    noticed = run.wait_for(NOTICE, timeout=30)
    c.check(noticed is not None and noticed - held < 30, f"{what}: the notice '{NOTICE} N input(s) in flight' appears at once")
    rc, log = run.finish()
    c.check(rc == code, f"{what}: exit code {rc} == {code}")
    c.check("INTERRUPTED" in log, f"{what}: the end of the log says the run was interrupted")
    line = next((ln for ln in log.splitlines() if NOTICE in ln), "")
    print(f"  {what}: {line.split('] ', 1)[-1]}")
    done = check_outputs_complete(c, out, what)
    c.check(done < len(FILES), f"{what}: stopped before the end ({done} of {len(FILES)} written)")
    leftovers = [f for _, _, fs in os.walk(out) for f in fs if f.startswith(".tmp.")]
    c.check(not leftovers, f"{what}: no temporary files left: {leftovers[:3]}")
    rerun_finishes(c, data, out, done, what)


def abort_on_second(c, tmp):
    what = "second SIGINT"
    data, out = make_data(tmp, "in_abort"), os.path.join(tmp, "out_abort")
    run = Infer(data, out, {"LSSD_TEST_HOLD": "decode:stuck"})
    if not c.check(run.wait_for("test hook: holding in decode") is not None, f"{what}: the run reached decoding"):
        run.p.kill()
        return
    run.p.send_signal(signal.SIGINT)
    c.check(run.wait_for(NOTICE, timeout=30) is not None, f"{what}: the first SIGINT is acknowledged")
    t0 = time.time()
    run.p.send_signal(signal.SIGINT)
    rc, log = run.finish(timeout=60)
    c.check(rc == 130 and time.time() - t0 < 10, f"{what}: exit code {rc} == 130 at once ({time.time() - t0:.1f} s)")
    c.check("again: aborting now" in log, f"{what}: says it aborts")
    done = check_outputs_complete(c, out, what)  # no .npy without its record: nothing half-written
    rerun_finishes(c, data, out, done, what)


if __name__ == "__main__":
    steps = [functools.partial(interrupt_in, stage=stage, sig=signal.SIGINT, code=130)
             for stage in ("towers", "decode", "encode")]
    steps += [functools.partial(interrupt_in, stage="encode", sig=signal.SIGTERM, code=143), abort_on_second]
    sys.exit(ec.e2e_main("test_interrupt", "lssd_sigint_", steps))
