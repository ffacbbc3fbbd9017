// Random feature maps for the Gaussian kernel k(x, x') = exp(-beta/2 ||x - x'||^2) (seed 001
// sec. 3 and eq. 8): phi: R^D -> R^F with E <phi(x), phi(x')> = k(x, x'). A map is a formula
// (cos, sincos, exp, exp_exp: one header each) over a projection (gaussian_projection: iid or
// orthogonal, stored, regenerated on demand, or given by the user) applied to z = sqrt(beta) x.
// Every sum over features streams tiles of omega, so no F x B block is formed.
#pragma once

#include <algorithm>
#include <cmath>
#include <concepts>
#include <cstdint>
#include <limits>
#include <utility>

#include "engram/backend/cpu.hpp"
#include "engram/core/error.hpp"
#include "engram/core/types.hpp"
#include "engram/features/cos.hpp"
#include "engram/features/exp.hpp"
#include "engram/features/exp_exp.hpp"
#include "engram/features/projection.hpp"
#include "engram/features/sincos.hpp"

namespace engram {

/// The formula of a random feature map: phi and its Jacobian factor for one tile of omega.
template <class M>
concept random_feature_formula = requires {
  { M::name } -> std::convertible_to<const char*>;
  { M::multiplicity } -> std::convertible_to<index>;
  { M::exponential } -> std::convertible_to<bool>;
};

template <random_feature_formula Map, real_scalar Scalar, backend Backend = cpu>
class random_features {
 public:
  using scalar_type = Scalar;
  using map_type = Map;
  using projection_type = gaussian_projection<Scalar>;
  using workspace_type = backend_workspace<Backend, Scalar>;
  static constexpr index multiplicity = Map::multiplicity;
  static constexpr bool exponential = Map::exponential;

  /// Y = `count` random directions for D = `dim` inputs at inverse temperature `beta`.
  random_features(index dim, index count, Scalar beta, std::uint64_t seed,
                  const feature_options& options = {})
      : projection_(dim, count, seed, options) {
    require_positive("beta", beta);
    beta_ = beta;
  }
  /// The map over a projection given by the user (gaussian_projection(omega, bias)).
  random_features(projection_type projection, Scalar beta) : projection_(std::move(projection)) {
    require_positive("beta", beta);
    beta_ = beta;
  }

  index dim() const { return projection_.dim(); }
  index count() const { return projection_.count(); }    ///< Y
  index size() const { return multiplicity * count(); }  ///< F, the length of phi(x)
  Scalar beta() const { return beta_; }
  std::uint64_t seed() const { return projection_.seed(); }
  const feature_options& options() const { return projection_.options(); }
  const projection_type& projection() const { return projection_; }
  std::size_t stored_bytes() const { return projection_.stored_bytes(); }
  /// Bytes of scratch one thread uses per query column while streaming tiles.
  std::size_t tile_bytes_per_query() const {
    return sizeof(Scalar) * std::size_t(2 * projection_.tile() + dim());
  }
  matrix<Scalar> omega() const { return projection_.omega(); }
  const vector<Scalar>& bias() const { return projection_.bias(); }
  workspace_type make_workspace() const { return {}; }

  /// phi of each column of `x` (F x B). Forms the whole F x B block: for tests and small
  /// batches; memories and energies stream instead.
  matrix<Scalar> phi(const Eigen::Ref<const matrix<Scalar>>& x) const {
    check(x, "queries");
    matrix<Scalar> out(size(), x.cols());
    workspace_type ws;
    const row_vector<Scalar> zsq = beta_ * x.colwise().squaredNorm();
    for_each_feature_tile(Backend{}, tiles(), ws, [&](index k, feature_scratch<Scalar>& f) {
      const auto [a0, n] = tile_range(k);
      compute_h(a0, n, x, f);
      Map::phi(f.h.topLeftCorner(n, x.cols()), bias().segment(a0, n), zsq, Scalar(count()),
               out.middleRows(a0, n), out.middleRows(multiplicity == 2 ? count() + a0 : a0, n));
    });
    return out;
  }
  matrix<Scalar> features(const Eigen::Ref<const matrix<Scalar>>& x) const { return phi(x); }

  /// t += sign * sum over the columns of x of phi(x), in blocks of columns.
  void accumulate(const Eigen::Ref<const matrix<Scalar>>& x, Eigen::Ref<vector<Scalar>> t,
                  Scalar sign = 1) const {
    check(x, "patterns");
    if (t.size() != size())
      throw dimension_mismatch(detail::message("the memory tensor has ", t.size(),
                                               " entries, the feature map F = ", size()));
    constexpr index column_block = 256;
    workspace_type ws;
    for_each_feature_tile(Backend{}, tiles(), ws, [&](index k, feature_scratch<Scalar>& f) {
      const auto [a0, n] = tile_range(k);  // tiles own disjoint entries of t: no race
      for (index b0 = 0; b0 < x.cols(); b0 += column_block) {
        const index bc = std::min(column_block, x.cols() - b0);
        const auto xs = x.middleCols(b0, bc);
        const row_vector<Scalar> zsq = beta_ * xs.colwise().squaredNorm();
        compute_h(a0, n, xs, f);
        f.first.resize(n, bc);
        f.second.resize(n, multiplicity == 2 ? bc : 0);
        Map::phi(f.h.topLeftCorner(n, bc), bias().segment(a0, n), zsq, Scalar(count()), f.first,
                 f.second);
        t.segment(a0, n) += sign * f.first.rowwise().sum();
        if constexpr (multiplicity == 2)
          t.segment(count() + a0, n) += sign * f.second.rowwise().sum();
      }
    });
  }

  /// For each column x_b: s_b = <t, phi(x_b)> and, when `jt` is not null, the column
  /// J_phi(x_b)^T t (D x B). Two GEMMs per tile of omega: 4 B Y D flops. Refuses non-finite
  /// queries (not_finite); project_unchecked() is the same without that scan.
  void project(const Eigen::Ref<const matrix<Scalar>>& x, const vector<Scalar>& t,
               Eigen::Ref<vector<Scalar>> s, matrix<Scalar>* jt, workspace_type& ws) const {
    require_finite("queries", x);
    project_unchecked(x, t, s, jt, ws);
  }
  /// The hot path of drdam_energy::evaluate, whose caller validated the queries; inside a
  /// descent a column that left the finite numbers gives NaN here and is reported diverged.
  void project_unchecked(const Eigen::Ref<const matrix<Scalar>>& x, const vector<Scalar>& t,
                         Eigen::Ref<vector<Scalar>> s, matrix<Scalar>* jt,
                         workspace_type& ws) const {
    require_rows("queries", x.rows(), dim(), "the feature map's input dimension");
    if (t.size() != size() || s.size() != x.cols())
      throw dimension_mismatch(detail::message("project() got a tensor of ", t.size(),
                                               " entries (F = ", size(), ") and ", s.size(),
                                               " outputs for ", x.cols(), " queries"));
    const index batch = x.cols();
    const Scalar root_beta = std::sqrt(beta_);
    auto& zsq = ws.row(batch);  // beta ||x_b||^2, shared read-only by the tiles
    zsq = beta_ * x.colwise().squaredNorm();
    // Maps with a one-pass share (project_shared: the features are never stored, and the
    // pullback overwrites h) need no buffers beyond h.
    using h_block = decltype(buffer(std::declval<matrix<Scalar>&>(), 0, 0));
    constexpr bool one_pass = requires(h_block h, const vector<Scalar>& b,
                                       const row_vector<Scalar>& z, vector<Scalar>& out) {
      Map::project_shared(h, b.segment(0, 1), z, Scalar(1), b.segment(0, 1), b.segment(0, 1), out,
                          true);
    };
    feature_project(Backend{}, tiles(), projection_.tile(), one_pass ? 0 : multiplicity + 1, dim(),
                    batch, s, jt, ws,
                    [&](index k, feature_scratch<Scalar>& f, feature_partial<Scalar>& part) {
                      const auto [a0, n] = tile_range(k);
                      const auto w = compute_h(a0, n, x, f);
                      auto h = f.h.topLeftCorner(n, batch);
                      const auto t1 = t.segment(a0, n);
                      const auto t2 = t.segment(multiplicity == 2 ? count() + a0 : a0, n);
                      if constexpr (one_pass) {
                        Map::project_shared(h, bias().segment(a0, n), zsq, Scalar(count()), t1, t2,
                                            part.s, jt != nullptr);
                        if (jt)
                          tile_product(Backend{}, false, root_beta, w, h, true, part.jt, f.pack);
                      } else {
                        auto first = buffer(f.first, n, batch);
                        auto second = buffer(f.second, n, multiplicity == 2 ? batch : 0);
                        Map::phi(h, bias().segment(a0, n), zsq, Scalar(count()), first, second);
                        part.s.noalias() += first.transpose() * t1;
                        if constexpr (multiplicity == 2)
                          part.s.noalias() += second.transpose() * t2;
                        if (!jt) return;
                        auto u = buffer(f.u, n, batch);
                        Scalar unused = 0;
                        Map::pullback_shared(h, bias().segment(a0, n), zsq, Scalar(count()), t1, t2,
                                             first, second, u, unused);
                        tile_product(Backend{}, false, root_beta, w, u, true, part.jt, f.pack);
                      }
                    });
    // Exponential maps carry exp(-||z||^2): d/dx adds -2 beta x phi, i.e. -2 beta x s.
    if constexpr (exponential)
      if (jt) *jt -= (2 * beta_) * (x.array().rowwise() * s.transpose().array()).matrix();
  }
  void project(const Eigen::Ref<const matrix<Scalar>>& x, const vector<Scalar>& t,
               Eigen::Ref<vector<Scalar>> s, matrix<Scalar>* jt) const {
    workspace_type ws;
    project(x, t, s, jt, ws);
  }

  /// The batched Jacobian-transpose product: column b is J_phi(x_b)^T w_b for the columns w_b
  /// of `w` (F x B); project() is the case of one shared w = T.
  matrix<Scalar> jacobian_transpose(const Eigen::Ref<const matrix<Scalar>>& x,
                                    const Eigen::Ref<const matrix<Scalar>>& w) const {
    check(x, "queries");
    if (w.rows() != size() || w.cols() != x.cols())
      throw dimension_mismatch(detail::message("w is ", w.rows(), " x ", w.cols(),
                                               "; it must be F x B = ", size(), " x ", x.cols()));
    const index batch = x.cols();
    const row_vector<Scalar> zsq = beta_ * x.colwise().squaredNorm();
    const Scalar root_beta = std::sqrt(beta_);
    matrix<Scalar> out = matrix<Scalar>::Zero(dim(), batch);
    row_vector<Scalar> weighted = row_vector<Scalar>::Zero(batch);  // sum_a w_a phi_a(x)
    feature_scratch<Scalar> f;
    for (index k = 0; k < tiles(); ++k) {
      const auto [a0, n] = tile_range(k);
      const auto om = compute_h(a0, n, x, f);
      const auto h = f.h.topLeftCorner(n, batch);
      f.first.resize(n, batch);
      f.second.resize(n, multiplicity == 2 ? batch : 0);
      Map::phi(h, bias().segment(a0, n), zsq, Scalar(count()), f.first, f.second);
      const auto w1 = w.middleRows(a0, n);
      const auto w2 = w.middleRows(multiplicity == 2 ? count() + a0 : a0, n);
      Map::pullback(h, bias().segment(a0, n), zsq, Scalar(count()), w1, w2, f.first, f.second, f.u,
                    weighted);
      out.noalias() += root_beta * (om * f.u);
    }
    if constexpr (exponential)
      out -= (2 * beta_) * (x.array().rowwise() * weighted.array()).matrix();
    return out;
  }

  /// Throws unless phi can represent every column of x: shapes, finite entries and, for the
  /// exponential maps, beta ||x||^2 small enough that exp(h - beta ||x||^2) does not underflow
  /// for typical h (it would turn every feature into 0 and the energy into its eps floor).
  void check(const Eigen::Ref<const matrix<Scalar>>& x, const char* name) const {
    require_rows(name, x.rows(), dim(), "the feature map's input dimension");
    require_finite(name, x);
    if constexpr (exponential) {
      // Half the exponent range of the smallest normal number: 354 in double, 43 in float.
      const Scalar limit = Scalar(-0.5) * std::log(std::numeric_limits<Scalar>::min());
      for (index b = 0; b < x.cols(); ++b) {
        const Scalar z2 = beta_ * x.col(b).squaredNorm();
        if (!(z2 <= limit))
          throw invalid_argument(detail::message(
              name, " column ", b, " has beta ||x||^2 = ", z2, ", above ", limit,
              ": positive random features exp(h - beta ||x||^2) underflow there; move the data ",
              "toward the origin, lower beta, or use a trigonometric map"));
      }
    }
  }

 private:
  index tiles() const { return (count() + projection_.tile() - 1) / projection_.tile(); }
  std::pair<index, index> tile_range(index k) const {
    const index a0 = k * projection_.tile();
    return {a0, std::min(projection_.tile(), count() - a0)};
  }
  /// The top-left rows x cols of a buffer that only grows.
  static auto buffer(matrix<Scalar>& m, index rows, index cols) {
    if (m.rows() < rows || m.cols() < cols)
      m.resize(std::max(rows, m.rows()), std::max(cols, m.cols()));
    return m.topLeftCorner(rows, cols);
  }
  /// h = sqrt(beta) omega_tile x into the top n x B block of f.h (a buffer that only grows);
  /// returns the tile's directions, omega_tile^T (D x n).
  template <class X>
  Eigen::Ref<const matrix<Scalar>> compute_h(index a0, index n, const X& x,
                                             feature_scratch<Scalar>& f) const {
    const auto w = projection_.directions(a0, n, f.omega);
    tile_product(Backend{}, true, std::sqrt(beta_), w, x, false, buffer(f.h, n, x.cols()), f.pack);
    return w;
  }

  projection_type projection_;
  Scalar beta_{};
};

}  // namespace engram
