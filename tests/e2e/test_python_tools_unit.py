#!/usr/bin/env python3
"""The Python tools name a missing module, with its Debian package and pip name, instead of a bare
ModuleNotFoundError; the configured Python (LSSD_PYTHON) has every module they need.

A Python without numpy, torch or yaml is simulated by running LSSD_PYTHON with -S (no
site-packages: only the standard library) or by blocking one module in sys.modules. Needs no
build; a few seconds.
"""
import os
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from e2e_common import PYTHON, SOURCE_DIR, Checker, scratch  # noqa: E402

TOOLS = os.path.join(SOURCE_DIR, "tools")


def run(args, **kw):
    r = subprocess.run(args, capture_output=True, text=True, cwd=SOURCE_DIR, timeout=300, **kw)
    return r.returncode, r.stdout, r.stderr


def names_fix(text, module, deb, pip):
    return f"'{module}'" in text and deb in text and f"pip install {pip}" in text


def main():
    c = Checker("test_python_tools_unit")
    rc, out, err = run([PYTHON, os.path.join(TOOLS, "lssd_pydeps.py")])
    c.check(rc == 0, f"{PYTHON} has every module the tools and tests need: {(out + err).strip()[:300]}")

    bare = [PYTHON, "-S"]  # the standard library only
    rc, _, err = run(bare + ["-c", "import numpy"])
    if not c.check(rc != 0, "python -S cannot import numpy (the simulation works)"):
        return c.finish()

    with scratch("lssd_pytools_") as tmp:
        # Scripts: one line on stderr, exit 1, no traceback.
        cases = [
            (["lssd_postprocess.py", tmp, "video"], "numpy", "python3-numpy", "numpy"),
            (["lssd_export.py", "--check", "--out-dir", tmp], "torch", "python3-torch", "torch"),
            (["lssd_checkpoint.py", "info", os.path.join(tmp, "x.pyth")], "torch", "python3-torch", "torch"),
            (["lssd_mvit.py"], "torch", "python3-torch", "torch"),
            (["bench/run.py", "--help"], "numpy", "python3-numpy", "numpy"),
        ]
        for args, module, deb, pip in cases:
            rc, _, err = run(bare + [os.path.join(TOOLS, args[0])] + args[1:])
            c.check(rc == 1 and names_fix(err, module, deb, pip) and "Traceback" not in err,
                    f"tools/{args[0]} without {module}: exit {rc}, {err.strip()[:220]}")

        # As a library: ModuleNotFoundError (so callers can catch it) carrying the same advice.
        prog = ("import sys; sys.path.insert(0, sys.argv[1])\n"
                "try:\n    import lssd_postprocess\n"
                "except ModuleNotFoundError as e:\n    print(type(e).__name__, e.name, '|', e); sys.exit(3)\n")
        rc, out, _ = run(bare + ["-c", prog, TOOLS])
        c.check(rc == 3 and out.startswith("ModuleNotFoundError numpy") and names_fix(out, "numpy", "python3-numpy", "numpy"),
                f"import lssd_postprocess without numpy raises ModuleNotFoundError with the advice: {out.strip()[:200]}")

        # The exporter's --config reader without PyYAML (torch present): MissingModule naming yaml.
        prog = ("import sys; sys.modules['yaml'] = None; sys.path.insert(0, sys.argv[1])\n"
                "import lssd_release_config as rc, lssd_pydeps\n"
                "try:\n    rc.read_tower_config(sys.argv[2])\n"
                "except lssd_pydeps.MissingModule as e:\n    print(e); sys.exit(3)\n")
        cfg = os.path.join(SOURCE_DIR, "tests", "data", "configs", "release_tree.yaml")
        rc, out, err = run([PYTHON, "-c", prog, TOOLS, cfg])
        c.check(rc == 3 and names_fix(out, "yaml", "python3-yaml", "PyYAML") and "--config" in out,
                f"--config without PyYAML names yaml, python3-yaml and PyYAML: {(out + err).strip()[:220]}")
    return c.finish()


if __name__ == "__main__":
    sys.exit(main())
