// The projection behind random features: Y directions omega_a in R^D (a Y x D matrix) and
// phases b_a in [0, 2 pi), kept apart from the map formula that turns h_a = <omega_a, z> into
// features. omega is drawn iid N(0, I_D), or in orthogonal blocks of D rows scaled by
// chi-distributed norms (Choromanski et al.: the same expectation, lower variance), or given by
// the user (to reproduce another implementation's features exactly). Drawn projections are
// counter-based (Philox, keyed by the seed): row a is the same whether it is stored
// (materialised) or regenerated tile by tile (on_demand, seed 001 Algorithm 1).
#pragma once

#include <Eigen/QR>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <numbers>

#include "engram/core/error.hpp"
#include "engram/core/rng.hpp"
#include "engram/core/types.hpp"

namespace engram {

/// How the Y x D projection omega is held.
enum class omega_storage {
  materialised,  ///< stored once: Y D numbers, fastest
  on_demand,     ///< regenerated tile by tile from the seed: O(tile D) memory, more arithmetic
};

struct feature_options {
  bool orthogonal = false;
  omega_storage storage = omega_storage::materialised;
  index tile = 512;  ///< rows of omega per streamed tile
  /// How the normals of a drawn omega come from the seed's Philox blocks: float Box-Muller pairs
  /// (vectorised, the same directions in float and double), or double ones (maps and memory
  /// files made before the float draw).
  normal_draw draw = normal_draw::float_box_muller;

  void validate() const {
    if (tile < 1)
      throw invalid_argument(
          detail::message("feature_options.tile is ", tile, "; it must be >= 1"));
    if (draw != normal_draw::float_box_muller && draw != normal_draw::double_box_muller)
      throw invalid_argument(detail::message("feature_options.draw is ", int(draw),
                                             "; it must be float_box_muller (1) or "
                                             "double_box_muller (0)"));
  }
};

template <real_scalar Scalar>
class gaussian_projection {
 public:
  /// Y = `count` directions in D = `dim` drawn from the Philox streams of `seed`.
  gaussian_projection(index dim, index count, std::uint64_t seed, const feature_options& options)
      : dim_(dim), count_(count), seed_(seed), options_(options) {
    if (dim < 1) throw invalid_argument(detail::message("dim is ", dim, "; it must be >= 1"));
    if (count < 1)
      throw invalid_argument(
          detail::message("the number of random features Y is ", count, "; it must be >= 1"));
    // Y x D numbers must be countable (and, materialised, allocatable): a product that
    // overflows would otherwise surface as std::bad_alloc or a wrapped size.
    if (count > std::numeric_limits<index>::max() / dim / index(sizeof(Scalar)))
      throw invalid_argument(detail::message("Y = ", count, " random features in D = ", dim,
                                             " dimensions make ", double(count) * double(dim),
                                             " numbers of omega, more than can be addressed"));
    options_.validate();
    if (options_.orthogonal && options_.storage == omega_storage::on_demand)
      options_.tile = std::max<index>(1, (options_.tile + dim - 1) / dim) * dim;  // whole blocks
    if (options_.storage == omega_storage::materialised) generate(0, count, directions_);
    bias_.resize(count);
    const philox_source rng(seed_);
    for (index a = 0; a < count; ++a)
      bias_(a) = Scalar(2 * std::numbers::pi) * rng.uniform<Scalar>(bias_stream, std::uint64_t(a));
  }

  /// A projection given by the user: `omega` (Y x D) and the phases `bias` (Y, used by the cos
  /// map; empty for zeros). Both are stored.
  gaussian_projection(const Eigen::Ref<const matrix<Scalar>>& omega,
                      const Eigen::Ref<const vector<Scalar>>& bias, index tile = 512)
      : dim_(omega.cols()), count_(omega.rows()), seed_(0), user_(true) {
    options_.tile = tile;
    options_.validate();
    if (omega.rows() < 1 || omega.cols() < 1)
      throw dimension_mismatch(detail::message("omega is ", omega.rows(), " x ", omega.cols(),
                                               "; it must be Y x D with Y, D >= 1"));
    require_finite("omega", omega);
    directions_ = omega.transpose();
    if (bias.size() != 0 && bias.size() != omega.rows())
      throw dimension_mismatch(detail::message("bias has ", bias.size(), " entries; omega has ",
                                               omega.rows(), " rows (Y)"));
    require_finite("bias", bias);
    bias_ = bias.size() == 0 ? vector<Scalar>::Zero(count_) : vector<Scalar>(bias);
  }

  index dim() const { return dim_; }
  index count() const { return count_; }  ///< Y
  index tile() const { return options_.tile; }
  std::uint64_t seed() const { return seed_; }
  bool user_supplied() const { return user_; }
  const feature_options& options() const { return options_; }
  const vector<Scalar>& bias() const { return bias_; }
  /// Bytes kept for omega and the phases.
  std::size_t stored_bytes() const {
    return sizeof(Scalar) * std::size_t(directions_.size() + bias_.size());
  }

  /// Directions [first, first + n) as the columns of a D x n block (rows of omega, transposed:
  /// each direction's D numbers contiguous, in the order the stream draws them): a view of the
  /// stored matrix, else generated into `scratch`, a buffer that only grows.
  Eigen::Ref<const matrix<Scalar>> directions(index first, index n, matrix<Scalar>& scratch) const {
    if (directions_.size() > 0) return directions_.middleCols(first, n);
    generate(first, n, scratch);
    return scratch.leftCols(n);
  }
  /// All of omega, Y x D.
  matrix<Scalar> omega() const {
    matrix<Scalar> scratch;
    return directions(0, count_, scratch).transpose();
  }

 private:
  static constexpr std::uint64_t omega_stream = 0, norm_stream = 1, bias_stream = 2;

  /// Directions [first, first + n) as the columns of out (D x n, a buffer that only grows).
  void generate(index first, index n, matrix<Scalar>& out) const {
    const philox_source rng(seed_);
    if (out.rows() != dim_ || out.cols() < n) out.resize(dim_, std::max(n, out.cols()));
    if (!options_.orthogonal) {
      // Entry e = a D + d of the stream is omega_ad: the D x n columns are contiguous.
      rng.normals(options_.draw, omega_stream, std::uint64_t(first * dim_), std::size_t(n * dim_),
                  out.data());
      return;
    }
    // Orthogonal blocks of D rows: Q of a Gaussian D x D block, each row scaled by the norm of
    // an independent Gaussian D-vector (chi with D degrees of freedom).
    matrix<double> g(dim_, dim_);
    vector<double> z(dim_ * dim_);
    for (index block = first / dim_; block * dim_ < first + n; ++block) {
      const index b0 = block * dim_;
      // Entry k of the block is g(k / D, k % D).
      rng.normals(options_.draw, omega_stream, std::uint64_t(b0 * dim_), std::size_t(dim_ * dim_),
                  z.data());
      g = Eigen::Map<const Eigen::Matrix<double, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>>(
          z.data(), dim_, dim_);
      const Eigen::HouseholderQR<matrix<double>> qr(g);
      matrix<double> q = qr.householderQ();
      // Householder QR fixes the signs of R's diagonal, which biases the signs of Q's columns
      // (the first is never positive in its first entry); flipping each column by sign(R_kk)
      // makes Q Haar-distributed, which the exp map, odd in omega, needs to stay unbiased.
      for (index k = 0; k < dim_; ++k)
        if (qr.matrixQR()(k, k) < 0) q.col(k) = -q.col(k);
      for (index r = std::max(first, b0); r < std::min(first + n, b0 + dim_); ++r) {
        rng.normals(options_.draw, norm_stream, std::uint64_t(r * dim_), std::size_t(dim_),
                    z.data());
        double norm2 = 0;
        for (index k = 0; k < dim_; ++k) norm2 += z(k) * z(k);
        out.col(r - first) = (std::sqrt(norm2) * q.col(r - b0)).template cast<Scalar>();
      }
    }
  }

  index dim_, count_;
  std::uint64_t seed_;
  bool user_ = false;
  feature_options options_{};
  matrix<Scalar> directions_;  // omega^T, D x Y (a direction per column) when materialised or
                               // given, empty on demand
  vector<Scalar> bias_;        // b_a, used by the cos map
};

}  // namespace engram
