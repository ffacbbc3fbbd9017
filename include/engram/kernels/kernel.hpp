// What a separation-similarity kernel is. A kernel is F composed with S in
// E = -Q(sum_mu F(S[xi_mu, x])) (seed 001 eq. 3, seed 002 eq. 1). Exponential kernels have
// log k(xi, x) = beta (<xi, x> + c(xi) - q(x)), so a dense sum over memories is one GEMM plus
// a streaming log-sum-exp; `similarity` says which c and q a kernel uses.
#pragma once

#include <concepts>

namespace engram {

enum class similarity_kind {
  l2,   ///< S = -1/2 ||x - xi||^2: c = -1/2 ||xi||^2, q = 1/2 ||x||^2, no regulariser
  dot,  ///< S = <xi, x>: c = 0, q = 0, regulariser 1/2 ||x||^2
};

template <class K>
concept exponential_kernel = requires {
  { K::name } -> std::convertible_to<const char*>;
  { K::similarity } -> std::convertible_to<similarity_kind>;
};

/// Q(s) = log s, so E = -(1/beta) log sum_mu k_mu: the LSE family.
struct log_scaling {
  static constexpr const char* name = "log";
};

/// Q(s) = s, so E = -(1/beta) sum_mu k_mu: the "no log" variants.
struct linear_scaling {
  static constexpr const char* name = "linear";
};

template <class Q>
concept scaling = std::same_as<Q, log_scaling> || std::same_as<Q, linear_scaling>;

}  // namespace engram
