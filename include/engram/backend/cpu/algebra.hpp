// The cpu backend's state algebra, the operations integrate() performs on D x n working sets
// (Boost.Odeint's algebra/operations role): y += a x, distances between states, masked updates, and
// the compaction that moves the columns still running to the front.
#pragma once

#include <vector>

#include "engram/backend/cpu/workspace.hpp"
#include "engram/core/types.hpp"

namespace engram {

/// y += a x.
template <class Scalar, class X, class Y>
void axpy(cpu, Scalar a, const Eigen::MatrixBase<X>& x, Eigen::MatrixBase<Y>& y) {
  y.noalias() += a * x;
}

/// out(j) = ||x.col(j) - y.col(j)||, column by column (no D x n temporary).
template <class X, class Y, class Out>
void column_distances(cpu, const Eigen::MatrixBase<X>& x, const Eigen::MatrixBase<Y>& y,
                      Eigen::MatrixBase<Out>& out) {
  for (index j = 0; j < x.cols(); ++j) out(j) = (x.col(j) - y.col(j)).norm();
}

/// d *= free, coordinate-wise: free is empty (no clamping), D x 1 (one mask for every column)
/// or D x n (one per column); entries are 1 where a coordinate moves and 0 where it is clamped.
template <class Scalar, class D>
void mask_columns(cpu, const matrix<Scalar>& free, Eigen::MatrixBase<D>& d) {
  if (free.size() == 0) return;
  if (free.cols() == 1)
    d.array().colwise() *= free.col(0).array();
  else
    d.array() *= free.leftCols(d.cols()).array();
}

/// Moves column keep[i] of m to column i for i < keep.size(); keep is ascending, so moving down
/// in place is safe. The trailing columns are left as they are.
template <class M>
void compact_columns(cpu, Eigen::MatrixBase<M>& m, const std::vector<index>& keep) {
  for (std::size_t i = 0; i < keep.size(); ++i)
    if (keep[i] != index(i)) m.col(index(i)) = m.col(keep[i]);
}

}  // namespace engram
