// The sincos random features (seed 001's best in its ablation): phi = (1/sqrt(Y)) [cos h_a ;
// sin h_a], h_a = <omega_a, sqrt(beta) x>, F = 2Y; cos(h - h') averages to the Gaussian kernel.
// d/dh_a: cos -> -sin, sin -> cos.
#pragma once

#include <cmath>
#include <cstddef>
#include <type_traits>

#include "engram/core/simd_math.hpp"
#include "engram/core/types.hpp"

namespace engram {

/// A float Eigen expression whose columns are contiguous in memory.
template <class X>
concept float_columns =
    bool(std::is_same_v<typename std::remove_cvref_t<X>::Scalar, float>) && contiguous_columns<X>;

struct sincos_features {
  static constexpr const char* name = "sincos";
  static constexpr index multiplicity = 2;  // F = 2Y: [cos ; sin]
  static constexpr bool exponential = false;

  template <class Scalar, class H, class Bias, class Zsq, class First, class Second>
  static void phi(const H& h, const Bias&, const Zsq&, Scalar y, First&& first, Second&& second) {
    const Scalar c = 1 / std::sqrt(y);
#if defined(__AVX2__) && defined(__FMA__)
    // In float on AVX2, sine and cosine in one pass with one range reduction (detail::sincos),
    // a column at a time; Eigen's sin() and cos() reduce the argument once each.
    if constexpr (std::is_same_v<Scalar, float> && contiguous_columns<H> &&
                  contiguous_columns<First> && contiguous_columns<Second>) {
      for (index j = 0; j < h.cols(); ++j)
        detail::sincos(std::size_t(h.rows()), h.col(j).data(), c, second.col(j).data(),
                       first.col(j).data());
      return;
    }
#endif
    first = c * h.array().cos().matrix();
    second = c * h.array().sin().matrix();
  }
#if defined(__AVX2__) && defined(__FMA__)
  /// A tile's share of project() in one pass over h (n x B), in float: s_b += <t, phi(h_b)>
  /// and, with `pullback`, h's storage overwritten by the pullback of t,
  /// (1/sqrt(Y)) (cos h_a t2_a - sin h_a t1_a). The features themselves are never stored.
  template <float_columns H, class Bias, class Zsq, class T, class S>
  static void project_shared(H&& h, const Bias&, const Zsq&, float y, const T& t1, const T& t2,
                             S& s, bool pullback) {
    const float c = 1 / std::sqrt(y);
    for (index j = 0; j < h.cols(); ++j)
      s(j) += detail::sincos_project(std::size_t(h.rows()), h.col(j).data(), c, t1.data(),
                                     t2.data(), pullback ? h.col(j).data() : nullptr);
  }
#endif
  template <class Scalar, class H, class Bias, class Zsq, class W, class U, class Weighted,
            class First, class Second>
  static void pullback(const H&, const Bias&, const Zsq&, Scalar, const W& w1, const W& w2,
                       const First& first, const Second& second, U&& u, Weighted&&) {
    u = (first.array() * w2.array() - second.array() * w1.array()).matrix();
  }
  template <class Scalar, class H, class Bias, class Zsq, class T, class U, class Weighted,
            class First, class Second>
  static void pullback_shared(const H&, const Bias&, const Zsq&, Scalar, const T& t1, const T& t2,
                              const First& first, const Second& second, U&& u, Weighted&&) {
    u = ((first.array().colwise() * t2.array()) - (second.array().colwise() * t1.array())).matrix();
  }
};

}  // namespace engram
