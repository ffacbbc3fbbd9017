// The power energies of Krotov and Hopfield (2016): E(x) = -sum_mu F_n(<xi_mu, x>) with
// F_n(s) = s^n (power_energy) or ReLU(s)^n (rectified_power_energy), grad E = -sum_mu
// F_n'(s_mu) xi_mu (SCIENCE.md section 1). An additive kernel under the identity scaling:
// one GEMM for the similarities, one for the gradient. beta plays no part.
#pragma once

#include "engram/energy/dense_energy.hpp"
#include "engram/kernels/power.hpp"

namespace engram {

template <int N, real_scalar Scalar, backend Backend = cpu>
using power_energy = dense_energy<power<N>, identity_scaling, Scalar, Backend>;

template <int N, real_scalar Scalar, backend Backend = cpu>
using rectified_power_energy = dense_energy<rectified_power<N>, identity_scaling, Scalar, Backend>;

}  // namespace engram
