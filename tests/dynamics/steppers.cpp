// Vector fields and steppers: integrate() over fields written here (linear flows with known
// solutions), the order of RK4, Dormand-Prince's error control, heavy-ball momentum, diverging
// columns reported while the others finish, and no heap allocation in a steady descent loop
// (this file counts calls to malloc and its relatives for the whole test binary).
#include <engram/engram.hpp>

#include <malloc.h>

#include <atomic>
#include <cmath>
#include <cstdlib>
#include <limits>
#include <string>
#include <vector>

#include "catch.hpp"
#include "support/support.hpp"

// The allocation count interposes malloc and friends. Sanitizer runtimes own malloc themselves
// (and run before this file's globals exist), so sanitizer builds leave it out; the count is
// checked by every ordinary build.
#if !defined(__SANITIZE_ADDRESS__) && !defined(__SANITIZE_THREAD__)
#define ENGRAM_TEST_COUNTS_ALLOCATIONS 1
#endif

#if ENGRAM_TEST_COUNTS_ALLOCATIONS
extern "C" {
void* __libc_malloc(std::size_t);
void* __libc_calloc(std::size_t, std::size_t);
void* __libc_realloc(void*, std::size_t);
void* __libc_memalign(std::size_t, std::size_t);
void __libc_free(void*);
}

namespace {
std::atomic<long long> allocations{0};
}  // namespace

extern "C" {
void* malloc(std::size_t n) {
  allocations.fetch_add(1, std::memory_order_relaxed);
  return __libc_malloc(n);
}
void* calloc(std::size_t n, std::size_t s) {
  allocations.fetch_add(1, std::memory_order_relaxed);
  return __libc_calloc(n, s);
}
void* realloc(void* p, std::size_t n) {
  allocations.fetch_add(1, std::memory_order_relaxed);
  return __libc_realloc(p, n);
}
void* memalign(std::size_t a, std::size_t n) {
  allocations.fetch_add(1, std::memory_order_relaxed);
  return __libc_memalign(a, n);
}
void* aligned_alloc(std::size_t a, std::size_t n) {
  allocations.fetch_add(1, std::memory_order_relaxed);
  return __libc_memalign(a, n);
}
int posix_memalign(void** out, std::size_t a, std::size_t n) {
  allocations.fetch_add(1, std::memory_order_relaxed);
  *out = __libc_memalign(a, n);
  return *out ? 0 : 12;  // ENOMEM
}
void free(void* p) {
  __libc_free(p);
}
}
#endif

using Index = Eigen::Index;
using Md = Eigen::MatrixXd;
using engram_test::uniform;
namespace stop = engram::stop;

namespace {

/// dx/dt = -lambda (x - c), column-wise; exact flow c + (x0 - c) e^(-lambda t). Its Lyapunov
/// energy lambda/2 ||x - c||^2 decreases along it.
struct relaxation {
  using scalar_type = double;
  double lambda = 1.5;
  Eigen::VectorXd centre = Eigen::VectorXd::Constant(3, 0.5);
  Index dim() const { return centre.size(); }
  void operator()(const engram::matrix<double>& x, engram::matrix<double>& dxdt) const {
    dxdt = -lambda * (x.colwise() - centre);
  }
  void operator()(const engram::matrix<double>& x, engram::matrix<double>& dxdt,
                  engram::vector<double>& e) const {
    (*this)(x, dxdt);
    e = 0.5 * lambda * (x.colwise() - centre).colwise().squaredNorm().transpose();
  }
};

/// dx/dt = x^2, coordinate-wise: from x0 > 0 it blows up at t = 1/x0; from x0 < 0 it decays.
struct blow_up {
  using scalar_type = double;
  Index dim() const { return 1; }
  void operator()(const engram::matrix<double>& x, engram::matrix<double>& dxdt) const {
    dxdt = x.array().square().matrix();
  }
};

}  // namespace

TEST_CASE("user vector fields satisfy the concepts", "[dynamics][field]") {
  STATIC_REQUIRE(engram::lyapunov_field<relaxation>);
  STATIC_REQUIRE(engram::vector_field<blow_up>);
  STATIC_REQUIRE_FALSE(engram::lyapunov_field<blow_up>);
  STATIC_REQUIRE(engram::stepper_for<engram::rk4<double>, relaxation>);
  STATIC_REQUIRE(engram::stepper_for<engram::dormand_prince<double>, blow_up>);
  STATIC_REQUIRE_FALSE(engram::stepper_for<engram::centroid_iteration<double>, relaxation>);
}

TEST_CASE("RK4 converges at fourth order and Euler at first", "[dynamics][rk4]") {
  relaxation field;
  const Md start = uniform<double>(51, 3, 4, -2.0, 2.0);
  const auto error = [&](auto stepper, Index steps, double h) {
    const auto r = engram::integrate(field, start, stepper, stop::after(steps));
    const double decay = std::exp(-field.lambda * h * double(steps));
    const Md exact = (start.colwise() - field.centre) * decay;
    return ((r.states.colwise() - field.centre) - exact).cwiseAbs().maxCoeff();
  };
  // Integrate to t = 2 with h and h/2: the error ratio is 2^order up to higher-order terms
  // (lambda h <= 0.15 keeps those within 15% of the leading one).
  const double rk_coarse = error(engram::rk4<double>{.step = 0.1}, 20, 0.1);
  const double rk_fine = error(engram::rk4<double>{.step = 0.05}, 40, 0.05);
  CHECK(rk_coarse / rk_fine > 16 * 0.85);
  CHECK(rk_coarse / rk_fine < 16 * 1.15);
  const double eu_coarse = error(engram::explicit_euler<double>{.step = 0.1}, 20, 0.1);
  const double eu_fine = error(engram::explicit_euler<double>{.step = 0.05}, 40, 0.05);
  CHECK(eu_coarse / eu_fine > 2 * 0.85);
  CHECK(eu_coarse / eu_fine < 2 * 1.15);
  CHECK(rk_fine < 1e-6);  // and far more accurate than Euler at the same step
  CHECK(eu_fine > 1e-3);
}

TEST_CASE("Dormand-Prince keeps its local error within tolerance and adapts its steps",
          "[dynamics][dormand-prince]") {
  relaxation field;
  const Md start = uniform<double>(52, 3, 5, -2.0, 2.0);
  Index steps_loose = 0, steps_tight = 0;
  for (double tol : {1e-4, 1e-9}) {
    const engram::dormand_prince<double> dp{
        .initial_step = 1e-3, .abs_tolerance = tol, .rel_tolerance = tol};
    Md x = start, dxdt;
    Eigen::VectorXd e(x.cols()), t = Eigen::VectorXd::Zero(x.cols());
    field(x, dxdt, e);
    auto state = dp.make_state(field, x);
    Index steps = 0;
    while (t.minCoeff() < 3.0) {
      dp.do_step(field, state, x, dxdt, e);
      t += state.last_step;
      ++steps;
      for (Index b = 0; b < x.cols(); ++b) {
        const double exact_offset = std::exp(-field.lambda * t(b));
        const double err =
            ((x.col(b) - field.centre) - (start.col(b) - field.centre) * exact_offset)
                .cwiseAbs()
                .maxCoeff();
        // The global error of a contracting flow stays within a few local tolerances; 10x
        // allows for the controller's 0.9 safety factor and the error estimate being a bound
        // of the fourth-order solution, not of the fifth-order one that advances.
        INFO("tol " << tol << " column " << b << " t " << t(b));
        CHECK(err <= 10 * tol * (1 + x.col(b).cwiseAbs().maxCoeff()));
      }
    }
    CHECK_FALSE(state.failed.any());
    (tol > 1e-6 ? steps_loose : steps_tight) = steps;
    CHECK(e.allFinite());
  }
  // The tighter tolerance takes more steps: about (1e5)^(1/5) = 10 times as many.
  CHECK(steps_tight > 4 * steps_loose);
}

TEST_CASE("stepper parameters are validated with their names", "[dynamics][errors]") {
  relaxation field;
  const Md start = Md::Zero(3, 2);
  const auto message = [&](auto stepper) -> std::string {
    try {
      engram::integrate(field, start, stepper, stop::after(2));
    } catch (const engram::invalid_argument& e) {
      return e.what();
    }
    return "no engram::invalid_argument";
  };
  CHECK(message(engram::dormand_prince<double>{.abs_tolerance = 0}) ==
        "dormand_prince.abs_tolerance is 0; it must be finite and greater than 0");
  CHECK(message(engram::dormand_prince<double>{.rel_tolerance = std::nan("")}) ==
        "dormand_prince.rel_tolerance is nan; it must be finite and greater than 0");
  CHECK(message(engram::rk4<double>{.step = -1}) ==
        "rk4.step is -1; it must be finite and greater than 0");
  CHECK(message(engram::momentum<double>{.coefficient = 1.0}) ==
        "momentum.coefficient is 1; it must be in [0, 1)");
  CHECK(message(engram::explicit_euler<double>{.step = std::numeric_limits<double>::infinity()}) ==
        "explicit_euler.step is inf; it must be finite and greater than 0");
  CHECK_THROWS_AS(engram::integrate(field, Md::Zero(4, 2), engram::rk4<double>{}, stop::after(2)),
                  engram::dimension_mismatch);
}

TEST_CASE("a diverging column is reported and the others finish", "[dynamics][diverged]") {
  blow_up field;
  Md start(1, 3);
  start << -1.0, 4.0, -0.5;  // the middle column leaves the finite numbers within a few steps
  const auto r = engram::integrate(field, start, engram::explicit_euler<double>{.step = 0.5},
                                   stop::state_change(1e-3) || stop::after(1000));
  CHECK_FALSE(r.diverged(0));
  CHECK(r.diverged(1));
  CHECK_FALSE(r.diverged(2));
  CHECK(r.converged(0));
  CHECK(r.converged(2));
  CHECK_FALSE(r.converged(1));
  CHECK(std::isfinite(r.states(0, 1)));  // the last finite state, not inf or NaN
  CHECK(r.states(0, 1) > 1e100);
  CHECK(r.steps(1) < 20);
  CHECK(r.energies.size() == 0);  // the field has no Lyapunov energy

  // The adaptive stepper fails the same column (it cannot meet its tolerance as x -> inf).
  const auto a = engram::integrate(field, start, engram::dormand_prince<double>{},
                                   stop::state_change(1e-6) || stop::after(100000));
  CHECK(a.diverged(1));
  CHECK_FALSE(a.diverged(0));
  CHECK_FALSE(a.diverged(2));
}

TEMPLATE_TEST_CASE("every stepper retrieves stored patterns on the gradient flow",
                   "[dynamics][retrieval]", float, double) {
  using M = engram::matrix<TestType>;
  const M xi = uniform<TestType>(53, 12, 6);
  M queries = xi;
  queries += uniform<TestType>(54, 12, 6, TestType(-0.05), TestType(0.05));
  engram::dense_memory<TestType> memory(xi);
  const engram::lse_energy<TestType> energy(memory, TestType(40));
  const auto limit = stop::gradient_norm(1e-4) || stop::after(5000);
  const auto check = [&](const auto& r) {
    CHECK(r.all_converged());
    // At beta = 40 the fixed point sits within exp(-40 d^2 / 2) of its pattern; 1e-3 allows
    // float rounding and the gradient-norm stop.
    CHECK((r.states - xi).cwiseAbs().maxCoeff() < 1e-3);
  };
  check(engram::retrieve(energy, queries, engram::gradient_descent<TestType>{.step = 0.5}, limit));
  check(engram::retrieve(energy, queries,
                         engram::momentum<TestType>{.step = 0.2, .coefficient = 0.5}, limit));
  check(engram::retrieve(energy, queries, engram::rk4<TestType>{.step = 0.5}, limit));
  check(engram::retrieve(energy, queries,
                         engram::dormand_prince<TestType>{.abs_tolerance = TestType(1e-5),
                                                          .rel_tolerance = TestType(1e-5)},
                         limit));
}

TEST_CASE("clamped coordinates stay fixed under every stepper", "[dynamics][clamp]") {
  const Md xi = uniform<double>(55, 6, 5);
  engram::dense_memory<double> memory(xi);
  const engram::lse_energy<double> energy(memory, 8.0);
  const Md x = uniform<double>(56, 6, 3);
  engram::mask clamp = engram::mask::Constant(6, 3, false);
  clamp.topRows(2).setConstant(true);
  clamp(5, 1) = true;
  const auto check = [&](const auto& r) {
    for (Index b = 0; b < 3; ++b)
      for (Index i = 0; i < 6; ++i)
        if (clamp(i, b)) CHECK(r.states(i, b) == x(i, b));
    CHECK((r.states - x).cwiseAbs().maxCoeff() > 1e-3);  // the free coordinates moved
  };
  const auto limit = stop::after(30);
  check(engram::retrieve(energy, x, engram::rk4<double>{}, limit, {.clamp = clamp}));
  check(engram::retrieve(energy, x, engram::dormand_prince<double>{}, limit, {.clamp = clamp}));
  check(engram::retrieve(energy, x, engram::momentum<double>{}, limit, {.clamp = clamp}));
}

#if ENGRAM_TEST_COUNTS_ALLOCATIONS
TEST_CASE("a steady descent loop allocates nothing", "[dynamics][allocations]") {
  const Md xi = uniform<double>(57, 8, 1500);
  engram::dense_memory<double> memory(xi);
  const Md queries = uniform<double>(58, 8, 6);
  const auto count_steps = [&](const auto& energy, const auto& stepper, const char* what) {
    engram::gradient_flow<std::remove_cvref_t<decltype(energy)>> flow(energy, queries.cols());
    std::vector<long long> seen;
    seen.reserve(64);
    engram::integrate(
        flow, queries, stepper, stop::after(12),
        [&](const engram::integration_progress&) { seen.push_back(allocations.load()); });
    REQUIRE(seen.size() == 12);
    INFO(what);
    // Steps 1-2 may grow workspaces; steps 3-12 run on the same shapes and must not allocate.
    CHECK(seen[11] - seen[2] == 0);
  };
  count_steps(engram::lse_energy<double>(memory, 4.0), engram::gradient_descent<double>{}, "lse");
  count_steps(engram::lse_dot_energy<double>(memory, 4.0), engram::rk4<double>{}, "lse_dot rk4");
  count_steps(engram::power_energy<3, double>(memory, 1.0), engram::momentum<double>{.step = 1e-6},
              "power momentum");
  // Compact kernels keep candidate lists that grow to the largest support seen; at beta = 20
  // (radius 0.32) supports hold a few memories, within the lists' first reservation.
  for (auto method : {engram::support_method::kd_tree, engram::support_method::brute_force})
    count_steps(engram::lsr_energy<double>(memory, 20.0, 1e-3, method),
                engram::gradient_descent<double>{.step = 1e-3}, engram::to_string(method));
  count_steps(engram::hybrid_energy<double>(memory, 20.0, 1e-3, 80.0),
              engram::dormand_prince<double>{}, "hybrid dormand-prince");
  // Exact retrieval maps the states it evaluated last from the kept sums, in place.
  count_steps(engram::lsr_energy<double>(memory, 20.0, 1e-3), engram::centroid_iteration<double>{},
              "lsr centroid iteration");
  // DrDAM with omega materialised (regenerating it on demand allocates its tiles).
  engram::distributed_memory<engram::sincos_features, double> tensor(
      engram::random_features<engram::sincos_features, double>(8, 1200, 4.0, 3), xi);
  count_steps(engram::drdam_energy<engram::sincos_features, double>(tensor),
              engram::gradient_descent<double>{}, "drdam sincos");
}
#endif

TEST_CASE("retrieve with the caller's workspace works for composite energies too",
          "[dynamics][workspace]") {
  // sum_energy (the hybrid) and mapped_energy (normalized LSE) have workspaces without a default
  // state; a flow over the caller's workspace must not need one. Reusing one workspace for two
  // retrievals gives the bits of retrievals that make their own.
  engram::philox_source rng(12);
  Eigen::MatrixXd xi(6, 30), queries(6, 5), noise(6, 5);
  rng.fill_uniform(xi, 0);
  rng.fill_normal(noise, 1);
  queries = xi.leftCols(5) + 0.05 * noise;
  const engram::dense_memory<double> memory(xi);
  const auto stop = engram::stop::after(20);
  const auto same = [&](const auto& energy) {
    auto ws = energy.make_workspace();
    for (int round = 0; round < 2; ++round) {
      const auto own = engram::retrieve(energy, queries, engram::gradient_descent<double>{}, stop);
      const auto kept =
          engram::retrieve(energy, queries, engram::gradient_descent<double>{}, stop, {}, ws);
      CHECK(kept.states == own.states);
      CHECK(kept.energies == own.energies);
    }
  };
  same(engram::hybrid_energy<double>(memory, 20.0, 1e-3, 80.0));
  same(engram::normalized_lse_energy<double>(engram::lse_dot_energy<double>(memory, 4.0)));
}
