// A hybrid LSE + LSR energy (seed 002 App. A names it as open work): LSR's exact memories
// inside the support, LSE's non-vanishing gradient outside it. A sum of two energies:
//   E(x) = E_LSR(x; beta, eps) + lambda ReLU( E_LSE(x; gamma) - 1/beta ),  eps > 0,
//   E_LSE(x; gamma) = -(1/gamma) log sum_mu exp(-gamma/2 ||x - xi_mu||^2).
// Why the LSR minima stay exact: E_LSE(x) <= min_mu ||x - xi_mu||^2 / 2 (keep only the nearest
// term of the sum), and on the support min_mu ||x - xi_mu||^2 < 2/beta, so the hinge term and its
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

#include "engram/core/error.hpp"
#include "engram/energy/lse.hpp"
#include "engram/energy/lsr.hpp"
#include "engram/energy/sum_energy.hpp"

namespace engram {

template <real_scalar Scalar>
struct hybrid_params {
  Scalar beta = 1;      // LSR inverse temperature
  Scalar eps = 1e-3;    // LSR floor; must be > 0 for a finite energy outside the support
  Scalar lse_beta = 1;  // gamma, the LSE inverse temperature
  Scalar weight = 1;    // lambda

  void validate() const {
    require_positive("hybrid_params.beta", beta);
    require_positive(
        "hybrid_params.eps (a hybrid energy needs eps > 0 to be finite outside "
        "the support)",
        eps);
    require_positive("hybrid_params.lse_beta", lse_beta);
    require_positive("hybrid_params.weight", weight);
  }
};

namespace detail {
template <real_scalar Scalar, backend Backend>
using hybrid_base =
    sum_energy<Scalar, lsr_energy<Scalar, Backend>, hinge_energy<lse_energy<Scalar, Backend>>>;
}  // namespace detail

/// The sum above, with LSR's fixed-point map for centroid_iteration.
template <real_scalar Scalar, backend Backend = cpu>
class hybrid_energy : public detail::hybrid_base<Scalar, Backend> {
  using base = detail::hybrid_base<Scalar, Backend>;

 public:
  using memory_type = dense_memory<Scalar, Backend>;
  using typename base::workspace_type;

  hybrid_energy(const memory_type& memory, const hybrid_params<Scalar>& p,
                support_method method = support_method::automatic)
      : hybrid_energy(memory, validated(p), method) {}
  /// Sugar: LSR at (beta, eps > 0) plus `weight` times the LSE excess at `lse_beta`.
  hybrid_energy(const memory_type& memory, Scalar beta, Scalar eps, Scalar lse_beta,
                Scalar weight = 1, support_method method = support_method::automatic)
      : hybrid_energy(memory, {.beta = beta, .eps = eps, .lse_beta = lse_beta, .weight = weight},
                      method) {}
  hybrid_energy(memory_type&&, const hybrid_params<Scalar>&,
                support_method = support_method::automatic) = delete;
  hybrid_energy(memory_type&&, Scalar, Scalar, Scalar, Scalar = 1,
                support_method = support_method::automatic) = delete;

  const hybrid_params<Scalar>& params() const { return params_; }
  Scalar beta() const { return params_.beta; }
  Scalar eps() const { return params_.eps; }
  Scalar lse_beta() const { return params_.lse_beta; }
  Scalar weight() const { return params_.weight; }
  const lsr_energy<Scalar, Backend>& lsr() const { return this->template term<0>(); }
  const lse_energy<Scalar, Backend>& lse() const { return this->template term<1>().inner(); }

  /// LSR's fixed-point map: exact inside the support, where the hinge term vanishes.
  void fixed_point_map(const Eigen::Ref<const matrix<Scalar>>& queries, matrix<Scalar>& out,
                       Eigen::Matrix<index, Eigen::Dynamic, 1>& counts, workspace_type& ws) const {
    lsr().fixed_point_map(queries, out, counts, std::get<0>(ws.terms));
  }
  /// The same from the LSR term's sums of the last evaluation of these queries (see
  /// dense_energy::fixed_point_from_evaluation): evaluate() reduces every term, LSR's first.
  void fixed_point_from_evaluation(const Eigen::Ref<const matrix<Scalar>>& queries,
                                   matrix<Scalar>& out,
                                   Eigen::Matrix<index, Eigen::Dynamic, 1>& counts,
                                   const workspace_type& ws) const {
    lsr().fixed_point_from_evaluation(queries, out, counts, std::get<0>(ws.terms));
  }

 private:
  // The parameters are checked as a whole before any term is built (the terms' own checks
  // would name dense_params, and the order of constructor arguments is unspecified).
  struct validated_params {
    hybrid_params<Scalar> p;
  };
  static validated_params validated(const hybrid_params<Scalar>& p) {
    p.validate();
    return {p};
  }
  hybrid_energy(const memory_type& memory, const validated_params& v, support_method method)
      : base(typename base::weights_type{Scalar(1), v.p.weight},
             lsr_energy<Scalar, Backend>(memory, v.p.beta, v.p.eps, method),
             hinge_energy<lse_energy<Scalar, Backend>>(
                 lse_energy<Scalar, Backend>(memory, v.p.lse_beta), Scalar(1) / v.p.beta)),
        params_(v.p) {}

  hybrid_params<Scalar> params_;
};

}  // namespace engram
