#!/usr/bin/env python3
"""Writes a DivX-style AVI with packed B-frames from a raw MPEG-4 part 2 elementary stream.

  make_packed_divx_avi.py IN.m4v OUT.avi --fps 30 --width 320 --height 240
                          [--user-data DivX503b1393p] [--fourcc DX50]

IN.m4v: what `ffmpeg ... -c:v mpeg4 -bf 1 -flags +bitexact -f m4v` writes (decode order, no
"Lavc" user data). OUT.avi is laid out as DivX 5 wrote such streams: the VOL carries the user
data (DivX<version>b<build>p: the trailing "p" says "packed bitstream"), each P-VOP shares one
AVI chunk with the B-VOP that follows it in decode order, and a 1-byte chunk (a placeholder
N-VOP) follows each such pair so that chunks still count frames. The RIFF structure (hdrl, movi,
idx1 with keyframe flags) is written here directly: FFmpeg's muxer neither packs B-frames nor
lets PyAV set keyframe flags. Used by tools/gen_sample_data.sh; needs only the standard library.
"""
import argparse
import struct

VOP = b"\x00\x00\x01\xb6"
GOV = b"\x00\x00\x01\xb3"
USER_DATA = b"\x00\x00\x01\xb2"
I_VOP, P_VOP, B_VOP = 0, 1, 2
NVOP_PLACEHOLDER = b"\x7f"


def split_vops(data):
    """(headers before the first VOP, [VOP bytes...]) of an elementary stream."""
    starts = []
    i = data.find(VOP)
    while i >= 0:
        starts.append(i)
        i = data.find(VOP, i + 4)
    if not starts:
        raise SystemExit("no VOP start code: not an MPEG-4 part 2 elementary stream")
    bounds = starts + [len(data)]
    return data[: starts[0]], [data[a:b] for a, b in zip(bounds, bounds[1:])]


def packed_chunks(headers, vops, user_data):
    """[(payload, keyframe)] in AVI chunk order."""
    g = headers.find(GOV)
    ud = USER_DATA + user_data.encode("ascii")
    headers = headers[:g] + ud + headers[g:] if g >= 0 else headers + ud
    kinds = [v[4] >> 6 for v in vops]
    chunks = []
    k = 0
    while k < len(vops):
        payload = (headers if k == 0 else b"") + vops[k]
        if kinds[k] == P_VOP and k + 1 < len(vops) and kinds[k + 1] == B_VOP:
            chunks.append((payload + vops[k + 1], False))
            chunks.append((NVOP_PLACEHOLDER, False))
            k += 2
        else:
            chunks.append((payload, kinds[k] == I_VOP))
            k += 1
    return chunks


def riff_chunk(fourcc, payload):
    pad = b"\x00" if len(payload) % 2 else b""
    return fourcc + struct.pack("<I", len(payload)) + payload + pad


def riff_list(kind, payload):
    return riff_chunk(b"LIST", kind + payload)


def avi_bytes(chunks, fps, width, height, fourcc):
    n = len(chunks)
    biggest = max(len(p) for p, _ in chunks)
    avih = struct.pack("<IIIIIIIIII16x", round(1e6 / fps), 0, 0, 0x10, n, 0, 1, biggest, width, height)
    strh = struct.pack("<4s4sIHHIIIIIIIIhhhh", b"vids", fourcc, 0, 0, 0, 0, 1, fps, 0, n, biggest,
                       0xFFFFFFFF, 0, 0, 0, width, height)
    strf = struct.pack("<IiiHH4sIiiII", 40, width, height, 1, 24, fourcc, width * height * 3, 0, 0, 0, 0)
    hdrl = riff_list(b"hdrl", riff_chunk(b"avih", avih) +
                     riff_list(b"strl", riff_chunk(b"strh", strh) + riff_chunk(b"strf", strf)))
    movi_body = b""
    index = b""
    for payload, key in chunks:
        offset = 4 + len(movi_body)  # from the "movi" fourcc, as idx1 counts
        movi_body += riff_chunk(b"00dc", payload)
        index += struct.pack("<4sIII", b"00dc", 0x10 if key else 0, offset, len(payload))
    body = b"AVI " + hdrl + riff_list(b"movi", movi_body) + riff_chunk(b"idx1", index)
    return b"RIFF" + struct.pack("<I", len(body)) + body


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("src")
    ap.add_argument("dst")
    ap.add_argument("--fps", type=int, required=True)
    ap.add_argument("--width", type=int, required=True)
    ap.add_argument("--height", type=int, required=True)
    ap.add_argument("--user-data", default="DivX503b1393p")
    ap.add_argument("--fourcc", default="DX50")
    a = ap.parse_args()
    with open(a.src, "rb") as f:
        headers, vops = split_vops(f.read())
    chunks = packed_chunks(headers, vops, a.user_data)
    with open(a.dst, "wb") as f:
        f.write(avi_bytes(chunks, a.fps, a.width, a.height, a.fourcc.encode("ascii")))


if __name__ == "__main__":
    main()
