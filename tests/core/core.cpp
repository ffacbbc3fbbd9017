// Core: errors and validation, the Philox random source, the dense memory store.
#include <engram/engram.hpp>

#include <cmath>
#include <limits>
#include <string>

#include "catch.hpp"

#if defined(_OPENMP)
#include <omp.h>
#endif

using Index = Eigen::Index;

namespace {

template <class Error, class F>
std::string message_of(F&& f) {
  try {
    f();
  } catch (const Error& e) {
    return e.what();
  }
  FAIL("no exception of the expected type was thrown");
  return {};
}

bool contains(const std::string& s, const std::string& part) {
  return s.find(part) != std::string::npos;
}

}  // namespace

TEST_CASE("every engram error is an engram::error and a std::exception", "[core][error]") {
  STATIC_REQUIRE(std::is_base_of_v<std::exception, engram::error>);
  STATIC_REQUIRE(std::is_base_of_v<engram::error, engram::invalid_argument>);
  STATIC_REQUIRE(std::is_base_of_v<engram::invalid_argument, engram::dimension_mismatch>);
  STATIC_REQUIRE(std::is_base_of_v<engram::invalid_argument, engram::not_finite>);
  STATIC_REQUIRE(std::is_base_of_v<engram::invalid_argument, engram::empty_memory>);
  STATIC_REQUIRE(std::is_base_of_v<engram::error, engram::io_error>);
  STATIC_REQUIRE(std::is_base_of_v<engram::io_error, engram::parse_error>);
}

TEST_CASE("validation helpers name the argument and the values", "[core][error]") {
  Eigen::MatrixXf m = Eigen::MatrixXf::Zero(3, 2);
  m(1, 1) = std::numeric_limits<float>::quiet_NaN();
  const auto nan_msg =
      message_of<engram::not_finite>([&] { engram::require_finite("queries", m); });
  CHECK(contains(nan_msg, "queries"));
  CHECK(contains(nan_msg, "(1, 1)"));

  const auto beta_msg =
      message_of<engram::invalid_argument>([] { engram::require_positive("beta", -2.0); });
  CHECK(contains(beta_msg, "beta is -2"));
  CHECK_THROWS_AS(engram::require_positive("beta", 0.0), engram::invalid_argument);
  CHECK_THROWS_AS(engram::require_positive("beta", std::numeric_limits<double>::infinity()),
                  engram::invalid_argument);
  CHECK_THROWS_AS(engram::require_positive("beta", std::nan("")), engram::invalid_argument);

  const auto rows_msg = message_of<engram::dimension_mismatch>(
      [] { engram::require_rows("queries", 783, 784, "the memory dimension"); });
  CHECK(rows_msg == "queries has 783 rows, the memory dimension is 784");
}

TEST_CASE("philox source is a pure function of seed, stream and Index", "[core][rng]") {
  const engram::philox_source a(7), b(7), c(8);
  for (std::uint64_t i = 0; i < 100; ++i) {
    CHECK(a.uniform<double>(0, i) == b.uniform<double>(0, i));
    CHECK(a.normal<float>(3, i) == b.normal<float>(3, i));
  }
  // Different seeds and different streams give different numbers (collisions of 64-bit
  // uniforms are practically impossible, so any equality here is a bug).
  int same_seed = 0, same_stream = 0;
  for (std::uint64_t i = 0; i < 100; ++i) {
    same_seed += a.uniform<double>(0, i) == c.uniform<double>(0, i);
    same_stream += a.uniform<double>(0, i) == a.uniform<double>(1, i);
  }
  CHECK(same_seed == 0);
  CHECK(same_stream == 0);

  // A block filled with an offset equals the same entries of a larger fill.
  Eigen::MatrixXd whole(10, 30), part(10, 5);
  a.fill_normal(whole, 4);
  a.fill_normal(part, 4, 10 * 7);
  CHECK(part == whole.middleCols(7, 5));
}

TEST_CASE("philox fills do not depend on the thread count", "[core][rng]") {
  const engram::philox_source rng(123456789);
  Eigen::MatrixXf one(300, 200), many(300, 200);  // above the parallel threshold
#if defined(_OPENMP)
  const int saved = omp_get_max_threads();
  omp_set_num_threads(1);
  rng.fill_normal(one, 2);
  omp_set_num_threads(4);
  rng.fill_normal(many, 2);
  omp_set_num_threads(saved);
#else
  rng.fill_normal(one, 2);
  rng.fill_normal(many, 2);
#endif
  CHECK(one == many);
}

TEST_CASE("philox uniforms and normals have the right first two moments", "[core][rng]") {
  const engram::philox_source rng(99);
  const Index n = 200000;
  Eigen::VectorXd u(n), z(n);
  rng.fill_uniform(u, 0, -1.0, 3.0);
  rng.fill_normal(z, 1);
  CHECK(u.minCoeff() > -1.0);
  CHECK(u.maxCoeff() <= 3.0);
  // Standard errors at n = 2e5: mean of U(-1, 3) has sd 1.155/sqrt(n) = 2.6e-3, of N(0, 1)
  // 2.2e-3; variances about 3e-3. Bounds of 5 standard errors fail by chance < 1e-6.
  CHECK(std::abs(u.mean() - 1.0) < 0.013);
  CHECK(std::abs((u.array() - u.mean()).square().mean() - 16.0 / 12.0) < 0.02);
  CHECK(std::abs(z.mean()) < 0.011);
  CHECK(std::abs((z.array() - z.mean()).square().mean() - 1.0) < 0.016);
}

TEMPLATE_TEST_CASE("dense memory adds and removes patterns", "[memory]", float, double) {
  using M = engram::matrix<TestType>;
  M patterns(3, 4);
  patterns << 1, 2, 3, 4,  //
      0, 1, 0, 1,          //
      2, 2, 2, 2;
  engram::dense_memory<TestType> memory(patterns);
  REQUIRE(memory.dim() == 3);
  REQUIRE(memory.size() == 4);
  CHECK(memory.half_squared_norms()(3) == TestType(0.5 * (16 + 1 + 4)));

  M more(3, 2);
  more << 5, 6, 5, 6, 5, 6;
  CHECK(memory.add(more) == 4);
  REQUIRE(memory.size() == 6);
  CHECK(memory.patterns().col(5) == more.col(1));
  CHECK(memory.half_squared_norms()(5) == TestType(0.5 * 108));

  memory.remove({4, 0});
  REQUIRE(memory.size() == 4);
  CHECK(memory.patterns().col(0) == patterns.col(1));
  CHECK(memory.patterns().col(3) == more.col(1));
  CHECK(memory.half_squared_norms()(0) == TestType(0.5 * (4 + 1 + 4)));

  memory.remove(3);
  CHECK(memory.size() == 3);

  CHECK_THROWS_AS(memory.remove(3), engram::invalid_argument);
  CHECK_THROWS_AS(memory.remove({1, 1}), engram::invalid_argument);
  CHECK_THROWS_AS(memory.add(M::Ones(2, 1)), engram::dimension_mismatch);
  M bad = M::Ones(3, 1);
  bad(2, 0) = std::numeric_limits<TestType>::infinity();
  CHECK_THROWS_AS(memory.add(bad), engram::not_finite);
  CHECK(memory.size() == 3);  // a rejected add leaves the memory unchanged
  CHECK_THROWS_AS(engram::dense_memory<TestType>(M(0, 3)), engram::dimension_mismatch);
  CHECK_THROWS_AS(engram::dense_memory<TestType>(Index(0)), engram::invalid_argument);
}
