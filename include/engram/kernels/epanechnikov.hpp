// The Epanechnikov kernel on L2 similarity: k(xi, x) = ReLU(1 - beta/2 ||x - xi||^2)
// (seed 002 eq. 3), the optimal kernel of density estimation. It has compact support: k > 0
// exactly when ||x - xi|| < sqrt(2/beta), the support radius, which is what makes exact
// retrieval and the emergent-memory tools possible.
#pragma once

#include <cmath>
#include <concepts>

namespace engram {

struct epanechnikov {
  static constexpr const char* name = "epanechnikov";

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
};

/// A kernel whose support is a ball of radius support_radius(beta) around each memory.
template <class K>
concept compact_support_kernel = requires(double beta, double d2) {
  { K::support_radius(beta) } -> std::convertible_to<double>;
  { K::weight(beta, d2) } -> std::convertible_to<double>;
};

}  // namespace engram
