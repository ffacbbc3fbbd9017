// The plain-sum partial state behind additive and compact kernels: per query b,
//   value_b = sum_mu F_mu,   slope_b = sum_mu F'_mu,   weighted_b = sum_mu F'_mu xi_mu,
//   count_b = the number of memories that contributed (the support size for compact kernels).
// Partials over disjoint blocks of memories combine by addition, so tiles, threads, devices and
// ranks split the memories freely (DESIGN, "Sums over memories are one associative reduction").
#pragma once

#include "engram/core/types.hpp"

namespace engram {

template <real_scalar Scalar>
struct sum_partial {
  vector<Scalar> value;
  vector<Scalar> slope;
  matrix<Scalar> weighted;  // D x B; empty when only energies are wanted
  Eigen::Matrix<index, Eigen::Dynamic, 1> count;

  void reset(index dim, index batch, bool with_weighted) {
    value.setZero(batch);
    slope.setZero(batch);
    count.setZero(batch);
    if (with_weighted)
      weighted.setZero(dim, batch);
    else
      weighted.resize(0, 0);
  }

  index batch() const { return value.size(); }

  /// Folds `other` (the same queries, a disjoint block of memories) into this state.
  void combine(const sum_partial& other) {
    value += other.value;
    slope += other.slope;
    count += other.count;
    if (weighted.size() > 0) weighted += other.weighted;
  }
};

}  // namespace engram
