// The DrDAM energy (seed 001 eqs. 9-10): the LSE energy on L2 similarity, approximated through
// the memory tensor T = sum_mu phi(xi_mu) of a distributed memory,
//   E(x) = -(1/beta) log( max(<T, phi(x)>, eps) ),
//   grad E(x) = -(1/beta) J_phi(x)^T T / <T, phi(x)>   (0 where the max clips),
// since <T, phi(x)> = sum_mu <phi(xi_mu), phi(x)> ~ sum_mu exp(-beta/2 ||x - xi_mu||^2). beta
// belongs to the feature map. eps defaults to 1e-5, as in seed 001's code.
//
// Beside eq. 10 the energy offers seed 001's eq. 32 (App. A, Lemma 3): the LSE gradient
// x - sum_mu p_mu xi_mu with both sums of the softmax replaced by random-feature estimates,
//   grad^(x) = x - R^T phi(x) / <T, phi(x)>,   R = sum_mu phi(xi_mu) xi_mu^T (F x D),
// from a memory that keeps R (readout::keep). Theorem 2's proof bounds the divergence of descent
// with this estimator (drdam_divergence_bound), not with eq. 10, although its statement cites
// eq. 10; the two differ (tests/science/papers.cpp measures both). drdam_readout_flow runs it
// under integrate().
#pragma once

#include <algorithm>
#include <cmath>

#include "engram/core/backend.hpp"
#include "engram/core/error.hpp"
#include "engram/core/types.hpp"
#include "engram/energy/energy_base.hpp"
#include "engram/memory/distributed_memory.hpp"

namespace engram {

/// `Map` is a feature map type or a random-feature formula, as for distributed_memory.
template <class Map, real_scalar Scalar, backend Backend = cpu>
class drdam_energy : public energy_base<drdam_energy<Map, Scalar, Backend>, Scalar> {
 public:
  using scalar_type = Scalar;
  using memory_type = distributed_memory<Map, Scalar, Backend>;
  using features_type = typename memory_type::features_type;

  struct workspace_type {
    index dim = 0;
    vector<Scalar> similarity;  // <T, phi(x_b)>
    typename features_type::workspace_type features;
  };

  explicit drdam_energy(const memory_type& memory, Scalar eps = Scalar(1e-5)) : memory_(&memory) {
    set_eps(eps);
  }
  drdam_energy(memory_type&&, Scalar = Scalar(1e-5)) = delete;

  Scalar beta() const { return memory_->features().beta(); }
  Scalar eps() const { return eps_; }
  void set_eps(Scalar eps) {
    require_positive("eps", eps);
    eps_ = eps;
  }
  index dim() const { return memory_->dim(); }
  /// Changes with every add() or remove() of the memory (see has_generation).
  std::uint64_t generation() const { return memory_->version(); }
  /// The energy where <T, phi(x)> is clipped at eps: no stored pattern reaches x, or x has left
  /// the region where the random features carry signal (|omega x| so large that cos(omega x)
  /// is rounding noise). The clip guards the log of an estimate that may be <= 0 (seed 001's
  /// code); it is not part of the model, so retrieve() reports such columns unsupported.
  Scalar ceiling() const { return -std::log(eps_) / beta(); }
  const memory_type& memory() const { return *memory_; }
  workspace_type make_workspace() const {
    return {dim(), {}, memory_->features().make_workspace()};
  }

  void validate(const Eigen::Ref<const matrix<Scalar>>& queries) const {
    this->validate_batch(queries, dim(), memory_->empty());
    memory_->features().check(queries, "queries");
  }

  /// Eq. 32 for each column of `queries` (D x B): x - R^T phi(x) / <T, phi(x)>, and 0 where
  /// <T, phi(x)> is clipped at eps (as the gradient of eq. 10 is). Needs a memory that keeps R.
  matrix<Scalar> readout_gradient(const Eigen::Ref<const matrix<Scalar>>& queries) const {
    validate(queries);
    if (!memory_->has_readout())
      throw invalid_argument(
          "readout_gradient() needs the readout tensor R; build the distributed_memory with "
          "engram::readout::keep");
    matrix<Scalar> out(queries.rows(), queries.cols());
    readout_gradient_unchecked(queries, out);
    return out;
  }
  /// The same without validation, for a caller that validated (drdam_readout_flow).
  void readout_gradient_unchecked(const Eigen::Ref<const matrix<Scalar>>& queries,
                                  matrix<Scalar>& out) const {
    const features_type& map = memory_->features();
    const matrix<Scalar>& r = memory_->readout_tensor();
    const vector<Scalar>& t = memory_->memory_tensor();
    out.resize(queries.rows(), queries.cols());
    // phi is formed for a block of columns at a time: at most about 2^22 numbers.
    const index block = std::max<index>(1, std::min<index>(256, (index(1) << 22) / map.size()));
    for (index b0 = 0; b0 < queries.cols(); b0 += block) {
      const index n = std::min(block, queries.cols() - b0);
      const matrix<Scalar> phi = map.phi(queries.middleCols(b0, n));
      const vector<Scalar> s = phi.transpose() * t;
      out.middleCols(b0, n).noalias() = r.transpose() * phi;
      for (index j = 0; j < n; ++j) {
        if (!(s(j) > eps_))
          out.col(b0 + j).setZero();
        else
          out.col(b0 + j) = queries.col(b0 + j) - out.col(b0 + j) / s(j);
      }
    }
  }

  void evaluate(const Eigen::Ref<const matrix<Scalar>>& queries,
                Eigen::Ref<vector<Scalar>> energies, matrix<Scalar>* gradient,
                workspace_type& ws) const {
    vector<Scalar>& s = ws.similarity;
    s.resize(queries.cols());
#ifndef NDEBUG
    const std::uint64_t before = memory_->version();
#endif
    const features_type& map = memory_->features();
    if constexpr (requires {
                    map.project_unchecked(queries, memory_->memory_tensor(), s, gradient,
                                          ws.features);
                  })
      map.project_unchecked(queries, memory_->memory_tensor(), s, gradient, ws.features);
    else
      map.project(queries, memory_->memory_tensor(), s, gradient, ws.features);
#ifndef NDEBUG
    // Debug builds catch what they cheaply can of a memory changed by another thread meanwhile.
    if (memory_->version() != before)
      throw memory_changed("the memory changed while an energy over it was being evaluated");
#endif
    const Scalar beta = this->beta();
    for (index b = 0; b < queries.cols(); ++b) {
      const bool clipped = !(s(b) > eps_);
      energies(b) = -std::log(clipped ? eps_ : s(b)) / beta;
      if (gradient) {
        if (clipped)
          gradient->col(b).setZero();
        else
          gradient->col(b) *= -Scalar(1) / (beta * s(b));
      }
    }
  }

 private:
  const memory_type* memory_;
  Scalar eps_{};
};

/// Descent with seed 001's eq. 32 estimator as a vector field, dx/dt = -grad^(x), for
/// integrate() with any stepper. It is not the gradient of an energy, so it has no Lyapunov
/// energy: stop it by steps or by ||dx/dt||. Holds the energy by reference.
template <class Map, real_scalar Scalar, backend Backend = cpu>
class drdam_readout_flow {
 public:
  using scalar_type = Scalar;
  explicit drdam_readout_flow(const drdam_energy<Map, Scalar, Backend>& energy) : energy_(&energy) {
    if (!energy.memory().has_readout())
      throw invalid_argument(
          "drdam_readout_flow needs the readout tensor R; build the distributed_memory with "
          "engram::readout::keep");
  }
  drdam_readout_flow(drdam_energy<Map, Scalar, Backend>&&) = delete;
  index dim() const { return energy_->dim(); }
  void operator()(const matrix<Scalar>& x, matrix<Scalar>& dxdt) {
    energy_->readout_gradient_unchecked(x, dxdt);
    dxdt = -dxdt;
  }

 private:
  const drdam_energy<Map, Scalar, Backend>* energy_;
};

}  // namespace engram
