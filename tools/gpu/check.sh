#!/usr/bin/env bash
# The CUDA check, for a machine with an NVIDIA GPU and PyTorch but nothing else of ours and no
# internet: builds lssd against the LibTorch of the machine's PyTorch and the bundle made by
# tools/gpu/bundle.sh, runs the CUDA tests, exports seeded-random S towers, generates a corpus and
# runs the benchmark's legs a and b on CUDA; prints one table (also OUTDIR/table.md).
# Usage: tools/gpu/check.sh BUNDLE [--out OUTDIR] [--jobs N] [--scale F] [--build DIR]
#   BUNDLE  the folder tools/gpu/bundle.sh made (copied beside the repository)
#   --out   OUTDIR (default BUILD/check-out): table.md, bench.json, check.log
#   --scale corpus durations (default 0.5 = 40 files of 30 s on CUDA; 0.05 on the CPU fallback)
#   --build the build folder (default build-gpu)
#   --stride K  bench every K-th corpus file (default 1 on CUDA, 8 on the CPU fallback: 1080p, SD, audio)
# Python: $LSSD_PYTHON, else the first of python3, python, /usr/bin/python3 that imports torch.
# Without a usable CUDA device every CUDA step says "no CUDA device" and is skipped, and the
# rest (build, export, corpus, bench legs a and b) runs on the CPU: a rehearsal.
set -euo pipefail
here=$(cd "$(dirname "$0")/../.." && pwd)
cd "$here"
bundle="" out="" jobs=$(nproc) scale="" build=build-gpu stride=""
while (($#)); do
  case "$1" in
    --out) out=$2; shift 2 ;;
    --jobs) jobs=$2; shift 2 ;;
    --scale) scale=$2; shift 2 ;;
    --build) build=$2; shift 2 ;;
    --stride) stride=$2; shift 2 ;;
    -*) sed -n '2,15p' "$0"; exit 2 ;;
    *) bundle=$1; shift ;;
  esac
done
[[ -n "$bundle" && -f "$bundle/BUNDLE.txt" ]] || { echo "check: BUNDLE (made by tools/gpu/bundle.sh) is required" >&2; exit 2; }
bundle=$(cd "$bundle" && pwd)
mkdir -p "$build"
build=$(cd "$build" && pwd)
out=${out:-$build/check-out}
mkdir -p "$out"
out=$(cd "$out" && pwd)
exec > >(tee "$out/check.log") 2>&1
t0=$(date +%s)
steps=()
say() { echo "[check $(($(date +%s) - t0))s] $*"; }
step_t=0
step() { step_t=$(date +%s); say "== $*"; }
step_done() { local dt=$(($(date +%s) - step_t)); steps+=("$1: ${dt} s"); say "   $1: ${dt} s"; }

# ---------------------------------------------------------------- Python and its LibTorch
step "python and torch"
py=""
for c in ${LSSD_PYTHON:-} python3 python /usr/bin/python3; do
  if command -v "$c" >/dev/null && "$c" -c "import torch" 2>/dev/null; then py=$(command -v "$c"); break; fi
done
[[ -n "$py" ]] || { say "no Python that imports torch (set LSSD_PYTHON)"; exit 1; }
eval "$("$py" - <<'EOF'
import glob, os, sys
import torch, torch.utils
cands = [torch.utils.cmake_prefix_path]
# Distributions that split LibTorch out of the Python package (Debian: libtorch-dev) keep the
# CMake package beside the library that torch loaded.
for line in open("/proc/self/maps"):
    p = line.split()[-1]
    if os.path.basename(p).startswith("libtorch_cpu.so"):
        cands += [os.path.join(os.path.dirname(p), "cmake"), os.path.dirname(os.path.dirname(p))]
prefix = next((c for c in cands if glob.glob(os.path.join(c, "Torch", "TorchConfig.cmake"))
               or glob.glob(os.path.join(c, "cmake", "Torch", "TorchConfig.cmake"))), "")
cuda = torch.cuda.is_available()
try:
    import numpy  # noqa: F401
    has_numpy = 1
except Exception:
    has_numpy = 0
vals = {
    "torch_version": torch.__version__, "torch_cuda": torch.version.cuda or "none",
    "torch_prefix": prefix, "cxx11_abi": int(torch._C._GLIBCXX_USE_CXX11_ABI),
    "have_cuda": int(cuda), "gpu_name": torch.cuda.get_device_name(0) if cuda else "none",
    "gpu_count": torch.cuda.device_count() if cuda else 0, "has_numpy": has_numpy,
    "py_version": sys.version.split()[0],
}
for k, v in vals.items():
    print(f"{k}='{v}'")
EOF
)"
say "python $py ($py_version), torch $torch_version (CUDA $torch_cuda), C++11 ABI $cxx11_abi, numpy $has_numpy"
say "LibTorch CMake package: ${torch_prefix:-NOT FOUND}"
[[ -n "$torch_prefix" ]] || { say "this torch has no LibTorch CMake package (TorchConfig.cmake)"; exit 1; }
if ((have_cuda)); then
  say "CUDA: $gpu_count device(s), $gpu_name"
  if ! command -v nvcc >/dev/null && [[ -x /usr/local/cuda/bin/nvcc ]]; then export PATH=/usr/local/cuda/bin:$PATH; fi
  command -v nvcc >/dev/null || say "note: no nvcc on PATH; LibTorch's CMake package looks for the CUDA toolkit (CUDAToolkit_ROOT)"
else
  say "CUDA: no CUDA device (torch.cuda.is_available() is False): the CUDA steps are skipped, the rest runs on the CPU"
fi
step_done "python and torch"

# ---------------------------------------------------------------- C++ dependencies from the bundle
abi_flag="-D_GLIBCXX_USE_CXX11_ABI=$cxx11_abi"
deps=$build/deps
step "bundle C++ libraries (yaml-cpp, googletest) with this compiler, $abi_flag"
if [[ "$(cat "$deps/.done" 2>/dev/null)" != "$abi_flag" ]]; then
  rm -rf "$deps" "$build/deps-build"
  common=(-G Ninja -DCMAKE_BUILD_TYPE=Release -DCMAKE_INSTALL_PREFIX="$deps" -DCMAKE_POSITION_INDEPENDENT_CODE=ON
    -DCMAKE_CXX_FLAGS="$abi_flag" -DCMAKE_POLICY_VERSION_MINIMUM=3.5 -Wno-dev --no-warn-unused-cli)
  cmake -S "$bundle/src/yaml-cpp" -B "$build/deps-build/yaml-cpp" "${common[@]}" -DYAML_CPP_BUILD_TESTS=OFF \
    -DYAML_CPP_BUILD_TOOLS=OFF -DYAML_CPP_BUILD_CONTRIB=OFF -DYAML_BUILD_SHARED_LIBS=OFF >/dev/null
  cmake --build "$build/deps-build/yaml-cpp" -j "$jobs" --target install >/dev/null
  cmake -S "$bundle/src/googletest" -B "$build/deps-build/googletest" "${common[@]}" -DBUILD_GMOCK=OFF \
    -DINSTALL_GTEST=ON >/dev/null
  cmake --build "$build/deps-build/googletest" -j "$jobs" --target install >/dev/null
  echo "$abi_flag" >"$deps/.done"
fi
step_done "bundle C++ libraries"

# ---------------------------------------------------------------- lssd
step "build lssd-infer, the probes and the CUDA tests (-j $jobs)"
cfg=(-G Ninja -DCMAKE_BUILD_TYPE=Release -DCMAKE_PREFIX_PATH="$torch_prefix;$deps;$bundle;$bundle/ffmpeg"
  -DLSSD_FFMPEG_PACKAGE=ON -DLSSD_BUILD_READ=OFF -DLSSD_BUILD_TESTS=ON -DLSSD_PYTHON="$py"
  -DCMAKE_CXX_FLAGS="$abi_flag")
if [[ -f "$bundle/lib/libcrypto.a" ]]; then
  cfg+=(-DOPENSSL_ROOT_DIR="$bundle" -DOPENSSL_USE_STATIC_LIBS=TRUE)
fi
cmake -S . -B "$build" "${cfg[@]}" >"$out/configure.log" 2>&1 || { tail -40 "$out/configure.log"; exit 1; }
cmake --build "$build" -j "$jobs" --target lssd-infer lssd_encoder_probe lssd_probe lssd_audio_probe \
  >"$out/build.log" 2>&1 || { grep -B2 -A12 "error" "$out/build.log" | head -80; exit 1; }
ndep=$(grep -c "Wdeprecated-declarations" "$out/build.log" || true)
say "built; deprecation warnings: $ndep"
((ndep == 0)) || grep "Wdeprecated-declarations" "$out/build.log" | sort | uniq -c | head -20
step_done "build"

# ---------------------------------------------------------------- CUDA tests
step "ctest -L cuda"
cuda_tests="no CUDA device"
if ((have_cuda)); then
  if ((has_numpy)); then
    ctest_py=$(grep -ho '"[^"]*python[^"]*" "[^"]*test_encoder_cuda.py"' "$build"/tests/CTestTestfile.cmake | head -1 |
      cut -d'"' -f2 || true)
    if [[ -n "$ctest_py" && "$ctest_py" != "$py" ]] && ! "$ctest_py" -c "import torch" 2>/dev/null; then
      # tests/CMakeLists.txt names its Python; where that one has no torch, run the test with ours
      say "ctest's Python $ctest_py has no torch: running tests/oracle/test_encoder_cuda.py with $py"
      if LSSD_BUILD_DIR=$build LSSD_SOURCE_DIR=$here "$py" tests/oracle/test_encoder_cuda.py; then
        cuda_tests="passed (run with $py)"; else cuda_tests="FAILED"; fi
    elif (cd "$build" && ctest -L cuda --output-on-failure --timeout 600); then cuda_tests="passed"; else cuda_tests="FAILED"; fi
  else
    cuda_tests="not run: tests/oracle/test_encoder_cuda.py needs numpy, which $py lacks"
  fi
else
  say "no CUDA device: ctest -L cuda skipped"
fi
step_done "ctest -L cuda"

# ---------------------------------------------------------------- models, corpus, bench
work=$build/check-work
mkdir -p "$work"
step "export seeded-random S towers"
models=$work/models/S
if [[ ! -f "$models/video.pt" || ! -f "$models/audio.pt" ]]; then
  "$py" tools/lssd_checkpoint.py random --size S --seed 0 -o "$work/S.pyth" >/dev/null
  rm -rf "$models.tmp"
  "$py" tools/lssd_export.py --checkpoint "$work/S.pyth" --out-dir "$models.tmp" | tail -3
  mv "$models.tmp" "$models"
fi
step_done "export S"

device=cpu
if ((have_cuda)); then device=cuda; fi
scale=${scale:-$( ((have_cuda)) && echo 0.5 || echo 0.05)}
stride=${stride:-$( ((have_cuda)) && echo 1 || echo 8)}
step "corpus (gen_corpus.py --corpus gpu --scale $scale) and bench legs a, b on $device"
bench=(tools/bench/run.py --device "$device" --corpus gpu --large-scale "$scale" --model "$models" --threads "$jobs"
  --legs a,b,f --stride "$stride" --build "$build" --cache "$work/bench" --json "$out/bench.json"
  --ffmpeg "$bundle/bin/lssd-corpus-ffmpeg" --set DIST.NUM_WORKERS "$jobs")
"$py" "${bench[@]}" | tee "$out/bench.txt"
step_done "bench"

# ---------------------------------------------------------------- the table
{
  echo "## lssd CUDA check ($(date -u +%Y-%m-%d))"
  echo
  if ((have_cuda)); then
    echo "GPU: $gpu_name ($gpu_count device(s)); torch $torch_version, CUDA $torch_cuda; $(nproc) CPUs"
  else
    echo "no CUDA device: CPU fallback (a rehearsal); torch $torch_version; $(nproc) CPUs"
  fi
  echo "Python $py ($py_version); bundle: $(head -1 "$bundle/BUNDLE.txt" | sed 's/^lssd GPU bundle, //')"
  echo "deprecation warnings in the build: $ndep; ctest -L cuda: $cuda_tests"
  echo "S towers, seeded random weights; corpus: tools/bench/gen_corpus.py --corpus gpu --scale $scale, every ${stride}th file"
  echo
  grep -v "^load average" "$out/bench.txt"
  echo
  echo "steps: $(printf '%s; ' "${steps[@]}")total $(($(date +%s) - t0)) s"
} >"$out/table.md"
echo
cat "$out/table.md"
