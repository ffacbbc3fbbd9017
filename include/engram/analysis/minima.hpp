// A census of an energy's local minima against the stored patterns: which minima are stored
// patterns, which are emergent (seed 002 Definitions 2 and 3), and which stored patterns are
// no longer minima. Filled by enumerate_lsr_minima (exact, seed 002 Algorithm 3) and by
// descent_minima (fixed points of descent from many starts, as seed 002 does for LSE).
#pragma once

#include <vector>

#include "engram/core/types.hpp"

namespace engram {

template <real_scalar Scalar>
struct minima_census {
  matrix<Scalar> minima;    ///< D x M, one local minimum per column
  vector<Scalar> energies;  ///< the energy of each minimum
  /// The memories each LSR minimum is the centroid of (its support), ascending; empty for
  /// minima found by descent.
  std::vector<std::vector<index>> supports;
  Eigen::Matrix<bool, Eigen::Dynamic, 1> emergent;     ///< per minimum: not a stored pattern
  Eigen::Matrix<bool, Eigen::Dynamic, 1> retrievable;  ///< per stored pattern: still a minimum

  index count() const { return minima.cols(); }
  index emergent_count() const { return emergent.count(); }
  index stored_count() const { return count() - emergent_count(); }
  index retrievable_count() const { return retrievable.count(); }
};

}  // namespace engram
