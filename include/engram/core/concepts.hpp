// The concepts that let retrieve() meet energies, integrators and stop rules without including
// them: an energy evaluates batches, an integrator moves states along a vector field, a stop
// rule judges one column at a time. All are checked at compile time; nothing is virtual.
#pragma once

#include <concepts>
#include <cstdint>

#include "engram/core/types.hpp"

namespace engram {

/// An energy over D-dimensional states: `evaluate(X, e, &g)` writes the B energies of the
/// columns of X (D x B) and, when g is not null, their gradients; `validate(X)` throws an
/// engram::error for a batch the energy cannot take.
template <class E>
concept energy_function = real_scalar<typename E::scalar_type> &&
    requires(const E& e, const matrix<typename E::scalar_type>& x,
             vector<typename E::scalar_type>& values, matrix<typename E::scalar_type>* g) {
  { e.dim() } -> std::convertible_to<index>;
  e.validate(x);
  e.evaluate(x, values, g);
};

/// Where a column stands after a stop rule has looked at it.
enum class stop_status : std::uint8_t {
  running,    ///< keep stepping
  converged,  ///< a convergence criterion holds
  halted,     ///< a limit was reached without convergence
};

/// An energy that may be +infinity at legitimate states (LSR with eps = 0 outside every
/// support) says so with `static constexpr bool reports_unsupported = true`; retrieve() then
/// stops such columns and reports them instead of raising not_finite.
template <class E>
inline constexpr bool reports_unsupported_v = requires {
  requires E::reports_unsupported;
};

/// What a stop rule sees of one column after `step` steps.
struct column_state {
  index step;              ///< steps taken so far
  double energy;           ///< E(x_t)
  double previous_energy;  ///< E(x_{t-1}); meaningless when step == 0
  double gradient_norm;    ///< ||grad E(x_t)|| with clamped coordinates zeroed
  double state_change;     ///< ||x_t - x_{t-1}||; +infinity when step == 0
};

template <class S>
concept stop_rule = requires(const S& s, const column_state& c) {
  { s.check(c) } -> std::same_as<stop_status>;
  s.validate();
};

/// A first-order system the integrators step: `evaluate(X, e, g)` gives energies and the
/// gradient whose negative is the vector field (clamped coordinates already zeroed).
template <class S>
concept gradient_system = requires(S& s, const matrix<typename S::scalar_type>& x,
                                   vector<typename S::scalar_type>& e,
                                   matrix<typename S::scalar_type>& g) {
  s.evaluate(x, e, g);
};

/// One step of a dynamics: `do_step(system, X, e, g)` moves X in place, given the energies e
/// and (masked) gradient g already evaluated at X.
template <class I, class System>
concept integrator_for = gradient_system<System> &&
    requires(const I& i, System& s, matrix<typename System::scalar_type>& x,
             const vector<typename System::scalar_type>& e,
             const matrix<typename System::scalar_type>& g) {
  i.do_step(s, x, e, g);
  i.validate();
};

}  // namespace engram
