// Sharded log-sum-exp steps over MPI ranks: run under mpirun -np 1, 2, 4. Each benchmark is
// one evaluation with gradients (the step of a retrieval), B = 256 queries, D = 64, timed on
// every rank (every rank is in lockstep: each evaluation ends in an allreduce) and reported by
// rank 0:
//   sharded/K_rank       the sharded energy over K_rank patterns a rank;
//   local/K_rank         its baseline, the same energy over the same shard on one process with
//                        no communication: sharded / local is what the combination costs;
// with counters for the bytes each rank hands to the allreduce per step and the share of the
// step spent combining (agreement round, allreduce and waiting for the slowest rank). Strong
// scaling: K_rank = 2^17 / P; K per rank: 2^14, 2^16 and 2^18 whatever P.
//
// Iteration counts are fixed (Google Benchmark would choose them from each rank's own timing,
// and ranks that disagree on them would part ways in a collective).
#include <benchmark/benchmark.h>

#include <engram/distributed.hpp>
#include <engram/engram.hpp>

#include <algorithm>
#include <set>
#include <string>

namespace {

namespace dist = engram::distributed;
constexpr Eigen::Index B = 256, D = 64;
dist::communicator* world = nullptr;

Eigen::MatrixXf data(Eigen::Index rows, Eigen::Index cols, std::uint64_t seed) {
  const engram::philox_source rng(seed);
  Eigen::MatrixXf m(rows, cols);
  for (Eigen::Index j = 0; j < cols; ++j)
    for (Eigen::Index i = 0; i < rows; ++i)
      m(i, j) = rng.uniform<float>(std::uint64_t(j), std::uint64_t(i)) * 0.25f;
  return m;
}

void sharded(benchmark::State& state) {
  const Eigen::Index k = state.range(0);
  // Each rank its own patterns (seeded by rank), the same queries everywhere.
  const Eigen::MatrixXf shard = data(D, k, 100 + std::uint64_t(world->rank()));
  const Eigen::MatrixXf x = data(D, B, 7);
  dist::sharded_memory<float> memory(*world, shard);
  const dist::sharded_energy<engram::lse_energy<float>> energy(memory, 4.f);
  auto ws = energy.make_workspace();
  Eigen::VectorXf e(B);
  Eigen::MatrixXf g(D, B);
  energy.validate(x);
  for (auto _ : state) {
    energy.evaluate(x, e, &g, ws);
    benchmark::DoNotOptimize(g.data());
  }
  const auto& c = ws.counters;
  state.counters["bytes/step"] = double(c.bytes) / double(c.calls);
  state.counters["combine share"] = c.combine_seconds / (c.local_seconds + c.combine_seconds);
  state.counters["K total"] = double(memory.size());
  state.counters["ranks"] = world->size();
}

void local(benchmark::State& state) {
  const Eigen::Index k = state.range(0);
  const Eigen::MatrixXf shard = data(D, k, 100 + std::uint64_t(world->rank()));
  const Eigen::MatrixXf x = data(D, B, 7);
  engram::dense_memory<float> memory(shard);
  const engram::lse_energy<float> energy(memory, 4.f);
  auto ws = energy.make_workspace();
  Eigen::VectorXf e(B);
  Eigen::MatrixXf g(D, B);
  for (auto _ : state) {
    energy.evaluate(x, e, &g, ws);
    benchmark::DoNotOptimize(g.data());
  }
  state.counters["ranks"] = world->size();
}

class silent : public benchmark::BenchmarkReporter {
 public:
  bool ReportContext(const Context&) override { return true; }
  void ReportRuns(const std::vector<Run>&) override {}
};

}  // namespace

int main(int argc, char** argv) {
  MPI_Init(&argc, &argv);
  {
    dist::communicator comm(MPI_COMM_WORLD);
    world = &comm;
    const Eigen::Index p = comm.size();
    for (Eigen::Index k : std::set<Eigen::Index>{Eigen::Index(1 << 17) / p, Eigen::Index(1 << 14),
                                                 Eigen::Index(1 << 16), Eigen::Index(1 << 18)}) {
      const int iterations = int(std::max<Eigen::Index>(5, (Eigen::Index(1) << 21) / k));
      benchmark::RegisterBenchmark("sharded", sharded)
          ->Arg(k)
          ->Iterations(iterations)
          ->Unit(benchmark::kMillisecond)
          ->UseRealTime();
      benchmark::RegisterBenchmark("local", local)
          ->Arg(k)
          ->Iterations(iterations)
          ->Unit(benchmark::kMillisecond)
          ->UseRealTime();
    }
    benchmark::Initialize(&argc, argv);
    if (comm.rank() == 0) {
      benchmark::RunSpecifiedBenchmarks();
    } else {
      silent quiet;
      benchmark::RunSpecifiedBenchmarks(&quiet);
    }
    benchmark::Shutdown();
  }
  MPI_Finalize();
  return 0;
}
