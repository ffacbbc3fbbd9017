// Lagrangian neural dynamics (seed 003): whole integration steps per second of
//   krotov_hopfield_field<softplus_lagrangian>: ydot = W g(y) - y + b, W symmetric (GOE) scaled to
//       ||W||_2 = 0.9: one product W g per evaluation, plus g and the energy's L(y);
//   remedy_field<smooth_leaky_lagrangian, contrastive_rule>: udot = (I - W^T Lambda)(g(Wu + b) -
//   u),
//       W non-symmetric Gaussian scaled to ||W||_2 = 0.9: two products per evaluation (W u and
//       W^T Lambda r), plus g, Lambda r and the energy E3,
// for N x B batches (B columns integrated together), with rk4 {.step = 0.1} and dormand_prince
// (tolerances 1e-4 in float, 1e-6 in double), each run as integrate(field, y0, stepper,
// stop::after(steps)) over one fixed initial batch.
// Baseline, timed in the same binary just before and just after each benchmark: one plain Eigen
// GEMM W X with X N x B, the product one evaluation needs (the best of ten). Counters:
//   steps/s        whole steps of the batch per second (integrate's own work included);
//   evals/step     field evaluations per step, counted by running the same integration once with
//                  a counting wrapper (the start's evaluation included: RK4 = 4 + 1/steps,
//                  Dormand-Prince = 6 per attempt + 1/steps, rejected attempts included);
//   field_evals/s  evaluations per second;
//   vs_gemm        GEMM time x evals/step / time per step: 1 when a step costs exactly its
//                  evaluations' W X products; the contrastive rule does two products per
//                  evaluation, so its ceiling is 0.5;
//   allocs/eval    heap allocations per field evaluation within the steps, measured (malloc is
//                  interposed: heap_peak.hpp) as the difference between runs of 2 x steps and of
//                  steps steps, so integrate's setup cancels; gemm_allocs (bm_gemm) is what one
//                  bare Eigen GEMM of the shape allocates on its own.
// bm_integrate_no_energy: the same steps with the field's energy hidden from integrate() (krotov,
// float), to show what the energies that rk4 and dormand_prince compute at every stage cost.
// bm_field splits one evaluation (what integrate calls, energy included) into its parts, each the
// best of five timed alone: the GEMM, the activation g, the Lagrangian's value L (krotov) or the
// Hessian product Lambda v (contrastive), and the field without its energy.
#include <benchmark/benchmark.h>
#include <engram/engram.hpp>

#include "heap_peak.hpp"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdlib>
#include <map>
#include <utility>

namespace {

using Clock = std::chrono::steady_clock;
using engram::index;
using engram::matrix;
using engram::vector;

constexpr index steps = 10;  // steps per integrate() call

enum class model { krotov, contrastive };
enum class method { rk4, dopri };

/// W scaled to ||W||_2 = 0.9, in double, computed once per (N, symmetric).
const matrix<double>& coupling(index n, bool symmetric) {
  static std::map<std::pair<index, bool>, matrix<double>> cache;
  auto [it, fresh] = cache.try_emplace({n, symmetric});
  if (!fresh) return it->second;
  matrix<double> w;
  double norm;
  if (symmetric) {
    w = engram::goe_matrix<double>(n, 3);
    norm = Eigen::SelfAdjointEigenSolver<matrix<double>>(w, Eigen::EigenvaluesOnly)
               .eigenvalues()
               .cwiseAbs()
               .maxCoeff();
  } else {
    w.resize(n, n);
    engram::philox_source(4).fill_normal(w, 0);
    const matrix<double> gram = w.transpose() * w;
    norm = std::sqrt(Eigen::SelfAdjointEigenSolver<matrix<double>>(gram, Eigen::EigenvaluesOnly)
                         .eigenvalues()
                         .maxCoeff());
  }
  it->second = (0.9 / norm) * w;
  return it->second;
}

template <class Scalar>
struct problem {
  matrix<Scalar> w, y0;
  vector<Scalar> b;
  problem(index n, index batch, model m) : y0(n, batch), b(n) {
    w = coupling(n, m == model::krotov).cast<Scalar>();
    const engram::philox_source rng(2026);
    rng.fill_normal(y0, 1);
    rng.fill_normal(b, 2);
    b *= Scalar(0.1);
  }
};

template <class Scalar, model M>
auto make_field(const problem<Scalar>& p) {
  if constexpr (M == model::krotov)
    return engram::krotov_hopfield_field<engram::softplus_lagrangian<Scalar>>(p.w, p.b);
  else
    return engram::remedy_field<engram::smooth_leaky_lagrangian<Scalar>, engram::contrastive_rule>(
        p.w, p.b);
}

template <class Scalar, method S>
auto make_stepper() {
  if constexpr (S == method::rk4) {
    return engram::rk4<Scalar>{.step = Scalar(0.1)};
  } else {
    constexpr Scalar tolerance = std::is_same_v<Scalar, float> ? Scalar(1e-4) : Scalar(1e-6);
    return engram::dormand_prince<Scalar>{
        .initial_step = Scalar(0.01), .abs_tolerance = tolerance, .rel_tolerance = tolerance};
  }
}

/// Forwards to a field and counts its evaluations.
template <class Field>
struct counted {
  using scalar_type = typename Field::scalar_type;
  Field& field;
  long long evaluations = 0;
  index dim() const { return field.dim(); }
  void operator()(const matrix<scalar_type>& x, matrix<scalar_type>& dxdt) {
    ++evaluations;
    field(x, dxdt);
  }
  void operator()(const matrix<scalar_type>& x, matrix<scalar_type>& dxdt,
                  vector<scalar_type>& e) requires engram::lyapunov_field<Field> {
    ++evaluations;
    field(x, dxdt, e);
  }
};

/// The field without its energy: integrate() then evaluates dX/dt alone at every stage.
template <class Field>
struct without_energy {
  using scalar_type = typename Field::scalar_type;
  Field& field;
  index dim() const { return field.dim(); }
  void operator()(const matrix<scalar_type>& x, matrix<scalar_type>& dxdt) { field(x, dxdt); }
};

/// Seconds per call of f: the best of five trials, each the mean of enough calls for ~2^26 flops
/// of the N x N x B product (one call from N = 1024, B = 64).
template <class F>
double best_seconds(index n, index batch, F&& f) {
  const long long reps = std::max<long long>(1, (1LL << 26) / (n * n * batch));
  f();  // warm up: scratch sized, caches filled
  double best = 1e300;
  for (int trial = 0; trial < 5; ++trial) {
    const auto t0 = Clock::now();
    for (long long r = 0; r < reps; ++r) f();
    best = std::min(best, std::chrono::duration<double>(Clock::now() - t0).count() / double(reps));
  }
  return best;
}

/// The baseline: one W X product with X N x B, as a field evaluation does it.
template <class Scalar>
double gemm_seconds(const problem<Scalar>& p) {
  matrix<Scalar> out(p.w.rows(), p.y0.cols());
  return best_seconds(p.w.rows(), p.y0.cols(), [&] {
    out.noalias() = p.w * p.y0;
    benchmark::DoNotOptimize(out.data());
  });
}

template <class Scalar>
void bm_gemm(benchmark::State& state) {
  const problem<Scalar> p(state.range(0), state.range(1), model::contrastive);
  matrix<Scalar> out(p.w.rows(), p.y0.cols());
  for (auto _ : state) {
    out.noalias() = p.w * p.y0;
    benchmark::DoNotOptimize(out.data());
  }
  const double flops = 2.0 * double(state.range(0) * state.range(0) * state.range(1));
  state.counters["GFLOP/s"] =
      benchmark::Counter(flops * 1e-9, benchmark::Counter::kIsIterationInvariantRate);
  const long long before = heap::allocations.load();
  out.noalias() = p.w * p.y0;
  state.counters["gemm_allocs"] = double(heap::allocations.load() - before);
}

template <class Scalar, method S, class Field>
void run_integrate(benchmark::State& state, const problem<Scalar>& p, Field& field) {
  const auto stepper = make_stepper<Scalar, S>();
  const auto stop = engram::stop::after(steps);

  // Untimed: count the evaluations, check the run, and count the allocations per evaluation.
  counted<Field> counter{field};
  const auto check = engram::integrate(counter, p.y0, stepper, stop);
  if (check.any_diverged()) {
    state.SkipWithError("a column diverged or Dormand-Prince failed");
    return;
  }
  const long long evaluations = counter.evaluations;
  const long long a0 = heap::allocations.load();
  benchmark::DoNotOptimize(engram::integrate(counter, p.y0, stepper, stop).states.data());
  const long long a1 = heap::allocations.load(), e1 = counter.evaluations;
  benchmark::DoNotOptimize(
      engram::integrate(counter, p.y0, stepper, engram::stop::after(2 * steps)).states.data());
  const long long a2 = heap::allocations.load(), e2 = counter.evaluations;
  const double allocs_per_eval =
      double((a2 - a1) - (a1 - a0)) / double((e2 - e1) - (e1 - evaluations));
  double gemm = gemm_seconds(p);

  const auto t0 = Clock::now();
  for (auto _ : state) {
    auto r = engram::integrate(field, p.y0, stepper, stop);
    benchmark::DoNotOptimize(r.states.data());
  }
  const double seconds = std::chrono::duration<double>(Clock::now() - t0).count();
  gemm = std::min(gemm, gemm_seconds(p));  // this machine drifts: the best of before and after
  const double per_step = seconds / double(state.iterations() * steps);
  const double evals_per_step = double(evaluations) / double(steps);
  state.counters["steps/s"] = 1 / per_step;
  state.counters["evals/step"] = evals_per_step;
  state.counters["field_evals/s"] = evals_per_step / per_step;
  state.counters["vs_gemm"] = gemm * evals_per_step / per_step;
  state.counters["allocs/eval"] = allocs_per_eval;
}

template <class Scalar, model M, method S>
void bm_integrate(benchmark::State& state) {
  const problem<Scalar> p(state.range(0), state.range(1), M);
  auto field = make_field<Scalar, M>(p);
  run_integrate<Scalar, S>(state, p, field);
}

/// The same steps with the energy hidden from integrate(): what the steps cost without the
/// energies that the steppers compute at every stage and (but for the last) discard.
template <class Scalar, model M, method S>
void bm_integrate_no_energy(benchmark::State& state) {
  const problem<Scalar> p(state.range(0), state.range(1), M);
  auto inner = make_field<Scalar, M>(p);
  without_energy<decltype(inner)> field{inner};
  run_integrate<Scalar, S>(state, p, field);
}

/// One evaluation with its energy, as integrate() calls it, and its parts timed alone.
template <class Scalar, model M>
void bm_field(benchmark::State& state) {
  const index n = state.range(0), batch = state.range(1);
  const problem<Scalar> p(n, batch, M);
  auto field = make_field<Scalar, M>(p);
  const auto& l = field.lagrangian();
  matrix<Scalar> d(n, batch), part(n, batch);
  vector<Scalar> e(batch), values(batch);
  // The Lagrangian's argument: y for krotov, W u + b for the remedy.
  matrix<Scalar> y = p.y0;
  if constexpr (M == model::contrastive) y = (p.w * p.y0).colwise() + p.b;
  double gemm = gemm_seconds(p);
  const double activation = best_seconds(n, batch, [&] {
    l.activation(y, part);
    benchmark::DoNotOptimize(part.data());
  });
  const double extra = best_seconds(n, batch, [&] {
    if constexpr (M == model::krotov)
      l.value(y, values);
    else
      l.hessian_product(y, p.y0, part);
    benchmark::DoNotOptimize(values.data());
    benchmark::DoNotOptimize(part.data());
  });
  const double no_energy = best_seconds(n, batch, [&] {
    field(p.y0, d);
    benchmark::DoNotOptimize(d.data());
  });
  field(p.y0, d, e);
  const auto t0 = Clock::now();
  for (auto _ : state) {
    field(p.y0, d, e);
    benchmark::DoNotOptimize(d.data());
    benchmark::DoNotOptimize(e.data());
  }
  const double per_eval =
      std::chrono::duration<double>(Clock::now() - t0).count() / double(state.iterations());
  gemm = std::min(gemm, gemm_seconds(p));
  state.counters["vs_gemm"] = gemm / per_eval;
  state.counters["gemm_us"] = gemm * 1e6;
  state.counters["g_us"] = activation * 1e6;
  state.counters[M == model::krotov ? "L_us" : "Lambda_v_us"] = extra * 1e6;
  state.counters["no_energy_us"] = no_energy * 1e6;
}

void shapes(benchmark::internal::Benchmark* b) {
  b->ArgNames({"N", "B"});
  for (long n : {64, 256, 1024}) b->Args({n, 64});
  b->Unit(benchmark::kMillisecond)->UseRealTime();
}

}  // namespace

BENCHMARK(bm_gemm<float>)->Apply(shapes);
BENCHMARK(bm_field<float, model::krotov>)->Apply(shapes);
BENCHMARK(bm_field<float, model::contrastive>)->Apply(shapes);
BENCHMARK(bm_integrate<float, model::krotov, method::rk4>)->Apply(shapes);
BENCHMARK(bm_integrate<float, model::krotov, method::dopri>)->Apply(shapes);
BENCHMARK(bm_integrate<float, model::contrastive, method::rk4>)->Apply(shapes);
BENCHMARK(bm_integrate<float, model::contrastive, method::dopri>)->Apply(shapes);
BENCHMARK(bm_integrate_no_energy<float, model::krotov, method::rk4>)->Apply(shapes);
BENCHMARK(bm_integrate_no_energy<float, model::krotov, method::dopri>)->Apply(shapes);
BENCHMARK(bm_gemm<double>)->Apply(shapes);
BENCHMARK(bm_field<double, model::krotov>)->Apply(shapes);
BENCHMARK(bm_field<double, model::contrastive>)->Apply(shapes);
BENCHMARK(bm_integrate<double, model::krotov, method::rk4>)->Apply(shapes);
BENCHMARK(bm_integrate<double, model::krotov, method::dopri>)->Apply(shapes);
BENCHMARK(bm_integrate<double, model::contrastive, method::rk4>)->Apply(shapes);
BENCHMARK(bm_integrate<double, model::contrastive, method::dopri>)->Apply(shapes);

BENCHMARK_MAIN();
