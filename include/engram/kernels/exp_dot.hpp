// The exponential dot-product kernel k(xi, x) = exp(beta <xi, x>) (Ramsauer et al. 2020;
// SCIENCE.md section 1). Its energies carry the regulariser 1/2 ||x||^2, which keeps them
// bounded below; with the log scaling the result equals the Gaussian LSE energy up to the
// pattern norms folded into the similarity.
#pragma once

#include "engram/kernels/kernel.hpp"

namespace engram {

struct exp_dot {
  static constexpr const char* name = "exp_dot";
  using family = exponential_family;
  static constexpr similarity_kind similarity = similarity_kind::dot;
};

}  // namespace engram
