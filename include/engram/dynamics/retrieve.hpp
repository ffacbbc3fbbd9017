// retrieve(): descend an energy from a batch of queries until a stop rule ends each column. A
// thin wrapper over integrate(): the energy enters through its gradient flow x' = -grad E(x),
// with clamped coordinates zeroed (seed 001 eq. 5 and App. D: visible pixels stay fixed).
#pragma once

#include <functional>

#include "engram/core/concepts.hpp"
#include "engram/core/error.hpp"
#include "engram/core/types.hpp"
#include "engram/dynamics/gradient_flow.hpp"
#include "engram/dynamics/integrate.hpp"
#include "engram/dynamics/result.hpp"

namespace engram {

struct retrieve_options {
  /// Coordinates that never move: empty (none), D x 1 (shared by the batch) or D x B.
  mask clamp{};
  /// Called after every step; for long runs. integrate() takes any callable instead.
  std::function<void(const retrieval_progress&)> progress{};
  /// Keep the energy of every column at every step in result.energy_trace.
  bool record_trace = false;
};

namespace detail {
template <class Energy, class Stepper, class Stop>
retrieval_result<typename Energy::scalar_type> run_retrieve(
    gradient_flow<Energy>& flow, const Energy& energy,
    const Eigen::Ref<const matrix<typename Energy::scalar_type>>& queries, const Stepper& stepper,
    const Stop& stop, const retrieve_options& options) {
  energy.validate(queries);
  const integrate_options io{.record_trace = options.record_trace};
  if (options.progress)
    return integrate(
        flow, queries, stepper, stop, [&](const retrieval_progress& p) { options.progress(p); },
        io);
  return integrate(flow, queries, stepper, stop, no_observer{}, io);
}
}  // namespace detail

/// Descends `energy` from each column of `queries` (D x B) with `stepper` until `stop` ends it.
/// Throws an engram::error for bad input; a column whose step leaves the finite numbers is
/// reported in result.diverged(b).
template <energy_function Energy, class Stepper, stop_rule Stop>
requires stepper_for<Stepper, gradient_flow<Energy>> retrieval_result<typename Energy::scalar_type>
retrieve(const Energy& energy,
         const Eigen::Ref<const matrix<typename Energy::scalar_type>>& queries,
         const Stepper& stepper, const Stop& stop, const retrieve_options& options = {}) {
  gradient_flow<Energy> flow(energy, queries.cols(), options.clamp);
  return detail::run_retrieve(flow, energy, queries, stepper, stop, options);
}

/// The same, evaluating with the caller's workspace (made by energy.make_workspace()), so that
/// repeated retrievals reuse one set of scratch buffers.
template <energy_function Energy, class Stepper, stop_rule Stop>
requires stepper_for<Stepper, gradient_flow<Energy>> retrieval_result<typename Energy::scalar_type>
retrieve(const Energy& energy,
         const Eigen::Ref<const matrix<typename Energy::scalar_type>>& queries,
         const Stepper& stepper, const Stop& stop, const retrieve_options& options,
         typename Energy::workspace_type& workspace) {
  energy.check_workspace(workspace);
  gradient_flow<Energy> flow(energy, queries.cols(), options.clamp, workspace);
  return detail::run_retrieve(flow, energy, queries, stepper, stop, options);
}

}  // namespace engram
