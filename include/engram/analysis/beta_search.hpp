// Choosing beta for LSR by the number of interacting memories (seed 002 App. C.4,
// Algorithm 2): binary search of the basin radius r until, on average, each stored pattern
// has `target` other patterns within 2r (their support balls of radius r overlap); then
// beta = 2 / r^2. Algorithm 2 counts K' over all nu with D_mu_nu <= 2r, the pattern itself
// (D_mu_mu = 0) included, so its "K = 4" means three other patterns; engram's default follows
// the paper (count_self = true). With count_self = false the target counts other patterns only.
#pragma once

#include <algorithm>
#include <cmath>
#include <limits>

#include "engram/core/error.hpp"
#include "engram/core/types.hpp"

namespace engram {

struct beta_search_options {
  int max_iterations = 100;
  /// Count the pattern itself among its interactions, as Algorithm 2 does (K' includes nu = mu).
  bool count_self = true;
  void validate() const {
    if (max_iterations < 1)
      throw invalid_argument(detail::message("beta_search_options.max_iterations is ",
                                             max_iterations, "; it must be >= 1"));
  }
};

template <real_scalar Scalar>
struct beta_search_result {
  Scalar beta;               ///< 2 / radius^2
  Scalar radius;             ///< the basin radius r
  double mean_interactions;  ///< mean over patterns of #{patterns within 2r} (self per count_self)
  int iterations;
};

/// The pairwise Euclidean distances of the columns of `patterns` (K x K), from exact
/// differences.
template <class Derived>
matrix<typename Derived::Scalar> pairwise_distances(const Eigen::MatrixBase<Derived>& patterns) {
  using Scalar = typename Derived::Scalar;
  const index k = patterns.cols();
  matrix<Scalar> d(k, k);
  for (index a = 0; a < k; ++a) {
    d(a, a) = 0;
    for (index b = a + 1; b < k; ++b)
      d(a, b) = d(b, a) = (patterns.col(a) - patterns.col(b)).norm();
  }
  return d;
}

/// Algorithm 2: beta such that each pattern interacts with about `target` patterns (itself
/// included unless options.count_self is false).
template <class Derived>
beta_search_result<typename Derived::Scalar> interaction_beta(
    const Eigen::MatrixBase<Derived>& patterns, double target,
    const beta_search_options& options = {}) {
  using Scalar = typename Derived::Scalar;
  options.validate();
  const index k = patterns.cols();
  if (k < 2)
    throw invalid_argument(
        detail::message("patterns has ", k, " columns; interactions need at least 2"));
  require_finite("patterns", patterns);
  const double self = options.count_self ? 1 : 0;
  if (!(target > self) || !(target <= double(k - 1) + self))
    throw invalid_argument(
        detail::message("target is ", target, "; with ", k, " patterns",
                        options.count_self ? ", each counted among its own interactions," : "",
                        " it must lie in (", self, ", ", double(k - 1) + self, "]"));
  const matrix<Scalar> d = pairwise_distances(patterns);
  Scalar smallest = std::numeric_limits<Scalar>::infinity(), largest = 0;
  for (index a = 0; a < k; ++a)
    for (index b = a + 1; b < k; ++b) {
      smallest = std::min(smallest, d(a, b));
      largest = std::max(largest, d(a, b));
    }
  if (!(largest > 0))
    throw invalid_argument("patterns are all identical; no radius separates them");
  const auto interactions = [&](Scalar r) {
    index n = 0;
    for (index a = 0; a < k; ++a)
      for (index b = 0; b < k; ++b) n += a != b && d(a, b) <= 2 * r;
    return double(n) / double(k) + self;
  };
  Scalar lo = Scalar(0.5) * smallest, hi = Scalar(4) * largest, r = (lo + hi) / 2;
  double achieved = interactions(r);
  Scalar best_r = r;
  double best = achieved;
  int it = 0;
  while (achieved != target && it < options.max_iterations) {
    if (achieved < target) lo = r;
    if (achieved > target) hi = r;
    r = (lo + hi) / 2;
    achieved = interactions(r);
    if (std::abs(achieved - target) < std::abs(best - target)) best = achieved, best_r = r;
    ++it;
  }
  // The count is a step function of r: when no radius hits the target, the closest count seen.
  return {Scalar(2) / (best_r * best_r), best_r, best, it};
}

}  // namespace engram
