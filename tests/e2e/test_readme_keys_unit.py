#!/usr/bin/env python3
"""README's Configuration section names every declared config key, and no other.

The keys are those declared in src/config/config_keys.cc (each once); the README's tables list them in
their first column as backticked names, where a name without a group inherits the group of the
name before it in the same cell (`MVIT.MODE`, `CLS_EMBED_ON` -> MVIT.CLS_EMBED_ON). Needs no build.
"""
import os
import re
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from e2e_common import SOURCE_DIR, Checker  # noqa: E402


def declared_keys():
    text = open(os.path.join(SOURCE_DIR, "src", "config", "config_keys.cc")).read()
    return re.findall(r'\{"([A-Z_]+(?:\.[A-Z0-9_]+)?)",\s*T::', text)


def readme_keys():
    text = open(os.path.join(SOURCE_DIR, "README.md")).read()
    section = re.search(r"\n## Configuration\n(.*?)(?=\n## )", text, re.S).group(1)
    keys = []
    for line in section.splitlines():
        if not line.startswith("| `"):
            continue
        group = ""
        for name in re.findall(r"`([A-Z][A-Z0-9_.]*)`", line.split("|")[1]):
            if "." in name:
                group = name.split(".", 1)[0]
            elif group and name not in ("OUTPUT_DIR", "RNG_SEED"):
                name = group + "." + name
            keys.append(name)
    return keys


def main():
    c = Checker("test_readme_keys_unit")
    declared, listed = declared_keys(), readme_keys()
    c.check(len(declared) > 60, f"found the declared keys in src/config/config_keys.cc ({len(declared)})")
    c.check(len(set(declared)) == len(declared), "each key is declared once")
    missing = [k for k in declared if k not in listed]
    unknown = [k for k in listed if k not in declared]
    c.check(not missing, f"README's Configuration tables list every declared key: missing {missing}")
    c.check(not unknown, f"README's Configuration tables list no undeclared key: {unknown}")
    dup = sorted({k for k in listed if listed.count(k) > 1})
    c.check(not dup, f"README lists each key once: {dup}")
    return c.finish()


if __name__ == "__main__":
    sys.exit(main())
