#!/usr/bin/env python3
"""Guard: no tracked file refers to a path outside the repository.

A user's clone has nothing beside it, so the tests, tools and docs must not read or link the
development tree's reference folder next to the repository, a machine's absolute work paths, or
the parent directory of the source tree. CI runs with that folder present, so only this check
catches a relapse. Files: `git ls-files` (a walk of the tree without build and output folders
when there is no git checkout); binary files are skipped.

The patterns below are written so that this file does not match them itself; a self-check
plants each kind of reference in a scratch file and requires it to be found.
"""
import os
import re
import shutil
import subprocess
import sys
import tempfile

SOURCE_DIR = os.environ.get("LSSD_SOURCE_DIR",
                            os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))

# (regex, why). Each names a way to reach outside the clone.
PATTERNS = [
    (r"\.\.[/\\]+shared\b", "the reference folder beside the repository"),
    (r"""['"]\.\.['"]\s*,\s*['"]shared['"]""", "the reference folder beside the repository (path join)"),
    (r"\bshared[/\\]lssd\b", "the development tree's reference folder"),
    (r"\bLSSD_SHARED\w*", "the old variable that pointed at the reference folder"),
    (r"\bREFERENCE\.md\b", "the reference notes, which live outside the repository"),
    (r"(?<![\w.~-])/wor[k]/", "an absolute path of the development machine"),
    (r"(?<![\w.~-])/(?:home|Users)/[A-Za-z]", "an absolute path in someone's home directory"),
    (r"(?:SOURCE_DIR|BINARY_DIR|PROJECT_DIR)\}?[/\\]+\.\.(?:[/\\]|\b)", "the parent of the source tree"),
]
COMPILED = [(re.compile(p), why) for p, why in PATTERNS]
SKIP_DIRS = {".git", "models", "checkpoints", "tmp", "__pycache__"}


def tracked_files(root):
    """Repository-relative paths of the tracked files (or of every file, without git)."""
    if os.path.isdir(os.path.join(root, ".git")) or os.path.isfile(os.path.join(root, ".git")):
        try:
            r = subprocess.run(["git", "-C", root, "ls-files", "-z"], capture_output=True)
        except OSError:  # no git on this machine (a CI chroot): walk the tree instead
            r = None
        if r is not None and r.returncode == 0:
            return [p for p in r.stdout.decode("utf-8", "surrogateescape").split("\0") if p]
    files = []
    for dirpath, dirs, names in os.walk(root):
        dirs[:] = [d for d in dirs if d not in SKIP_DIRS and not d.startswith(("build", "out"))]
        files += [os.path.relpath(os.path.join(dirpath, n), root) for n in names]
    return sorted(files)


def scan(root, files):
    """[(path, line number, line, why)] of every outside reference in the text files."""
    hits = []
    for rel in files:
        path = os.path.join(root, rel)
        if not os.path.isfile(path) or os.path.islink(path):
            continue
        with open(path, "rb") as f:
            data = f.read()
        if b"\0" in data[:8192]:
            continue  # binary (media samples)
        for no, line in enumerate(data.decode("utf-8", "replace").splitlines(), 1):
            for rx, why in COMPILED:
                if rx.search(line):
                    hits.append((rel, no, line.strip(), why))
    return hits


def self_check():
    """Each kind of outside reference, planted in a scratch file, is found; a clean line is not."""
    up = ".."
    planted = [
        f"see {up}/shared/" + "lssd/notes.md",
        f'd = os.path.join(REPO, "{up}", "shared", "lssd")',
        "set(X ${CMAKE_SOURCE_DIR}/" + up + "/data)",
        "LSSD_" + "SHARED=/tmp/x",
        "facts in REFERENCE" + ".md",
        "open('/" + "work/main/tests/x.tsv')",
        "cd /" + "home/alice/lssd",
    ]
    clean = ["os.path.join(REPO, 'tests', 'data', 'release')", "std::shared_ptr<const Impl> impl_;",
             "tmp = tempfile.mkdtemp()  # /tmp/lssd_x", "build/lssd-infer --cfg configs/B3.yaml"]
    d = tempfile.mkdtemp(prefix="lssd_guard_")
    try:
        with open(os.path.join(d, "planted.txt"), "w") as f:
            f.write("\n".join(planted + clean) + "\n")
        hits = scan(d, ["planted.txt"])
    finally:
        shutil.rmtree(d, ignore_errors=True)
    found = {no for _, no, _, _ in hits}
    missed = [planted[i] for i in range(len(planted)) if i + 1 not in found]
    false = [clean[i] for i in range(len(clean)) if len(planted) + i + 1 in found]
    return missed, false


def main():
    missed, false = self_check()
    ok = True
    if missed or false:
        ok = False
        print(f"FAIL self-check: missed {missed}, flagged clean lines {false}")
    else:
        print(f"ok   self-check: {len(PATTERNS)} patterns find every planted outside reference")
    files = tracked_files(SOURCE_DIR)
    hits = scan(SOURCE_DIR, files)
    for rel, no, line, why in hits:
        print(f"FAIL {rel}:{no}: {why}: {line[:160]}")
    if hits:
        ok = False
    else:
        print(f"ok   {len(files)} tracked files refer to nothing outside the repository")
    print("test_self_contained_unit: " + ("all checks passed" if ok else "FAILED"))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
