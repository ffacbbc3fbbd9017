// Analysis: beta search, exact enumeration of LSR minima against an independent brute force,
// minima by descent, Monte Carlo support fractions, Gaussian-mixture likelihoods.
#include <engram/engram.hpp>

#include <cmath>
#include <numbers>
#include <set>
#include <string>
#include <vector>

#include "catch.hpp"

using Index = Eigen::Index;
using Md = Eigen::MatrixXd;
using Vd = Eigen::VectorXd;

namespace {

Md grid(int side, double spacing) {
  Md g(2, side * side);
  for (int i = 0; i < side; ++i)
    for (int j = 0; j < side; ++j) g.col(i * side + j) << spacing * i, spacing * j;
  return g;
}

// Independent reference: every non-empty subset S of the memories whose centroid c has exactly
// S as its support, membership by ||c - xi||^2 < r^2 in long double.
std::set<std::vector<Index>> brute_force_minima(const Md& xi, double radius) {
  std::set<std::vector<Index>> out;
  const Index k = xi.cols();
  for (long mask = 1; mask < (1L << k); ++mask) {
    std::vector<Index> s;
    for (Index mu = 0; mu < k; ++mu)
      if (mask & (1L << mu)) s.push_back(mu);
    std::vector<long double> c(std::size_t(xi.rows()), 0.0L);
    for (Index mu : s)
      for (Index i = 0; i < xi.rows(); ++i) c[std::size_t(i)] += xi(i, mu);
    for (auto& v : c) v /= (long double)s.size();
    std::vector<Index> support;
    for (Index mu = 0; mu < k; ++mu) {
      long double d2 = 0;
      for (Index i = 0; i < xi.rows(); ++i) {
        const long double d = c[std::size_t(i)] - xi(i, mu);
        d2 += d * d;
      }
      if (d2 < (long double)radius * radius) support.push_back(mu);
    }
    if (support == s) out.insert(s);
  }
  return out;
}

}  // namespace

TEST_CASE("beta search reaches the target number of interacting patterns", "[analysis][beta]") {
  Md line(1, 10);
  for (int i = 0; i < 10; ++i) line(0, i) = i;
  const engram::beta_search_options others{.count_self = false};
  // With 1 <= 2r < 2 each inner point has 2 neighbours and the ends 1: a mean of 1.8.
  const auto found = engram::interaction_beta(line, 1.8, others);
  CHECK(found.mean_interactions == 1.8);
  CHECK(2 * found.radius >= 1.0);
  CHECK(2 * found.radius < 2.0);
  CHECK(found.beta == 2.0 / (found.radius * found.radius));
  // 2.5 lies between the achievable means 1.8 (1 <= 2r < 2) and 3.4 (2 <= 2r < 3): the search
  // runs to its iteration limit and returns the closer count, 1.8, with a radius that gives it.
  const auto between =
      engram::interaction_beta(line, 2.5, {.max_iterations = 60, .count_self = false});
  CHECK(between.iterations == 60);
  CHECK(between.mean_interactions == 1.8);
  CHECK(2 * between.radius >= 1.0);
  CHECK(2 * between.radius < 2.0);

  CHECK_THROWS_AS(engram::interaction_beta(line, 9.5, others), engram::invalid_argument);
  CHECK_THROWS_AS(engram::interaction_beta(line, 0.0, others), engram::invalid_argument);
  CHECK_THROWS_AS(engram::interaction_beta(line.leftCols(1), 1.0), engram::invalid_argument);
}

TEST_CASE("beta search counts the pattern itself by default, as seed 002 Algorithm 2 does",
          "[analysis][beta]") {
  Md line(1, 10);
  for (int i = 0; i < 10; ++i) line(0, i) = i;
  // Algorithm 2's K' = #{nu : D_mu_nu <= 2r} includes nu = mu. On the line with 2 <= 2r < 3 the
  // counts are 3 (ends), 4 (next to the ends) and 5 (inner six): mean (2*3 + 2*4 + 6*5)/10 = 4.4.
  const auto paper = engram::interaction_beta(line, 4.4);
  CHECK(paper.mean_interactions == 4.4);
  CHECK(2 * paper.radius >= 2.0);
  CHECK(2 * paper.radius < 3.0);
  // The same radius as 3.4 other patterns.
  const auto others = engram::interaction_beta(line, 3.4, {.count_self = false});
  CHECK(others.mean_interactions == 3.4);
  CHECK(2 * others.radius >= 2.0);
  CHECK(2 * others.radius < 3.0);
  // Distances exactly 2r count (D_mu_nu <= 2r): at 2r = 1 every pattern has itself plus its
  // line neighbours, mean 1 + 1.8 = 2.8, which the search finds with 1 <= 2r < 2.
  const auto edge = engram::interaction_beta(line, 2.8);
  CHECK(edge.mean_interactions == 2.8);
  // The paper's own count: a pattern alone is 1 interaction, so targets must exceed 1, and
  // count_self needs two patterns at least (typed errors).
  CHECK_THROWS_AS(engram::interaction_beta(line, 1.0), engram::invalid_argument);
  CHECK_THROWS_AS(engram::interaction_beta(line, 10.5), engram::invalid_argument);
  CHECK_NOTHROW(engram::interaction_beta(line, 10.0));
  CHECK_THROWS_AS(engram::interaction_beta(line.leftCols(1), 1.5), engram::invalid_argument);
}

TEST_CASE("enumeration finds exactly the LSR minima", "[analysis][lsr][minima]") {
  SECTION("a triangle: 3 stored and 4 emergent") {
    Md xi(2, 3);
    xi << 0, 1, 0.5, 0, 0, std::sqrt(3.0) / 2;
    engram::dense_memory<double> memory(xi);
    engram::lsr_energy<double> energy(memory, 2.0 / 0.36);  // radius 0.6
    const auto census = engram::enumerate_lsr_minima(energy);
    CHECK(census.count() == 7);
    CHECK(census.stored_count() == 3);
    CHECK(census.emergent_count() == 4);
    CHECK(census.retrievable_count() == 3);
  }
  SECTION("a 3 x 3 grid at a critical beta has more minima than memories") {
    const Md xi = grid(3, 1.0);
    engram::dense_memory<double> memory(xi);
    for (double radius : {0.45, 0.6, 0.75, 0.9}) {
      engram::lsr_energy<double> energy(memory, 2.0 / (radius * radius));
      const auto census = engram::enumerate_lsr_minima(energy);
      const auto expected = brute_force_minima(xi, radius);
      const std::set<std::vector<Index>> found(census.supports.begin(), census.supports.end());
      INFO("radius " << radius);
      CHECK(found == expected);
      CHECK(census.supports.size() == found.size());  // no duplicates
      // Every minimum is stationary and lower than its surroundings.
      const auto [e, g] = energy.value_and_gradient(census.minima);
      CHECK(g.cwiseAbs().maxCoeff() < 1e-14);  // rounding of the centroid's mean
      CHECK(e == census.energies);
      for (Index m = 0; m < census.count(); ++m)
        for (int a = 0; a < 8; ++a) {
          Vd step(2);
          step << std::cos(a * std::numbers::pi / 4), std::sin(a * std::numbers::pi / 4);
          CHECK(energy.value(census.minima.col(m) + 1e-3 * step)(0) > e(m));
        }
      if (radius == 0.45) CHECK(census.count() == 9);  // disjoint supports: only the memories
      if (radius == 0.6) {
        CHECK(census.count() == 21);  // 9 memories + 12 edge midpoints
        CHECK(census.emergent_count() == 12);
        CHECK(census.retrievable_count() == 9);
      }
      if (radius == 0.75) CHECK(census.count() == 41);  // + 4 square centres + 16 triangles
    }
  }
  SECTION("a centroid that falls on a stored pattern is that pattern") {
    Md xi(1, 3);
    xi << 0, 1, 2;
    engram::dense_memory<double> memory(xi);
    // Radius 1.2: no memory is alone in its support; the pairs' midpoints 0.5 and 1.5 see only
    // their pair; the centroid of all three is the middle memory, whose support is all three.
    engram::lsr_energy<double> energy(memory, 2.0 / 1.44);
    const auto census = engram::enumerate_lsr_minima(energy);
    REQUIRE(census.count() == 3);
    CHECK(census.emergent_count() == 2);
    CHECK(census.retrievable_count() == 1);
    CHECK(census.retrievable(1));
    for (Index m = 0; m < 3; ++m)
      if (census.supports[std::size_t(m)].size() == 3) {
        CHECK(census.minima(0, m) == 1.0);
        CHECK_FALSE(census.emergent(m));
      }
  }
  SECTION("random patterns in the unit cube, against the brute force") {
    Md xi(3, 12);
    engram::philox_source(5).fill_uniform(xi, 0);
    engram::dense_memory<double> memory(xi);
    for (double radius : {0.2, 0.35, 0.5, 0.8}) {
      engram::lsr_energy<double> energy(memory, 2.0 / (radius * radius));
      const auto census = engram::enumerate_lsr_minima(energy, {.batch = 7});
      const auto expected = brute_force_minima(xi, radius);
      const std::set<std::vector<Index>> found(census.supports.begin(), census.supports.end());
      INFO("radius " << radius);
      CHECK(found == expected);
      // Stored patterns are retrievable exactly when no other memory lies in their support.
      for (Index mu = 0; mu < 12; ++mu) {
        Vd distances = (xi.colwise() - xi.col(mu)).colwise().norm().transpose();
        distances(mu) = 1e9;  // not its own neighbour
        const double nearest = distances.minCoeff();
        CHECK(census.retrievable(mu) == (nearest >= radius));
      }
    }
  }
}

TEST_CASE("enumeration and descent census report their progress", "[analysis][progress]") {
  const Md xi = grid(3, 1.0);
  engram::dense_memory<double> memory(xi);
  engram::lsr_energy<double> energy(memory, 2.0 / (0.75 * 0.75));
  std::vector<Index> roots;
  const auto census =
      engram::enumerate_lsr_minima(energy, {.progress = [&](const engram::work_progress& p) {
                                     CHECK(p.total == 9);
                                     roots.push_back(p.done);
                                   }});
  // One report per stored pattern, in order, and the same minima as without a callback.
  CHECK(roots == std::vector<Index>{1, 2, 3, 4, 5, 6, 7, 8, 9});
  CHECK(census.supports == engram::enumerate_lsr_minima(energy).supports);

  // The descent census hears every step of its retrieval, as retrieve() reports it: steps
  // 1, 2, ... with the columns that took each step, fewer as columns stop. The starts lie 0.05 off
  // the patterns (at a pattern the gradient is already below the stop's 1e-10 and no step is
  // taken).
  engram::lse_energy<double> cold(memory, 50.0);
  const Md starts = xi.array() + 0.05;
  std::vector<engram::retrieval_progress> steps;
  const auto found = engram::descent_minima(
      cold, xi, starts, engram::gradient_descent<double>{.step = 0.5},
      engram::stop::gradient_norm(1e-10) || engram::stop::after(10000),
      {.tolerance = 1e-6,
       .progress = [&](const engram::retrieval_progress& p) { steps.push_back(p); }});
  REQUIRE(!steps.empty());
  for (std::size_t i = 0; i < steps.size(); ++i) {
    CHECK(steps[i].step == Index(i) + 1);
    CHECK(steps[i].batch == 9);
    if (i > 0) CHECK(steps[i].active <= steps[i - 1].active);
  }
  CHECK(steps.front().active == 9);
  CHECK(found.count() == 9);
}

TEST_CASE("enumeration refuses a subset count that would explode", "[analysis][lsr][errors]") {
  Md xi(2, 40);
  engram::philox_source(6).fill_uniform(xi, 0);
  engram::dense_memory<double> memory(xi);
  engram::lsr_energy<double> energy(memory, 0.1);  // radius 4.5: every pattern meets every other
  try {
    engram::enumerate_lsr_minima(energy);
    FAIL("no exception");
  } catch (const engram::invalid_argument& e) {
    const std::string m = e.what();
    CHECK(m.find("would visit up to 1.09951163e+12 candidate sets") != std::string::npos);
    CHECK(m.find("raise max_subsets") != std::string::npos);
  }
  engram::dense_memory<double> empty(Index(2));
  CHECK_THROWS_AS(engram::enumerate_lsr_minima(engram::lsr_energy<double>(empty, 1.0)),
                  engram::empty_memory);
}

TEST_CASE("descent finds the LSE minima", "[analysis][lse][minima]") {
  Md xi(2, 4);
  xi << 0, 1, 0, 1, 0, 0, 1, 1;
  engram::dense_memory<double> memory(xi);
  const auto stop = engram::stop::gradient_norm(1e-10) || engram::stop::after(100000);
  // Cold: every pattern is its own minimum (weights of the others exp(-25) ~ 1e-11).
  engram::lse_energy<double> cold(memory, 50.0);
  const auto sharp = engram::descent_minima(
      cold, xi, xi, engram::gradient_descent<double>{.step = 0.5}, stop, {.tolerance = 1e-6});
  CHECK(sharp.count() == 4);
  CHECK(sharp.emergent_count() == 0);
  CHECK(sharp.retrievable_count() == 4);
  CHECK(sharp.unfinished == 0);
  // Hot: the four merge into one minimum at their mean, which is no stored pattern.
  engram::lse_energy<double> hot(memory, 0.5);
  Md starts(2, 6);
  starts << xi, Vd::Constant(2, 3.0), Vd::Constant(2, -2.0);
  const auto blurred = engram::descent_minima(
      hot, xi, starts, engram::gradient_descent<double>{.step = 0.5}, stop, {.tolerance = 1e-6});
  CHECK(blurred.count() == 1);
  CHECK(blurred.emergent_count() == 1);
  CHECK(blurred.retrievable_count() == 0);
  // Symmetry puts the minimum at the mean; the stop at gradient norm 1e-10 with curvature ~0.9
  // leaves it within ~1e-10 of it.
  CHECK((blurred.minima.col(0) - Vd::Constant(2, 0.5)).norm() < 1e-9);
}

TEST_CASE("Monte Carlo support fraction", "[analysis][support]") {
  Md xi(2, 1);
  xi << 0.5, 0.5;
  engram::dense_memory<double> memory(xi);
  engram::lsr_energy<double> lsr(memory, 2.0 / 0.09);  // a disc of radius 0.3: area 0.2827
  const double f = engram::finite_energy_fraction(lsr, 0.0, 1.0, {.samples = 100000, .seed = 3});
  // Standard error sqrt(0.28 * 0.72 / 1e5) = 1.4e-3; 5 of them.
  CHECK(std::abs(f - std::numbers::pi * 0.09) < 0.007);
  CHECK(f == engram::finite_energy_fraction(lsr, 0.0, 1.0, {.samples = 100000, .seed = 3}));
  engram::lse_energy<double> lse(memory, 10.0);
  CHECK(engram::finite_energy_fraction(lse, 0.0, 1.0, {.samples = 1000}) == 1.0);
  CHECK_THROWS_AS(engram::finite_energy_fraction(lse, 1.0, 1.0), engram::invalid_argument);
}

TEST_CASE("Gaussian mixture densities and samples", "[analysis][mixture]") {
  Md means(3, 1);
  means << 0.2, 0.4, 0.6;
  const engram::gaussian_mixture<double> single(means, 0.1);
  Md x(3, 2);
  x << 0.2, 0.3, 0.4, 0.4, 0.6, 0.5;
  const Vd lp = single.log_density(x);
  // A single isotropic Gaussian: -D/2 log(2 pi sigma^2) - ||x - mu||^2 / (2 sigma^2).
  const double norm = -1.5 * std::log(2 * std::numbers::pi * 0.01);
  CHECK(std::abs(lp(0) - norm) < 1e-12);
  CHECK(std::abs(lp(1) - (norm - 0.02 / 0.02)) < 1e-12);  // ||x - mu||^2 = 0.01 + 0 + 0.01

  Md two(1, 2);
  two << 0, 10;
  const engram::gaussian_mixture<double> pair(two, 1.0);
  Md at(1, 1);
  at << 0;
  // Half the mass of a unit Gaussian at its centre (the other component is 10 sigma away).
  CHECK(std::abs(pair.log_density(at)(0) - std::log(0.5 / std::sqrt(2 * std::numbers::pi))) <
        1e-12);

  const Md s = pair.sample(20000, 9);
  const double left = double((s.array() < 5).count()) / 20000;
  CHECK(std::abs(left - 0.5) < 0.02);  // binomial sd 0.0035
  CHECK(pair.sample(50, 9) == s.leftCols(50));
  // Samples near their components score higher than points between them.
  Md mid(1, 1);
  mid << 5;
  CHECK(pair.mean_log_likelihood(s) > pair.log_density(mid)(0));
  CHECK_THROWS_AS(engram::gaussian_mixture<double>(two, 0.0), engram::invalid_argument);
  CHECK_THROWS_AS(pair.log_density(Md::Zero(2, 1)), engram::dimension_mismatch);
}
