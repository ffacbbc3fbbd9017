// Two-timescale Hebbian learning (seed 000): observations learned per second by
//   learn(net, X, hebbian_params{.eta_w = 0.08 / N, .eta_c = 0.1, .batch = B, .epochs = 1}, relax)
// on hopfield_response<double>::initial(N, c0 = 3) (W = 0, c = 3), fresh for every iteration
// (copied outside the timed region: manual timing), for N x P observations from
// line_observations(u, P, spread = sqrt(N), noise = 0.1), u with random-sign entries
// +-1/sqrt(N). One iteration is one whole shuffled epoch: P / B minibatch updates, each relaxing
// B observations and then committing W <- (1 - eta_W) W + eta_W Y Y^T / B (a rank-B update) and
// c, followed by learn()'s per-epoch tail (below). Relaxations:
//   closed form  y = (diag c - W)^{-1} x: one LLT of the N x N stiffness and two triangular
//                solves of N x B;
//   euler        relax_with(explicit_euler{.step = h}, stop::after(20)) from y = x, with
//                h = 0.5 / c0: with W = 0 and c = c0 the flow's stiffness is c0, stable for
//                h < 2 / c0, and in one epoch from the initial net the stiffness's eigenvalues
//                stay within [2.6, 3], so h lambda <= 0.5 and 20 steps contract the error by
//                about 2^-20. integrate() evaluates the field 21 times (the start and after each
//                step): one W Y product (N x N times N x B) each, plus its energies (4 N B flops).
// Rates: eta_c = 0.1 and eta_W = 0.005 at N = 16, scaled as 0.08 / N. A line's variance,
// N <y_i^2>, sits in one eigenvalue of <y y^T>, so one update moves W's top eigenvalue by
// eta_W N <y_i^2> while c moves by eta_c (<y_i^2> - 1): near the fixed point the mean-field flow
// is stable only for eta_c > ~N eta_W. With eta_W = 0.005 fixed, learn() throws
// not_positive_definite within the first epoch at N = 1024, B = 64 and at N = 64 and 256, B = 1.
// The rates change no flop count: the closed form's work does not depend on the weights, and
// the Euler relaxation always takes 20 steps.
// Shapes: B = 64 with N = 16, 64, 256, 1024 (both relaxations); online B = 1 with N = 16, 64,
// 256 (closed form); mean-field B = P with N = 64, 256, 1024 (closed form, one update per
// epoch, as in examples/learned_attractors). P = 256 throughout (4 updates per epoch at B = 64).
//
// Baseline, timed in the same binary just before and just after each benchmark (the better of
// the two, each the best of five): one plain Eigen GEMM W X, N x N times N x B, the dominant
// product of one minibatch (a GEMV at B = 1). An update's work, counted in such products of
// 2 N^2 B flops:
//   closed form  LLT N^3/3 + solves 2 N^2 B + rank-B update N^2 B  ->  N / (6 B) + 1.5
//   euler        21 x 2 N^2 B + rank-B update N^2 B                ->  21.5
// Counters:
//   obs/s          P / time per epoch, the epoch's tail included (what a caller of learn() sees);
//   vs_gemm        GEMM time x the count above / time per update, where time per update is
//                  (epoch time - tail time) / (P / B): 1 when an update runs at the bare GEMM's
//                  flop rate. What bounds it below 1: per-update N x N copies the count leaves
//                  out (the stiffness, the LLT's own matrix, (1 - eta_W) W, the mirrored
//                  triangle, the finiteness scan of W), the field's energies, and kernels slower
//                  than the two-thread GEMM: Eigen runs the LLT, the triangular solves and the
//                  rank-B update (SYRK) on one thread, and at B = 1 the baseline is a GEMV; at
//                  small B the LLT's N^3 / 3 dominates the count (N / (6 B) products);
//   flops/obs      the update's model flops per observation: closed form N^3 / (3 B) + 3 N^2,
//                  euler 43 N^2 (the tail's flops are not in it);
//   tail_share     learn()'s per-epoch tail, timed alone (best of three) / epoch time: the
//                  stability check (one more LLT of N x N) and response_metrics on all P
//                  responses: a rank-P update of N x N (N^2 P flops, P / (2 B) products) and a
//                  symmetric eigenvalue solve of the N x N stiffness (tridiagonalisation, about
//                  4 N^3 / 3 flops, mostly level-2 code, one thread); the copy of W that learn()
//                  keeps at the start of each epoch is not in it. P = 256 is sized so that the tail
//                  is visible: a fixed cost per epoch (its share shrinks about as 1 / P), it is a
//                  quarter to three quarters of a closed-form epoch here and 4-40% of an Euler one
//                  (RESULTS.md), which is why vs_gemm subtracts it;
//   eig_ms         the eigenvalue solve alone (best of three), the tail's largest part from
//                  N = 256;
//   relax_ms, llt_ms, update_ms
//                  one minibatch's relaxation (respond()), the LLT within it (closed form), and
//                  the weights' update (detail::hebbian_update), each timed alone;
//   gemm_us        the baseline's time;
//   allocs/update  heap allocations per update (malloc is interposed: heap_peak.hpp): one
//                  epoch's count less its tail's, over P / B; the epoch's setup (order, history,
//                  the copy of W) is spread over its updates. A two-thread Eigen GEMM allocates
//                  once per product on its own (see bench_dynamics).
#include <benchmark/benchmark.h>
#include <engram/engram.hpp>

#include "heap_peak.hpp"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdlib>
#include <utility>

namespace {

using Clock = std::chrono::steady_clock;
using engram::index;
using engram::matrix;
using engram::vector;

constexpr index steps = 20;  // Euler steps per relaxation
constexpr double c0 = 3.0;   // the initial leak: diag c - W = c0 I

/// The Hebbian rate: 0.005 at N = 16, scaled as 1 / N so that eta_c / eta_W = 1.25 N (a line's
/// variance, N <y_i^2>, sits in one eigenvalue of <y y^T>; see the header comment).
double eta_w_at(index n) {
  return 0.08 / double(n);
}

enum class relaxation { closed_form, euler };

template <class Scalar>
struct problem {
  matrix<Scalar> x, w;  // observations N x P; a random N x N matrix for the baseline
  problem(index n, index p) : w(n, n) {
    vector<Scalar> u(n);
    const engram::philox_source rng(2026);
    rng.fill_uniform(u, 0);
    u = u.unaryExpr([&](Scalar v) { return (v > Scalar(0.5) ? Scalar(1) : Scalar(-1)); }) /
        std::sqrt(Scalar(n));
    x = engram::line_observations<Scalar>(u, p, std::sqrt(Scalar(n)), Scalar(0.1), 7);
    rng.fill_normal(w, 1);
  }
};

template <class Scalar, relaxation R>
auto make_relaxation() {
  if constexpr (R == relaxation::closed_form)
    return engram::closed_form;
  else
    return engram::relax_with(engram::explicit_euler<Scalar>{.step = Scalar(0.5 / c0)},
                              engram::stop::after(steps));
}

/// Seconds per call of f: the best of `trials` trials, each the mean of enough calls for ~2^26
/// flops of the N x N x B product (one call from N = 1024, B = 64).
template <class F>
double best_seconds(index n, index batch, F&& f, int trials = 5) {
  const long long reps = std::max<long long>(1, (1LL << 26) / (n * n * batch));
  f();  // warm up: scratch sized, caches filled
  double best = 1e300;
  for (int trial = 0; trial < trials; ++trial) {
    const auto t0 = Clock::now();
    for (long long r = 0; r < reps; ++r) f();
    best = std::min(best, std::chrono::duration<double>(Clock::now() - t0).count() / double(reps));
  }
  return best;
}

/// Seconds per call of f, the best of three trials of about 10 ms each (at least one call).
template <class F>
double best_seconds_of(F&& f) {
  const auto t0 = Clock::now();
  f();
  const double once = std::chrono::duration<double>(Clock::now() - t0).count();
  const long long reps = std::max<long long>(1, (long long)(0.01 / std::max(once, 1e-9)));
  double best = once;
  for (int trial = 0; trial < 3; ++trial) {
    const auto t1 = Clock::now();
    for (long long r = 0; r < reps; ++r) f();
    best = std::min(best, std::chrono::duration<double>(Clock::now() - t1).count() / double(reps));
  }
  return best;
}

/// The baseline: one W X product with X N x B, the size of one minibatch's relaxation product.
template <class Scalar>
double gemm_seconds(const problem<Scalar>& p, index batch) {
  const matrix<Scalar> xb = p.x.leftCols(batch);
  matrix<Scalar> out(p.w.rows(), batch);
  return best_seconds(p.w.rows(), batch, [&] {
    out.noalias() = p.w * xb;
    benchmark::DoNotOptimize(out.data());
  });
}

/// The update's work in W X products of 2 N^2 B flops (see the header comment).
template <relaxation R>
double products_per_update(index n, index batch) {
  if constexpr (R == relaxation::closed_form)
    return double(n) / (6.0 * double(batch)) + 1.5;
  else
    return double(steps + 1) + 0.5;
}

template <class Scalar, relaxation R>
void bm_learn(benchmark::State& state) {
  const index n = state.range(0), batch = state.range(1), count = state.range(2);
  const problem<Scalar> p(n, count);
  const auto initial = engram::hopfield_response<Scalar>::initial(n, Scalar(c0));
  const auto relax = make_relaxation<Scalar, R>();
  const engram::hebbian_params params{
      .eta_w = eta_w_at(n), .eta_c = 0.1, .batch = batch, .epochs = 1, .seed = 1, .shuffle = true};

  // Untimed: one epoch to check it is stable, then learn()'s per-epoch tail timed alone on the
  // net and responses it leaves.
  auto trained = initial;
  try {
    engram::learn(trained, p.x, params, relax);
  } catch (const engram::error& e) {
    state.SkipWithError(e.what());
    return;
  }
  const matrix<Scalar> y = engram::respond(trained, p.x, engram::closed_form);
  const auto run_tail = [&] {
    (void)trained.factor();
    auto m = engram::response_metrics(trained, p.x, y);
    benchmark::DoNotOptimize(m.covariance.data());
  };
  const double tail = best_seconds_of(run_tail);
  const double eig = best_seconds_of([&] {
    auto e = trained.smallest_eigenvalue();
    benchmark::DoNotOptimize(e);
  });
  // One minibatch's parts, each timed alone on that net: the relaxation (respond), within it
  // the LLT of the stiffness (closed form), and the weights' update (hebbian_update).
  const matrix<Scalar> xb = p.x.leftCols(batch);
  const double relax_part = best_seconds_of([&] {
    auto r = engram::respond(trained, xb, relax);
    benchmark::DoNotOptimize(r.data());
  });
  const matrix<Scalar> yb = engram::respond(trained, xb, relax);
  const double update_part = best_seconds_of([&] {
    auto next = engram::detail::hebbian_update(trained.coupling(), trained.leak(), yb, params.eta_w,
                                               params.eta_c);
    benchmark::DoNotOptimize(next.first.data());
  });
  double llt_part = 0;
  if constexpr (R == relaxation::closed_form)
    llt_part = best_seconds_of([&] {
      auto llt = trained.factor();
      benchmark::DoNotOptimize(llt.matrixLLT().data());
    });
  // Heap allocations of one epoch and of its tail alone (malloc is interposed: heap_peak.hpp).
  auto counted = initial;
  const long long a0 = heap::allocations.load();
  engram::learn(counted, p.x, params, relax);
  const long long a1 = heap::allocations.load();
  run_tail();
  const long long a2 = heap::allocations.load();
  double gemm = gemm_seconds(p, batch);

  double seconds = 0;
  for (auto _ : state) {
    auto net = initial;  // fresh weights, copied outside the timed region
    const auto t0 = Clock::now();
    auto history = engram::learn(net, p.x, params, relax);
    const double t = std::chrono::duration<double>(Clock::now() - t0).count();
    benchmark::DoNotOptimize(history.data());
    state.SetIterationTime(t);
    seconds += t;
  }
  gemm = std::min(gemm, gemm_seconds(p, batch));  // this machine drifts: before and after

  const double epoch = seconds / double(state.iterations());
  const double updates = double((count + batch - 1) / batch);
  const double per_update = std::max(epoch - tail, 0.0) / updates;
  const double nn = double(n) * double(n);
  state.counters["obs/s"] = double(count) / epoch;
  state.counters["vs_gemm"] = gemm * products_per_update<R>(n, batch) / per_update;
  state.counters["flops/obs"] = products_per_update<R>(n, batch) * 2.0 * nn;
  state.counters["tail_share"] = tail / epoch;
  state.counters["eig_ms"] = eig * 1e3;
  state.counters["gemm_us"] = gemm * 1e6;
  state.counters["relax_ms"] = relax_part * 1e3;
  if constexpr (R == relaxation::closed_form) state.counters["llt_ms"] = llt_part * 1e3;
  state.counters["update_ms"] = update_part * 1e3;
  state.counters["allocs/update"] = double((a1 - a0) - (a2 - a1)) / updates;
}

constexpr index observations = 256;

void batched(benchmark::internal::Benchmark* b) {
  b->ArgNames({"N", "B", "P"});
  for (long n : {16, 64, 256, 1024}) b->Args({n, 64, observations});
  b->Unit(benchmark::kMillisecond)->UseManualTime();
}

void online(benchmark::internal::Benchmark* b) {
  b->ArgNames({"N", "B", "P"});
  for (long n : {16, 64, 256}) b->Args({n, 1, observations});
  b->Unit(benchmark::kMillisecond)->UseManualTime();
}

void mean_field(benchmark::internal::Benchmark* b) {
  b->ArgNames({"N", "B", "P"});
  for (long n : {64, 256, 1024}) b->Args({n, observations, observations});
  b->Unit(benchmark::kMillisecond)->UseManualTime();
}

}  // namespace

BENCHMARK(bm_learn<double, relaxation::closed_form>)
    ->Apply(batched)
    ->Apply(online)
    ->Apply(mean_field);
BENCHMARK(bm_learn<double, relaxation::euler>)->Apply(batched);

BENCHMARK_MAIN();
