// Spin updates as steppers (seed 004; Hopfield 1982): one step is one sweep over the spins of
// every column of a spin_field, run under integrate() like any other stepper.
//   synchronous_sign:  every spin moves at once to its best response (sigma <- sign(J sigma) for
//                      Ising spins); may fall into 2-cycles, where the energy need not fall.
//   asynchronous_sign: spins in a random order, each to its best response given the others
//                      (ties keep the spin): the energy never rises, and a sweep without a
//                      change is a fixed point (stop::fixed_point()).
//   glauber:           heat-bath updates in a random order at inverse temperature beta_k =
//                      beta + cooling k in sweep k (cooling 0: fixed temperature): spin i takes
//                      value v with probability exp(beta g_v) / sum_w exp(beta g_w), g the local
//                      gains; for Ising spins P(sigma_i = +1) = 1 / (1 + exp(-2 beta h_i)).
// Randomness comes from the Philox source keyed by `seed`: the order of sweep k in column b is
// stream 2b, the heat-bath uniforms stream 2b + 1, with b the column's index in the batch that
// integrate() was given (kept through the working set's compaction), so a column's trajectory
// does not depend on when the others stop.
#pragma once

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdint>
#include <numeric>
#include <vector>

#include "engram/core/concepts.hpp"
#include "engram/core/error.hpp"
#include "engram/core/rng.hpp"
#include "engram/core/types.hpp"
#include "engram/dynamics/field_call.hpp"

namespace engram {

namespace detail {

/// The per-column state of a random-order sweep: each column's index in the original batch and
/// the sweeps done so far.
struct sweep_state {
  std::vector<index> id;
  std::uint64_t sweep = 0;
  std::vector<index> order;  // scratch for one column's permutation

  void compact(const std::vector<index>& keep) {
    for (std::size_t i = 0; i < keep.size(); ++i) id[i] = id[std::size_t(keep[i])];
    id.resize(keep.size());
  }
};

inline sweep_state make_sweep_state(index batch) {
  sweep_state s;
  s.id.resize(std::size_t(batch));
  std::iota(s.id.begin(), s.id.end(), index(0));
  return s;
}

/// A uniformly random permutation of 0..n-1 (Fisher-Yates on `stream`, entries from `offset`).
inline void random_order(const philox_source& rng, std::uint64_t stream, std::uint64_t offset,
                         index n, std::vector<index>& order) {
  order.resize(std::size_t(n));
  std::iota(order.begin(), order.end(), index(0));
  for (index i = n - 1; i > 0; --i) {
    const double u = rng.uniform<double>(stream, offset + std::uint64_t(i));
    const index j = std::min(i, index(u * double(i + 1)));
    std::swap(order[std::size_t(i)], order[std::size_t(j)]);
  }
}

/// The index of the largest gain; the current value `keep` wins ties.
template <class Scalar>
std::size_t best_response(const Scalar* gains, std::size_t count, std::size_t keep) {
  std::size_t best = keep;
  for (std::size_t k = 0; k < count; ++k)
    if (gains[k] > gains[best]) best = k;
  return best;
}

template <class Field>
std::size_t value_index(const Field& field, typename Field::scalar_type v) {
  const auto a = field.alphabet();
  for (std::size_t k = 0; k < a.size(); ++k)
    if (a[k] == v) return k;
  return 0;  // a spin outside the alphabet: treated as its first value
}

}  // namespace detail

/// Every spin of every column to its best response at once.
template <real_scalar Scalar>
struct synchronous_sign {
  using scalar_type = Scalar;
  void validate() const {}
  template <vector_field Field>
  no_stepper_state make_state(Field&, const matrix<Scalar>&) const {
    return {};
  }
  template <spin_field Field>
  void do_step(Field& field, no_stepper_state&, matrix<Scalar>& x, matrix<Scalar>& dxdt,
               vector<Scalar>& e) const {
    x += dxdt;  // dX/dt is the best response minus the state
    evaluate_field(field, x, dxdt, e);
  }
};

/// One spin at a time, in a random order, to its best response (zero temperature).
template <real_scalar Scalar>
struct asynchronous_sign {
  using scalar_type = Scalar;
  std::uint64_t seed = 0;

  void validate() const {}
  template <vector_field Field>
  detail::sweep_state make_state(Field&, const matrix<Scalar>& x) const {
    return detail::make_sweep_state(x.cols());
  }
  template <spin_field Field>
  void do_step(Field& field, detail::sweep_state& s, matrix<Scalar>& x, matrix<Scalar>& dxdt,
               vector<Scalar>& e) const {
    const philox_source rng(seed);
    const auto alphabet = field.alphabet();
    std::array<Scalar, 4> gains{};
    field.begin_sweep(x);
    const index n = x.rows();
    for (index b = 0; b < x.cols(); ++b) {
      const std::uint64_t id = std::uint64_t(s.id[std::size_t(b)]);
      detail::random_order(rng, 2 * id, s.sweep * std::uint64_t(n), n, s.order);
      for (const index i : s.order) {
        field.local_gains(x, b, i, gains.data());
        const std::size_t now = detail::value_index(field, x(i, b));
        const std::size_t k = detail::best_response(gains.data(), alphabet.size(), now);
        if (k != now) field.set_spin(x, b, i, alphabet[k]);
      }
    }
    ++s.sweep;
    evaluate_field(field, x, dxdt, e);
  }
};

/// Heat-bath (Glauber) sweeps in a random order at beta_k = beta + cooling k.
template <real_scalar Scalar>
struct glauber {
  using scalar_type = Scalar;
  double beta = 1;     ///< inverse temperature of the first sweep
  double cooling = 0;  ///< C of beta_k = beta + C k (simulated annealing when > 0)
  std::uint64_t seed = 0;

  void validate() const {
    require_non_negative("glauber.beta", beta);
    require_non_negative("glauber.cooling", cooling);
  }
  /// The inverse temperature of sweep k (0-based).
  double beta_at(std::uint64_t k) const { return beta + cooling * double(k); }

  template <vector_field Field>
  detail::sweep_state make_state(Field&, const matrix<Scalar>& x) const {
    return detail::make_sweep_state(x.cols());
  }
  template <spin_field Field>
  void do_step(Field& field, detail::sweep_state& s, matrix<Scalar>& x, matrix<Scalar>& dxdt,
               vector<Scalar>& e) const {
    const philox_source rng(seed);
    const auto alphabet = field.alphabet();
    const double b_k = beta_at(s.sweep);
    std::array<Scalar, 4> gains{};
    field.begin_sweep(x);
    const index n = x.rows();
    for (index b = 0; b < x.cols(); ++b) {
      const std::uint64_t id = std::uint64_t(s.id[std::size_t(b)]);
      detail::random_order(rng, 2 * id, s.sweep * std::uint64_t(n), n, s.order);
      for (const index i : s.order) {
        field.local_gains(x, b, i, gains.data());
        const double u =
            rng.uniform<double>(2 * id + 1, s.sweep * std::uint64_t(n) + std::uint64_t(i));
        const std::size_t k = heat_bath_choice(gains.data(), alphabet.size(), b_k, u);
        if (alphabet[k] != x(i, b)) field.set_spin(x, b, i, alphabet[k]);
      }
    }
    ++s.sweep;
    evaluate_field(field, x, dxdt, e);
  }

  /// p_k = exp(beta g_k) / sum_w exp(beta g_w) for the `count` gains g (shifted by their
  /// maximum, so no exponential overflows); beta = 0 gives the uniform choice.
  static void heat_bath_probabilities(const Scalar* gains, std::size_t count, double beta,
                                      double* p) {
    double top = double(gains[0]);
    for (std::size_t k = 1; k < count; ++k) top = std::max(top, double(gains[k]));
    double total = 0;
    for (std::size_t k = 0; k < count; ++k)
      total += p[k] = std::exp(beta * (double(gains[k]) - top));
    for (std::size_t k = 0; k < count; ++k) p[k] /= total;
  }
  /// The value heat-bath picks given a uniform u in (0, 1]: the first k whose cumulative
  /// probability reaches u.
  static std::size_t heat_bath_choice(const Scalar* gains, std::size_t count, double beta,
                                      double u) {
    std::array<double, 4> p{};
    heat_bath_probabilities(gains, count, beta, p.data());
    double cumulative = 0;
    for (std::size_t k = 0; k + 1 < count; ++k) {
      cumulative += p[k];
      if (u <= cumulative) return k;
    }
    return count - 1;
  }
};

}  // namespace engram
