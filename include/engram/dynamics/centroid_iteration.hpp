// Exact retrieval for compact-support energies (seed 002 Algorithm 1): z <- the fixed-point map
// of the energy, for Epanechnikov the mean of the memories in the support B(z), repeated until
// z stops changing. It equals one gradient step with the state-dependent step
// eta(x) = (eps + sum_B (1 - beta/2 d^2)) / |B(x)| (Theorem 1), but writes the centroid directly
// so that a support of one memory returns that memory bit for bit. Clamped coordinates keep
// their values; columns with an empty support stay put, or take an Euler step of outside_step
// along the field. Theorem 1's basin: with beta = 2/(r - Delta)^2, r the smallest distance
// between memories and Delta < r/2, a query within Delta of a memory has that memory alone in
// its support, so one step returns it; for Delta >= r/2 the radius r - Delta no longer reaches
// every such query.
#pragma once

#include <vector>

#include "engram/core/concepts.hpp"
#include "engram/core/error.hpp"
#include "engram/core/types.hpp"
#include "engram/dynamics/field_call.hpp"

namespace engram {

/// A field that exposes a fixed-point map (the gradient flow of a compact-support energy).
template <class F>
concept fixed_point_field = vector_field<F> &&
    requires(F& f, const matrix<typename F::scalar_type>& x, matrix<typename F::scalar_type>& out,
             Eigen::Matrix<index, Eigen::Dynamic, 1>& counts) {
  f.fixed_point(x, out, counts);
};

template <real_scalar Scalar>
struct centroid_iteration {
  using scalar_type = Scalar;
  /// Euler step taken by columns whose support is empty. 0 leaves them in place (LSR, whose
  /// gradient vanishes there); the hybrid energy pulls them in with a positive step.
  Scalar outside_step = 0;

  void validate() const { require_non_negative("centroid_iteration.outside_step", outside_step); }

  struct state {
    matrix<Scalar> centroids;
    Eigen::Matrix<index, Eigen::Dynamic, 1> counts;
    void compact(const std::vector<index>&) {}  // scratch only
  };

  template <fixed_point_field Field>
  state make_state(Field&, const matrix<Scalar>&) const {
    return {};
  }

  template <fixed_point_field Field>
  void do_step(Field& field, state& s, matrix<Scalar>& x, matrix<Scalar>& dxdt,
               vector<Scalar>& e) const {
    field.fixed_point(x, s.centroids, s.counts);
    for (index j = 0; j < x.cols(); ++j) {
      if (s.counts(j) > 0)
        x.col(j) = s.centroids.col(j);
      else if (outside_step > 0)
        x.col(j) += outside_step * dxdt.col(j);  // dxdt is already masked
    }
    evaluate_field(field, x, dxdt, e);
  }
};

}  // namespace engram
