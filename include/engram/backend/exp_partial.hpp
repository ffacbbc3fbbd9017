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

  index batch() const { return max.size(); }

  /// Folds `other` (the same queries, a disjoint block of memories) into this state.
  void combine(const exp_partial& other) {
    const bool with_weighted = weighted.size() > 0;
    const index d = with_weighted ? weighted.rows() : 0;
    for (index b = 0; b < max.size(); ++b)
      fold(max(b), sum(b), with_weighted ? weighted.col(b).data() : nullptr, other.max(b),
           other.sum(b), with_weighted ? other.weighted.col(b).data() : nullptr, d, max(b), sum(b),
           with_weighted ? weighted.col(b).data() : nullptr);
  }

  /// One column of the combination of two partial states, `left` (the lower-numbered block of
  /// memories) first: (m, s, w) = (ml, sl, wl) o (mr, sr, wr), each w holding `d` numbers, the
  /// output allowed to alias either input. combine() and the MPI ranks' combination share it,
  /// so that both round alike.
  static void fold(Scalar ml, Scalar sl, const Scalar* wl, Scalar mr, Scalar sr, const Scalar* wr,
                   index d, Scalar& m, Scalar& s, Scalar* w) {
    const Scalar top = std::max(ml, mr);
    if (top == -std::numeric_limits<Scalar>::infinity()) return;  // both empty
    const Scalar a = std::exp(ml - top), c = std::exp(mr - top);
    s = a * sl + c * sr;
    for (index i = 0; i < d; ++i) w[i] = a * wl[i] + c * wr[i];
    m = top;
  }
};

}  // namespace engram
