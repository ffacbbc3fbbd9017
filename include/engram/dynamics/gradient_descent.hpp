// Gradient descent with a fixed step (seed 001 eq. 5): x_t = x_{t-1} - eta grad E(x_{t-1}).
// Clamped coordinates have a zero gradient in the system, so they never move.
#pragma once

#include "engram/core/concepts.hpp"
#include "engram/core/error.hpp"

namespace engram {

template <real_scalar Scalar>
struct gradient_descent {
  using scalar_type = Scalar;
  Scalar step = Scalar(0.1);  // eta

  void validate() const { require_positive("gradient_descent.step", step); }

  template <gradient_system System>
  void do_step(System&, matrix<Scalar>& x, const vector<Scalar>&, const matrix<Scalar>& g) const {
    x.noalias() -= step * g;
  }
};

}  // namespace engram
