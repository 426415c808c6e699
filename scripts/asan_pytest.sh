#!/usr/bin/env bash
# Runs the Python test suite against an AddressSanitizer + UBSan build of ember._C, without
# touching the installed ember: the extension is built into build/asan-py, put beside a copy
# of python/ember, and imported from there (the editable-install finder is set aside).
#   bash scripts/asan_pytest.sh [pytest args]     (default: -q -x tests/python)
set -euo pipefail
cd "$(dirname "$0")/.."

cmake -S . -B build/asan-py -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DEMBER_SANITIZE=ON \
  -DEMBER_BUILD_PYTHON=ON -DEMBER_BUILD_TESTS=OFF \
  -Dpybind11_DIR="$(python -c 'import pybind11; print(pybind11.get_cmake_dir())')" >/dev/null
cmake --build build/asan-py -j2

pkg=build/asan-py/pkg
rm -rf "$pkg" && mkdir -p "$pkg"
cp -r python/ember "$pkg/ember"
rm -f "$pkg"/ember/_C*.so
cp build/asan-py/_C*.so "$pkg/ember/"

# The sanitizer runtimes must be loaded before Python; leaks are CPython's business here.
export LD_PRELOAD="$(gcc -print-file-name=libasan.so) $(gcc -print-file-name=libubsan.so)"
# RSS-growth tests skip themselves here (EMBER_ASAN_PKG is set): ASan's quarantine keeps up
# to 256 MiB of freed memory, so RSS measures the sanitizer, not ember. EMBER_ASAN_OPTIONS
# is prepended to ASAN_OPTIONS ("quarantine_size_mb=8:" ...).
export ASAN_OPTIONS=${EMBER_ASAN_OPTIONS:-}detect_leaks=0:abort_on_error=1:allocator_may_return_null=1  # 10**15-element tests
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
EMBER_ASAN_PKG="$PWD/$pkg" exec python - "$@" <<'EOF'
import os, sys
sys.meta_path[:] = [f for f in sys.meta_path if "editable" not in type(f).__module__]
sys.path.insert(0, os.environ["EMBER_ASAN_PKG"])
import ember, pytest
assert ember.__file__.startswith(os.environ["EMBER_ASAN_PKG"]), ember.__file__
sys.exit(pytest.main(sys.argv[1:] or ["-q", "-x", "-p", "no:cacheprovider", "tests/python"]))
EOF
