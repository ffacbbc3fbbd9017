// The parameters of a dense energy E(x) = -Q(eps + sum_mu k(xi_mu, x)): an aggregate with one
// validate() that names the field and the value (LBFGSpp's parameter structs).
#pragma once

#include "engram/core/error.hpp"
#include "engram/core/types.hpp"

namespace engram {

template <real_scalar Scalar>
struct dense_params {
  Scalar beta = 1;  // inverse temperature
  Scalar eps = 0;   // floor inside Q (seed 002 eq. 3); 0 keeps the pure sum

  void validate() const {
    require_positive("dense_params.beta", beta);
    require_non_negative("dense_params.eps", eps);
  }
};

/// The LSR energy's parameters: lsr_params<float>{.beta = 400, .eps = 0}.
template <real_scalar Scalar>
using lsr_params = dense_params<Scalar>;

}  // namespace engram
