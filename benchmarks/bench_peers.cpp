// engram's side of the peer suite (benchmarks/peers/run.py): the steps the Python peers time,
// on the very numbers they use. run.py writes a folder of IDX files (float32, one row per
// pattern or query, as numpy holds them) and a manifest, cases.txt, one case a line:
//   <kind> name=<name> B=<b> K=<k> D=<d> [Y=<y>] beta=<beta> [eta=<eta>] [tol=<t> steps=<n>]
// and this binary registers one Google Benchmark per case:
//   lse        one gradient step of the LSE energy, x - eta grad E(x), grad E = x - Xi softmax
//   drdam      one gradient step of the DrDAM sincos energy over the given omega (<name>.omega)
//   lsr        exact LSR retrieval (centroid iteration) to the fixed point, at most 100 steps
//   retrieval  LSE descent with the bottom rows of each query free (<name>.visible, 1 = held),
//              stopped per column when |E_t - E_{t-1}| < tol or after `steps` steps
// After timing, each case writes its result to <name>.engram.idx (and the steps each column took
// to <name>.engram_steps.idx) so that run.py can check that engram and every peer computed the
// same thing. Each lse and drdam case has a baseline in the same binary: the two GEMMs of the
// step's shape (Xi^T X and Xi S; omega X and omega^T U), timed as `gemm/<name>`.
#include <benchmark/benchmark.h>
#include <engram/engram.hpp>
#include <engram/io/idx.hpp>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

namespace {

using Mat = Eigen::MatrixXf;
namespace fs = std::filesystem;

struct case_spec {
  std::string kind;
  std::map<std::string, std::string> fields;
  std::string get(const std::string& key) const {
    const auto it = fields.find(key);
    if (it == fields.end())
      throw engram::parse_error("cases.txt: case '" + kind + " " +
                                (fields.count("name") ? fields.at("name") : "?") +
                                "' has no field " + key);
    return it->second;
  }
  long integer(const std::string& key) const { return std::stol(get(key)); }
  float real(const std::string& key) const { return std::stof(get(key)); }
};

std::vector<case_spec> read_cases(const fs::path& folder) {
  std::ifstream in(folder / "cases.txt");
  if (!in)
    throw engram::io_error("cannot open " + (folder / "cases.txt").string() +
                           "; benchmarks/peers/run.py writes it");
  std::vector<case_spec> cases;
  for (std::string line; std::getline(in, line);) {
    std::istringstream words(line);
    case_spec c;
    if (!(words >> c.kind) || c.kind[0] == '#') continue;
    for (std::string w; words >> w;) {
      const auto eq = w.find('=');
      if (eq == std::string::npos)
        throw engram::parse_error("cases.txt: '" + w + "' is not key=value");
      c.fields[w.substr(0, eq)] = w.substr(eq + 1);
    }
    cases.push_back(std::move(c));
  }
  return cases;
}

/// A (rows x D) IDX file as the D x rows matrix engram works on; checks its shape.
Mat read(const fs::path& file, Eigen::Index d, Eigen::Index n) {
  Mat m = engram::io::read_idx<float>(file);
  if (m.rows() != d || m.cols() != n)
    throw engram::parse_error(file.string() + " holds " + std::to_string(m.cols()) + " x " +
                              std::to_string(m.rows()) + ", expected " + std::to_string(n) + " x " +
                              std::to_string(d));
  return m;
}

void write(const fs::path& file, const Mat& columns) {
  engram::io::write_idx(file, columns, {std::uint32_t(columns.rows())}, engram::io::idx_type::f32);
}

void write_steps(const fs::path& file, const Eigen::Matrix<Eigen::Index, -1, 1>& steps) {
  const Eigen::RowVectorXf s = steps.cast<float>().transpose();
  engram::io::write_idx(file, s, {1}, engram::io::idx_type::f32);
}

/// A case's numbers, read once when the case is registered (a bad file fails before any
/// timing) and shared by its benchmarks.
struct inputs {
  Mat patterns, queries;
  Mat extra;  // omega (Y x D) of a drdam case, the held coordinates of a retrieval case
};

void register_lse(const fs::path& dir, const case_spec& c) {
  const std::string name = c.get("name");
  const long b = c.integer("B"), k = c.integer("K"), d = c.integer("D");
  const float beta = c.real("beta"), eta = c.real("eta");
  const double flops = 4.0 * double(b) * double(k) * double(d);
  const auto data =
      std::make_shared<const inputs>(inputs{read(dir / (name + ".patterns.idx"), d, k),
                                            read(dir / (name + ".queries.idx"), d, b), Mat()});
  benchmark::RegisterBenchmark(("gemm/" + name).c_str(),
                               [=](benchmark::State& state) {
                                 const Mat& patterns = data->patterns;
                                 const Mat& x = data->queries;
                                 Mat scores(k, b), weighted(d, b);
                                 for (auto _ : state) {
                                   scores.noalias() = patterns.transpose() * x;
                                   weighted.noalias() = patterns * scores;
                                   benchmark::DoNotOptimize(weighted.data());
                                 }
                                 state.counters["GFLOP/s"] = benchmark::Counter(
                                     flops * 1e-9, benchmark::Counter::kIsIterationInvariantRate);
                               })
      ->Unit(benchmark::kMillisecond)
      ->UseRealTime();
  benchmark::RegisterBenchmark(("lse/" + name).c_str(),
                               [=](benchmark::State& state) {
                                 const Mat& x = data->queries;
                                 engram::dense_memory<float> memory(data->patterns);
                                 engram::lse_energy<float> energy(memory, beta);
                                 auto workspace = energy.make_workspace();
                                 Eigen::VectorXf e(b);
                                 Mat g(d, b), next(d, b);
                                 for (auto _ : state) {
                                   energy.evaluate(x, e, &g, workspace);
                                   next = x - eta * g;
                                   benchmark::DoNotOptimize(next.data());
                                 }
                                 state.counters["GFLOP/s"] = benchmark::Counter(
                                     flops * 1e-9, benchmark::Counter::kIsIterationInvariantRate);
                                 write(dir / (name + ".engram.idx"), next);
                               })
      ->Unit(benchmark::kMillisecond)
      ->UseRealTime();
}

void register_drdam(const fs::path& dir, const case_spec& c) {
  const std::string name = c.get("name");
  const long b = c.integer("B"), k = c.integer("K"), d = c.integer("D"), y = c.integer("Y");
  const float beta = c.real("beta"), eta = c.real("eta");
  const double flops = 4.0 * double(b) * double(y) * double(d);
  const auto data = std::make_shared<const inputs>(
      inputs{read(dir / (name + ".patterns.idx"), d, k), read(dir / (name + ".queries.idx"), d, b),
             read(dir / (name + ".omega.idx"), d, y).transpose()});
  benchmark::RegisterBenchmark(("gemm/" + name).c_str(),
                               [=](benchmark::State& state) {
                                 const Mat& omega = data->extra;
                                 const Mat& x = data->queries;
                                 Mat h(y, b), back(d, b);
                                 for (auto _ : state) {
                                   h.noalias() = omega * x;
                                   back.noalias() = omega.transpose() * h;
                                   benchmark::DoNotOptimize(back.data());
                                 }
                                 state.counters["GFLOP/s"] = benchmark::Counter(
                                     flops * 1e-9, benchmark::Counter::kIsIterationInvariantRate);
                               })
      ->Unit(benchmark::kMillisecond)
      ->UseRealTime();
  benchmark::RegisterBenchmark(
      ("drdam/" + name).c_str(),
      [=](benchmark::State& state) {
        const Mat& x = data->queries;
        using map = engram::random_features<engram::sincos_features, float>;
        engram::distributed_memory<engram::sincos_features, float> memory(
            map(engram::gaussian_projection<float>(data->extra, Eigen::VectorXf()), beta),
            data->patterns);
        engram::drdam_energy<engram::sincos_features, float> energy(memory);
        auto workspace = energy.make_workspace();
        Eigen::VectorXf e(b);
        Mat g(d, b), next(d, b);
        for (auto _ : state) {
          energy.evaluate(x, e, &g, workspace);
          next = x - eta * g;
          benchmark::DoNotOptimize(next.data());
        }
        state.counters["GFLOP/s"] =
            benchmark::Counter(flops * 1e-9, benchmark::Counter::kIsIterationInvariantRate);
        write(dir / (name + ".engram.idx"), next);
      })
      ->Unit(benchmark::kMillisecond)
      ->UseRealTime();
}

void register_lsr(const fs::path& dir, const case_spec& c) {
  const std::string name = c.get("name");
  const long b = c.integer("B"), k = c.integer("K"), d = c.integer("D");
  const float beta = c.real("beta");
  const auto data =
      std::make_shared<const inputs>(inputs{read(dir / (name + ".patterns.idx"), d, k),
                                            read(dir / (name + ".queries.idx"), d, b), Mat()});
  benchmark::RegisterBenchmark(
      ("lsr/" + name).c_str(),
      [=](benchmark::State& state) {
        const Mat& x = data->queries;
        engram::dense_memory<float> memory(data->patterns);
        engram::lsr_energy<float> energy(memory, beta);
        energy.value(x.leftCols(1));  // builds a KD-tree, when chosen, outside the timed loop
        std::optional<engram::retrieval_result<float>> result;
        for (auto _ : state) {
          result = engram::retrieve(energy, x, engram::centroid_iteration<float>{},
                                    engram::stop::fixed_point() || engram::stop::after(100));
          benchmark::DoNotOptimize(result->states.data());
        }
        state.counters["queries/s"] =
            benchmark::Counter(double(b) * double(state.iterations()), benchmark::Counter::kIsRate);
        state.counters["steps"] = result->steps.cast<double>().mean();
        state.SetLabel(engram::to_string(energy.search().resolved()));
        write(dir / (name + ".engram.idx"), result->states);
        write_steps(dir / (name + ".engram_steps.idx"), result->steps);
      })
      ->Unit(benchmark::kMillisecond)
      ->UseRealTime();
}

void register_retrieval(const fs::path& dir, const case_spec& c) {
  const std::string name = c.get("name");
  const long b = c.integer("B"), k = c.integer("K"), d = c.integer("D");
  const float beta = c.real("beta"), eta = c.real("eta");
  const double tol = std::stod(c.get("tol"));
  const long max_steps = c.integer("steps");
  const auto data = std::make_shared<const inputs>(
      inputs{read(dir / (name + ".patterns.idx"), d, k), read(dir / (name + ".queries.idx"), d, b),
             read(dir / (name + ".visible.idx"), d, 1)});
  benchmark::RegisterBenchmark(
      ("retrieval/" + name).c_str(),
      [=](benchmark::State& state) {
        const Mat& x = data->queries;
        engram::mask visible(d, 1);
        for (Eigen::Index p = 0; p < d; ++p) visible(p, 0) = data->extra(p, 0) != 0.f;
        engram::dense_memory<float> memory(data->patterns);
        engram::lse_energy<float> energy(memory, beta);
        const auto stop = engram::stop::energy_change(tol) || engram::stop::after(max_steps);
        std::optional<engram::retrieval_result<float>> result;
        for (auto _ : state) {
          result = engram::retrieve(energy, x, engram::gradient_descent<float>{.step = eta}, stop,
                                    {.clamp = visible});
          benchmark::DoNotOptimize(result->states.data());
        }
        state.counters["steps"] = result->steps.cast<double>().mean();
        write(dir / (name + ".engram.idx"), result->states);
        write_steps(dir / (name + ".engram_steps.idx"), result->steps);
      })
      ->Unit(benchmark::kMillisecond)
      ->UseRealTime();
}

}  // namespace

int main(int argc, char** argv) {
  // --data=<folder> is ours; everything else goes to Google Benchmark.
  fs::path data;
  std::vector<char*> rest{argv[0]};
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (a.rfind("--data=", 0) == 0)
      data = a.substr(7);
    else
      rest.push_back(argv[i]);
  }
  if (data.empty()) {
    std::fprintf(stderr, "bench_peers: give --data=<folder written by benchmarks/peers/run.py>\n");
    return 2;
  }
  try {
    for (const auto& c : read_cases(data)) {
      if (c.kind == "lse")
        register_lse(data, c);
      else if (c.kind == "drdam")
        register_drdam(data, c);
      else if (c.kind == "lsr")
        register_lsr(data, c);
      else if (c.kind == "retrieval")
        register_retrieval(data, c);
      else
        throw engram::parse_error("cases.txt: unknown kind '" + c.kind + "'");
    }
  } catch (const std::exception& e) {
    std::fprintf(stderr, "bench_peers: %s\n", e.what());
    return 2;
  }
  int count = int(rest.size());
  benchmark::Initialize(&count, rest.data());
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
