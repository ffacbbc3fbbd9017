// Local minima found by descent: retrieve() from many starts, keep the columns that
// converged, merge end points closer than a tolerance, and classify them against the stored
// patterns. Seed 002 counts LSE memories this way (starts at the stored patterns, small steps,
// many of them); it works for any energy, LSR included.
#pragma once

#include <functional>
#include <vector>

#include "engram/analysis/minima.hpp"
#include "engram/core/concepts.hpp"
#include "engram/core/error.hpp"
#include "engram/dynamics/retrieve.hpp"

namespace engram {

struct descent_census_options {
  /// End points closer than this are one minimum; a minimum this close to a stored pattern is
  /// that pattern.
  double tolerance = 1e-4;
  /// Hears the descent after every step, as retrieve_options::progress does.
  std::function<void(const retrieval_progress&)> progress{};
  void validate() const { require_positive("descent_census_options.tolerance", tolerance); }
};

template <real_scalar Scalar>
struct descent_census : minima_census<Scalar> {
  index unfinished = 0;  ///< starts that did not converge (halted or unsupported)
};

/// Descends `energy` from every column of `starts` and tallies the distinct end points.
/// `patterns` are the stored patterns (D x K) the minima are classified against.
template <energy_function Energy, class Integrator, stop_rule Stop>
descent_census<typename Energy::scalar_type> descent_minima(
    const Energy& energy, const Eigen::Ref<const matrix<typename Energy::scalar_type>>& patterns,
    const Eigen::Ref<const matrix<typename Energy::scalar_type>>& starts,
    const Integrator& integrator, const Stop& stop, const descent_census_options& options = {}) {
  using Scalar = typename Energy::scalar_type;
  options.validate();
  require_rows("patterns", patterns.rows(), energy.dim(), "the energy dimension");
  const auto run = retrieve(energy, starts, integrator, stop, {.progress = options.progress});
  const Scalar tol = Scalar(options.tolerance);
  descent_census<Scalar> census;
  std::vector<index> unique;  // columns of run.states
  for (index b = 0; b < starts.cols(); ++b) {
    if (!run.converged(b)) {
      ++census.unfinished;
      continue;
    }
    bool seen = false;
    for (index u : unique) seen = seen || (run.states.col(u) - run.states.col(b)).norm() < tol;
    if (!seen) unique.push_back(b);
  }
  const index m = index(unique.size());
  census.minima.resize(starts.rows(), m);
  census.energies.resize(m);
  census.emergent.setConstant(m, true);
  census.retrievable.setConstant(patterns.cols(), false);
  for (index i = 0; i < m; ++i) {
    census.minima.col(i) = run.states.col(unique[std::size_t(i)]);
    census.energies(i) = run.energies(unique[std::size_t(i)]);
    for (index mu = 0; mu < patterns.cols(); ++mu)
      if ((patterns.col(mu) - census.minima.col(i)).norm() < tol) {
        census.emergent(i) = false;
        census.retrievable(mu) = true;
      }
  }
  return census;
}

}  // namespace engram
