#!/usr/bin/env python3
"""README.md's Python commands run as written (its "Reading the embeddings" examples are run by
test_read_consistency.py).

Every command line of the README that runs a Python tool (`tools/....py ...` or
`$LSSD_PYTHON tools/....py ...`, in ```sh blocks, or inline code with at least two arguments or
the $LSSD_PYTHON prefix: a bare `tools/x.py` or `tools/x.py --option` names a tool or an option,
not a command) is run, in the README's order,
in a scratch directory laid out like the repository root (tools/, configs/, build/ linked), with
the files the README assumes: checkpoints/B3.pyth (a seeded-random checkpoint of the tiny test
variant, standing in for the released B.3 weights), checkpoints/B3.yaml (the release-style
tests/data/configs/release_tree.yaml with MVIT.SIZE tiny, to match it) and in/ (one video, one
audio file). The `build/lssd-infer` lines that go with the exports (--cfg configs/*.yaml) run
too (except in "Reading the embeddings", whose run over sample_data test_read_consistency.py
makes), so that the README's paths are checked end to end: export into models/B3, lssd-infer
finds the files there, `tools/lssd_postprocess.py out video` reads the result.

The tools run through their #! line (/usr/bin/python3), as written; when LSSD_PYTHON names
another Python, they run as `$LSSD_PYTHON tools/...`, as the README says to.
"""
import os
import re
import shutil
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from e2e_common import BUILD_DIR, PYTHON, SAMPLE_DIR, SOURCE_DIR, Checker, infer_path, scratch  # noqa: E402

TOOL_CMD = re.compile(r"^(?:\$LSSD_PYTHON\s+)?tools/[\w/]+\.py(?:\s|$)")
INFER_CMD = re.compile(r"^build/lssd-infer\s+--cfg\s+configs/")


def readme_commands(text):
    """[(kind, command)] in README order: kind "python" (a tool) or "infer" (build/lssd-infer
    with a configs/ file, outside "Reading the embeddings"), from ```sh blocks (continuation
    lines joined) and inline code."""
    cmds = []
    for section in re.split(r"\n(?=## )", text):
        reading = section.startswith("## Reading the embeddings")
        pos = 0
        for m in re.finditer(r"```(\w*)\n(.*?)```", section, re.S):
            cmds += inline_commands(section[pos:m.start()])
            pos = m.end()
            if m.group(1) != "sh":
                continue
            for line in re.sub(r"\\\n\s*", " ", m.group(2)).splitlines():
                line = line.split(" #", 1)[0].strip()
                if TOOL_CMD.match(line):
                    cmds.append(("python", line))
                elif INFER_CMD.match(line) and not reading:
                    cmds.append(("infer", line))
        cmds += inline_commands(section[pos:])
    return cmds


def inline_commands(text):
    """Inline code that runs a tool: `$LSSD_PYTHON tools/x.py ...` or `tools/x.py A B ...`."""
    return [("python", s.strip()) for s in re.findall(r"`([^`\n]+)`", text)
            if TOOL_CMD.match(s.strip()) and "..." not in s
            and (s.strip().startswith("$LSSD_PYTHON") or len(s.split()) >= 3)]


def as_run(cmd):
    """The command with the configured Python, as the README says for a Python of your own."""
    if os.path.realpath(PYTHON) == os.path.realpath("/usr/bin/python3") or cmd.startswith("$LSSD_PYTHON"):
        return cmd
    return "$LSSD_PYTHON " + cmd


def setup(work):
    for name, target in (("tools", os.path.join(SOURCE_DIR, "tools")), ("configs", os.path.join(SOURCE_DIR, "configs")),
                         ("build", BUILD_DIR)):
        os.symlink(target, os.path.join(work, name))
    os.makedirs(os.path.join(work, "checkpoints"))
    r = subprocess.run([PYTHON, os.path.join(SOURCE_DIR, "tools", "lssd_checkpoint.py"), "random", "--size", "S", "--tiny",
                        "--seed", "5", "-o", os.path.join(work, "checkpoints", "B3.pyth")], capture_output=True, text=True)
    if r.returncode:
        raise RuntimeError(f"lssd_checkpoint.py failed: {r.stderr[-2000:]}")
    tree = open(os.path.join(SOURCE_DIR, "tests", "data", "configs", "release_tree.yaml")).read()
    assert "  SIZE: S\n" in tree
    with open(os.path.join(work, "checkpoints", "B3.yaml"), "w") as f:
        f.write(tree.replace("  SIZE: S\n", "  SIZE: tiny\n"))
    data = os.path.join(work, "in")
    os.makedirs(data)
    shutil.copy(os.path.join(SAMPLE_DIR, "video", "ucf", "testsrc2_320x240_25fps_2.0s.mp4"), data)
    shutil.copy(os.path.join(SAMPLE_DIR, "audio", "edge", "UPPER_CASE_16kHz_mono_2.5s.WAV"), data)
    shutil.copy(os.path.join(SAMPLE_DIR, "audio", "speech", "german_16kHz_mono_7.5s.wav"), data)


def main():
    c = Checker("test_readme_commands")
    infer_path()
    text = open(os.path.join(SOURCE_DIR, "README.md")).read()
    cmds = readme_commands(text)
    py = [cmd for kind, cmd in cmds if kind == "python"]
    print("README commands:\n  " + "\n  ".join(cmd for _, cmd in cmds), flush=True)
    c.check(any("--config checkpoints/B3.yaml" in x for x in py) and any("--check" in x for x in py)
            and any(x.startswith("tools/lssd_postprocess.py") for x in py) and any("lssd_pydeps" in x for x in py),
            f"found the README's Python commands ({len(py)}): export, --config, --check, postprocess, pydeps")
    no_python3 = [ln for ln in text.splitlines() if re.search(r"(?<![\w/-])python3 tools/", ln)]
    c.check(not no_python3, f"no README command depends on which python3 comes first on PATH: {no_python3}")
    env = dict(os.environ, LSSD_PYTHON=PYTHON, OMP_WAIT_POLICY="PASSIVE")
    with scratch("lssd_readme_") as work:
        setup(work)
        for kind, cmd in cmds:
            run = as_run(cmd) if kind == "python" else cmd + " RUNTIME.DEVICE cpu RUNTIME.NUM_THREADS 2"
            r = subprocess.run(["bash", "-euo", "pipefail", "-c", run], cwd=work, env=env, capture_output=True,
                               text=True, timeout=1200)
            out = (r.stdout + r.stderr).strip()
            ok = r.returncode == 0
            if cmd.startswith("tools/lssd_postprocess.py"):
                ok = ok and "(1, 5, 768)" in r.stdout and "float32" in r.stdout
            if kind == "infer":
                ok = ok and os.path.isdir(os.path.join(work, "out", "video"))
            c.check(ok, f"`{run}`: exit {r.returncode}" + ("" if ok else f"\n{out[-2500:]}"))
        c.check(os.path.isfile(os.path.join(work, "models", "B3", "video.pt")), "the export wrote models/B3/video.pt")
    return c.finish()


if __name__ == "__main__":
    sys.exit(main())
