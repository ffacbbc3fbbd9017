// The scaling Q in E = -Q(S), S = eps + sum_mu k(xi_mu, x) (seed 001 eq. 3, seed 002 eq. 1):
//   log:      Q(S) = (1/beta) log S   the LSE and LSR energies
//   linear:   Q(S) = S / beta         the "no log" variants
//   identity: Q(S) = S                the power (Krotov-Hopfield) energies
// A scaling gives Q and Q' for additive and compact sums, and, for exponential sums that are
// only known through L = log S, Q(e^L) and the slope Q'(S) S, so the log scaling never leaves
// the log domain.
#pragma once

#include <cmath>
#include <concepts>

namespace engram {

struct log_scaling {
  static constexpr const char* name = "log";
  template <class Scalar>
  static Scalar value(Scalar sum, Scalar beta) {
    return std::log(sum) / beta;
  }
  template <class Scalar>
  static Scalar derivative(Scalar sum, Scalar beta) {
    return Scalar(1) / (beta * sum);
  }
  template <class Scalar>
  static Scalar value_of_log(Scalar log_sum, Scalar beta) {
    return log_sum / beta;
  }
  template <class Scalar>
  static Scalar slope_of_log(Scalar, Scalar beta) {  // Q'(S) S
    return Scalar(1) / beta;
  }
};

struct linear_scaling {
  static constexpr const char* name = "linear";
  template <class Scalar>
  static Scalar value(Scalar sum, Scalar beta) {
    return sum / beta;
  }
  template <class Scalar>
  static Scalar derivative(Scalar, Scalar beta) {
    return Scalar(1) / beta;
  }
  template <class Scalar>
  static Scalar value_of_log(Scalar log_sum, Scalar beta) {
    return std::exp(log_sum) / beta;
  }
  template <class Scalar>
  static Scalar slope_of_log(Scalar log_sum, Scalar beta) {
    return std::exp(log_sum) / beta;
  }
};

struct identity_scaling {
  static constexpr const char* name = "identity";
  template <class Scalar>
  static Scalar value(Scalar sum, Scalar) {
    return sum;
  }
  template <class Scalar>
  static Scalar derivative(Scalar, Scalar) {
    return Scalar(1);
  }
  template <class Scalar>
  static Scalar value_of_log(Scalar log_sum, Scalar) {
    return std::exp(log_sum);
  }
  template <class Scalar>
  static Scalar slope_of_log(Scalar log_sum, Scalar) {
    return std::exp(log_sum);
  }
};

/// Q with its derivative, in the linear and the log domain.
template <class Q>
concept scaling = requires(double s, double beta, float fs, float fbeta) {
  { Q::name } -> std::convertible_to<const char*>;
  { Q::value(s, beta) } -> std::same_as<double>;
  { Q::derivative(s, beta) } -> std::same_as<double>;
  { Q::value_of_log(s, beta) } -> std::same_as<double>;
  { Q::slope_of_log(s, beta) } -> std::same_as<double>;
  { Q::value(fs, fbeta) } -> std::same_as<float>;
  { Q::slope_of_log(fs, fbeta) } -> std::same_as<float>;
};

}  // namespace engram
