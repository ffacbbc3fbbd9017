// The DrDAM energy (seed 001 eqs. 9-10): the LSE energy on L2 similarity, approximated through
// the memory tensor T = sum_mu phi(xi_mu) of a distributed memory,
//   E(x) = -(1/beta) log( max(<T, phi(x)>, eps) ),
//   grad E(x) = -(1/beta) J_phi(x)^T T / <T, phi(x)>   (0 where the max clips),
// since <T, phi(x)> = sum_mu <phi(xi_mu), phi(x)> ~ sum_mu exp(-beta/2 ||x - xi_mu||^2). beta
// belongs to the feature map. eps defaults to 1e-5, as in seed 001's code.
#pragma once

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

}  // namespace engram
