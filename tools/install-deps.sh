#!/usr/bin/env bash
# Installs what engram's build, tests, examples, benchmarks and Python module need on Debian 12
# (as root; the Python module's own build requirements come from PyPI: tools/python-tests.sh).
# Safe to run again: it asks apt only when something is missing.
set -euo pipefail
packages=(cmake g++ make pkg-config libeigen3-dev catch2 libbenchmark-dev librandom123-dev
          zlib1g-dev libstb-dev libcli11-dev libnanoflann-dev libblis-dev dataset-fashion-mnist gnuplot-nox
          openmpi-bin libopenmpi-dev python3-venv python3-dev)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "installing: ${missing[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi
