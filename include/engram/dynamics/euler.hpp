// Explicit Euler, x_{t+1} = x_t + h f(x_t). On the gradient flow of an energy it is gradient
// descent with a fixed step (seed 001 eq. 5): x_t = x_{t-1} - eta grad E(x_{t-1}); clamped
// coordinates have f = 0, so they never move.
#pragma once

#include "engram/backend/cpu.hpp"
#include "engram/core/concepts.hpp"
#include "engram/core/error.hpp"
#include "engram/dynamics/field_call.hpp"

namespace engram {

namespace detail {
struct euler_names {
  static constexpr const char* step = "explicit_euler.step";
};
struct descent_names {
  static constexpr const char* step = "gradient_descent.step";
};
}  // namespace detail

/// x <- x + h f(x); `Names` only names the step in error messages.
template <real_scalar Scalar, class Names>
struct basic_euler {
  using scalar_type = Scalar;
  Scalar step = Scalar(0.1);  // h (eta for gradient descent)

  void validate() const { require_positive(Names::step, step); }
  template <vector_field Field>
  no_stepper_state make_state(Field&, const matrix<Scalar>&) const {
    return {};
  }
  template <vector_field Field>
  void do_step(Field& field, no_stepper_state&, matrix<Scalar>& x, matrix<Scalar>& dxdt,
               vector<Scalar>& e) const {
    axpy(cpu{}, step, dxdt, x);
    evaluate_field(field, x, dxdt, e);
  }
};

template <real_scalar Scalar>
using explicit_euler = basic_euler<Scalar, detail::euler_names>;

/// Euler on the gradient flow, under the name the field uses.
template <real_scalar Scalar>
using gradient_descent = basic_euler<Scalar, detail::descent_names>;

}  // namespace engram
