#!/usr/bin/env bash
# Regenerates python/ember/_C.pyi (type stubs for the extension) from the installed build.
# Run after changing the bindings: pip install pybind11-stubgen && bash scripts/gen_stubs.sh
set -euo pipefail
cd "$(dirname "$0")/.."
out=$(mktemp -d)
pybind11-stubgen ember._C -o "$out" --ignore-all-errors >/dev/null
# The DType caster is named "dtype"; the generator resolves that to numpy's. Point it at ember's.
sed -e 's/numpy\.dtype\[typing\.Any\]/dtype/g' -e 's/-> np\.ndarray/-> numpy.ndarray/g' \
  "$out/ember/_C.pyi" > python/ember/_C.pyi
rm -rf "$out"
echo "wrote python/ember/_C.pyi"
