// What a separation-similarity kernel is: F composed with S in E = -Q(eps + sum_mu F(S[xi_mu, x]))
// (seed 001 eq. 3, seed 002 eq. 1). Every kernel names a family, and the family decides how a
// dense energy reduces the sum over memories (DESIGN, "The seams, concretely"):
//   exponential: log k = beta (<xi, x> + c(xi) - q(x)), reduced with a running max (one GEMM
//                and a streaming log-sum-exp); `similarity` fixes c and q;
//   compact:     k = w(beta, ||x - xi||^2) > 0 only inside a ball of radius support_radius(beta),
//                reduced over the candidates of a radius index;
//   additive:    k = F(beta, s), s = S[xi, x], reduced as a plain sum (one GEMM for s, one for
//                sum_mu F'(s_mu) dS/dx).
#pragma once

#include <concepts>

namespace engram {

enum class similarity_kind {
  l2,   ///< S = -1/2 ||x - xi||^2: c = -1/2 ||xi||^2, q = 1/2 ||x||^2, no regulariser
  dot,  ///< S = <xi, x>: c = 0, q = 0; exponential kernels add the regulariser 1/2 ||x||^2
};

/// Log-affine in the similarity: sums stream through a running max (exp_partial).
struct exponential_family {};
/// Zero outside a ball around each memory: sums visit only the memories within the radius.
struct compact_family {};
/// Any separation function of the similarity: sums are plain sums (sum_partial).
struct additive_family {};

/// Every kernel: a name and one of the three families.
template <class K>
concept kernel_function = requires {
  { K::name } -> std::convertible_to<const char*>;
  typename K::family;
}
&&(std::same_as<typename K::family, exponential_family> ||
   std::same_as<typename K::family, compact_family> ||
   std::same_as<typename K::family, additive_family>);

/// k(xi, x) = exp(beta S[xi, x]) up to the similarity's terms.
template <class K>
concept exponential_kernel =
    kernel_function<K> && std::same_as<typename K::family, exponential_family> && requires {
  { K::similarity } -> std::convertible_to<similarity_kind>;
};

/// k(xi, x) = weight(beta, d^2), d^2 = ||x - xi||^2, positive only for d < support_radius(beta);
/// weight_slope(beta, d^2) is d weight / d(d^2), so grad_x k = 2 weight_slope (x - xi).
template <class K>
concept compact_kernel = kernel_function<K> && std::same_as<typename K::family, compact_family> &&
    requires(double beta, double d2, float fbeta, float fd2) {
  { K::support_radius(beta) } -> std::same_as<double>;
  { K::weight(beta, d2) } -> std::same_as<double>;
  { K::weight_slope(beta, d2) } -> std::same_as<double>;
  { K::weight(fbeta, fd2) } -> std::same_as<float>;
  { K::weight_slope(fbeta, fd2) } -> std::same_as<float>;
};

/// k(xi, x) = value(beta, s) for s = S[xi, x]; derivative(beta, s) is dF/ds, so
/// grad_x k = derivative * (xi for dot, xi - x for l2).
template <class K>
concept additive_kernel = kernel_function<K> && std::same_as<typename K::family, additive_family> &&
    requires(double beta, double s, float fbeta, float fs) {
  { K::similarity } -> std::convertible_to<similarity_kind>;
  { K::value(beta, s) } -> std::same_as<double>;
  { K::derivative(beta, s) } -> std::same_as<double>;
  { K::value(fbeta, fs) } -> std::same_as<float>;
  { K::derivative(fbeta, fs) } -> std::same_as<float>;
};

}  // namespace engram
