// The concepts that let integrate() meet energies, vector fields, steppers and stop rules
// without including them: an energy evaluates batches, a vector field gives dX/dt (and maybe a
// Lyapunov energy), a stepper moves states along a field, a stop rule judges one column at a
// time. All are checked at compile time; nothing is virtual.
#pragma once

#include <concepts>
#include <cstdint>
#include <type_traits>
#include <utility>
#include <vector>

#include "engram/core/types.hpp"

namespace engram {

/// An energy over D-dimensional states: `evaluate(X, e, &g, workspace)` writes the B energies of
/// the columns of X (D x B) and, when g is not null, their gradients, using scratch from a
/// workspace made by `make_workspace()`; `validate(X)` throws an engram::error for a batch the
/// energy cannot take.
template <class E>
concept energy_function = real_scalar<typename E::scalar_type> &&
    requires(const E& e, const matrix<typename E::scalar_type>& x,
             vector<typename E::scalar_type>& values, matrix<typename E::scalar_type>* g,
             typename E::workspace_type& ws) {
  { e.dim() } -> std::convertible_to<index>;
  { e.make_workspace() } -> std::same_as<typename E::workspace_type>;
  e.validate(x);
  e.evaluate(x, values, g, ws);
};

/// A vector field on D x n batches of states: `field(X, dXdt)` writes dX/dt for every column.
/// It may keep per-column state (a clamp mask), compacted with `compact(keep)` when columns stop.
template <class F>
concept vector_field = requires {
  typename F::scalar_type;
}
&&(std::is_same_v<typename F::scalar_type, float> ||
   std::is_same_v<typename F::scalar_type,
                  double>)&&requires(F& f, const matrix<typename F::scalar_type>& x,
                                     matrix<typename F::scalar_type>& dxdt) {
  { f.dim() } -> std::convertible_to<index>;
  f(x, dxdt);
};

/// A vector field with a Lyapunov energy, non-increasing along its trajectories:
/// `field(X, dXdt, e)` writes both in one pass (the gradient flow of an energy).
template <class F>
concept lyapunov_field = vector_field<F> &&
    requires(F& f, const matrix<typename F::scalar_type>& x, matrix<typename F::scalar_type>& dxdt,
             vector<typename F::scalar_type>& e) {
  f(x, dxdt, e);
};

/// A field over discrete spin states (Hopfield, Glauber; seed 004): columns of X hold spins
/// from `alphabet()` ({-1, 1}, or {-1, 0, 1} for sparse priors). Besides dX/dt (the
/// zero-temperature best response minus the state: zero exactly at a fixed point of sign dynamics)
/// and the energy, it answers single-spin questions during a sweep: after `begin_sweep(X)`,
/// `local_gains(X, b, i, g)` writes g[k] = -E(X with X(i, b) = alphabet()[k]) + const for each
/// value k (the constant depends on everything but spin i), and `set_spin(X, b, i, v)` sets a spin
/// and keeps the field's caches (local fields, overlaps) exact.
template <class F>
concept spin_field = vector_field<F> &&
    requires(F& f, matrix<typename F::scalar_type>& x, index b, typename F::scalar_type* gains,
             typename F::scalar_type v) {
  { f.alphabet().size() } -> std::convertible_to<std::size_t>;
  f.begin_sweep(x);
  f.local_gains(x, b, b, gains);
  f.set_spin(x, b, b, v);
};

/// An energy whose memory can change: `e.generation()` changes with every add() or remove()
/// of the memory it reads. A gradient flow compares it at every evaluation.
template <class E>
concept has_generation = requires(const E& e) {
  { e.generation() } -> std::convertible_to<std::uint64_t>;
};

/// An energy (or field) with a ceiling: `e.ceiling()` is its value at a state that no memory
/// reaches (+infinity for LSR with eps = 0 outside every support; DrDAM's clip at
/// -(1/beta) log eps, where the random-feature sum carries no signal). integrate() stops a
/// column whose energy reaches the ceiling and reports it unsupported instead of calling it
/// converged (the gradient there is zero) or diverged (+infinity).
template <class E>
concept has_ceiling = requires(const E& e) {
  { e.ceiling() } -> std::convertible_to<typename E::scalar_type>;
};

/// One stepper, its per-column state made by `make_state(field, X)`: `do_step(field, state, X,
/// dXdt, e)` advances X in place, given dXdt (and e, for a Lyapunov field) at X, and leaves them
/// evaluated at the new X; `state.compact(keep)` follows the working set.
template <class S, class F>
concept stepper_for = vector_field<F> &&
    requires(const S& s, F& f, const matrix<typename F::scalar_type>& x0) {
  s.validate();
  s.make_state(f, x0);
} && requires(const S& s, F& f,
              decltype(std::declval<const S&>().make_state(
                  std::declval<F&>(),
                  std::declval<const matrix<typename F::scalar_type>&>()))& state,
              matrix<typename F::scalar_type>& x, matrix<typename F::scalar_type>& dxdt,
              vector<typename F::scalar_type>& e, const std::vector<index>& keep) {
  s.do_step(f, state, x, dxdt, e);
  state.compact(keep);
};

/// Where a column stands after a stop rule has looked at it.
enum class stop_status : std::uint8_t {
  running,    ///< keep stepping
  converged,  ///< a convergence criterion holds
  halted,     ///< a limit was reached without convergence
};

/// What a stop rule sees of one column after `step` steps.
struct column_state {
  index step;              ///< steps taken so far
  double energy;           ///< E(x_t); NaN for a field without a Lyapunov energy
  double previous_energy;  ///< E(x_{t-1}); meaningless when step == 0
  double gradient_norm;  ///< ||dx/dt|| (||grad E|| for a gradient flow, clamped coordinates zeroed)
  double state_change;   ///< ||x_t - x_{t-1}||; +infinity when step == 0
};

template <class S>
concept stop_rule = requires(const S& s, const column_state& c) {
  { s.check(c) } -> std::same_as<stop_status>;
  s.validate();
};

}  // namespace engram
