// The Epanechnikov kernel on L2 similarity: k(xi, x) = ReLU(1 - beta/2 ||x - xi||^2)
// (seed 002 eq. 3), the optimal kernel of density estimation. It has compact support: k > 0
// exactly when ||x - xi|| < sqrt(2/beta), the support radius, which is what makes exact
// retrieval and the emergent-memory tools possible.
#pragma once

#include <cmath>

#include "engram/kernels/kernel.hpp"

namespace engram {

struct epanechnikov {
  static constexpr const char* name = "epanechnikov";
  using family = compact_family;
  /// weight_slope is the same everywhere in the support: sums over it can add plain patterns.
  static constexpr bool uniform_slope = true;

  /// sqrt(2 / beta): memories farther than this from x do not interact with it.
  template <class Scalar>
  static Scalar support_radius(Scalar beta) {
    return std::sqrt(Scalar(2) / beta);
  }

  /// 1 - beta/2 d^2, positive exactly inside the support (membership is strict).
  template <class Scalar>
  static Scalar weight(Scalar beta, Scalar squared_distance) {
    return Scalar(1) - Scalar(0.5) * beta * squared_distance;
  }

  /// d weight / d(d^2) = -beta/2, so grad_x k = -beta (x - xi) inside the support.
  template <class Scalar>
  static Scalar weight_slope(Scalar beta, Scalar) {
    return Scalar(-0.5) * beta;
  }
};

}  // namespace engram
