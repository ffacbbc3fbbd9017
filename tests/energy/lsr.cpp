// The log-sum-ReLU (Epanechnikov) energy: direct formula, gradients inside the support,
// unsupported states, exact retrieval, KD-tree against brute force, and the hybrid energy.
#include <engram/engram.hpp>

#include <algorithm>
#include <cmath>
#include <limits>
#include <string>
#include <utility>
#include <vector>

#include "catch.hpp"
#include "support/oracles.hpp"
#include "support/support.hpp"

#if defined(_OPENMP)
#include <omp.h>
#endif

using Index = Eigen::Index;
using Md = Eigen::MatrixXd;
using Vd = Eigen::VectorXd;
namespace stop = engram::stop;

namespace {

using engram_test::central_difference;
using engram_test::uniform;

// The long-double oracle of tests/support/oracles.hpp.
long double direct_lsr(const Md& xi, const Vd& x, double beta, double eps) {
  return engram_test::lsr_oracle(xi, x, beta, eps);
}

// The smallest | ||x - xi_mu||^2 - 2/beta | over memories: how close x is to a kink.
double boundary_gap(const Md& xi, const Vd& x, double beta) {
  return ((xi.colwise() - x).colwise().squaredNorm().array() - 2.0 / beta).abs().minCoeff();
}

double min_pairwise_distance(const Md& xi) {
  double best = std::numeric_limits<double>::infinity();
  for (Index a = 0; a < xi.cols(); ++a)
    for (Index b = a + 1; b < xi.cols(); ++b) best = std::min(best, (xi.col(a) - xi.col(b)).norm());
  return best;
}

}  // namespace

TEST_CASE("lsr energy matches its direct formula, +inf without support", "[energy][lsr]") {
  const Md xi = uniform(1, 3, 30), x = uniform(2, 3, 40);
  engram::dense_memory<double> memory(xi);
  int unsupported = 0, supported = 0;
  for (double beta : {2.0, 20.0, 200.0})
    for (double eps : {0.0, 1e-3}) {
      engram::lsr_energy<double> energy(memory, beta, eps);
      const Vd e = energy.value(x);
      for (Index b = 0; b < x.cols(); ++b) {
        const long double expected = direct_lsr(xi, x.col(b), beta, eps);
        INFO("beta " << beta << " eps " << eps << " column " << b);
        if (std::isinf(expected)) {
          CHECK(e(b) == std::numeric_limits<double>::infinity());
          ++unsupported;
        } else {
          // Sums of O(K) terms of order 1 in double: 1e-12 relative is a wide margin.
          CHECK(std::abs(e(b) - double(expected)) <= 1e-12 * (1 + std::abs(double(expected))));
          ++supported;
        }
      }
    }
  // At beta = 200 (radius 0.1) most of the unit cube is unsupported; at 2 all of it is supported.
  CHECK(unsupported > 20);
  CHECK(supported > 100);
}

TEST_CASE("lsr gradient matches central differences inside the support",
          "[energy][lsr][gradient]") {
  int checked = 0;
  for (Index D : {1, 2, 5, 12})
    for (double beta : {1.0, 10.0, 100.0})
      for (double eps : {0.0, 0.01}) {
        const Md xi = uniform(10 + D, D, 20);
        engram::dense_memory<double> memory(xi);
        engram::lsr_energy<double> energy(memory, beta, eps);
        // Queries near memories so that most are supported.
        Md x = xi.leftCols(8), noise(D, 8);
        engram::philox_source(20 + D).fill_normal(noise, 0);
        x += noise * (0.5 / std::sqrt(beta * double(D)));
        const auto [e, g] = energy.value_and_gradient(x);
        const double h = 1e-6 / std::max(1.0, beta);
        for (Index b = 0; b < x.cols(); ++b) {
          // Skip states whose h-neighbourhood crosses a support boundary (a kink of the ReLU),
          // where no derivative exists: d^2 moves by at most 2 h ||x - xi|| + h^2 < 4h there.
          if (std::isinf(e(b)) || boundary_gap(xi, x.col(b), beta) < 1e-3 / beta) continue;
          for (Index i = 0; i < D; ++i) {
            const double fd = central_difference(
                [&](const Md& p) { return direct_lsr(xi, p, beta, eps); }, x.col(b), i, h);
            // Inside a fixed support E is smooth with curvature ~ beta / (eps + sum w)^2; the
            // truncation error h^2 E''' stays below 1e-8 here, rounding (long double) far below.
            INFO("D " << D << " beta " << beta << " eps " << eps << " coordinate " << i);
            CHECK(std::abs(g(i, b) - fd) <= 1e-6 * (1 + std::abs(fd)));
            ++checked;
          }
        }
      }
  CHECK(checked > 300);
}

TEST_CASE("stored patterns are exact minima when supports are disjoint", "[energy][lsr][minima]") {
  const Md xi = uniform(30, 4, 50);
  engram::dense_memory<double> memory(xi);
  // Support radius half the smallest gap: no memory lies in another's support.
  const double r = 0.5 * min_pairwise_distance(xi), beta = 2.0 / (r * r);
  engram::lsr_energy<double> energy(memory, beta);
  const auto [e, g] = energy.value_and_gradient(xi);
  CHECK(g.cwiseAbs().maxCoeff() == 0.0);  // (1 * xi - xi) / 1, exactly
  CHECK(e.cwiseAbs().maxCoeff() == 0.0);  // -(1/beta) log 1
  // Every nearby state has a higher energy.
  Md noise(4, 50);
  engram::philox_source(31).fill_normal(noise, 0);
  const Vd nearby = energy.value(xi + noise.colwise().normalized() * (0.3 * r));
  CHECK((nearby.array() > e.array()).all());
}

TEST_CASE("two overlapping memories make a minimum at their centroid", "[energy][lsr][minima]") {
  SECTION("in one dimension (seed 002 Fig. 1)") {
    Md xi(1, 2);
    xi << 0, 1;
    engram::dense_memory<double> memory(xi);
    // Radius 0.8: each memory is outside the other's support; both cover 0.5.
    engram::lsr_energy<double> energy(memory, 2.0 / 0.64);
    Md x(1, 5);
    x << 0, 0.5, 1, 0.45, 0.55;
    const auto [e, g] = energy.value_and_gradient(x);
    CHECK(g(0, 0) == 0.0);
    CHECK(g(0, 1) == 0.0);
    CHECK(g(0, 2) == 0.0);
    CHECK(e(1) < e(3));
    CHECK(e(1) < e(4));
    CHECK(energy.supports(x)[1] == std::vector<Index>{0, 1});
    // One centroid step from either side lands on the emergent memory exactly.
    const auto r = engram::retrieve(energy, x.rightCols(2), engram::centroid_iteration<double>{},
                                    stop::after(1));
    CHECK(r.states(0, 0) == 0.5);
    CHECK(r.states(0, 1) == 0.5);
  }
  SECTION("in two dimensions: a triangle has 7 minima") {
    Md xi(2, 3);
    xi << 0, 1, 0.5,  //
        0, 0, std::sqrt(3.0) / 2;
    engram::dense_memory<double> memory(xi);
    // Radius 0.6: edge midpoints (0.5 from two vertices, 0.87 from the third) and the centre
    // (0.577 from all three) are supported by exactly the memories they average.
    engram::lsr_energy<double> energy(memory, 2.0 / 0.36);
    Md minima(2, 7);
    minima << xi, (xi.col(0) + xi.col(1)) / 2, (xi.col(1) + xi.col(2)) / 2,
        (xi.col(0) + xi.col(2)) / 2, xi.rowwise().mean();
    const auto [e, g] = energy.value_and_gradient(minima);
    // The centroid's gradient vanishes to the rounding of its mean (|B| x - sum xi ~ 1e-16).
    CHECK(g.cwiseAbs().maxCoeff() < 1e-14);
    const auto supports = energy.supports(minima);
    CHECK(supports[3] == std::vector<Index>{0, 1});
    CHECK(supports[6] == std::vector<Index>{0, 1, 2});
    // Each is a local minimum: eight directions at distance 0.01 all raise the energy.
    for (Index k = 0; k < 7; ++k)
      for (int a = 0; a < 8; ++a) {
        Vd step(2);
        step << std::cos(a * M_PI / 4), std::sin(a * M_PI / 4);
        CHECK(energy.value(minima.col(k) + 0.01 * step)(0) > e(k));
      }
  }
}

TEMPLATE_TEST_CASE("centroid iteration retrieves within the basin in one step (Theorem 1)",
                   "[dynamics][lsr][exact]", float, double) {
  using M = engram::matrix<TestType>;
  const M xi = uniform(40, 6, 100).template cast<TestType>();
  engram::dense_memory<TestType> memory(xi);
  const double r = min_pairwise_distance(xi.template cast<double>());
  // Theorem 1 needs Delta < r/2 (the support radius r - Delta must exceed Delta); take both a
  // comfortable Delta and one at the edge of that range.
  const double delta = GENERATE(1.0 / 3, 0.49) * r;
  engram::lsr_energy<TestType> energy(memory, TestType(2.0 / ((r - delta) * (r - delta))));
  // Every query lies within delta of its pattern, in a random direction at a random radius.
  M directions(6, 100), radii(1, 100);
  engram::philox_source rng(41);
  rng.fill_normal(directions, 0);
  rng.fill_uniform(radii, 1, TestType(0), TestType(0.99 * delta));
  const M queries = xi + directions.colwise().normalized() * radii.asDiagonal();
  const auto one =
      engram::retrieve(energy, queries, engram::centroid_iteration<TestType>{}, stop::after(1));
  CHECK(one.states == xi);  // bit for bit, after a single step
  const auto full = engram::retrieve(energy, queries, engram::centroid_iteration<TestType>{},
                                     stop::fixed_point() || stop::after(10));
  CHECK(full.all_converged());
  CHECK((full.steps.array() == 2).all());  // moved once, then stood still
  CHECK(full.states == xi);
  CHECK((full.energies.array() == 0).all());
}

namespace {
// LSR counting the fixed-point maps it is asked for: with a support search of their own, and
// read from the last evaluation.
using plain_lsr = engram::lsr_energy<double>;
struct counting_lsr : plain_lsr {
  using plain_lsr::plain_lsr;
  mutable int searched = 0, reused = 0;
  void fixed_point_map(const Eigen::Ref<const Md>& x, Md& out,
                       Eigen::Matrix<Index, Eigen::Dynamic, 1>& counts, workspace_type& ws) const {
    ++searched;
    plain_lsr::fixed_point_map(x, out, counts, ws);
  }
  void fixed_point_from_evaluation(const Eigen::Ref<const Md>& x, Md& out,
                                   Eigen::Matrix<Index, Eigen::Dynamic, 1>& counts,
                                   const workspace_type& ws) const {
    ++reused;
    plain_lsr::fixed_point_from_evaluation(x, out, counts, ws);
  }
};
}  // namespace

TEST_CASE("centroid iteration searches supports once a step, with the same fixed points",
          "[dynamics][lsr][exact]") {
  // 40 patterns in [0,1]^3 with radius 0.35: supports of several memories, so the iteration
  // moves for a few steps. Queries start 0.05 or less from a pattern (never unsupported), the
  // first coordinate clamped in half of them.
  const Md xi = uniform(61, 3, 40);
  const Md queries = xi.leftCols(12) + 0.05 * uniform(62, 3, 12);
  engram::mask clamp(3, 12);
  clamp.setConstant(false);
  clamp.row(0).tail(6).setConstant(true);
  engram::dense_memory<double> memory(xi);
  const counting_lsr energy(memory, 2.0 / (0.35 * 0.35));

  // The reference: x <- the map of x, one support search a step, clamped coordinates kept,
  // each column alone until it stops moving.
  Md fixed = queries;
  std::vector<Index> moves(12, 0);
  {
    auto ws = energy.make_workspace();
    Md out;
    Eigen::Matrix<Index, Eigen::Dynamic, 1> counts;
    for (Index j = 0; j < 12; ++j)
      for (int t = 0; t < 50; ++t) {
        const Md x = fixed.col(j);
        energy.plain_lsr::fixed_point_map(x, out, counts, ws);
        REQUIRE(counts(0) > 0);
        Md next = out;
        if (j >= 6) next(0, 0) = x(0, 0);
        if (next == x) break;
        fixed.col(j) = next;
        ++moves[std::size_t(j)];
      }
  }

  SECTION("every column runs every step: no search of its own") {
    const auto r = engram::retrieve(energy, queries, engram::centroid_iteration<double>{},
                                    stop::after(2), {.clamp = clamp});
    CHECK(energy.reused == 2);
    CHECK(energy.searched == 0);
    for (Index j = 0; j < 12; ++j)
      if (moves[std::size_t(j)] <= 2) CHECK(r.states.col(j) == fixed.col(j));
  }
  SECTION("to the fixed point: a search only after columns leave the batch") {
    const auto r = engram::retrieve(energy, queries, engram::centroid_iteration<double>{},
                                    stop::fixed_point() || stop::after(50), {.clamp = clamp});
    REQUIRE(r.all_converged());
    CHECK(r.states == fixed);  // bit for bit
    const Index steps = r.steps.maxCoeff();
    // One map per step; a full search only on the first step after some columns stopped.
    std::vector<Index> ends(r.steps.data(), r.steps.data() + 12);
    std::sort(ends.begin(), ends.end());
    const auto distinct = Index(std::unique(ends.begin(), ends.end()) - ends.begin());
    CHECK(energy.searched + energy.reused == steps);
    CHECK(energy.searched <= distinct);
    CHECK(energy.reused >= steps - distinct);
    CHECK(std::count(moves.begin(), moves.end(), 0) < 12);  // the iteration did move
  }
}

TEMPLATE_TEST_CASE("dense supports: whole-tile sums are bitwise the member-by-member sums",
                   "[energy][lsr][support]", float, double) {
  // Queries near the middle of [0,1]^D with a radius that holds most memories: the brute-force
  // search computes whole tiles of distances and the energy folds them in whole
  // (compact_tile). Its partial state must be bitwise the one of visiting the members one by
  // one: the KD-tree's path, and sums written out here. D = 5 and 37 leave entries past the
  // last vector; K = 1300 ends on a part tile of 512; B = 70 ends on a block of 6 columns.
  using T = TestType;
  using M = engram::matrix<T>;
  for (Index D : {Index(5), Index(37), Index(64)}) {
    INFO("D = " << D);
    const Index K = 1300, B = 70;
    const M xi = uniform<T>(300 + D, D, K);
    M x = M::Constant(D, B, T(0.5)) + T(0.2) * uniform<T>(310 + D, D, B, T(-1), T(1));
    // A radius at the 70th percentile of the first query's distances: dense, not full.
    std::vector<T> d2(static_cast<std::size_t>(K));
    for (Index mu = 0; mu < K; ++mu) d2[std::size_t(mu)] = (x.col(0) - xi.col(mu)).squaredNorm();
    std::nth_element(d2.begin(), d2.begin() + 910, d2.end());
    const T beta = T(2) / d2[910];
    engram::dense_memory<T> memory(xi);
    engram::lsr_energy<T> brute(memory, beta), tree(memory, beta);
    brute.set_support_method(engram::support_method::brute_force);
    tree.set_support_method(engram::support_method::kd_tree);
    auto ws_brute = brute.make_workspace(), ws_tree = tree.make_workspace();
    engram::vector<T> e_brute(B), e_tree(B);
    M g_brute(D, B), g_tree(D, B);
    brute.evaluate(x, e_brute, &g_brute, ws_brute);
    tree.evaluate(x, e_tree, &g_tree, ws_tree);
    const engram::sum_partial<T>& p = ws_brute.partial;
    REQUIRE(p.count.minCoeff() > K / 2);  // dense: the whole-tile path
    REQUIRE(p.count.maxCoeff() < K);      // and some memories outside
    CHECK(p.count == ws_tree.partial.count);
    CHECK(p.value == ws_tree.partial.value);
    CHECK(p.slope == ws_tree.partial.slope);
    CHECK(p.weighted == ws_tree.partial.weighted);
    CHECK(e_brute == e_tree);
    CHECK(g_brute == g_tree);
    // Member by member, memories ascending, from the search's own exact distances.
    for (Index b = 0; b < B; ++b) {
      T value = 0, slope = 0;
      Index count = 0;
      engram::vector<T> weighted = engram::vector<T>::Zero(D);
      for (Index mu = 0; mu < K; ++mu) {
        const T e = engram::cpu_detail::squared_distance(x.col(b).data(), xi.col(mu).data(), D);
        const T w = engram::epanechnikov::weight(beta, e);
        if (!(w > T(0))) continue;
        value += w;
        slope += engram::epanechnikov::weight_slope(beta, e);
        ++count;
        weighted += xi.col(mu);
      }
      INFO("column " << b);
      CHECK(p.count(b) == count);
      CHECK(p.value(b) == value);
      CHECK(p.slope(b) == slope);
      CHECK(p.weighted.col(b) == weighted);
    }
  }
}

TEMPLATE_TEST_CASE("candidate lists visit the members of the index's own search",
                   "[memory][support]", float, double) {
  using T = TestType;
  using M = engram::matrix<T>;
  for (Index D : {2, 8}) {
    INFO("D = " << D);
    const M xi = uniform<T>(150 + D, D, 3000);
    engram::dense_memory<T> memory(xi);
    const T r = T(0.2) * std::sqrt(T(D));  // tens of members a support in [0,1]^D
    const T r2 = r * r, beta = T(2) / r2;
    engram::radius_index<T> index(memory);
    engram::cpu_workspace<T> ws;
    engram::candidate_cache<T> lists;
    lists.reach = T(0.5);
    // Members (w = 1 - beta/2 d2 > 0, LSR's rounded test) with their distances, per column.
    using visits = std::vector<std::vector<std::pair<Index, T>>>;
    const auto members = [&](const M& x, bool cached) {
      visits out(std::size_t(x.cols()));
      const auto visit = [&](Index b, Index mu, T d2) {
        if (T(1) - T(0.5) * beta * d2 > T(0)) out[std::size_t(b)].emplace_back(mu, d2);
      };
      if (cached)
        index.for_each_candidate(x, r2, visit, ws, lists);
      else
        index.for_each_candidate(x, r2, visit, ws);
      return out;
    };
    // Random walks whose steps straddle the lists' slack of R - r = r/2: some columns keep
    // their lists, others get new ones. Every search must find the members of the plain one,
    // in the same order, with the same distances.
    M x = uniform<T>(160 + D, D, 64);
    M directions(D, 64);
    std::size_t found = 0;
    for (int step = 0; step < 30; ++step) {
      const visits cached = members(x, true), plain = members(x, false);
      for (std::size_t b = 0; b < plain.size(); ++b) {
        CHECK(cached[b] == plain[b]);
        found += plain[b].size();
      }
      engram::philox_source(170 + D).fill_normal(directions, std::uint64_t(step));
      const M lengths = uniform<T>(180 + step, 1, 64, T(0), T(0.7) * r);
      for (Index b = 0; b < 64; ++b) x.col(b) += lengths(0, b) * directions.col(b).normalized();
    }
    CHECK(found > 64 * 30 * 5);  // supports of several members
    // Lists were reused (most steps move less than r/2) and remade (some move more).
    CHECK(lists.lists_made > 64);
    CHECK(lists.lists_made < 64 * 30 / 2);

    // A loop that drops columns compacts the lists with them (gradient_flow::compact): the
    // kept columns, searched where they were, find their lists and need no new ones.
    {
      engram::candidate_cache<T> kept;
      kept.reach = T(0.5);
      const M start = uniform<T>(165 + D, D, 6);
      index.for_each_candidate(
          start, r2, [](Index, Index, T) {}, ws, kept);
      REQUIRE(kept.lists_made == 6u);
      const std::vector<Index> keep{1, 3, 4};
      kept.compact(keep);
      M rest(D, 3);
      for (Index i = 0; i < 3; ++i) rest.col(i) = start.col(keep[std::size_t(i)]);
      visits cached(3), plain(3);
      index.for_each_candidate(
          rest, r2,
          [&](Index b, Index mu, T d2) {
            if (T(1) - T(0.5) * beta * d2 > T(0)) cached[std::size_t(b)].emplace_back(mu, d2);
          },
          ws, kept);
      index.for_each_candidate(
          rest, r2,
          [&](Index b, Index mu, T d2) {
            if (T(1) - T(0.5) * beta * d2 > T(0)) plain[std::size_t(b)].emplace_back(mu, d2);
          },
          ws);
      CHECK(kept.lists_made == 6u);  // every kept column reused its list
      CHECK(cached == plain);
    }

    // A memory on the line of a query's move, a r from its anchor, the query moved d r towards
    // it. Just inside R = 1.5 r and moved just under R - r: a member found on the kept list.
    // Just outside R and moved just over R - r: a member that only a new list holds, so a
    // reuse a little too generous (by 0.2% of r) would lose it.
    struct line_case {
      T a, d;
      bool member;
      std::uint64_t lists;  // lists made: 1 when the move kept the anchor's
    };
    for (const line_case c :
         {line_case{T(1.5 * (1 - 1e-3)), T(0.5 * (1 - 1e-3)), true, 1},
          line_case{T(1.5 * (1 + 1e-3)), T(0.5 + 2e-3), true, 2}, line_case{T(2), T(0.3), false, 1},
          line_case{T(2), T(1.5), true, 2}}) {
      INFO("memory " << c.a << " r from the anchor, moved " << c.d << " r");
      engram::dense_memory<T> one(xi.leftCols(1));
      engram::radius_index<T> near(one);
      engram::candidate_cache<T> kept;
      kept.reach = T(0.5);
      M q = xi.leftCols(1);
      q(0, 0) += c.a * r;
      near.for_each_candidate(
          q, r2, [](Index, Index, T) {}, ws, kept);
      q(0, 0) -= c.d * r;
      std::vector<Index> seen_cached, seen_plain;
      near.for_each_candidate(
          q, r2,
          [&](Index, Index mu, T d2) {
            if (T(1) - T(0.5) * beta * d2 > T(0)) seen_cached.push_back(mu);
          },
          ws, kept);
      near.for_each_candidate(
          q, r2,
          [&](Index, Index mu, T d2) {
            if (T(1) - T(0.5) * beta * d2 > T(0)) seen_plain.push_back(mu);
          },
          ws);
      CHECK(seen_plain.size() == (c.member ? 1u : 0u));
      CHECK(seen_cached == seen_plain);
      CHECK(kept.lists_made == c.lists);
    }
  }
}

TEST_CASE("exact retrieval with candidate lists ends bitwise where it does without them",
          "[dynamics][lsr][exact]") {
  // D = 8, K = 4000 in [0,1]^8, radius 0.45: supports of about ten members; 100 queries start
  // 0.1 from a pattern and walk to the means of their supports.
  const Md xi = uniform(190, 8, 4000);
  engram::dense_memory<double> memory(xi);
  const engram::lsr_energy<double> energy(memory, 2.0 / (0.45 * 0.45));
  const Md queries = xi.leftCols(100) + 0.1 * uniform(191, 8, 100, -1.0, 1.0);
  const auto run = [&](double reach) {
    auto ws = energy.make_workspace();
    ws.candidates.reach = reach;
    engram::gradient_flow<engram::lsr_energy<double>> flow(energy, queries.cols(), {}, ws);
    auto r = engram::integrate(flow, queries, engram::centroid_iteration<double>{},
                               stop::fixed_point() || stop::after(100));
    return std::pair(r, ws.candidates.lists_made);
  };
  const auto [with, made] = run(0.5);
  const auto [without, none] = run(0.0);
  REQUIRE(with.all_converged());
  CHECK(with.states == without.states);  // bit for bit
  CHECK(with.steps == without.steps);
  CHECK(with.energies == without.energies);
  CHECK(none == 0u);
  const Index column_steps = with.steps.sum();
  CHECK(column_steps > 3 * 100);  // the iteration moved for several steps
  CHECK(made >= 100u);
  CHECK(Index(made) < column_steps / 2);  // most searches scanned a kept list
}

TEST_CASE("states without support are reported, never NaN", "[dynamics][lsr][unsupported]") {
  const Md xi = uniform(50, 3, 10);
  engram::dense_memory<double> memory(xi);
  Md queries(3, 3);
  queries << xi.col(0), Vd::Constant(3, 5.0), xi.col(1) + Vd::Constant(3, 0.01);
  engram::lsr_energy<double> energy(memory, 50.0);  // radius 0.2
  const auto [e, g] = energy.value_and_gradient(queries);
  CHECK(e(1) == std::numeric_limits<double>::infinity());
  CHECK(g.col(1).isZero(0));
  CHECK(g.allFinite());

  const auto r = engram::retrieve(energy, queries, engram::gradient_descent<double>{.step = 0.01},
                                  stop::gradient_norm(1e-10) || stop::after(5000));
  CHECK(r.unsupported(1));
  CHECK_FALSE(r.converged(1));
  CHECK(r.steps(1) == 0);
  CHECK(r.states.col(1) == queries.col(1));
  CHECK_FALSE(r.unsupported(0));
  CHECK_FALSE(r.unsupported(2));
  CHECK(r.converged(2));
  CHECK((r.states.col(2) - xi.col(1)).norm() < 1e-8);  // gradient norm 1e-10 at curvature ~1

  // With eps > 0 the same state is supported-in-energy: finite, flat, and converged at once.
  engram::lsr_energy<double> floored(memory, 50.0, 1e-6);
  // -(1/beta) log eps, to rounding of the log.
  CHECK(std::abs(floored.value(queries)(1) - (-std::log(1e-6) / 50.0)) < 1e-14);
  const auto rf = engram::retrieve(floored, queries.col(1), engram::gradient_descent<double>{},
                                   stop::gradient_norm(1e-10) || stop::after(10));
  CHECK_FALSE(rf.unsupported(0));
  CHECK(rf.converged(0));
  CHECK(rf.steps(0) == 0);
}

TEST_CASE("descent inside the support never raises the lsr energy", "[dynamics][lsr][descent]") {
  const Md xi = uniform(60, 5, 40);
  engram::dense_memory<double> memory(xi);
  engram::lsr_energy<double> energy(memory, 8.0, 0.0);
  Md noise(5, 10);
  engram::philox_source(61).fill_normal(noise, 0);
  const Md queries = xi.leftCols(10) + 0.1 * noise;
  const auto r = engram::retrieve(energy, queries, engram::gradient_descent<double>{.step = 0.01},
                                  stop::after(300), {.record_trace = true});
  CHECK_FALSE(r.unsupported.any());
  for (Index t = 1; t < r.energy_trace.rows(); ++t)
    for (Index b = 0; b < 10; ++b) {
      // A step of 0.01 is far below 1/L with L ~ beta |B| / (eps + sum w); 1e-12 is rounding.
      INFO("step " << t << " column " << b);
      CHECK(r.energy_trace(t, b) <= r.energy_trace(t - 1, b) + 1e-12);
    }
}

TEST_CASE("KD-tree and brute-force supports agree", "[memory][support]") {
  for (Index D : {2, 8, 20}) {
    const Md xi = uniform(70 + D, D, 600);
    engram::dense_memory<double> memory(xi);
    const double beta = 2.0 / (0.35 * 0.35 * double(D) / 2);  // radius grows with sqrt(D)
    const double r2 = 2.0 / beta;
    // Random queries plus queries placed just inside and just outside a support boundary.
    Md queries(D, 300);
    queries.leftCols(200) = uniform(80 + D, D, 200);
    Md directions(D, 100);
    engram::philox_source(90 + D).fill_normal(directions, 0);
    directions = directions.colwise().normalized();
    for (Index k = 0; k < 100; ++k) {
      const double scale = k % 2 == 0 ? 1 - 1e-12 : 1 + 1e-12;
      queries.col(200 + k) = xi.col(k) + std::sqrt(r2) * scale * directions.col(k);
    }
    engram::lsr_energy<double> kd(memory, beta, 0.0, engram::support_method::kd_tree);
    engram::lsr_energy<double> brute(memory, beta, 0.0, engram::support_method::brute_force);
    REQUIRE(kd.search().resolved() == engram::support_method::kd_tree);
    REQUIRE(brute.search().resolved() == engram::support_method::brute_force);
    const auto sk = kd.supports(queries), sb = brute.supports(queries);
    std::size_t members = 0;
    for (std::size_t b = 0; b < sk.size(); ++b) {
      CHECK(sk[b] == sb[b]);
      members += sk[b].size();
    }
    CHECK(members > 300);  // the comparison is not between empty sets
    // A small batch splits the memories across threads (1 query block, 2 memory tiles each
    // chunk): it must find the same supports in the same order.
#if defined(_OPENMP)
    const int saved = omp_get_max_threads();
    omp_set_num_threads(4);
#endif
    const auto small = brute.supports(queries.middleCols(200, 3));
#if defined(_OPENMP)
    omp_set_num_threads(saved);
#endif
    for (std::size_t b = 0; b < 3; ++b) CHECK(small[b] == sk[200 + b]);
    const auto [ek, gk] = kd.value_and_gradient(queries);
    const auto [eb, gb] = brute.value_and_gradient(queries);
    CHECK(ek == eb);  // same members in the same order: identical sums
    CHECK(gk == gb);
    // And both agree with the definition, member by member, from exact differences.
    for (Index b = 0; b < queries.cols(); ++b)
      for (Index mu = 0; mu < xi.cols(); ++mu) {
        const bool member = 1 - 0.5 * beta * (queries.col(b) - xi.col(mu)).squaredNorm() > 0;
        const auto& s = sk[std::size_t(b)];
        CHECK(member == std::binary_search(s.begin(), s.end(), mu));
      }
  }
  // A KD-tree follows the memory it indexes through add() and remove().
  engram::dense_memory<double> memory(uniform(99, 2, 100));
  engram::lsr_energy<double> kd(memory, 50.0, 0.0, engram::support_method::kd_tree);
  Md probe(2, 1);
  probe << 3, 3;
  CHECK(kd.supports(probe)[0].empty());
  memory.add(probe);
  CHECK(kd.supports(probe)[0] == std::vector<Index>{100});
  memory.remove(100);
  CHECK(kd.supports(probe)[0].empty());
}

TEST_CASE("the automatic support method times both and changes no result", "[memory][support]") {
  // D = 8: the KD-tree or brute force may win depending on K and the support size, so
  // `automatic` probes both on the first search. Whatever it picks, energies, gradients and
  // supports are those of each explicit method to the bit (both visit the same members in the
  // same order).
  const Md xi = uniform(140, 8, 2000);
  engram::dense_memory<double> memory(xi);
  const double beta = 2.0 / (0.45 * 0.45);  // about ten members a support in [0,1]^8
  const Md queries = uniform(141, 8, 150);
  engram::lsr_energy<double> automatic(memory, beta);
  engram::lsr_energy<double> kd(memory, beta, 0.0, engram::support_method::kd_tree);
  engram::lsr_energy<double> brute(memory, beta, 0.0, engram::support_method::brute_force);
  // Before any search: resolve()'s rule (the KD-tree at D <= 8).
  CHECK(automatic.search().resolved() == engram::support_method::kd_tree);
  const auto [ea, ga] = automatic.value_and_gradient(queries);
  const auto chosen = automatic.search().resolved();
  INFO("the probe chose " << engram::to_string(chosen));
  CHECK(chosen != engram::support_method::automatic);
  const auto [ek, gk] = kd.value_and_gradient(queries);
  const auto [eb, gb] = brute.value_and_gradient(queries);
  CHECK(ea == ek);
  CHECK(ga == gk);
  CHECK(ea == eb);
  CHECK(ga == gb);
  std::size_t members = 0;
  for (const auto& s : automatic.supports(queries)) members += s.size();
  CHECK(members > 150 * 3);  // supports of several members: both methods do real work
  // The choice is kept for this memory and radius: later searches do not probe again.
  automatic.value(queries.leftCols(5));
  CHECK(automatic.search().resolved() == chosen);
  // A copy of the energy shares the choice.
  const engram::lsr_energy<double> copy = automatic;
  CHECK(copy.search().resolved() == chosen);
  // Where the KD-tree cannot win (D > 16) there is no probe: brute force throughout.
  const Md wide = uniform(142, 20, 300);
  engram::dense_memory<double> wide_memory(wide);
  engram::lsr_energy<double> wide_energy(wide_memory, 2.0 / 2.0);
  wide_energy.value(uniform(143, 20, 10));
  CHECK(wide_energy.search().resolved() == engram::support_method::brute_force);
}

TEST_CASE("lsr energies reject bad input", "[energy][lsr][errors]") {
  const Md xi = uniform(100, 3, 5);
  engram::dense_memory<double> memory(xi);
  CHECK_THROWS_AS(engram::lsr_energy<double>(memory, 0.0), engram::invalid_argument);
  try {
    engram::lsr_energy<double>(memory, 1.0, -0.5);
    FAIL("no exception");
  } catch (const engram::invalid_argument& e) {
    CHECK(std::string(e.what()) == "dense_params.eps is -0.5; it must be finite and at least 0");
  }
  engram::lsr_energy<double> energy(memory, 1.0);
  CHECK_THROWS_AS(energy.value(Md::Zero(2, 1)), engram::dimension_mismatch);
  Md bad = Md::Zero(3, 1);
  bad(0, 0) = std::nan("");
  CHECK_THROWS_AS(energy.gradient(bad), engram::not_finite);
  CHECK_THROWS_AS(energy.supports(bad), engram::not_finite);
  CHECK_THROWS_AS(engram::hybrid_energy<double>(memory, 1.0, 0.0, 10.0), engram::invalid_argument);
}

TEST_CASE("the hybrid energy keeps LSR's minima and pulls from outside", "[energy][hybrid]") {
  const Md xi = uniform(110, 3, 12);
  engram::dense_memory<double> memory(xi);
  const double r = 0.5 * min_pairwise_distance(xi), beta = 2.0 / (r * r), eps = 1e-3;
  engram::lsr_energy<double> lsr(memory, beta, eps);
  engram::hybrid_energy<double> hybrid(memory, beta, eps, /*lse_beta=*/4 * beta, /*weight=*/2.0);

  // On the support the hybrid is LSR, value and gradient, bit for bit.
  Md inside = xi, noise(3, 12);
  engram::philox_source(111).fill_normal(noise, 0);
  inside += noise.colwise().normalized() * (0.7 * r);
  const auto [el, gl] = lsr.value_and_gradient(inside);
  const auto [eh, gh] = hybrid.value_and_gradient(inside);
  CHECK(el == eh);
  CHECK(gl == gh);
  CHECK(hybrid.gradient(xi).cwiseAbs().maxCoeff() == 0.0);  // stored patterns stay fixed points

  // Outside, LSR is flat but the hybrid's gradient is weight * grad E_LSE, non-zero.
  Md outside(3, 4);
  outside << 2, -1, 3, 0.5,  //
      2, -1, 0, 4,           //
      -2, 2, 1, 0.5;
  CHECK(lsr.gradient(outside).isZero(0));
  const Md go = hybrid.gradient(outside);
  const Md expected = 2.0 * hybrid.lse().gradient(outside);
  CHECK((go - expected).cwiseAbs().maxCoeff() == 0.0);
  // The outside points are over 1 from every memory in the unit cube, where grad E_LSE = x -
  // (a convex combination of memories) has norm near that distance: 0.1 is far below it.
  CHECK((go.colwise().norm().array() > 0.1).all());

  // Its gradient matches central differences away from the kinks.
  const double h = 1e-7;
  for (Index b = 0; b < outside.cols(); ++b)
    for (Index i = 0; i < 3; ++i) {
      const double fd =
          central_difference([&](const Md& p) { return hybrid.value(p)(0); }, outside.col(b), i, h);
      // Energies of order 1 in double: rounding eps |E| / h ~ 1e-9, truncation h^2 ~ 1e-14.
      CHECK(std::abs(go(i, b) - fd) <= 1e-6 * (1 + std::abs(fd)));
    }

  // Descent from far away enters a support and ends on a stored pattern (disjoint supports),
  // which centroid iteration then makes exact.
  const auto far = engram::retrieve(hybrid, outside, engram::gradient_descent<double>{.step = 0.05},
                                    stop::gradient_norm(1e-9) || stop::after(20000));
  CHECK(far.all_converged());
  const auto exact = engram::retrieve(hybrid, far.states, engram::centroid_iteration<double>{},
                                      stop::fixed_point() || stop::after(10));
  for (Index b = 0; b < outside.cols(); ++b) {
    Index nearest = 0;
    (xi.colwise() - exact.states.col(b)).colwise().squaredNorm().minCoeff(&nearest);
    CHECK(exact.states.col(b) == xi.col(nearest));
  }
}

TEST_CASE("float supports far from the origin follow exact differences", "[memory][support]") {
  // SCIENCE.md: expanding ||x - xi||^2 in float misplaces memories near the boundary when the
  // data sit far from the origin. Memories in [100, 101]^4 with radius 0.1: ||x||^2 ~ 4e4, so
  // the expansion errs by ~4e4 * 6e-8 = 2.4e-3, a quarter of r^2 = 0.01.
  Eigen::MatrixXf xi(4, 400), queries(4, 400);
  engram::philox_source rng(120);
  rng.fill_uniform(xi, 0, 100.f, 101.f);
  Eigen::MatrixXf directions(4, 400);
  rng.fill_normal(directions, 1);
  const float r = 0.1f;
  for (Index k = 0; k < 400; ++k)  // half just inside, half just outside a support ball
    queries.col(k) =
        xi.col(k) + r * (k % 2 == 0 ? 0.999f : 1.001f) * directions.col(k).normalized();
  engram::dense_memory<float> memory(xi);
  const float beta = 2.f / (r * r);
  engram::lsr_energy<float> kd(memory, beta, 0.f, engram::support_method::kd_tree);
  engram::lsr_energy<float> brute(memory, beta, 0.f, engram::support_method::brute_force);
  const auto sk = kd.supports(queries), sb = brute.supports(queries);
  int disagreements = 0;
  for (Index b = 0; b < 400; ++b) {
    CHECK(sk[std::size_t(b)] == sb[std::size_t(b)]);
    // The definition in double, from the same float data: a 0.1% change of the radius is 2e-5
    // of r^2, far above the float rounding of the difference form (~1e-7 relative).
    const bool inside = (queries.col(b) - xi.col(b)).cast<double>().squaredNorm() < double(r) * r;
    disagreements +=
        inside != std::binary_search(sk[std::size_t(b)].begin(), sk[std::size_t(b)].end(), b);
  }
  CHECK(disagreements == 0);
}

TEST_CASE("centroid iteration steps the hybrid energy in from outside", "[dynamics][hybrid]") {
  Md xi(2, 2);
  xi << 0, 1, 0, 0;
  engram::dense_memory<double> memory(xi);
  engram::hybrid_energy<double> hybrid(memory, 2.0 / 0.09, 1e-3, 100.0);  // radius 0.3
  Md far(2, 1);
  far << -1, 0.5;
  // Without an outside step the column stands still and a fixed-point rule would stop it.
  const auto still = engram::retrieve(hybrid, far, engram::centroid_iteration<double>{},
                                      stop::fixed_point() || stop::after(5));
  CHECK(still.states == far);
  // With one, it descends the LSE term into the support of memory 0 and then lands on it.
  const auto moving =
      engram::retrieve(hybrid, far, engram::centroid_iteration<double>{.outside_step = 0.2},
                       stop::fixed_point() || stop::after(500));
  CHECK(moving.converged(0));
  CHECK(moving.states.col(0) == xi.col(0));
}
