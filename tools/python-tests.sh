#!/usr/bin/env bash
# Builds the Python module into a virtual environment and runs its tests (ctest python_bindings).
#   tools/python-tests.sh BUILD_DIR
# The environment is BUILD_DIR/python-venv, on Debian's Python, with the pinned build and test
# requirements of python/requirements-test.txt from PyPI; the module is built in
# BUILD_DIR/python-build. Safe to run again: pip acts only on what is missing or changed.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
build="$(cd "${1:?usage: tools/python-tests.sh BUILD_DIR}" && pwd)"
venv="$build/python-venv"
python=/usr/bin/python3
[ -x "$python" ] || python="$(command -v python3)"
if [ ! -x "$venv/bin/python" ] || ! "$venv/bin/python" -m pip --version >/dev/null 2>&1; then
  rm -rf "$venv"
  "$python" -m venv "$venv"
fi
pip=("$venv/bin/python" -m pip --disable-pip-version-check -q)
"${pip[@]}" install -r "$root/python/requirements-test.txt"
start=$SECONDS
CMAKE_BUILD_PARALLEL_LEVEL="${CMAKE_BUILD_PARALLEL_LEVEL:-2}" "${pip[@]}" install \
  --no-build-isolation --config-settings=build-dir="$build/python-build" "$root/python"
echo "python module built in $((SECONDS - start)) s"
cd "$root/python/tests"
# ENGRAM_REQUIRE_CPP=1 (ctest sets it where the examples are built) makes the comparison with
# the C++ flagship fail, not skip, when the binary is missing.
ENGRAM_BUILD_DIR="$build" "$venv/bin/python" -m pytest -q -p no:cacheprovider "${@:2}"
