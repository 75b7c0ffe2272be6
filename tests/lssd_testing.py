"""What every Python test shares (not a test itself): the paths of the tree under test, and the
one Checker.

tests/e2e/e2e_common.py and tests/oracle/{lssd,media}_oracle_common.py import this module (they
put tests/ on sys.path) and re-export what their tests use, so a test runs as
`python3 tests/<folder>/test_x.py` from anywhere, as ctest runs it (tests/CMakeLists.txt).

Env: LSSD_SOURCE_DIR (default: this checkout), LSSD_BUILD_DIR (default: SOURCE_DIR/build),
LSSD_PYTHON (the Python of the tests and tools; default: the running one).
"""
import os
import sys
import time

SOURCE_DIR = os.environ.get("LSSD_SOURCE_DIR", os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BUILD_DIR = os.environ.get("LSSD_BUILD_DIR", os.path.join(SOURCE_DIR, "build"))
SAMPLE_DIR = os.path.join(SOURCE_DIR, "sample_data")
TOOLS_DIR = os.path.join(SOURCE_DIR, "tools")
PYTHON = os.environ.get("LSSD_PYTHON") or sys.executable  # ctest sets LSSD_PYTHON (CMake cache variable)


class Checker:
    """Collects failures; prints every check ("ok   what" / "FAIL what"), or with quiet=True
    only the failures (for checks made per file and clip); .finish() prints the summary and
    returns the exit code (0: every check passed, 1: some failed) for sys.exit()."""

    def __init__(self, name, quiet=False):
        self.name = name
        self.quiet = quiet
        self.failures = []
        self.passed = 0
        self.t0 = time.time()

    def check(self, ok, what):
        """Records one check; returns ok, so that a test can stop when a prerequisite failed."""
        ok = bool(ok)
        if not ok or not self.quiet:
            print(f"{'ok  ' if ok else 'FAIL'} {what}", flush=True)
        if ok:
            self.passed += 1
        else:
            self.failures.append(what)
        return ok

    def finish(self):
        dt = time.time() - self.t0
        if self.failures:
            print(f"{self.name}: {len(self.failures)} failure(s) ({self.passed} checks passed) in {dt:.1f}s:")
            for f in self.failures:
                print(f"  - {f}")
            return 1
        print(f"{self.name}: all {self.passed} checks passed in {dt:.1f}s")
        return 0
