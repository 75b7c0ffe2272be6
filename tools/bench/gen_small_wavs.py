#!/usr/bin/python3
"""Many small WAV files in nested folders: the per-input overhead corpus (tools/bench/overhead.py)
and the e2e tests of the sharded layout and claim mode.

    tools/bench/gen_small_wavs.py DIR [--count 20000] [--seconds 3.2] [--rate 8000] [--bad 0.01]
                                      [--per-dir 100] [--seed 0]

Files: DIR/d<NNN>/e<N>/f<NNNNNN>.wav, --per-dir files per leaf folder, 16-bit mono PCM at --rate,
--seconds long (a tone with a file-specific frequency plus noise, so that no two are alike).
A fraction --bad of them (spread evenly, chosen by the seed) is broken in one of three ways, in
turn: cut inside the header (30 bytes), random bytes, empty (0 bytes); lssd-infer must record
each as failed. Deterministic for a seed; prints the counts. Needs only the standard library.
"""
import argparse
import math
import os
import random
import struct
import sys
import wave


def tone(n, rate, freq, rng):
    amp = 8000
    return b"".join(struct.pack("<h", int(amp * math.sin(2 * math.pi * freq * i / rate) + rng.randint(-500, 500)))
                    for i in range(n))


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("dir")
    p.add_argument("--count", type=int, default=20000)
    p.add_argument("--seconds", type=float, default=3.2)
    p.add_argument("--rate", type=int, default=8000)
    p.add_argument("--bad", type=float, default=0.01, help="fraction of broken files")
    p.add_argument("--per-dir", type=int, default=100)
    p.add_argument("--seed", type=int, default=0)
    a = p.parse_args(argv)
    rng = random.Random(a.seed)
    n = int(round(a.seconds * a.rate))
    n_bad = int(round(a.count * a.bad))
    bad = set(rng.sample(range(a.count), n_bad)) if n_bad else set()
    base = [tone(n, a.rate, 200 + 37 * k, random.Random(k)) for k in range(16)]  # reused waveforms, varied below
    kinds = {"header": 0, "random": 0, "empty": 0}
    for i in range(a.count):
        leaf = os.path.join(a.dir, "d%03d" % (i // (a.per_dir * 10)), "e%d" % (i // a.per_dir % 10))
        os.makedirs(leaf, exist_ok=True)
        path = os.path.join(leaf, "f%06d.wav" % i)
        if i in bad:
            kind = ("header", "random", "empty")[sorted(bad).index(i) % 3]
            kinds[kind] += 1
            if kind == "empty":
                open(path, "wb").close()
            elif kind == "random":
                with open(path, "wb") as f:
                    f.write(bytes(rng.getrandbits(8) for _ in range(4096)))
            else:
                frames = base[i % 16]
                with wave.open(path, "wb") as w:
                    w.setnchannels(1)
                    w.setsampwidth(2)
                    w.setframerate(a.rate)
                    w.writeframes(frames)
                with open(path, "r+b") as f:
                    f.truncate(30)
            continue
        frames = bytearray(base[i % 16])
        struct.pack_into("<h", frames, 2 * (i % n), (i * 7919) % 30000 - 15000)  # one sample differs per file
        with wave.open(path, "wb") as w:
            w.setnchannels(1)
            w.setsampwidth(2)
            w.setframerate(a.rate)
            w.writeframes(bytes(frames))
    print("wrote %d files into %s (%d broken: %d cut in the header, %d random bytes, %d empty)" % (
        a.count, a.dir, n_bad, kinds["header"], kinds["random"], kinds["empty"]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
