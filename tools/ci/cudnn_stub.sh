#!/usr/bin/env bash
# A link stub of libcudnn.so.9 for the CUDA CI stage (tools/ci/cuda13.sh), run inside its Debian 13
# chroot as root. Not for a machine with a GPU.
#
# Why: Debian's libtorch-cuda-2.6 needs libcudnn.so.9, which only the contrib package nvidia-cudnn
# provides, and that package is an installer: its postinst downloads cuDNN from NVIDIA's servers.
# CI has no network beyond the Debian mirror, so the stage declines that download (debconf
# nvidia-cudnn/question = "I Decline"), which leaves the package's libcudnn.so.9 symlink dangling.
# libtorch_cuda.so is linked with BIND_NOW and references 80-odd cuDNN functions under the symbol
# version "libcudnn.so.9": neither the linker nor the dynamic loader accepts lssd-infer without a
# library that defines them. This script builds one: every cudnn* symbol that the installed
# LibTorch libraries import, each a function that prints its name and aborts, under that version,
# at the path the real library takes (the dangling symlink's target). Nothing calls cuDNN on a
# machine without a GPU (torch::cuda::is_available() is false); a call would abort loudly.
# Usage: tools/ci/cudnn_stub.sh [LIBDIR]   (default /usr/lib/x86_64-linux-gnu)
set -euo pipefail
libdir=${1:-/usr/lib/x86_64-linux-gnu}
link=$libdir/libcudnn.so.9
if [[ -e "$link" ]] && ! grep -q lssd_cudnn_stub "$link" 2>/dev/null; then
  echo "cudnn_stub: $link is a real library; nothing to do"
  exit 0
fi
target=$(readlink -f "$link" 2>/dev/null || true)
[[ -n "$target" && "$target" != "$link" ]] || target=$libdir/libcudnn.so.9.0.0
mapfile -t syms < <(for f in "$libdir"/libtorch*.so.*.*.*; do nm -D --undefined-only "$f"; done |
  awk '{ print $2 }' | sed -n 's/@libcudnn\.so\.9$//p' | sort -u)
((${#syms[@]} > 0)) || { echo "cudnn_stub: no LibTorch library under $libdir imports cuDNN" >&2; exit 1; }
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
{
  echo '#include <stdio.h>'
  echo '#include <stdlib.h>'
  echo 'static void lssd_cudnn_stub(const char* f) {'
  echo '  fprintf(stderr, "%s: called lssd_cudnn_stub, the libcudnn.so.9 link stub of lssd CI (tools/ci/cudnn_stub.sh), not cuDNN\n", f);'
  echo '  abort();'
  echo '}'
  for s in "${syms[@]}"; do echo "int $s(void) { lssd_cudnn_stub(\"$s\"); return 1; }"; done
} >"$work/stub.c"
{
  echo 'libcudnn.so.9 {'
  echo '  global:'
  printf '    %s;\n' "${syms[@]}"
  echo '  local: *;'
  echo '};'
} >"$work/stub.map"
gcc -shared -fPIC -O1 -o "$work/libcudnn.so.9" -Wl,-soname,libcudnn.so.9 -Wl,--version-script="$work/stub.map" \
  "$work/stub.c"
install -m 0644 "$work/libcudnn.so.9" "$target"
[[ -e "$link" ]] || ln -sf "$(basename "$target")" "$link"
ldconfig
echo "cudnn_stub: $target: ${#syms[@]} cuDNN functions (stubs that abort), symbol version libcudnn.so.9"
