// Dense associative memory energies E(x) = -Q( sum_mu k(xi_mu, x) ) + R(x) over a dense memory
// (seed 001 eq. 3, seed 002 eq. 1) for exponential kernels, with log or linear scaling Q:
//   log:    E = -(1/beta) log sum_mu exp(beta (<xi_mu, x> + c_mu)) + 1/2 ||x||^2,
//           grad E = x - sum_mu p_mu xi_mu, p = softmax_mu(beta (<xi_mu, x> + c_mu));
//   linear: E = -(1/beta) sum_mu w_mu + R(x), w_mu = exp(beta (<xi_mu, x> + c_mu - q(x))),
//           grad E = -sum_mu w_mu (xi_mu - grad q) + grad R,
// with c, q, R fixed by the kernel's similarity (engram/kernels/kernel.hpp). Sums over memories
// stream through exp_partial, stable for beta from 1e-3 to 1e4 in float and double.
#pragma once

#include <cmath>
#include <limits>
#include <type_traits>

#include "engram/backend/cpu.hpp"
#include "engram/backend/exp_partial.hpp"
#include "engram/core/backend.hpp"
#include "engram/core/error.hpp"
#include "engram/core/types.hpp"
#include "engram/energy/energy_base.hpp"
#include "engram/kernels/kernel.hpp"
#include "engram/memory/dense_memory.hpp"

namespace engram {

template <exponential_kernel Kernel, scaling Scaling, real_scalar Scalar, backend Backend = cpu>
class dense_energy : public energy_base<dense_energy<Kernel, Scaling, Scalar, Backend>, Scalar> {
 public:
  using scalar_type = Scalar;
  using kernel_type = Kernel;
  using scaling_type = Scaling;
  using backend_type = Backend;
  using memory_type = dense_memory<Scalar>;

  /// An energy over `memory` (held by reference: it must outlive the energy, and patterns
  /// added or removed later are seen) at inverse temperature `beta` > 0.
  dense_energy(const memory_type& memory, Scalar beta) : memory_(&memory) { set_beta(beta); }
  dense_energy(memory_type&&, Scalar) = delete;

  Scalar beta() const { return beta_; }  // inverse temperature
  void set_beta(Scalar beta) {
    require_positive("beta", beta);
    beta_ = beta;
  }
  const memory_type& memory() const { return *memory_; }
  index dim() const { return memory_->dim(); }
  const cpu_tiles& tiles() const { return tiles_; }
  void set_tiles(const cpu_tiles& tiles) { tiles_ = tiles; }

  /// The checks of the public boundary: dimensions, finiteness, a non-empty memory.
  void validate(const Eigen::Ref<const matrix<Scalar>>& queries) const {
    this->validate_batch(queries, dim(), memory_->empty());
    for (index b = 0; b < queries.cols(); ++b)
      if (!std::isfinite(queries.col(b).squaredNorm()))
        throw not_finite(detail::message("queries column ", b, " has a squared norm beyond the ",
                                         "range of its scalar type; rescale the data"));
  }

  /// The hot-path entry used by retrieve(): no validation beyond debug assertions.
  /// `energies` must have B entries; `gradient`, when not null, must be D x B.
  void evaluate(const Eigen::Ref<const matrix<Scalar>>& queries,
                Eigen::Ref<vector<Scalar>> energies, matrix<Scalar>* gradient) const {
    ENGRAM_ASSERT(queries.rows() == dim() && energies.size() == queries.cols());
    ENGRAM_ASSERT(!memory_->empty());
    constexpr bool l2 = Kernel::similarity == similarity_kind::l2;
    const bool with_gradient = gradient != nullptr;
    exp_reduce(Backend{}, memory_->patterns(), memory_->half_squared_norms(),
               l2 ? Scalar(-1) : Scalar(0), queries, beta_, with_gradient, partial_(), tiles_);
    const exp_partial<Scalar>& p = partial_();
    const index batch = queries.cols();
    for (index b = 0; b < batch; ++b) {
      const Scalar half_sq = Scalar(0.5) * queries.col(b).squaredNorm();
      if constexpr (std::is_same_v<Scaling, log_scaling>) {
        energies(b) = -(p.max(b) + std::log(p.sum(b))) / beta_ + half_sq;
        if (with_gradient) gradient->col(b) = queries.col(b) - p.weighted.col(b) / p.sum(b);
      } else {
        // sum_mu w_mu = exp(m - beta q) s; for l2 kernels the exponent is -beta/2 d^2 <= 0.
        const Scalar q = l2 ? half_sq : Scalar(0);
        const Scalar scale = std::exp(p.max(b) - beta_ * q);
        const Scalar total = scale * p.sum(b);
        if (!std::isfinite(total)) {
          // sum_mu w_mu overflows: the energy is -inf; the public boundary reports it.
          energies(b) = -std::numeric_limits<Scalar>::infinity();
          if (with_gradient) gradient->col(b).setZero();
          continue;
        }
        energies(b) = -total / beta_ + (l2 ? Scalar(0) : half_sq);
        if (with_gradient) {
          if constexpr (l2)
            gradient->col(b) = total * queries.col(b) - scale * p.weighted.col(b);
          else
            gradient->col(b) = queries.col(b) - scale * p.weighted.col(b);
        }
      }
    }
  }

  /// Energies are -inf only when a linear-scaling sum overflows the scalar type.
  void check_energies(const vector<Scalar>& e) const {
    for (index b = 0; b < e.size(); ++b)
      if (!std::isfinite(e(b)))
        throw not_finite(detail::message("the energy of query column ", b, " is ", e(b),
                                         ": the sum over memories overflows at beta = ", beta_,
                                         "; lower beta or use the log scaling"));
  }

 private:
  static exp_partial<Scalar>& partial_() {
    // Per-thread scratch reused across calls, so a descent loop allocates nothing per step.
    thread_local exp_partial<Scalar> partial;
    return partial;
  }

  const memory_type* memory_;
  Scalar beta_{};
  cpu_tiles tiles_{};
};

}  // namespace engram
