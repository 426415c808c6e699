#!/usr/bin/env bash
# ember on an x86-64 CPU without AVX2. QEMU's user-mode emulator plays a Nehalem (SSE4.2,
# no AVX), where any AVX instruction on the path dies with SIGILL. Under it, on the
# installed ember:
#   0. (no emulation) the AVX2 and AVX-512 objects define no weak code: the linker keeps one
#      copy of each inline function for the whole library, and an AVX2- or AVX-512-compiled
#      copy would run those instructions from baseline (or AVX2) code;
#   1. a probe built with -mavx2 -mfma must die with SIGILL, or the checks below prove nothing;
#   2. backend_info() reports no AVX2, the reference kernels and torch's DEFAULT build;
#   3. the C++ suite (the ctest binary given as $1), without the Interrupt tests, which wait
#      on long products and take minutes emulated (they run natively in scripts/test.sh);
#   4. the chapter's training example prints what it prints natively with EMBER_CPU=reference;
#   5. the Python tests of the chapter and of the public API, against torch emulated too
#      (torch runs its baseline build there, so its random streams are that build's).
# Called by scripts/test.sh, which installs qemu-user.
set -euo pipefail
cd "$(dirname "$0")/.."
tests_bin=${1:?usage: scripts/check_no_avx2.sh path/to/ember_tests}
# OPENBLAS_CORETYPE (this workplace's environment sets Haswell) would make numpy's OpenBLAS
# run AVX2 kernels on the emulated CPU, which dies at `import numpy`: the emulated processes
# let OpenBLAS pick its kernels from the CPU, as it does on a real one.
emu=(env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE qemu-x86_64 -cpu Nehalem)
py=$(python -c "import sys; print(sys.executable)")
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

mapfile -t objs < <(find "$(dirname "$tests_bin")" \( -path '*/kernels/avx2/*.o' -o -path '*/kernels/avx512/*.o' \))
if [ ${#objs[@]} -eq 0 ]; then
  echo "check_no_avx2: no AVX2 or AVX-512 object files next to $tests_bin" >&2
  exit 1
fi
weak=$(nm -C --defined-only "${objs[@]}" | awk '$2 == "W"' || true)
if [ -n "$weak" ]; then
  echo "check_no_avx2: weak (inline) functions compiled for AVX2 or AVX-512, which the linker may keep for other callers:" >&2
  echo "$weak" >&2
  exit 1
fi

cat >"$work/probe.c" <<'C'
#include <immintrin.h>
int main(int argc, char** argv) {
  (void)argv;
  __m256 a = _mm256_set1_ps((float)argc);
  a = _mm256_fmadd_ps(a, a, a);
  return _mm256_cvtss_f32(a) == 2.0f ? 0 : 1;
}
C
gcc -O1 -mavx2 -mfma "$work/probe.c" -o "$work/probe"
status=0
"${emu[@]}" "$work/probe" 2>/dev/null || status=$?
if [ "$status" -ne 132 ]; then
  echo "check_no_avx2: the emulated CPU ran AVX2 code (exit status $status, want 132 = SIGILL)" >&2
  exit 1
fi

"${emu[@]}" "$py" -c "
import ember
info = ember.backend_info()
assert not info['cpu_avx2'] and info['kernels'] == 'reference' and info['torch_capability'] == 'DEFAULT', info
print('no AVX2:', info)
"

"${emu[@]}" "$tests_bin" --gtest_brief=1 --gtest_filter='-Interrupt.*'

native=$(EMBER_CPU=reference python examples/train_mlp.py)
emulated=$("${emu[@]}" "$py" examples/train_mlp.py)
if [ "$native" != "$emulated" ]; then
  echo "check_no_avx2: examples/train_mlp.py printed '$emulated' emulated, '$native' natively" >&2
  exit 1
fi
echo "examples/train_mlp.py, emulated, as natively: ${emulated##*$'\n'}"

"${emu[@]}" "$py" -m pytest -q -p no:cacheprovider tests/python/test_chapter.py tests/python/test_api.py
