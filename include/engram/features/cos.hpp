// The cos random features for k(x, x') = exp(-beta/2 ||x - x'||^2) (Rahimi & Recht; seed 001
// sec. 3): phi_a(x) = sqrt(2/Y) cos(h_a + b_a), h_a = <omega_a, sqrt(beta) x>, F = Y.
// d phi_a / dh_a = -sqrt(2/Y) sin(h_a + b_a).
#pragma once

#include <cmath>

#include "engram/core/types.hpp"

namespace engram {

struct cos_features {
  static constexpr const char* name = "cos";
  static constexpr index multiplicity = 1;  // F = Y
  static constexpr bool exponential = false;

  /// phi of one tile: h (n x b), the tile's phases, zsq = beta ||x||^2 (1 x b), y = Y.
  template <class Scalar, class H, class Bias, class Zsq, class First, class Second>
  static void phi(const H& h, const Bias& bias, const Zsq&, Scalar y, First&& first, Second&&) {
    first = std::sqrt(2 / y) * (h.colwise() + bias).array().cos().matrix();
  }
  /// u with u_ab = w_ab d phi_a(x_b) / dh_ab for weights w (n x b); `first` holds phi.
  template <class Scalar, class H, class Bias, class Zsq, class W, class U, class Weighted,
            class First, class Second>
  static void pullback(const H& h, const Bias& bias, const Zsq&, Scalar y, const W& w1, const W&,
                       const First&, const Second&, U&& u, Weighted&&) {
    u = (-std::sqrt(2 / y) * (h.colwise() + bias).array().sin() * w1.array()).matrix();
  }
  /// The same for one weight vector t shared by all columns.
  template <class Scalar, class H, class Bias, class Zsq, class T, class U, class Weighted,
            class First, class Second>
  static void pullback_shared(const H& h, const Bias& bias, const Zsq&, Scalar y, const T& t1,
                              const T&, const First&, const Second&, U&& u, Weighted&&) {
    u = (-std::sqrt(2 / y) * (h.colwise() + bias).array().sin()).matrix();
    u.array().colwise() *= t1.array();
  }
};

}  // namespace engram
