#!/usr/bin/env bash
# Installs everything the tests need, builds ember, and runs every test:
# the C++ suite (GoogleTest, through ctest) and the Python suite (pytest).
# Works on a fresh machine; rerunning it is cheap.
set -euo pipefail
cd "$(dirname "$0")/.."

as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }

# From Debian: GoogleTest, for the C++ tests; QEMU's user-mode emulator, to run ember on
# an emulated CPU without AVX2 (scripts/check_no_avx2.sh).
debs=()
[ -f /usr/include/gtest/gtest.h ] || debs+=(libgtest-dev)
command -v qemu-x86_64 >/dev/null || debs+=(qemu-user)
if [ ${#debs[@]} -gt 0 ]; then
  as_root apt-get update -qq
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${debs[@]}" >/dev/null
fi

# Python test dependencies. torch is pinned: pip takes the CPU build of 2.13.0 from this
# machine's disk, while an unpinned torch would pull a multi-GB CUDA build.
python -m pip install -q --disable-pip-version-check \
  "numpy>=1.22" "pytest>=7" "hypothesis>=6" "torch==2.13.0" \
  "scikit-build-core>=0.10" "pybind11>=2.13" cmake ninja

# ember itself: one wheel, built as `pip install .` builds it, installed here and (checked
# by scripts/check_wheel.sh) into a fresh venv, where it must import and work. One build,
# not two: compiling is most of this script's time on a 2-core machine.
wheel_dir=$(mktemp -d)
trap 'rm -rf "$wheel_dir"' EXIT
python -m pip wheel -q --disable-pip-version-check --no-deps --no-build-isolation . -w "$wheel_dir"
wheel=$(ls "$wheel_dir"/ember-*.whl)
python -m pip install -q --disable-pip-version-check --force-reinstall --no-deps "$wheel"
bash scripts/check_wheel.sh "$wheel"

# C++ tests.
cmake -S . -B build/ctest -G Ninja -DCMAKE_BUILD_TYPE=Release -DEMBER_BUILD_TESTS=ON >/dev/null
cmake --build build/ctest -j2
ctest --test-dir build/ctest --output-on-failure -j2

# ember on an emulated x86-64 CPU without AVX2: the C++ suite, the chapter's example and
# the chapter and API tests.
bash scripts/check_no_avx2.sh build/ctest/ember_tests

# The same C++ tests under AddressSanitizer + UndefinedBehaviorSanitizer (any report fails).
cmake -S . -B build/asan -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DEMBER_BUILD_TESTS=ON \
  -DEMBER_SANITIZE=ON >/dev/null
cmake --build build/asan -j2
ctest --test-dir build/asan --output-on-failure -j2

# Python tests (from outside the source tree's package dir, against the installed ember).
python -m pytest -q tests/python
