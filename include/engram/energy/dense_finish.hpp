// The last stage of a dense energy: energies and gradients of each column from the partial
// state the backend reduced (the formulas of engram/energy/dense_energy.hpp). Column loops of
// O(D B) work, against the O(D K B) of the reduction.
#pragma once

#include <cmath>
#include <limits>
#include <type_traits>

#include "engram/backend/exp_partial.hpp"
#include "engram/backend/sum_partial.hpp"
#include "engram/core/types.hpp"
#include "engram/kernels/kernel.hpp"
#include "engram/kernels/scaling.hpp"

namespace engram {

/// Exponential kernels. The partial's exponents exclude -beta q(x) (q = 1/2 ||x||^2 for l2).
template <exponential_kernel Kernel, scaling Scaling, real_scalar Scalar>
void finish_exponential(const exp_partial<Scalar>& p, const Eigen::Ref<const matrix<Scalar>>& x,
                        Scalar beta, Scalar eps, Eigen::Ref<vector<Scalar>> energies,
                        matrix<Scalar>* gradient) {
  constexpr bool l2 = Kernel::similarity == similarity_kind::l2;
  const Scalar log_eps = eps > Scalar(0) ? std::log(eps) : -std::numeric_limits<Scalar>::infinity();
  for (index b = 0; b < x.cols(); ++b) {
    const Scalar half_sq = Scalar(0.5) * x.col(b).squaredNorm();
    const Scalar q = l2 ? half_sq : Scalar(0);
    const Scalar regulariser = l2 ? Scalar(0) : half_sq;
    const Scalar log_terms = p.max(b) + std::log(p.sum(b));  // log sum_mu k_mu + beta q
    // log(eps e^(beta q) + sum_mu k_mu e^(beta q)): a log-add-exp that keeps eps = 0 exact.
    Scalar shifted = log_terms;
    if (eps > Scalar(0)) {
      const Scalar a = log_eps + beta * q, hi = std::max(a, log_terms);
      shifted = hi + std::log(std::exp(a - hi) + std::exp(log_terms - hi));
    }
    Scalar coefficient;  // Q'(S) beta e^(m - beta q), S = eps + sum_mu k_mu
    if constexpr (std::is_same_v<Scaling, log_scaling>) {
      // Kept in the log domain: E = -shifted / beta + q.
      energies(b) = -shifted / beta + q + regulariser;
      coefficient = std::exp(p.max(b) - shifted);
    } else {
      const Scalar log_sum = shifted - beta * q;
      const Scalar value = Scaling::value_of_log(log_sum, beta);
      if (!std::isfinite(value)) {
        // The sum overflows: the energy is -inf; the public boundary reports it.
        energies(b) = -std::numeric_limits<Scalar>::infinity();
        if (gradient) gradient->col(b).setZero();
        continue;
      }
      energies(b) = -value + regulariser;
      coefficient =
          beta * Scaling::slope_of_log(log_sum, beta) * std::exp(p.max(b) - beta * q - log_sum);
    }
    if (!gradient) continue;
    if (std::is_same_v<Scaling, log_scaling> && eps == Scalar(0))
      gradient->col(b) = x.col(b) - p.weighted.col(b) / p.sum(b);  // x - Xi softmax
    else if constexpr (l2)
      gradient->col(b) = coefficient * (p.sum(b) * x.col(b) - p.weighted.col(b));
    else
      gradient->col(b) = x.col(b) - coefficient * p.weighted.col(b);
  }
}

/// Compact kernels: sums over each column's support. With a uniform slope the partial's
/// weighted column holds the plain sum of the support's patterns.
template <scaling Scaling, bool UniformSlope, real_scalar Scalar>
void finish_compact(const sum_partial<Scalar>& p, const Eigen::Ref<const matrix<Scalar>>& x,
                    Scalar beta, Scalar eps, Eigen::Ref<vector<Scalar>> energies,
                    matrix<Scalar>* gradient) {
  for (index b = 0; b < x.cols(); ++b) {
    const Scalar sum = eps + p.value(b);
    const Scalar value =
        sum > Scalar(0) ? Scaling::value(sum, beta) : -std::numeric_limits<Scalar>::infinity();
    energies(b) = -value;
    if (!gradient) continue;
    if (!std::isfinite(value) || p.count(b) == 0) {
      gradient->col(b).setZero();  // no memory in reach: the sum is flat here
      continue;
    }
    const Scalar n = Scalar(p.count(b));
    if constexpr (UniformSlope) {
      // grad sum = 2 w' (n x - sum_B xi_mu), w' the common slope.
      const Scalar c = -Scaling::derivative(sum, beta) * Scalar(2) * (p.slope(b) / n);
      gradient->col(b) = c * (n * x.col(b) - p.weighted.col(b));
    } else {
      const Scalar c = -Scaling::derivative(sum, beta) * Scalar(2);
      gradient->col(b) = c * (p.slope(b) * x.col(b) - p.weighted.col(b));
    }
  }
}

/// Additive kernels: plain sums over every memory.
template <additive_kernel Kernel, scaling Scaling, real_scalar Scalar>
void finish_additive(const sum_partial<Scalar>& p, const Eigen::Ref<const matrix<Scalar>>& x,
                     Scalar beta, Scalar eps, Eigen::Ref<vector<Scalar>> energies,
                     matrix<Scalar>* gradient) {
  constexpr bool l2 = Kernel::similarity == similarity_kind::l2;
  for (index b = 0; b < x.cols(); ++b) {
    const Scalar sum = eps + p.value(b);
    const Scalar value = Scaling::value(sum, beta);
    energies(b) = -value;
    if (!gradient) continue;
    const Scalar c = -Scaling::derivative(sum, beta);
    if constexpr (l2)  // dS/dx = xi - x
      gradient->col(b) = c * (p.weighted.col(b) - p.slope(b) * x.col(b));
    else
      gradient->col(b) = c * p.weighted.col(b);
  }
}

}  // namespace engram
