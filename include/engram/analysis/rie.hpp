// Estimators of S = xi xi^T / N from Y = xi xi^T / sqrt(N) + sqrt(Delta) Z (seed 004), and their
// matrix MSE, mMSE = ||S^ - S||_F^2 / (2 N).
//   rie_estimate: the rotation-invariant estimator (Bun, Allez, Bouchaud, Potters 2016) of S from
//       the noisy matrix Y / sqrt(N) = S + sqrt(Delta) W (W = Z / sqrt(N), semicircle on [-2, 2]):
//       keep the eigenvectors, shrink each eigenvalue to
//           lambda^ = lambda - 2 Delta H[rho](lambda),   H[rho](lambda) = p.v. int rho(x) / (lambda
//           - x) dx,
//       with the empirical spectral density smoothed by a Cauchy kernel of width eta:
//           H(lambda_k) = (1/N) sum_j (lambda_k - lambda_j) / ((lambda_k - lambda_j)^2 + eta^2).
//       For pure noise rho is the semicircle of radius 2 sqrt(Delta), H(lambda) = lambda / (2
//       Delta) inside it, and every eigenvalue shrinks to 0: this fixes the transform's
//       normalisation.
//   naive_estimate: Y / sqrt(N) itself.
#pragma once

#include <cmath>
#include <limits>

#include <Eigen/Eigenvalues>

#include "engram/core/error.hpp"
#include "engram/core/types.hpp"

namespace engram {

namespace detail {

template <class Scalar>
void require_square_symmetric(const matrix<Scalar>& y, const char* who) {
  if (y.rows() != y.cols() || y.rows() < 1)
    throw dimension_mismatch(
        message(who, ": Y is ", y.rows(), " x ", y.cols(), "; it must be square, N >= 1"));
  require_finite("Y", y);
  const Scalar asym = (y - y.transpose()).cwiseAbs().maxCoeff();
  if (asym > 64 * std::numeric_limits<Scalar>::epsilon() * y.cwiseAbs().maxCoeff())
    throw invalid_argument(message(who, ": Y must be symmetric (max |Y - Y^T| = ", asym, ")"));
}

}  // namespace detail

/// What the rotation-invariant estimator computed.
template <real_scalar Scalar>
struct rie_result {
  matrix<Scalar> estimate;  ///< S^ = O diag(lambda^) O^T
  vector<double> observed;  ///< the eigenvalues lambda of Y / sqrt(N), ascending
  vector<double> cleaned;   ///< lambda^ for each
  double width = 0;         ///< eta, the Cauchy kernel's width
};

/// The RIE of S from Y at noise variance `delta`; `width` <= 0 picks eta = N^{-1/2}.
template <real_scalar Scalar>
rie_result<Scalar> rie_estimate(const matrix<Scalar>& y, double delta, double width = 0) {
  detail::require_square_symmetric(y, "rie_estimate");
  require_non_negative("rie_estimate Delta", delta);
  const index n = y.rows();
  if (!std::isfinite(width))
    throw invalid_argument(detail::message("rie_estimate width is ", width, "; it must be finite"));
  const double eta = width > 0 ? width : 1.0 / std::sqrt(double(n));
  const matrix<double> scaled = y.template cast<double>() / std::sqrt(double(n));
  Eigen::SelfAdjointEigenSolver<matrix<double>> solver(scaled);
  rie_result<Scalar> out;
  out.width = eta;
  out.observed = solver.eigenvalues();
  out.cleaned.resize(n);
  for (index k = 0; k < n; ++k) {
    double h = 0;
    for (index j = 0; j < n; ++j) {
      const double d = out.observed(k) - out.observed(j);
      h += d / (d * d + eta * eta);
    }
    out.cleaned(k) = out.observed(k) - 2 * delta * h / double(n);
  }
  const matrix<double>& o = solver.eigenvectors();
  out.estimate = (o * out.cleaned.asDiagonal() * o.transpose()).template cast<Scalar>();
  return out;
}

/// Y / sqrt(N): the estimate that ignores the noise.
template <real_scalar Scalar>
matrix<Scalar> naive_estimate(const matrix<Scalar>& y) {
  detail::require_square_symmetric(y, "naive_estimate");
  return y / Scalar(std::sqrt(double(y.rows())));
}

/// mMSE = ||S^ - xi xi^T / N||_F^2 / (2 N).
template <real_scalar Scalar>
double matrix_mse(const matrix<Scalar>& estimate, const matrix<Scalar>& xi) {
  const index n = xi.rows();
  if (estimate.rows() != n || estimate.cols() != n)
    throw dimension_mismatch(detail::message("matrix_mse: the estimate is ", estimate.rows(), " x ",
                                             estimate.cols(), "; xi has N = ", n));
  const matrix<double> s = (xi * xi.transpose()).template cast<double>() / double(n);
  return (estimate.template cast<double>() - s).squaredNorm() / (2.0 * double(n));
}

}  // namespace engram
