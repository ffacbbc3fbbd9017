// The power (Krotov-Hopfield 2016) separation functions on dot similarity s = <xi, x>:
//   power<n>:           F(s) = s^n,          F'(s) = n s^(n-1)
//   rectified_power<n>: F(s) = ReLU(s)^n,    F'(s) = n ReLU(s)^(n-1)
// (SCIENCE.md section 1; seed 001 eq. 3 with F a polynomial). With the identity scaling
// E = -sum_mu F(<xi_mu, x>), grad E = -sum_mu F'(s_mu) xi_mu. beta plays no part.
#pragma once

#include "engram/kernels/kernel.hpp"

namespace engram {

namespace detail {
template <int N, class Scalar>
constexpr Scalar integer_power(Scalar s) {
  Scalar r(1);
  for (int i = 0; i < N; ++i) r *= s;
  return r;
}
}  // namespace detail

template <int N>
struct power {
  static_assert(N >= 1, "power<N>: the degree N must be at least 1");
  static constexpr const char* name = "power";
  static constexpr int degree = N;
  using family = additive_family;
  static constexpr similarity_kind similarity = similarity_kind::dot;

  template <class Scalar>
  static Scalar value(Scalar, Scalar s) {
    return detail::integer_power<N>(s);
  }
  template <class Scalar>
  static Scalar derivative(Scalar, Scalar s) {
    return Scalar(N) * detail::integer_power<N - 1>(s);
  }
};

template <int N>
struct rectified_power {
  static_assert(N >= 1, "rectified_power<N>: the degree N must be at least 1");
  static constexpr const char* name = "rectified_power";
  static constexpr int degree = N;
  using family = additive_family;
  static constexpr similarity_kind similarity = similarity_kind::dot;

  template <class Scalar>
  static Scalar value(Scalar, Scalar s) {
    return s > Scalar(0) ? detail::integer_power<N>(s) : Scalar(0);
  }
  template <class Scalar>
  static Scalar derivative(Scalar, Scalar s) {
    return s > Scalar(0) ? Scalar(N) * detail::integer_power<N - 1>(s) : Scalar(0);
  }
};

}  // namespace engram
