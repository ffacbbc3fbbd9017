// Positive random features (Choromanski et al.): phi_a = (1/sqrt(Y)) exp(h_a - beta ||x||^2),
// h_a = <omega_a, sqrt(beta) x>, F = Y. Every feature is positive, so sums never cancel, but
// they underflow once beta ||x||^2 nears the exponent range (random_features::check refuses
// such inputs). d phi_a / dx = phi_a (sqrt(beta) omega_a - 2 beta x): the -2 beta x term is
// carried by `weighted`, the sum of w_a phi_a.
#pragma once

#include <cmath>

#include "engram/core/types.hpp"

namespace engram {

struct exp_features {
  static constexpr const char* name = "exp";
  static constexpr index multiplicity = 1;  // F = Y
  static constexpr bool exponential = true;

  template <class Scalar, class H, class Bias, class Zsq, class First, class Second>
  static void phi(const H& h, const Bias&, const Zsq& zsq, Scalar y, First&& first, Second&&) {
    first = (1 / std::sqrt(y)) * (h.rowwise() - zsq).array().exp().matrix();
  }
  template <class Scalar, class H, class Bias, class Zsq, class W, class U, class Weighted,
            class First, class Second>
  static void pullback(const H&, const Bias&, const Zsq&, Scalar, const W& w1, const W&,
                       const First& first, const Second&, U&& u, Weighted&& weighted) {
    u = (first.array() * w1.array()).matrix();
    weighted += u.colwise().sum();
  }
  template <class Scalar, class H, class Bias, class Zsq, class T, class U, class Weighted,
            class First, class Second>
  static void pullback_shared(const H&, const Bias&, const Zsq&, Scalar, const T& t1, const T&,
                              const First& first, const Second&, U&& u, Weighted&&) {
    u = (first.array().colwise() * t1.array()).matrix();
  }
};

}  // namespace engram
