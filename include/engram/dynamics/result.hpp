// What integrate() and retrieve() return: one entry per column of the batch.
#pragma once

#include "engram/core/types.hpp"

namespace engram {

/// Reported to an observer after every step.
struct retrieval_progress {
  index step;    ///< steps taken so far
  index active;  ///< columns still moving
  index batch;   ///< columns in the batch
};
using integration_progress = retrieval_progress;

template <real_scalar Scalar>
struct retrieval_result {
  matrix<Scalar> states;  ///< D x B final states
  /// Lyapunov energy of each final state; empty for a field without one.
  vector<Scalar> energies;
  Eigen::Matrix<index, Eigen::Dynamic, 1> steps;     ///< steps each column took
  Eigen::Matrix<bool, Eigen::Dynamic, 1> converged;  ///< stopped by a convergence criterion
  /// Stopped because the energy is +infinity there: no memory supports the state (LSR with
  /// eps = 0). Always false for energies that are finite everywhere.
  Eigen::Matrix<bool, Eigen::Dynamic, 1> unsupported;
  /// Stopped because a step left the finite numbers (a step size too large for the field) or
  /// an adaptive stepper could not meet its tolerances; the column keeps its last finite state.
  Eigen::Matrix<bool, Eigen::Dynamic, 1> diverged_flags;
  /// (T + 1) x B: row t holds E(x_t) of each column; a stopped column repeats its final energy.
  /// Empty unless asked for.
  matrix<Scalar> energy_trace;

  bool all_converged() const { return converged.all(); }
  bool diverged(index b) const { return diverged_flags(b); }
  bool any_diverged() const { return diverged_flags.any(); }
};

template <real_scalar Scalar>
using integration_result = retrieval_result<Scalar>;

}  // namespace engram
