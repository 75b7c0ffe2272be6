#!/usr/bin/env python3
"""The source tree keeps its plan: stages in folders, includes only downward, no include cycle.

Stages, lowest first (a stage may include its own headers and those of the stages before it):
common < clips < media < transform < discover < encoder < output < reader < pipeline < config
< search < apps. A file belongs to the stage of its folder (src/<stage>/...); a public header
include/lssd/<name>.h to the stage named in PUBLIC below. Checked:
- every .cc and private header of the library is in a stage folder (no file directly in src/);
- every `#include "..."` of a project header goes to the same or a lower stage;
- no include cycle between modules, a module being a header with the .cc that implements it
  (include/lssd/x.h or src/<stage>/x.h with src/<stage>/x.cc): a helper that includes the
  interface of the module using it (for shared types, say) is such a cycle. Depth-first search.
Needs no build."""
import os
import re
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from e2e_common import SOURCE_DIR, Checker  # noqa: E402

STAGES = ["common", "clips", "media", "transform", "discover", "encoder", "output", "reader", "pipeline",
          "config", "search", "apps"]
# The stage of each public header (include/lssd/...).
PUBLIC = {
    "error.h": "common", "modality.h": "common", "array.h": "common", "options.h": "common",
    "logging.h": "common", "process.h": "common", "sha256.h": "common", "bytes.h": "common",
    "version.h": "common", "cpu_features.h": "common", "media.h": "media", "video_transform.h": "transform",
    "audio_transform.h": "transform", "discover.h": "discover", "encoder.h": "encoder",
    "encoder_info.h": "encoder", "npy.h": "output", "output.h": "output", "shards.h": "output",
    "claims.h": "output", "reader.h": "reader",
    "pipeline.h": "pipeline", "interrupt.h": "pipeline", "config.h": "config", "config_keys.h": "config",
    "search": "search",
}
INCLUDE = re.compile(r'^\s*#\s*include\s+"([^"]+)"', re.M)


def project_files():
    out = []
    for top in ("src", "include"):
        for d, _, names in os.walk(os.path.join(SOURCE_DIR, top)):
            out += [os.path.relpath(os.path.join(d, n), SOURCE_DIR) for n in names if n.endswith((".cc", ".h"))]
    return sorted(out)


def stage_of_file(rel):
    parts = rel.split(os.sep)
    if parts[0] == "src":
        return parts[1] if len(parts) > 2 else None
    name = parts[2] if len(parts) > 2 else ""  # include/lssd/<name> or include/lssd/search/...
    return PUBLIC.get(name)


def resolve(inc, including_file):
    """The repository path an include names, or None for a system/third-party header."""
    if inc.startswith("lssd/"):
        path = os.path.join("include", inc)
        return path if os.path.exists(os.path.join(SOURCE_DIR, path)) or inc == "lssd/version.h" else None
    for base in (os.path.dirname(including_file), "src"):  # "media/ffmpeg.h" from src/; "x.h" beside
        path = os.path.normpath(os.path.join(base, inc))
        if os.path.exists(os.path.join(SOURCE_DIR, path)):
            return path
    return None


def main():
    c = Checker("test_layering_unit")
    files = project_files()
    loose = [f for f in files if f.startswith("src" + os.sep) and f.count(os.sep) == 1]
    c.check(not loose, f"every source file is in a stage folder: loose {loose}")
    unknown = [f for f in files if stage_of_file(f) not in STAGES]
    c.check(not unknown, f"every file maps to a stage: {unknown}")
    rank = {s: i for i, s in enumerate(STAGES)}
    upward, graph = [], {}
    for f in files:
        text = open(os.path.join(SOURCE_DIR, f)).read()
        graph[f] = []
        for inc in INCLUDE.findall(text):
            target = resolve(inc, f)
            if target is None:
                continue
            graph[f].append(target)
            if target.endswith("version.h"):
                continue
            a, b = stage_of_file(f), stage_of_file(target)
            if a in rank and b in rank and rank[b] > rank[a]:
                upward.append(f"{f} ({a}) -> {inc} ({b})")
    c.check(not upward, f"no include from a lower stage to a higher one: {upward}")
    module = lambda path: os.path.splitext(os.path.basename(path))[0]  # noqa: E731
    modules = {}
    for f, targets in graph.items():
        modules.setdefault(module(f), set()).update(module(t) for t in targets if module(t) != module(f))
    graph = {m: sorted(t) for m, t in modules.items()}
    files = sorted(graph)
    cycles, state = [], {}

    def visit(node, stack):
        state[node] = 1
        for nxt in graph.get(node, []):
            if state.get(nxt) == 1:
                cycles.append(" -> ".join(stack[stack.index(nxt):] + [nxt]) if nxt in stack else nxt)
            elif nxt not in state:
                visit(nxt, stack + [nxt])
        state[node] = 2

    for f in files:
        if f not in state:
            visit(f, [f])
    c.check(not cycles, f"no include cycle between modules: {cycles}")
    print(f"{len(files)} modules, {sum(len(v) for v in graph.values())} module dependencies checked")
    return c.finish()


if __name__ == "__main__":
    sys.exit(main())
