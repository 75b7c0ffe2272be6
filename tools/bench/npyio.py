"""Minimal .npy I/O for the benchmark without numpy (GPU machines may have PyTorch but no numpy).

An Array is (shape, descr, data bytes), C order, as the probes write them (little-endian float32
"<f4"). Only what tools/bench/run.py needs: load, save, first k rows, concatenate on axis 0.
"""
import ast
import struct

_SIZES = {"<f4": 4, "<f8": 8, "|u1": 1, "<i8": 8, "<i4": 4, "<f2": 2}


class Array:
    def __init__(self, shape, descr, data):
        self.shape = tuple(int(s) for s in shape)
        self.descr = descr
        self.data = bytes(data)
        n = _SIZES[descr]
        for s in self.shape:
            n *= s
        if n != len(self.data):
            raise ValueError(f"npy: shape {self.shape} {descr} needs {n} bytes, got {len(self.data)}")

    @property
    def row_bytes(self):
        n = _SIZES[self.descr]
        for s in self.shape[1:]:
            n *= s
        return n

    def first(self, k):
        """The first k entries along axis 0."""
        k = min(k, self.shape[0])
        return Array((k,) + self.shape[1:], self.descr, self.data[: k * self.row_bytes])

    def with_leading_axis(self):
        return Array((1,) + self.shape, self.descr, self.data)


def load(path):
    with open(path, "rb") as f:
        magic = f.read(8)
        if magic[:6] != b"\x93NUMPY":
            raise ValueError(f"{path}: not a .npy file")
        major = magic[6]
        hlen = struct.unpack("<H", f.read(2))[0] if major == 1 else struct.unpack("<I", f.read(4))[0]
        header = ast.literal_eval(f.read(hlen).decode("latin1"))
        if header.get("fortran_order"):
            raise ValueError(f"{path}: Fortran order is not supported")
        descr = header["descr"]
        if descr not in _SIZES:
            raise ValueError(f"{path}: dtype {descr} is not supported")
        return Array(header["shape"], descr, f.read())


def save(path, a):
    shape = "(" + "".join(f"{s}, " for s in a.shape).rstrip(" ") + ")" if len(a.shape) != 1 else f"({a.shape[0]},)"
    header = "{'descr': '%s', 'fortran_order': False, 'shape': %s, }" % (a.descr, shape)
    pad = (64 - (10 + len(header) + 1) % 64) % 64
    header = header + " " * pad + "\n"
    with open(path, "wb") as f:
        f.write(b"\x93NUMPY\x01\x00" + struct.pack("<H", len(header)) + header.encode("latin1") + a.data)


def concatenate(arrays):
    arrays = list(arrays)
    if not arrays:
        raise ValueError("npy: nothing to concatenate")
    rest, descr = arrays[0].shape[1:], arrays[0].descr
    for a in arrays:
        if a.shape[1:] != rest or a.descr != descr:
            raise ValueError(f"npy: cannot concatenate {a.shape} {a.descr} with {arrays[0].shape} {descr}")
    return Array((sum(a.shape[0] for a in arrays),) + rest, descr, b"".join(a.data for a in arrays))
