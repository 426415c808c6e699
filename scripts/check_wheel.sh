#!/usr/bin/env bash
# Installs ember's wheel into a fresh venv and checks that it imports, computes and ships
# its typing files (py.typed, _C.pyi). Called by scripts/test.sh with the wheel it built;
# without an argument, builds one first.
#   bash scripts/check_wheel.sh [dist/ember-*.whl]
set -euo pipefail
cd "$(dirname "$0")/.."
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
if [ $# -ge 1 ]; then
  wheel=$(realpath "$1")
else
  python -m pip wheel -q --disable-pip-version-check --no-deps --no-build-isolation . -w "$work/dist"
  wheel=$(ls "$work"/dist/ember-*.whl)
fi
python - "$wheel" <<'PY'
import sys, zipfile
names = set(zipfile.ZipFile(sys.argv[1]).namelist())
for needed in ("ember/py.typed", "ember/_C.pyi", "ember/__init__.py"):
    assert needed in names, f"{needed} missing from the wheel"
assert any(n.startswith("ember/_C.") and n.endswith(".so") for n in names), "extension missing from the wheel"
PY
python -m venv "$work/venv"
"$work/venv/bin/pip" install -q --disable-pip-version-check "$wheel"
(cd "$work" && "$work/venv/bin/python" -c "
import ember
x = ember.ones(2, 2, requires_grad=True)
(x * 3).sum().backward()
assert x.grad.tolist() == [[3.0, 3.0], [3.0, 3.0]], x.grad
print('wheel ok:', ember.__file__)
")
