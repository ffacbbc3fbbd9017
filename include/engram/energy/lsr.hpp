// The log-sum-ReLU (Epanechnikov) energy of seed 002 eq. 3:
//   E(x) = -(1/beta) log( eps + sum_mu ReLU(1 - beta/2 ||x - xi_mu||^2) ),
//   grad E(x) = sum_{mu in B(x)} (x - xi_mu) / ( eps + sum_{mu in B(x)} (1 - beta/2 ||x -
//   xi_mu||^2) ),
// with the support B(x) = { mu : ||x - xi_mu||^2 < 2/beta } (strict). With eps = 0 and an empty
// support the energy is +infinity and no gradient exists: value() reports +inf, the gradient
// column is zero, and retrieve() marks the column unsupported. With eps > 0 the energy there is
// -(1/beta) log eps and the gradient exactly 0. Stationary points are exactly the states equal
// to the mean of their own support (seed 002 Prop. 2).
#pragma once

#include <cmath>
#include <limits>
#include <vector>

#include "engram/core/backend.hpp"
#include "engram/core/error.hpp"
#include "engram/core/types.hpp"
#include "engram/energy/energy_base.hpp"
#include "engram/kernels/epanechnikov.hpp"
#include "engram/memory/dense_memory.hpp"
#include "engram/memory/support_search.hpp"

namespace engram {

template <real_scalar Scalar, backend Backend = cpu>
class lsr_energy : public energy_base<lsr_energy<Scalar, Backend>, Scalar> {
 public:
  using scalar_type = Scalar;
  using kernel_type = epanechnikov;
  using backend_type = Backend;
  using memory_type = dense_memory<Scalar>;
  /// Some states have no support and infinite energy; retrieve() reports them.
  static constexpr bool reports_unsupported = true;

  /// An energy over `memory` (held by reference) at inverse temperature `beta` > 0 with
  /// floor `eps` >= 0; `method` picks how supports are searched.
  lsr_energy(const memory_type& memory, Scalar beta, Scalar eps = 0,
             support_method method = support_method::automatic)
      : memory_(&memory), search_(memory, method) {
    set_beta(beta);
    set_eps(eps);
  }
  lsr_energy(memory_type&&, Scalar, Scalar = 0,
             support_method = support_method::automatic) = delete;

  Scalar beta() const { return beta_; }  // inverse temperature
  void set_beta(Scalar beta) {
    require_positive("beta", beta);
    beta_ = beta;
  }
  Scalar eps() const { return eps_; }  // floor inside the log
  void set_eps(Scalar eps) {
    require_non_negative("eps", eps);
    eps_ = eps;
  }
  /// sqrt(2 / beta): the radius of each memory's support ball.
  Scalar support_radius() const { return epanechnikov::support_radius(beta_); }
  const memory_type& memory() const { return *memory_; }
  index dim() const { return memory_->dim(); }
  const support_search<Scalar>& search() const { return search_; }
  void set_support_method(support_method m) { search_.set_method(m); }

  void validate(const Eigen::Ref<const matrix<Scalar>>& queries) const {
    this->validate_batch(queries, dim(), memory_->empty());
  }

  /// The hot-path entry used by retrieve(): no validation beyond debug assertions. When
  /// `support_sizes` is not null it receives |B(x)| of each column.
  void evaluate(const Eigen::Ref<const matrix<Scalar>>& queries,
                Eigen::Ref<vector<Scalar>> energies, matrix<Scalar>* gradient,
                Eigen::Matrix<index, Eigen::Dynamic, 1>* support_sizes = nullptr) const {
    ENGRAM_ASSERT(queries.rows() == dim() && energies.size() == queries.cols());
    const index batch = queries.cols();
    support_sums& sums = sums_();
    sums.count.setZero(batch);
    sums.weight.setZero(batch);
    if (gradient) gradient->setZero(queries.rows(), batch);
    const matrix<Scalar>& patterns = memory_->patterns();
    search_.for_each_member(queries, beta_, [&](index b, index mu, Scalar w) {
      ++sums.count(b);
      sums.weight(b) += w;
      if (gradient) gradient->col(b) += patterns.col(mu);  // sum of the support's patterns
    });
    for (index b = 0; b < batch; ++b) {
      const Scalar floor = eps_ + sums.weight(b);
      if (floor > Scalar(0)) {
        energies(b) = -std::log(floor) / beta_;
        if (gradient)
          gradient->col(b) = (Scalar(sums.count(b)) * queries.col(b) - gradient->col(b)) / floor;
      } else {
        energies(b) = std::numeric_limits<Scalar>::infinity();
        if (gradient) gradient->col(b).setZero();
      }
    }
    if (support_sizes) *support_sizes = sums.count;
  }

  /// The mean of each column's support (seed 002 Algorithm 1's update) and the support sizes;
  /// a column with an empty support keeps its centroid column unspecified and count 0.
  void support_centroids(const Eigen::Ref<const matrix<Scalar>>& queries, matrix<Scalar>& centroids,
                         Eigen::Matrix<index, Eigen::Dynamic, 1>& counts) const {
    const index batch = queries.cols();
    centroids.setZero(queries.rows(), batch);
    counts.setZero(batch);
    const matrix<Scalar>& patterns = memory_->patterns();
    search_.for_each_member(queries, beta_, [&](index b, index mu, Scalar) {
      ++counts(b);
      centroids.col(b) += patterns.col(mu);
    });
    for (index b = 0; b < batch; ++b)
      if (counts(b) > 1) centroids.col(b) /= Scalar(counts(b));
  }

  /// B(x) for each column, ascending.
  std::vector<std::vector<index>> supports(const Eigen::Ref<const matrix<Scalar>>& queries) const {
    validate(queries);
    return search_.supports(queries, beta_);
  }

 private:
  struct support_sums {
    Eigen::Matrix<index, Eigen::Dynamic, 1> count;
    vector<Scalar> weight;
  };
  static support_sums& sums_() {
    thread_local support_sums sums;  // reused across calls: no allocation per descent step
    return sums;
  }

  const memory_type* memory_;
  support_search<Scalar> search_;
  Scalar beta_{};
  Scalar eps_{};
};

}  // namespace engram
