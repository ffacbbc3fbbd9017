// The Gaussian kernel on L2 similarity: k(xi, x) = exp(-beta/2 ||x - xi||^2)
// (seed 001 eq. 11, seed 002 eq. 1). In the log domain it is affine in <xi, x>:
// log k = beta (<xi, x> - 1/2 ||xi||^2) - beta/2 ||x||^2, which makes its sums GEMM-shaped.
#pragma once

#include "engram/kernels/kernel.hpp"

namespace engram {

struct gaussian {
  static constexpr const char* name = "gaussian";
  using family = exponential_family;
  static constexpr similarity_kind similarity = similarity_kind::l2;
};

}  // namespace engram
