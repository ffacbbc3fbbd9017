// Random feature maps for the Gaussian kernel k(x, x') = exp(-beta/2 ||x - x'||^2)
// (seed 001 sec. 3 and eq. 8; Rahimi & Recht; Choromanski et al.): phi: R^D -> R^F with
// E <phi(x), phi(x')> = k(x, x'). With z = sqrt(beta) x, h_a = <omega_a, z>, omega_a ~ N(0, I_D),
// b_a ~ U(0, 2 pi), a = 1..Y:
//   cos:     phi_a = sqrt(2/Y) cos(h_a + b_a)                                   F = Y
//   sincos:  phi = (1/sqrt(Y)) [cos h_a ; sin h_a]                              F = 2Y
//   exp:     phi_a = (1/sqrt(Y)) exp(h_a - ||z||^2)        (positive features)  F = Y
//   exp_exp: phi = (1/sqrt(2Y)) [exp(h_a - ||z||^2) ; exp(-h_a - ||z||^2)]      F = 2Y
// Orthogonal features draw omega in blocks of D orthonormal rows scaled by chi-distributed
// norms: the same expectation, lower variance. omega is counter-based (Philox, keyed by the
// seed): row a is the same whether it is stored (materialised) or regenerated tile by tile
// (on_demand, seed 001 Algorithm 1), on every thread count.
#pragma once

#include <Eigen/QR>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <numbers>
#include <vector>

#include "engram/core/error.hpp"
#include "engram/core/rng.hpp"
#include "engram/core/types.hpp"

#if defined(_OPENMP)
#include <omp.h>
#endif

namespace engram {

enum class feature_kind { cos, sincos, exp, exp_exp };

struct cos_features {
  static constexpr feature_kind kind = feature_kind::cos;
  static constexpr const char* name = "cos";
};
struct sincos_features {
  static constexpr feature_kind kind = feature_kind::sincos;
  static constexpr const char* name = "sincos";
};
struct exp_features {
  static constexpr feature_kind kind = feature_kind::exp;
  static constexpr const char* name = "exp";
};
struct exp_exp_features {
  static constexpr feature_kind kind = feature_kind::exp_exp;
  static constexpr const char* name = "exp_exp";
};

template <class M>
concept feature_map_kind = requires {
  { M::kind } -> std::convertible_to<feature_kind>;
  { M::name } -> std::convertible_to<const char*>;
};

/// How the Y x D projection omega is held.
enum class omega_storage {
  materialised,  ///< stored once: Y D numbers, fastest
  on_demand,     ///< regenerated tile by tile from the seed: O(tile D) memory, more arithmetic
};

struct feature_options {
  bool orthogonal = false;
  omega_storage storage = omega_storage::materialised;
  index tile = 512;  ///< rows of omega per streamed tile

  void validate() const {
    if (tile < 1)
      throw invalid_argument(
          detail::message("feature_options.tile is ", tile, "; it must be >= 1"));
  }
};

template <feature_map_kind Map, real_scalar Scalar>
class random_features {
 public:
  using scalar_type = Scalar;
  using map_type = Map;
  static constexpr index multiplicity =
      Map::kind == feature_kind::sincos || Map::kind == feature_kind::exp_exp ? 2 : 1;
  static constexpr bool exponential =
      Map::kind == feature_kind::exp || Map::kind == feature_kind::exp_exp;

  /// Y = `count` random directions for D = `dim` inputs at inverse temperature `beta`.
  random_features(index dim, index count, Scalar beta, std::uint64_t seed,
                  const feature_options& options = {})
      : dim_(dim), count_(count), beta_(beta), seed_(seed), options_(options) {
    if (dim < 1) throw invalid_argument(detail::message("dim is ", dim, "; it must be >= 1"));
    if (count < 1)
      throw invalid_argument(
          detail::message("the number of random features Y is ", count, "; it must be >= 1"));
    require_positive("beta", beta);
    options_.validate();
    if (options_.orthogonal && options_.storage == omega_storage::on_demand)
      options_.tile = std::max<index>(1, (options_.tile + dim - 1) / dim) * dim;  // whole blocks
    if (options_.storage == omega_storage::materialised) {
      omega_.resize(count, dim);
      generate(0, count, omega_);
    }
    bias_.resize(count);
    const philox_source rng(seed_);
    for (index a = 0; a < count; ++a)
      bias_(a) = Scalar(2 * std::numbers::pi) * rng.uniform<Scalar>(bias_stream, std::uint64_t(a));
  }

  index dim() const { return dim_; }
  index count() const { return count_; }                ///< Y
  index size() const { return multiplicity * count_; }  ///< F, the length of phi(x)
  Scalar beta() const { return beta_; }
  std::uint64_t seed() const { return seed_; }
  const feature_options& options() const { return options_; }

  /// Bytes this object keeps for omega and the biases.
  std::size_t stored_bytes() const {
    return sizeof(Scalar) * std::size_t(omega_.size() + bias_.size());
  }
  /// Bytes of scratch one thread uses per query column while streaming tiles.
  std::size_t tile_bytes_per_query() const {
    return sizeof(Scalar) * std::size_t(2 * options_.tile + dim_);
  }

  /// Rows [first, first + n) of omega (n x D), generated or copied.
  void omega_rows(index first, index n, matrix<Scalar>& out) const {
    out.resize(n, dim_);
    if (options_.storage == omega_storage::materialised)
      out = omega_.middleRows(first, n);
    else
      generate(first, n, out);
  }
  /// Rows [first, first + n) of omega: a view of the stored matrix when materialised, else
  /// generated into `scratch`.
  Eigen::Ref<const matrix<Scalar>> omega_tile(index first, index n, matrix<Scalar>& scratch) const {
    if (options_.storage == omega_storage::materialised) return omega_.middleRows(first, n);
    generate(first, n, scratch);
    return scratch;
  }
  matrix<Scalar> omega() const {
    matrix<Scalar> out;
    omega_rows(0, count_, out);
    return out;
  }
  const vector<Scalar>& bias() const { return bias_; }

  /// phi of each column of `x` (F x B). Forms the whole F x B block: for tests and small
  /// batches; memories and energies stream instead.
  matrix<Scalar> features(const Eigen::Ref<const matrix<Scalar>>& x) const {
    check(x, "queries");
    matrix<Scalar> out(size(), x.cols());
    const row_vector<Scalar> zsq = beta_ * x.colwise().squaredNorm();
    matrix<Scalar> scratch, h;
    for (index a0 = 0; a0 < count_; a0 += options_.tile) {
      const index n = std::min(options_.tile, count_ - a0);
      const auto w = omega_tile(a0, n, scratch);
      h.noalias() = std::sqrt(beta_) * (w * x);
      auto first = out.middleRows(a0, n);
      if constexpr (multiplicity == 2) {
        auto second = out.middleRows(count_ + a0, n);
        tile_features(h, a0, zsq, first, &second);
      } else {
        tile_features(h, a0, zsq, first, static_cast<decltype(first)*>(nullptr));
      }
    }
    return out;
  }

  /// t += sign * sum over the columns of x of phi(x), streaming tiles of omega and blocks of
  /// columns so that no F x B block is formed.
  void accumulate(const Eigen::Ref<const matrix<Scalar>>& x, Eigen::Ref<vector<Scalar>> t,
                  Scalar sign = 1) const {
    check(x, "patterns");
    if (t.size() != size())
      throw dimension_mismatch(detail::message("the memory tensor has ", t.size(),
                                               " entries, the feature map F = ", size()));
    const index tiles = (count_ + options_.tile - 1) / options_.tile;
    constexpr index column_block = 256;
#if defined(_OPENMP)
#pragma omp parallel for schedule(dynamic, 1)
#endif
    for (index k = 0; k < tiles; ++k) {  // tiles own disjoint entries of t: no race
      const index a0 = k * options_.tile, n = std::min(options_.tile, count_ - a0);
      matrix<Scalar> scratch, h, first(n, 0), second(n, 0);
      const auto w = omega_tile(a0, n, scratch);
      for (index b0 = 0; b0 < x.cols(); b0 += column_block) {
        const index bc = std::min(column_block, x.cols() - b0);
        const auto xs = x.middleCols(b0, bc);
        const row_vector<Scalar> zsq = beta_ * xs.colwise().squaredNorm();
        h.noalias() = std::sqrt(beta_) * (w * xs);
        first.resize(n, bc);
        second.resize(n, bc);
        tile_features(h, a0, zsq, first, multiplicity == 2 ? &second : nullptr);
        t.segment(a0, n) += sign * first.rowwise().sum();
        if constexpr (multiplicity == 2) t.segment(count_ + a0, n) += sign * second.rowwise().sum();
      }
    }
  }

  /// For each column x_b: s_b = <t, phi(x_b)> and, when `jt` is not null, the column
  /// J_phi(x_b)^T t (D x B). Two GEMMs per tile of omega: 4 B Y D flops.
  void project(const Eigen::Ref<const matrix<Scalar>>& x, const vector<Scalar>& t,
               Eigen::Ref<vector<Scalar>> s, matrix<Scalar>* jt) const {
    require_rows("queries", x.rows(), dim_, "the feature map's input dimension");
    if (t.size() != size() || s.size() != x.cols())
      throw dimension_mismatch(detail::message("project() got a tensor of ", t.size(),
                                               " entries (F = ", size(), ") and ", s.size(),
                                               " outputs for ", x.cols(), " queries"));
    const index batch = x.cols(), tiles = (count_ + options_.tile - 1) / options_.tile;
    const row_vector<Scalar> zsq = beta_ * x.colwise().squaredNorm();
    const Scalar root_beta = std::sqrt(beta_);
    int threads = 1;
#if defined(_OPENMP)
    threads = std::max(1, std::min<int>(omp_get_max_threads(), int(tiles)));
#endif
    // Tiles of features are independent terms of the sums: each thread keeps its own partial
    // s and J^T t, added up at the end (the memory tensor is additive).
    std::vector<vector<Scalar>> s_part(std::size_t(threads), vector<Scalar>::Zero(batch));
    std::vector<matrix<Scalar>> g_part(static_cast<std::size_t>(threads));
    if (jt)
      for (auto& g : g_part) g.setZero(dim_, batch);
#if defined(_OPENMP)
#pragma omp parallel for schedule(dynamic, 1) num_threads(threads)
#endif
    for (index k = 0; k < tiles; ++k) {
      int me = 0;
#if defined(_OPENMP)
      me = omp_get_thread_num();
#endif
      const index a0 = k * options_.tile, n = std::min(options_.tile, count_ - a0);
      matrix<Scalar> scratch, h, u;
      const auto w = omega_tile(a0, n, scratch);
      h.noalias() = root_beta * (w * x);
      tile_projection(h, a0, zsq, t, s_part[std::size_t(me)], u);
      if (jt) g_part[std::size_t(me)].noalias() += root_beta * (w.transpose() * u);
    }
    s = s_part[0];
    for (int p = 1; p < threads; ++p) s += s_part[std::size_t(p)];
    if (jt) {
      *jt = g_part[0];
      for (int p = 1; p < threads; ++p) *jt += g_part[std::size_t(p)];
      // Exponential maps carry exp(-||z||^2): d/dx adds -2 beta x phi, i.e. -2 beta x s.
      if constexpr (exponential)
        *jt -= (2 * beta_) * (x.array().rowwise() * s.transpose().array()).matrix();
    }
  }

 private:
  static constexpr std::uint64_t omega_stream = 0, norm_stream = 1, bias_stream = 2;

 public:
  /// The batched Jacobian-transpose product: column b is J_phi(x_b)^T w_b for the columns w_b
  /// of `w` (F x B). Two GEMMs per tile of omega, like project(), which is the case of one
  /// shared w = T.
  matrix<Scalar> jacobian_transpose(const Eigen::Ref<const matrix<Scalar>>& x,
                                    const Eigen::Ref<const matrix<Scalar>>& w) const {
    check(x, "queries");
    if (w.rows() != size() || w.cols() != x.cols())
      throw dimension_mismatch(detail::message("w is ", w.rows(), " x ", w.cols(),
                                               "; it must be F x B = ", size(), " x ", x.cols()));
    const index batch = x.cols();
    const row_vector<Scalar> zsq = beta_ * x.colwise().squaredNorm();
    const Scalar root_beta = std::sqrt(beta_), y = Scalar(count_);
    matrix<Scalar> out = matrix<Scalar>::Zero(dim_, batch), scratch, h, u;
    row_vector<Scalar> weighted = row_vector<Scalar>::Zero(batch);  // sum_a w_a phi_a(x)
    for (index a0 = 0; a0 < count_; a0 += options_.tile) {
      const index n = std::min(options_.tile, count_ - a0);
      const auto om = omega_tile(a0, n, scratch);
      h.noalias() = root_beta * (om * x);
      const auto w1 = w.middleRows(a0, n).array();
      if constexpr (Map::kind == feature_kind::cos) {
        u = (-std::sqrt(2 / y)) *
            ((h.colwise() + bias_.segment(a0, n)).array().sin() * w1).matrix();
      } else if constexpr (Map::kind == feature_kind::sincos) {
        const auto w2 = w.middleRows(count_ + a0, n).array();
        u = (1 / std::sqrt(y)) * (h.array().cos() * w2 - h.array().sin() * w1).matrix();
      } else if constexpr (Map::kind == feature_kind::exp) {
        u = ((1 / std::sqrt(y)) * (h.rowwise() - zsq).array().exp() * w1).matrix();
        weighted += u.colwise().sum();
      } else {
        const auto w2 = w.middleRows(count_ + a0, n).array();
        const Scalar c = 1 / std::sqrt(2 * y);
        const matrix<Scalar> plus = c * ((h.rowwise() - zsq).array().exp() * w1).matrix();
        const matrix<Scalar> minus = c * (((-h).rowwise() - zsq).array().exp() * w2).matrix();
        u = plus - minus;
        weighted += plus.colwise().sum() + minus.colwise().sum();
      }
      out.noalias() += root_beta * (om.transpose() * u);
    }
    if constexpr (exponential)
      out -= (2 * beta_) * (x.array().rowwise() * weighted.array()).matrix();
    return out;
  }

 public:
  /// Throws unless phi can represent every column of x: shapes, finite entries and, for the
  /// exponential maps, beta ||x||^2 small enough that exp(h - beta ||x||^2) does not underflow
  /// for typical h (it would turn every feature into 0 and the energy into its eps floor).
  void check(const Eigen::Ref<const matrix<Scalar>>& x, const char* name) const {
    require_rows(name, x.rows(), dim_, "the feature map's input dimension");
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
  /// Rows [first, first + n) of omega from the Philox streams.
  void generate(index first, index n, matrix<Scalar>& out) const {
    const philox_source rng(seed_);
    out.resize(n, dim_);
    if (!options_.orthogonal) {
      const std::uint64_t begin = std::uint64_t(first * dim_);
      rng.for_each_normal(omega_stream, begin, std::uint64_t((first + n) * dim_),
                          [&](std::uint64_t e, double z) {
                            const index k = index(e - begin);
                            out(k / dim_, k % dim_) = static_cast<Scalar>(z);
                          });
      return;
    }
    // Orthogonal blocks of D rows: Q of a Gaussian D x D block, each row scaled by the norm of
    // an independent Gaussian D-vector (chi with D degrees of freedom).
    for (index block = first / dim_; block * dim_ < first + n; ++block) {
      const index b0 = block * dim_;
      matrix<double> g(dim_, dim_);
      const std::uint64_t begin = std::uint64_t(b0 * dim_);
      rng.for_each_normal(omega_stream, begin, begin + std::uint64_t(dim_ * dim_),
                          [&](std::uint64_t e, double z) {
                            const index k = index(e - begin);
                            g(k / dim_, k % dim_) = z;
                          });
      const Eigen::HouseholderQR<matrix<double>> qr(g);
      matrix<double> q = qr.householderQ();
      // Householder QR fixes the signs of R's diagonal, which biases the signs of Q's columns
      // (the first is never positive in its first entry); flipping each column by sign(R_kk)
      // makes Q Haar-distributed, which the exp map, odd in omega, needs to stay unbiased.
      for (index k = 0; k < dim_; ++k)
        if (qr.matrixQR()(k, k) < 0) q.col(k) = -q.col(k);
      for (index r = std::max(first, b0); r < std::min(first + n, b0 + dim_); ++r) {
        double norm2 = 0;
        rng.for_each_normal(norm_stream, std::uint64_t(r * dim_), std::uint64_t((r + 1) * dim_),
                            [&](std::uint64_t, double z) { norm2 += z * z; });
        out.row(r - first) = (std::sqrt(norm2) * q.col(r - b0)).transpose().template cast<Scalar>();
      }
    }
  }

  /// phi for the rows of one tile; h = sqrt(beta) omega_tile x (n x b).
  template <class First, class Second>
  void tile_features(const matrix<Scalar>& h, index a0, const row_vector<Scalar>& zsq, First& first,
                     Second* second) const {
    const index n = h.rows();
    const Scalar y = Scalar(count_);
    if constexpr (Map::kind == feature_kind::cos) {
      first = std::sqrt(2 / y) * (h.colwise() + bias_.segment(a0, n)).array().cos().matrix();
    } else if constexpr (Map::kind == feature_kind::sincos) {
      first = (1 / std::sqrt(y)) * h.array().cos().matrix();
      *second = (1 / std::sqrt(y)) * h.array().sin().matrix();
    } else if constexpr (Map::kind == feature_kind::exp) {
      first = (1 / std::sqrt(y)) * (h.rowwise() - zsq).array().exp().matrix();
    } else {
      first = (1 / std::sqrt(2 * y)) * (h.rowwise() - zsq).array().exp().matrix();
      *second = (1 / std::sqrt(2 * y)) * ((-h).rowwise() - zsq).array().exp().matrix();
    }
  }

  /// s += sum_a t_a phi_a(x) over the tile's features, and u such that the tile's share of
  /// J^T t is sqrt(beta) omega_tile^T u (plus the -2 beta x s term of exponential maps).
  void tile_projection(const matrix<Scalar>& h, index a0, const row_vector<Scalar>& zsq,
                       const vector<Scalar>& t, vector<Scalar>& s, matrix<Scalar>& u) const {
    const index n = h.rows();
    const Scalar y = Scalar(count_);
    const auto t1 = t.segment(a0, n);
    if constexpr (Map::kind == feature_kind::cos) {
      const Scalar c = std::sqrt(2 / y);
      const auto arg = (h.colwise() + bias_.segment(a0, n)).array();
      s += c * (arg.cos().matrix().transpose() * t1);
      u = -c * (arg.sin().colwise() * t1.array()).matrix();
    } else if constexpr (Map::kind == feature_kind::sincos) {
      const Scalar c = 1 / std::sqrt(y);
      const auto t2 = t.segment(count_ + a0, n);
      const matrix<Scalar> cs = h.array().cos().matrix(), sn = h.array().sin().matrix();
      s += c * (cs.transpose() * t1 + sn.transpose() * t2);
      u = c * ((cs.array().colwise() * t2.array()) - (sn.array().colwise() * t1.array())).matrix();
    } else if constexpr (Map::kind == feature_kind::exp) {
      const Scalar c = 1 / std::sqrt(y);
      const matrix<Scalar> phi = c * (h.rowwise() - zsq).array().exp().matrix();
      s += phi.transpose() * t1;
      u = (phi.array().colwise() * t1.array()).matrix();
    } else {
      const Scalar c = 1 / std::sqrt(2 * y);
      const auto t2 = t.segment(count_ + a0, n);
      const matrix<Scalar> plus = c * (h.rowwise() - zsq).array().exp().matrix();
      const matrix<Scalar> minus = c * ((-h).rowwise() - zsq).array().exp().matrix();
      s += plus.transpose() * t1 + minus.transpose() * t2;
      u = ((plus.array().colwise() * t1.array()) - (minus.array().colwise() * t2.array())).matrix();
    }
  }

  index dim_, count_;
  Scalar beta_;
  std::uint64_t seed_;
  feature_options options_;
  matrix<Scalar> omega_;  // Y x D when materialised, empty on demand
  vector<Scalar> bias_;   // b_a, used by the cos map
};

}  // namespace engram
