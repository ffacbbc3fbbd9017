// Heavy-ball momentum (Polyak 1964): v_{t+1} = mu v_t + h f(x_t), x_{t+1} = x_t + v_{t+1}.
// On a gradient flow it is gradient descent with momentum mu in [0, 1); v is per-column state,
// compacted with the working set.
#pragma once

#include <vector>

#include "engram/backend/cpu.hpp"
#include "engram/core/concepts.hpp"
#include "engram/core/error.hpp"
#include "engram/dynamics/field_call.hpp"

namespace engram {

template <real_scalar Scalar>
struct momentum {
  using scalar_type = Scalar;
  Scalar step = Scalar(0.1);         // h
  Scalar coefficient = Scalar(0.9);  // mu

  void validate() const {
    require_positive("momentum.step", step);
    if (!(coefficient >= Scalar(0) && coefficient < Scalar(1)))
      throw invalid_argument(
          detail::message("momentum.coefficient is ", coefficient, "; it must be in [0, 1)"));
  }

  struct state {
    matrix<Scalar> velocity;  // v, D x n
    void compact(const std::vector<index>& keep) {
      compact_columns(cpu{}, velocity, keep);
      velocity.conservativeResize(Eigen::NoChange, index(keep.size()));
    }
  };

  template <vector_field Field>
  state make_state(Field&, const matrix<Scalar>& x) const {
    return {matrix<Scalar>::Zero(x.rows(), x.cols())};
  }
  template <vector_field Field>
  void do_step(Field& field, state& s, matrix<Scalar>& x, matrix<Scalar>& dxdt,
               vector<Scalar>& e) const {
    s.velocity *= coefficient;
    axpy(cpu{}, step, dxdt, s.velocity);
    x += s.velocity;
    evaluate_field(field, x, dxdt, e);
  }
};

}  // namespace engram
