// Regression tests for the findings of an outside audit (bad input, silent non-finite results,
// wrong exception types, nondeterminism): each case feeds the input the audit reported and
// checks the typed error, its message, or the corrected result.
#include <engram/engram.hpp>
#include <engram/io.hpp>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <limits>
#include <string>
#include <vector>

#include "catch.hpp"
#include "support/files.hpp"
#include "support/support.hpp"

namespace fs = std::filesystem;
using Catch::Matchers::Contains;
using engram_test::scratch_dir;
using engram_test::uniform;
using engram_test::write_bytes;
using Md = Eigen::MatrixXd;

TEST_CASE("IDX headers whose sizes wrap are refused", "[audit][io][idx]") {
  scratch_dir dir("audit_idx_wrap");
  // Rank 3, 0 items of 0xffffffff x 0xffffffff values: the item size wraps a signed count.
  const fs::path wrapped = dir.path / "wrapped.idx";
  write_bytes(wrapped, {0, 0, 8, 3, 0, 0, 0, 0, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff});
  REQUIRE_THROWS_AS(engram::io::read_idx<float>(wrapped), engram::parse_error);
  REQUIRE_THROWS_WITH(engram::io::read_idx<float>(wrapped), Contains("wrapped.idx"));
  // Rank 5, [0, 65536, 65536, 65536, 65536]: the product is 2^64, which wraps to 0.
  const fs::path zero = dir.path / "zero.idx";
  std::vector<unsigned char> bytes = {0, 0, 8, 5, 0, 0, 0, 0};
  for (int i = 0; i < 4; ++i) bytes.insert(bytes.end(), {0, 1, 0, 0});
  write_bytes(zero, bytes);
  REQUIRE_THROWS_AS(engram::io::read_idx<float>(zero), engram::parse_error);
  REQUIRE_THROWS_WITH(engram::io::read_idx<float>(zero), Contains("overflows"));
}

TEST_CASE("IDX files claiming more values than the limit are refused before reading",
          "[audit][io][idx]") {
  scratch_dir dir("audit_idx_limit");
  // 2^20 images of 28 x 28 declared, 16 bytes of data present: refused by the limit, not by a
  // truncation found after growing the result.
  const fs::path big = dir.path / "big.idx";
  write_bytes(big, {0, 0, 8, 3, 0, 0x10, 0, 0, 0, 0,  0,  28, 0,  0,  0,  28,
                    1, 2, 3, 4, 5, 6,    7, 8, 9, 10, 11, 12, 13, 14, 15, 16});
  const engram::io::idx_limits small{.max_values = 1 << 20};
  REQUIRE_THROWS_AS(engram::io::read_idx<float>(big, -1, small), engram::invalid_argument);
  REQUIRE_THROWS_WITH(
      engram::io::read_idx<float>(big, -1, small),
      Contains("big.idx") && Contains("822083584 values") && Contains("max_values"));
  // Raising the limit lets the read reach the data, which is then found truncated.
  const engram::io::idx_limits raised{.max_values = std::uint64_t(1) << 30};
  REQUIRE_THROWS_AS(engram::io::read_idx<float>(big, -1, raised), engram::parse_error);
  // Reading a few items stays under the default limit.
  const engram::matrix<float> first = engram::io::read_idx<float>(
      dir.path / "big.idx", 0, engram::io::idx_limits{.max_values = 784});
  CHECK(first.rows() == 784);
  CHECK(first.cols() == 0);
}

TEST_CASE("PNG grids too large to address are refused, and nothing is written",
          "[audit][io][png]") {
  scratch_dir dir("audit_png");
  const Md images = Md::Constant(4, 3, 0.5);
  const fs::path out = dir.path / "grid.png";
  engram::io::image_grid grid{.height = 2, .width = 2, .zoom = Eigen::Index(1) << 40};
  REQUIRE_THROWS_AS(engram::io::write_png_grid(out, images, grid), engram::invalid_argument);
  grid.zoom = 1 << 20;  // every setting allowed, the picture 2^21 x 2^21: too many pixels
  REQUIRE_THROWS_AS(engram::io::write_png_grid(out, images, grid), engram::invalid_argument);
  REQUIRE_THROWS_WITH(engram::io::write_png_grid(out, images, grid), Contains("zoom 1048576"));
  grid.zoom = 1;
  grid.padding = std::numeric_limits<Eigen::Index>::max() / 2;
  REQUIRE_THROWS_AS(engram::io::write_png_grid(out, images, grid), engram::invalid_argument);
  grid.padding = 2;
  grid.lo = -std::numeric_limits<double>::infinity();
  REQUIRE_THROWS_AS(engram::io::write_png_grid(out, images, grid), engram::invalid_argument);
  CHECK_FALSE(fs::exists(out));
  CHECK_FALSE(fs::exists(out.string() + ".part"));
}

TEST_CASE("write_idx refuses a double that float cannot hold", "[audit][io][idx]") {
  scratch_dir dir("audit_idx_float");
  Md items(2, 1);
  items << 1.0, 1e300;
  const fs::path out = dir.path / "items.idx";
  REQUIRE_THROWS_AS(engram::io::write_idx(out, items, {2}, engram::io::idx_type::f32),
                    engram::invalid_argument);
  REQUIRE_THROWS_WITH(engram::io::write_idx(out, items, {2}, engram::io::idx_type::f32),
                      Contains("1e+300") && Contains("f64"));
  CHECK_FALSE(fs::exists(out));
  engram::io::write_idx(out, items, {2}, engram::io::idx_type::f64);  // f64 holds it
  CHECK(engram::io::read_idx<double>(out) == items);
}

TEST_CASE("energies leaving the scalar range are refused with advice that fits",
          "[audit][energy]") {
  // beta = 1e-38 in float: -(1/beta) log(sum of 60 weights ~ 1) is below -FLT_MAX.
  const engram::matrix<float> xi = uniform<float>(3, 3, 60);
  engram::dense_memory<float> memory(xi);
  const engram::lsr_energy<float> lsr(memory, 1e-38f);
  REQUIRE_THROWS_AS(lsr.value(xi.leftCols(2)), engram::not_finite);
  // The caller already uses the log scaling: the message must not advise it.
  REQUIRE_THROWS_WITH(lsr.value(xi.leftCols(2)), !Contains("use the log scaling"));
  const engram::lse_energy<float> lse(memory, 1e-38f);
  REQUIRE_THROWS_AS(lse.value(xi.leftCols(2)), engram::not_finite);
}

TEST_CASE("gaussian_mixture refuses sigmas whose square leaves the normal range",
          "[audit][analysis]") {
  const Md means = uniform(4, 2, 3);
  REQUIRE_THROWS_AS(engram::gaussian_mixture<double>(means, 1e-200), engram::invalid_argument);
  REQUIRE_THROWS_AS(engram::gaussian_mixture<double>(means, 1e200), engram::invalid_argument);
  REQUIRE_THROWS_WITH(engram::gaussian_mixture<double>(means, 1e200), Contains("sigma"));
  // sigma^2 = 1e-300 is normal, but a point 1e5 away gives d^2 / sigma^2 beyond double.
  const engram::gaussian_mixture<double> narrow(means, 1e-150);
  REQUIRE_THROWS_AS(narrow.log_density(Md::Constant(2, 1, 1e5)), engram::not_finite);
  CHECK(std::isfinite(narrow.log_density(means.col(0))(0)));  // at a mean it is finite
}

TEST_CASE("DrDAM's bounds refuse counts of zero and results beyond double", "[audit][analysis]") {
  REQUIRE_THROWS_AS(engram::drdam_corollary_step(0.5, 0, 10, 1.0), engram::invalid_argument);
  REQUIRE_THROWS_AS(engram::drdam_corollary_step(0.5, -3, 10, 1.0), engram::invalid_argument);
  REQUIRE_THROWS_AS(engram::drdam_corollary_step(0.5, 10, 0, 1.0), engram::invalid_argument);
  // e^{beta/2} overflows from beta ~ 1420 on: the step would underflow to 0.
  REQUIRE_THROWS_AS(engram::drdam_corollary_step(0.5, 10, 10, 2000.0), engram::not_finite);
  // At beta = 1 the formula by hand: 0.5 / (10 (1 + 20 e^{0.5})).
  CHECK(engram::drdam_corollary_step(0.5, 10, 10, 1.0) ==
        Approx(0.5 / (10 * (1 + 20 * std::exp(0.5)))).epsilon(1e-14));

  const double nan = std::numeric_limits<double>::quiet_NaN();
  REQUIRE_THROWS_AS(engram::drdam_divergence_bound(0.01, 10, 1.0, 10, 1.0, nan, 4, 100),
                    engram::invalid_argument);
  REQUIRE_THROWS_AS(engram::drdam_divergence_bound(0.01, 10, 1.0, 10, 2000.0, -0.1, 4, 100),
                    engram::not_finite);
}

TEST_CASE("binarised_hamming refuses states without rows", "[audit][analysis]") {
  REQUIRE_THROWS_AS(engram::binarised_hamming(Md(0, 3), Md(0, 3)), engram::dimension_mismatch);
}

TEST_CASE("a dense memory of negative dimension is a typed error", "[audit][memory]") {
  REQUIRE_THROWS_AS(engram::dense_memory<double>(-3), engram::invalid_argument);
  REQUIRE_THROWS_WITH(engram::dense_memory<double>(-3), Contains("dim is -3"));
}

TEST_CASE("every copy of a duplicated pattern is marked retrievable", "[audit][analysis][lsr]") {
  Md xi(2, 4);
  xi << 0, 1, 0.5, 0, 0, 0, std::sqrt(3.0) / 2, 0;  // a triangle, vertex 0 stored twice
  engram::dense_memory<double> memory(xi);
  const engram::lsr_energy<double> energy(memory, 2.0 / 0.36);  // radius 0.6
  const auto census = engram::enumerate_lsr_minima(energy);
  CHECK(census.retrievable(0));
  CHECK(census.retrievable(3));
  CHECK(census.retrievable_count() == 4);
}

TEST_CASE("DrDAM evaluations are bitwise repeatable on several threads", "[audit][drdam]") {
  // 8 tiles of 64 features over the threads of the team: the combine order must not depend on
  // which thread ran which tile.
  const Eigen::Index d = 16;
  const Md xi = uniform(5, d, 40, 0.0, 0.25);
  engram::distributed_memory<engram::sincos_features, double> memory(
      engram::random_features<engram::sincos_features, double>(d, 512, 4.0, 9, {.tile = 64}), xi);
  const engram::drdam_energy<engram::sincos_features, double> energy(memory);
  const Md queries = uniform(6, d, 32, 0.0, 0.25);
  const auto first = energy.value_and_gradient(queries);
  for (int repeat = 0; repeat < 20; ++repeat) {
    const auto again = energy.value_and_gradient(queries);
    REQUIRE(again.value == first.value);
    REQUIRE(again.gradient == first.gradient);
  }
}

TEST_CASE("DrDAM columns thrown out of the features' range are not called converged",
          "[audit][drdam][dynamics]") {
  const Eigen::Index d = 8;
  const Md xi = uniform(7, d, 10, 0.0, 0.35);
  using map = engram::random_features<engram::exp_features, double>;
  engram::distributed_memory<engram::exp_features, double> memory(map(d, 256, 10.0, 3), xi);
  const engram::drdam_energy<engram::exp_features, double> energy(memory);
  // A step of 1e300 throws every column to where beta ||x||^2 overflows and every feature is
  // 0 or NaN, so <T, phi(x)> is clipped and the gradient is zero: the audit saw such columns
  // reported converged. Each must end unsupported (at the clip) or diverged.
  const auto r =
      engram::retrieve(energy, xi.leftCols(3), engram::gradient_descent<double>{.step = 1e300},
                       engram::stop::gradient_norm(1e-12) || engram::stop::after(50));
  for (Eigen::Index b = 0; b < 3; ++b) {
    INFO("column " << b << ", state norm " << r.states.col(b).norm());
    CHECK_FALSE(r.converged(b));
    CHECK((r.unsupported(b) || r.diverged(b)));
  }
  // A column that starts where no pattern reaches: at x = 1.9 (1, ..., 1), beta ||x||^2 = 289
  // stays inside the exp map's range, but exp(-beta/2 ||x - xi||^2) ~ e^-120 for every
  // pattern, and so is the estimate: it is clipped, and the column unsupported at once, at
  // the ceiling -(1/beta) log eps.
  const auto far = engram::retrieve(energy, Md::Constant(d, 1, 1.9),
                                    engram::gradient_descent<double>{.step = 0.1},
                                    engram::stop::gradient_norm(1e-12) || engram::stop::after(5));
  CHECK(far.unsupported(0));
  CHECK_FALSE(far.converged(0));
  CHECK(far.steps(0) == 0);
  CHECK(far.energies(0) == -std::log(1e-5) / 10.0);
  CHECK(energy.ceiling() == -std::log(1e-5) / 10.0);
}

TEST_CASE("a progress callback that throws leaves the energy and its workspace usable",
          "[audit][dynamics]") {
  const Md xi = uniform(8, 3, 12);
  engram::dense_memory<double> memory(xi);
  const engram::lse_energy<double> energy(memory, 8.0);
  const Md queries = xi.leftCols(5) + 0.05 * uniform(9, 3, 5, -1.0, 1.0);
  auto workspace = energy.make_workspace();
  const auto descent = engram::gradient_descent<double>{.step = 0.01};
  const auto rule = engram::stop::after(20);
  const auto clean = engram::retrieve(energy, queries, descent, rule, {}, workspace);
  struct cancelled {};
  engram::retrieve_options cancelling;
  cancelling.progress = [](const engram::retrieval_progress& p) {
    if (p.step == 7) throw cancelled{};  // the caller's own exception type passes through
  };
  CHECK_THROWS_AS(engram::retrieve(energy, queries, descent, rule, cancelling, workspace),
                  cancelled);
  // The same workspace afterwards gives the clean result bit for bit.
  const auto again = engram::retrieve(energy, queries, descent, rule, {}, workspace);
  CHECK(again.states == clean.states);
  CHECK(again.energies == clean.energies);
}
