"""Ctrl-C (SIGINT) stops lssd-infer after the inputs in flight: exit 130, every output that
exists is complete and recorded, and a rerun finishes the rest without redoing them."""
import os
import shutil
import signal
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(__file__))
from e2e_common import (SOURCE_DIR, Checker, infer_path, latest_records, npy_files, scratch,  # noqa: E402
                        tiny_model_dir)


def main():
    c = Checker("test_interrupt")
    model = tiny_model_dir()
    with scratch("lssd_sigint_") as tmp:
        data = os.path.join(tmp, "in")
        src = os.path.join(SOURCE_DIR, "sample_data", "audio", "speech")
        for i in range(12):  # a dozen small audio inputs: one at a time, ~0.3 s each
            for name in os.listdir(src):
                os.makedirs(os.path.join(data, f"d{i:02d}"), exist_ok=True)
                shutil.copy(os.path.join(src, name), os.path.join(data, f"d{i:02d}", name))
        out = os.path.join(tmp, "out")
        cmd = [infer_path(), "DATA.PATH_TO_DATA_DIR", data, "OUTPUT_DIR", out,
               "MODEL.VIDEO_ENCODER_FILE", os.path.join(model, "video.pt"),
               "MODEL.AUDIO_ENCODER_FILE", os.path.join(model, "audio.pt"),
               "RUNTIME.DEVICE", "cpu", "RUNTIME.NUM_THREADS", "1", "DIST.NUM_WORKERS", "1", "TEST.BATCH_SIZE", "1"]
        p = subprocess.Popen(cmd, stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True)
        t0 = time.time()
        while time.time() - t0 < 300 and not npy_files(out):
            time.sleep(0.1)
        p.send_signal(signal.SIGINT)
        _, err = p.communicate(timeout=300)
        total = 24
        done_first = len(npy_files(out))
        c.check(p.returncode == 130, f"SIGINT: exit code {p.returncode} (130 expected)")
        c.check("INTERRUPTED" in err, "the summary says the run was interrupted")
        c.check(0 < done_first < total, f"stopped part-way: {done_first} of {total} outputs written")
        recs = latest_records(out)
        c.check(len([r for r in recs.values() if r["status"] == "ok"]) == done_first,
                "every written output has its manifest record")
        leftovers = [f for _, _, fs in os.walk(out) for f in fs if f.startswith(".tmp.")]
        c.check(not leftovers, f"no temporary files left: {leftovers[:3]}")
        r = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
        c.check(r.returncode == 0, f"rerun exit code {r.returncode}")
        c.check(f"{total - done_first} outputs to compute, {done_first} already done" in r.stderr,
                f"rerun computes only the rest ({total - done_first})")
        c.check(len(npy_files(out)) == total, f"all {total} outputs present after the rerun")
    return c.finish()


if __name__ == "__main__":
    sys.exit(main())
