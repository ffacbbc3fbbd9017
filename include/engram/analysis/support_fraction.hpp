// The fraction of a box on which an energy is finite, by Monte Carlo (seed 002 App. C.2 samples
// 1e6 points of the unit hypercube): for LSR with eps = 0, the share of space some memory
// supports. Samples come from the Philox source, so the estimate is reproducible anywhere.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>

#include "engram/core/concepts.hpp"
#include "engram/core/error.hpp"
#include "engram/core/rng.hpp"

namespace engram {

struct monte_carlo_options {
  index samples = 100000;
  std::uint64_t seed = 0;
  index batch = 8192;
  void validate() const {
    if (samples < 1 || batch < 1)
      throw invalid_argument(detail::message("monte_carlo_options samples ", samples, " and batch ",
                                             batch, " must be >= 1"));
  }
};

/// Fraction of points uniform in [lo, hi]^D where `energy` is finite; its standard error is
/// sqrt(f (1 - f) / samples).
template <energy_function Energy>
double finite_energy_fraction(const Energy& energy, double lo, double hi,
                              const monte_carlo_options& options = {}) {
  using Scalar = typename Energy::scalar_type;
  options.validate();
  if (!(hi > lo) || !std::isfinite(lo) || !std::isfinite(hi))
    throw invalid_argument(detail::message("the box [", lo, ", ", hi, "] is empty or infinite"));
  const philox_source rng(options.seed);
  const index dim = energy.dim();
  index finite = 0;
  matrix<Scalar> x;
  vector<Scalar> e;
  auto workspace = energy.make_workspace();
  for (index done = 0; done < options.samples; done += options.batch) {
    const index n = std::min(options.batch, options.samples - done);
    x.resize(dim, n);
    e.resize(n);
    rng.fill_uniform(x, 0, Scalar(lo), Scalar(hi), std::uint64_t(done * dim));
    if (done == 0) energy.validate(x);
    energy.evaluate(x, e, nullptr, workspace);
    finite += e.array().isFinite().count();
  }
  return double(finite) / double(options.samples);
}

}  // namespace engram
