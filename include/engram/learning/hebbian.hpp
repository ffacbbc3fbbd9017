// Two-timescale learning of a response energy from noisy observations (seed 000): the fast
// neural dynamics relax the response y to each observation x, then slow plasticity moves the
// weights toward the responses' statistics:
//     W <- W + eta_W (<y y^T> - W),          c <- c + eta_c (<y o y> - 1)      (hopfield_response)
//     A <- A + eta_W (<Phi Phi^T> - A),      g <- g + eta_c (<K(y, y)> - 1)    (kernel_response)
// where <.> is the mean over one minibatch (batch = 1: online; batch = the data's size: the
// mean-field update). This is gradient descent in W and ascent in c on
//     min_W max_c { <min_y E(y; x)> + 1/2 ||W||_F^2 - ||c||_1 },
// whose fixed point has W = C_y = <y y^T> and <y_i^2> = 1: the responses minimise the loss
//     <||x - y||^2> - N^2/2 D_IPR,   D_IPR = Tr C_y^2 / (Tr C_y)^2,
// (kernel version: -2 <K(x, y)> - 1/2 D_IPR^Phi under <K(y, y)> = 1), since under the
// constraint N^2 D_IPR = Tr C^2 = max_W Tr(2 W C - W^2), attained at W = C.
// The leak must be the faster timescale (SCIENCE.md section 3): with equal rates the mean-field
// iteration from W = 0 drives diag c - W indefinite, where the fast dynamics diverge.
//
// A relaxation is the closed form (hopfield_response only: y = (diag c - W)^{-1} x) or a step
// budget of any stepper on the fast dynamics, started at y = x. Each update is computed aside
// and committed whole, W exactly symmetric; stability (diag c - W, or g I - A, positive
// definite) is checked at every closed-form solve and at the end of every epoch. When learning
// throws, the network is put back to where the failed epoch began, and every earlier epoch has
// been reported.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <numeric>
#include <type_traits>
#include <utility>
#include <vector>

#include "engram/core/error.hpp"
#include "engram/core/rng.hpp"
#include "engram/core/types.hpp"
#include "engram/dynamics/integrate.hpp"
#include "engram/dynamics/stop.hpp"
#include "engram/learning/response.hpp"

namespace engram {

/// The parameters of two-timescale learning; validate() names the field and the value.
struct hebbian_params {
  /// The Hebbian rate: W (or A) moves this fraction of the way to the batch's <y y^T>.
  double eta_w = 0.005;
  /// The leak rate of c (or g). Keep it well above eta_w: equal rates diverge (SCIENCE.md
  /// section 3). When the data put their variance in one direction (the line), an update grows
  /// W's top eigenvalue by about eta_w N <y_i^2> while c moves by eta_c (<y_i^2> - 1), so the
  /// leak must be about N times faster: eta_c = 20 eta_w at N = 16, 10 at N = 3 (measured);
  /// bench_learning scales eta_w = 0.08 / N.
  double eta_c = 0.1;
  index batch = 1;         ///< observations per update: 1 is online, the data's size mean-field
  index epochs = 10;       ///< passes over the data
  std::uint64_t seed = 0;  ///< the order of the observations in each epoch
  bool shuffle = true;     ///< visit the observations in a seeded random order

  void validate() const {
    check_rate("hebbian_params::eta_w", eta_w);
    check_rate("hebbian_params::eta_c", eta_c);
    if (batch < 1)
      throw invalid_argument(
          detail::message("hebbian_params::batch is ", batch, "; it must be at least 1"));
    if (epochs < 1)
      throw invalid_argument(
          detail::message("hebbian_params::epochs is ", epochs, "; it must be at least 1"));
  }

 private:
  static void check_rate(const char* name, double eta) {
    // eta = 0 freezes that weight (a measuring pass); a negative rate climbs the objective it
    // should descend (anti-Hebbian W, a leak that breaks the constraint it enforces); at 1 an
    // update forgets everything learned before it, and beyond 1 it gives the past a negative
    // weight: W <- (1 - eta) W + eta <y y^T>.
    if (!(eta >= 0.0) || !(eta < 1.0))
      throw invalid_argument(detail::message(
          name, " is ", eta,
          "; it must lie in [0, 1): a negative rate climbs the objective plasticity descends, "
          "and a rate of 1 or more forgets (or negatively weighs) everything learned before "
          "the update"));
  }
};

/// Relax each observation's response with the closed form y = (diag c - W)^{-1} x.
struct closed_form_relaxation {};
inline constexpr closed_form_relaxation closed_form{};

/// Relax each response with `stepper` on the fast dynamics from y = x until `stop` (which must
/// bound the steps: stop::after(n), alone or combined).
template <class Stepper, class Stop>
struct stepper_relaxation {
  Stepper stepper;
  Stop stop;
};
template <class Stepper, class Stop>
stepper_relaxation<Stepper, Stop> relax_with(Stepper stepper, Stop stop) {
  return {std::move(stepper), std::move(stop)};
}

/// The responses y to the columns of `x` at the network's current weights.
template <real_scalar Scalar>
matrix<Scalar> respond(const hopfield_response<Scalar>& net, const matrix<Scalar>& x,
                       closed_form_relaxation) {
  return net.steady_state(x);
}
template <class Net, class Stepper, class Stop>
matrix<typename Net::scalar_type> respond(const Net& net,
                                          const matrix<typename Net::scalar_type>& x,
                                          const stepper_relaxation<Stepper, Stop>& relax) {
  auto field = net.field(x);
  auto result = integrate(field, x, relax.stepper, relax.stop);
  for (index b = 0; b < x.cols(); ++b)
    if (result.diverged(b))
      throw not_finite(detail::message(
          "the fast dynamics of observation column ", b,
          " left the finite numbers; the network is unstable (smallest eigenvalue of its "
          "stiffness ",
          net.smallest_eigenvalue(), ") or the stepper's step is too large for it"));
  return std::move(result.states);
}

/// What one epoch (or one measuring pass) saw of the responses.
template <real_scalar Scalar>
struct learning_metrics {
  /// C = <f f^T> over the responses' features f (y: N x N; Phi(y): F x F).
  matrix<Scalar> covariance;
  double d_ipr = 0;                ///< Tr C^2 / (Tr C)^2
  double capacity = 0;             ///< Tr C^2 (= N^2 D_IPR when the constraint holds)
  double loss = 0;                 ///< <||x - y||^2> - N^2/2 D_IPR; kernel: -2<K(x,y)> - D/2
  double constraint_residual = 0;  ///< max_i |<y_i^2> - 1|; kernel: |<K(y, y)> - 1|
  double smallest_eigenvalue = 0;  ///< of diag c - W (g I - A) when the metrics were taken
};

/// One entry of the learning history, passed to the per-epoch callback.
template <real_scalar Scalar>
struct learning_epoch {
  index epoch;  ///< 1-based
  learning_metrics<Scalar> metrics;
};

/// Tr(2 W C - W^2), whose maximum over symmetric W is Tr C^2, attained at W = C.
template <class A, class B>
double capacity_objective(const Eigen::MatrixBase<A>& w, const Eigen::MatrixBase<B>& c) {
  if (w.rows() != w.cols() || c.rows() != c.cols() || w.rows() != c.rows())
    throw dimension_mismatch(detail::message("capacity_objective: W is ", w.rows(), " x ", w.cols(),
                                             " and C is ", c.rows(), " x ", c.cols(),
                                             "; both must be square of one size"));
  return double(2 * (w.cwiseProduct(c.transpose())).sum() - (w.cwiseProduct(w.transpose())).sum());
}

/// The metrics of responses `y` to observations `x` (columns paired) under network `net`.
template <class Net>
learning_metrics<typename Net::scalar_type> response_metrics(
    const Net& net, const matrix<typename Net::scalar_type>& x,
    const matrix<typename Net::scalar_type>& y) {
  using Scalar = typename Net::scalar_type;
  net.check_inputs(x);
  if (y.rows() != x.rows() || y.cols() != x.cols())
    throw dimension_mismatch(detail::message("responses are ", y.rows(), " x ", y.cols(),
                                             ", observations ", x.rows(), " x ", x.cols(),
                                             "; they must agree"));
  const index p = x.cols();
  learning_metrics<Scalar> m;
  const auto& f = net.features_of(y);
  const index n = f.rows();
  m.covariance = matrix<Scalar>::Zero(n, n);
  m.covariance.template selfadjointView<Eigen::Lower>().rankUpdate(f, Scalar(1) / Scalar(p));
  m.covariance.template triangularView<Eigen::StrictlyUpper>() = m.covariance.transpose();
  const double trace = double(m.covariance.trace());
  m.capacity = double(m.covariance.squaredNorm());  // Tr C^2 for symmetric C
  m.d_ipr = m.capacity / (trace * trace);
  if constexpr (std::is_same_v<Net, hopfield_response<Scalar>>) {
    m.loss = double((x - y).colwise().squaredNorm().sum()) / double(p) -
             0.5 * double(n) * double(n) * m.d_ipr;
    m.constraint_residual = double((m.covariance.diagonal().array() - Scalar(1)).abs().maxCoeff());
  } else {
    const matrix<Scalar> fx = net.features_of(x);
    m.loss = -2.0 * double(fx.cwiseProduct(f).sum()) / double(p) - 0.5 * m.d_ipr;
    m.constraint_residual = std::abs(trace - 1.0);
  }
  m.smallest_eigenvalue = double(net.smallest_eigenvalue());
  return m;
}

/// The metrics of the responses to `x` at the network's current weights (no learning).
template <class Net, class Relaxation>
learning_metrics<typename Net::scalar_type> response_metrics(
    const Net& net, const matrix<typename Net::scalar_type>& x, const Relaxation& relax) {
  net.check_inputs(x);
  return response_metrics(net, x, respond(net, x, relax));
}

/// Does nothing; the default per-epoch callback.
struct no_epoch_callback {
  template <class Epoch>
  void operator()(const Epoch&) const {}
};

namespace detail {

/// The weights after one update from the batch's response features `f` (n x B).
template <class Scalar, class Leak>
std::pair<matrix<Scalar>, Leak> hebbian_update(const matrix<Scalar>& w, const Leak& leak,
                                               const matrix<Scalar>& f, double eta_w,
                                               double eta_c) {
  const Scalar b = Scalar(f.cols()), ew = Scalar(eta_w), ec = Scalar(eta_c);
  // W' = (1 - eta_W) W + (eta_W / B) f f^T, built on the lower triangle and mirrored, so W'
  // is exactly symmetric.
  matrix<Scalar> next = (Scalar(1) - ew) * w;
  next.template selfadjointView<Eigen::Lower>().rankUpdate(f, ew / b);
  next.template triangularView<Eigen::StrictlyUpper>() = next.transpose();
  if constexpr (std::is_same_v<Leak, vector<Scalar>>) {
    vector<Scalar> c = leak + ec * (f.array().square().rowwise().sum() / b - Scalar(1)).matrix();
    return {std::move(next), std::move(c)};
  } else {
    const Scalar g = leak + ec * (f.colwise().squaredNorm().sum() / b - Scalar(1));
    return {std::move(next), g};
  }
}

template <class Scalar>
bool all_finite(const vector<Scalar>& v) {
  return v.allFinite();
}
template <real_scalar Scalar>
bool all_finite(Scalar s) {
  return std::isfinite(s);
}

template <class Net>
void require_stable(const Net& net) {
  if constexpr (requires { net.factor(); })
    (void)net.factor();
  else
    net.require_stable();
}

}  // namespace detail

/// Learns `net`'s weights from the observations `x` (columns) by two-timescale plasticity;
/// calls on_epoch(learning_epoch) after every epoch (a callback returning bool stops learning
/// when it returns false) and returns the history. The metrics of an epoch are those of the
/// responses as the epoch produced them, with the weights of their own batch.
template <class Net, class Relaxation = closed_form_relaxation, class OnEpoch = no_epoch_callback>
std::vector<learning_epoch<typename Net::scalar_type>> learn(
    Net& net, const matrix<typename Net::scalar_type>& x, const hebbian_params& params,
    const Relaxation& relax = {}, OnEpoch on_epoch = {}) {
  using Scalar = typename Net::scalar_type;
  params.validate();
  net.check_inputs(x);
  const index p = x.cols();
  if (params.batch > p)
    throw invalid_argument(detail::message("hebbian_params::batch is ", params.batch,
                                           "; the data has only ", p, " observations"));
  const philox_source rng(params.seed);
  std::vector<index> order(static_cast<std::size_t>(p));
  std::vector<learning_epoch<Scalar>> history;
  matrix<Scalar> xb, y(x.rows(), p);

  for (index epoch = 1; epoch <= params.epochs; ++epoch) {
    const matrix<Scalar> start_w = net.coupling();
    const auto start_leak = net.leak();
    try {
      std::iota(order.begin(), order.end(), index(0));
      if (params.shuffle)  // Fisher-Yates on stream `epoch` of the seed
        for (index i = p - 1; i > 0; --i) {
          const double u = rng.uniform<double>(std::uint64_t(epoch), std::uint64_t(i));
          const index j = std::min(i, index(u * double(i + 1)));
          std::swap(order[std::size_t(i)], order[std::size_t(j)]);
        }
      for (index begin = 0; begin < p; begin += params.batch) {
        const index size = std::min(params.batch, p - begin);
        xb.resize(x.rows(), size);
        for (index k = 0; k < size; ++k) xb.col(k) = x.col(order[std::size_t(begin + k)]);
        const matrix<Scalar> yb = respond(net, xb, relax);
        for (index k = 0; k < size; ++k) y.col(order[std::size_t(begin + k)]) = yb.col(k);
        const auto& f = net.features_of(yb);
        auto [w, leak] =
            detail::hebbian_update(net.coupling(), net.leak(), f, params.eta_w, params.eta_c);
        if (!w.allFinite() || !detail::all_finite(leak))
          throw not_finite(detail::message(
              "learning produced non-finite weights in epoch ", epoch, " at observation ", begin,
              "; the responses were too large for the scalar type (lower the rates)"));
        net.assign(std::move(w), std::move(leak));
      }
      detail::require_stable(net);
    } catch (...) {
      net.assign(start_w, start_leak);
      throw;
    }
    history.push_back({epoch, response_metrics(net, x, y)});
    if constexpr (std::is_invocable_r_v<bool, OnEpoch&, const learning_epoch<Scalar>&> &&
                  !std::is_void_v<std::invoke_result_t<OnEpoch&, const learning_epoch<Scalar>&>>) {
      if (!on_epoch(history.back())) break;
    } else {
      on_epoch(history.back());
    }
  }
  return history;
}

}  // namespace engram
