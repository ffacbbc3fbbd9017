// How well one energy approximates another (seed 001 sec. 4): mean absolute errors of energies
// and gradients on a query set (eq. 14), the binarised Hamming distance between fixed points
// (eq. 15), and the divergence bounds of Theorem 2 and Corollary 1.
#pragma once

#include <algorithm>
#include <cmath>

#include "engram/core/concepts.hpp"
#include "engram/core/error.hpp"
#include "engram/core/types.hpp"

namespace engram {

struct approximation_errors {
  double energy;    ///< mean_b |E_b - E^_b|
  double gradient;  ///< mean_b ||grad E_b - grad E^_b||
};

/// Eq. 14 over the columns of `queries`; both energies must be finite there.
template <energy_function Reference, energy_function Approximation>
approximation_errors mean_absolute_errors(
    const Reference& reference, const Approximation& approximation,
    const Eigen::Ref<const matrix<typename Reference::scalar_type>>& queries) {
  using Scalar = typename Reference::scalar_type;
  static_assert(std::is_same_v<Scalar, typename Approximation::scalar_type>);
  reference.validate(queries);
  approximation.validate(queries);
  const index batch = queries.cols();
  vector<Scalar> e1(batch), e2(batch);
  matrix<Scalar> g1(queries.rows(), batch), g2(queries.rows(), batch);
  auto ws1 = reference.make_workspace();
  auto ws2 = approximation.make_workspace();
  reference.evaluate(queries, e1, &g1, ws1);
  approximation.evaluate(queries, e2, &g2, ws2);
  require_finite("reference energies", e1);
  require_finite("approximate energies", e2);
  return {double((e1 - e2).cwiseAbs().mean()), double((g1 - g2).colwise().norm().mean())};
}

/// Eq. 15: both states binarised to {0, 1/sqrt(D)} at 1/(2 sqrt(D)) (x >= 1/(2 sqrt(D)) maps to
/// 1/sqrt(D), as eq. 15 writes; the threshold is computed in double), then the fraction of
/// coordinates that differ, averaged over columns.
template <class A, class B>
double binarised_hamming(const Eigen::MatrixBase<A>& a, const Eigen::MatrixBase<B>& b) {
  if (a.rows() != b.rows() || a.cols() != b.cols())
    throw dimension_mismatch(detail::message("the states are ", a.rows(), " x ", a.cols(), " and ",
                                             b.rows(), " x ", b.cols(), "; they must agree"));
  require_columns("states", a.cols());
  if (a.rows() < 1)
    throw dimension_mismatch(
        detail::message("the states have ", a.rows(), " rows; at least one is required"));
  const double threshold = 0.5 / std::sqrt(double(a.rows()));
  double differ = 0;
  for (index j = 0; j < a.cols(); ++j)
    for (index i = 0; i < a.rows(); ++i)
      differ += (double(a(i, j)) >= threshold) != (double(b(i, j)) >= threshold);
  return differ / double(a.rows() * a.cols());
}

/// C1 of seed 001's assumption (A2) measured on data: max over the columns a of `x` and b of
/// `y` of |exp(-beta/2 ||a - b||^2) - <phi(a), phi(b)>| sqrt(Y/D), for the feature map `map`
/// (its beta, D and Y = count()). Over finite sets this is a lower estimate of the sup over the
/// domain that (A2) asks for; the bounds below are stated with it.
template <class Map, class DerivedX, class DerivedY>
double kernel_error_constant(const Map& map, const Eigen::MatrixBase<DerivedX>& x,
                             const Eigen::MatrixBase<DerivedY>& y) {
  using Scalar = typename Map::scalar_type;
  const matrix<Scalar> a = x, b = y;
  const matrix<Scalar> pa = map.phi(a), pb = map.phi(b);
  const double beta = double(map.beta());
  double worst = 0;
  for (index j = 0; j < b.cols(); ++j)
    for (index i = 0; i < a.cols(); ++i) {
      const double k =
          std::exp(-beta / 2 * (a.col(i) - b.col(j)).template cast<double>().squaredNorm());
      worst = std::max(worst, std::abs(k - double(pa.col(i).dot(pb.col(j)))));
    }
  return worst * std::sqrt(double(map.count()) / double(map.dim()));
}

/// Lemma 3 (seed 001 eq. 33): ||grad E(x) - grad^(x)|| <= 2 C1 K e^{beta E(x)} sqrt(D/Y) for
/// eq. 32's estimator grad^ (drdam_energy::readout_gradient), E the exact LSE energy at x.
inline double drdam_gradient_bound(double c1, index memories, double beta, double energy, index dim,
                                   index features) {
  require_positive("beta", beta);
  require_non_negative("C1", c1);
  require_finite_scalar("energy", energy);
  if (memories < 1 || dim < 1 || features < 1)
    throw invalid_argument(detail::message("memories ", memories, ", dim ", dim, " and features ",
                                           features, " must all be >= 1"));
  const double bound = 2 * c1 * double(memories) * std::exp(beta * energy) *
                       std::sqrt(double(dim) / double(features));
  if (!std::isfinite(bound))
    throw not_finite(detail::message("the Lemma 3 bound at beta = ", beta, ", energy = ", energy,
                                     " exceeds the range of double"));
  return bound;
}

/// Theorem 2: ||x^(L) - x^^(L)|| <= 2 eta L C1 K e^{beta E(x)} sqrt(D/Y) (1 - q^L)/(1 - q),
/// q = eta L (1 + 2 K beta e^{beta/2}), for memories and inputs in [0, 1/sqrt(D)]^D, E the exact
/// energy at the start x. What it bounds: x^^ descends with seed 001's eq. 32 estimator
/// (drdam_energy::readout_gradient, drdam_readout_flow), the estimator its proof (Lemma 3)
/// bounds. The statement cites eq. 10's gradient, which the proof does not cover, and which
/// differs (tests/science/papers.cpp measures both against the bound).
inline double drdam_divergence_bound(double eta, index steps, double c1, index memories,
                                     double beta, double energy, index dim, index features) {
  require_positive("eta", eta);
  require_positive("beta", beta);
  require_positive("C1", c1);
  require_finite_scalar("energy", energy);
  if (steps < 1 || memories < 1 || dim < 1 || features < 1)
    throw invalid_argument(detail::message("steps ", steps, ", memories ", memories, ", dim ", dim,
                                           " and features ", features, " must all be >= 1"));
  const double L = double(steps);
  const double q = eta * L * (1 + 2 * double(memories) * beta * std::exp(beta / 2));
  const double geometric = std::abs(1 - q) < 1e-12 ? L : (1 - std::pow(q, L)) / (1 - q);
  const double bound = 2 * eta * L * c1 * double(memories) * std::exp(beta * energy) *
                       std::sqrt(double(dim) / double(features)) * geometric;
  // e^{beta/2}, e^{beta E} and q^L overflow for large beta or L: the bound is then beyond any
  // double, which is an answer the caller must hear about rather than read as inf or NaN.
  if (!std::isfinite(bound))
    throw not_finite(detail::message("the Theorem 2 bound at beta = ", beta, ", energy = ", energy,
                                     ", eta = ", eta, ", steps = ", steps,
                                     " exceeds the range of double (q = ", q,
                                     "); it gives no information at these parameters"));
  return bound;
}

/// Corollary 1's step size eta = C2 / (L (1 + 2 K beta e^{beta/2})), C2 < 1.
inline double drdam_corollary_step(double c2, index steps, index memories, double beta) {
  if (!(c2 > 0 && c2 < 1))
    throw invalid_argument(detail::message("C2 is ", c2, "; it must lie in (0, 1)"));
  require_positive("beta", beta);
  if (steps < 1 || memories < 1)
    throw invalid_argument(
        detail::message("steps ", steps, " and memories ", memories, " must both be >= 1"));
  const double eta = c2 / (double(steps) * (1 + 2 * double(memories) * beta * std::exp(beta / 2)));
  // e^{beta/2} overflows near beta = 1420, and the step then underflows to 0.
  if (!(eta > 0) || !std::isfinite(eta))
    throw not_finite(detail::message("Corollary 1's step at beta = ", beta, ", steps = ", steps,
                                     ", memories = ", memories, " is ", eta,
                                     ", outside the positive doubles"));
  return eta;
}

/// Corollary 1: with that step, the divergence is at most
/// C1 C2 e^{beta (E(x) - 1/2)} / (beta (1 - C2)) sqrt(D/Y).
inline double drdam_corollary_bound(double c1, double c2, double beta, double energy, index dim,
                                    index features) {
  if (!(c2 > 0 && c2 < 1))
    throw invalid_argument(detail::message("C2 is ", c2, "; it must lie in (0, 1)"));
  require_positive("beta", beta);
  require_positive("C1", c1);
  return c1 * c2 * std::exp(beta * (energy - 0.5)) / (beta * (1 - c2)) *
         std::sqrt(double(dim) / double(features));
}

}  // namespace engram
