#!/usr/bin/env bash
# Regenerates the pictures the README shows, under docs/: builds the examples, runs each one
# (the default runs, smaller ones where the default takes minutes), and copies the PNGs it
# writes into docs/, palette-reduced by pngquant (Debian's pngquant) so that the repository
# stays small. About two minutes on 2 cores after the build. Run from anywhere, as root on
# Debian 12 (it installs what it needs): bash tools/make-pictures.sh
set -euo pipefail
cd "$(dirname "$0")/.."
bash tools/install-deps.sh
if ! dpkg-query -W -f='${Status}' pngquant 2> /dev/null | grep -q "install ok installed"; then
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends pngquant
fi
examples=(image_completion drdam_vs_mrdam drdam_figures emergent_memories lsr_figures
          dead_neurons learned_attractors decimation)
cmake -S . -B build > /dev/null
cmake --build build -j2 --target "${examples[@]}"
runs=$(mktemp -d)
trap 'rm -rf "$runs"' EXIT
bin=build/examples
mkdir -p docs

# `keep RUN/FILE NAME`: docs/NAME.png from the run's picture, at most 256 colours.
keep() {
  pngquant --force --skip-if-larger --quality 70-95 --output "docs/$2.png" "$runs/$1" 2> /dev/null ||
    cp "$runs/$1" "docs/$2.png"
  echo "docs/$2.png: $(stat -c %s "docs/$2.png") bytes"
}
run() {  # run NAME ARGS...: the example's output goes to $runs/NAME
  local name=$1
  shift
  echo "=== $name $*"
  "$@" --quiet --out "$runs/$name" > "$runs/$name.log"
}

run image_completion $bin/image_completion
keep image_completion/grid.png image_completion
run image_completion_drdam $bin/image_completion --energy drdam --stored 20 --queries 20 \
  --from train --features 20000 --max-steps 300
keep image_completion_drdam/grid.png image_completion_drdam
run drdam_vs_mrdam $bin/drdam_vs_mrdam
keep drdam_vs_mrdam/mae.png drdam_vs_mrdam_mae
keep drdam_vs_mrdam/retrieval.png drdam_vs_mrdam_retrieval
run drdam_capacity $bin/drdam_figures capacity
keep drdam_capacity/capacity.png drdam_figures_capacity
run drdam_features $bin/drdam_figures features
keep drdam_features/features.png drdam_figures_features
run emergent_memories $bin/emergent_memories
keep emergent_memories/minima.png emergent_memories
run emergent_landscape $bin/emergent_memories --dim 2 --stored 8
keep emergent_landscape/landscape.png emergent_memories_landscape
run lsr_likelihood $bin/lsr_figures likelihood
keep lsr_likelihood/likelihood.png lsr_figures_likelihood
run lsr_grid $bin/lsr_figures grid
keep lsr_grid/grid.png lsr_figures_grid
run dead_neurons $bin/dead_neurons
keep dead_neurons/field.png dead_neurons_field
run dead_neurons_hierarchical $bin/dead_neurons --hierarchical
keep dead_neurons_hierarchical/energy.png dead_neurons_energy
run learned_attractors $bin/learned_attractors
keep learned_attractors/line_spectrum.png learned_attractors_line
keep learned_attractors/ring.png learned_attractors_ring
run decimation $bin/decimation
keep decimation/overlaps.png decimation_overlaps
keep decimation/rie.png decimation_rie
keep decimation/capacity.png decimation_capacity
echo "pictures written to docs/"
