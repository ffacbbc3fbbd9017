// integrate(): step a vector field from a batch of states until a stop rule ends each column
// (Boost.Odeint's integrate functions are the model). Columns stop one by one and leave the
// working set, with the field's and the stepper's per-column state, so converged columns cost
// nothing; a column whose step leaves the finite numbers is reported diverged and the others
// go on. The loop allocates nothing while the working set keeps its size.
#pragma once

#include <cmath>
#include <limits>
#include <vector>

#include "engram/backend/cpu.hpp"
#include "engram/core/concepts.hpp"
#include "engram/core/error.hpp"
#include "engram/core/types.hpp"
#include "engram/dynamics/field_call.hpp"
#include "engram/dynamics/result.hpp"
#include "engram/dynamics/stop.hpp"

namespace engram {

struct integrate_options {
  /// Keep the energy of every column at every step in result.energy_trace.
  bool record_trace = false;
};

/// Does nothing; the default observer.
struct no_observer {
  void operator()(const integration_progress&) const {}
};

/// Steps `field` from the columns of `initial` (D x B) with `stepper` until `stop` ends each
/// column, calling observer(progress) after every step. Throws an engram::error for bad input
/// and not_finite when the field cannot be evaluated at a starting state.
template <vector_field Field, class Stepper, stop_rule Stop, class Observer = no_observer>
requires stepper_for<Stepper, Field> && std::invocable<Observer&, const integration_progress&>
    retrieval_result<typename Field::scalar_type> integrate(
        Field& field, const Eigen::Ref<const matrix<typename Field::scalar_type>>& initial,
        const Stepper& stepper, const Stop& stop, Observer observer = {},
        const integrate_options& options = {}) {
  static_assert(stop::bounded_v<Stop>,
                "integrate: the stop rule has no step limit; combine it with stop::after(n)");
  using Scalar = typename Field::scalar_type;
  constexpr bool has_energy = lyapunov_field<Field>;
  constexpr bool may_be_unsupported = has_ceiling<Field>;
  constexpr Scalar infinity = std::numeric_limits<Scalar>::infinity();
  const index dim = initial.rows(), batch = initial.cols();
  require_rows("initial states", dim, field.dim(), "the field's dimension");
  require_columns("initial states", batch);
  require_finite("initial states", initial);
  stepper.validate();
  stop.validate();

  retrieval_result<Scalar> result;
  result.states = initial;
  if (has_energy) result.energies.resize(batch);
  result.steps.setZero(batch);
  result.converged.setConstant(batch, false);
  result.unsupported.setConstant(batch, false);
  result.diverged_flags.setConstant(batch, false);

  std::vector<index> active(static_cast<std::size_t>(batch)), keep;
  for (index b = 0; b < batch; ++b) active[std::size_t(b)] = b;
  keep.reserve(std::size_t(batch));
  matrix<Scalar> x = initial, dxdt(dim, batch), x_before(dim, batch);
  vector<Scalar> e = vector<Scalar>::Zero(batch), previous(batch), latest(batch);
  vector<Scalar> change = vector<Scalar>::Constant(batch, infinity);
  std::vector<Scalar> trace;

  const Scalar ceiling = [&] {
    if constexpr (may_be_unsupported)
      return Scalar(field.ceiling());
    else
      return infinity;
  }();
  const auto at_ceiling = [&](Scalar energy) { return may_be_unsupported && energy >= ceiling; };
  evaluate_field(field, x, dxdt, e);
  for (index j = 0; j < batch; ++j) {
    const bool bad_energy = has_energy && !std::isfinite(e(j)) && !at_ceiling(e(j));
    if (bad_energy || !dxdt.col(j).allFinite())
      throw not_finite(has_energy
                           ? detail::message("the energy of query column ", j, " is ", e(j),
                                             "; the energy cannot be evaluated there")
                           : detail::message("the field at column ", j,
                                             " is not finite; it cannot be evaluated there"));
  }
  auto stepper_state = stepper.make_state(field, x);
  previous = e;
  latest = e;
  if (options.record_trace && has_energy) trace.assign(e.data(), e.data() + batch);

  // Columns judged at step t with status s are written out; diverged ones keep x_before.
  const auto write_out = [&](index j, index step, bool converged, bool unsupported, bool diverged) {
    const index b = active[std::size_t(j)];
    result.states.col(b) = diverged ? x_before.col(j) : x.col(j);
    if (has_energy) result.energies(b) = diverged ? previous(j) : e(j);
    result.steps(b) = diverged ? step - 1 : step;
    result.converged(b) = converged;
    result.unsupported(b) = unsupported;
    result.diverged_flags(b) = diverged;
  };

  for (index step = 0;; ++step) {
    keep.clear();  // reserved for the whole batch: no allocation per step
    for (index j = 0; j < index(active.size()); ++j) {
      bool diverged = step > 0 && !(x.col(j).allFinite() && dxdt.col(j).allFinite());
      if constexpr (has_energy)
        diverged = diverged || std::isnan(e(j)) || e(j) == -infinity ||
                   (e(j) == infinity && !at_ceiling(e(j)));
      if constexpr (requires { stepper_state.failed; })
        diverged = diverged || stepper_state.failed(j);
      if (diverged) {
        write_out(j, step, false, false, true);
        continue;
      }
      const bool unsupported = has_energy && at_ceiling(e(j));
      const column_state c{step,
                           has_energy ? double(e(j)) : std::numeric_limits<double>::quiet_NaN(),
                           double(previous(j)), double(dxdt.col(j).norm()), double(change(j))};
      const stop_status s = unsupported ? stop_status::halted : stop.check(c);
      if (s == stop_status::running) {
        keep.push_back(j);
        continue;
      }
      write_out(j, step, s == stop_status::converged, unsupported, false);
    }
    if (keep.empty()) break;
    if (keep.size() != active.size()) {
      const index n = index(keep.size());
      compact_columns(cpu{}, x, keep);
      compact_columns(cpu{}, dxdt, keep);
      for (index i = 0; i < n; ++i) {
        const index j = keep[std::size_t(i)];
        e(i) = e(j);
        change(i) = change(j);
        active[std::size_t(i)] = active[std::size_t(j)];
      }
      x.conservativeResize(Eigen::NoChange, n);
      dxdt.conservativeResize(Eigen::NoChange, n);
      x_before.resize(dim, n);
      e.conservativeResize(n);
      previous.resize(n);
      change.conservativeResize(n);
      active.resize(std::size_t(n));
      if constexpr (requires { field.compact(keep); }) field.compact(keep);
      stepper_state.compact(keep);
    }

    x_before = x;
    previous = e;
    stepper.do_step(field, stepper_state, x, dxdt, e);
    column_distances(cpu{}, x, x_before, change);

    if (options.record_trace && has_energy) {
      for (index j = 0; j < e.size(); ++j) latest(active[std::size_t(j)]) = e(j);
      trace.insert(trace.end(), latest.data(), latest.data() + batch);
    }
    observer(integration_progress{step + 1, index(active.size()), batch});
  }

  if (options.record_trace && has_energy)
    result.energy_trace =
        Eigen::Map<const matrix<Scalar>>(trace.data(), batch, index(trace.size()) / batch)
            .transpose();
  return result;
}

}  // namespace engram
