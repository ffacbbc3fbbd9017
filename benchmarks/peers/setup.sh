#!/usr/bin/env bash
# Creates the peers' environment, benchmarks/peers/.venv: PyTorch, JAX, numpy and scipy from
# PyPI (requirements.txt), on Debian's Python, plus what engram's build needs (as root, through
# tools/install-deps.sh). Safe to run again: apt and pip act only on what is missing.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
bash "$here/../../tools/install-deps.sh"
if ! dpkg-query -W -f='${Status}' python3-venv 2>/dev/null | grep -q "install ok installed"; then
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends python3-venv
fi
venv="$here/.venv"
if [ ! -x "$venv/bin/python" ] || ! "$venv/bin/python" -m pip --version >/dev/null 2>&1; then
  rm -rf "$venv"
  /usr/bin/python3 -m venv "$venv"
fi
"$venv/bin/python" -m pip install -q --disable-pip-version-check -r "$here/requirements.txt"
"$venv/bin/python" -c "import torch, jax, numpy, scipy; print('peers ready: torch', \
torch.__version__, '| jax', jax.__version__, '| numpy', numpy.__version__, '| scipy', \
scipy.__version__)"
