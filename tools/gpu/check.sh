#!/usr/bin/env bash
# The CUDA check, for a machine with an NVIDIA GPU and PyTorch but nothing else of ours and no
# internet, in under 5 minutes on 16 cores: builds what it runs (lssd-infer and the probes) against
# the LibTorch of the machine's PyTorch and the bundle made by tools/gpu/bundle.sh, while the S
# towers are exported and the GPU corpus is generated beside the build; then prints the table
# (tools/gpu/check_table.py: one row per part of the corpus, each as soon as it is measured, also
# in OUTDIR/table.md), then runs the CUDA test (ctest -L cuda, quick: its parity checks).
# Usage: tools/gpu/check.sh BUNDLE [--out OUTDIR] [--jobs N] [--scale F] [--build DIR] [--files K]
#   BUNDLE   the folder tools/gpu/bundle.sh made (copied beside the repository)
#   --out    OUTDIR (default BUILD/check-out): table.md, check.log, build logs
#   --scale  corpus durations (default 0.5: 8 1080p, 16 SD and 16 audio files of 30 s; 0.05 on the
#            CPU fallback)
#   --files  the first K files of each row (default all on CUDA, 1 on the CPU fallback)
#   --build  the build folder (default build-gpu)
# Python: $LSSD_PYTHON, else the first of python3, python, /usr/bin/python3 that imports torch.
# Without a usable CUDA device the check says why (a CPU-only PyTorch, no driver library
# libcuda.so.1, no device visible), runs the rest on the CPU (a rehearsal: fp32, no cosine) and
# skips the CUDA test. Never -Werror here: this LibTorch is not the one CI pins.
set -euo pipefail
here=$(cd "$(dirname "$0")/../.." && pwd)
cd "$here"
bundle="" out="" jobs=$(nproc) scale="" build=build-gpu files=""
while (($#)); do
  case "$1" in
    --out) out=$2; shift 2 ;;
    --jobs) jobs=$2; shift 2 ;;
    --scale) scale=$2; shift 2 ;;
    --build) build=$2; shift 2 ;;
    --files) files=$2; shift 2 ;;
    -*) sed -n '2,19p' "$0"; exit 2 ;;
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
load0=$(cut -d' ' -f1-3 /proc/loadavg)
steps=()
say() { echo "[check $(($(date +%s) - t0))s] $*"; }
step_t=0
step() { step_t=$(date +%s); say "== $*"; }
# cpu_children: CPU=the CPU seconds (user + system) of this shell's finished children so far
# (bash's `times`, run in this shell itself: not in a pipe or $(...), which would be a subshell).
cpu_children() {
  local f=$out/.times.$BASHPID
  times >"$f"
  CPU=$(awk 'NR == 2 { n = 0; for (i = 1; i <= 2; i++) { split($i, a, "m"); n += a[1] * 60 + a[2] } printf "%.1f", n }' "$f")
  rm -f "$f"
}
# A build's jobs from ninja's log and its CPU seconds ($2): "N jobs, C s CPU (job wall W s: each
# job waited f x its CPU time for a core), the longest J s wall (target)", and what 16 idle
# cores of this speed would take: max(J / f, C / 16) (links are jobs too; a rough bound).
ninja_jobs() {
  awk -v cpu="$2" 'NR > 1 { d = ($2 - $1) / 1000; s += d; n++; if (d > m) { m = d; t = $4 } }
    END { if (!n) exit; f = (cpu > 0 && s > cpu) ? s / cpu : 1; e = m / f; if (cpu / 16 > e) e = cpu / 16
      printf "%d jobs, %.0f s CPU (job wall %.0f s: x%.1f), the longest %.0f s wall (%s); on 16 idle cores about %.0f s",
        n, cpu, s, f, m, t, e }' "$1" 2>/dev/null
}
step_done() { local dt=$(($(date +%s) - step_t)); steps+=("$1: ${dt} s"); say "   $1: ${dt} s"; }
missing=()  # what this machine lacks, said plainly at the start and the end
torch_direct=0

# ---------------------------------------------------------------- Python, its LibTorch, the GPU
step "python, torch, GPU"
py=""
for c in ${LSSD_PYTHON:-} python3 python /usr/bin/python3; do
  if command -v "$c" >/dev/null && "$c" -c "import torch" 2>/dev/null; then py=$(command -v "$c"); break; fi
done
[[ -n "$py" ]] || { say "MISSING: a Python that imports torch (set LSSD_PYTHON)"; exit 1; }
eval "$("$py" - <<'EOF'
import ctypes, glob, os, sys
import torch, torch.utils
cands = [torch.utils.cmake_prefix_path]
# Distributions that split LibTorch out of the Python package (Debian: libtorch-dev) keep the
# CMake package beside the library that torch loaded.
libdir = ""
for line in open("/proc/self/maps"):
    p = line.split()[-1]
    if os.path.basename(p).startswith("libtorch_cpu.so"):
        libdir = os.path.dirname(p)
        cands += [os.path.join(os.path.dirname(p), "cmake"), os.path.dirname(os.path.dirname(p))]
# The headers, for a build without LibTorch's CMake package (LSSD_TORCH_DIRECT)
incs = [os.path.join(torch.utils.cmake_prefix_path, "..", "..", "include"),
        os.path.join(torch.utils.cmake_prefix_path, "..", "..", "include", "torch", "csrc", "api", "include"),
        "/usr/include", "/usr/include/torch/csrc/api/include"]
incs = [os.path.normpath(d) for d in incs if os.path.exists(os.path.join(d, "torch", "script.h"))
        or os.path.exists(os.path.join(d, "torch", "torch.h"))]
prefix = next((c for c in cands if glob.glob(os.path.join(c, "Torch", "TorchConfig.cmake"))
               or glob.glob(os.path.join(c, "cmake", "Torch", "TorchConfig.cmake"))), "")
try:
    ctypes.CDLL("libcuda.so.1")
    driver = 1
except OSError:
    driver = 0
try:
    cuda = torch.cuda.is_available()
except Exception:
    cuda = False
why = ""
if not cuda:
    why = ("this PyTorch is CPU-only (torch.version.cuda is None)" if torch.version.cuda is None else
           "no NVIDIA driver library (libcuda.so.1 cannot be loaded)" if not driver else
           "no CUDA device visible (the driver loads; CUDA_VISIBLE_DEVICES=%r)" % os.environ.get("CUDA_VISIBLE_DEVICES"))
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
    "py_version": sys.version.split()[0], "driver": driver, "why_no_cuda": why,
    "torch_libdir": libdir, "torch_incs": ";".join(incs),
    # folders of the shared libraries torch loaded outside the system's (a pip PyTorch's CUDA
    # libraries, site-packages/nvidia/*/lib): the linker's -rpath-link for LSSD_TORCH_DIRECT
    "torch_linkdirs": ":".join(sorted({os.path.dirname(l.split()[-1]) for l in open("/proc/self/maps")
                                       if ".so" in l.split()[-1] and not l.split()[-1].startswith(("/usr/", "/lib"))})),
}
for k, v in vals.items():
    print(f"{k}='{v}'")
EOF
)"
say "python $py ($py_version), torch $torch_version (CUDA $torch_cuda), C++11 ABI $cxx11_abi, numpy $has_numpy"
say "LibTorch CMake package: ${torch_prefix:-NOT FOUND}"
[[ -n "$torch_prefix" || -n "$torch_incs" ]] || { say "MISSING: LibTorch's headers and CMake package (TorchConfig.cmake)"; exit 1; }
[[ -n "$torch_prefix" ]] || { say "no LibTorch CMake package: building with its libraries directly"; torch_direct=1; }
if ((have_cuda)); then
  say "CUDA: $gpu_count device(s), $gpu_name; nvidia-smi: $(command -v nvidia-smi || echo 'not found: no peak GPU memory')"
  command -v nvidia-smi >/dev/null || missing+=("nvidia-smi (peak GPU memory)")
else
  say "NO GPU: $why_no_cuda. The CUDA steps are skipped, the rest runs on the CPU (a rehearsal)"
  missing+=("a usable CUDA device: $why_no_cuda")
fi
if [[ "$torch_cuda" != none ]]; then  # a CUDA LibTorch's CMake package needs the toolkit's nvcc
  if ! command -v nvcc >/dev/null && [[ -x /usr/local/cuda/bin/nvcc ]]; then export PATH=/usr/local/cuda/bin:$PATH; fi
  if ! command -v nvcc >/dev/null; then
    say "MISSING: nvcc (the CUDA toolkit), which the CMake package of a CUDA LibTorch needs to configure:"
    say "         building with LibTorch's libraries directly instead (-DLSSD_TORCH_DIRECT=ON: $torch_libdir)"
    missing+=("nvcc (the CUDA toolkit; LibTorch's CMake package was bypassed: LSSD_TORCH_DIRECT)")
    torch_direct=1
  else
    say "nvcc: $(command -v nvcc) ($(nvcc --version | sed -n 's/.*release \([0-9.]*\).*/\1/p'))"
  fi
fi
((has_numpy)) || missing+=("numpy (the CUDA test tests/oracle/test_encoder_cuda.py)")
step_done "python and torch"

# ---------------------------------------------------------------- beside the build: S towers, corpus
work=$build/check-work
mkdir -p "$work"
models=$work/models/S
scale=${scale:-$( ((have_cuda)) && echo 0.5 || echo 0.05)}
files=${files:-$( ((have_cuda)) && echo 0 || echo 1)}
corpus=$work/corpus-gpu-$scale
export OMP_WAIT_POLICY=PASSIVE
(
  t=$(date +%s)
  if [[ ! -f "$models/video.pt" || ! -f "$models/audio.pt" ]]; then
    "$py" tools/lssd_checkpoint.py random --size S --seed 0 -o "$work/S.pyth" >/dev/null
    rm -rf "$models.tmp"
    "$py" tools/lssd_export.py --checkpoint "$work/S.pyth" --out-dir "$models.tmp" --no-verify --threads "$jobs" |
      tail -1 && mv "$models.tmp" "$models"
  fi
  cpu_children && echo "export S: $(($(date +%s) - t)) s, $CPU s CPU"
) >"$out/export.log" 2>&1 &
export_pid=$!
(
  t=$(date +%s)
  "$py" tools/bench/gen_corpus.py "$corpus" --corpus gpu --scale "$scale" --jobs "$jobs" \
    --ffmpeg "$bundle/bin/lssd-corpus-ffmpeg"
  cpu_children && echo "corpus: $(($(date +%s) - t)) s, $CPU s CPU"
) >"$out/corpus.log" 2>&1 &
corpus_pid=$!
say "started beside the build: S export (pid $export_pid), GPU corpus --scale $scale (pid $corpus_pid)"

# ---------------------------------------------------------------- C++ dependencies from the bundle
abi_flag="-D_GLIBCXX_USE_CXX11_ABI=$cxx11_abi"
deps=$build/deps
step "yaml-cpp from the bundle with this compiler, $abi_flag"
if [[ "$(cat "$deps/.done" 2>/dev/null)" != "$abi_flag" ]]; then
  rm -rf "$deps" "$build/deps-build"
  cpu_children && c0=$CPU
  cmake -S "$bundle/src/yaml-cpp" -B "$build/deps-build/yaml-cpp" -G Ninja -DCMAKE_BUILD_TYPE=Release \
    -DCMAKE_INSTALL_PREFIX="$deps" -DCMAKE_POSITION_INDEPENDENT_CODE=ON -DCMAKE_CXX_FLAGS="$abi_flag" \
    -DCMAKE_POLICY_VERSION_MINIMUM=3.5 -Wno-dev --no-warn-unused-cli -DYAML_CPP_BUILD_TESTS=OFF \
    -DYAML_CPP_BUILD_TOOLS=OFF -DYAML_CPP_BUILD_CONTRIB=OFF -DYAML_BUILD_SHARED_LIBS=OFF >"$out/deps.log" 2>&1
  cmake --build "$build/deps-build/yaml-cpp" -j "$jobs" --target install >>"$out/deps.log" 2>&1 ||
    { tail -30 "$out/deps.log"; exit 1; }
  mkdir -p "$deps" && echo "$abi_flag" >"$deps/.done"
  cpu_children && say "yaml-cpp: $(ninja_jobs "$build/deps-build/yaml-cpp/.ninja_log" "$(awk "BEGIN { print $CPU - $c0 }")")"
fi
step_done "yaml-cpp"

# ---------------------------------------------------------------- lssd: what the check runs
targets=(lssd-infer lssd_encoder_probe lssd_probe lssd_audio_probe)
step "build ${targets[*]} (-j $jobs, no -Werror)"
cfg=(-G Ninja -DCMAKE_BUILD_TYPE=Release -DCMAKE_PREFIX_PATH="$torch_prefix;$deps;$bundle;$bundle/ffmpeg"
  -DLSSD_FFMPEG_PACKAGE=ON -DLSSD_BUILD_READ=OFF -DLSSD_BUILD_TESTS=ON -DLSSD_BUILD_UNIT_TESTS=OFF -DLSSD_WERROR_DEPRECATED=OFF
  -DLSSD_PYTHON="$py" -DCMAKE_CXX_FLAGS="$abi_flag")
if [[ -f "$bundle/lib/libcrypto.a" ]]; then
  cfg+=(-DOPENSSL_ROOT_DIR="$bundle" -DOPENSSL_USE_STATIC_LIBS=TRUE)
fi
if ((torch_direct)); then
  cfg+=(-DLSSD_TORCH_DIRECT=ON -DLSSD_TORCH_INCLUDE_DIRS="$torch_incs" -DLSSD_TORCH_LIBRARY_DIR="$torch_libdir")
  [[ -n "$torch_linkdirs" ]] && cfg+=(-DCMAKE_EXE_LINKER_FLAGS="-Wl,-rpath-link,$torch_linkdirs")
fi
cpu_children && c0=$CPU
cmake -S . -B "$build" "${cfg[@]}" >"$out/configure.log" 2>&1 || { tail -40 "$out/configure.log"; exit 1; }
cmake --build "$build" -j "$jobs" --target "${targets[@]}" >"$out/build.log" 2>&1 ||
  { grep -B2 -A12 "error" "$out/build.log" | head -80; exit 1; }
ndep=$(grep -c "Wdeprecated-declarations" "$out/build.log" || true)
say "built; deprecation warnings: $ndep (not errors here)"
cpu_children && say "build: $(ninja_jobs "$build/.ninja_log" "$(awk "BEGIN { print $CPU - $c0 }")")"
step_done "build"

step "wait for the S export and the corpus"
wait "$export_pid" || { cat "$out/export.log"; say "the S export failed"; exit 1; }
wait "$corpus_pid" || { tail -20 "$out/corpus.log"; say "the corpus failed"; exit 1; }
say "$(tail -1 "$out/export.log"); $(tail -1 "$out/corpus.log")"
step_done "export and corpus (beside the build)"

# ---------------------------------------------------------------- the table, row by row
device=cpu
((have_cuda)) && device=cuda
{
  echo "## lssd CUDA check ($(date -u +%Y-%m-%d))"
  echo
  if ((have_cuda)); then
    echo "GPU: $gpu_name ($gpu_count device(s)); torch $torch_version, CUDA $torch_cuda; $(nproc) CPUs"
  else
    echo "NO GPU ($why_no_cuda): CPU fallback, fp32 (a rehearsal); torch $torch_version; $(nproc) CPUs"
  fi
  echo "Python $py ($py_version); bundle: $(head -1 "$bundle/BUNDLE.txt" | sed 's/^lssd GPU bundle, //')"
  echo "S towers, seeded random weights; corpus: tools/bench/gen_corpus.py --corpus gpu --scale $scale" \
    "$( ((files)) && echo ", the first $files file(s) of each row")"
  echo "deprecation warnings in the build: $ndep"
  echo
} >"$out/table.md"
cat "$out/table.md"
step "table on $device (rows printed as measured)"
"$py" tools/gpu/check_table.py --build "$build" --model "$models" --corpus "$corpus" --out "$out" \
  --device "$device" --threads "$jobs" --files-per-row "$files" || say "check_table.py failed"
step_done "table"

# ---------------------------------------------------------------- the CUDA test (parity)
cuda_tests="not run: no CUDA device"
step "ctest -L cuda (quick: parity of CUDA fp32 / fp16 with the CPU)"
if ((have_cuda)) && ((has_numpy)); then
  export LSSD_CUDA_TEST_QUICK=1 LSSD_CUDA_TEST_S_MODEL=$models
  if LSSD_BUILD_DIR=$build LSSD_SOURCE_DIR=$here "$py" tests/oracle/test_encoder_cuda.py; then
    cuda_tests="passed"; else cuda_tests="FAILED"; fi
elif ((have_cuda)); then
  cuda_tests="not run: tests/oracle/test_encoder_cuda.py needs numpy, which $py lacks"
fi
say "ctest -L cuda: $cuda_tests"
step_done "ctest -L cuda"

{
  echo
  echo "ctest -L cuda: $cuda_tests"
  ((${#missing[@]})) && echo "missing on this machine: $(printf '%s; ' "${missing[@]}")"
  echo "steps: $(printf '%s; ' "${steps[@]}")total $(($(date +%s) - t0)) s; load average at the start $load0, at the end $(cut -d' ' -f1-3 /proc/loadavg)"
} >>"$out/table.md"
echo
cat "$out/table.md"
