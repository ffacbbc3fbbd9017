// The associative reduction behind every exponential-kernel energy. For a block of memories
// and a batch of queries it keeps, per query b, the running max m_b of the exponents
// a_mu,b = beta (<xi_mu, x_b> + c_mu), the sum s_b = sum_mu exp(a_mu,b - m_b) and the weighted
// pattern sum v_b = sum_mu exp(a_mu,b - m_b) xi_mu. Two partial states over disjoint blocks
// combine exactly (the streaming log-sum-exp of flash attention), which serves cache tiles,
// thread blocks and MPI ranks alike.
#pragma once

#include <cmath>
#include <limits>

#include "engram/core/types.hpp"

namespace engram {

template <real_scalar Scalar>
struct exp_partial {
  vector<Scalar> max;       // m_b, -inf while no memory has been seen
  vector<Scalar> sum;       // s_b
  matrix<Scalar> weighted;  // v_b, D x B; empty when only energies are wanted

  void reset(index dim, index batch, bool with_weighted) {
    max.setConstant(batch, -std::numeric_limits<Scalar>::infinity());
    sum.setZero(batch);
    if (with_weighted)
      weighted.setZero(dim, batch);
    else
      weighted.resize(0, 0);
  }

  /// Folds `other` (the same queries, a disjoint block of memories) into this state.
  void combine(const exp_partial& other) {
    const bool with_weighted = weighted.size() > 0;
    for (index b = 0; b < max.size(); ++b) {
      const Scalar m = std::max(max(b), other.max(b));
      if (m == -std::numeric_limits<Scalar>::infinity()) continue;
      const Scalar a = std::exp(max(b) - m), c = std::exp(other.max(b) - m);
      sum(b) = a * sum(b) + c * other.sum(b);
      if (with_weighted) weighted.col(b) = a * weighted.col(b) + c * other.weighted.col(b);
      max(b) = m;
    }
  }
};

}  // namespace engram
