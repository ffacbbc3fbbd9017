// Long-double reference oracles, one per kernel family, computed from explicit differences and
// sums: independent of the GEMM expansions, tiling and streaming the library uses.
#pragma once

#include <Eigen/Core>

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <limits>
#include <vector>

namespace engram_test {

inline long double squared_distance(const Eigen::MatrixXd& xi, Eigen::Index mu,
                                    const Eigen::VectorXd& x) {
  long double s = 0;
  for (Eigen::Index i = 0; i < x.size(); ++i) {
    const long double d = (long double)x(i) - xi(i, mu);
    s += d * d;
  }
  return s;
}

inline long double dot(const Eigen::MatrixXd& xi, Eigen::Index mu, const Eigen::VectorXd& x) {
  long double s = 0;
  for (Eigen::Index i = 0; i < x.size(); ++i) s += (long double)xi(i, mu) * x(i);
  return s;
}

/// Exponential family: E(x) = -Q(eps + sum_mu k(xi_mu, x)) + R(x) for the Gaussian (l2) and the
/// dot-product kernel under the log or the linear scaling.
enum class model { lse_l2, lse_dot, linear_l2, linear_dot };

inline long double exponential_oracle(model m, const Eigen::MatrixXd& xi, const Eigen::VectorXd& x,
                                      double beta, double eps = 0) {
  const Eigen::Index k = xi.cols();
  const bool l2 = m == model::lse_l2 || m == model::linear_l2;
  std::vector<long double> a(static_cast<std::size_t>(k));
  long double amax = -std::numeric_limits<long double>::infinity();
  for (Eigen::Index mu = 0; mu < k; ++mu) {
    a[std::size_t(mu)] = beta * (l2 ? -0.5L * squared_distance(xi, mu, x) : dot(xi, mu, x));
    amax = std::max(amax, a[std::size_t(mu)]);
  }
  long double sum = 0;
  for (auto v : a) sum += std::exp(v - amax);
  long double half_sq = 0;
  for (Eigen::Index i = 0; i < x.size(); ++i) half_sq += 0.5L * x(i) * x(i);
  // log(eps + e^amax sum), kept in the log domain.
  const long double log_total =
      eps > 0 ? std::log(eps + std::exp(amax) * sum) : amax + std::log(sum);
  switch (m) {
    case model::lse_l2:
      return -log_total / beta;
    case model::lse_dot:
      return -log_total / beta + half_sq;
    case model::linear_l2:
      return -std::exp(log_total) / beta;
    case model::linear_dot:
      return -std::exp(log_total) / beta + half_sq;
  }
  return 0;
}

/// The gradient of the Gaussian LSE energy (seed 001 eq. 6): x - sum_mu softmax_mu(-beta/2
/// ||x - xi_mu||^2) xi_mu, summed in long double from explicit differences.
inline Eigen::VectorXd lse_gradient_oracle(const Eigen::MatrixXd& xi, const Eigen::VectorXd& x,
                                           double beta) {
  const Eigen::Index k = xi.cols();
  std::vector<long double> a(static_cast<std::size_t>(k));
  long double amax = -std::numeric_limits<long double>::infinity();
  for (Eigen::Index mu = 0; mu < k; ++mu) {
    a[std::size_t(mu)] = -0.5L * beta * squared_distance(xi, mu, x);
    amax = std::max(amax, a[std::size_t(mu)]);
  }
  long double sum = 0;
  for (auto v : a) sum += std::exp(v - amax);
  Eigen::VectorXd g(x.size());
  for (Eigen::Index i = 0; i < x.size(); ++i) {
    long double mean = 0;
    for (Eigen::Index mu = 0; mu < k; ++mu)
      mean += std::exp(a[std::size_t(mu)] - amax) / sum * xi(i, mu);
    g(i) = double(x(i) - mean);
  }
  return g;
}

/// Compact family: E = -(1/beta) log(eps + sum_mu w(d_mu^2)) for a weight w that is 0 outside
/// the support; +inf when the argument of the log is 0. LSR is w = ReLU(1 - beta/2 d^2).
template <class Weight>
long double compact_oracle(const Eigen::MatrixXd& xi, const Eigen::VectorXd& x, double beta,
                           double eps, Weight&& weight) {
  long double s = eps;
  for (Eigen::Index mu = 0; mu < xi.cols(); ++mu) s += weight(squared_distance(xi, mu, x));
  return s > 0 ? -std::log(s) / beta : std::numeric_limits<long double>::infinity();
}

inline long double lsr_oracle(const Eigen::MatrixXd& xi, const Eigen::VectorXd& x, double beta,
                              double eps) {
  return compact_oracle(xi, x, beta, eps,
                        [&](long double d2) { return std::max(0.0L, 1.0L - 0.5L * beta * d2); });
}

/// Additive family under the identity scaling: E = -sum_mu F(<xi_mu, x>), F(s) = s^n or
/// ReLU(s)^n.
inline long double power_oracle(const Eigen::MatrixXd& xi, const Eigen::VectorXd& x, int n,
                                bool rectified) {
  long double e = 0;
  for (Eigen::Index mu = 0; mu < xi.cols(); ++mu) {
    const long double s = dot(xi, mu, x);
    e -= rectified && s <= 0 ? 0.0L : std::pow(s, n);
  }
  return e;
}

}  // namespace engram_test
