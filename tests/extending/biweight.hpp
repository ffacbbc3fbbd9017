// A kernel written in user code: the biweight kernel k = ReLU(1 - beta/2 d^2)^2, compact like
// Epanechnikov's but with a smooth edge. It satisfies engram::compact_kernel: a name, the family,
// the support radius, k as a function of d^2 = ||x - xi||^2, and its slope dk/d(d^2).
#pragma once

#include <engram/kernels/kernel.hpp>

#include <cmath>

struct biweight {
  static constexpr const char* name = "biweight";
  using family = engram::compact_family;

  template <class Scalar>
  static Scalar support_radius(Scalar beta) {
    return std::sqrt(Scalar(2) / beta);
  }
  template <class Scalar>
  static Scalar weight(Scalar beta, Scalar squared_distance) {  // k as a function of d^2
    const Scalar u = Scalar(1) - Scalar(0.5) * beta * squared_distance;
    return u > Scalar(0) ? u * u : Scalar(0);
  }
  template <class Scalar>
  static Scalar weight_slope(Scalar beta, Scalar squared_distance) {  // dk / d(d^2)
    const Scalar u = Scalar(1) - Scalar(0.5) * beta * squared_distance;
    return u > Scalar(0) ? -beta * u : Scalar(0);
  }
};
