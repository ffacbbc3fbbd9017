// Seed 000's noisy observations, drawn from the counter-based Philox source (the same seed gives
// the same data everywhere):
//   line_observations: x = s * spread * u / ||u|| + noise * z, s ~ N(0, 1), z ~ N(0, I_N):
//       points scattered along the line through 0 in direction u (a line attractor's data);
//   ring_observations: x = radius (cos t, sin t) + noise * z, t ~ U[0, 2 pi), z ~ N(0, I_2):
//       points near a circle in R^2 (a ring attractor's data).
#pragma once

#include <cstdint>
#include <numbers>

#include "engram/core/error.hpp"
#include "engram/core/rng.hpp"
#include "engram/core/types.hpp"

namespace engram {

/// `count` observations along direction u (N entries, not zero) with signal scale `spread` and
/// isotropic noise of standard deviation `noise`, as the columns of an N x count matrix.
template <real_scalar Scalar>
matrix<Scalar> line_observations(const vector<Scalar>& direction, index count, Scalar spread,
                                 Scalar noise, std::uint64_t seed) {
  require_columns("line_observations direction", direction.size());
  require_finite("line_observations direction", direction);
  const Scalar norm = direction.norm();
  if (!(norm > Scalar(0))) throw invalid_argument("line_observations direction is the zero vector");
  require_columns("line_observations count", count);
  require_non_negative("line_observations spread", spread);
  require_non_negative("line_observations noise", noise);
  const philox_source rng(seed);
  matrix<Scalar> s(1, count), x(direction.size(), count);
  rng.fill_normal(s, 0);
  rng.fill_normal(x, 1);
  x *= noise;
  x.noalias() += (spread / norm) * direction * s;
  return x;
}

/// `count` observations near the circle of `radius` about 0 in R^2, angles uniform, isotropic
/// noise of standard deviation `noise`; a 2 x count matrix.
template <real_scalar Scalar>
matrix<Scalar> ring_observations(index count, Scalar radius, Scalar noise, std::uint64_t seed) {
  require_columns("ring_observations count", count);
  require_positive("ring_observations radius", radius);
  require_non_negative("ring_observations noise", noise);
  const philox_source rng(seed);
  matrix<Scalar> t(1, count), x(2, count);
  rng.fill_uniform(t, 0, Scalar(0), Scalar(2 * std::numbers::pi));
  rng.fill_normal(x, 1);
  x *= noise;
  x.row(0) += radius * t.array().cos().matrix();
  x.row(1) += radius * t.array().sin().matrix();
  return x;
}

}  // namespace engram
