// The classical Hopfield network (seed 004): spin sweeps per second of
//   ising_field<dense_couplings<double>>   from hebbian_couplings(xi) (J = xi xi^T / N, N x N), and
//   ising_field<pattern_couplings<double>> on the same xi (N x P, P = round(alpha N)),
// with xi = random_ising_patterns(N, P, 4), N in {256, 1024, 4096}, alpha in {0.05, 0.14}, and B in
// {1, 16} columns swept together, each run as integrate(field, sigma0, stepper, stop::after(10))
// from one fixed start:
//   hot:   glauber<double>{.beta = 0.5} from random +-1 spins (paramagnetic: about half the spins
//          flip per sweep, so the flips dominate);
//   cold:  glauber<double>{.beta = 10} from stored patterns (column b starts at pattern b mod P:
//          almost nothing flips, so the products dominate);
//   async: asynchronous_sign<double> from stored patterns (the same, without the heat bath's
//          uniform and exponentials).
// What a sweep costs, counted (not assumed) by running the same integration once through a
// counting wrapper: integrate() evaluates the field once at the start and once after every
// sweep, and every sweep calls begin_sweep once, so per sweep (S = 10 sweeps per call)
//   dense:    (2 + 1/S) products J Sigma (N x N times N x B: begin_sweep's h = J sigma and the
//             evaluation's), O(1) per spin to read h_i, and per flip one axpy h += delta J.col(i)
//             (2N flops, 1/N of J sigma's 2N^2 per column);
//   patterns: (2 + 1/S) products xi^T Sigma (P x N: begin_sweep's m and the evaluation's),
//             (1 + 1/S) products xi M (N x P: the evaluation's h), one dot of length P per spin
//             (xi^T.col(i) . m: N of them are one more xi M in flops), and per flip one axpy
//             m += delta xi^T.col(i) (2P flops, 1/N of xi^T sigma).
// Baseline, timed in the same binary just before and just after each benchmark (the best of both,
// each the best of five trials of at least 10 ms): the plain Eigen products the field itself
// runs, on the same matrices and shapes: J Sigma (a GEMV at B = 1), and xi^T Sigma and xi M.
// Counters (Google Benchmark's own Time column is per integrate() call, that is per 10 sweeps):
//   sweeps/s     whole sweeps of all B columns per second (integrate's own work included);
//   flips/sweep  spins flipped per sweep per column (set_spin calls counted by the wrapper);
//   products     the count above in units of the form's own product (dense: J Sigma; patterns:
//                the pair xi^T Sigma + xi M), flips included at 1/N each;
//   base_us      the time of that unit product (dense: J Sigma; patterns: xi^T Sigma + xi M);
//   vs_gemv      (the baseline products' time x their count) / time per sweep: 1 when a sweep
//                costs exactly its linear algebra at the speed of the bare products. What is
//                not linear algebra: per spin and column, two Philox-4x32-10 blocks (one for the
//                random order, one for the heat bath's uniform) and two exponentials (glauber),
//                a branch per spin (async), and the axpys run one column of J (or xi^T) at a time
//                instead of as a product, so hot sweeps and small N fall below 1;
//   begin_share  begin_sweep's time (timed alone, best of five) / time per sweep: begin_sweep
//                recomputes exactly what the evaluation that ended the previous sweep computed
//                (h = J sigma, or m = xi^T sigma, on the same state), so this share is redundant;
//   perm_share   B random permutations (detail::random_order: N Philox blocks each, timed alone)
//                / time per sweep.
// bm_parts (B = 1, the cold start) times one evaluation (as integrate calls it: products, energy
// and sign(h) - sigma) and reports the other parts of a sweep, each the best of five, in us:
// begin_sweep, the permutation, N Philox uniforms, the decision loop (N local_gains + uniform +
// heat_bath_choice, no flips), and one flip in ns (set_spin, averaged over flipping every spin in a
// random order and flipping them back in the same order).
// The sweeps themselves run on one thread; only the B = 16 products (Eigen's GEMM) use OpenMP, so
// on a shared machine run with OMP_NUM_THREADS=1 (see RESULTS.md).
#include <benchmark/benchmark.h>
#include <engram/analysis.hpp>
#include <engram/engram.hpp>

#include <algorithm>
#include <array>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <memory>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

namespace {

using Clock = std::chrono::steady_clock;
using engram::index;
using engram::matrix;
using engram::vector;
using dense_field = engram::ising_field<engram::dense_couplings<double>>;
using pattern_field = engram::ising_field<engram::pattern_couplings<double>>;

constexpr index sweeps = 10;  // sweeps per integrate() call
constexpr double hot_beta = 0.5, cold_beta = 10;

enum class form { dense, patterns };
enum class mode { hot, cold, async };

/// xi, both fields and the transposed patterns, for one (N, P); only the latest is kept (J is
/// 128 MiB at N = 4096), and the benchmarks are registered with equal shapes together.
struct problem {
  index n, p;
  matrix<double> xi, xt;
  dense_field dense;
  pattern_field patterns;
  problem(index n_, index p_, matrix<double> xi_)
      : n(n_),
        p(p_),
        xi(std::move(xi_)),
        xt(xi.transpose()),
        dense(engram::hebbian_couplings(xi)),
        patterns(engram::pattern_couplings<double>(xi)) {}
};

problem& problem_for(index n, index p) {
  static std::unique_ptr<problem> current;
  if (!current || current->n != n || current->p != p) {
    current.reset();  // free the old J first
    current = std::make_unique<problem>(n, p, engram::random_ising_patterns(n, p, 4));
  }
  return *current;
}

/// The start of a run: random spins (hot) or stored patterns (cold, async).
matrix<double> start(const problem& pr, index batch, mode m) {
  matrix<double> s(pr.n, batch);
  if (m == mode::hot) {
    const engram::philox_source rng(2026);
    for (index k = 0; k < pr.n * batch; ++k)
      s(k % pr.n, k / pr.n) = rng.uniform<double>(0, std::uint64_t(k)) <= 0.5 ? -1.0 : 1.0;
  } else {
    for (index b = 0; b < batch; ++b) s.col(b) = pr.xi.col(b % pr.p);
  }
  return s;
}

/// Forwards to a spin field and counts evaluations, sweeps, local-field reads and flips.
template <class Field>
struct counted {
  using scalar_type = typename Field::scalar_type;
  Field& field;
  long long evaluations = 0, begins = 0, reads = 0, flips = 0;
  index dim() const { return field.dim(); }
  auto alphabet() const { return field.alphabet(); }
  void operator()(const matrix<double>& x, matrix<double>& dxdt) {
    ++evaluations;
    field(x, dxdt);
  }
  void operator()(const matrix<double>& x, matrix<double>& dxdt, vector<double>& e) {
    ++evaluations;
    field(x, dxdt, e);
  }
  void begin_sweep(const matrix<double>& x) {
    ++begins;
    field.begin_sweep(x);
  }
  void local_gains(const matrix<double>& x, index b, index i, double* g) {
    ++reads;
    field.local_gains(x, b, i, g);
  }
  void set_spin(matrix<double>& x, index b, index i, double v) {
    ++flips;
    field.set_spin(x, b, i, v);
  }
};

/// Seconds per call of f: the best of five trials of about 10 ms each (at least one call).
template <class F>
double best_seconds(F&& f) {
  const auto t0 = Clock::now();
  f();  // warm up: scratch sized, caches filled
  const double once = std::chrono::duration<double>(Clock::now() - t0).count();
  const long long reps = std::max<long long>(1, (long long)(0.01 / std::max(once, 1e-9)));
  double best = once;
  for (int trial = 0; trial < 5; ++trial) {
    const auto t1 = Clock::now();
    for (long long r = 0; r < reps; ++r) f();
    best = std::min(best, std::chrono::duration<double>(Clock::now() - t1).count() / double(reps));
  }
  return best;
}

/// The bare products of the field's own shapes: {J Sigma} (dense) or {xi^T Sigma, xi M}.
struct baseline {
  double forward = 0, backward = 0;  // J Sigma or xi^T Sigma; xi M (patterns only)
};

baseline time_products(const problem& pr, const matrix<double>& s, form f) {
  baseline t;
  if (f == form::dense) {
    const matrix<double>& j = pr.dense.couplings().matrix_form();
    matrix<double> h(pr.n, s.cols());
    t.forward = best_seconds([&] {
      h.noalias() = j * s;
      benchmark::DoNotOptimize(h.data());
    });
  } else {
    matrix<double> m(pr.p, s.cols()), h(pr.n, s.cols());
    t.forward = best_seconds([&] {
      m.noalias() = pr.xt * s;
      benchmark::DoNotOptimize(m.data());
    });
    m.noalias() = pr.xt * s;
    t.backward = best_seconds([&] {
      h.noalias() = pr.xt.transpose() * m;
      benchmark::DoNotOptimize(h.data());
    });
  }
  return t;
}

template <class Stepper, class Field>
void run_sweeps(benchmark::State& state, const problem& pr, Field& field, form f,
                const Stepper& stepper, const matrix<double>& s0) {
  const index n = pr.n, batch = s0.cols();
  const auto stop = engram::stop::after(sweeps);

  // Untimed: the same run through the counting wrapper.
  counted<Field> counter{field};
  const auto check = engram::integrate(counter, s0, stepper, stop);
  benchmark::DoNotOptimize(check.states.data());
  const double per = double(sweeps);
  const double flips = double(counter.flips) / per / double(batch);  // per sweep and column
  // Products per sweep in units of the bare products (see the header comment).
  double forward = 0, backward = 0;
  if (f == form::dense) {
    forward = double(counter.evaluations + counter.begins) / per + flips / double(n);
  } else {
    forward = double(counter.evaluations + counter.begins) / per + flips / double(n);
    backward = double(counter.evaluations) / per + double(counter.reads) / per / double(n * batch);
  }

  // begin_sweep and the permutations alone, on the starting state.
  const double begin = best_seconds([&] { field.begin_sweep(s0); });
  const engram::philox_source rng(0);
  std::vector<index> order;
  const double perm = best_seconds([&] {
    engram::detail::random_order(rng, 0, 0, n, order);
    benchmark::DoNotOptimize(order.data());
  });

  baseline base = time_products(pr, s0, f);
  const auto t0 = Clock::now();
  for (auto _ : state) {
    auto r = engram::integrate(field, s0, stepper, stop);
    benchmark::DoNotOptimize(r.states.data());
  }
  const double seconds = std::chrono::duration<double>(Clock::now() - t0).count();
  const baseline after = time_products(pr, s0, f);  // this machine drifts: before and after
  base.forward = std::min(base.forward, after.forward);
  base.backward = std::min(base.backward, after.backward);

  const double per_sweep = seconds / double(state.iterations() * sweeps);
  const double model = base.forward * forward + base.backward * backward;
  state.counters["sweeps/s"] = 1 / per_sweep;
  state.counters["flips/sweep"] = flips;
  state.counters["products"] = f == form::dense ? forward : (forward + backward) / 2;
  state.counters["base_us"] = (base.forward + base.backward) * 1e6;
  state.counters["vs_gemv"] = model / per_sweep;
  state.counters["begin_share"] = begin / per_sweep;
  state.counters["perm_share"] = double(batch) * perm / per_sweep;
}

template <class Field>
Field& field_of(problem& pr) {
  if constexpr (std::is_same_v<Field, dense_field>)
    return pr.dense;
  else
    return pr.patterns;
}

template <class Field>
void bm_sweep(benchmark::State& state, index n, index p, index batch, mode m) {
  problem& pr = problem_for(n, p);
  Field& field = field_of<Field>(pr);
  const form f = std::is_same_v<Field, dense_field> ? form::dense : form::patterns;
  const matrix<double> s0 = start(pr, batch, m);
  if (m == mode::async)
    run_sweeps(state, pr, field, f, engram::asynchronous_sign<double>{.seed = 1}, s0);
  else
    run_sweeps(state, pr, field, f,
               engram::glauber<double>{.beta = m == mode::hot ? hot_beta : cold_beta, .seed = 1},
               s0);
}

/// One evaluation as integrate() calls it, with the other parts of a sweep timed alone.
template <class Field>
void bm_parts(benchmark::State& state, index n, index p) {
  problem& pr = problem_for(n, p);
  Field& field = field_of<Field>(pr);
  matrix<double> s = start(pr, 1, mode::cold), dsdt(n, 1);
  vector<double> e(1);
  const engram::philox_source rng(1);
  std::vector<index> order;
  std::array<double, 4> gains{};

  const double begin = best_seconds([&] { field.begin_sweep(s); });
  const double perm = best_seconds([&] {
    engram::detail::random_order(rng, 0, 0, n, order);
    benchmark::DoNotOptimize(order.data());
  });
  const double uniforms = best_seconds([&] {
    double sum = 0;
    for (index i = 0; i < n; ++i) sum += rng.uniform<double>(1, std::uint64_t(i));
    benchmark::DoNotOptimize(sum);
  });
  field.begin_sweep(s);
  const double decide = best_seconds([&] {
    std::size_t sum = 0;
    for (index i = 0; i < n; ++i) {
      field.local_gains(s, 0, i, gains.data());
      const double u = rng.uniform<double>(1, std::uint64_t(i));
      sum += engram::glauber<double>::heat_bath_choice(gains.data(), 2, hot_beta, u);
    }
    benchmark::DoNotOptimize(sum);
  });
  // Every spin flipped once in a random order, then flipped back in the same order: two passes
  // over J (or xi^T), one column per flip, as a hot sweep reads them.
  engram::detail::random_order(rng, 0, 0, n, order);
  const double flip = best_seconds([&] {
                        for (const index i : order) field.set_spin(s, 0, i, -s(i, 0));
                        for (const index i : order) field.set_spin(s, 0, i, -s(i, 0));
                      }) /
                      double(2 * n);

  field(s, dsdt, e);
  const auto t0 = Clock::now();
  for (auto _ : state) {
    field(s, dsdt, e);
    benchmark::DoNotOptimize(dsdt.data());
    benchmark::DoNotOptimize(e.data());
  }
  const double eval =
      std::chrono::duration<double>(Clock::now() - t0).count() / double(state.iterations());
  state.counters["eval_us"] = eval * 1e6;
  state.counters["begin_us"] = begin * 1e6;
  state.counters["perm_us"] = perm * 1e6;
  state.counters["uniforms_us"] = uniforms * 1e6;
  state.counters["decide_us"] = decide * 1e6;
  state.counters["flip_ns"] = flip * 1e9;
}

const char* name_of(mode m) {
  return m == mode::hot ? "hot" : m == mode::cold ? "cold" : "async";
}

std::string shape(index n, index p, index batch) {
  return "/N:" + std::to_string(n) + "/P:" + std::to_string(p) + "/B:" + std::to_string(batch);
}

void register_all() {
  for (const index n : {256, 1024, 4096})
    for (const double alpha : {0.05, 0.14}) {
      const index p = index(std::llround(alpha * double(n)));
      for (const index batch : {1, 16})
        for (const mode m : {mode::hot, mode::cold, mode::async}) {
          const std::string tail = std::string(name_of(m)) + shape(n, p, batch);
          benchmark::RegisterBenchmark(
              ("bm_sweep/dense/" + tail).c_str(),
              [=](benchmark::State& st) { bm_sweep<dense_field>(st, n, p, batch, m); })
              ->Unit(benchmark::kMillisecond)
              ->UseRealTime();
          benchmark::RegisterBenchmark(
              ("bm_sweep/patterns/" + tail).c_str(),
              [=](benchmark::State& st) { bm_sweep<pattern_field>(st, n, p, batch, m); })
              ->Unit(benchmark::kMillisecond)
              ->UseRealTime();
        }
      benchmark::RegisterBenchmark(("bm_parts/dense" + shape(n, p, 1)).c_str(),
                                   [=](benchmark::State& st) { bm_parts<dense_field>(st, n, p); })
          ->Unit(benchmark::kMicrosecond)
          ->UseRealTime();
      benchmark::RegisterBenchmark(("bm_parts/patterns" + shape(n, p, 1)).c_str(),
                                   [=](benchmark::State& st) { bm_parts<pattern_field>(st, n, p); })
          ->Unit(benchmark::kMicrosecond)
          ->UseRealTime();
    }
}

}  // namespace

int main(int argc, char** argv) {
  register_all();
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
