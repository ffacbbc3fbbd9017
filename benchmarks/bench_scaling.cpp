// How a step scales with the size of the memory, and what memory it takes beyond the data.
// bm_lse_vs_k: one LSE evaluation (energy and gradient) of B = 256 queries at D = 64 against
//   K = 1e3 ... 1e7 patterns. ns_per_pair = time / (B K) is flat when the time is linear in K;
//   vs_gemm = the two GEMMs of the step (Xi^T X and Xi S, over memory tiles of 65536 so that
//   the baseline does not itself hold a K x B matrix) / engram's time, timed in this binary.
// bm_drdam_vs_y: one DrDAM sincos evaluation of B = 256 queries at D = 64 against Y = 1e3 ...
//   1e6 random features, omega stored or regenerated on demand; ns_per_pair = time / (B Y);
//   vs_gemm against omega X and omega^T U (tiled the same way).
// peak_MiB is the heap a step adds at its high-water mark (malloc interposed, heap_peak.hpp):
// it should stay flat as K or Y grows, bounded by the tiles, not by the memory. data_MiB is the
// memory itself (the patterns, or omega when stored) for comparison.
#include <benchmark/benchmark.h>
#include <engram/engram.hpp>

#include <algorithm>
#include <chrono>

#include "heap_peak.hpp"

namespace {

using Clock = std::chrono::steady_clock;
constexpr Eigen::Index batch = 256, dim = 64, tile = 65536;

Eigen::MatrixXf uniform(Eigen::Index rows, Eigen::Index cols, std::uint64_t stream) {
  Eigen::MatrixXf m(rows, cols);
  engram::philox_source(2026).fill_uniform(m, stream);
  return m / std::sqrt(float(rows));  // in [0, 1/sqrt(D)], as bench_lse
}

/// Best of three runs of the two GEMMs of one step over a D x K memory (or Y x D projection
/// transposed), memory tiles at a time.
double tiled_gemm_seconds(const Eigen::MatrixXf& columns, const Eigen::MatrixXf& x) {
  const Eigen::Index k = columns.cols();
  Eigen::MatrixXf scores(std::min(tile, k), x.cols()), out(x.rows(), x.cols());
  double best = 1e300;
  for (int r = 0; r < 3; ++r) {
    const auto t0 = Clock::now();
    out.setZero();
    for (Eigen::Index k0 = 0; k0 < k; k0 += tile) {
      const Eigen::Index kc = std::min(tile, k - k0);
      auto s = scores.topRows(kc);
      s.noalias() = columns.middleCols(k0, kc).transpose() * x;
      out.noalias() += columns.middleCols(k0, kc) * s;
    }
    benchmark::DoNotOptimize(out.data());
    best = std::min(best, std::chrono::duration<double>(Clock::now() - t0).count());
  }
  return best;
}

void bm_lse_vs_k(benchmark::State& state) {
  const Eigen::Index k = state.range(0);
  const Eigen::MatrixXf x = uniform(dim, batch, 1);
  engram::dense_memory<float> memory(uniform(dim, k, 0));
  engram::lse_energy<float> energy(memory, 60.f);
  Eigen::VectorXf e(batch);
  Eigen::MatrixXf g(dim, batch);
  auto workspace = energy.make_workspace();
  energy.evaluate(x, e, &g, workspace);  // warm the workspace and the threads
  const double gemm = tiled_gemm_seconds(memory.patterns(), x);
  heap::high = heap::live.load();
  const long long before = heap::live.load();
  const auto t0 = Clock::now();
  for (auto _ : state) {
    energy.evaluate(x, e, &g, workspace);
    benchmark::DoNotOptimize(g.data());
  }
  const double per =
      std::chrono::duration<double>(Clock::now() - t0).count() / double(state.iterations());
  state.counters["ns_per_pair"] = per * 1e9 / double(batch * k);
  state.counters["GFLOP/s"] = 4.0 * double(batch * k * dim) * 1e-9 / per;
  state.counters["vs_gemm"] = gemm / per;
  state.counters["peak_MiB"] = double(heap::high.load() - before) / (1 << 20);
  state.counters["data_MiB"] = double(k * dim * 4) / (1 << 20);
}

void bm_drdam_vs_y(benchmark::State& state) {
  const Eigen::Index y = state.range(0);
  const bool on_demand = state.range(1) != 0;
  using sincos = engram::sincos_features;
  const Eigen::MatrixXf x = uniform(dim, batch, 1);
  engram::distributed_memory<sincos, float> memory(
      engram::random_features<sincos, float>(
          dim, y, 60.f, 1,
          {.storage =
               on_demand ? engram::omega_storage::on_demand : engram::omega_storage::materialised}),
      uniform(dim, 1024, 0));
  engram::drdam_energy<sincos, float> energy(memory);
  Eigen::VectorXf e(batch);
  Eigen::MatrixXf g(dim, batch);
  auto workspace = energy.make_workspace();
  energy.evaluate(x, e, &g, workspace);
  const double gemm = tiled_gemm_seconds(memory.features().omega().transpose(), x);
  heap::high = heap::live.load();
  const long long before = heap::live.load();
  const auto t0 = Clock::now();
  for (auto _ : state) {
    energy.evaluate(x, e, &g, workspace);
    benchmark::DoNotOptimize(g.data());
  }
  const double per =
      std::chrono::duration<double>(Clock::now() - t0).count() / double(state.iterations());
  state.counters["ns_per_pair"] = per * 1e9 / double(batch * y);
  state.counters["GFLOP/s"] = 4.0 * double(batch * y * dim) * 1e-9 / per;
  state.counters["vs_gemm"] = gemm / per;
  state.counters["peak_MiB"] = double(heap::high.load() - before) / (1 << 20);
  state.counters["data_MiB"] = double(memory.features().stored_bytes()) / (1 << 20);
  state.SetLabel(on_demand ? "on_demand" : "materialised");
}

}  // namespace

BENCHMARK(bm_lse_vs_k)
    ->ArgName("K")
    ->RangeMultiplier(10)
    ->Range(1000, 10000000)
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();
BENCHMARK(bm_drdam_vs_y)
    ->ArgNames({"Y", "on_demand"})
    ->ArgsProduct({{1000, 10000, 100000, 1000000}, {0, 1}})
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();

BENCHMARK_MAIN();
