// retrieve(): descend an energy from a batch of queries until a stop rule ends each column.
// The energy enters through its gradient flow x' = -grad E(x), with clamped coordinates
// zeroed (seed 001 eq. 5 and App. D: visible pixels stay fixed). Columns stop one by one and
// leave the working set, so converged columns cost nothing; the loop allocates only when the
// working set shrinks.
#pragma once

#include <algorithm>
#include <cmath>
#include <functional>
#include <limits>
#include <vector>

#include "engram/core/concepts.hpp"
#include "engram/core/error.hpp"
#include "engram/core/types.hpp"

namespace engram {

/// Reported to a progress callback after every step.
struct retrieval_progress {
  index step;    ///< steps taken so far
  index active;  ///< columns still moving
  index batch;   ///< columns in the batch
};

template <real_scalar Scalar>
struct retrieve_options {
  /// Coordinates that never move: empty (none), D x 1 (shared by the batch) or D x B.
  mask clamp{};
  /// Called after every step; for long runs.
  std::function<void(const retrieval_progress&)> progress{};
  /// Keep the energy of every column at every step in result.energy_trace.
  bool record_trace = false;
  /// A safety limit on top of the stop rule, so that a rule that never fires cannot hang.
  index max_steps = 100000;

  void validate(index dim, index batch) const {
    if (clamp.size() > 0 && (clamp.rows() != dim || (clamp.cols() != 1 && clamp.cols() != batch)))
      throw dimension_mismatch(detail::message("clamp mask is ", clamp.rows(), " x ", clamp.cols(),
                                               "; it must be ", dim, " x 1 or ", dim, " x ", batch,
                                               " (dimension x 1 or dimension x batch)"));
    if (max_steps < 0)
      throw invalid_argument(detail::message("max_steps is ", max_steps, "; it must be >= 0"));
  }
};

template <real_scalar Scalar>
struct retrieval_result {
  matrix<Scalar> states;                             ///< D x B final states
  vector<Scalar> energies;                           ///< energy of each final state
  Eigen::Matrix<index, Eigen::Dynamic, 1> steps;     ///< steps each column took
  Eigen::Matrix<bool, Eigen::Dynamic, 1> converged;  ///< stopped by a convergence criterion
  /// Stopped because the energy is +infinity there: no memory supports the state (LSR with
  /// eps = 0). Always false for energies that are finite everywhere.
  Eigen::Matrix<bool, Eigen::Dynamic, 1> unsupported;
  /// (T + 1) x B: row t holds E(x_t) of each column; a stopped column repeats its final energy.
  /// Empty unless retrieve_options::record_trace.
  matrix<Scalar> energy_trace;

  bool all_converged() const { return converged.all(); }
};

namespace detail {

/// The gradient flow of an energy restricted to the free coordinates.
template <energy_function Energy>
class clamped_gradient_flow {
 public:
  using scalar_type = typename Energy::scalar_type;

  explicit clamped_gradient_flow(const Energy& energy) : energy_(energy) {}

  /// free_(i, j) = 1 where coordinate i of working column j may move, 0 where it is clamped.
  matrix<scalar_type>& free() { return free_; }
  const Energy& energy() const { return energy_; }

  void evaluate(const matrix<scalar_type>& x, vector<scalar_type>& e, matrix<scalar_type>& g) {
    energy_.evaluate(x, e, &g);
    if (free_.cols() == 1)
      g.array().colwise() *= free_.col(0).array();
    else if (free_.size() > 0)
      g.array() *= free_.array();
  }

 private:
  const Energy& energy_;
  matrix<scalar_type> free_;
};

}  // namespace detail

/// Descends `energy` from each column of `queries` (D x B) with `integrator` until `stop`
/// (or options.max_steps) ends it. Throws an engram::error for bad input, and not_finite if a
/// step drives an energy to NaN or infinity (a step size too large for the energy).
template <energy_function Energy, class Integrator, stop_rule Stop>
requires integrator_for<Integrator, detail::clamped_gradient_flow<Energy>>
    retrieval_result<typename Energy::scalar_type> retrieve(
        const Energy& energy, const Eigen::Ref<const matrix<typename Energy::scalar_type>>& queries,
        const Integrator& integrator, const Stop& stop,
        const retrieve_options<typename Energy::scalar_type>& options = {}) {
  using Scalar = typename Energy::scalar_type;
  const index dim = queries.rows(), batch = queries.cols();
  energy.validate(queries);
  integrator.validate();
  stop.validate();
  options.validate(dim, batch);

  retrieval_result<Scalar> result;
  result.states = queries;
  result.energies.resize(batch);
  result.steps.setZero(batch);
  result.converged.setConstant(batch, false);
  result.unsupported.setConstant(batch, false);
  constexpr bool may_be_unsupported = reports_unsupported_v<Energy>;
  constexpr Scalar infinity = std::numeric_limits<Scalar>::infinity();

  detail::clamped_gradient_flow<Energy> system(energy);
  const bool per_column_clamp = options.clamp.cols() > 1;
  if (options.clamp.size() > 0)
    system.free() = (!options.clamp.array()).template cast<Scalar>().matrix();

  std::vector<index> active(batch);
  for (index b = 0; b < batch; ++b) active[b] = b;
  matrix<Scalar> x = queries, g(dim, batch), x_before;
  vector<Scalar> e(batch), previous(batch), change = vector<Scalar>::Constant(batch, infinity);
  std::vector<Scalar> trace;
  std::vector<index> keep;
  keep.reserve(std::size_t(batch));
  vector<Scalar> latest(batch);

  const auto check_finite = [&](index step) {
    for (index j = 0; j < e.size(); ++j)
      if (!std::isfinite(e(j)) && !(may_be_unsupported && e(j) == infinity))
        throw not_finite(step == 0
                             ? detail::message("the energy of query column ", active[j], " is ",
                                               e(j), "; the energy cannot be evaluated there")
                             : detail::message("the energy of column ", active[j], " became ", e(j),
                                               " at step ", step,
                                               "; the step size is too large for this energy"));
  };

  system.evaluate(x, e, g);
  check_finite(0);
  previous = e;
  latest = e;
  if (options.record_trace) trace.assign(e.data(), e.data() + batch);

  for (index step = 0;; ++step) {
    // Judge every working column; the ones that stop are written out and leave.
    keep.clear();  // reserved for the whole batch: no allocation per step
    for (index j = 0; j < index(active.size()); ++j) {
      const bool unsupported = may_be_unsupported && e(j) == infinity;
      const column_state c{step, double(e(j)), double(previous(j)), double(g.col(j).norm()),
                           double(change(j))};
      stop_status s = unsupported ? stop_status::halted : stop.check(c);
      if (s == stop_status::running && step >= options.max_steps) s = stop_status::halted;
      if (s == stop_status::running) {
        keep.push_back(j);
        continue;
      }
      const index b = active[j];
      result.states.col(b) = x.col(j);
      result.energies(b) = e(j);
      result.steps(b) = step;
      result.converged(b) = s == stop_status::converged;
      result.unsupported(b) = unsupported;
    }
    if (keep.empty()) break;
    if (keep.size() != active.size()) {
      const index n = index(keep.size());
      for (index i = 0; i < n; ++i) {
        const index j = keep[i];  // j >= i, so moving down in place is safe
        x.col(i) = x.col(j);
        e(i) = e(j);
        change(i) = change(j);
        g.col(i) = g.col(j);
        if (per_column_clamp) system.free().col(i) = system.free().col(j);
        active[i] = active[j];
      }
      x.conservativeResize(Eigen::NoChange, n);
      g.conservativeResize(Eigen::NoChange, n);
      e.conservativeResize(n);
      change.conservativeResize(n);
      if (per_column_clamp) system.free().conservativeResize(Eigen::NoChange, n);
      active.resize(n);
    }

    x_before = x;
    integrator.do_step(system, x, e, g);
    change = (x - x_before).colwise().norm().transpose();
    previous = e;
    system.evaluate(x, e, g);
    check_finite(step + 1);

    if (options.record_trace) {
      for (index j = 0; j < e.size(); ++j) latest(active[j]) = e(j);
      trace.insert(trace.end(), latest.data(), latest.data() + batch);
    }
    if (options.progress) options.progress({step + 1, index(active.size()), batch});
  }

  if (options.record_trace)
    result.energy_trace =
        Eigen::Map<const matrix<Scalar>>(trace.data(), batch, index(trace.size()) / batch)
            .transpose();
  return result;
}

}  // namespace engram
