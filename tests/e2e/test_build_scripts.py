#!/usr/bin/env python3
"""The demo and the test command share one build tree, and the test command never passes on zero
tests.

(a) A build tree configured without tests (as tools/demo.sh once left build/) gets its tests back
    from tools/build.sh, which both tools/demo.sh and tools/test.sh call: after it, the cache has
    LSSD_BUILD_TESTS and LSSD_WERROR_DEPRECATED on, so running the demo and then the tests
    rebuilds nothing and runs the tests.
(b) tools/test.sh runs ctest with --no-tests=error, and that ctest fails in a tree where its
    selection finds no test (the "No tests were found!!!" that passed with exit 0 before).
"""
import os
import re
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import e2e_common as ec  # noqa: E402


def cache(build):
    return open(os.path.join(build, "CMakeCache.txt")).read()


def main():
    c = ec.Checker("test_build_scripts")
    src = ec.SOURCE_DIR
    with ec.scratch("lssd_build_scripts_") as tmp:
        build = os.path.join(tmp, "build")
        r = subprocess.run(["cmake", "-S", src, "-B", build, "-G", "Ninja", "-DLSSD_BUILD_TESTS=OFF"],
                           capture_output=True, text=True)
        c.check(r.returncode == 0 and "LSSD_BUILD_TESTS:BOOL=OFF" in cache(build),
                f"(a) a tree configured as the old demo did: tests off (exit {r.returncode})")
        r = subprocess.run([os.path.join(src, "tools", "build.sh"), "--dir", build, "--configure-only", "--quiet"],
                           capture_output=True, text=True, cwd=tmp)
        text = cache(build) if r.returncode == 0 else r.stderr
        c.check("LSSD_BUILD_TESTS:BOOL=ON" in text and "LSSD_WERROR_DEPRECATED:BOOL=ON" in text,
                f"(a) tools/build.sh turns the tests (and -Werror=deprecated) on (exit {r.returncode})")
        for script in ("demo.sh", "test.sh"):
            body = open(os.path.join(src, "tools", script)).read()
            calls = [ln for ln in body.splitlines() if re.match(r"\s*tools/build\.sh\b", ln)]
            direct = [ln for ln in body.splitlines() if re.match(r"\s*cmake\s+-S", ln)]
            c.check(len(calls) == 1 and not direct, f"(a) tools/{script} configures through tools/build.sh only")
        body = open(os.path.join(src, "tools", "test.sh")).read()
        ctest = [ln for ln in body.splitlines() if re.match(r"\s*ctest\b", ln)]
        c.check(len(ctest) == 1 and "--no-tests=error" in ctest[0], f"(b) tools/test.sh: {ctest}")
        r = subprocess.run(["ctest", "--no-tests=error", "-R", "no_test_has_this_name"], capture_output=True,
                           text=True, cwd=build)
        c.check(r.returncode != 0, f"(b) ctest --no-tests=error with nothing selected fails (exit {r.returncode})")
    return c.finish()


if __name__ == "__main__":
    sys.exit(main())
