// Seed 004: the classical Hopfield network as spin steppers under integrate(), heat-bath
// sampling, matrix factorisation by decimation against the rotation-invariant estimator, and
// the replica-symmetric equations of the first decimation step.
#include <engram/engram.hpp>

#include <array>
#include <cmath>
#include <map>
#include <string>
#include <vector>

#include "catch.hpp"
#include "support/support.hpp"

using engram::matrix;
using engram::vector;
using Index = Eigen::Index;

namespace {

/// The 2^n states of n Ising spins as the columns of an n x 2^n matrix.
matrix<double> all_states(Index n) {
  matrix<double> s(n, Index(1) << n);
  for (Index k = 0; k < s.cols(); ++k)
    for (Index i = 0; i < n; ++i) s(i, k) = (k >> i) & 1 ? 1.0 : -1.0;
  return s;
}

Index state_index(const matrix<double>& s, Index b) {
  Index k = 0;
  for (Index i = 0; i < s.rows(); ++i)
    if (s(i, b) > 0) k |= Index(1) << i;
  return k;
}

}  // namespace

TEST_CASE("ising_field: the energy, local fields and overlaps match their definitions", "[spins]") {
  const matrix<double> xi = engram::random_ising_patterns(12, 3, 1);
  const matrix<double> s = engram::random_ising_patterns(12, 5, 2);
  engram::ising_field<engram::dense_couplings<double>> dense{engram::hebbian_couplings(xi)};
  engram::ising_field<engram::pattern_couplings<double>> patterns{
      engram::pattern_couplings<double>(xi)};
  // J_ij = sum_mu xi_i xi_j / N off the diagonal, 0 on it; E = -1/2 sum_{i != j} J_ij s_i s_j.
  for (Index b = 0; b < s.cols(); ++b) {
    long double e = 0;
    for (Index i = 0; i < 12; ++i)
      for (Index j = 0; j < 12; ++j)
        if (i != j) e -= 0.5L * xi.row(i).dot(xi.row(j)) / 12.0 * s(i, b) * s(j, b);
    // Sums of a few hundred terms of size 1/4: 1e-13 is far above their rounding.
    CHECK(std::abs(dense.energy(s)(b) - double(e)) < 1e-13);
    CHECK(std::abs(patterns.energy(s)(b) - double(e)) < 1e-13);
  }
  CHECK((dense.local_fields(s) - patterns.local_fields(s)).cwiseAbs().maxCoeff() < 1e-14);
  const matrix<double> m = engram::overlaps(xi, s);
  CHECK(std::abs(m(1, 3) - xi.col(1).dot(s.col(3)) / 12.0) < 1e-15);
  CHECK(engram::overlaps(xi, xi).diagonal().isOnes(0));
}

TEST_CASE("spin steppers: asynchronous sweeps never raise the energy and stop at fixed points",
          "[spins]") {
  const Index n = 100, p = 5;
  const matrix<double> xi = engram::random_ising_patterns(n, p, 11);
  engram::ising_field<engram::pattern_couplings<double>> field{
      engram::pattern_couplings<double>(xi)};
  const matrix<double> start = engram::random_ising_patterns(n, 8, 12);
  const auto stop = engram::stop::any_of<engram::stop::after_rule, engram::stop::fixed_point_rule>{
      engram::stop::after(200), engram::stop::fixed_point()};
  const auto run = engram::integrate(field, start, engram::asynchronous_sign<double>{13}, stop,
                                     engram::no_observer{}, {.record_trace = true});
  REQUIRE(run.all_converged());
  for (Index b = 0; b < start.cols(); ++b)
    CHECK(engram::first_energy_increase(run.energy_trace.col(b), 0.0) == -1);
  // A fixed point: every spin agrees with its field (or the field is zero).
  const matrix<double> h = field.local_fields(run.states);
  CHECK((h.array() * run.states.array() >= 0).all());

  // The dense form visits the same states: the same seed, the same order, the same fields.
  engram::ising_field<engram::dense_couplings<double>> dense{engram::hebbian_couplings(xi)};
  const auto twin = engram::integrate(dense, start, engram::asynchronous_sign<double>{13}, stop);
  CHECK(twin.states == run.states);
  CHECK(twin.steps == run.steps);

  // Synchronous sign updates: sigma <- sign(J sigma) in one step.
  const auto one =
      engram::integrate(field, start, engram::synchronous_sign<double>{}, engram::stop::after(1));
  const matrix<double> h0 = field.local_fields(start);
  for (Index b = 0; b < start.cols(); ++b)
    for (Index i = 0; i < n; ++i) {
      const double expected = h0(i, b) > 0 ? 1.0 : h0(i, b) < 0 ? -1.0 : start(i, b);
      CHECK(one.states(i, b) == expected);
    }
}

TEST_CASE("one heat-bath update satisfies detailed balance (exact on 4 spins)", "[spins]") {
  // A random symmetric J on 4 spins; pi(s) ~ exp(-beta E(s)).
  const matrix<double> r = engram_test::uniform<double>(21, 4, 4, -1.0, 1.0);
  const matrix<double> j = (r + r.transpose()) / 2;
  engram::ising_field<engram::dense_couplings<double>> field{engram::dense_couplings<double>(j)};
  const double beta = 0.8;
  matrix<double> states = all_states(4);
  const vector<double> e = field.energy(states);
  field.begin_sweep(states);
  double worst = 0;
  for (Index a = 0; a < 16; ++a)
    for (Index i = 0; i < 4; ++i) {
      // T(a -> a with spin i flipped) = p(new value of spin i | the others).
      std::array<double, 2> g{}, pa{}, pb{};
      field.local_gains(states, a, i, g.data());
      engram::glauber<double>::heat_bath_probabilities(g.data(), 2, beta, pa.data());
      const Index b = a ^ (Index(1) << i);
      field.local_gains(states, b, i, g.data());
      engram::glauber<double>::heat_bath_probabilities(g.data(), 2, beta, pb.data());
      const std::size_t to_b = states(i, b) > 0 ? 1 : 0, to_a = states(i, a) > 0 ? 1 : 0;
      const double forward = std::exp(-beta * e(a)) * pa[to_b];
      const double backward = std::exp(-beta * e(b)) * pb[to_a];
      worst = std::max(worst, std::abs(forward - backward) / forward);
    }
  // Two products of exponentials of O(1) numbers agree to rounding.
  CHECK(worst < 1e-14);
}

TEST_CASE("glauber sweeps sample the Boltzmann distribution", "[spins]") {
  const matrix<double> r = engram_test::uniform<double>(31, 4, 4, -1.0, 1.0);
  const matrix<double> j = (r + r.transpose()) / 2;
  engram::ising_field<engram::dense_couplings<double>> field{engram::dense_couplings<double>(j)};
  const double beta = 0.7;
  const vector<double> e = field.energy(all_states(4));
  vector<double> pi = (-beta * e).array().exp();
  pi /= pi.sum();
  // 20000 independent chains from one state, 30 sweeps each: the last states are draws from pi
  // (the 16-state chain mixes in a few sweeps at beta = 0.7).
  const Index chains = 20000;
  const matrix<double> start = matrix<double>::Ones(4, chains);
  const auto run = engram::integrate(field, start, engram::glauber<double>{beta, 0, 32},
                                     engram::stop::after(30));
  vector<double> count = vector<double>::Zero(16);
  for (Index b = 0; b < chains; ++b) count(state_index(run.states, b)) += 1;
  for (Index k = 0; k < 16; ++k) {
    const double sd = std::sqrt(pi(k) * (1 - pi(k)) / double(chains));
    CHECK(std::abs(count(k) / double(chains) - pi(k)) < 5 * sd);  // 5 sigma per state
  }
}

TEST_CASE("Hopfield capacity: P = 0.05 N patterns are fixed points, P = 0.3 N are lost",
          "[spins]") {
  const std::array<double, 2> alphas{0.05, 0.3};
  const auto points = engram::hopfield_capacity(500, alphas, 0.1, 41);
  REQUIRE(points.size() == 2);
  CHECK(points[0].patterns == 25);
  // Each spin of a stored pattern is unstable with probability Phi(-1/sqrt(alpha)) ~ 4e-6 at
  // alpha = 0.05: all 25 x 500 spins hold (measured), and retrieval from 10% flips is exact.
  CHECK(points[0].fixed_fraction == 1.0);
  CHECK(points[0].retrieval_overlap > 0.99);
  // Far above alpha_c ~ 0.138: Phi(-1/sqrt(0.3)) ~ 0.034 of the spins flip, so no pattern of
  // 500 spins is a fixed point, and retrieval wanders off (measured overlap 0.30).
  CHECK(points[1].patterns == 150);
  CHECK(points[1].fixed_fraction < 0.05);
  CHECK(points[1].retrieval_overlap < 0.6);
}

TEST_CASE("spiked_matrix: the model, the GOE noise and the priors", "[spins]") {
  const auto problem = engram::spiked_matrix<double>(400, 0.05, 0.5, 1.0, 51);
  REQUIRE(problem.patterns.rows() == 400);
  REQUIRE(problem.patterns.cols() == 20);
  CHECK((problem.patterns.array().abs() == 1.0).all());
  CHECK(problem.y == problem.y.transpose());
  // Z = (Y - xi xi^T / sqrt(N)) / sqrt(Delta): off-diagonal variance 1, diagonal 2. 79,800
  // off-diagonal draws estimate 1 to +-0.005 (1 sd); 400 diagonal draws estimate 2 to +-0.14.
  const matrix<double> z =
      (problem.y - problem.patterns * problem.patterns.transpose() / 20.0) / std::sqrt(0.5);
  double off = 0, diag = 0;
  for (Index j = 0; j < 400; ++j) {
    diag += z(j, j) * z(j, j);
    for (Index i = j + 1; i < 400; ++i) off += z(i, j) * z(i, j);
  }
  CHECK(std::abs(off / (400.0 * 399 / 2) - 1.0) < 0.025);
  CHECK(std::abs(diag / 400.0 - 2.0) < 0.6);
  // The sparse prior: a fraction rho of non-zero entries, half of them -1.
  const auto sparse = engram::spiked_matrix<double>(1000, 0.02, 0.1, 0.2, 52);
  const double nonzero = (sparse.patterns.array() != 0).cast<double>().mean();
  const double negative = (sparse.patterns.array() < 0).cast<double>().mean();
  CHECK(std::abs(nonzero - 0.2) < 0.02);  // 20,000 draws: sd 0.003
  CHECK(std::abs(negative - 0.1) < 0.015);
}

TEST_CASE("decimation recovers every pattern and beats the RIE, which beats Y / sqrt(N)",
          "[spins]") {
  const auto problem = engram::spiked_matrix<double>(200, 0.03, 0.05, 1.0, 61);
  REQUIRE(problem.patterns.cols() == 6);
  engram::decimation_params params;
  params.seed = 62;
  Index reported = 0;
  const auto found = engram::decimate(problem.y, 6, 0.05, params,
                                      [&](const engram::decimation_step&) { ++reported; });
  CHECK(reported == 6);
  const auto match = engram::match_patterns(problem.patterns, found.patterns);
  std::vector<bool> seen(6, false);
  for (std::size_t k = 0; k < 6; ++k) {
    CHECK(match.overlap[k] > 0.95);
    seen[std::size_t(match.truth[k])] = true;
  }
  for (bool s : seen) CHECK(s);  // each true pattern found once
  const double dec =
      engram::matrix_mse(engram::decimation_estimate(found.patterns), problem.patterns);
  const double rie =
      engram::matrix_mse(engram::rie_estimate(problem.y, 0.05).estimate, problem.patterns);
  const double naive = engram::matrix_mse(engram::naive_estimate(problem.y), problem.patterns);
  CHECK(dec < rie);
  CHECK(rie < naive);
  // Each found pattern's energy is within the acceptance tolerance of the true-pattern level,
  // whose spread is sqrt(Delta N / 2 + (P - 1 - R) / 2) (2.4 at the first step).
  CHECK(std::abs(found.steps[0].spread - std::sqrt(0.05 * 200 / 2 + 5.0 / 2)) < 1e-12);
  for (const auto& step : found.steps)
    CHECK(step.energy <= step.level + params.tolerance * step.spread);
}

TEST_CASE("rie_estimate shrinks pure noise to zero: the Hilbert transform's normalisation",
          "[spins]") {
  // Y = sqrt(Delta) Z with no patterns: inside the semicircle H(lambda) = lambda / (2 Delta), so
  // every cleaned eigenvalue is near 0 while the observed ones spread over [-2 sqrt(Delta),
  // 2 sqrt(Delta)] = [-0.89, 0.89].
  const double delta = 0.2;
  auto problem = engram::spiked_matrix<double>(600, 1.0 / 600, delta, 1.0, 71);
  problem.y -= problem.patterns * problem.patterns.transpose() / std::sqrt(600.0);
  const auto rie = engram::rie_estimate(problem.y, delta);
  CHECK(rie.observed.maxCoeff() > 0.8);
  // The semicircle's mean |lambda| is 4 R / (3 pi) = 0.38 for R = 2 sqrt(Delta); the smoothing
  // width N^{-1/2} and the edges leave a mean |lambda^| of a few hundredths.
  INFO("mean |lambda^| = " << rie.cleaned.cwiseAbs().mean());
  CHECK(std::abs(rie.observed.cwiseAbs().mean() - 0.38) < 0.02);
  CHECK(rie.cleaned.cwiseAbs().mean() < 0.05);
}

TEST_CASE("replica-symmetric first step: retrieval at small alpha and Delta, none at large Delta",
          "[spins]") {
  // Gauss-Hermite with 80 points integrates E Z^2 = 1, E Z^4 = 3 exactly (to rounding).
  const engram::gauss_hermite_rule rule(80);
  CHECK(std::abs(rule.expectation([](double z) { return z * z; }) - 1.0) < 1e-12);
  CHECK(std::abs(rule.expectation([](double z) { return z * z * z * z; }) - 3.0) < 1e-12);
  // At beta = 1 / Delta (the Bayes temperature of the noise).
  const auto good = engram::rs_first_step(0.03, 0.05, 1 / 0.05);
  CHECK(good.converged);
  CHECK(good.stable);
  CHECK(good.m > 0.99);
  const auto bad = engram::rs_first_step(0.03, 3.0, 1 / 3.0);
  CHECK(bad.converged);
  CHECK(std::abs(bad.m) < 1e-8);
  // m rises as the noise falls.
  CHECK(engram::rs_first_step(0.03, 0.08, 1 / 0.08).m >
        engram::rs_first_step(0.03, 0.3, 1 / 0.3).m);
}

TEST_CASE("seed 004's bad input is refused with typed errors naming the argument", "[spins]") {
  const auto refuses = [](auto&& call, const std::string& words) {
    try {
      call();
      FAIL("accepted: " << words);
    } catch (const engram::invalid_argument& e) {
      CHECK(std::string(e.what()).find(words) != std::string::npos);
    }
  };
  refuses([] { (void)engram::spiked_matrix<double>(100, 0.05, -0.1, 1.0, 1); }, "Delta is -0.1");
  refuses([] { (void)engram::spiked_matrix<double>(100, 0.004, 0.1, 1.0, 1); }, "rounds to 0");
  refuses([] { (void)engram::spiked_matrix<double>(100, 0.05, 0.1, 0.0, 1); }, "rho is 0");
  refuses([] { (void)engram::spiked_matrix<double>(100, 0.05, 0.1, 1.5, 1); }, "rho is 1.5");
  refuses([] { (void)engram::spiked_matrix<double>(0, 0.05, 0.1, 1.0, 1); }, "N is 0");
  matrix<double> y = matrix<double>::Identity(4, 4);
  y(0, 1) = 0.5;
  refuses([&] { (void)engram::decimate(y, 1, 0.1, engram::decimation_params{}); }, "symmetric");
  refuses([&] { (void)engram::rie_estimate(y, 0.1); }, "symmetric");
  engram::decimation_params cold;
  cold.cooling = 0;
  refuses(
      [&] { (void)engram::decimate(matrix<double>(matrix<double>::Identity(4, 4)), 1, 0.1, cold); },
      "cooling is 0");
  matrix<double> xi = matrix<double>::Ones(5, 2);
  xi(3, 1) = 0.5;
  refuses([&] { (void)engram::hebbian_couplings(xi); }, "pattern 1 has entry 0.5 at row 3");
  refuses([&] { (void)engram::pattern_couplings<double>(xi); }, "entry 0.5");
  refuses([] { (void)engram::hebbian_couplings(matrix<double>(0, 3)); }, "N and P");
  refuses([] { (void)engram::rs_first_step(0.03, -1, 1); }, "Delta is -1");
  const std::array<double, 1> tiny{0.001};
  refuses([&] { (void)engram::hopfield_capacity(100, tiny, 0.1, 1); }, "rounds to 0");
  engram::ising_field<engram::dense_couplings<double>> field{
      engram::hebbian_couplings(matrix<double>(matrix<double>::Ones(5, 2)))};
  refuses([&] { (void)field.energy(matrix<double>::Zero(5, 1)); }, "spins are -1 or +1");
}
