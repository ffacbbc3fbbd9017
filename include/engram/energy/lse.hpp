// The log-sum-exp energies, named after the field's usage:
//   lse_energy:     E = -(1/beta) log sum_mu exp(-beta/2 ||x - xi_mu||^2)  (seed 001 eq. 11)
//   lse_dot_energy: E = -(1/beta) log sum_mu exp(beta <xi_mu, x>) + 1/2 ||x||^2  (Ramsauer 2020)
//   normalized_lse_energy: E = -(1/beta) log sum_mu exp(beta <xi_mu, x / ||x||>) + 1/2
//                   (seed 001 eq. 7; the 1/2 is lse_dot_energy's regulariser on the sphere)
// The first two have grad E = x - Xi softmax(...); they differ by -1/2 ||xi_mu||^2 inside the
// softmax. The third is the second on the state map x / ||x|| (energy/mapped.hpp).
#pragma once

#include "engram/energy/dense_energy.hpp"
#include "engram/energy/mapped.hpp"
#include "engram/kernels/exp_dot.hpp"
#include "engram/kernels/gaussian.hpp"

namespace engram {

template <real_scalar Scalar, backend Backend = cpu>
using lse_energy = dense_energy<gaussian, log_scaling, Scalar, Backend>;

template <real_scalar Scalar, backend Backend = cpu>
using lse_dot_energy = dense_energy<exp_dot, log_scaling, Scalar, Backend>;

template <real_scalar Scalar, backend Backend = cpu>
using normalized_lse_energy = mapped_energy<lse_dot_energy<Scalar, Backend>, unit_sphere>;

}  // namespace engram
