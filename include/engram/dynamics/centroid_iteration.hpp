// Exact retrieval for compact-support energies (seed 002 Algorithm 1): z <- mean of the
// memories in the support B(z), repeated until z stops changing. It equals one gradient step
// with the state-dependent step eta(x) = (eps + sum_B (1 - beta/2 d^2)) / |B(x)| (Theorem 1),
// but writes the centroid directly so that a support of one memory returns that memory
// bit for bit. Clamped coordinates keep their values; columns with an empty support stay put,
// or take a gradient step of outside_step. Theorem 1's basin: with beta = 2/(r - Delta)^2, r
// the smallest distance between memories and Delta < r/2, a query within Delta of a memory has
// that memory alone in its support, so one step returns it; for Delta >= r/2 the radius r - Delta
// no longer reaches every such query.
#pragma once

#include <type_traits>
#include <utility>

#include "engram/core/concepts.hpp"
#include "engram/core/error.hpp"
#include "engram/core/types.hpp"

namespace engram {

/// An energy that can give the centroid of each state's support (lsr_energy, hybrid LSR).
template <class E>
concept support_centroid_energy = requires(const E& e, const matrix<typename E::scalar_type>& x,
                                           matrix<typename E::scalar_type>& c,
                                           Eigen::Matrix<index, Eigen::Dynamic, 1>& n) {
  e.support_centroids(x, c, n);
};

template <real_scalar Scalar>
struct centroid_iteration {
  using scalar_type = Scalar;
  /// Gradient step taken by columns whose support is empty. 0 leaves them in place (LSR, whose
  /// gradient vanishes there); the hybrid energy pulls them in with a positive step.
  Scalar outside_step = 0;

  void validate() const { require_non_negative("centroid_iteration.outside_step", outside_step); }

  template <gradient_system System>
  requires support_centroid_energy<std::remove_cvref_t<decltype(std::declval<System&>().energy())>>
  void do_step(System& system, matrix<Scalar>& x, const vector<Scalar>&,
               const matrix<Scalar>& g) const {
    thread_local matrix<Scalar> centroids;
    thread_local Eigen::Matrix<index, Eigen::Dynamic, 1> counts;
    system.energy().support_centroids(x, centroids, counts);
    const matrix<Scalar>& free = system.free();
    for (index j = 0; j < x.cols(); ++j) {
      if (counts(j) == 0) {
        if (outside_step > 0) x.col(j) -= outside_step * g.col(j);  // g is already masked
        continue;
      }
      if (free.size() == 0) {
        x.col(j) = centroids.col(j);
      } else {
        const auto mask = free.col(free.cols() == 1 ? 0 : j).array() > Scalar(0);
        x.col(j) = mask.select(centroids.col(j), x.col(j));
      }
    }
  }
};

}  // namespace engram
