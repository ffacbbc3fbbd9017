// Stop rules, judged per column: energy change below eps (seed 001 sec. 4.2), gradient norm
// below delta, state change below tol or exactly zero (a fixed point), a step limit. Rules combine
// with || (stop when either says so) and && (stop when both do); a column counts as converged when
// a convergence criterion took part in stopping it, and as halted when only a limit did.
#pragma once

#include <cmath>

#include "engram/core/concepts.hpp"
#include "engram/core/error.hpp"

namespace engram::stop {

/// A rule is bounded when it halts every column after finitely many steps: after(n), and any
/// combination that cannot outlast one (integrate() refuses unbounded rules at compile time).
template <class S>
inline constexpr bool bounded_v = requires {
  requires S::bounded;
};

/// Converged once |E(x_t) - E(x_{t-1})| < eps (needs at least one step).
struct energy_change_rule {
  double eps;
  void validate() const { require_positive("stop::energy_change eps", eps); }
  stop_status check(const column_state& c) const {
    return c.step > 0 && std::abs(c.energy - c.previous_energy) < eps ? stop_status::converged
                                                                      : stop_status::running;
  }
};

/// Converged once ||grad E(x_t)|| < delta, clamped coordinates excluded.
struct gradient_norm_rule {
  double delta;
  void validate() const { require_positive("stop::gradient_norm delta", delta); }
  stop_status check(const column_state& c) const {
    return c.gradient_norm < delta ? stop_status::converged : stop_status::running;
  }
};

/// Converged once ||x_t - x_{t-1}|| < tol (needs at least one step).
struct state_change_rule {
  double tol;
  void validate() const { require_positive("stop::state_change tol", tol); }
  stop_status check(const column_state& c) const {
    return c.step > 0 && c.state_change < tol ? stop_status::converged : stop_status::running;
  }
};

/// Converged once a step leaves the state exactly unchanged: the end of an exact fixed-point
/// iteration such as seed 002 Algorithm 1.
struct fixed_point_rule {
  void validate() const {}
  stop_status check(const column_state& c) const {
    return c.step > 0 && c.state_change == 0 ? stop_status::converged : stop_status::running;
  }
};

/// Halted once `steps` steps have been taken.
struct after_rule {
  static constexpr bool bounded = true;
  index steps;
  void validate() const {
    if (steps < 0)
      throw invalid_argument(detail::message("stop::after steps is ", steps, "; it must be >= 0"));
  }
  stop_status check(const column_state& c) const {
    return c.step >= steps ? stop_status::halted : stop_status::running;
  }
};

template <stop_rule A, stop_rule B>
struct any_of {
  static constexpr bool bounded = bounded_v<A> || bounded_v<B>;
  A a;
  B b;
  void validate() const { a.validate(), b.validate(); }
  stop_status check(const column_state& c) const {
    const stop_status x = a.check(c), y = b.check(c);
    if (x == stop_status::converged || y == stop_status::converged) return stop_status::converged;
    if (x == stop_status::halted || y == stop_status::halted) return stop_status::halted;
    return stop_status::running;
  }
};

template <stop_rule A, stop_rule B>
struct all_of {
  static constexpr bool bounded = bounded_v<A> && bounded_v<B>;
  A a;
  B b;
  void validate() const { a.validate(), b.validate(); }
  stop_status check(const column_state& c) const {
    const stop_status x = a.check(c), y = b.check(c);
    if (x == stop_status::running || y == stop_status::running) return stop_status::running;
    return x == stop_status::converged || y == stop_status::converged ? stop_status::converged
                                                                      : stop_status::halted;
  }
};

inline energy_change_rule energy_change(double eps) {
  return {eps};
}
inline gradient_norm_rule gradient_norm(double delta) {
  return {delta};
}
inline after_rule after(index steps) {
  return {steps};
}
inline state_change_rule state_change(double tol) {
  return {tol};
}
inline fixed_point_rule fixed_point() {
  return {};
}

template <stop_rule A, stop_rule B>
any_of<A, B> operator||(A a, B b) {
  return {a, b};
}

template <stop_rule A, stop_rule B>
all_of<A, B> operator&&(A a, B b) {
  return {a, b};
}

}  // namespace engram::stop
