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
template <vector_field Field, class Scalar>
void euler_step(Field& field, Scalar h, matrix<Scalar>& x, matrix<Scalar>& dxdt,
                vector<Scalar>& e) {
  axpy(cpu{}, h, dxdt, x);
  evaluate_field(field, x, dxdt, e);
}
}  // namespace detail

template <real_scalar Scalar>
struct explicit_euler {
  using scalar_type = Scalar;
  Scalar step = Scalar(0.1);  // h

  void validate() const { require_positive("explicit_euler.step", step); }
  template <vector_field Field>
  no_stepper_state make_state(Field&, const matrix<Scalar>&) const {
    return {};
  }
  template <vector_field Field>
  void do_step(Field& field, no_stepper_state&, matrix<Scalar>& x, matrix<Scalar>& dxdt,
               vector<Scalar>& e) const {
    detail::euler_step(field, step, x, dxdt, e);
  }
};

/// Euler on the gradient flow, under the name the field uses.
template <real_scalar Scalar>
struct gradient_descent {
  using scalar_type = Scalar;
  Scalar step = Scalar(0.1);  // eta

  void validate() const { require_positive("gradient_descent.step", step); }
  template <vector_field Field>
  no_stepper_state make_state(Field&, const matrix<Scalar>&) const {
    return {};
  }
  template <vector_field Field>
  void do_step(Field& field, no_stepper_state&, matrix<Scalar>& x, matrix<Scalar>& dxdt,
               vector<Scalar>& e) const {
    detail::euler_step(field, step, x, dxdt, e);
  }
};

}  // namespace engram
