// LSR exact retrieval and minima enumeration.
// bm_exact_retrieval: B queries within the basins of K patterns in [0,1]^D, retrieved by
// centroid_iteration in one step (two support searches: the start and the end; the step maps
// the start's sums). Reported as queries/s, with the KD-tree and brute-force support searches
// side by side, and for brute force vs_gemm = (2 score GEMMs Xi^T X of the same shape) / time.
// bm_fixed_point: the workload for exact retrieval: B = 1024 queries near K patterns
// uniform in [0,1]^D, with the radius at the median distance to a pattern's 10th nearest
// neighbour (about ten memories in a support), retrieved by centroid_iteration to the fixed
// point; queries/s and the mean steps, with the automatic support method (0), the KD-tree (1)
// and brute force (2), and the candidate lists' reach in percent of the radius (0, the default:
// no lists, every step searches all K).
// bm_enumerate: all LSR minima of M patterns in [0,1]^4 at the beta where each pattern meets
// 4 others (seed 002 Algorithm 2), reported with the number of minima found.
#include <benchmark/benchmark.h>
#include <engram/engram.hpp>

#include <algorithm>
#include <chrono>
#include <vector>

namespace {

using Clock = std::chrono::steady_clock;

struct basin_problem {
  Eigen::MatrixXf patterns, queries;
  float beta;
  basin_problem(Eigen::Index b, Eigen::Index k, Eigen::Index d) : patterns(d, k), queries(d, b) {
    engram::philox_source rng(7);
    rng.fill_uniform(patterns, 0);
    // Support radius: half the median nearest-neighbour distance of 64 sampled patterns, so a
    // query at 0.4 r from its pattern has that pattern alone in its support.
    std::vector<float> nearest;
    for (Eigen::Index s = 0; s < std::min<Eigen::Index>(64, k); ++s) {
      Eigen::VectorXf d2 = (patterns.colwise() - patterns.col(s)).colwise().squaredNorm();
      d2(s) = std::numeric_limits<float>::infinity();
      nearest.push_back(std::sqrt(d2.minCoeff()));
    }
    std::nth_element(nearest.begin(), nearest.begin() + nearest.size() / 2, nearest.end());
    const float r = 0.5f * nearest[nearest.size() / 2];
    beta = 2.f / (r * r);
    Eigen::MatrixXf noise(d, b);
    rng.fill_normal(noise, 1);
    for (Eigen::Index j = 0; j < b; ++j)
      queries.col(j) = patterns.col(j % k) + 0.4f * r * noise.col(j).normalized();
  }
};

void bm_exact_retrieval(benchmark::State& state) {
  const auto method =
      state.range(3) == 0 ? engram::support_method::kd_tree : engram::support_method::brute_force;
  const basin_problem p(state.range(0), state.range(1), state.range(2));
  engram::dense_memory<float> memory(p.patterns);
  engram::lsr_energy<float> energy(memory, p.beta, 0.f, method);
  energy.value(p.queries);  // builds the KD-tree outside the timed loop
  double retrieved = 0;
  const auto t0 = Clock::now();
  for (auto _ : state) {
    auto r = engram::retrieve(energy, p.queries, engram::centroid_iteration<float>{},
                              engram::stop::after(1));
    const Eigen::ArrayXf miss = (r.states - p.patterns.leftCols(p.queries.cols()))
                                    .cwiseAbs()
                                    .colwise()
                                    .maxCoeff()
                                    .transpose();
    retrieved = double((miss == 0.f).count());
    benchmark::DoNotOptimize(r.states.data());
  }
  const double seconds = std::chrono::duration<double>(Clock::now() - t0).count();
  const double per_iteration = seconds / double(state.iterations());
  state.counters["queries/s"] = double(p.queries.cols()) / per_iteration;
  state.counters["exact_fraction"] = retrieved / double(p.queries.cols());
  if (method == engram::support_method::brute_force) {
    Eigen::MatrixXf scores(p.patterns.cols(), p.queries.cols());
    double best = 1e300;
    for (int r = 0; r < 3; ++r) {
      const auto g0 = Clock::now();
      scores.noalias() = p.patterns.transpose() * p.queries;
      benchmark::DoNotOptimize(scores.data());
      best = std::min(best, std::chrono::duration<double>(Clock::now() - g0).count());
    }
    state.counters["vs_gemm"] = 2 * best / per_iteration;
  }
  state.SetLabel(engram::to_string(method));
}

void bm_fixed_point(benchmark::State& state) {
  const Eigen::Index b = 1024, k = state.range(0), d = state.range(1);
  Eigen::MatrixXf patterns(d, k), noise(d, b), queries(d, b);
  engram::philox_source rng(13);
  rng.fill_uniform(patterns, 0);
  std::vector<float> tenth;
  for (Eigen::Index s = 0; s < 64; ++s) {
    Eigen::VectorXf d2 = (patterns.colwise() - patterns.col(s)).colwise().squaredNorm();
    std::nth_element(d2.data(), d2.data() + 10, d2.data() + d2.size());  // d2(0) is the pattern
    tenth.push_back(std::sqrt(d2(10)));
  }
  std::nth_element(tenth.begin(), tenth.begin() + 32, tenth.end());
  const float r = tenth[32];
  rng.fill_normal(noise, 1);
  for (Eigen::Index j = 0; j < b; ++j)
    queries.col(j) = patterns.col(j % k) + 0.5f * r * noise.col(j).normalized();
  engram::dense_memory<float> memory(patterns);
  const auto method = state.range(2) == 0   ? engram::support_method::automatic
                      : state.range(2) == 1 ? engram::support_method::kd_tree
                                            : engram::support_method::brute_force;
  using energy_type = engram::lsr_energy<float>;
  energy_type energy(memory, 2.f / (r * r), 0.f, method);
  energy.value(queries);  // builds the KD-tree outside the timed loop
  double steps = 0, lists = 0;
  for (auto _ : state) {
    // retrieve()'s loop, with the candidate lists' reach set on the flow's workspace.
    energy_type::workspace_type ws = energy.make_workspace();
    ws.candidates.reach = float(state.range(3)) / 100.f;
    engram::gradient_flow<energy_type> flow(energy, b, {}, ws);
    auto result = engram::integrate(flow, queries, engram::centroid_iteration<float>{},
                                    engram::stop::fixed_point() || engram::stop::after(100));
    steps = result.steps.cast<double>().mean();
    lists = double(ws.candidates.lists_made) / double(result.steps.sum());
    benchmark::DoNotOptimize(result.states.data());
  }
  state.counters["queries/s"] =
      benchmark::Counter(double(b) * double(state.iterations()), benchmark::Counter::kIsRate);
  state.counters["steps"] = steps;
  state.counters["lists/step"] = lists;  // lists made per column step (the rest scan a kept one)
  state.SetLabel(engram::to_string(energy.search().resolved()));
}

void bm_enumerate(benchmark::State& state) {
  const Eigen::Index m = state.range(0);
  Eigen::MatrixXd patterns(4, m);
  engram::philox_source(11).fill_uniform(patterns, 0);
  engram::dense_memory<double> memory(patterns);
  const auto chosen =
      engram::interaction_beta(patterns, std::min(4.0, double(m - 1)), {.count_self = false});
  engram::lsr_energy<double> energy(memory, chosen.beta);
  Eigen::Index minima = 0;
  for (auto _ : state) {
    const auto census = engram::enumerate_lsr_minima(energy);
    minima = census.count();
    benchmark::DoNotOptimize(census.minima.data());
  }
  state.counters["minima"] = double(minima);
  state.counters["per_pattern"] = double(minima) / double(m);
}

}  // namespace

BENCHMARK(bm_exact_retrieval)
    ->ArgNames({"B", "K", "D", "brute"})
    ->ArgsProduct({{1024}, {1024, 8192, 65536}, {2, 8, 16, 64}, {0, 1}})
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();
BENCHMARK(bm_fixed_point)
    ->ArgNames({"K", "D", "method", "reach"})
    ->ArgsProduct({{1000, 10000, 100000}, {2, 8, 64}, {0, 1, 2}, {0}})
    ->ArgsProduct({{1000, 10000, 100000}, {2, 8}, {0}, {25, 50}})
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();
BENCHMARK(bm_enumerate)
    ->ArgName("M")
    ->RangeMultiplier(2)
    ->Range(16, 512)
    ->Unit(benchmark::kMillisecond);

BENCHMARK_MAIN();
