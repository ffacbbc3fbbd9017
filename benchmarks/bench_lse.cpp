// LSE energy and retrieval throughput. Model: 4 B K D flops per evaluation (two GEMM-shaped
// products: scores Xi^T X and the weighted pattern sum Xi P). Each benchmark also times, in the
// same process, those two plain Eigen GEMMs on the same shapes (the roofline engram's
// streaming reduction can at best reach) and reports vs_gemm = gemm time / engram time.
#include <benchmark/benchmark.h>
#include <engram/engram.hpp>

#include <algorithm>
#include <chrono>

namespace {

using Clock = std::chrono::steady_clock;

template <class Scalar>
struct problem {
  engram::matrix<Scalar> patterns, queries;
  problem(Eigen::Index b, Eigen::Index k, Eigen::Index d) : patterns(d, k), queries(d, b) {
    engram::philox_source rng(2026);
    rng.fill_uniform(patterns, 0);
    rng.fill_uniform(queries, 1);
    const Scalar scale = Scalar(1) / std::sqrt(Scalar(d));  // pixels in [0, 1/sqrt(D)]
    patterns *= scale;
    queries *= scale;
  }
};

/// Seconds of the best of `repeats` runs of the two GEMMs of one evaluation.
template <class Scalar>
double gemm_seconds(const problem<Scalar>& p, int repeats = 3) {
  engram::matrix<Scalar> scores(p.patterns.cols(), p.queries.cols());
  engram::matrix<Scalar> weighted(p.patterns.rows(), p.queries.cols());
  double best = 1e300;
  for (int r = 0; r < repeats; ++r) {
    const auto t0 = Clock::now();
    scores.noalias() = p.patterns.transpose() * p.queries;
    weighted.noalias() = p.patterns * scores;
    benchmark::DoNotOptimize(weighted.data());
    best = std::min(best, std::chrono::duration<double>(Clock::now() - t0).count());
  }
  return best;
}

/// GFLOP/s of engram and of the GEMM baseline, and their ratio vs_gemm (1 = GEMM speed).
void report(benchmark::State& state, double seconds, double flops_per_iteration,
            double gemm_time_per_eval, double evals_per_iteration) {
  const double per_iteration = seconds / double(state.iterations());
  state.counters["GFLOP/s"] = flops_per_iteration * 1e-9 / per_iteration;
  state.counters["gemm_GFLOP/s"] =
      flops_per_iteration / evals_per_iteration * 1e-9 / gemm_time_per_eval;
  state.counters["vs_gemm"] = gemm_time_per_eval * evals_per_iteration / per_iteration;
}

template <class Scalar>
void bm_gemm(benchmark::State& state) {
  const problem<Scalar> p(state.range(0), state.range(1), state.range(2));
  engram::matrix<Scalar> scores(p.patterns.cols(), p.queries.cols());
  engram::matrix<Scalar> weighted(p.patterns.rows(), p.queries.cols());
  for (auto _ : state) {
    scores.noalias() = p.patterns.transpose() * p.queries;
    weighted.noalias() = p.patterns * scores;
    benchmark::DoNotOptimize(weighted.data());
  }
  const double flops = 4.0 * double(state.range(0) * state.range(1) * state.range(2));
  state.counters["GFLOP/s"] =
      benchmark::Counter(flops * 1e-9, benchmark::Counter::kIsIterationInvariantRate);
}

/// One evaluation (energies and gradients) of B = range(0) queries against K = range(1) memories
/// of dimension D = range(2), with the tile policy `tiles`.
template <class Scalar>
void time_evaluation(benchmark::State& state, const engram::cpu_tiles& tiles) {
  const problem<Scalar> p(state.range(0), state.range(1), state.range(2));
  engram::dense_memory<Scalar> memory(p.patterns);
  engram::lse_energy<Scalar> energy(memory, Scalar(60));
  energy.set_tiles(tiles);
  engram::vector<Scalar> e(p.queries.cols());
  engram::matrix<Scalar> g(p.queries.rows(), p.queries.cols());
  auto workspace = energy.make_workspace();
  const double gemm = gemm_seconds(p);
  const auto t0 = Clock::now();
  for (auto _ : state) {
    energy.evaluate(p.queries, e, &g, workspace);
    benchmark::DoNotOptimize(g.data());
  }
  const double seconds = std::chrono::duration<double>(Clock::now() - t0).count();
  report(state, seconds, 4.0 * double(state.range(0) * state.range(1) * state.range(2)), gemm, 1);
}

template <class Scalar>
void bm_value_and_gradient(benchmark::State& state) {
  time_evaluation<Scalar>(state, {});
}

/// The tile policy's sizes: memory tiles of range(3) memories and query tiles of range(4)
/// queries; the defaults of cpu_tiles come from this sweep.
void bm_tiles(benchmark::State& state) {
  time_evaluation<float>(
      state, {.memory_tile = state.range(3), .query_tile = state.range(4), .thin_tile_bytes = 0});
}

template <class Scalar>
void bm_retrieve(benchmark::State& state) {
  constexpr int steps = 10;
  const problem<Scalar> p(state.range(0), state.range(1), state.range(2));
  engram::dense_memory<Scalar> memory(p.patterns);
  engram::lse_energy<Scalar> energy(memory, Scalar(60));
  const double gemm = gemm_seconds(p);
  const auto t0 = Clock::now();
  for (auto _ : state) {
    auto r = engram::retrieve(energy, p.queries, engram::gradient_descent<Scalar>{.step = 0.1f},
                              engram::stop::after(steps));
    benchmark::DoNotOptimize(r.states.data());
  }
  const double seconds = std::chrono::duration<double>(Clock::now() - t0).count();
  // steps + 1 evaluations: the start and one after every step.
  const double evals = steps + 1;
  report(state, seconds, evals * 4.0 * double(state.range(0) * state.range(1) * state.range(2)),
         gemm, evals);
}

void shapes(benchmark::internal::Benchmark* b) {
  b->ArgNames({"B", "K", "D"});
  for (long batch : {64, 1024})
    for (long count : {1024, 8192})
      for (long dim : {64, 256}) b->Args({batch, count, dim});
  b->Unit(benchmark::kMillisecond)->UseRealTime();
}

}  // namespace

BENCHMARK(bm_gemm<float>)->Apply(shapes);
BENCHMARK(bm_value_and_gradient<float>)->Apply(shapes);
BENCHMARK(bm_retrieve<float>)->Apply(shapes);
// The step of the benchmarks above, and image_completion's (20 queries against 10,000
// Fashion-MNIST images of 784 pixels), where a memory tile of 512 patterns (1.6 MB) no longer
// fits a core's L2 between the score and the read-out product, with 1 to 32 queries: up to 24
// (thin_columns) the products run on the thin kernels. The sweep turns off the policy's limit on
// a thin batch's tile bytes (thin_tile_bytes = 0), so that memory_tile is what runs.
BENCHMARK(bm_tiles)
    ->ArgNames({"B", "K", "D", "memory_tile", "query_tile"})
    ->ArgsProduct({{1024}, {8192}, {64, 256}, {128, 256, 512, 1024, 2048}, {32, 64, 128, 256}})
    ->ArgsProduct({{1, 8, 20, 24, 32}, {10000}, {784}, {64, 128, 256, 512, 1024}, {128}})
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();
BENCHMARK(bm_gemm<double>)
    ->Args({1024, 8192, 256})
    ->ArgNames({"B", "K", "D"})
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();
BENCHMARK(bm_value_and_gradient<double>)
    ->Args({1024, 8192, 256})
    ->ArgNames({"B", "K", "D"})
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();

BENCHMARK_MAIN();
