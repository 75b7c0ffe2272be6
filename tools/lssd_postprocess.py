#!/usr/bin/python3
"""Read LSSD embeddings with numpy only (no torch): the release's postprocess() for lssd-infer's
output layout.

    from lssd_postprocess import postprocess
    records = postprocess("OUTPUT_DIR", "video")     # [(filepath, ndarray [M,5,768]), ...]
    file_path, embedding = records[0]

Layout read: OUTPUT_DIR/<mtype>/manifest*.jsonl (every manifest part, in name order; for one
(rel_path, track) the record with the largest "seq" wins, else the last) and each ok record's
embedding: OUTPUT_DIR/<mtype>/<output> itself (OUTPUT.LAYOUT files: one .npy per input), or rows
[row, row + M) of the part <output> (OUTPUT.LAYOUT shards: the record has "row"); a directory may
mix both. float32 or float16; float16 is returned as stored unless as_float32=True. Only records
with status "ok" are returned.

Order (the same as `lssd-read` and lssd::postprocess in C++): manifest order, stably sorted by
rel_path (as bytes) and then the audio track index (no track first). filepath is the input path
as discovered (data dir joined with the relative path), like the release's metadata "filepath";
bytes that are not UTF-8 come back as surrogate escapes (os.fsdecode), as os.walk gives them.

A release-layout directory (OUTPUT_DIR/<mtype>/metadata.json + <mtype>.pt) is read too: the .pt
is parsed without torch (zip + pickle, float32/float16 storages only).

Audio tracks of video containers (DATA.AUDIO_FROM_VIDEO): their filepath is a TrackPath, the
container's path as a str with .track_index and .track_language. read_records() gives every
manifest record (all statuses, all fields) as dicts; load_record() one record's array.

Similarity search: clip_matrix(output_dir, mtype) returns one float32 matrix of every clip's
vector (the vectors lssd-read search / dedup / tracks use) and a row-aligned list of
(file, track, clip, start, stop):

    X, rows = clip_matrix("OUTPUT_DIR", "audio")     # X [N,768], rows[i] = (file, track, clip, start, stop)
    scores = X @ X[0]                                  # cosine similarity of every clip to clip 0

CLI: tools/lssd_postprocess.py OUTPUT_DIR video|audio   prints file (and track), shape
and dtype per line.
Errors name the file: a malformed manifest line (file:line), a corrupt or truncated .npy.
"""
import json
import os
import pickle
import sys
import zipfile

try:
    import numpy as np
except ImportError:
    _MSG = (f"lssd_postprocess needs the Python module 'numpy', which {sys.executable} cannot import. Install "
            "the Debian package python3-numpy (sudo apt-get install python3-numpy) or `pip install numpy`, or "
            "run it with a Python that has numpy: /usr/bin/python3 on Debian, or $LSSD_PYTHON.")
    if __name__ == "__main__":
        sys.exit(f"error: {_MSG}")
    raise ModuleNotFoundError(_MSG, name="numpy") from None

__all__ = ["postprocess", "read_records", "load_record", "clip_matrix", "clip_vectors", "LssdReadError", "TrackPath"]


class LssdReadError(Exception):
    """A corrupt input: the message starts with the file (and line) at fault."""


class TrackPath(str):
    """The filepath of an audio track's record (DATA.AUDIO_FROM_VIDEO): the container's path as a
    str, plus the track's stream index and language. Its repr names the track, so that the two
    tracks of one file are told apart when printed."""

    def __new__(cls, path, index, language):
        obj = super().__new__(cls, path)
        obj.track_index = index
        obj.track_language = language
        return obj

    def __repr__(self):
        return "TrackPath(%s, track=%d, language=%r)" % (str.__repr__(self), self.track_index, self.track_language)

    def __reduce__(self):
        return (TrackPath, (str(self), self.track_index, self.track_language))


def _filepath(record):
    """A record's filepath as postprocess returns it: a str, or a TrackPath for a track."""
    path = os.fsdecode(record["_path"])
    if record["_track"] < 0:
        return path
    return TrackPath(path, record["_track"], (record.get("track") or {}).get("language", ""))


def _bytes_field(j, field):
    h = j.get(field + "_hex")
    if h is not None:
        return bytes.fromhex(h)
    return j.get(field, "").encode("utf-8", "surrogateescape")


def _manifest_files(mdir):
    try:
        names = os.listdir(mdir)
    except OSError:
        return []
    return sorted(os.path.join(mdir, n) for n in names if n.startswith("manifest") and n.endswith(".jsonl"))


def _track(j):
    t = j.get("track")
    return int(t["index"]) if t else -1


def read_records(output_dir, mtype, warnings=None):
    """Every manifest record (dicts, all statuses) in reader order. Each dict gets the exact
    bytes in "_rel_path" / "_path" / "_output" and the track index in "_track"."""
    mdir = os.path.join(output_dir, mtype)
    order, index = [], {}
    for f in _manifest_files(mdir):
        with open(f, "rb") as fh:
            content = fh.read()
        lines = content.split(b"\n")
        if lines and lines[-1] == b"":
            lines.pop()
            torn_possible = False
        else:
            torn_possible = True  # no final newline: the last line may be a crash-torn append
        for no, raw in enumerate(lines, 1):
            if not raw.strip():
                continue
            last = no == len(lines)
            try:
                j = json.loads(raw.decode("utf-8"))
                if not isinstance(j, dict):
                    raise ValueError("not a JSON object")
                if int(j["v"]) > 2:
                    raise ValueError("manifest format version %s is newer than this reader (2)" % j["v"])
                for k in ("modality", "status", "M", "shape", "ranges", "rel_path"):
                    if k not in j:
                        raise ValueError("missing key %r" % k)
            except (ValueError, KeyError, TypeError, UnicodeDecodeError) as e:
                if last and torn_possible:
                    if warnings is not None:
                        warnings.append("%s:%d: incomplete last line ignored" % (f, no))
                    continue
                raise LssdReadError("%s:%d: [read] malformed manifest record: %s" % (f, no, e)) from None
            j["_rel_path"] = _bytes_field(j, "rel_path")
            j["_path"] = _bytes_field(j, "path")
            j["_output"] = _bytes_field(j, "output")
            j["_track"] = _track(j)
            key = (j["modality"], j["_rel_path"], j["_track"])
            if key in index:
                if int(j.get("seq", 0)) >= int(order[index[key]].get("seq", 0)):  # the larger seq wins, else the last
                    order[index[key]] = j
            else:
                index[key] = len(order)
                order.append(j)
    order.sort(key=lambda j: (j["_rel_path"], j["_track"]))  # stable: manifest order within ties
    return order


def _npy_header(path, data, size):
    """(dtype, shape, data offset) of the .npy whose first bytes are `data` and whose size is
    `size`; raises LssdReadError for a malformed header or a size that does not match."""
    def bad(why):
        return LssdReadError("%s: [read] not a valid .npy file: %s" % (path, why))

    if len(data) < 10 or data[:6] != b"\x93NUMPY":
        raise bad("bad magic")
    major = data[6]
    if major == 1:
        hl, start = int.from_bytes(data[8:10], "little"), 10
    elif major in (2, 3):
        if len(data) < 12:
            raise bad("truncated header")
        hl, start = int.from_bytes(data[8:12], "little"), 12
    else:
        raise bad("unsupported version %d" % major)
    if len(data) < start + hl:
        raise bad("truncated header")
    import ast

    try:
        header = ast.literal_eval(data[start:start + hl].decode("latin1"))
        descr, fortran, shape = header["descr"], header["fortran_order"], tuple(int(x) for x in header["shape"])
    except Exception as e:  # noqa: BLE001 - any header defect is a corrupt file
        raise bad("malformed header (%s)" % e) from None
    if descr not in ("<f4", "<f2"):
        raise bad("dtype must be <f4 or <f2, not %r" % (descr,))
    if fortran:
        raise bad("fortran_order arrays are not supported")
    dt = np.dtype(descr)
    n = int(np.prod(shape, dtype=np.int64)) if shape else 1
    need = start + hl + n * dt.itemsize
    if size != need:
        raise bad("size %d bytes, expected %d for shape %s (%s)" % (
            size, need, list(shape), "truncated" if size < need else "trailing bytes"))
    return dt, shape, start + hl


def _parse_npy(path):
    try:
        with open(path, "rb") as fh:
            data = fh.read()
    except OSError as e:
        raise LssdReadError("%s: [read] cannot open: %s" % (path, e.strerror)) from None
    dt, shape, offset = _npy_header(path, data, len(data))
    n = int(np.prod(shape, dtype=np.int64)) if shape else 1
    return np.frombuffer(data, dtype=dt, count=n, offset=offset).reshape(shape).copy()


def _read_rows(path, first, count):
    """Rows [first, first + count) of a part (.npy of stacked rows), checked like a whole file."""
    try:
        with open(path, "rb") as fh:
            size = os.fstat(fh.fileno()).st_size
            head = fh.read(4096)
            dt, shape, offset = _npy_header(path, head, size)
            if not shape or first < 0 or count < 0 or first + count > shape[0]:
                raise LssdReadError("%s: [read] rows %d..%d lie outside the array %s" % (
                    path, first, first + count, list(shape)))
            row = int(np.prod(shape[1:], dtype=np.int64)) * dt.itemsize
            fh.seek(offset + first * row)
            data = fh.read(count * row)
    except OSError as e:
        raise LssdReadError("%s: [read] cannot open: %s" % (path, e.strerror)) from None
    return np.frombuffer(data, dtype=dt).reshape((count,) + tuple(shape[1:])).copy()


# ---- release layout: torch.save zip read without torch ----
class _Storage:
    def __init__(self, dtype, key):
        self.dtype, self.key = dtype, key


_STORAGE_DTYPES = {"FloatStorage": np.float32, "HalfStorage": np.float16, "DoubleStorage": np.float64,
                   "BFloat16Storage": None}


def _load_pt_tensor(path):
    try:
        zf = zipfile.ZipFile(path)
    except (OSError, zipfile.BadZipFile) as e:
        raise LssdReadError("%s: [read] not a readable torch.save file: %s" % (path, e)) from None
    names = zf.namelist()
    pkl = [n for n in names if n.endswith("/data.pkl") or n == "data.pkl"]
    if not pkl:
        raise LssdReadError("%s: [read] not a readable torch.save file: no data.pkl" % path)
    prefix = pkl[0][: -len("data.pkl")]

    def rebuild(storage, offset, size, stride, *_):
        raw = zf.read(prefix + "data/" + str(storage.key))
        arr = np.frombuffer(raw, dtype=storage.dtype)
        itemsize = arr.dtype.itemsize
        return np.lib.stride_tricks.as_strided(arr[offset:], shape=tuple(size),
                                               strides=tuple(s * itemsize for s in stride)).astype(np.float32)

    class U(pickle.Unpickler):
        def find_class(self, module, name):
            if module == "torch._utils" and name == "_rebuild_tensor_v2":
                return rebuild
            if module == "torch" and name in _STORAGE_DTYPES and _STORAGE_DTYPES[name] is not None:
                return _STORAGE_DTYPES[name]
            if module == "collections" and name == "OrderedDict":
                import collections
                return collections.OrderedDict
            raise pickle.UnpicklingError("unsupported object %s.%s" % (module, name))

        def persistent_load(self, pid):
            # ('storage', storage_type, key, location, numel)
            return _Storage(pid[1], pid[2])

    try:
        t = U(zf.open(pkl[0])).load()
    except Exception as e:  # noqa: BLE001
        raise LssdReadError("%s: [read] not a readable torch.save file: %s" % (path, e)) from None
    if not isinstance(t, np.ndarray):
        raise LssdReadError("%s: [read] expected a tensor" % path)
    return t


def _release_postprocess(output_dir, mtype):
    mdir = os.path.join(output_dir, mtype)
    meta_path = os.path.join(mdir, "metadata.json")
    try:
        with open(meta_path, "r", encoding="utf-8") as fh:
            meta = json.load(fh)
        ranges, files = meta["range"], meta["filepath"]
    except (OSError, ValueError, KeyError) as e:
        raise LssdReadError("%s: [read] malformed release metadata: %s" % (meta_path, e)) from None
    pt = os.path.join(mdir, mtype + ".pt")
    t = _load_pt_tensor(pt)
    if t.shape[0] != sum(len(r) for r in ranges):
        raise LssdReadError("%s: [read] tensor has %d rows, metadata.json lists %d clips" % (
            pt, t.shape[0], sum(len(r) for r in ranges)))
    out, row = [], 0
    for f, r in zip(files, ranges):
        out.append((f, t[row:row + len(r)]))
        row += len(r)
    return out


def load_record(output_dir, record, as_float32=False):
    """The embedding of one ok manifest record (from read_records)."""
    mtype = record["modality"]
    if record.get("status") != "ok":
        raise LssdReadError("%s: [read] no embedding: status %s" % (os.fsdecode(record["_path"]), record.get("status")))
    path = os.path.join(os.fsencode(output_dir), mtype.encode(), record["_output"])
    if record.get("row") is not None:  # shards layout: M rows of a part
        a = _read_rows(os.fsdecode(path), int(record["row"]), int(record["M"]))
    else:
        a = _parse_npy(os.fsdecode(path))
    if list(a.shape) != list(record["shape"]):
        raise LssdReadError("%s: [read] shape %s differs from the manifest's %s" % (
            os.fsdecode(path), list(a.shape), record["shape"]))
    return a.astype(np.float32) if as_float32 else a


def postprocess(output_dir, mtype, as_float32=False):
    """[(filepath, ndarray [M,5,768] video / [M,768] audio), ...] for every ok record. filepath is
    a str; for an audio track of a container it is a TrackPath (a str with .track_index and
    .track_language), so a two-track file gives two rows that say which track they are."""
    if mtype not in ("video", "audio"):
        raise ValueError("mtype must be 'video' or 'audio', not %r" % (mtype,))
    mdir = os.path.join(output_dir, mtype)
    if not _manifest_files(mdir):
        if os.path.isfile(os.path.join(mdir, "metadata.json")):
            return _release_postprocess(output_dir, mtype)
        raise LssdReadError("%s: [read] no manifest*.jsonl or metadata.json here" % mdir)
    return [(_filepath(r), load_record(output_dir, r, as_float32))
            for r in read_records(output_dir, mtype) if r["status"] == "ok"]


def clip_vectors(embedding):
    """[M,D] float32 clip vectors of one embedding, as lssd-read computes them (bit for bit):
    audio [M,D]: each row L2-normalised; video [M,5,D]: the mean of the five crops, then
    L2-normalised. Sums run in order in float64 (np.cumsum), the result is rounded to float32; a
    zero vector stays zero."""
    a = np.asarray(embedding, dtype=np.float64)
    if a.ndim == 3:
        a = np.cumsum(a, axis=1)[:, -1, :] / a.shape[1]
    elif a.ndim != 2:
        raise ValueError("expected an embedding [M,D] or [M,crops,D], got shape %s" % (a.shape,))
    norm = np.sqrt(np.cumsum(a * a, axis=1)[:, -1:]) if a.shape[1] else np.zeros((a.shape[0], 1))
    with np.errstate(invalid="ignore", divide="ignore"):
        v = np.where(norm > 0, a / np.where(norm > 0, norm, 1.0), 0.0)
    return v.astype(np.float32)


def _release_rows(output_dir, mtype):
    """(filepath, track, ranges in seconds, embedding) per file of a release-layout directory."""
    meta = json.load(open(os.path.join(output_dir, mtype, "metadata.json"), encoding="utf-8"))
    out = []
    for (f, emb), rng, rate in zip(_release_postprocess(output_dir, mtype), meta["range"], meta["sample_rate"]):
        div = float(rate) if mtype == "audio" and rate else 1.0
        out.append((f, None, [(s / div, e / div) for s, e in rng], emb))
    return out


def clip_matrix(output_dir, mtype, model_id=None, dtype=None):
    """Every clip of one modality as a row: (X, rows). X is float32 [N,768], the clip vectors of
    clip_vectors() (so X @ X.T is the cosine similarity); rows[i] = (file, track, clip, start,
    stop): the input path (as postprocess returns it), the audio track's stream index or None,
    the clip index, and its time range in seconds. Rows are in reader order (the order of
    postprocess, each file's clips in order): the tie rule of lssd-read search.

    Records of more than one model id or dtype raise LssdReadError naming them, unless
    model_id / dtype picks one. Video and audio vectors are different spaces: compare within one
    modality."""
    if mtype not in ("video", "audio"):
        raise ValueError("mtype must be 'video' or 'audio', not %r" % (mtype,))
    mdir = os.path.join(output_dir, mtype)
    if _manifest_files(mdir):
        recs = [r for r in read_records(output_dir, mtype) if r["status"] == "ok"]
        present = (sorted({r.get("model_id", "") for r in recs}), sorted({r.get("dtype", "") for r in recs}))
        recs = [r for r in recs if (model_id is None or r.get("model_id", "") == model_id) and
                (dtype is None or r.get("dtype", "") == dtype)]
        for key, name, opt in (("model_id", "model id", "model_id"), ("dtype", "dtype", "dtype")):
            vals = sorted({r.get(key, "") for r in recs})
            if len(vals) > 1:
                raise LssdReadError("%s: [search] records from more than one %s (%s); pick one with %s=" % (
                    mdir, name, ", ".join(v or "(none)" for v in vals), opt))
        files = [(os.fsdecode(r["_path"]), r["_track"] if r["_track"] >= 0 else None,
                  [(float(c[0]), float(c[1])) for c in r["ranges"]], load_record(output_dir, r))
                 for r in recs]
    elif os.path.isfile(os.path.join(mdir, "metadata.json")):
        files, present = _release_rows(output_dir, mtype), None
    else:
        raise LssdReadError("%s: [read] no manifest*.jsonl or metadata.json here" % mdir)
    if not files:
        why = "" if present is None or (model_id is None and dtype is None) else \
            " with model id %r / dtype %r (present: %s; %s)" % (model_id, dtype, present[0], present[1])
        raise LssdReadError("%s: [search] no embedded %s files%s" % (mdir, mtype, why))
    mats, rows = [], []
    for f, track, ranges, emb in files:
        mats.append(clip_vectors(emb))
        rows += [(f, track, i, s, e) for i, (s, e) in enumerate(ranges)]
    return np.concatenate(mats, axis=0), rows


def main(argv=None):
    import argparse
    p = argparse.ArgumentParser(description="List LSSD embeddings (numpy only): file and shape per line.")
    p.add_argument("output_dir")
    p.add_argument("mtype", choices=["video", "audio"])
    a = p.parse_args(argv)
    try:
        records = postprocess(a.output_dir, a.mtype)
    except LssdReadError as e:
        print("lssd_postprocess: %s" % e, file=sys.stderr)
        return 1
    for f, emb in records:
        track = " [track %d %s]" % (f.track_index, f.track_language or "und") if isinstance(f, TrackPath) else ""
        print("%s%s\t%s\t%s" % (f, track, tuple(emb.shape), emb.dtype))
    return 0


if __name__ == "__main__":
    sys.exit(main())
