#!/usr/bin/python3
"""Shows that a change of the sources changed no output: runs a build's lssd-infer on sample_data
and a fixed list of lssd-read commands, keeps every output, and compares two such records byte
for byte.

    tools/check_same_outputs.py record REF_DIR [--build DIR] [--towers tiny|S] [--model-dir DIR]
                                               [--data DIR] [--quick] [--only GLOB ...]
    tools/check_same_outputs.py compare REF_DIR [--build DIR] [--keep DIR]
    tools/check_same_outputs.py diff REF_DIR OTHER_DIR

Typical use around a restructuring: record with the old tree's build, compare with the new
tree's, both with this script (the old tree need not have it: --build says which programs run):

    tools/check_same_outputs.py record /tmp/same-ref --build /path/to/old/build
    tools/check_same_outputs.py compare /tmp/same-ref --build build

record writes REF_DIR/meta.json (what was run: build, towers, model and data dirs, the selection)
and REF_DIR/items/ (one file per item). compare runs the same selection with the same towers
and data (taken from meta.json; --model-dir/--data override them) into a fresh record (kept
with --keep DIR) and diffs it against REF_DIR; diff compares two records without running
anything. --quick uses only QUICK_FILES of the data; --only GLOB (repeatable) records only the
commands whose name (the item prefix, e.g. read/ls) matches; the three lssd-infer runs always
run. The report names every item that differs (a unified diff for text, the differing bytes
and values for .npy) or is in one record only, and counts the same ones; exit 0 when every
item is the same, 1 when any is not, 2 on a usage or setup error.

What runs (cwd: a scratch dir WORK holding data/, out/ and what the commands write):
  data      --data (default: this tree's sample_data/) copied to WORK/data, plus one copy of a
            video (data/dup/) so that dedup has a pair; --quick: only QUICK_FILES (and the copy)
  towers    tiny (default) or S: tools/lssd_checkpoint.py random --size S [--tiny] --seed 0 and
            tools/lssd_export.py of this tree, made once into REF_DIR/models (--model-dir: use
            those video.pt/audio.pt instead); compare uses the recorded ones
  infer     --help, --version, --print-config (default and configs/B3.yaml with literals), four
            usage/config errors; the run on WORK/data (CPU, RUNTIME.NUM_THREADS 2, else the
            defaults), its rerun (nothing to do), then a run with DATA.AUDIO_FROM_VIDEO True into
            the same OUTPUT_DIR (adds the audio tracks of containers)
  read      read_cmds_before_tracks() on the first run's OUTPUT_DIR (ls/show/stats/verify/compare/
            export csv/jsonl/--release/search/dedup, text and --json, every --help page, error
            cases), on a damaged copy (a .npy deleted, one truncated, an orphan) and on one with
            a malformed manifest line; read_cmds_after_tracks() after the tracks run (tracks, search of
            a track, ...)

Items (REF_DIR/items/<name>):
  data/files                  relative path, size and sha256 of every input
  models/sha256               sha256 of video.pt and audio.pt
  <step>/cmd, rc, stdout, stderr   for every command (cmd: the argument list, normalised)
  out@run/..., out@tracks/... every file under OUTPUT_DIR after the first run and after the
                              tracks run (index/ left out)
  <step>/files/...            files a command wrote (export --csv FILE, --release DIR)

Normalisation (applied to every item but .npy files, which are compared as they are):
  N1 absolute paths: WORK -> $WORK, the build dir -> $BUILD, the model dir -> $MODELS, the
     source dir of configs/B3.yaml -> $SRC (each also as its realpath), so the program path in
     --help pages and every path in logs, manifests, config.yaml and JSON reads the same
  N2 log lines' timestamps "[YYYY-MM-DD HH:MM:SS.mmm] " removed (stderr of both programs)
  N3 lssd-infer's stderr: "progress ..." lines dropped (their number depends on speed); the
     numbers of the "time: ..." line, the seconds and clips/s of the "done: ..." line and the
     busy shares ("busy 38%") of the decode-workers and devices lines replaced by #; then the lines sorted (decode workers log in completion order)
  N4 manifest*.jsonl: the fields "wall_s" and "seq" (a record's precedence, from the clock)
     removed; errors*.jsonl: the field "time" removed; the lines of both sorted (records are
     appended in completion order)
  N5 input mtimes: every input file's mtime is set to MTIME_NS, so manifests' mtime_ns agree
  N6 lssd-read: "built in X s" of an IVF index -> "built in # s"
  N7 .pt files (export --release): compared whole, except when the zip holds a
     .data/serialization_id entry (random per save in LibTorch 2.x): then entry by entry
     without it
Environment of the programs: SLURM_*, JOB_COMPLETION_INDEX and LSSD_* variables removed (they
select shards and test hooks); LC_ALL=C.UTF-8, TZ=UTC, OMP_WAIT_POLICY=PASSIVE.
"""
import argparse
import difflib
import fnmatch
import hashlib
import io
import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import tempfile
import time
import zipfile

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
FORMAT = 1
MTIME_NS = 1_000_000_000 * 10**9  # N5: 2001-09-09T01:46:40Z
THREADS = "2"

V = "video/ucf/testsrc2_320x240_25fps_2.0s.mp4"  # 1 clip
A = "audio/speech/german_16kHz_mono_7.5s.wav"  # 2 clips
MKV = "video/multi/testsrc2_320x240_25fps_5.0s_eng_deu.mkv"  # two audio tracks (eng, deu)
BROKEN = "video/misc/broken.mp4"
SHORT = "audio/edge/one_sample.wav"
DUP = "dup/" + os.path.basename(V)  # a copy of V: dedup finds the pair
QUICK_FILES = [V, A, MKV, BROKEN, SHORT]
RUNS = ("infer/run", "infer/rerun", "infer/tracks")  # the runs every other command reads


def read_cmds_before_tracks():
    """(name, lssd-read arguments) on WORK/out after the first run; names are item prefixes."""
    cmds = [("read/help", ["--help"]), ("read/version", ["--version"])]
    for sub in ("ls", "show", "stats", "verify", "compare", "export", "search", "dedup", "tracks", "report"):
        cmds.append((f"read/help-{sub}", [sub, "--help"]))
    cmds += [
        ("read/error-no-command", []),
        ("read/error-unknown-command", ["bogus", "out"]),
        ("read/error-ls-missing-dir", ["ls", "no_such_dir"]),
        ("read/error-show-unknown-file", ["show", "out", "no/such/file.mp4"]),
        ("read/error-compare-one-dir", ["compare", "out"]),
        ("read/error-export-two-targets", ["export", "out", "--csv", "x.csv", "--jsonl", "x.jsonl"]),
        ("read/error-search-no-query", ["search", "out"]),
        ("read/error-search-unknown-file", ["search", "out", "--file", "no/such.wav"]),
        ("read/error-search-vector-no-mtype", ["search", "out", "--vector", f"out/audio/{A}.npy"]),
        ("read/error-dedup-threshold", ["dedup", "out", "--threshold", "2"]),
        ("read/error-tracks-none", ["tracks", "out"]),
        ("read/ls", ["ls", "out"]),
        ("read/ls-json", ["ls", "out", "--json"]),
        ("read/ls-audio", ["ls", "out", "--mtype", "audio"]),
        ("read/show-video", ["show", "out", V]),
        ("read/show-video-json", ["show", "out", V, "--json"]),
        ("read/show-video-json-values", ["show", "out", V, "--json", "--values"]),
        ("read/show-audio", ["show", "out", A]),
        ("read/show-by-name", ["show", "out", os.path.basename(A)]),
        ("read/show-by-input-path", ["show", "out", f"data/{A}"]),
        ("read/show-failed", ["show", "out", BROKEN]),
        ("read/show-short", ["show", "out", SHORT]),
        ("read/stats", ["stats", "out"]),
        ("read/stats-json", ["stats", "out", "--json"]),
        ("read/stats-video", ["stats", "out", "--mtype", "video"]),
        ("read/verify", ["verify", "out"]),
        ("read/verify-json", ["verify", "out", "--json"]),
        ("read/export-csv-stdout", ["export", "out", "--csv", "-"]),
        ("read/export-csv-file", ["export", "out", "--csv", "out.csv"]),
        ("read/export-jsonl-audio", ["export", "out", "--jsonl", "-", "--mtype", "audio"]),
        ("read/export-release", ["export", "out", "--release", "rel"]),
        ("read/compare-release", ["compare", "out", "rel"]),
        ("read/compare-release-json", ["compare", "out", "rel", "--json"]),
        ("read/compare-self-atol0", ["compare", "out", "out", "--atol", "0"]),
        ("read/ls-release", ["ls", "rel"]),
        ("read/search-video", ["search", "out", "--file", V, "-k", "5"]),
        ("read/search-video-json", ["search", "out", "--file", V, "-k", "3", "--json"]),
        ("read/search-exclude-self", ["search", "out", "--file", V, "--exclude-self", "-k", "3"]),
        ("read/search-audio-approx", ["search", "out", "--mtype", "audio", "--file", A, "--approx",
                                      "--index-dir", "idx"]),
        ("read/search-vector", ["search", "out", "--mtype", "audio", "--vector", f"out/audio/{A}.npy", "-k", "3"]),
        ("read/search-vector-json", ["search", "out", "--mtype", "audio", "--vector", f"out/audio/{A}.npy", "-k", "3",
                                     "--json"]),
        ("read/dedup", ["dedup", "out"]),
        ("read/dedup-video", ["dedup", "out", "--mtype", "video", "--threshold", "0.95", "--min-clips", "1"]),
        ("read/dedup-video-json", ["dedup", "out", "--mtype", "video", "--threshold", "0.95", "--min-clips", "1",
                                   "--json"]),
        ("read/damaged-verify", ["verify", "damaged"]),
        ("read/damaged-verify-json", ["verify", "damaged", "--json"]),
        ("read/damaged-show-truncated", ["show", "damaged", A]),
        ("read/damaged-stats", ["stats", "damaged"]),
        ("read/damaged-compare", ["compare", "out", "damaged"]),
        ("read/bad-manifest-ls", ["ls", "badmanifest"]),
    ]
    return cmds


def read_cmds_after_tracks():
    """(name, lssd-read arguments) on WORK/out after the DATA.AUDIO_FROM_VIDEO True run."""
    return [
        ("tracks-read/ls-audio", ["ls", "out", "--mtype", "audio"]),
        ("tracks-read/ls-json", ["ls", "out", "--json"]),
        ("tracks-read/show-mkv", ["show", "out", MKV, "--mtype", "audio"]),
        ("tracks-read/stats-json", ["stats", "out", "--json"]),
        ("tracks-read/verify", ["verify", "out"]),
        ("tracks-read/tracks", ["tracks", "out", "--threshold", "0.9"]),
        ("tracks-read/tracks-json", ["tracks", "out", "--threshold", "0.9", "--json"]),
        ("tracks-read/tracks-mkv", ["tracks", "out", MKV, "--threshold", "0.5"]),
        ("tracks-read/search-track", ["search", "out", "--file", MKV, "--track", "1", "--clip", "0", "-k", "4"]),
        ("tracks-read/search-track-json", ["search", "out", "--file", MKV, "--track", "2", "--json", "-k", "4"]),
        ("tracks-read/dedup-audio", ["dedup", "out", "--mtype", "audio", "--threshold", "0.5", "--min-clips", "1"]),
        ("tracks-read/export-jsonl-audio", ["export", "out", "--jsonl", "-", "--mtype", "audio"]),
        ("tracks-read/export-release", ["export", "out", "--release", "rel_tracks"]),
    ]


# ------------------------------------------------------------------------------ normalisation

LOG_TIME = re.compile(rb"^\[\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d+\] ", re.M)  # N2
PROGRESS = re.compile(rb"^\[info\] progress .*$", re.M)  # N3
TIME_LINE = re.compile(rb"^(\[info\] time: )(.*)$", re.M)  # N3
DONE_TIMES = re.compile(rb"(clips in )[0-9.]+ s \([0-9.]+ clips/s\)")  # N3
BUSY = re.compile(rb"busy \d+%")  # N3
NUMBER = re.compile(rb"\d+(\.\d+)?")
INDEX_BUILT = re.compile(rb"built in [0-9.]+ s")  # N6
WALL_S = re.compile(rb',"wall_s":[-+0-9.eE]+')  # N4
SEQ = re.compile(rb',"seq":[0-9]+')  # N4
ERR_TIME = re.compile(rb',"time":"[^"]*"')  # N4


class Paths:
    """N1: the absolute paths to replace, longest first."""

    def __init__(self, **named):
        pairs = {}
        for label, p in named.items():
            if not p:
                continue
            for v in {os.path.abspath(p), os.path.realpath(p)}:
                pairs[v.encode()] = b"$" + label.encode()
        self.pairs = pairs
        # One pass, longest path first, whole path names only: /lssd must not match the start of
        # /lssd-read once /lssd/build has been replaced (CI's chroot has its tree at /lssd).
        alts = b"|".join(re.escape(k) for k in sorted(pairs, key=len, reverse=True))
        self.pattern = re.compile(rb"(?:" + alts + rb")(?![\w-]|\.\w)") if pairs else None

    def __call__(self, data):
        if self.pattern is None:
            return data
        return self.pattern.sub(lambda m: self.pairs[m.group(0)], data)


def sorted_lines(data):
    lines = [ln for ln in data.split(b"\n") if ln]
    return b"".join(ln + b"\n" for ln in sorted(lines))


def norm_log(data, paths, infer):
    data = LOG_TIME.sub(b"", paths(data))
    data = INDEX_BUILT.sub(b"built in # s", data)
    if infer:
        data = PROGRESS.sub(b"", data)
        data = TIME_LINE.sub(lambda m: m.group(1) + NUMBER.sub(b"#", m.group(2)), data)
        data = DONE_TIMES.sub(rb"\1# s (# clips/s)", data)
        data = BUSY.sub(b"busy #%", data)
        data = sorted_lines(data)
    return data


def norm_pt(name, data):
    """N7: {item name: bytes} of a .pt file."""
    try:
        z = zipfile.ZipFile(io.BytesIO(data))
        names = z.namelist()
    except zipfile.BadZipFile:
        return {name: data}
    if not any(n.endswith(".data/serialization_id") for n in names):
        return {name: data}
    return {f"{name}!{n}": z.read(n) for n in names if not n.endswith(".data/serialization_id")}


def norm_file(name, data, paths):
    """{item name: bytes} for a file an item holds (N1, N4, N7; .npy as it is)."""
    base = os.path.basename(name)
    if base.endswith(".npy"):
        return {name: data}
    if base.endswith(".pt"):
        return norm_pt(name, data)
    data = paths(data)
    if base.startswith("manifest") and base.endswith(".jsonl"):
        data = sorted_lines(SEQ.sub(b"", WALL_S.sub(b"", data)))
    elif base.startswith("errors") and base.endswith(".jsonl"):
        data = sorted_lines(ERR_TIME.sub(b"", data))
    return {name: data}


# ------------------------------------------------------------------------------ recording


def die(msg):
    print(f"check_same_outputs: {msg}", file=sys.stderr)
    sys.exit(2)


def sha256(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def build_source(build):
    """The source dir of a CMake build dir (CMAKE_HOME_DIRECTORY), else this tree."""
    try:
        with open(os.path.join(build, "CMakeCache.txt")) as f:
            for line in f:
                if line.startswith("CMAKE_HOME_DIRECTORY:"):
                    return line.split("=", 1)[1].strip()
    except OSError:
        pass
    return REPO


def program_env():
    drop = ("SLURM_", "LSSD_")
    env = {k: v for k, v in os.environ.items() if not k.startswith(drop) and k != "JOB_COMPLETION_INDEX"}
    env.update(LC_ALL="C.UTF-8", TZ="UTC", OMP_WAIT_POLICY="PASSIVE")
    return env


def make_towers(towers, dest):
    """Seeded-random towers (this tree's checkpoint writer and exporter) into dest."""
    python = os.environ.get("LSSD_PYTHON") or "/usr/bin/python3"
    os.makedirs(dest, exist_ok=True)
    ckpt = os.path.join(dest, "random.pyth")
    size = ["--size", "S"] + (["--tiny"] if towers == "tiny" else [])
    t0 = time.time()
    for cmd in ([python, os.path.join(HERE, "lssd_checkpoint.py"), "random", *size, "--seed", "0", "-o", ckpt],
                [python, os.path.join(HERE, "lssd_export.py"), "--checkpoint", ckpt, "--out-dir", dest,
                 "--threads", THREADS]):
        r = subprocess.run(cmd, capture_output=True, text=True)
        if r.returncode != 0:
            die(f"{' '.join(cmd)} failed ({r.returncode}):\n{r.stdout}{r.stderr}")
    os.remove(ckpt)
    print(f"made the {towers} towers in {dest} ({time.time() - t0:.1f} s)", flush=True)


def copy_data(src, dst, quick):
    """WORK/data: the inputs (N5: fixed mtimes) plus the dedup copy; returns the data/files item."""
    rels = []
    for dirpath, _dirs, files in os.walk(src):
        for f in files:
            rels.append(os.path.relpath(os.path.join(dirpath, f), src))
    if quick:
        missing = [r for r in QUICK_FILES if r not in rels]
        if missing:
            die(f"--quick: {src} lacks {missing}")
        rels = list(QUICK_FILES)
    if V not in rels:
        die(f"{src} lacks {V}")
    pairs = sorted([(r, r) for r in rels] + [(V, DUP)], key=lambda p: p[1])
    lines = []
    for rel, to in pairs:
        d = os.path.join(dst, to)
        os.makedirs(os.path.dirname(d), exist_ok=True)
        shutil.copyfile(os.path.join(src, rel), d)
        os.utime(d, ns=(MTIME_NS, MTIME_NS))
        lines.append(f"{to}\t{os.path.getsize(d)}\t{sha256(d)}\n")
    return "".join(lines).encode()


def damage(out, dst):
    """A copy of OUTPUT_DIR with A's .npy truncated, V's .npy deleted and an orphan .npy."""
    shutil.copytree(out, dst)
    with open(os.path.join(dst, "audio", A + ".npy"), "r+b") as f:
        f.truncate(100)
    os.remove(os.path.join(dst, "video", V + ".npy"))
    shutil.copyfile(os.path.join(out, "audio", A + ".npy"), os.path.join(dst, "audio", "orphan.wav.npy"))


def bad_manifest(out, dst):
    """A copy of OUTPUT_DIR with a malformed line in the middle of the video manifest."""
    shutil.copytree(out, dst)
    p = os.path.join(dst, "video", "manifest.jsonl")
    with open(p, "rb") as f:
        lines = f.read().split(b"\n")
    lines.insert(1, b'{"v":1,"modality":"video","rel_path": not json')
    with open(p, "wb") as f:
        f.write(b"\n".join(lines))


class Run:
    """One recording: runs the programs in WORK, writes the items."""

    def __init__(self, build, items_dir, work, model_dir, source, only=None):
        self.build, self.items_dir, self.work, self.model_dir, self.source = build, items_dir, work, model_dir, source
        self.only = only
        self.infer = os.path.join(build, "lssd-infer")
        self.read = os.path.join(build, "lssd-read")
        for p in (self.infer, self.read):
            if not os.access(p, os.X_OK):
                die(f"{p} missing: build the lssd-infer and lssd-read targets in {build}")
        self.paths = Paths(WORK=work, BUILD=build, MODELS=model_dir, SRC=source)
        self.env = program_env()
        self.n = 0
        self.times = {}

    def put(self, name, data):
        path = os.path.join(self.items_dir, name)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "wb") as f:
            f.write(data)
        self.n += 1

    def selected(self, name):
        """--only: the three lssd-infer runs always run; other commands when a pattern matches."""
        return not self.only or name in RUNS or any(fnmatch.fnmatchcase(name, p) for p in self.only)

    def command(self, name, prog, args, timeout=600):
        if not self.selected(name):
            return None
        t0 = time.time()
        try:
            r = subprocess.run([prog, *args], cwd=self.work, env=self.env, capture_output=True, timeout=timeout)
            rc, stdout, stderr = r.returncode, r.stdout, r.stderr
        except subprocess.TimeoutExpired as e:  # a hang is an outcome to compare, not a reason to stop
            rc, stdout, stderr = f"timeout after {timeout} s", e.stdout or b"", e.stderr or b""
        self.times[name] = time.time() - t0
        self.put(f"{name}/cmd", self.paths(shlex.join([os.path.basename(prog), *args]).encode()) + b"\n")
        self.put(f"{name}/rc", f"{rc}\n".encode())
        self.put(f"{name}/stdout", self.paths(stdout))
        self.put(f"{name}/stderr", norm_log(stderr, self.paths, infer=prog == self.infer))
        return rc

    def files(self, name, root, skip=("index",)):
        """Every file under WORK/root as items name/<relative path> (normalised)."""
        top = os.path.join(self.work, root)
        for dirpath, dirs, files in os.walk(top):
            dirs[:] = sorted(d for d in dirs if not (dirpath == top and d in skip))
            for f in sorted(files):
                p = os.path.join(dirpath, f)
                with open(p, "rb") as fh:
                    data = fh.read()
                for k, v in norm_file(f"{name}/{os.path.relpath(p, top)}", data, self.paths).items():
                    self.put(k, v)

    def file(self, name, rel):
        """WORK/rel as the item name (normalised); "(not written)" when it does not exist."""
        p = os.path.join(self.work, rel)
        if not os.path.exists(p):
            self.put(name, b"(not written)\n")
            return
        with open(p, "rb") as f:
            data = f.read()
        for k, v in norm_file(name, data, self.paths).items():
            self.put(k, v)

    def model_args(self):
        return ["MODEL.VIDEO_ENCODER_FILE", os.path.join(self.model_dir, "video.pt"),
                "MODEL.AUDIO_ENCODER_FILE", os.path.join(self.model_dir, "audio.pt")]

    def run_all(self, data_dir, quick):
        self.put("data/files", copy_data(data_dir, os.path.join(self.work, "data"), quick))
        self.put("models/sha256", "".join(f"{m}\t{sha256(os.path.join(self.model_dir, m))}\n"
                                          for m in ("video.pt", "audio.pt")).encode())
        run = ["DATA.PATH_TO_DATA_DIR", "data", "OUTPUT_DIR", "out", *self.model_args(),
               "RUNTIME.DEVICE", "cpu", "RUNTIME.NUM_THREADS", THREADS]
        b3 = os.path.join(self.source, "configs", "B3.yaml")
        for name, args in [
            ("infer/help", ["--help"]),
            ("infer/version", ["--version"]),
            ("infer/print-config", ["--print-config"]),
            ("infer/print-config-b3", ["--cfg", b3, "--print-config", "VIDEO.CROP_SIZE", "[224,224]",
                                       "DATA.VIDEO_EXTENSIONS", "[mp4,avi,mkv]", "OUTPUT_DIR", "'out dir'"]),
            ("infer/error-missing-data-dir", ["DATA.PATH_TO_DATA_DIR", "missing", "OUTPUT_DIR", "never",
                                              *self.model_args(), "RUNTIME.DEVICE", "cpu"]),
            ("infer/error-dtype", [*run[:4], *self.model_args(), "OUTPUT.DTYPE", "float64"]),
            ("infer/error-unknown-key", ["--print-config", "NO.SUCH_KEY", "1"]),
            ("infer/error-missing-model", [*run, "MODEL.VIDEO_ENCODER_FILE", "no.pt"]),
        ]:
            self.command(name, self.infer, args)
        self.command("infer/run", self.infer, run, timeout=7200)
        self.files("out@run", "out")
        self.command("infer/rerun", self.infer, run, timeout=7200)
        damage(os.path.join(self.work, "out"), os.path.join(self.work, "damaged"))
        bad_manifest(os.path.join(self.work, "out"), os.path.join(self.work, "badmanifest"))
        for name, args in read_cmds_before_tracks():
            self.command(name, self.read, args)
        if self.selected("read/export-release"):
            self.files("read/export-release/files", "rel")
        if self.selected("read/export-csv-file"):
            self.file("read/export-csv-file/files/out.csv", "out.csv")
        self.command("infer/tracks", self.infer, [*run, "DATA.AUDIO_FROM_VIDEO", "True"], timeout=7200)
        self.files("out@tracks", "out")
        for name, args in read_cmds_after_tracks():
            self.command(name, self.read, args)
        if self.selected("tracks-read/export-release"):
            self.files("tracks-read/export-release/files", "rel_tracks")


def git_describe(source):
    """`git describe` of the build's source tree, or None where git or the repository is missing (CI chroots)."""
    try:
        git = subprocess.run(["git", "-C", source, "describe", "--always", "--dirty"], capture_output=True, text=True)
    except OSError:
        return None
    return git.stdout.strip() if git.returncode == 0 else None


def record(ref_dir, build, towers, model_dir, data_dir, quick, only=None, keep_work=None):
    """Records into ref_dir (which must not hold items yet); returns the item count."""
    build = os.path.abspath(build)
    items = os.path.join(ref_dir, "items")
    if os.path.exists(items):
        die(f"{items} exists: record into a new directory")
    os.makedirs(ref_dir, exist_ok=True)
    if model_dir is None:
        model_dir = os.path.join(ref_dir, "models")
        if not all(os.path.isfile(os.path.join(model_dir, m)) for m in ("video.pt", "audio.pt")):
            make_towers(towers, model_dir)
    model_dir = os.path.abspath(model_dir)
    for m in ("video.pt", "audio.pt"):
        if not os.path.isfile(os.path.join(model_dir, m)):
            die(f"{os.path.join(model_dir, m)} missing")
    source = build_source(build)
    work = keep_work or tempfile.mkdtemp(prefix="lssd_same_")
    os.makedirs(work, exist_ok=True)
    t0 = time.time()
    try:
        r = Run(build, items, os.path.abspath(work), model_dir, source, only)
        r.run_all(os.path.abspath(data_dir), quick)
    finally:
        if not keep_work:
            shutil.rmtree(work, ignore_errors=True)
    dt = time.time() - t0
    rel_models = os.path.relpath(model_dir, os.path.abspath(ref_dir))
    meta = {"format": FORMAT, "recorded_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), "build": build,
            "source": source, "git": git_describe(source), "towers": towers,
            "model_dir": model_dir if rel_models.startswith("..") else rel_models,  # relative: inside REF_DIR
            "data": os.path.abspath(data_dir), "quick": quick, "only": only, "items": r.n, "seconds": round(dt, 1),
            "slowest": sorted(r.times.items(), key=lambda kv: -kv[1])[:5]}
    with open(os.path.join(ref_dir, "meta.json"), "w") as f:
        json.dump(meta, f, indent=1)
        f.write("\n")
    print(f"recorded {r.n} items of {build} ({source} {meta['git']}) into {ref_dir} in {dt:.1f} s", flush=True)
    return r.n


# ------------------------------------------------------------------------------ comparing


def list_items(items_dir):
    res = {}
    for dirpath, _dirs, files in os.walk(items_dir):
        for f in files:
            p = os.path.join(dirpath, f)
            res[os.path.relpath(p, items_dir)] = p
    return res


def npy_detail(a, b):
    """What differs between two .npy files, in values when numpy reads both."""
    nbytes = sum(x != y for x, y in zip(a, b)) + abs(len(a) - len(b))
    first = next((i for i, (x, y) in enumerate(zip(a, b)) if x != y), min(len(a), len(b)))
    text = f"{len(a)} vs {len(b)} bytes, {nbytes} differ (first at byte {first})"
    try:
        import numpy as np

        x, y = np.load(io.BytesIO(a)), np.load(io.BytesIO(b))
        if x.shape != y.shape or x.dtype != y.dtype:
            return f"{text}; {x.dtype}{list(x.shape)} vs {y.dtype}{list(y.shape)}"
        d = np.abs(x.astype(np.float64) - y.astype(np.float64))
        return f"{text}; {x.dtype}{list(x.shape)}: {int((x != y).sum())} values differ, max |diff| {float(d.max()):.3g}"
    except Exception as e:  # noqa: BLE001  (numpy missing or an unreadable file: the bytes say enough)
        return f"{text} ({type(e).__name__})"


def text_detail(a, b, name, max_lines=40):
    try:
        sa, sb = a.decode(), b.decode()
    except UnicodeDecodeError:
        first = next((i for i, (x, y) in enumerate(zip(a, b)) if x != y), min(len(a), len(b)))
        return f"binary: {len(a)} vs {len(b)} bytes, first difference at byte {first}"
    diff = list(difflib.unified_diff(sa.splitlines(), sb.splitlines(), f"reference/{name}", f"current/{name}",
                                     lineterm="", n=1))
    if len(diff) > max_lines:
        diff = diff[:max_lines] + [f"... ({len(diff) - max_lines} more diff lines)"]
    return "\n".join("    " + ln[:300] for ln in diff)


def diff_records(ref_dir, cur_dir, out=sys.stdout):
    """Compares two records item by item; prints the report; returns the exit code (0 same, 1 not)."""
    ref, cur = list_items(os.path.join(ref_dir, "items")), list_items(os.path.join(cur_dir, "items"))
    if not ref:
        die(f"{ref_dir} holds no recorded items")
    same, different = 0, []
    for name in sorted(set(ref) & set(cur)):
        with open(ref[name], "rb") as f:
            a = f.read()
        with open(cur[name], "rb") as f:
            b = f.read()
        if a == b:
            same += 1
            continue
        different.append(name)
        if name.endswith(".npy"):
            print(f"DIFFERENT {name}: {npy_detail(a, b)}", file=out)
        else:
            print(f"DIFFERENT {name}:\n{text_detail(a, b, name)}", file=out)
    only_ref, only_cur = sorted(set(ref) - set(cur)), sorted(set(cur) - set(ref))
    for name in only_ref:
        print(f"ONLY IN REFERENCE {name}", file=out)
    for name in only_cur:
        print(f"ONLY IN CURRENT {name}", file=out)
    n = len(set(ref) | set(cur))
    ok = not (different or only_ref or only_cur)
    print(f"{'no difference' if ok else 'DIFFERENCES'}: {n} items: {same} same, {len(different)} different, "
          f"{len(only_ref)} only in the reference ({ref_dir}), {len(only_cur)} only in the current record ({cur_dir})",
          file=out, flush=True)
    return 0 if ok else 1


def compare(ref_dir, build, keep, model_dir, data_dir):
    try:
        with open(os.path.join(ref_dir, "meta.json")) as f:
            meta = json.load(f)
    except (OSError, ValueError) as e:
        die(f"{ref_dir}/meta.json: {e} (record first)")
    if meta.get("format") != FORMAT:
        die(f"{ref_dir} was recorded in format {meta.get('format')}, this script writes {FORMAT}: record again")
    model_dir = model_dir or os.path.join(ref_dir, meta["model_dir"])  # relative: inside REF_DIR
    data_dir = data_dir or meta["data"]
    cur = keep or tempfile.mkdtemp(prefix="lssd_same_cur_")
    try:
        if keep and os.path.exists(os.path.join(keep, "items")):
            die(f"{keep}/items exists: --keep needs a new directory")
        record(cur, build, meta["towers"], model_dir, data_dir, meta["quick"], meta.get("only"))
        return diff_records(ref_dir, cur)
    finally:
        if not keep:
            shutil.rmtree(cur, ignore_errors=True)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 epilog="See the module docstring (head -80 tools/check_same_outputs.py) for the "
                                        "items and every normalisation.",
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="mode", required=True)
    rec = sub.add_parser("record", help="run a build and record every output into REF_DIR")
    rec.add_argument("ref_dir", metavar="REF_DIR")
    cmp_ = sub.add_parser("compare", help="run a build and compare with REF_DIR byte for byte")
    cmp_.add_argument("ref_dir", metavar="REF_DIR")
    for p in (rec, cmp_):
        p.add_argument("--build", default=os.path.join(REPO, "build"),
                       help="the build dir whose lssd-infer and lssd-read run (default: this tree's build/)")
        p.add_argument("--model-dir", help="video.pt and audio.pt to use (record default: made into REF_DIR/models; "
                                           "compare default: the recorded ones)")
        p.add_argument("--data", help="the inputs (record default: this tree's sample_data; compare default: "
                                      "the recorded ones)")
    rec.add_argument("--towers", choices=("tiny", "S"), default="tiny",
                     help="seeded-random towers: the tiny test variant (default) or full-size MViT-S")
    rec.add_argument("--quick", action="store_true", help=f"only {len(QUICK_FILES)} inputs of the data ({QUICK_FILES})")
    rec.add_argument("--only", metavar="GLOB", action="append",
                     help="only the commands whose item name matches (fnmatch, repeatable; e.g. 'read/ls*'); "
                          "the lssd-infer runs always run")
    rec.add_argument("--keep-work", metavar="DIR", help="run in DIR and keep it (default: a temporary dir)")
    cmp_.add_argument("--keep", metavar="DIR", help="keep the current record in DIR (default: a temporary dir)")
    dif = sub.add_parser("diff", help="compare two records (no run)")
    dif.add_argument("ref_dir", metavar="REF_DIR")
    dif.add_argument("other_dir", metavar="OTHER_DIR")
    a = ap.parse_args(argv)
    if a.mode == "record":
        record(a.ref_dir, a.build, a.towers, a.model_dir, a.data or os.path.join(REPO, "sample_data"), a.quick,
               a.only, keep_work=a.keep_work)
        return 0
    if a.mode == "compare":
        return compare(a.ref_dir, a.build, a.keep, a.model_dir, a.data)
    return diff_records(a.ref_dir, a.other_dir)


if __name__ == "__main__":
    sys.exit(main())
