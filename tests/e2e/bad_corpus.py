#!/usr/bin/env python3
"""Generates a corpus of bad, odd and hostile media inputs (deterministic: ffmpeg lavfi sources
and seeded Python; no network). Used by tests/e2e/test_bad_inputs.py and as the seed corpus of
the media fuzzer (tools/fuzz.sh).

    python3 tests/e2e/bad_corpus.py DIR            # writes DIR/video/* and DIR/audio/*
    python3 tests/e2e/bad_corpus.py DIR --list     # the table of kinds and expectations

generate(dst) returns {relative path (bytes): Case}; every Case says what lssd-infer must do
with the file under the default extension lists (video: mp4 avi, audio: mp3 wav flac opus):
  "ok"             embedded (status ok in the manifest)
  "skipped_short"  status skipped_short (fewer than 2 timestamps / samples)
  "failed"         a record with status failed and a line in errors.jsonl naming the file
                   (`message` is a regular expression the error message must match)
  "discover"       never reaches decoding: an errors.jsonl line with stage "discover"
  "root_ok"        readable only because the test runs as root (chmod 000): ok as root,
                   otherwise a discover error
Files that are not inputs (a symlink loop, the targets of an image-sequence pattern) have no
entry of their own when they produce no output; the loop gives a discover error on its dir.
"""
import argparse
import os
import random
import shutil
import struct
import subprocess
import sys
from dataclasses import dataclass


@dataclass
class Case:
    kind: str          # short description
    expect: str        # ok | skipped_short | failed | discover | root_ok
    message: str = ""  # regex for the error message (failed / discover)
    modality: str = ""  # video | audio (derived from the extension when empty)


FF = ["ffmpeg", "-nostdin", "-hide_banner", "-v", "error", "-y"]
# Bit-exact, deterministic encodes: no threads, no encoder/muxer version strings.
DET = ["-threads", "1", "-fflags", "+bitexact", "-flags:v", "+bitexact", "-flags:a", "+bitexact",
       "-map_metadata", "-1"]


def ff(*args):
    cmd = FF + list(args)
    r = subprocess.run(cmd, capture_output=True, text=True)
    if r.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed:\n{r.stderr}")


def video(out, size="64x48", rate=25, dur=2.0, extra_in=(), vf=None, codec=("-c:v", "libx264", "-preset",
                                                                             "ultrafast", "-pix_fmt", "yuv420p"),
          extra_out=()):
    args = ["-f", "lavfi", "-i", f"testsrc2=s={size}:r={rate}:d={dur}", *extra_in]
    if vf:
        args += ["-vf", vf]
    ff(*args, *codec, *DET, *extra_out, out)


def audio(out, rate=16000, channels=1, dur=2.0, codec=("-c:a", "pcm_s16le"), fmt=()):
    layout = {1: "mono", 2: "stereo", 6: "5.1", 8: "7.1"}[channels]
    ff("-f", "lavfi", "-i", f"sine=f=440:r={rate}:d={dur}", "-af", f"aformat=channel_layouts={layout}",
       *codec, *DET, *fmt, out)


def read(p):
    with open(p, "rb") as f:
        return f.read()


def write(p, data):
    os.makedirs(os.path.dirname(p), exist_ok=True)
    with open(p, "wb") as f:
        f.write(data)


def ebml_vint(buf, pos):
    """(value, length) of the EBML variable-size integer at buf[pos]."""
    first = buf[pos]
    n = 1
    while n <= 8 and not (first & (0x80 >> (n - 1))):
        n += 1
    val = first & (0xFF >> n)
    for k in range(1, n):
        val = (val << 8) | buf[pos + k]
    return val, n


def mkv_cluster_timestamps(buf):
    """[(offset of the value, length, value)] of every Cluster's Timestamp element."""
    res = []
    pos = buf.find(b"\x1f\x43\xb6\x75")
    while pos >= 0:
        _size, n = ebml_vint(buf, pos + 4)
        q = pos + 4 + n
        if buf[q] == 0xBF:  # a CRC-32 element first
            ln, m = ebml_vint(buf, q + 1)
            q += 1 + m + ln
        if buf[q] == 0xE7:
            ln, m = ebml_vint(buf, q + 1)
            off = q + 1 + m
            res.append((off, ln, int.from_bytes(buf[off:off + ln], "big")))
        pos = buf.find(b"\x1f\x43\xb6\x75", pos + 4)
    return res


def riff_chunk(buf, fourcc, start=12):
    """Offset of the payload of the first RIFF chunk `fourcc` (searching nested LISTs naively)."""
    i = buf.find(fourcc, start)
    if i < 0:
        raise RuntimeError(f"no {fourcc!r} chunk")
    return i + 8


def generate(dst, sample_dir=None):
    """Writes the corpus into dst (made if missing); returns {rel path bytes: Case}."""
    rng = random.Random(1234)
    os.makedirs(dst, exist_ok=True)
    vdir, adir, work = os.path.join(dst, "video"), os.path.join(dst, "audio"), os.path.join(dst, ".work")
    for d in (vdir, adir, work):
        os.makedirs(d, exist_ok=True)
    cases = {}

    def add(rel, kind, expect, message="", modality=""):
        rel_b = rel if isinstance(rel, bytes) else rel.encode()
        cases[rel_b] = Case(kind, expect, message, modality or ("video" if rel_b.startswith(b"video/") else "audio"))

    V = lambda name: os.path.join(vdir, name)  # noqa: E731
    A = lambda name: os.path.join(adir, name)  # noqa: E731
    W = lambda name: os.path.join(work, name)  # noqa: E731

    # Base material.
    video(W("good.mp4"), size="96x64", dur=4.0)                      # moov at the end
    video(W("good_fast.mp4"), size="96x64", dur=4.0, extra_out=("-movflags", "+faststart"))
    ff("-f", "lavfi", "-i", "testsrc2=s=96x64:r=25:d=3", "-f", "lavfi", "-i", "sine=f=440:r=16000:d=3",
       "-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p", "-c:a", "aac", *DET, "-shortest",
       W("av.mp4"))
    audio(W("good.wav"), dur=3.0)
    good = read(W("good.mp4"))
    good_fast = read(W("good_fast.mp4"))
    good_wav = read(W("good.wav"))

    # ---- video inputs -------------------------------------------------------------------
    write(V("zero_bytes.mp4"), b"")
    add("video/zero_bytes.mp4", "zero-byte file", "failed", r"empty file \(0 bytes\)")
    write(V("trunc_header.mp4"), good[:40])
    add("video/trunc_header.mp4", "truncated inside the header (40 bytes)", "failed", r"cannot open|stream info")
    write(V("trunc_30.mp4"), good[:int(len(good) * 0.3)])
    add("video/trunc_30.mp4", "truncated at 30% (moov at the end: no index)", "failed", r"cannot open|stream info")
    write(V("trunc_90.mp4"), good[:int(len(good) * 0.9)])
    add("video/trunc_90.mp4", "truncated at 90% (moov at the end: no index)", "failed", r"cannot open|stream info")
    write(V("trunc_30_faststart.mp4"), good_fast[:int(len(good_fast) * 0.3)])
    add("video/trunc_30_faststart.mp4", "faststart mp4 truncated at 30%: index present, data cut", "ok")
    write(V("trunc_90_faststart.mp4"), good_fast[:int(len(good_fast) * 0.9)])
    add("video/trunc_90_faststart.mp4", "faststart mp4 truncated at 90%", "ok")
    write(V("random_bytes.mp4"), bytes(rng.getrandbits(8) for _ in range(65536)))
    add("video/random_bytes.mp4", "64 KiB of random bytes", "failed", r"cannot open|not allowed|stream info")
    write(V("wav_named.mp4"), good_wav)
    add("video/wav_named.mp4", "a wav file named .mp4", "failed", r"no video stream")
    audio(V("audio_only.mp4"), codec=("-c:a", "aac"))
    add("video/audio_only.mp4", "audio-only mp4 (no video stream)", "failed", r"no video stream")
    video(V("zero_frames.mp4"), extra_out=("-frames:v", "0"))
    add("video/zero_frames.mp4", "mp4 asked for zero video frames (the muxer drops the track)", "failed",
        r"no video stream")
    video(W("hdr.avi"), codec=("-c:v", "mjpeg"))
    avi = read(W("hdr.avi"))
    write(V("header_only.avi"), avi[:avi.find(b"movi") + 4])
    add("video/header_only.avi", "avi cut right after the 'movi' list header (headers, no data)", "skipped_short")
    video(V("one_by_one.mp4"), vf="scale=1:1", codec=("-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt",
                                                        "yuv444p"))
    add("video/one_by_one.mp4", "1x1 video", "ok")
    video(V("odd_33x17.mp4"), size="33x17", codec=("-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt",
                                                     "yuv444p"))
    add("video/odd_33x17.mp4", "33x17 video (odd sizes, 4:4:4)", "ok")
    video(V("odd_33x17_mjpeg.avi"), size="33x17", codec=("-c:v", "mjpeg"))
    add("video/odd_33x17_mjpeg.avi", "33x17 mjpeg in avi (4:2:0 with odd sizes)", "ok")
    # Huge declared dimensions: 8x8 rawvideo whose AVI headers claim 20000x20000.
    video(W("raw.avi"), size="8x8", dur=1.0, codec=("-c:v", "rawvideo", "-pix_fmt", "bgr24"))
    raw = bytearray(read(W("raw.avi")))
    off = riff_chunk(raw, b"strf")  # BITMAPINFOHEADER: biSize, biWidth, biHeight
    struct.pack_into("<ii", raw, off + 4, 20000, 20000)
    avih = riff_chunk(raw, b"avih")  # MainAVIHeader: dwWidth/dwHeight at +32/+36
    struct.pack_into("<II", raw, avih + 32, 20000, 20000)
    write(V("huge_dims.avi"), bytes(raw))
    add("video/huge_dims.avi", "rawvideo avi whose headers declare 20000x20000 (8x8 data)", "failed",
        r"no frames|no frame could be decoded|cannot|Invalid")
    video(V("vfr.mp4"), size="64x48", rate=50, dur=4.0, vf="setpts='PTS+0.02*sin(N)/TB',select='not(eq(mod(n\\,3)\\,1))'",
          extra_out=("-fps_mode", "vfr"))
    add("video/vfr.mp4", "variable frame rate (irregular pts, dropped frames)", "ok")
    # Timestamps going backwards: an mjpeg mkv (many small clusters) whose 4th cluster timestamp
    # is patched back to the 2nd one's; named .mp4 (the container is found from the content).
    video(W("clusters.mkv"), size="64x48", dur=4.0, codec=("-c:v", "mjpeg"),
          extra_out=("-cluster_time_limit", "400", "-cluster_size_limit", "2000"))
    mkv = bytearray(read(W("clusters.mkv")))
    ts = mkv_cluster_timestamps(mkv)
    if len(ts) < 5:
        raise RuntimeError(f"expected several clusters, got {len(ts)}")
    off, ln, _ = ts[3]
    mkv[off:off + ln] = min(ts[1][2], (1 << (8 * ln)) - 1).to_bytes(ln, "big")
    write(V("backwards_ts_mkv.mp4"), bytes(mkv))
    add("video/backwards_ts_mkv.mp4", "mkv (named .mp4) whose timestamps jump backwards mid-file", "ok")
    # A last frame 10^10 s after the others: the clip plan must not try to make 3*10^9 clips.
    video(V("huge_pts_mkv.mp4"), size="64x48", dur=1.0, codec=("-c:v", "mjpeg"),
          extra_out=("-bsf:v", "setts=ts='if(eq(N\\,24)\\,PTS+10000000000000\\,PTS)'", "-f", "matroska"))
    add("video/huge_pts_mkv.mp4", "mkv whose last frame's pts is 10^10 s (monotonic, absurd duration)", "failed",
        r"duration")
    video(V("short_0.1s.mp4"), dur=0.1)
    add("video/short_0.1s.mp4", "0.1 s video (3 frames)", "ok")
    # Text formats that make FFmpeg read other files or URLs.
    write(V("hls_playlist.mp4"), b"#EXTM3U\n#EXT-X-VERSION:3\n#EXT-X-TARGETDURATION:10\n#EXTINF:10.0,\n/etc/passwd\n"
                                 b"#EXTINF:10.0,\nhttp://127.0.0.1:9/x.ts\n#EXTINF:10.0,\nfile:///etc/passwd\n"
                                 b"#EXT-X-ENDLIST\n")
    add("video/hls_playlist.mp4", "HLS playlist (.m3u8 text) naming /etc/passwd and a URL", "failed",
        r"not allowed|cannot open")
    write(V("concat_list.mp4"), b"ffconcat version 1.0\nfile '/etc/passwd'\nfile 'http://127.0.0.1:9/x.mp4'\n")
    add("video/concat_list.mp4", "ffconcat script naming /etc/passwd and a URL", "failed", r"not allowed|cannot open")
    write(V("subfile_url.mp4"), b"subfile,,start,0,end,0,,:/etc/passwd\n")
    add("video/subfile_url.mp4", "text naming a subfile: protocol URL", "failed", r"not allowed|cannot open")
    # Image-sequence pattern: a name with %03d and a jpeg next to it.
    ff("-f", "lavfi", "-i", "testsrc2=s=32x32:d=0.04", "-frames:v", "1", "-c:v", "mjpeg", *DET, W("frame.jpg"))
    jpg = read(W("frame.jpg"))
    write(V("seq_%03d.mp4"), jpg)
    write(V("seq_001.mp4"), jpg)
    add("video/seq_%03d.mp4", "a jpeg named like an image-sequence pattern", "failed", r"not allowed|cannot open")
    add("video/seq_001.mp4", "a jpeg named .mp4 (image2 pipe demuxer)", "failed", r"not allowed|cannot open")
    os.symlink("/etc/passwd", V("passwd_link.mp4"))
    add("video/passwd_link.mp4", "symlink to /etc/passwd named .mp4", "failed", r"cannot open|not allowed")
    mov = bytearray(good_fast)  # an mp4 whose data reference is an absolute external file
    i = mov.find(b"dref")
    if i > 0:
        # dref: version/flags(4) count(4) then an entry [size(4) 'url ' flags(4)]; flags=1 means
        # "data in this file". Clearing the flag makes the track's data external (with no URL).
        j = mov.find(b"url ", i)
        struct.pack_into(">I", mov, j + 4, 0)
    write(V("external_dref.mp4"), bytes(mov))
    add("video/external_dref.mp4", "mp4 whose data reference is external (self-contained flag cleared)", "ok")
    shutil.copy(W("good.mp4"), V("colon:name.mp4"))
    add("video/colon:name.mp4", "a good mp4 whose name contains ':'", "ok")
    shutil.copy(W("good.mp4"), os.path.join(os.fsencode(vdir), b"non_utf8_\xff\xfe.mp4"))
    add(b"video/non_utf8_\xff\xfe.mp4", "a good mp4 whose name is not UTF-8", "ok")
    os.makedirs(V("loop"), exist_ok=True)
    os.symlink("..", V("loop/back"))
    add("video/loop/back", "symlink loop (loop/back -> ..)", "discover", r"symlink loop")

    # ---- audio inputs -------------------------------------------------------------------
    write(A("zero_bytes.wav"), b"")
    add("audio/zero_bytes.wav", "zero-byte wav", "failed", r"empty file \(0 bytes\)")
    write(A("random_bytes.wav"), bytes(rng.getrandbits(8) for _ in range(32768)))
    add("audio/random_bytes.wav", "32 KiB of random bytes named .wav", "failed", r"cannot open|not allowed|stream")
    write(A("trunc_header.wav"), good_wav[:20])
    add("audio/trunc_header.wav", "wav truncated inside the RIFF header", "failed", r"cannot open|Invalid data")
    write(A("header_only.wav"), good_wav[:44])
    add("audio/header_only.wav", "wav header with no samples", "skipped_short")
    write(A("trunc_30.wav"), good_wav[:int(len(good_wav) * 0.3)])
    add("audio/trunc_30.wav", "wav truncated at 30% (header says more data)", "ok")
    shutil.copy(W("av.mp4"), A("mp4_named.wav"))
    add("audio/mp4_named.wav", "an mp4 with aac audio named .wav", "ok")
    shutil.copy(W("good.mp4"), A("video_only.wav"))
    add("audio/video_only.wav", "video-only mp4 named .wav (no audio stream)", "failed", r"no audio stream")
    audio(A("eight_channels.wav"), rate=48000, channels=8)
    add("audio/eight_channels.wav", "8-channel 48 kHz wav", "ok")
    audio(A("mono_8k.wav"), rate=8000)
    add("audio/mono_8k.wav", "mono 8 kHz wav", "ok")
    audio(A("short_0.1s.wav"), dur=0.1)
    add("audio/short_0.1s.wav", "0.1 s wav", "ok")
    audio(A("short_0.1s.mp3"), rate=44100, dur=0.1, codec=("-c:a", "libmp3lame"))
    add("audio/short_0.1s.mp3", "0.1 s mp3", "ok")
    bad_rate = bytearray(good_wav)
    struct.pack_into("<I", bad_rate, 24, 0)  # fmt chunk: sample rate 0
    write(A("rate_zero.wav"), bytes(bad_rate))
    add("audio/rate_zero.wav", "wav header with sample rate 0", "failed", r"sample rate|cannot open|stream info|Invalid")
    big = bytearray(good_wav)
    struct.pack_into("<I", big, 40, 0xFFFFFFF0)  # data chunk size far beyond the file
    write(A("data_size_huge.wav"), bytes(big))
    add("audio/data_size_huge.wav", "wav whose data chunk claims 4 GiB", "ok")
    write(A("concat_url.wav"), b"ffconcat version 1.0\nfile 'http://127.0.0.1:9/a.wav'\nfile '/etc/passwd'\n")
    add("audio/concat_url.wav", "ffconcat script (URL and /etc/passwd) named .wav", "failed", r"not allowed|cannot open")
    write(A("hls_playlist.mp3"), b"#EXTM3U\n#EXTINF:10,\n/etc/passwd\n#EXT-X-ENDLIST\n")
    add("audio/hls_playlist.mp3", "HLS playlist named .mp3", "failed", r"not allowed|cannot open")
    os.mkfifo(A("fifo.wav"))
    add("audio/fifo.wav", "a FIFO named .wav (would block forever)", "discover", r"not a regular file")
    write(A("unreadable.wav"), good_wav)
    os.chmod(A("unreadable.wav"), 0)
    add("audio/unreadable.wav", "a good wav with mode 000", "root_ok", r"not readable|Permission")

    shutil.rmtree(work)
    return cases


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("dst")
    ap.add_argument("--list", action="store_true", help="print the kinds and expectations")
    a = ap.parse_args()
    cases = generate(a.dst)
    if a.list:
        for rel, c in sorted(cases.items()):
            print(f"{os.fsdecode(rel):40s} {c.expect:14s} {c.kind}")
    print(f"{len(cases)} cases in {a.dst}", file=sys.stderr)


if __name__ == "__main__":
    main()
