// The log-sum-ReLU (Epanechnikov) energy of seed 002 eq. 3:
//   E(x) = -(1/beta) log( eps + sum_mu ReLU(1 - beta/2 ||x - xi_mu||^2) ),
//   grad E(x) = sum_{mu in B(x)} (x - xi_mu) / ( eps + sum_{mu in B(x)} (1 - beta/2 ||x -
//   xi_mu||^2) ),
// with the support B(x) = { mu : ||x - xi_mu||^2 < 2/beta } (strict). With eps = 0 and an empty
// support the energy is +infinity and no gradient exists: value() reports +inf, the gradient
// column is zero, and retrieve() marks the column unsupported. With eps > 0 the energy there is
// -(1/beta) log eps and the gradient exactly 0. Stationary points are exactly the states equal
// to the mean of their own support (seed 002 Prop. 2): fixed_point_map() gives that mean.
#pragma once

#include "engram/energy/dense_energy.hpp"
#include "engram/kernels/epanechnikov.hpp"

namespace engram {

template <real_scalar Scalar, backend Backend = cpu>
using lsr_energy = dense_energy<epanechnikov, log_scaling, Scalar, Backend>;

}  // namespace engram
