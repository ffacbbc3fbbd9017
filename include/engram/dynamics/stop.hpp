// Stop rules, judged per column: energy change below eps (seed 001 sec. 4.2), gradient norm
// below delta, a step limit. Rules combine with || (stop when either says so) and && (stop
// when both do); a column counts as converged when a convergence criterion took part in
// stopping it, and as halted when only a limit did.
#pragma once

#include <cmath>

#include "engram/core/concepts.hpp"
#include "engram/core/error.hpp"

namespace engram::stop {

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

/// Halted once `steps` steps have been taken.
struct after_rule {
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

template <stop_rule A, stop_rule B>
any_of<A, B> operator||(A a, B b) {
  return {a, b};
}

template <stop_rule A, stop_rule B>
all_of<A, B> operator&&(A a, B b) {
  return {a, b};
}

}  // namespace engram::stop
