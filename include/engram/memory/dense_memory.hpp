// A dense memory: K stored patterns xi_mu in R^D, one per column of a D x K matrix
// ("memory representation", MrDAM, seed 001 sec. 2). Caches 1/2 ||xi_mu||^2, which every
// L2-similarity kernel needs, and keeps it in step with add() and remove().
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <vector>

#include "engram/backend/cpu/workspace.hpp"
#include "engram/core/backend.hpp"
#include "engram/core/error.hpp"
#include "engram/core/types.hpp"

namespace engram {

/// Patterns live where the backend keeps matrices (backend_traits<Backend>::matrix_type).
template <real_scalar Scalar, backend Backend = cpu>
class dense_memory {
 public:
  using scalar_type = Scalar;
  using backend_type = Backend;
  using matrix_type = typename backend_traits<Backend>::template matrix_type<Scalar>;

  /// An empty memory of dimension `dim`; add() patterns before evaluating an energy on it.
  explicit dense_memory(index dim) : patterns_(checked_dim(dim), 0), half_sq_norms_(0) {}

  /// Stores the columns of `patterns` (D x K).
  template <class Derived>
  explicit dense_memory(const Eigen::MatrixBase<Derived>& patterns) : patterns_(patterns) {
    if (patterns_.rows() < 1)
      throw dimension_mismatch(
          detail::message("patterns has ", patterns_.rows(), " rows; at least one is required"));
    require_finite("patterns", patterns_);
    half_sq_norms_ = Scalar(0.5) * patterns_.colwise().squaredNorm().transpose();
    check_norms(half_sq_norms_, "patterns");
  }

  index dim() const { return patterns_.rows(); }
  /// Changes with every add() and remove(): indexes built over the patterns compare it.
  std::uint64_t version() const { return version_; }
  index size() const { return patterns_.cols(); }
  bool empty() const { return patterns_.cols() == 0; }

  /// The stored patterns, D x K.
  const matrix_type& patterns() const { return patterns_; }
  /// 1/2 ||xi_mu||^2 for each stored pattern.
  const vector<Scalar>& half_squared_norms() const { return half_sq_norms_; }

  /// Appends the columns of `more` (D x n) as new patterns; returns the index of the first.
  template <class Derived>
  index add(const Eigen::MatrixBase<Derived>& more) {
    require_rows("patterns to add", more.rows(), dim(), "the memory dimension");
    require_finite("patterns to add", more);
    const matrix<Scalar> added = more.template cast<Scalar>();
    const vector<Scalar> norms = Scalar(0.5) * added.colwise().squaredNorm().transpose();
    check_norms(norms, "patterns to add");
    const index first = size(), n = added.cols();
    patterns_.conservativeResize(Eigen::NoChange, first + n);
    patterns_.rightCols(n) = added;
    half_sq_norms_.conservativeResize(first + n);
    half_sq_norms_.tail(n) = norms;
    ++version_;
    return first;
  }

  /// Removes pattern `mu`; the patterns after it move down by one.
  void remove(index mu) { remove(std::vector<index>{mu}); }

  /// Removes the patterns whose indices are listed (any order, no duplicates).
  void remove(std::vector<index> indices) {
    std::sort(indices.begin(), indices.end());
    for (std::size_t i = 0; i < indices.size(); ++i) {
      if (indices[i] < 0 || indices[i] >= size())
        throw invalid_argument(detail::message("pattern index ", indices[i],
                                               " is out of range; the memory holds ", size(),
                                               " patterns"));
      if (i > 0 && indices[i] == indices[i - 1])
        throw invalid_argument(
            detail::message("pattern index ", indices[i], " is listed twice for removal"));
    }
    index kept = 0;
    std::size_t next = 0;
    for (index mu = 0; mu < size(); ++mu) {
      if (next < indices.size() && indices[next] == mu) {
        ++next;
        continue;
      }
      if (kept != mu) {
        patterns_.col(kept) = patterns_.col(mu);
        half_sq_norms_(kept) = half_sq_norms_(mu);
      }
      ++kept;
    }
    patterns_.conservativeResize(Eigen::NoChange, kept);
    half_sq_norms_.conservativeResize(kept);
    ++version_;
  }

 private:
  // Checked before any matrix is built: Eigen asserts on a negative size.
  static index checked_dim(index dim) {
    if (dim < 1) throw invalid_argument(detail::message("dim is ", dim, "; it must be at least 1"));
    return dim;
  }

  // A finite pattern whose squared norm overflows would turn every score into inf - inf.
  static void check_norms(const vector<Scalar>& norms, const char* name) {
    for (index mu = 0; mu < norms.size(); ++mu)
      if (!std::isfinite(norms(mu)))
        throw not_finite(detail::message(name, " column ", mu, " has a squared norm beyond the ",
                                         "range of its scalar type; rescale the data"));
  }

  matrix_type patterns_;
  vector<Scalar> half_sq_norms_;
  std::uint64_t version_ = 0;
};

}  // namespace engram
