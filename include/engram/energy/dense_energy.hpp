// Dense associative memory energies E(x) = -Q( eps + sum_mu k(xi_mu, x) ) + R(x) over a dense
// memory (seed 001 eq. 3, seed 002 eq. 1), for any kernel k and scaling Q. The kernel's family
// picks the backend reduction; the energy only finishes each column from the partial state:
//   exponential: L = log sum_mu k = m + log s - beta q(x) from exp_partial (max m, sum s,
//                weighted v), E = -Q(e^L) + R, grad E = -Q'(S) beta e^(m - beta q) (v - s x)
//                for l2 similarity, -Q'(S) beta e^m v + x for dot (R = 1/2 ||x||^2);
//   compact:     S = eps + sum_B w_mu, grad E = -Q'(S) 2 (x sum_B w'_mu - sum_B w'_mu xi_mu)
//                over the support B(x) (w' = dw/d(d^2)); +inf energy on an empty support
//                with eps = 0 and the log scaling, reported by retrieve();
//   additive:    S = eps + sum_mu F(s_mu), grad E = -Q'(S) sum_mu F'(s_mu) dS/dx.
// Sums over memories stream through the backend, stable for beta from 1e-3 to 1e4.
#pragma once

#include <cmath>
#include <limits>
#include <type_traits>
#include <vector>

#include "engram/backend/cpu.hpp"
#include "engram/backend/exp_partial.hpp"
#include "engram/backend/sum_partial.hpp"
#include "engram/core/backend.hpp"
#include "engram/core/error.hpp"
#include "engram/core/params.hpp"
#include "engram/core/types.hpp"
#include "engram/energy/dense_finish.hpp"
#include "engram/energy/energy_base.hpp"
#include "engram/kernels/kernel.hpp"
#include "engram/kernels/scaling.hpp"
#include "engram/memory/dense_memory.hpp"
#include "engram/memory/radius_index.hpp"

namespace engram {

template <kernel_function Kernel, scaling Scaling, real_scalar Scalar, backend Backend = cpu>
class dense_energy : public energy_base<dense_energy<Kernel, Scaling, Scalar, Backend>, Scalar> {
  static constexpr bool compact = compact_kernel<Kernel>;
  // Kernels whose weight slope is one constant (Epanechnikov) sum plain patterns, so a support
  // of one memory yields that memory bit for bit and centroids are exact means.
  static constexpr bool uniform_slope = requires { requires Kernel::uniform_slope; };

 public:
  /// The partial state of the kernel family's reduction (see reduce() and finish()).
  using partial_type =
      std::conditional_t<exponential_kernel<Kernel>, exp_partial<Scalar>, sum_partial<Scalar>>;
  using scalar_type = Scalar;
  using kernel_type = Kernel;
  using scaling_type = Scaling;
  using backend_type = Backend;
  using params_type = dense_params<Scalar>;
  using memory_type = dense_memory<Scalar, Backend>;
  using tile_policy = typename backend_traits<Backend>::tile_policy;

  /// What one evaluation needs besides its inputs; owned by whoever loops.
  struct workspace_type {
    explicit workspace_type(index dim = 0) : dim(dim) {}
    index dim;
    partial_type partial;
    backend_workspace<Backend, Scalar> backend;
    /// Compact kernels: each column's candidate memories, kept while the column stays near
    /// where they were found: off unless `candidates.reach` is set above 0 (see candidate_cache).
    candidate_cache<Scalar> candidates;
    void release() { *this = workspace_type(dim); }
    /// Keeps the columns `keep` of the kept state (a loop dropping converged columns).
    void compact(const std::vector<index>& keep) { candidates.compact(keep); }
  };

  /// An energy over `memory` (held by reference: it must outlive the energy, and patterns
  /// added or removed later are seen).
  dense_energy(const memory_type& memory, const params_type& params,
               support_method method = support_method::automatic)
      : memory_(&memory), index_(memory, method) {
    set_params(params);
  }
  /// Sugar: dense_energy(memory, beta, eps).
  dense_energy(const memory_type& memory, Scalar beta, Scalar eps = 0,
               support_method method = support_method::automatic)
      : dense_energy(memory, params_type{.beta = beta, .eps = eps}, method) {}
  dense_energy(memory_type&&, const params_type&,
               support_method = support_method::automatic) = delete;
  dense_energy(memory_type&&, Scalar, Scalar = 0,
               support_method = support_method::automatic) = delete;

  const params_type& params() const { return params_; }
  void set_params(const params_type& params) {
    params.validate();
    params_ = params;
  }
  Scalar beta() const { return params_.beta; }  // inverse temperature
  void set_beta(Scalar beta) { set_params({.beta = beta, .eps = params_.eps}); }
  Scalar eps() const { return params_.eps; }
  void set_eps(Scalar eps) { set_params({.beta = params_.beta, .eps = eps}); }
  const memory_type& memory() const { return *memory_; }
  index dim() const { return memory_->dim(); }
  const tile_policy& tiles() const { return tiles_; }
  /// Tile sizes for the backend's reductions; a policy with a size below 1 is refused
  /// (invalid_argument) and the energy keeps its tiles.
  void set_tiles(const tile_policy& tiles) {
    if constexpr (requires { tiles.validate(); }) tiles.validate();
    tiles_ = tiles;
  }
  workspace_type make_workspace() const { return workspace_type(dim()); }

  /// The radius index that finds supports (compact kernels).
  const radius_index<Scalar, Backend>& search() const requires compact { return index_; }
  void set_support_method(support_method m) requires compact { index_.set_method(m); }
  /// Changes with every add() or remove() of the memory (see has_generation).
  std::uint64_t generation() const { return memory_->version(); }
  /// An empty support with eps = 0 has energy +inf: retrieve() reports it unsupported. With
  /// eps > 0 the plateau -(1/beta) Q(eps) is part of the model (seed 002 eq. 3), a legitimate
  /// flat state, so the ceiling stays +inf.
  Scalar ceiling() const requires compact { return std::numeric_limits<Scalar>::infinity(); }
  /// The radius of each memory's support ball (compact kernels).
  Scalar support_radius() const requires compact { return Kernel::support_radius(beta()); }

  /// The checks of the public boundary: dimensions, finiteness, a non-empty memory.
  void validate(const Eigen::Ref<const matrix<Scalar>>& queries) const {
    this->validate_batch(queries, dim(), memory_->empty());
    for (index b = 0; b < queries.cols(); ++b)
      if (!std::isfinite(queries.col(b).squaredNorm()))
        throw not_finite(detail::message("queries column ", b, " has a squared norm beyond the ",
                                         "range of its scalar type; rescale the data"));
  }

  /// The hot path: no validation beyond debug assertions. `energies` has B entries;
  /// `gradient`, when not null, is D x B.
  void evaluate(const Eigen::Ref<const matrix<Scalar>>& queries,
                Eigen::Ref<vector<Scalar>> energies, matrix<Scalar>* gradient,
                workspace_type& ws) const {
    ENGRAM_ASSERT(queries.rows() == dim() && energies.size() == queries.cols());
    ENGRAM_ASSERT(ws.dim == dim() && !memory_->empty());
#ifndef NDEBUG
    const std::uint64_t before = memory_->version();
#endif
    reduce(queries, gradient != nullptr, ws);
#ifndef NDEBUG
    // Debug builds catch what they cheaply can of a memory changed by another thread meanwhile.
    if (memory_->version() != before)
      throw memory_changed("the memory changed while an energy over it was being evaluated");
#endif
    finish(queries, energies, gradient, ws);
  }

  /// The partial-state seam, first half: the kernel family's sums over this energy's memory
  /// for the columns of `queries`, left in ws.partial (with the weighted pattern sums when
  /// `with_gradient`). An empty memory leaves the empty partial state, which combine() treats
  /// as nothing. Partial states of disjoint memories combine exactly (partial_type::combine),
  /// which is how engram/distributed spreads a memory over MPI ranks.
  void reduce(const Eigen::Ref<const matrix<Scalar>>& queries, bool with_gradient,
              workspace_type& ws) const {
    ENGRAM_ASSERT(queries.rows() == dim() && ws.dim == dim());
    if (memory_->empty()) {
      ws.partial.reset(dim(), queries.cols(), with_gradient);
      return;
    }
    reduce_memory(queries, with_gradient, ws);
  }

  /// The second half: energies (and gradients, when `gradient` is not null: D x B, after a
  /// reduce() with the gradient) of the columns of `queries` from ws.partial, which may hold
  /// the combination of several memories' partial states. evaluate() is reduce(), then this.
  void finish(const Eigen::Ref<const matrix<Scalar>>& queries, Eigen::Ref<vector<Scalar>> energies,
              matrix<Scalar>* gradient, workspace_type& ws) const {
    ENGRAM_ASSERT(energies.size() == queries.cols() && ws.partial.batch() == queries.cols());
    ENGRAM_ASSERT(!gradient || (gradient->rows() == dim() && gradient->cols() == queries.cols()));
    if (gradient && ws.partial.weighted.cols() != queries.cols())
      throw invalid_argument(detail::message(
          "finish() was asked for gradients of ", queries.cols(),
          " columns, but the partial state holds weighted sums of ", ws.partial.weighted.cols(),
          ": reduce() with with_gradient = true first"));
    if constexpr (exponential_kernel<Kernel>)
      finish_exponential<Kernel, Scaling>(ws.partial, queries, beta(), eps(), energies, gradient);
    else if constexpr (compact)
      finish_compact<Scaling, uniform_slope>(ws.partial, queries, beta(), eps(), energies,
                                             gradient);
    else
      finish_additive<Kernel, Scaling>(ws.partial, queries, beta(), eps(), energies, gradient);
  }

  /// Energies are -inf only when a linear or identity sum overflows the scalar type.
  void check_energies(const vector<Scalar>& e) const {
    for (index b = 0; b < e.size(); ++b)
      if (e(b) == -std::numeric_limits<Scalar>::infinity() || std::isnan(e(b)))
        throw not_finite(detail::message(
            "the energy of query column ", b, " is ", e(b), " at beta = ", beta(),
            std::is_same_v<Scaling, log_scaling>
                ? ": -(1/beta) log of the sum over memories leaves the range of the scalar type; "
                  "raise beta or use a wider scalar type"
                : ": the sum over memories overflows; lower beta or use the log scaling"));
  }

  /// The fixed-point map of a compact energy: x <- sum_B w'_mu xi_mu / sum_B w'_mu, where
  /// grad E vanishes (for Epanechnikov the mean of the support, seed 002 Algorithm 1). `counts`
  /// gets |B(x)|; a column with an empty support leaves its `out` column unspecified.
  void fixed_point_map(const Eigen::Ref<const matrix<Scalar>>& queries, matrix<Scalar>& out,
                       Eigen::Matrix<index, Eigen::Dynamic, 1>& counts,
                       workspace_type& ws) const requires compact {
    reduce(queries, true, ws);
    fixed_point_from_evaluation(queries, out, counts, ws);
  }

  /// The same map without a support search: read from the partial state that the last
  /// evaluate() of these same queries, with a gradient, left in `ws` (the sums over the
  /// support it found). The caller vouches for that; gradient_flow does, comparing the states
  /// it evaluated last with the ones it maps. Bitwise the result of fixed_point_map().
  void fixed_point_from_evaluation(const Eigen::Ref<const matrix<Scalar>>& queries,
                                   matrix<Scalar>& out,
                                   Eigen::Matrix<index, Eigen::Dynamic, 1>& counts,
                                   const workspace_type& ws) const requires compact {
    const sum_partial<Scalar>& p = ws.partial;
    ENGRAM_ASSERT(p.count.size() == queries.cols() && p.weighted.cols() == queries.cols());
    counts = p.count;
    out.resize(queries.rows(), queries.cols());
    for (index b = 0; b < queries.cols(); ++b) {
      if (p.count(b) == 0) continue;
      if constexpr (uniform_slope)
        out.col(b) = p.weighted.col(b) / Scalar(p.count(b));  // exact for a single memory
      else
        out.col(b) = p.weighted.col(b) / p.slope(b);
    }
  }

  /// B(x) for each column, ascending (compact kernels).
  std::vector<std::vector<index>> supports(
      const Eigen::Ref<const matrix<Scalar>>& queries) const requires compact {
    workspace_type ws = make_workspace();
    return supports(queries, ws);
  }
  /// The same with a workspace the caller keeps between calls.
  std::vector<std::vector<index>> supports(const Eigen::Ref<const matrix<Scalar>>& queries,
                                           workspace_type& ws) const requires compact {
    validate(queries);
    std::vector<std::vector<index>> out(std::size_t(queries.cols()));
    const Scalar beta = this->beta();
    const Scalar r = support_radius();
    index_.for_each_candidate(
        queries, r * r,
        [&](index b, index mu, Scalar d2) {
          if (Kernel::weight(beta, d2) > Scalar(0)) out[std::size_t(b)].push_back(mu);
        },
        ws.backend);
    return out;
  }

 private:
  void reduce_memory(const Eigen::Ref<const matrix<Scalar>>& queries, bool with_gradient,
                     workspace_type& ws) const {
    const matrix<Scalar>& patterns = memory_->patterns();
    const vector<Scalar>& half = memory_->half_squared_norms();
    const Scalar beta = this->beta();
    if constexpr (exponential_kernel<Kernel>) {
      constexpr bool l2 = Kernel::similarity == similarity_kind::l2;
      exp_reduce(Backend{}, patterns, half, l2 ? Scalar(-1) : Scalar(0), queries, beta,
                 with_gradient, ws.partial, ws.backend, tiles_);
    } else if constexpr (compact) {
      sum_partial<Scalar>& p = ws.partial;
      p.reset(dim(), queries.cols(), with_gradient);
      const Scalar r = support_radius();
      // The radius index hands over exact squared distances; membership is w > 0 (strict).
      const auto visit = [&](index b, index mu, Scalar d2) {
        const Scalar w = Kernel::weight(beta, d2);
        if (!(w > Scalar(0))) return;
        const Scalar slope = Kernel::weight_slope(beta, d2);
        p.value(b) += w;
        p.slope(b) += slope;
        ++p.count(b);
        if (!with_gradient) return;
        if constexpr (uniform_slope)
          p.weighted.col(b) += patterns.col(mu);
        else
          p.weighted.col(b) += slope * patterns.col(mu);
      };
      if constexpr (uniform_slope) {
        // Whole tiles where a brute-force search has computed every distance of one (dense
        // supports): the same sums, in the same order, without a call per member.
        const auto tile = [&](index b0, index k0, index kc, index bc, Scalar* d2, index ld) {
          compact_tile(
              Backend{}, patterns, b0, k0, kc, bc, d2, ld,
              [beta](Scalar e) { return Kernel::weight(beta, e); },
              [beta](Scalar e) { return Kernel::weight_slope(beta, e); }, with_gradient, p);
        };
        index_.for_each_candidate(queries, r * r, tiled_visitor{visit, tile}, ws.backend,
                                  ws.candidates);
      } else {
        index_.for_each_candidate(queries, r * r, visit, ws.backend, ws.candidates);
      }
    } else {
      constexpr bool l2 = Kernel::similarity == similarity_kind::l2;
      sum_reduce(
          Backend{}, patterns, half, l2, queries, beta,
          [](Scalar bt, Scalar s) { return Kernel::value(bt, s); },
          [](Scalar bt, Scalar s) { return Kernel::derivative(bt, s); }, with_gradient, ws.partial,
          ws.backend, tiles_);
    }
  }

  const memory_type* memory_;
  radius_index<Scalar, Backend> index_;
  params_type params_{};
  tile_policy tiles_{};
};

}  // namespace engram
