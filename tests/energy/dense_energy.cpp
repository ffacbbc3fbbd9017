// Energies: dense LSE (L2 and dot similarity) and linear-scaling variants against direct
// formulas, analytic gradients against central differences, numerical range, tiling, errors.
#include <engram/engram.hpp>

#include <cmath>
#include <limits>
#include <string>
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

namespace {

using engram_test::model;
// The long-double oracle of tests/support/oracles.hpp, under this file's old name.
long double direct_energy(model m, const Md& xi, const Vd& x, double beta) {
  return engram_test::exponential_oracle(m, xi, x, beta);
}

template <class Energy>
model model_of() {
  using K = typename Energy::kernel_type;
  constexpr bool l2 = K::similarity == engram::similarity_kind::l2;
  if constexpr (std::is_same_v<typename Energy::scaling_type, engram::log_scaling>)
    return l2 ? model::lse_l2 : model::lse_dot;
  else
    return l2 ? model::linear_l2 : model::linear_dot;
}

using engram_test::uniform;

const std::vector<double> betas = {1e-3, 1e-2, 1e-1, 1, 10, 100, 1e3, 1e4};

using lse_d = engram::lse_energy<double>;
using lse_dot_d = engram::lse_dot_energy<double>;
using lin_l2_d = engram::dense_energy<engram::gaussian, engram::linear_scaling, double>;
using lin_dot_d = engram::dense_energy<engram::exp_dot, engram::linear_scaling, double>;

}  // namespace

TEMPLATE_TEST_CASE("dense energies match their direct formulas", "[energy][lse]", lse_d, lse_dot_d,
                   lin_l2_d, lin_dot_d) {
  const engram::philox_source rng(11);
  const model m = model_of<TestType>();
  std::uint64_t stream = 0;
  for (Index D : {1, 3, 17})
    for (Index K : {1, 5, 40})
      for (double beta : betas) {
        // Linear dot energies grow like exp(beta <xi, x>); keep them in double's range.
        if (m == model::linear_dot && beta * double(D) > 500) continue;
        const Md xi = uniform(rng, stream++, D, K), x = uniform(rng, stream++, D, 3);
        engram::dense_memory<double> memory(xi);
        TestType energy(memory, beta);
        const Vd e = energy.value(x);
        for (Index b = 0; b < x.cols(); ++b) {
          const double expected = double(direct_energy(m, xi, x.col(b), beta));
          // The library expands ||x - xi||^2 = ||x||^2 - 2<x, xi> + ||xi||^2 in double: its
          // error is a few ulps of ||x||^2 + ||xi||^2 (< 2D), far below 1e-10 relative.
          INFO("D " << D << " K " << K << " beta " << beta);
          CHECK(std::abs(e(b) - expected) <= 1e-10 * (1 + std::abs(expected)));
        }
      }
}

TEMPLATE_TEST_CASE("dense energy gradients match central differences", "[energy][gradient]", lse_d,
                   lse_dot_d, lin_l2_d, lin_dot_d) {
  const engram::philox_source rng(12);
  const model m = model_of<TestType>();
  std::uint64_t stream = 100;
  int checked = 0, informative = 0;
  for (Index D : {1, 2, 7, 16})
    for (Index K : {1, 3, 25})
      for (double beta : betas) {
        if (m == model::linear_dot && beta * double(D) > 500) continue;
        const Md xi = uniform(rng, stream++, D, K);
        // Two queries anywhere in the unit box and one at beta/2 ||x - xi_0||^2 ~ 1/4, where the
        // kernel weights are neither saturated nor underflowing at any beta.
        Md x(D, 3), noise(D, 1);
        x.leftCols(2) = uniform(rng, stream++, D, 2);
        rng.fill_normal(noise, stream++);
        x.col(2) = xi.col(0) + noise * (0.7 / std::sqrt(beta * double(D)));
        engram::dense_memory<double> memory(xi);
        TestType energy(memory, beta);
        const auto [e, g] = energy.value_and_gradient(x);
        CHECK(e == energy.value(x));
        CHECK(g == energy.gradient(x));
        // Third derivatives grow like beta^2 (|xi| <= 1), so h = 1e-3 / max(1, beta) keeps the
        // truncation error h^2 beta^2 / 6 below 2e-7, while rounding stays near eps |E| / h.
        const double h = 1e-3 / std::max(1.0, beta);
        for (Index b = 0; b < x.cols(); ++b)
          for (Index i = 0; i < D; ++i) {
            const double fd = engram_test::central_difference(
                [&](const Md& p) { return direct_energy(m, xi, p, beta); }, x.col(b), i, h);
            INFO("D " << D << " K " << K << " beta " << beta << " coordinate " << i);
            // 1e-6 covers the truncation and rounding budget above with a margin of five.
            CHECK(std::abs(g(i, b) - fd) <= 1e-6 * (1 + std::abs(fd)));
            ++checked;
            informative += std::abs(fd) > 1e-3;  // far above the tolerance: not vacuous
          }
      }
  CHECK(checked > 400);
  CHECK(informative > 150);
}

TEMPLATE_TEST_CASE("log-scaling and Gaussian energies stay finite from beta 1e-3 to 1e4",
                   "[energy][lse][range]", float, double) {
  const engram::philox_source rng(13);
  using M = engram::matrix<TestType>;
  M xi(64, 50), near(64, 4), far(64, 4);
  rng.fill_uniform(xi, 0);
  rng.fill_uniform(near, 1);
  rng.fill_normal(far, 2);
  far *= TestType(30);  // ||x - xi||^2 around 6e4: exponents near -3e8 at beta = 1e4
  engram::dense_memory<TestType> memory(xi);
  const auto finite_everywhere = [&](const auto& energy) {
    for (const M* q : {&near, &far}) {
      const auto [e, g] = energy.value_and_gradient(*q);
      CHECK(e.allFinite());
      CHECK(g.allFinite());
    }
  };
  for (double beta : betas) {
    INFO("beta " << beta);
    finite_everywhere(engram::lse_energy<TestType>(memory, TestType(beta)));
    finite_everywhere(engram::lse_dot_energy<TestType>(memory, TestType(beta)));
    finite_everywhere(engram::dense_energy<engram::gaussian, engram::linear_scaling, TestType>(
        memory, TestType(beta)));
  }

  // Accuracy at the extremes, against the direct formula in long double. At beta = 1e4 the
  // softmax is one-hot (the nearest two patterns differ by ~0.1 in d^2/2, i.e. 1e3 in the
  // exponent), so E = d_min^2/2 and grad E = x - xi_nearest; the expansion of ||x - xi||^2 in
  // the scalar type costs about 40 ulps of ||x||^2 + ||xi||^2 ~ 42: 1e-4 in float, 1e-11 in
  // double. At beta = 1e-3 the energy is ~ -(1/beta) log K = -3.9e3, relative error ~ 1e-6.
  const Md xd = near.template cast<double>(), xid = xi.template cast<double>();
  const double tol = std::is_same_v<TestType, float> ? 1e-4 : 1e-11;
  for (double beta : {1e-3, 1e4}) {
    engram::lse_energy<TestType> energy(memory, TestType(beta));
    const auto [e, g] = energy.value_and_gradient(near);
    for (Index b = 0; b < near.cols(); ++b) {
      const double expected = double(direct_energy(model::lse_l2, xid, xd.col(b), beta));
      INFO("beta " << beta << " column " << b);
      CHECK(std::abs(double(e(b)) - expected) <= tol * (1 + std::abs(expected)));
    }
    if (beta > 1) {
      for (Index b = 0; b < near.cols(); ++b) {
        Index nearest = 0;
        (xid.colwise() - xd.col(b)).colwise().squaredNorm().minCoeff(&nearest);
        CHECK((g.col(b).template cast<double>() - (xd.col(b) - xid.col(nearest)))
                  .cwiseAbs()
                  .maxCoeff() <= tol);
      }
    }
  }
}

TEST_CASE("float and double lse energies agree to float precision", "[energy][lse]") {
  const engram::philox_source rng(14);
  Md xi = uniform(rng, 0, 32, 100), x = uniform(rng, 1, 32, 8);
  engram::dense_memory<double> md(xi);
  engram::dense_memory<float> mf(xi.cast<float>());
  for (double beta : {0.01, 1.0, 10.0, 100.0}) {
    engram::lse_energy<double> ed(md, beta);
    engram::lse_energy<float> ef(mf, float(beta));
    const auto [e1, g1] = ed.value_and_gradient(x);
    const auto [e2, g2] = ef.value_and_gradient(x.cast<float>());
    // Float rounding of ||x||^2 + ||xi||^2 (< 64) costs about 64 * 6e-8 = 4e-6 in d^2/2,
    // amplified by beta in the softmax; at beta = 100 that is 4e-4 relative in the weights.
    const double tol = 1e-5 * std::max(1.0, beta);
    INFO("beta " << beta);
    CHECK((e1 - e2.cast<double>()).cwiseAbs().maxCoeff() <= tol * (1 + e1.cwiseAbs().maxCoeff()));
    CHECK((g1 - g2.cast<double>()).cwiseAbs().maxCoeff() <= tol);
  }
}

TEST_CASE("tiling and partial-state combination do not change the result", "[energy][tiles]") {
  const engram::philox_source rng(15);
  const Md xi = uniform(rng, 0, 9, 37), x = uniform(rng, 1, 9, 11);
  engram::dense_memory<double> memory(xi);
  engram::lse_energy<double> whole(memory, 7.0), tiled(memory, 7.0);
  tiled.set_tiles({.memory_tile = 4, .query_tile = 3});
  // A refused policy leaves the energy's tiles as they were.
  CHECK_THROWS_AS(tiled.set_tiles({.memory_tile = 0, .query_tile = 3}), engram::invalid_argument);
  CHECK(tiled.tiles().memory_tile == 4);
  const auto [e1, g1] = whole.value_and_gradient(x);
  const auto [e2, g2] = tiled.value_and_gradient(x);
  // Different summation orders: a few ulps of the O(1) values (double ulp 2.2e-16).
  CHECK((e1 - e2).cwiseAbs().maxCoeff() < 1e-13);
  CHECK((g1 - g2).cwiseAbs().maxCoeff() < 1e-13);
  // A thin batch (11 queries) with its tiles limited to two patterns' bytes (144 bytes at D = 9)
  // against no limit.
  engram::lse_energy<double> thin(memory, 7.0), unlimited(memory, 7.0);
  thin.set_tiles({.thin_tile_bytes = 2 * 9 * 8});
  unlimited.set_tiles({.thin_tile_bytes = 0});
  const auto [e_thin, g_thin] = thin.value_and_gradient(x);
  const auto [e_unlimited, g_unlimited] = unlimited.value_and_gradient(x);
  CHECK((e1 - e_thin).cwiseAbs().maxCoeff() < 1e-13);
  CHECK((g1 - g_thin).cwiseAbs().maxCoeff() < 1e-13);
  CHECK((e1 - e_unlimited).cwiseAbs().maxCoeff() < 1e-13);
  CHECK((g1 - g_unlimited).cwiseAbs().maxCoeff() < 1e-13);
  // The limit: 256 KiB of float patterns at D = 784 is 83 patterns, for at most 24 queries;
  // beyond, or with no limit, the policy's memory_tile; never more than it, never below one.
  using engram::cpu_detail::reduction_tiles;
  CHECK(reduction_tiles<float>({}, 20, 784).memory_tile == 83);
  CHECK(reduction_tiles<double>({}, 24, 784).memory_tile == 41);
  CHECK(reduction_tiles<float>({}, 25, 784).memory_tile == 512);
  CHECK(reduction_tiles<float>({.thin_tile_bytes = 0}, 20, 784).memory_tile == 512);
  CHECK(reduction_tiles<float>({}, 20, 8).memory_tile == 512);
  CHECK(reduction_tiles<float>({.thin_tile_bytes = 1}, 20, 8).memory_tile == 1);

  // Few query blocks for many threads: the memories are split into chunks whose partial
  // states are combined.
  // With 4 threads and one query block, the memory is cut into 4 chunks a thread
  // (cpu_detail::chunks_per_thread): its 19 tiles of 2 memories go to 16 chunks of 2 tiles,
  // the tenth holds the last tile and the last six none: an empty chunk's partial state
  // (max -inf) must combine as a no-op.
  REQUIRE(engram::cpu_detail::chunks_per_thread == 4);
  engram::lse_energy<double> chunked(memory, 7.0);
  chunked.set_tiles({.memory_tile = 2, .query_tile = 64});
#if defined(_OPENMP)
  const int saved = omp_get_max_threads();
  omp_set_num_threads(4);
  const engram::cpu_detail::split sp(x.cols(), xi.cols(), chunked.tiles());
  CHECK(sp.chunks == 16);
  CHECK(sp.k_begin(9, xi.cols()) == 36);
  CHECK(sp.k_end(9, xi.cols()) == 37);
  CHECK(sp.k_begin(15, xi.cols()) == sp.k_end(15, xi.cols()));
#endif
  const auto [e3, g3] = chunked.value_and_gradient(x);
  const Vd e4 = chunked.value(x);  // the value-only reduction, one GEMM per tile
#if defined(_OPENMP)
  omp_set_num_threads(saved);
#endif
  CHECK((e1 - e3).cwiseAbs().maxCoeff() < 1e-13);
  CHECK((g1 - g3).cwiseAbs().maxCoeff() < 1e-13);
  CHECK((e1 - e4).cwiseAbs().maxCoeff() < 1e-13);

  // Two halves of the memory reduced apart and combined equal the whole reduction: the
  // primitive that MPI ranks and GPU blocks share.
  const Md left = xi.leftCols(20), right = xi.rightCols(17);
  const Vd hl = 0.5 * left.colwise().squaredNorm().transpose();
  const Vd hr = 0.5 * right.colwise().squaredNorm().transpose();
  const Vd hall = 0.5 * xi.colwise().squaredNorm().transpose();
  engram::exp_partial<double> a, b, all;
  engram::cpu_workspace<double> ws;
  engram::exp_reduce(engram::cpu{}, left, hl, -1.0, x, 7.0, true, a, ws);
  engram::exp_reduce(engram::cpu{}, right, hr, -1.0, x, 7.0, true, b, ws);
  engram::exp_reduce(engram::cpu{}, xi, hall, -1.0, x, 7.0, true, all, ws);
  a.combine(b);
  CHECK((a.max - all.max).cwiseAbs().maxCoeff() == 0);
  CHECK(((a.sum - all.sum).array() / all.sum.array()).abs().maxCoeff() < 1e-14);
  CHECK((a.weighted - all.weighted).cwiseAbs().maxCoeff() < 1e-13);
}

TEMPLATE_TEST_CASE("a memory tile packed once for all blocks of queries gives the direct formulas",
                   "[energy][tiles]", float, double) {
  // Blocks of 40 queries (more than thin_columns: packed products) over tiles of 64 memories at
  // D = 37 (k off whole vectors): the 4 blocks of 150 queries share every packed tile (on BLIS's
  // kernel, with 2 to 5 threads: exp_reduce runs memory chunks outermost), the last block with
  // 30 columns; with 130 queries the last block holds 10, which runs on the thin kernels beside
  // packed tiles. K = 270: the last tile holds 14 memories, below the 16 rows that BLIS's kernel
  // takes, so its products run on Eigen beside the packed ones. With 2 threads the 5 tiles go to
  // 4 chunks of 1, 1, 1 and 2 tiles.
  using T = TestType;
  using M = Eigen::Matrix<T, Eigen::Dynamic, Eigen::Dynamic>;
  const engram::philox_source rng(31);
  const Md xi = uniform(rng, 0, 37, 270, -1.0, 1.0);
  engram::dense_memory<T> memory(xi.cast<T>());
  const engram::cpu_tiles tiles{.memory_tile = 64, .query_tile = 40};
#if defined(ENGRAM_USE_BLIS) && defined(_OPENMP)
  {
    namespace cd = engram::cpu_detail;
    const int saved = omp_get_max_threads();
    const bool preferred = cd::blis_kernel<T>::get().preferred;
    omp_set_num_threads(2);
    CHECK(cd::shared_chunks<T>(cd::split(150, 270, tiles), 150, 270, 37, true) ==
          (preferred ? 4 : 0));
    CHECK(cd::shared_chunks<T>(cd::split(40, 270, tiles), 40, 270, 37, true) == 0);  // one block
    // Partial states beyond the budget: 3 chunks' worth of D x B above 16 MiB keeps the
    // per-block path.
    const Index big = (Index(16) << 20) / (3 * Index(sizeof(T)) * 39) + 1;
    CHECK(cd::shared_chunks<T>(cd::split(big, 270, tiles), big, 270, 37, true) == 0);
    CHECK(cd::shared_chunks<T>(cd::split(big, 270, tiles), big, 270, 37, false) ==
          (preferred ? 4 : 0));  // without read-outs a partial is 2 numbers a query
    omp_set_num_threads(8);      // 5 tiles cannot give 8 threads a chunk each
    CHECK(cd::shared_chunks<T>(cd::split(150, 270, tiles), 150, 270, 37, true) == 0);
    omp_set_num_threads(saved);
  }
#endif
  for (const Index batch : {150, 130})
    for (const double beta : {0.5, 8.0}) {
      const Md x =
          uniform(rng, 1 + std::uint64_t(batch) + std::uint64_t(beta), 37, batch, -1.0, 1.0);
      engram::lse_energy<T> energy(memory, T(beta));
      energy.set_tiles(tiles);
      const auto [e, g] = energy.value_and_gradient(M(x.cast<T>()));
      const auto e_only = energy.value(M(x.cast<T>()));  // the reduction without read-outs
      double worst_e = 0, worst_g = 0;
      for (Index b = 0; b < batch; ++b) {
        const double exact = double(direct_energy(model::lse_l2, xi, x.col(b), beta));
        worst_e = std::max(
            {worst_e, std::abs(double(e(b)) - exact), std::abs(double(e_only(b)) - exact)});
        const Vd g_exact = engram_test::lse_gradient_oracle(xi, x.col(b), beta);
        worst_g =
            std::max(worst_g, (g.col(b).template cast<double>() - g_exact).cwiseAbs().maxCoeff());
      }
      INFO("B " << batch << " beta " << beta << " worst energy error " << worst_e << ", gradient "
                << worst_g);
      // Energies of size ~|x - xi|^2 / 2 <= 74 and softmax-weighted sums of 270 patterns in
      // [-1, 1]: a few hundred ulps of the type covers any summation order (float ulp at 74:
      // 7.6e-6; double: 1.4e-14).
      const double tol = std::is_same_v<T, float> ? 2e-3 : 1e-11;
      CHECK(worst_e < tol);
      CHECK(worst_g < tol);
    }
}

TEST_CASE("an energy sees patterns added to and removed from its memory", "[energy][memory]") {
  const engram::philox_source rng(16);
  const Md xi = uniform(rng, 0, 5, 6), x = uniform(rng, 1, 5, 1), extra = uniform(rng, 2, 5, 2);
  engram::dense_memory<double> memory(xi);
  engram::lse_energy<double> energy(memory, 3.0);
  memory.add(extra);
  Md all(5, 8);
  all << xi, extra;
  // Energies of order 1 in double; 1e-12 is the direct-formula agreement of the first test.
  CHECK(std::abs(energy.value(x)(0) - double(direct_energy(model::lse_l2, all, x.col(0), 3.0))) <
        1e-12);
  memory.remove({0, 1, 2, 3, 4, 5});
  CHECK(std::abs(energy.value(x)(0) - double(direct_energy(model::lse_l2, extra, x.col(0), 3.0))) <
        1e-12);
}

TEST_CASE("energies reject bad input with typed errors", "[energy][errors]") {
  Md xi = Md::Identity(4, 3);
  engram::dense_memory<double> memory(xi);
  CHECK_THROWS_AS(engram::lse_energy<double>(memory, 0.0), engram::invalid_argument);
  CHECK_THROWS_AS(engram::lse_energy<double>(memory, -1.0), engram::invalid_argument);
  CHECK_THROWS_AS(engram::lse_energy<double>(memory, std::nan("")), engram::invalid_argument);
  engram::lse_energy<double> energy(memory, 2.0);
  CHECK_THROWS_AS(energy.set_beta(-3.0), engram::invalid_argument);
  CHECK(energy.beta() == 2.0);

  try {
    energy.value(Md::Zero(3, 2));
    FAIL("no exception");
  } catch (const engram::dimension_mismatch& e) {
    CHECK(std::string(e.what()) == "queries has 3 rows, the memory dimension is 4");
  }
  CHECK_THROWS_AS(energy.gradient(Md::Zero(4, 0)), engram::dimension_mismatch);
  Md bad = Md::Zero(4, 2);
  bad(3, 1) = std::numeric_limits<double>::infinity();
  CHECK_THROWS_AS(energy.value_and_gradient(bad), engram::not_finite);

  memory.remove({0, 1, 2});
  try {
    energy.value(Md::Zero(4, 1));
    FAIL("no exception");
  } catch (const engram::empty_memory& e) {
    CHECK(std::string(e.what()) ==
          "the memory holds no patterns; add() some before evaluating the energy");
  }

  // Finite data whose squared norms overflow the scalar type is refused, not turned into NaN.
  Eigen::MatrixXf huge = Eigen::MatrixXf::Constant(4, 1, 1e20f);
  CHECK_THROWS_AS(engram::dense_memory<float>(huge), engram::not_finite);
  engram::dense_memory<float> small(Eigen::MatrixXf::Identity(4, 2));
  CHECK_THROWS_AS(small.add(huge), engram::not_finite);
  CHECK(small.size() == 2);
  engram::lse_energy<float> on_small(small, 1.f);
  CHECK_THROWS_AS(on_small.value(huge), engram::not_finite);

  // A linear dot energy whose sum overflows says so instead of returning inf or NaN.
  engram::dense_memory<double> big(Md::Constant(2, 1, 10.0));
  lin_dot_d overflowing(big, 1e3);
  try {
    overflowing.value(Md::Constant(2, 1, 10.0));
    FAIL("no exception");
  } catch (const engram::not_finite& e) {
    CHECK(std::string(e.what()).find("the energy of query column 0 is -inf") == 0);
  }
}
