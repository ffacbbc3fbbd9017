// The log-sum-exp energies, named after the field's usage:
//   lse_energy:     E = -(1/beta) log sum_mu exp(-beta/2 ||x - xi_mu||^2)  (seed 001 eq. 11)
//   lse_dot_energy: E = -(1/beta) log sum_mu exp(beta <xi_mu, x>) + 1/2 ||x||^2  (Ramsauer 2020)
// Both have grad E = x - Xi softmax(...); they differ by -1/2 ||xi_mu||^2 inside the softmax.
#pragma once

#include "engram/energy/dense_energy.hpp"
#include "engram/kernels/exp_dot.hpp"
#include "engram/kernels/gaussian.hpp"

namespace engram {

template <real_scalar Scalar, backend Backend = cpu>
using lse_energy = dense_energy<gaussian, log_scaling, Scalar, Backend>;

template <real_scalar Scalar, backend Backend = cpu>
using lse_dot_energy = dense_energy<exp_dot, log_scaling, Scalar, Backend>;

}  // namespace engram
