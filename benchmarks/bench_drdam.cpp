// DrDAM throughput and memory. SinCos features (F = 2Y), float, D = 784 (Fashion-MNIST sized).
// bm_encode: patterns folded into the memory tensor per second, with the peak heap of encoding.
// bm_value_and_gradient: one drdam_energy evaluation of B queries, model 4 B Y D flops (the
//   projection omega z and the Jacobian product omega^T u), against those two plain GEMMs of
//   the same shapes timed in the same binary (vs_gemm = GEMM time / engram time), with omega
//   materialised or regenerated on demand.
// bm_on_demand: the price of regenerating omega, at the shapes of the performance targets
//   (B = 256, Y = 8192, D = 256; a completion batch B = 16, Y = 5e4, D = 784). Evaluations with
//   omega regenerated and with it materialised alternate in one loop; `on_demand/stored` is the
//   ratio of their times and `regen/gemm` the extra time over the two GEMMs of the shape.
// bm_sincos_map: the sincos map's formula alone on one Y x B block of h = sqrt(beta) omega x
//   (its sine and cosine, scaled by 1/sqrt(Y)), against the same formula written with Eigen's
//   sin() and cos() in the same binary (vs_eigen = Eigen's time / engram's).
// Peak memory is measured, not modelled: this binary interposes malloc and friends and records
// the high-water mark of live heap bytes during one evaluation (peak_MiB), next to the bytes
// each policy keeps between evaluations (stored_MiB).
#include <benchmark/benchmark.h>
#include <engram/engram.hpp>

#include "heap_peak.hpp"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdlib>

namespace {

using Clock = std::chrono::steady_clock;
using sincos = engram::sincos_features;
constexpr Eigen::Index dim = 784;

Eigen::MatrixXf data(Eigen::Index n, std::uint64_t stream) {
  Eigen::MatrixXf m(dim, n);
  engram::philox_source(3).fill_uniform(m, stream, 0.f, 1.f / 28.f);  // [0, 1/sqrt(D)]
  return m;
}

/// The two GEMMs of an evaluation (omega x, then omega^T of the result) on the same shapes,
/// best of three, in seconds.
double gemm_pair_seconds(const Eigen::MatrixXf& omega, const Eigen::MatrixXf& queries) {
  Eigen::MatrixXf h(omega.rows(), queries.cols()), back(omega.cols(), queries.cols());
  double best = 1e300;
  for (int r = 0; r < 3; ++r) {
    const auto t0 = Clock::now();
    h.noalias() = omega * queries;
    back.noalias() = omega.transpose() * h;
    benchmark::DoNotOptimize(back.data());
    best = std::min(best, std::chrono::duration<double>(Clock::now() - t0).count());
  }
  return best;
}

void bm_encode(benchmark::State& state) {
  const Eigen::Index y = state.range(0), k = 256;
  const Eigen::MatrixXf patterns = data(k, 0);
  const auto storage =
      state.range(1) ? engram::omega_storage::on_demand : engram::omega_storage::materialised;
  engram::distributed_memory<sincos, float> memory(
      engram::random_features<sincos, float>(dim, y, 60.f, 1, {.storage = storage}));
  memory.add(patterns);  // warm the thread pool and its buffers
  heap::high = heap::live.load();
  const long long before = heap::live.load();
  for (auto _ : state) {
    memory.add(patterns);
    benchmark::DoNotOptimize(memory.memory_tensor().data());
  }
  state.counters["peak_MiB"] = double(heap::high.load() - before) / (1 << 20);
  state.counters["stored_MiB"] = double(memory.features().stored_bytes()) / (1 << 20);
  state.counters["patterns/s"] =
      benchmark::Counter(double(k), benchmark::Counter::kIsIterationInvariantRate);
  state.SetLabel(state.range(1) ? "on_demand" : "materialised");
}

void bm_value_and_gradient(benchmark::State& state) {
  const Eigen::Index b = state.range(0), y = state.range(1);
  const auto storage =
      state.range(2) ? engram::omega_storage::on_demand : engram::omega_storage::materialised;
  const Eigen::MatrixXf patterns = data(64, 0), queries = data(b, 1);
  engram::distributed_memory<sincos, float> memory(
      engram::random_features<sincos, float>(dim, y, 60.f, 1, {.storage = storage}), patterns);
  engram::drdam_energy<sincos, float> energy(memory);
  Eigen::VectorXf e(b);
  Eigen::MatrixXf g(dim, b);
  auto workspace = energy.make_workspace();
  energy.evaluate(queries, e, &g, workspace);  // warm the workspace

  const double gemm = gemm_pair_seconds(memory.features().omega(), queries);

  heap::high = heap::live.load();
  const long long before = heap::live.load();
  const auto t0 = Clock::now();
  for (auto _ : state) {
    energy.evaluate(queries, e, &g, workspace);
    benchmark::DoNotOptimize(g.data());
  }
  const double per =
      std::chrono::duration<double>(Clock::now() - t0).count() / double(state.iterations());
  const double flops = 4.0 * double(b) * double(y) * double(dim);
  state.counters["GFLOP/s"] = flops * 1e-9 / per;
  state.counters["vs_gemm"] = gemm / per;
  state.counters["peak_MiB"] = double(heap::high.load() - before) / (1 << 20);
  state.counters["stored_MiB"] = double(memory.features().stored_bytes()) / (1 << 20);
  state.SetLabel(state.range(2) ? "on_demand" : "materialised");
}

void bm_on_demand(benchmark::State& state) {
  const Eigen::Index b = state.range(0), y = state.range(1), d = state.range(2);
  const auto uniform = [d](Eigen::Index n, std::uint64_t stream) {
    Eigen::MatrixXf m(d, n);
    engram::philox_source(3).fill_uniform(m, stream, 0.f, 1.f / std::sqrt(float(d)));
    return m;
  };
  const Eigen::MatrixXf patterns = uniform(64, 0), queries = uniform(b, 1);
  using features = engram::random_features<sincos, float>;
  const engram::distributed_memory<sincos, float> stored(features(d, y, 60.f, 1), patterns);
  const engram::distributed_memory<sincos, float> regenerated(
      features(d, y, 60.f, 1, {.storage = engram::omega_storage::on_demand}), patterns);
  const engram::drdam_energy<sincos, float> e_stored(stored), e_regenerated(regenerated);
  Eigen::VectorXf e(b);
  Eigen::MatrixXf g(d, b);
  auto ws_stored = e_stored.make_workspace();
  auto ws_regenerated = e_regenerated.make_workspace();
  e_stored.evaluate(queries, e, &g, ws_stored);
  e_regenerated.evaluate(queries, e, &g, ws_regenerated);

  const double gemm = gemm_pair_seconds(stored.features().omega(), queries);

  double t_stored = 0, t_regenerated = 0;
  for (auto _ : state) {
    auto t0 = Clock::now();
    e_regenerated.evaluate(queries, e, &g, ws_regenerated);
    benchmark::DoNotOptimize(g.data());
    t_regenerated += std::chrono::duration<double>(Clock::now() - t0).count();
    state.PauseTiming();
    t0 = Clock::now();
    e_stored.evaluate(queries, e, &g, ws_stored);
    benchmark::DoNotOptimize(g.data());
    t_stored += std::chrono::duration<double>(Clock::now() - t0).count();
    state.ResumeTiming();
  }
  const double n = double(state.iterations());
  state.counters["stored_ms"] = 1e3 * t_stored / n;
  state.counters["gemm_ms"] = 1e3 * gemm;
  state.counters["on_demand/stored"] = t_regenerated / t_stored;
  state.counters["regen/gemm"] = (t_regenerated - t_stored) / n / gemm;
}

void bm_sincos_map(benchmark::State& state) {
  const Eigen::Index b = state.range(0), y = state.range(1);
  // h_a = <omega_a, sqrt(beta) x>: normal with variance beta ||x||^2, here about 20.
  Eigen::MatrixXf h(y, b), first(y, b), second(y, b);
  engram::philox_source(5).fill_normal(h, 0);
  h *= std::sqrt(20.f);
  const Eigen::VectorXf bias = Eigen::VectorXf::Zero(y);
  const Eigen::RowVectorXf zsq = Eigen::RowVectorXf::Zero(b);
  const float c = 1 / std::sqrt(float(y));
  double eigen = 1e300;
  for (int r = 0; r < 5; ++r) {
    const auto t0 = Clock::now();
    first = c * h.array().cos().matrix();
    second = c * h.array().sin().matrix();
    benchmark::DoNotOptimize(second.data());
    eigen = std::min(eigen, std::chrono::duration<double>(Clock::now() - t0).count());
  }
  const auto t0 = Clock::now();
  for (auto _ : state) {
    sincos::phi(h, bias, zsq, float(y), first, second);
    benchmark::DoNotOptimize(second.data());
  }
  const double per =
      std::chrono::duration<double>(Clock::now() - t0).count() / double(state.iterations());
  state.counters["ns/element"] = 1e9 * per / double(b * y);
  state.counters["vs_eigen"] = eigen / per;
}

}  // namespace

BENCHMARK(bm_sincos_map)
    ->ArgNames({"B", "Y"})
    ->Args({256, 8192})
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();
BENCHMARK(bm_on_demand)
    ->ArgNames({"B", "Y", "D"})
    ->Args({256, 8192, 256})
    ->Args({16, 50000, 784})
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();
BENCHMARK(bm_encode)
    ->ArgNames({"Y", "on_demand"})
    ->ArgsProduct({{4096, 32768}, {0, 1}})
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();
BENCHMARK(bm_value_and_gradient)
    ->ArgNames({"B", "Y", "on_demand"})
    ->ArgsProduct({{1, 64, 512}, {4096, 32768}, {0, 1}})
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();

BENCHMARK_MAIN();
