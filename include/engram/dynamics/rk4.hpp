// The classic fourth-order Runge-Kutta method:
//   k1 = f(x), k2 = f(x + h/2 k1), k3 = f(x + h/2 k2), k4 = f(x + h k3),
//   x <- x + h/6 (k1 + 2 k2 + 2 k3 + k4).
// Four field evaluations a step (the fourth, at the new state, is the next step's k1).
#pragma once

#include <vector>

#include "engram/backend/cpu.hpp"
#include "engram/core/concepts.hpp"
#include "engram/core/error.hpp"
#include "engram/dynamics/field_call.hpp"

namespace engram {

template <real_scalar Scalar>
struct rk4 {
  using scalar_type = Scalar;
  Scalar step = Scalar(0.1);  // h

  void validate() const { require_positive("rk4.step", step); }

  /// Stage scratch: nothing here outlives a step, so compaction only trims the columns.
  struct state {
    matrix<Scalar> k2, k3, k4, trial;
    vector<Scalar> e;
    void compact(const std::vector<index>& keep) {
      const index n = index(keep.size());
      for (matrix<Scalar>* m : {&k2, &k3, &k4, &trial}) m->conservativeResize(Eigen::NoChange, n);
    }
  };

  template <vector_field Field>
  state make_state(Field&, const matrix<Scalar>& x) const {
    const index d = x.rows(), n = x.cols();
    return {matrix<Scalar>(d, n), matrix<Scalar>(d, n), matrix<Scalar>(d, n), matrix<Scalar>(d, n),
            vector<Scalar>(n)};
  }

  template <vector_field Field>
  void do_step(Field& field, state& s, matrix<Scalar>& x, matrix<Scalar>& dxdt,
               vector<Scalar>& e) const {
    const Scalar h = step, half = step / 2;
    const matrix<Scalar>& k1 = dxdt;
    s.trial = x + half * k1;
    evaluate_field(field, s.trial, s.k2, s.e);
    s.trial = x + half * s.k2;
    evaluate_field(field, s.trial, s.k3, s.e);
    s.trial = x + h * s.k3;
    evaluate_field(field, s.trial, s.k4, s.e);
    x += (h / 6) * (k1 + 2 * s.k2 + 2 * s.k3 + s.k4);
    evaluate_field(field, x, dxdt, e);
  }
};

}  // namespace engram
