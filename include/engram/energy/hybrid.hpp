// A hybrid LSE + LSR energy (seed 002 App. A names it as open work): LSR's exact memories
// inside the support, LSE's non-vanishing gradient outside it.
//   E(x) = E_LSR(x; beta, eps) + lambda ReLU( E_LSE(x; gamma) - 1/beta ),  eps > 0,
//   E_LSE(x; gamma) = -(1/gamma) log sum_mu exp(-gamma/2 ||x - xi_mu||^2).
// Why the LSR minima stay exact: E_LSE(x) <= min_mu ||x - xi_mu||^2 / 2 (keep only the nearest
// term of the sum), and on the support min_mu ||x - xi_mu||^2 < 2/beta, so the ReLU term and its
// gradient vanish on the whole support: there E, grad E and every fixed point are LSR's.
// Outside the support LSR is flat (energy -(1/beta) log eps) and grad E = lambda grad E_LSE
// wherever E_LSE > 1/beta, which points toward the memories. Since E_LSE >= d_min^2/2 -
// (1/gamma) log K, the only flat region left is the thin shell 2/beta <= d_min^2 <
// 2/beta + (2/gamma) log K; a large gamma makes it thin. The energy is continuous; its gradient
// jumps where E_LSE crosses 1/beta and on support boundaries, as LSR's does.
// Fixed points: inside the support, exactly LSR's (centroids of their own supports). Outside
// it, the stationary points of E_LSE with E_LSE > 1/beta: saddles between distant memories,
// and, for a small gamma, possibly minima of E_LSE away from every memory (for instance the
// centre of memories placed symmetrically about it). A gamma of a few times beta keeps E_LSE's
// minima at the memories; plus the flat shell above, where the gradient is 0.
#pragma once

#include <limits>

#include "engram/core/error.hpp"
#include "engram/energy/energy_base.hpp"
#include "engram/energy/lse.hpp"
#include "engram/energy/lsr.hpp"

namespace engram {

template <real_scalar Scalar, backend Backend = cpu>
class hybrid_energy : public energy_base<hybrid_energy<Scalar, Backend>, Scalar> {
 public:
  using scalar_type = Scalar;
  using backend_type = Backend;
  using memory_type = dense_memory<Scalar>;

  /// LSR at (beta, eps > 0) plus `weight` (lambda > 0) times the LSE excess at inverse
  /// temperature `lse_beta` (gamma > 0).
  hybrid_energy(const memory_type& memory, Scalar beta, Scalar eps, Scalar lse_beta,
                Scalar weight = 1, support_method method = support_method::automatic)
      : lsr_(memory, beta, eps, method), lse_(memory, lse_beta) {
    require_positive("eps (a hybrid energy needs eps > 0 to be finite outside the support)", eps);
    require_positive("weight", weight);
    weight_ = weight;
  }
  hybrid_energy(memory_type&&, Scalar, Scalar, Scalar, Scalar = 1,
                support_method = support_method::automatic) = delete;

  Scalar beta() const { return lsr_.beta(); }
  Scalar eps() const { return lsr_.eps(); }
  Scalar lse_beta() const { return lse_.beta(); }
  Scalar weight() const { return weight_; }
  index dim() const { return lsr_.dim(); }
  const lsr_energy<Scalar, Backend>& lsr() const { return lsr_; }
  const lse_energy<Scalar, Backend>& lse() const { return lse_; }

  void validate(const Eigen::Ref<const matrix<Scalar>>& queries) const { lsr_.validate(queries); }

  void evaluate(const Eigen::Ref<const matrix<Scalar>>& queries,
                Eigen::Ref<vector<Scalar>> energies, matrix<Scalar>* gradient) const {
    thread_local vector<Scalar> lse_values;
    thread_local matrix<Scalar> lse_gradient;
    thread_local Eigen::Matrix<index, Eigen::Dynamic, 1> support_sizes;
    lse_values.resize(queries.cols());
    if (gradient) lse_gradient.resize(queries.rows(), queries.cols());
    lsr_.evaluate(queries, energies, gradient, &support_sizes);
    lse_.evaluate(queries, lse_values, gradient ? &lse_gradient : nullptr);
    const Scalar threshold = Scalar(1) / lsr_.beta();  // r^2 / 2 with r the support radius
    for (index b = 0; b < queries.cols(); ++b) {
      // On the support the term is 0 by the bound above; skipping it there keeps that exact in
      // floating point too, where rounding of E_LSE near the support's edge could exceed 1/beta.
      if (support_sizes(b) > 0) continue;
      const Scalar excess = lse_values(b) - threshold;
      if (excess > Scalar(0)) {
        energies(b) += weight_ * excess;
        if (gradient) gradient->col(b) += weight_ * lse_gradient.col(b);
      }
    }
  }

  /// Centroids of the LSR supports, for centroid_iteration (exact inside the support).
  void support_centroids(const Eigen::Ref<const matrix<Scalar>>& queries, matrix<Scalar>& centroids,
                         Eigen::Matrix<index, Eigen::Dynamic, 1>& counts) const {
    lsr_.support_centroids(queries, centroids, counts);
  }

 private:
  lsr_energy<Scalar, Backend> lsr_;
  lse_energy<Scalar, Backend> lse_;
  Scalar weight_{};
};

}  // namespace engram
