// Retrieval: descent never raises the energy, stored patterns are fixed points, corrupted
// patterns come back, clamped coordinates never move, stop rules and per-column convergence.
#include <engram/engram.hpp>

#include <cmath>
#include <limits>
#include <string>
#include <vector>

#include "catch.hpp"
#include "support/support.hpp"

using Index = Eigen::Index;
namespace stop = engram::stop;

using engram_test::uniform;

TEMPLATE_TEST_CASE("descent with a small step never raises the energy", "[dynamics][descent]",
                   float, double) {
  using M = engram::matrix<TestType>;
  const M xi = uniform<TestType>(1, 20, 30), x = uniform<TestType>(2, 20, 6);
  engram::dense_memory<TestType> memory(xi);
  const auto check = [&](const auto& energy, double beta) {
    // grad E is Lipschitz with constant L <= 1 + beta max ||xi||^2 (Hessian I - beta Cov_p(xi)
    // for both LSE energies); a step below 1/L decreases E monotonically. ||xi||^2 <= 20 here.
    const TestType step = TestType(1.0 / (1.0 + beta * 20.0));
    const auto r = engram::retrieve(energy, x, engram::gradient_descent<TestType>{.step = step},
                                    stop::after(200), {.record_trace = true});
    REQUIRE(r.energy_trace.rows() == 201);
    // Float energies carry rounding of about 1e-6 of their magnitude; double far less.
    const double slack = std::is_same_v<TestType, float> ? 1e-5 : 1e-12;
    for (Index t = 1; t < r.energy_trace.rows(); ++t)
      for (Index b = 0; b < x.cols(); ++b) {
        INFO("beta " << beta << " step " << t << " column " << b);
        CHECK(r.energy_trace(t, b) <=
              r.energy_trace(t - 1, b) + slack * (1 + std::abs(r.energy_trace(t - 1, b))));
      }
    CHECK(r.energy_trace.row(0) == energy.value(x).transpose());
    CHECK(r.energies.transpose() == r.energy_trace.row(200));
    // The descent made progress: the energy fell by more than the slack.
    CHECK((r.energy_trace.row(0) - r.energy_trace.row(200)).minCoeff() > 10 * slack);
  };
  for (double beta : {0.1, 1.0, 10.0, 100.0}) {
    check(engram::lse_energy<TestType>(memory, TestType(beta)), beta);
    check(engram::lse_dot_energy<TestType>(memory, TestType(beta)), beta);
  }
}

TEMPLATE_TEST_CASE("stored patterns are fixed points at high beta", "[dynamics][fixed-point]",
                   float, double) {
  using M = engram::matrix<TestType>;
  const M xi = uniform<TestType>(3, 50, 40);
  engram::dense_memory<TestType> memory(xi);
  // Uniform patterns in [0,1]^50 are >= 1.5 apart (||.||^2 >= 2.3 here); at beta = 50 the other
  // memories weigh below 40 exp(-50 * 1.15) ~ 1e-23: the gradient at a pattern vanishes to
  // rounding, so one step moves it by under 1e-6 (float) or 1e-12 (double).
  engram::lse_energy<TestType> energy(memory, TestType(50));
  const auto g = energy.gradient(xi);
  const double tol = std::is_same_v<TestType, float> ? 1e-6 : 1e-12;
  CHECK(g.cwiseAbs().maxCoeff() <= tol);
  // Twenty descent steps from the patterns leave them in place: each step moves by at most
  // step * tol.
  const auto r = engram::retrieve(energy, xi, engram::gradient_descent<TestType>{.step = 0.5},
                                  stop::after(20));
  CHECK((r.steps.array() == 20).all());
  CHECK((r.states - xi).cwiseAbs().maxCoeff() <= 20 * 0.5 * tol);
}

TEMPLATE_TEST_CASE("corrupted patterns are retrieved", "[dynamics][retrieval]", float, double) {
  using M = engram::matrix<TestType>;
  const Index D = 100, K = 200, B = 16;
  const M xi = uniform<TestType>(4, D, K);
  M noise(D, B);
  engram::philox_source(5).fill_normal(noise, 0);
  const M queries = xi.leftCols(B) + TestType(0.15) * noise;  // ||noise|| ~ 1.5
  engram::dense_memory<TestType> memory(xi);
  engram::lse_energy<TestType> energy(memory, TestType(20));
  const auto r = engram::retrieve(energy, queries, engram::gradient_descent<TestType>{.step = 0.5},
                                  stop::gradient_norm(1e-4) || stop::after(2000));
  CHECK(r.all_converged());
  for (Index b = 0; b < B; ++b) {
    // At beta = 20 the fixed point sits within exp(-20 * ~4) of the pattern; 1e-3 leaves room
    // for the 1e-4 gradient-norm stop.
    INFO("column " << b);
    CHECK((r.states.col(b) - xi.col(b)).norm() < 1e-3);
  }
}

TEST_CASE("clamped coordinates never change", "[dynamics][clamp]") {
  const Index D = 30, K = 10, B = 5;
  const Eigen::MatrixXd xi = uniform<double>(6, D, K), x = uniform<double>(7, D, B);
  engram::dense_memory<double> memory(xi);
  engram::lse_energy<double> energy(memory, 5.0);

  SECTION("a mask shared by the batch") {
    engram::mask clamp = engram::mask::Constant(D, 1, false);
    clamp.topRows(12).setConstant(true);
    const auto r = engram::retrieve(energy, x, engram::gradient_descent<double>{.step = 0.3},
                                    stop::after(300), {.clamp = clamp});
    CHECK(r.states.topRows(12) == x.topRows(12));
    // The free coordinates do move: the nearest pattern is ~1.3 away, and 300 steps of 0.3 at
    // beta = 5 travel most of that.
    CHECK((r.states.bottomRows(D - 12) - x.bottomRows(D - 12)).norm() > 0.1);
  }
  SECTION("a mask per column, with columns converging at different steps") {
    engram::mask clamp(D, B);
    for (Index b = 0; b < B; ++b)
      for (Index i = 0; i < D; ++i) clamp(i, b) = (i + b) % 3 == 0;
    const auto r =
        engram::retrieve(energy, x, engram::gradient_descent<double>{.step = 0.3},
                         stop::energy_change(1e-9) || stop::after(3000), {.clamp = clamp});
    CHECK(r.all_converged());
    // Columns stop at different steps, so the per-column masks are compacted with them.
    CHECK(r.steps.minCoeff() < r.steps.maxCoeff());
    for (Index b = 0; b < B; ++b)
      for (Index i = 0; i < D; ++i)
        if (clamp(i, b)) CHECK(r.states(i, b) == x(i, b));
    // The energy is still descended on the free coordinates.
    CHECK((r.energies.array() < energy.value(x).array()).all());
  }
}

TEST_CASE("stop rules combine and columns stop one by one", "[dynamics][stop]") {
  using S = engram::stop_status;
  const engram::column_state early{2, 1.0, 1.5, 0.5, 0.1}, flat{9, 1.0, 1.0 - 1e-9, 0.5, 0.0};
  CHECK(stop::energy_change(1e-6).check(early) == S::running);
  CHECK(stop::energy_change(1e-6).check(flat) == S::converged);
  CHECK(stop::energy_change(1e-6).check({0, 1.0, 1.0, 0.5, INFINITY}) ==
        S::running);  // no step yet
  CHECK(stop::fixed_point().check(flat) == S::converged);
  CHECK(stop::fixed_point().check(early) == S::running);
  CHECK(stop::fixed_point().check({0, 1.0, 1.0, 0.5, 0.0}) == S::running);
  CHECK(stop::state_change(0.2).check(early) == S::converged);
  CHECK(stop::state_change(0.05).check(early) == S::running);
  CHECK(stop::gradient_norm(1.0).check(early) == S::converged);
  CHECK(stop::after(9).check(flat) == S::halted);
  CHECK((stop::energy_change(1e-6) || stop::after(2)).check(early) == S::halted);
  CHECK((stop::energy_change(1e-6) || stop::after(9)).check(flat) == S::converged);
  CHECK((stop::energy_change(1e-6) && stop::after(10)).check(flat) == S::running);
  CHECK((stop::energy_change(1e-6) && stop::after(9)).check(flat) == S::converged);
  CHECK((stop::after(1) && stop::after(2)).check(early) == S::halted);
  CHECK((stop::gradient_norm(0.1) || stop::energy_change(1e-6) || stop::after(5)).check(early) ==
        S::running);

  // A stored pattern converges at once; a near query within ln(160)/0.105 ~ 48 steps (the
  // gradient shrinks by 0.9 a step from 0.16); a far one needs ~90, so the limit of 60 halts it
  // without calling it converged.
  const Eigen::MatrixXd xi = uniform<double>(8, 10, 5);
  engram::dense_memory<double> memory(xi);
  engram::lse_energy<double> energy(memory, 30.0);
  Eigen::MatrixXd queries(10, 3);
  queries << xi.col(1), xi.col(2) + 0.05 * Eigen::VectorXd::Ones(10),
      Eigen::VectorXd::Constant(10, 5.0);
  std::vector<engram::retrieval_progress> seen;
  const auto r = engram::retrieve(
      energy, queries, engram::gradient_descent<double>{.step = 0.1},
      stop::gradient_norm(1e-3) || stop::after(60),
      {.progress = [&](const engram::retrieval_progress& p) { seen.push_back(p); }});
  CHECK(r.steps(0) == 0);
  CHECK(r.converged(0));
  CHECK(r.steps(1) > 0);
  CHECK(r.steps(1) < 60);
  CHECK(r.converged(1));
  CHECK(r.steps(2) == 60);
  CHECK_FALSE(r.converged(2));
  CHECK_FALSE(r.all_converged());
  REQUIRE(seen.size() == 60);
  CHECK(seen.front().active == 2);
  CHECK(seen.back().active == 1);
  CHECK(seen.back().step == 60);
  CHECK(seen.back().batch == 3);
  CHECK(r.energy_trace.size() == 0);  // not asked for

  // With a trace, a column that stopped repeats its final energy in every later row.
  const auto traced =
      engram::retrieve(energy, queries, engram::gradient_descent<double>{.step = 0.1},
                       stop::gradient_norm(1e-3) || stop::after(60), {.record_trace = true});
  REQUIRE(traced.energy_trace.rows() == 61);
  for (Index b = 0; b < 3; ++b)
    for (Index t = traced.steps(b); t <= 60; ++t)
      CHECK(traced.energy_trace(t, b) == traced.energies(b));
  CHECK(traced.energy_trace(0, 1) > traced.energies(1));
}

TEST_CASE("only stop rules with a step limit are accepted", "[dynamics][stop]") {
  // integrate() refuses an unbounded rule at compile time, so no run can hang.
  using energy_only = engram::stop::energy_change_rule;
  using limited = decltype(stop::energy_change(1.0) || stop::after(3));
  using both = decltype(stop::energy_change(1.0) && stop::after(3));
  STATIC_REQUIRE_FALSE(engram::stop::bounded_v<energy_only>);
  STATIC_REQUIRE(engram::stop::bounded_v<limited>);
  STATIC_REQUIRE_FALSE(engram::stop::bounded_v<both>);
  STATIC_REQUIRE(engram::stop::bounded_v<decltype(stop::after(1) && stop::after(2))>);

  const Eigen::MatrixXd xi = uniform<double>(9, 4, 3);
  engram::dense_memory<double> memory(xi);
  engram::lse_energy<double> energy(memory, 1.0);
  // An energy change of 1e-300 is never reached in double: only after(25) ends this run.
  const auto r = engram::retrieve(energy, Eigen::MatrixXd::Constant(4, 1, 3.0),
                                  engram::gradient_descent<double>{.step = 1e-6},
                                  stop::energy_change(1e-300) || stop::after(25));
  CHECK(r.steps(0) == 25);
  CHECK_FALSE(r.converged(0));
}

TEST_CASE("retrieve rejects bad input with typed errors", "[dynamics][errors]") {
  const Eigen::MatrixXd xi = uniform<double>(10, 6, 4);
  engram::dense_memory<double> memory(xi);
  engram::lse_energy<double> energy(memory, 2.0);
  const Eigen::MatrixXd x = uniform<double>(11, 6, 3);
  const engram::gradient_descent<double> gd{.step = 0.1};
  const auto limit = stop::after(10);

  try {
    engram::retrieve(energy, x, gd, limit, {.clamp = engram::mask::Constant(5, 1, true)});
    FAIL("no exception");
  } catch (const engram::dimension_mismatch& e) {
    CHECK(std::string(e.what()).find("clamp mask is 5 x 1") != std::string::npos);
  }
  CHECK_THROWS_AS(
      engram::retrieve(energy, x, gd, limit, {.clamp = engram::mask::Constant(6, 2, true)}),
      engram::dimension_mismatch);
  CHECK_THROWS_AS(engram::retrieve(energy, Eigen::MatrixXd(5, 3), gd, limit),
                  engram::dimension_mismatch);
  Eigen::MatrixXd bad = x;
  bad(2, 2) = std::numeric_limits<double>::quiet_NaN();
  CHECK_THROWS_AS(engram::retrieve(energy, bad, gd, limit), engram::not_finite);
  const auto message = [&](auto&& call) -> std::string {
    try {
      call();
    } catch (const engram::error& e) {
      return e.what();
    }
    return "no engram::error";
  };
  CHECK(message([&] {
          engram::retrieve(energy, x, engram::gradient_descent<double>{.step = 0}, limit);
        }) == "gradient_descent.step is 0; it must be finite and greater than 0");
  CHECK(message([&] { engram::retrieve(energy, x, gd, stop::energy_change(-1) || limit); }) ==
        "stop::energy_change eps is -1; it must be finite and greater than 0");
  engram::dense_memory<double> empty(Index(6));
  engram::lse_energy<double> on_empty(empty, 1.0);
  CHECK(message([&] { engram::retrieve(on_empty, x, gd, limit); }) ==
        "the memory holds no patterns; add() some before evaluating the energy");
  CHECK_THROWS_AS(engram::retrieve(energy, x, gd, stop::after(-1)), engram::invalid_argument);

  // A linear-scaling dot energy with a huge step runs away: those columns are reported as
  // diverged, keep their last finite state, and the others finish.
  using linear_dot = engram::dense_energy<engram::exp_dot, engram::linear_scaling, double>;
  linear_dot runaway(memory, 2.0);
  const auto r = engram::retrieve(runaway, x, engram::gradient_descent<double>{.step = 50.0},
                                  stop::after(100));
  CHECK(r.any_diverged());
  for (Index b = 0; b < x.cols(); ++b) {
    INFO("column " << b);
    CHECK(r.states.col(b).allFinite());
    CHECK(std::isfinite(r.energies(b)));
    if (r.diverged(b)) {
      CHECK_FALSE(r.converged(b));
      CHECK(r.steps(b) < 100);
    }
  }
}
