#!/usr/bin/env python3
"""E2E: several encoder replicas sharing the decode workers, on CPU pseudo-devices (the test hook
LSSD_TEST_CPU_REPLICAS=3 gives a CPU run three replicas, cpu#0..cpu#2, scheduled as CUDA replicas
are: one clip queue fed by the decode workers, one encode loop per replica taking batches from it).
Tiny random-weight model, CPU, 2 threads, on 6 files of sample_data (3 videos, 3 audio files, 16 clips).

(a) The three-replica run says so ("3 encoder replicas (cpu#0, cpu#1, cpu#2) share ..."), ends with
    a `devices:` line naming the three with their clips and busy shares: the clips add up to the
    run's clip count and to the manifests' M, every share is 0..100 %, and at least two replicas
    encoded clips (the queue hands each batch to whichever replica is free); a `decode workers:`
    line gives the workers' busy share.
(b) Its outputs are bit-identical to a one-replica run's (on CPU an input runs on a lane's thread
    count whatever its batch and replica), with the same manifest records (clips, model id).
(c) DIST.NUM_GPUS: a list of device indices on a machine without CUDA runs on the CPU (one replica,
    said at info level); 0 is refused with exit 2, naming the key, before OUTPUT_DIR exists.
Env: LSSD_BUILD_DIR, LSSD_TEST_MODEL_DIR, LSSD_KEEP_TMP=1.
"""
import os
import re
import shutil
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import e2e_common as ec  # noqa: E402

FILES = ["video/ucf/testsrc2_640x360_25fps_7.6s.mp4", "video/ucf/mandelbrot_240x320_29.97fps_4.64s.mp4",
         "video/avi/testsrc_320x240_30fps_7.5s.avi", "audio/speech/german_16kHz_mono_7.5s.wav",
         "audio/speech/english_44.1kHz_stereo_7.6s.flac", "audio/music/tones_48kHz_stereo_4.64s.mp3"]
DEVICES_RE = re.compile(r"devices: (.*)")
DEVICE_RE = re.compile(r"(\S+) (\d+) clips, busy (\d+)%")
DONE_RE = re.compile(r"done: .*; (\d+) clips in")


def copy_files(dst):
    for rel in FILES:
        os.makedirs(os.path.dirname(os.path.join(dst, rel)), exist_ok=True)
        shutil.copy2(os.path.join(ec.SAMPLE_DIR, rel), os.path.join(dst, rel))


def infer(data, out, replicas=None, *overrides):
    env_before = os.environ.get("LSSD_TEST_CPU_REPLICAS")
    if replicas:
        os.environ["LSSD_TEST_CPU_REPLICAS"] = str(replicas)
    else:
        os.environ.pop("LSSD_TEST_CPU_REPLICAS", None)
    try:
        return ec.run_infer(data, out, *overrides)
    finally:
        if env_before is None:
            os.environ.pop("LSSD_TEST_CPU_REPLICAS", None)
        else:
            os.environ["LSSD_TEST_CPU_REPLICAS"] = env_before


def devices(log):
    m = DEVICES_RE.findall(log)
    return [(d, int(n), int(p)) for d, n, p in DEVICE_RE.findall(m[-1])] if m else []


def manifest_clips(out):
    return sum(r.get("M", 0) for r in ec.latest_records(out).values() if r.get("status") == "ok")


def three_replicas_share_the_workers(c, tmp):
    """(a) and (b): three CPU pseudo-devices, then one replica on the same files."""
    data = os.path.join(tmp, "data")
    copy_files(data)
    out3 = os.path.join(tmp, "out3")
    rc, log3, wall3 = infer(data, out3, 3)
    c.check(rc == 0, f"(a) three replicas: exit {rc} ({wall3:.1f} s)")
    if rc != 0:
        print(log3[-3000:])
    c.check("running on CPU: 3 encoder replicas as pseudo-devices" in log3, "(a) the run says it has 3 replicas")
    c.check("3 encoder replicas (cpu#0, cpu#1, cpu#2) share the" in log3, "(a) ... which share the decode workers")
    devs = devices(log3)
    print("   " + "; ".join(f"{d} {n} clips, busy {p}%" for d, n, p in devs))
    c.check([d for d, _, _ in devs] == ["cpu#0", "cpu#1", "cpu#2"], "(a) devices: line names cpu#0..cpu#2")
    done = DONE_RE.findall(log3)
    total = int(done[-1]) if done else -1
    c.check(total > 0 and sum(n for _, n, _ in devs) == total == manifest_clips(out3),
            f"(a) per-device clips add up: {[n for _, n, _ in devs]} = {total} = the manifests' M")
    c.check(all(0 <= p <= 100 for _, _, p in devs), "(a) busy shares are 0..100 %")
    c.check(sum(1 for _, n, _ in devs if n > 0) >= 2, "(a) at least two replicas encoded clips")
    w = re.findall(r"decode workers: (\d+), busy (\d+)%", log3)
    c.check(bool(w) and int(w[-1][0]) >= 1 and 0 <= int(w[-1][1]) <= 100,
            f"(a) the decode workers' busy share is said ({w[-1] if w else None})")

    out1 = os.path.join(tmp, "out1")
    rc, log1, wall1 = infer(data, out1, None)
    c.check(rc == 0, f"(b) one replica: exit {rc} ({wall1:.1f} s)")
    d1 = devices(log1)
    c.check(len(d1) == 1 and d1[0][0] == "cpu" and d1[0][1] == total, f"(b) one replica: devices: line {d1}")
    files1, files3 = ec.npy_files(out1), ec.npy_files(out3)
    c.check(files1 == files3 and len(files1) == len(FILES), f"(b) the same {len(files1)} output files")
    same = all(np.array_equal(np.load(os.path.join(out1, m, f)), np.load(os.path.join(out3, m, f)))
               for m, f in files1 & files3)
    c.check(same, "(b) every array bit-identical to the one-replica run's")

    def key(r):
        return {k: r.get(k) for k in ("status", "M", "ranges", "model_id", "shape")}

    r1, r3 = ec.latest_records(out1), ec.latest_records(out3)
    c.check(r1.keys() == r3.keys() and all(key(r1[k]) == key(r3[k]) for k in r1),
            "(b) the same manifest records (status, M, ranges, model id, shape)")


def num_gpus_without_cuda(c, tmp):
    """(c) DIST.NUM_GPUS on a machine without CUDA."""
    data = os.path.join(tmp, "data")
    outl = os.path.join(tmp, "outl")
    rc, logl, _ = infer(os.path.join(data, "audio"), outl, None, "DIST.NUM_GPUS", "[0, 1]")
    dl = devices(logl)
    c.check(rc == 0 and "running on CPU: one encoder replica" in logl and len(dl) == 1 and dl[0][0] == "cpu",
            f"(c) DIST.NUM_GPUS [0, 1] without CUDA: exit {rc}, one CPU replica ({dl})")
    out0 = os.path.join(tmp, "out0")
    rc, log0, _ = infer(data, out0, None, "DIST.NUM_GPUS", "0")
    c.check(rc == 2 and "DIST.NUM_GPUS must be all, a count >= 1 or a list of CUDA device indices" in log0
            and not os.path.exists(out0), f"(c) DIST.NUM_GPUS 0: exit {rc}, the key named, no OUTPUT_DIR")


if __name__ == "__main__":
    sys.exit(ec.e2e_main("test_replicas", "lssd_replicas_", [three_replicas_share_the_workers, num_gpus_without_cuda]))
