#!/usr/bin/python3
"""The Python modules lssd's tools and tests need, and a clear error when one is missing.

The tools run with /usr/bin/python3 (their #! line), where Debian's packages live; a Python of
your own works when it has these modules (`$LSSD_PYTHON tools/lssd_export.py ...`; tools/test.sh,
tools/demo.sh and the benchmark read LSSD_PYTHON too).

  from lssd_pydeps import require
  require("torch", main=__name__ == "__main__")   # a script: message on stderr, exit 1
  require("yaml")                                  # a library: raises MissingModule

CLI: lssd_pydeps.py [MODULE ...]   checks the given modules (default: all below); exit 1 when
one is missing, with the Debian package and the pip name that provide it.
"""
import importlib
import os
import sys

# import name: (Debian package, pip name)
PACKAGES = {
    "torch": ("python3-torch", "torch"),
    "torchvision": ("python3-torchvision", "torchvision"),
    "torchaudio": ("python3-torchaudio", "torchaudio"),
    "av": ("python3-av", "av"),
    "numpy": ("python3-numpy", "numpy"),
    "yaml": ("python3-yaml", "PyYAML"),
}


class MissingModule(ModuleNotFoundError):
    """A module a tool needs is not importable; the message says what provides it."""


def message(module: str, who: str = "") -> str:
    """What to tell a user whose Python lacks `module`."""
    deb, pip = PACKAGES.get(module, (f"python3-{module}", module))
    who = who or os.path.basename(sys.argv[0] or "lssd") or "lssd"
    return (f"{who} needs the Python module '{module}', which {sys.executable} cannot import. "
            f"Install the Debian package {deb} (sudo apt-get install {deb}; tools/setup.sh installs "
            f"every package lssd needs) or `pip install {pip}`, or run the tool with a Python that "
            f"has it: /usr/bin/python3 on Debian, or $LSSD_PYTHON.")


def missing(*modules: str):
    """The modules of `modules` that cannot be imported, in order."""
    out = []
    for m in modules:
        try:
            importlib.import_module(m)
        except ImportError:
            out.append(m)
    return out


def require(*modules: str, main: bool = False, who: str = "") -> None:
    """Imports `modules`; on the first missing one, exits 1 with the message on stderr when
    `main` (a script's top level), else raises MissingModule with the message."""
    for m in missing(*modules)[:1]:
        msg = message(m, who)
        if main:
            print(f"error: {msg}", file=sys.stderr)
            sys.exit(1)
        raise MissingModule(msg, name=m)


if __name__ == "__main__":
    gone = missing(*(sys.argv[1:] or PACKAGES))
    for m in gone:
        print(f"error: {message(m, 'lssd')}", file=sys.stderr)
    if not gone:
        print(f"{sys.executable}: every module present ({', '.join(sys.argv[1:] or PACKAGES)})")
    sys.exit(1 if gone else 0)
