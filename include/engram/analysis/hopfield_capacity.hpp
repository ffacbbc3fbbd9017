// The storage capacity of the classical Hopfield network (Amit, Gutfreund, Sompolinsky 1985):
// at load alpha = P / N, store P random +-1 patterns with Hebbian couplings and measure
//   * the fraction of patterns that are fixed points of the sign dynamics (sign(J xi) = xi,
//     a zero field counting as kept), and
//   * the mean overlap m = <xi, sigma> / N after retrieval by asynchronous sign dynamics, to a
//     fixed point, from each pattern with a fraction `corruption` of its spins flipped.
// Below alpha_c ~ 0.138 retrieval ends near m = 1; the fraction of exact fixed points falls
// earlier (each spin is unstable with probability ~ Phi(-1/sqrt(alpha))).
#pragma once

#include <cmath>
#include <cstdint>
#include <span>
#include <vector>

#include "engram/core/error.hpp"
#include "engram/core/rng.hpp"
#include "engram/core/types.hpp"
#include "engram/dynamics/integrate.hpp"
#include "engram/dynamics/spin_updates.hpp"
#include "engram/dynamics/stop.hpp"
#include "engram/energy/ising.hpp"

namespace engram {

struct capacity_point {
  double alpha = 0;              ///< P / N as run
  index patterns = 0;            ///< P
  double fixed_fraction = 0;     ///< patterns that are fixed points
  double retrieval_overlap = 0;  ///< mean overlap after retrieval from corrupted patterns
  double mean_sweeps = 0;        ///< sweeps to the fixed point, on average
};

/// P = round(alpha N) random +-1 patterns (stream 0 of `seed`).
inline matrix<double> random_ising_patterns(index n, index p, std::uint64_t seed,
                                            std::uint64_t stream = 0) {
  if (n < 1 || p < 1)
    throw invalid_argument(detail::message("random_ising_patterns: N = ", n, ", P = ", p,
                                           "; both must be at least 1"));
  const philox_source rng(seed);
  matrix<double> xi(n, p);
  for (index k = 0; k < n * p; ++k)
    xi(k % n, k / n) = rng.uniform<double>(stream, std::uint64_t(k)) <= 0.5 ? -1.0 : 1.0;
  return xi;
}

/// One capacity point per alpha, N neurons; `max_sweeps` bounds each retrieval.
inline std::vector<capacity_point> hopfield_capacity(index n, std::span<const double> alphas,
                                                     double corruption, std::uint64_t seed,
                                                     index max_sweeps = 100) {
  if (n < 1)
    throw invalid_argument(detail::message("hopfield_capacity N is ", n, "; it must be >= 1"));
  if (!(corruption >= 0 && corruption <= 0.5))
    throw invalid_argument(detail::message("hopfield_capacity corruption is ", corruption,
                                           "; it must lie in [0, 0.5]"));
  if (max_sweeps < 1)
    throw invalid_argument(
        detail::message("hopfield_capacity max_sweeps is ", max_sweeps, "; it must be >= 1"));
  std::vector<capacity_point> out;
  const philox_source rng(seed);
  for (std::size_t a = 0; a < alphas.size(); ++a) {
    const double alpha = alphas[a];
    require_positive("hopfield_capacity alpha", alpha);
    const index p = index(std::llround(alpha * double(n)));
    if (p < 1)
      throw invalid_argument(detail::message("hopfield_capacity alpha is ", alpha,
                                             ": P = alpha N rounds to 0 at N = ", n));
    const matrix<double> xi = random_ising_patterns(n, p, seed, 3 * a);
    ising_field<pattern_couplings<double>> field{pattern_couplings<double>(xi)};
    const matrix<double> h = field.local_fields(xi);
    index fixed = 0;
    for (index k = 0; k < p; ++k) {
      bool stays = true;
      for (index i = 0; i < n && stays; ++i) stays = h(i, k) * xi(i, k) >= 0;
      fixed += stays;
    }
    matrix<double> start = xi;
    for (index k = 0; k < n * p; ++k)
      if (rng.uniform<double>(3 * a + 1, std::uint64_t(k)) <= corruption)
        start(k % n, k / n) = -start(k % n, k / n);
    const auto run = integrate(field, start, asynchronous_sign<double>{seed + 3 * a + 2},
                               stop::any_of<stop::after_rule, stop::fixed_point_rule>{
                                   stop::after(max_sweeps), stop::fixed_point()});
    double overlap = 0;
    for (index k = 0; k < p; ++k) overlap += xi.col(k).dot(run.states.col(k)) / double(n);
    out.push_back({double(p) / double(n), p, double(fixed) / double(p), overlap / double(p),
                   run.steps.cast<double>().mean()});
  }
  return out;
}

}  // namespace engram
