// Weighted sums of energies, E(x) = sum_i lambda_i E_i(x), lambda_i >= 0, and the hinge
// H(x) = ReLU(E(x) - theta) of one energy; grad E = sum_i lambda_i grad E_i, and grad H =
// grad E where E > theta, 0 elsewhere. The hybrid LSE + LSR energy is built from both.
#pragma once

#include <array>
#include <cmath>
#include <limits>
#include <tuple>
#include <utility>
#include <vector>

#include "engram/core/concepts.hpp"
#include "engram/core/error.hpp"
#include "engram/core/types.hpp"
#include "engram/energy/energy_base.hpp"

namespace engram {

template <real_scalar Scalar, energy_function... Terms>
requires(sizeof...(Terms) >= 1 &&
         (std::same_as<typename Terms::scalar_type, Scalar> && ...)) class sum_energy
    : public energy_base<sum_energy<Scalar, Terms...>, Scalar> {
 public:
  static constexpr std::size_t size = sizeof...(Terms);
  using scalar_type = Scalar;
  using weights_type = std::array<Scalar, size>;

  struct workspace_type {
    index dim = 0;
    std::tuple<typename Terms::workspace_type...> terms;
    vector<Scalar> energies;
    matrix<Scalar> gradient;
    /// Keeps the columns `keep` in each term's workspace that keeps per-column state.
    void compact(const std::vector<index>& keep) {
      const auto one = [&](auto& w) {
        if constexpr (requires { w.compact(keep); }) w.compact(keep);
      };
      std::apply([&](auto&... w) { (one(w), ...); }, terms);
    }
  };

  /// lambda_i E_i for the terms in order; the terms must share their dimension.
  sum_energy(const weights_type& weights, Terms... terms) : terms_(std::move(terms)...) {
    set_weights(weights);
    const index d = std::get<0>(terms_).dim();
    std::apply(
        [&](const auto&... t) {
          (require_rows("a term of the sum", t.dim(), d, "the first term's dimension"), ...);
        },
        terms_);
  }

  const weights_type& weights() const { return weights_; }
  void set_weights(const weights_type& weights) {
    for (std::size_t i = 0; i < size; ++i)
      require_non_negative(detail::message("sum_energy weights[", i, "]"), weights[i]);
    weights_ = weights;
  }
  template <std::size_t I>
  const auto& term() const {
    return std::get<I>(terms_);
  }
  index dim() const { return std::get<0>(terms_).dim(); }
  /// The sum of the terms' generations: versions only grow, so any change shows.
  std::uint64_t generation() const requires(has_generation<Terms> || ...) {
    std::uint64_t total = 0;
    std::apply(
        [&](const auto&... t) {
          const auto add = [&](const auto& term) {
            if constexpr (has_generation<std::decay_t<decltype(term)>>) total += term.generation();
          };
          (add(t), ...);
        },
        terms_);
    return total;
  }
  /// The weighted sum of the terms' ceilings; a weighted term without one has none (+inf).
  Scalar ceiling() const requires(has_ceiling<Terms> || ...) {
    Scalar total = 0;
    std::size_t i = 0;
    std::apply(
        [&](const auto&... t) {
          const auto add = [&](const auto& term) {
            const Scalar w = weights_[i++];
            if (w == Scalar(0)) return;
            if constexpr (has_ceiling<std::decay_t<decltype(term)>>)
              total += w * term.ceiling();
            else
              total = std::numeric_limits<Scalar>::infinity();
          };
          (add(t), ...);
        },
        terms_);
    return total;
  }
  workspace_type make_workspace() const {
    return std::apply(
        [&](const auto&... t) {
          return workspace_type{dim(), {t.make_workspace()...}, {}, {}};
        },
        terms_);
  }

  void validate(const Eigen::Ref<const matrix<Scalar>>& queries) const {
    std::apply([&](const auto&... t) { (t.validate(queries), ...); }, terms_);
  }

  void evaluate(const Eigen::Ref<const matrix<Scalar>>& queries,
                Eigen::Ref<vector<Scalar>> energies, matrix<Scalar>* gradient,
                workspace_type& ws) const {
    energies.setZero();
    if (gradient) gradient->setZero(queries.rows(), queries.cols());
    ws.energies.resize(queries.cols());
    if (gradient) ws.gradient.resize(queries.rows(), queries.cols());
    accumulate(queries, energies, gradient, ws, std::make_index_sequence<size>{});
  }

  /// A sum whose terms overflow is -inf or NaN; finite terms give a finite sum.
  void check_energies(const vector<Scalar>& e) const {
    for (index b = 0; b < e.size(); ++b)
      if (std::isnan(e(b)) || e(b) == -std::numeric_limits<Scalar>::infinity())
        throw not_finite(detail::message("the energy of query column ", b, " is ", e(b),
                                         ": a term of the sum overflows"));
  }

 private:
  template <std::size_t... I>
  void accumulate(const Eigen::Ref<const matrix<Scalar>>& queries,
                  Eigen::Ref<vector<Scalar>> energies, matrix<Scalar>* gradient, workspace_type& ws,
                  std::index_sequence<I...>) const {
    (add_term<I>(queries, energies, gradient, ws), ...);
  }
  template <std::size_t I>
  void add_term(const Eigen::Ref<const matrix<Scalar>>& queries,
                Eigen::Ref<vector<Scalar>> energies, matrix<Scalar>* gradient,
                workspace_type& ws) const {
    const Scalar w = weights_[I];
    if (w == Scalar(0)) return;
    std::get<I>(terms_).evaluate(queries, ws.energies, gradient ? &ws.gradient : nullptr,
                                 std::get<I>(ws.terms));
    energies += w * ws.energies;
    if (gradient) gradient->noalias() += w * ws.gradient;
  }

  std::tuple<Terms...> terms_;
  weights_type weights_{};
};

/// H(x) = ReLU(E(x) - theta).
template <energy_function Energy>
class hinge_energy : public energy_base<hinge_energy<Energy>, typename Energy::scalar_type> {
 public:
  using scalar_type = typename Energy::scalar_type;
  using workspace_type = typename Energy::workspace_type;

  hinge_energy(Energy energy, scalar_type threshold) : energy_(std::move(energy)) {
    require_finite_scalar("hinge_energy threshold", threshold);
    threshold_ = threshold;
  }

  const Energy& inner() const { return energy_; }
  scalar_type threshold() const { return threshold_; }  // theta
  index dim() const { return energy_.dim(); }
  workspace_type make_workspace() const { return energy_.make_workspace(); }
  void validate(const Eigen::Ref<const matrix<scalar_type>>& queries) const {
    energy_.validate(queries);
  }

  void evaluate(const Eigen::Ref<const matrix<scalar_type>>& queries,
                Eigen::Ref<vector<scalar_type>> energies, matrix<scalar_type>* gradient,
                workspace_type& ws) const {
    energy_.evaluate(queries, energies, gradient, ws);
    for (index b = 0; b < queries.cols(); ++b) {
      const scalar_type excess = energies(b) - threshold_;
      if (excess > scalar_type(0)) {
        energies(b) = excess;
      } else {
        energies(b) = 0;
        if (gradient) gradient->col(b).setZero();
      }
    }
  }

 private:
  Energy energy_;
  scalar_type threshold_{};
};

}  // namespace engram
