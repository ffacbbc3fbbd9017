// An isotropic Gaussian mixture p(x) = (1/k) sum_i N(x | mu_i, sigma^2 I), the known density of
// seed 002's log-likelihood experiment (sec. 4.2: k = 10 means uniform in [0,1]^8, sigma = 0.1):
// sample memories from it, then score the minima of an energy by their mean log p.
#pragma once

#include <cmath>
#include <cstdint>
#include <numbers>

#include "engram/core/error.hpp"
#include "engram/core/rng.hpp"
#include "engram/core/types.hpp"

namespace engram {

template <real_scalar Scalar>
class gaussian_mixture {
 public:
  /// Components centred on the columns of `means` (D x k), all with standard deviation sigma.
  gaussian_mixture(const Eigen::Ref<const matrix<Scalar>>& means, Scalar sigma)
      : means_(means), sigma_(sigma) {
    require_columns("means", means_.cols());
    require_finite("means", means_);
    require_positive("sigma", sigma);
    const Scalar s2 = sigma * sigma;
    if (!std::isnormal(s2) || !std::isfinite(std::log(2 * std::numbers::pi_v<Scalar> * s2)))
      throw invalid_argument(detail::message("sigma is ", sigma, "; sigma^2 = ", s2,
                                             " must be a positive normal number of the "
                                             "scalar type"));
  }

  index dim() const { return means_.rows(); }
  index components() const { return means_.cols(); }
  const matrix<Scalar>& means() const { return means_; }
  Scalar sigma() const { return sigma_; }

  /// log p(x) of each column, by a stable log-sum-exp over components.
  vector<Scalar> log_density(const Eigen::Ref<const matrix<Scalar>>& x) const {
    require_rows("points", x.rows(), dim(), "the mixture dimension");
    require_finite("points", x);
    const Scalar s2 = sigma_ * sigma_;
    const Scalar norm =
        -Scalar(0.5) * Scalar(dim()) * std::log(2 * std::numbers::pi_v<Scalar> * s2) -
        std::log(Scalar(components()));
    vector<Scalar> out(x.cols());
    for (index b = 0; b < x.cols(); ++b) {
      const vector<Scalar> a =
          -(means_.colwise() - x.col(b)).colwise().squaredNorm().transpose() / (2 * s2);
      const Scalar m = a.maxCoeff();
      out(b) = norm + m + std::log((a.array() - m).exp().sum());
      if (!std::isfinite(out(b)))
        throw not_finite(detail::message(
            "log p of points column ", b, " is ", out(b), " at sigma = ", sigma_,
            ": the squared distances over sigma^2 leave the range of the scalar type"));
    }
    return out;
  }

  /// Mean log-likelihood of the columns of `x` (seed 002 Fig. 3 right).
  Scalar mean_log_likelihood(const Eigen::Ref<const matrix<Scalar>>& x) const {
    require_columns("points", x.cols());
    return log_density(x).mean();
  }

  /// n samples (D x n): component of sample j from stream 0, its noise from stream 1.
  matrix<Scalar> sample(index n, std::uint64_t seed) const {
    if (n < 0) throw invalid_argument(detail::message("sample count is ", n, "; it must be >= 0"));
    const philox_source rng(seed);
    matrix<Scalar> out(dim(), n);
    rng.fill_normal(out, 1);
    for (index j = 0; j < n; ++j) {
      const auto c = std::min<index>(
          components() - 1, index(rng.uniform<double>(0, std::uint64_t(j)) * components()));
      out.col(j) = means_.col(c) + sigma_ * out.col(j);
    }
    return out;
  }

 private:
  matrix<Scalar> means_;
  Scalar sigma_;
};

}  // namespace engram
