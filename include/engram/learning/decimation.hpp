// Matrix factorisation by decimation (seed 004, Camilli & Mezard): recover xi (N x P) from
//     Y = xi xi^T / sqrt(N) + sqrt(Delta) Z,
// Z a symmetric Wigner matrix, one pattern at a time. Step R + 1 looks for a low-energy state of
//     -E(x | Y_R) = x^T Y_R x / (2 sqrt N) - ||x||^4 / (4 N),   Y_R = Y - sum_found eta eta^T /
//     sqrt N,
// (a Hopfield energy over the patterns not yet found plus a repulsion from those found), then
// removes the found rank-one part. For Ising spins ||x||^4 = N^2 is constant and the diagonal of
// Y_R adds a constant; for the sparse prior (x_i in {-1, 0, 1}) both matter and are kept.
//
// Conventions (SCIENCE.md section 5):
//   * Z: Z_ij = Z_ji ~ N(0, 1) for i < j and Z_ii ~ N(0, 2), the Gaussian orthogonal ensemble
//     scaled so that Z / sqrt(N) has the semicircle on [-2, 2].
//   * The annealing field is that of the energy above, h_i = sum_{j != i} (Y_R)_ij x_j / sqrt(N),
//     O(1) at a pattern (h ~ m xi_i); the talk writes h = Y_R sigma, without the 1/sqrt(N). With
//     this scale the schedule beta_k = 1 + C k of glauber{.beta = 1, .cooling = C} needs C of
//     order 0.05 to end near zero temperature in a few hundred sweeps.
//   * An attempt anneals from uniformly random spins (no informative start), then finishes with
//     zero-temperature asynchronous sweeps to a fixed point. It is accepted when its energy is at
//     most the level a true pattern would have plus `tolerance` standard deviations of that
//     level; otherwise the search restarts (with the next seed stream) and keeps the best attempt.
//     At N = 1300, alpha = 0.03, Delta = 0.08 an attempt ends on a pattern about one time in ten
//     (measured over 144 attempts at the first step, for schedules from C = 0.01 to 0.2); the
//     others end on mixtures about 0.024 N higher, 3.7 standard deviations: hence many attempts
//     and a tolerance of 2.5 deviations.
//   * The level of a true pattern at step R, to O(1): E_true = -rho^2 N / 4 - rho^2 (P - 1 - R) / 2
//     (the Hopfield term N / 2 of the pattern itself, (P - 1) / 2 from the interference of the
//     others, -R / 2 from the repulsion of the R found ones, all times rho^2, less the quartic
//     term rho^2 N / 4). Its standard deviation over the patterns, from the noise
//     sqrt(Delta) x^T Z x / (2 sqrt N) and the interference, is
//     sigma = sqrt(rho^2 Delta N / 2 + rho^4 (P - 1 - R) / 2): 8.4 at N = 1300, P = 39, Delta =
//     0.08. Decimation tends to take the deepest patterns first, so the last ones sit up to about
//     2 sigma above the level.
#pragma once

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdint>
#include <limits>
#include <span>
#include <type_traits>
#include <utility>
#include <vector>

#include "engram/analysis/rie.hpp"
#include "engram/core/error.hpp"
#include "engram/core/rng.hpp"
#include "engram/core/types.hpp"
#include "engram/dynamics/integrate.hpp"
#include "engram/dynamics/spin_updates.hpp"
#include "engram/dynamics/stop.hpp"

namespace engram {

/// The patterns and the observation of one spiked-matrix problem.
template <real_scalar Scalar>
struct spiked_problem {
  matrix<Scalar> patterns;  ///< xi, N x P
  matrix<Scalar> y;         ///< Y = xi xi^T / sqrt(N) + sqrt(Delta) Z, N x N symmetric
  double delta = 0;
  double rho = 1;
};

namespace detail {

inline void check_rho(double rho, const char* who) {
  if (!(rho > 0.0 && rho <= 1.0))
    throw invalid_argument(message(who, " rho is ", rho,
                                   "; the sparse Rademacher prior needs rho in (0, 1] (rho = 1 is "
                                   "Rademacher)"));
}

}  // namespace detail

/// A seeded spiked-matrix problem: N = `n`, P = round(alpha N) patterns from the prior
/// rho/2 (delta_-1 + delta_1) + (1 - rho) delta_0 (rho = 1: Rademacher), noise variance `delta`.
template <real_scalar Scalar>
spiked_problem<Scalar> spiked_matrix(index n, double alpha, double delta, double rho,
                                     std::uint64_t seed) {
  if (n < 1) throw invalid_argument(detail::message("spiked_matrix N is ", n, "; it must be >= 1"));
  require_non_negative("spiked_matrix alpha", alpha);
  const index p = index(std::llround(alpha * double(n)));
  if (p < 1)
    throw invalid_argument(detail::message("spiked_matrix alpha is ", alpha,
                                           ": P = alpha N = ", alpha * double(n), " rounds to ", p,
                                           "; at least one pattern is needed"));
  require_non_negative("spiked_matrix Delta", delta);
  detail::check_rho(rho, "spiked_matrix");
  const philox_source rng(seed);
  spiked_problem<Scalar> out;
  out.delta = delta;
  out.rho = rho;
  out.patterns.resize(n, p);
  for (index k = 0; k < n * p; ++k) {
    const double u = rng.uniform<double>(0, std::uint64_t(k));
    // u in (0, 1]: -1 on (0, rho/2], +1 on (rho/2, rho], 0 above.
    out.patterns(k % n, k / n) = u <= rho / 2 ? Scalar(-1) : u <= rho ? Scalar(1) : Scalar(0);
  }
  matrix<Scalar> z(n, n);
  rng.fill_normal(z, 1);
  // GOE: off-diagonal N(0, 1) from the upper triangle, diagonal N(0, 2).
  for (index j = 0; j < n; ++j) {
    for (index i = j + 1; i < n; ++i) z(i, j) = z(j, i);
    z(j, j) *= Scalar(std::sqrt(2.0));
  }
  out.y = out.patterns * out.patterns.transpose() / Scalar(std::sqrt(double(n)));
  out.y += Scalar(std::sqrt(delta)) * z;
  return out;
}

/// -E(x | Y_R) over spins from the prior's alphabet, as a spin_field for the spin steppers.
template <real_scalar Scalar>
class decimation_field {
 public:
  using scalar_type = Scalar;

  /// Y_R (N x N, symmetric), held by reference; `sparse` selects the alphabet {-1, 0, 1}.
  decimation_field(const matrix<Scalar>& y, bool sparse) : y_(&y), sparse_(sparse) {}

  index dim() const { return y_->rows(); }
  std::span<const Scalar> alphabet() const {
    static constexpr std::array<Scalar, 2> ising{Scalar(-1), Scalar(1)};
    static constexpr std::array<Scalar, 3> ternary{Scalar(-1), Scalar(0), Scalar(1)};
    return sparse_ ? std::span<const Scalar>(ternary) : std::span<const Scalar>(ising);
  }

  /// E(x | Y_R) per column, and dX/dt = the best response minus x.
  void operator()(const matrix<Scalar>& x, matrix<Scalar>& dxdt, vector<Scalar>& e) {
    fill(x);
    e.resize(x.cols());
    dxdt.resize(x.rows(), x.cols());
    const auto a = alphabet();
    std::array<Scalar, 3> g{};
    const double root = std::sqrt(double(dim()));
    for (index b = 0; b < x.cols(); ++b) {
      // x^T Y x = sum_i x_i (sqrt(N) h_i + Y_ii x_i).
      double quad = 0;
      for (index i = 0; i < x.rows(); ++i)
        quad += double(x(i, b)) * (root * double(h_(i, b)) + double((*y_)(i, i)) * x(i, b));
      const double s = double(s_(b));
      e(b) = Scalar(-(quad / (2 * root) - s * s / (4 * double(dim()))));
      for (index i = 0; i < x.rows(); ++i) {
        local_gains(x, b, i, g.data());
        std::size_t now = 0;
        for (std::size_t k = 0; k < a.size(); ++k)
          if (a[k] == x(i, b)) now = k;
        std::size_t best = now;
        for (std::size_t k = 0; k < a.size(); ++k)
          if (g[k] > g[best]) best = k;
        dxdt(i, b) = a[best] - x(i, b);
      }
    }
  }
  void operator()(const matrix<Scalar>& x, matrix<Scalar>& dxdt) { (*this)(x, dxdt, e_); }

  /// Fills the sweep's caches for `x`, unless the last evaluation was of this very state (the
  /// same storage and columns, changed since only through set_spin), whose caches are exact.
  void begin_sweep(const matrix<Scalar>& x) {
    if (cached_ != x.data() || cached_columns_ != x.cols()) fill(x);
  }
  /// integrate() dropped columns: the caches no longer match.
  void compact(const std::vector<index>&) { cached_ = nullptr; }

  /// h = (Y_R - diag Y_R) x / sqrt(N) and S = ||x||^2 per column.
  void fill(const matrix<Scalar>& x) {
    cached_ = x.data();
    cached_columns_ = x.cols();
    const Scalar root = Scalar(std::sqrt(double(dim())));
    h_.noalias() = (*y_) * x;
    h_ -= (y_->diagonal().asDiagonal() * x);
    h_ /= root;
    s_ = x.colwise().squaredNorm().transpose();
  }
  /// g_v = v h_i + Y_ii v^2 / (2 sqrt N) - (S - x_i^2 + v^2)^2 / (4 N), for each v.
  void local_gains(const matrix<Scalar>& x, index b, index i, Scalar* gains) const {
    const auto a = alphabet();
    const double n = double(dim()), root = std::sqrt(n);
    const double rest = double(s_(b)) - double(x(i, b)) * double(x(i, b));
    for (std::size_t k = 0; k < a.size(); ++k) {
      const double v = double(a[k]), s = rest + v * v;
      gains[k] =
          Scalar(v * double(h_(i, b)) + double((*y_)(i, i)) * v * v / (2 * root) - s * s / (4 * n));
    }
  }
  void set_spin(matrix<Scalar>& x, index b, index i, Scalar v) {
    const Scalar delta = v - x(i, b);
    const Scalar root = Scalar(std::sqrt(double(dim())));
    h_.col(b) += (delta / root) * y_->col(i);
    h_(i, b) -= (delta / root) * (*y_)(i, i);  // no self-coupling in h
    s_(b) += v * v - x(i, b) * x(i, b);
    x(i, b) = v;
  }

 private:
  const matrix<Scalar>* y_;
  bool sparse_;
  matrix<Scalar> h_;
  vector<Scalar> s_;
  vector<Scalar> e_;
  const Scalar* cached_ = nullptr;  // the state the caches were filled for
  index cached_columns_ = 0;
};

/// The parameters of decimation; validate() names the field and the value.
struct decimation_params {
  double rho = 1;          ///< the prior's density (1: Rademacher; below 1 the sparse alphabet)
  double cooling = 0.05;   ///< C of beta_k = 1 + C k
  index sweeps = 300;      ///< heat-bath sweeps per annealing attempt
  index finish = 100;      ///< at most this many zero-temperature sweeps after annealing
  index attempts = 100;    ///< annealing attempts per pattern at most (the best is kept)
  double tolerance = 2.5;  ///< accepted energy above the true-pattern level, in its deviations
  std::uint64_t seed = 0;

  void validate() const {
    detail::check_rho(rho, "decimation_params");
    if (!(cooling > 0.0) || !std::isfinite(cooling))
      throw invalid_argument(detail::message("decimation_params::cooling is ", cooling,
                                             "; the schedule beta_k = 1 + C k needs C > 0"));
    if (sweeps < 1 || finish < 0 || attempts < 1)
      throw invalid_argument(detail::message("decimation_params: sweeps ", sweeps, ", finish ",
                                             finish, ", attempts ", attempts,
                                             "; sweeps and attempts must be >= 1, finish >= 0"));
    require_non_negative("decimation_params::tolerance", tolerance);
  }
};

/// What one decimation step found.
struct decimation_step {
  index step;      ///< R + 1, 1-based
  double energy;   ///< E(eta | Y_R) of the kept attempt
  double level;    ///< the true-pattern level E_true at this step
  index attempts;  ///< annealing attempts made
  double spread;   ///< sigma, the standard deviation of the level
  bool accepted;   ///< the kept attempt reached level + tolerance sigma
};

template <real_scalar Scalar>
struct decimation_result {
  matrix<Scalar> patterns;  ///< eta, N x count, in the order found
  std::vector<decimation_step> steps;
};

/// The level E_true of a true pattern at step R (0-based) for P patterns (see the header).
inline double true_pattern_level(index n, index p, index r, double rho) {
  const double rho2 = rho * rho;
  return -rho2 * double(n) / 4 - rho2 * double(p - 1 - r) / 2;
}
/// Its standard deviation over the patterns, sqrt(rho^2 Delta N / 2 + rho^4 (P - 1 - R) / 2).
inline double true_pattern_spread(index n, index p, index r, double rho, double delta) {
  const double rho2 = rho * rho;
  return std::sqrt(rho2 * delta * double(n) / 2 + rho2 * rho2 * double(p - 1 - r) / 2);
}

/// Does nothing; the default per-step callback.
struct no_decimation_callback {
  template <class... A>
  void operator()(const A&...) const {}
};

/// Finds `count` patterns of Y, observed at noise variance `delta`, by decimation. After each step
/// it calls on_step(step, eta) with the step's report and the pattern found (an N-vector), or
/// on_step(step) when the callback takes one argument: the progress report of a long decimation.
template <real_scalar Scalar, class OnStep = no_decimation_callback>
decimation_result<Scalar> decimate(const matrix<Scalar>& y, index count, double delta,
                                   const decimation_params& params, OnStep on_step = {}) {
  params.validate();
  require_non_negative("decimate Delta", delta);
  detail::require_square_symmetric(y, "decimate");
  const index n = y.rows();
  if (count < 1 || count > n)
    throw invalid_argument(
        detail::message("decimate: count is ", count, "; it must lie in [1, N = ", n, "]"));

  const bool sparse = params.rho < 1;
  const Scalar root = Scalar(std::sqrt(double(n)));
  matrix<Scalar> y_r = y;
  decimation_result<Scalar> out;
  out.patterns.resize(n, count);
  const philox_source rng(params.seed);
  std::uint64_t attempt_id = 0;
  for (index r = 0; r < count; ++r) {
    decimation_field<Scalar> field(y_r, sparse);
    const double level = true_pattern_level(n, count, r, params.rho);
    const double spread = true_pattern_spread(n, count, r, params.rho, delta);
    double best_energy = std::numeric_limits<double>::infinity();
    vector<Scalar> best;
    index made = 0;
    bool accepted = false;
    while (made < params.attempts && !accepted) {
      ++made;
      const std::uint64_t id = attempt_id++;
      // Uniformly random start from the prior: no informative initialisation.
      matrix<Scalar> x0(n, 1);
      for (index i = 0; i < n; ++i) {
        const double u = rng.uniform<double>(2 * id, std::uint64_t(i));
        x0(i, 0) = u <= params.rho / 2 ? Scalar(-1) : u <= params.rho ? Scalar(1) : Scalar(0);
      }
      const glauber<Scalar> anneal{1.0, params.cooling,
                                   params.seed ^ (0x9e3779b97f4a7c15ull * (id + 1))};
      auto hot = integrate(field, x0, anneal, stop::after(params.sweeps));
      matrix<Scalar> x = hot.states;
      if (params.finish > 0) {
        const asynchronous_sign<Scalar> quench{params.seed + 7 * (id + 1)};
        auto cold = integrate(field, x, quench,
                              stop::any_of<stop::after_rule, stop::fixed_point_rule>{
                                  stop::after(params.finish), stop::fixed_point()});
        x = cold.states;
      }
      matrix<Scalar> d;
      vector<Scalar> e;
      field(x, d, e);
      if (double(e(0)) < best_energy) {
        best_energy = double(e(0));
        best = x.col(0);
      }
      accepted = best_energy <= level + params.tolerance * spread;
    }
    out.patterns.col(r) = best;
    y_r.noalias() -= best * best.transpose() / root;
    out.steps.push_back({r + 1, best_energy, level, made, spread, accepted});
    if constexpr (std::is_invocable_v<OnStep&, const decimation_step&, const vector<Scalar>&>)
      on_step(out.steps.back(), best);
    else
      on_step(out.steps.back());
  }
  return out;
}

/// A matching of found patterns to true ones up to sign and order.
struct pattern_match {
  std::vector<index> truth;  ///< truth[k]: the true pattern found pattern k is matched to
  /// |<xi, eta>| / (||xi|| ||eta||) of each matched pair: |<xi, eta>| / N for +-1 spins, and
  /// for sparse patterns still 1 at a perfect match (|<xi, eta>| / N is at most rho there).
  std::vector<double> overlap;
};

/// Greedy matching: repeatedly pair the found and true patterns, both unmatched, with the
/// largest normalised overlap |<xi, eta>| / (||xi|| ||eta||) (not the optimal assignment of the
/// Hungarian method; the two agree whenever every found pattern has one clearly dominant overlap,
/// as in retrieval).
template <real_scalar Scalar>
pattern_match match_patterns(const matrix<Scalar>& xi, const matrix<Scalar>& eta) {
  if (xi.rows() != eta.rows())
    throw dimension_mismatch(detail::message("match_patterns: xi has ", xi.rows(), " rows and eta ",
                                             eta.rows(), "; they must agree"));
  matrix<double> m = (xi.transpose() * eta).template cast<double>().cwiseAbs();
  for (index j = 0; j < eta.cols(); ++j)
    for (index i = 0; i < xi.cols(); ++i) {
      const double norms = double(xi.col(i).norm()) * double(eta.col(j).norm());
      m(i, j) = norms > 0 ? m(i, j) / norms : 0.0;  // a zero pattern overlaps nothing
    }
  pattern_match out;
  out.truth.assign(std::size_t(eta.cols()), -1);
  out.overlap.assign(std::size_t(eta.cols()), 0.0);
  std::vector<bool> true_used(std::size_t(xi.cols()), false),
      found_used(std::size_t(eta.cols()), false);
  const index pairs = std::min(xi.cols(), eta.cols());
  for (index k = 0; k < pairs; ++k) {
    double top = -1;
    index bi = 0, bj = 0;
    for (index j = 0; j < eta.cols(); ++j) {
      if (found_used[std::size_t(j)]) continue;
      for (index i = 0; i < xi.cols(); ++i)
        if (!true_used[std::size_t(i)] && m(i, j) > top) top = m(i, j), bi = i, bj = j;
    }
    true_used[std::size_t(bi)] = found_used[std::size_t(bj)] = true;
    out.truth[std::size_t(bj)] = bi;
    out.overlap[std::size_t(bj)] = top;
  }
  return out;
}

/// Decimation's estimate of S = xi xi^T / N: sum of eta eta^T / N.
template <real_scalar Scalar>
matrix<Scalar> decimation_estimate(const matrix<Scalar>& eta) {
  return eta * eta.transpose() / Scalar(eta.rows());
}

}  // namespace engram
