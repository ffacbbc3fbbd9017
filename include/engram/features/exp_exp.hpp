// Hyperbolic positive random features: phi = (1/sqrt(2Y)) [exp(h_a - beta ||x||^2) ;
// exp(-h_a - beta ||x||^2)], h_a = <omega_a, sqrt(beta) x>, F = 2Y: the positive features of
// exp_features with the antithetic direction -omega_a added, which lowers their variance.
#pragma once

#include <cmath>

#include "engram/core/types.hpp"

namespace engram {

struct exp_exp_features {
  static constexpr const char* name = "exp_exp";
  static constexpr index multiplicity = 2;  // F = 2Y: [exp(h - |z|^2) ; exp(-h - |z|^2)]
  static constexpr bool exponential = true;

  template <class Scalar, class H, class Bias, class Zsq, class First, class Second>
  static void phi(const H& h, const Bias&, const Zsq& zsq, Scalar y, First&& first,
                  Second&& second) {
    const Scalar c = 1 / std::sqrt(2 * y);
    first = c * (h.rowwise() - zsq).array().exp().matrix();
    second = c * ((-h).rowwise() - zsq).array().exp().matrix();
  }
  template <class Scalar, class H, class Bias, class Zsq, class W, class U, class Weighted,
            class First, class Second>
  static void pullback(const H&, const Bias&, const Zsq&, Scalar, const W& w1, const W& w2,
                       const First& first, const Second& second, U&& u, Weighted&& weighted) {
    u = (first.array() * w1.array() - second.array() * w2.array()).matrix();
    weighted += (first.array() * w1.array() + second.array() * w2.array()).matrix().colwise().sum();
  }
  template <class Scalar, class H, class Bias, class Zsq, class T, class U, class Weighted,
            class First, class Second>
  static void pullback_shared(const H&, const Bias&, const Zsq&, Scalar, const T& t1, const T& t2,
                              const First& first, const Second& second, U&& u, Weighted&&) {
    u = ((first.array().colwise() * t1.array()) - (second.array().colwise() * t2.array())).matrix();
  }
};

}  // namespace engram
