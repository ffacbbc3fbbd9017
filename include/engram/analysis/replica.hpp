// The replica-symmetric (RS) prediction for the first decimation step of seed 004 (Camilli &
// Mezard), Rademacher prior, at inverse temperature beta: the fixed point of
//     m = E_Z tanh(sqrt(r) Z + beta m),      q = E_Z tanh^2(sqrt(r) Z + beta m),
//     r = beta^2 Delta q + alpha beta^2 q / (1 - beta (1 - q))^2,
// Z ~ N(0, 1) (the pattern's sign is absorbed by symmetry), with the Gaussian expectations by
// Gauss-Hermite quadrature and the iteration damped: (m, q) <- (1 - d) (m, q) + d F(m, q).
// m is the predicted overlap of the first pattern found; the talk's r_c (the memory of earlier
// steps) vanishes at t = R / P = 0, and its r_b carries (1 - t) alpha = alpha. Started from
// m = q = 1 the iteration follows the retrieval branch where it exists; m = 0 where it does
// not. The RS equations need beta (1 - q) < 1; a solution outside is reported, not hidden.
#pragma once

#include <cmath>
#include <numbers>

#include <Eigen/Eigenvalues>

#include "engram/core/error.hpp"
#include "engram/core/types.hpp"

namespace engram {

/// Nodes x_k and weights w_k of n-point Gauss-Hermite quadrature, int e^{-x^2} f(x) dx ~
/// sum_k w_k f(x_k), by the Golub-Welsch eigenvalue method.
struct gauss_hermite_rule {
  vector<double> nodes, weights;

  explicit gauss_hermite_rule(index n) {
    if (n < 1 || n > 200)
      throw invalid_argument(detail::message("gauss_hermite_rule n is ", n,
                                             "; it must lie in [1, 200] (beyond, the weights "
                                             "underflow double)"));
    matrix<double> jacobi = matrix<double>::Zero(n, n);
    for (index k = 1; k < n; ++k) jacobi(k, k - 1) = jacobi(k - 1, k) = std::sqrt(double(k) / 2);
    Eigen::SelfAdjointEigenSolver<matrix<double>> solver(jacobi);
    nodes = solver.eigenvalues();
    weights =
        std::sqrt(std::numbers::pi) * solver.eigenvectors().row(0).transpose().array().square();
  }
  /// E f(Z) for Z ~ N(0, 1): sum_k w_k f(sqrt(2) x_k) / sqrt(pi).
  template <class F>
  double expectation(F&& f) const {
    double sum = 0;
    for (index k = 0; k < nodes.size(); ++k) sum += weights(k) * f(std::numbers::sqrt2 * nodes(k));
    return sum / std::sqrt(std::numbers::pi);
  }
};

struct rs_options {
  double m0 = 1, q0 = 1;     ///< the starting point (the retrieval branch)
  double damping = 0.5;      ///< d in (0, 1]
  double tolerance = 1e-12;  ///< stop when |dm| + |dq| falls below it
  index max_iterations = 100000;
  index nodes = 80;  ///< Gauss-Hermite points
};

struct rs_solution {
  double m = 0, q = 0, r = 0;
  index iterations = 0;
  bool converged = false;
  bool stable = false;  ///< beta (1 - q) < 1, where the RS equations hold
};

/// The RS fixed point of the first decimation step (see the header).
inline rs_solution rs_first_step(double alpha, double delta, double beta,
                                 const rs_options& options = {}) {
  require_non_negative("rs_first_step alpha", alpha);
  require_non_negative("rs_first_step Delta", delta);
  require_positive("rs_first_step beta", beta);
  if (!(options.damping > 0 && options.damping <= 1))
    throw invalid_argument(
        detail::message("rs_options::damping is ", options.damping, "; it must lie in (0, 1]"));
  require_positive("rs_options::tolerance", options.tolerance);
  const gauss_hermite_rule rule(options.nodes);
  rs_solution s;
  s.m = options.m0;
  s.q = options.q0;
  for (s.iterations = 1; s.iterations <= options.max_iterations; ++s.iterations) {
    const double denominator = 1 - beta * (1 - s.q);
    s.r = beta * beta * delta * s.q + alpha * beta * beta * s.q / (denominator * denominator);
    const double root = std::sqrt(s.r), bm = beta * s.m;
    const double m = rule.expectation([&](double z) { return std::tanh(root * z + bm); });
    const double q = rule.expectation([&](double z) {
      const double t = std::tanh(root * z + bm);
      return t * t;
    });
    const double change = std::abs(m - s.m) + std::abs(q - s.q);
    s.m += options.damping * (m - s.m);
    s.q += options.damping * (q - s.q);
    if (!std::isfinite(s.m) || !std::isfinite(s.q)) break;
    if (change < options.tolerance) {
      s.converged = true;
      break;
    }
  }
  s.stable = beta * (1 - s.q) < 1;
  return s;
}

}  // namespace engram
