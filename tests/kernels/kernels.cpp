// Kernel families through dense_energy: the power (Krotov-Hopfield) energies, a compact kernel
// written outside include/ (the biweight of tests/extending), the eps floor of exponential
// kernels, weighted sums of energies. Values against long-double direct formulas, gradients
// against central differences.
#include <engram/engram.hpp>

#include <cmath>
#include <limits>
#include <string>

#include "catch.hpp"
#include "extending/biweight.hpp"
#include "support/oracles.hpp"
#include "support/support.hpp"

using Index = Eigen::Index;
using Md = Eigen::MatrixXd;
using Vd = Eigen::VectorXd;
using engram_test::uniform;

namespace {

long double direct_power(const Md& xi, const Eigen::VectorXd& x, int n, bool rectified) {
  return engram_test::power_oracle(xi, x, n, rectified);
}

// E = -(1/beta) log(eps + sum_mu ReLU(1 - beta/2 d^2)^2).
long double direct_biweight(const Md& xi, const Eigen::VectorXd& x, double beta, double eps) {
  return engram_test::compact_oracle(xi, x, beta, eps, [&](long double d2) {
    const long double u = 1.0L - 0.5L * beta * d2;
    return u > 0 ? u * u : 0.0L;
  });
}

// E = -(1/beta) log(eps + sum_mu exp(-beta/2 d^2)).
long double direct_lse_eps(const Md& xi, const Eigen::VectorXd& x, double beta, double eps) {
  return engram_test::exponential_oracle(engram_test::model::lse_l2, xi, x, beta, eps);
}

template <class Energy, class Direct>
void check_gradient(const Energy& energy, const Md& x, Direct&& direct, double h, double tol,
                    int& informative) {
  const auto [e, g] = energy.value_and_gradient(x);
  for (Index b = 0; b < x.cols(); ++b) {
    const double expected = double(direct(Eigen::VectorXd(x.col(b))));
    CHECK(std::abs(e(b) - expected) <= 1e-11 * (1 + std::abs(expected)));
    for (Index i = 0; i < x.rows(); ++i) {
      const double fd = engram_test::central_difference(
          [&](const Md& p) { return direct(Eigen::VectorXd(p)); }, x.col(b), i, h);
      INFO("column " << b << " coordinate " << i);
      CHECK(std::abs(g(i, b) - fd) <= tol * (1 + std::abs(fd)));
      informative += std::abs(fd) > 100 * tol;
    }
  }
}

}  // namespace

TEST_CASE("power energies match their formula and central differences", "[kernels][power]") {
  const engram::philox_source rng(41);
  int informative = 0;
  std::uint64_t stream = 0;
  for (Index D : {1, 4, 13})
    for (Index K : {1, 7, 600}) {  // 600 memories span two memory tiles
      const Md xi = uniform(rng, stream++, D, K, -1.0, 1.0);
      const Md x = uniform(rng, stream++, D, 3, -1.0, 1.0);
      engram::dense_memory<double> memory(xi);
      // Polynomials: the central difference errs by exactly h^2/6 times the third derivative
      // (< 1e-12 / 6 x 3600 here at h = 1e-6); long-double differences round by ~1e-19 |E| / h.
      INFO("D " << D << " K " << K);
      check_gradient(
          engram::power_energy<2, double>(memory, 1.0), x,
          [&](const Vd& p) { return direct_power(xi, p, 2, false); }, 1e-6, 1e-7, informative);
      check_gradient(
          engram::power_energy<3, double>(memory, 1.0), x,
          [&](const Vd& p) { return direct_power(xi, p, 3, false); }, 1e-6, 1e-7, informative);
      check_gradient(
          engram::rectified_power_energy<4, double>(memory, 1.0), x,
          [&](const Vd& p) { return direct_power(xi, p, 4, true); }, 1e-6, 1e-7, informative);
    }
  CHECK(informative > 100);
}

TEST_CASE("the quadratic power energy is -x^T Xi Xi^T x", "[kernels][power]") {
  // An independent closed form: sum_mu <xi_mu, x>^2 = ||Xi^T x||^2.
  const Md xi = uniform<double>(42, 5, 9, -1.0, 1.0), x = uniform<double>(43, 5, 4, -1.0, 1.0);
  engram::dense_memory<double> memory(xi);
  const engram::power_energy<2, double> energy(memory, 1.0);
  const Vd expected = -(xi.transpose() * x).colwise().squaredNorm().transpose();
  CHECK((energy.value(x) - expected).cwiseAbs().maxCoeff() < 1e-12);
  const Md expected_gradient = -2.0 * xi * (xi.transpose() * x);
  CHECK((energy.gradient(x) - expected_gradient).cwiseAbs().maxCoeff() < 1e-12);
}

TEST_CASE("a kernel defined outside include/ works with dense_energy", "[kernels][user]") {
  STATIC_REQUIRE(engram::compact_kernel<biweight>);
  STATIC_REQUIRE_FALSE(engram::exponential_kernel<biweight>);
  const engram::philox_source rng(44);
  int informative = 0;
  for (double beta : {2.0, 20.0, 200.0}) {
    const Md xi = uniform(rng, 0, 3, 40);
    // Queries near memories, so that supports are not empty at any beta.
    Md x(3, 4), noise(3, 4);
    rng.fill_normal(noise, 1);
    for (Index b = 0; b < 4; ++b) x.col(b) = xi.col(b) + noise.col(b) * (0.3 / std::sqrt(beta));
    engram::dense_memory<double> memory(xi);
    for (auto method : {engram::support_method::kd_tree, engram::support_method::brute_force}) {
      const engram::dense_energy<biweight, engram::log_scaling, double> energy(
          memory, {.beta = beta, .eps = 1e-3}, method);
      INFO("beta " << beta << " method " << engram::to_string(method));
      // The biweight is C^1 with a second derivative of order beta: h = 1e-4 / beta keeps the
      // truncation error near 1e-8 beta |grad|, inside 1e-6.
      check_gradient(
          energy, x, [&](const Vd& p) { return direct_biweight(xi, p, beta, 1e-3); }, 1e-4 / beta,
          1e-6, informative);
    }
  }
  CHECK(informative > 20);
}

TEST_CASE("an eps floor under an exponential kernel matches its formula", "[kernels][lse]") {
  const Md xi = uniform<double>(45, 4, 12), x = uniform<double>(46, 4, 5, -1.0, 2.0);
  engram::dense_memory<double> memory(xi);
  int informative = 0;
  for (double beta : {0.5, 5.0, 50.0})
    for (double eps : {1e-6, 1e-2, 1.0}) {
      const engram::lse_energy<double> energy(memory, {.beta = beta, .eps = eps});
      INFO("beta " << beta << " eps " << eps);
      // Third derivatives grow like beta^2: h = 1e-3 / beta keeps truncation below 1e-7.
      check_gradient(
          energy, x, [&](const Vd& p) { return direct_lse_eps(xi, p, beta, eps); }, 1e-3 / beta,
          1e-6, informative);
    }
  CHECK(informative > 20);
}

TEST_CASE("sum_energy adds weighted terms and refuses bad weights", "[energy][sum]") {
  const Md xi = uniform<double>(47, 3, 8), x = uniform<double>(48, 3, 6);
  engram::dense_memory<double> memory(xi);
  const engram::lse_energy<double> a(memory, 3.0);
  const engram::power_energy<2, double> b(memory, 1.0);
  const engram::sum_energy<double, engram::lse_energy<double>, engram::power_energy<2, double>> sum(
      {0.5, 2.0}, a, b);
  const auto [e, g] = sum.value_and_gradient(x);
  CHECK((e - (0.5 * a.value(x) + 2.0 * b.value(x))).cwiseAbs().maxCoeff() < 1e-12);
  CHECK((g - (0.5 * a.gradient(x) + 2.0 * b.gradient(x))).cwiseAbs().maxCoeff() < 1e-12);

  const auto message = [&](auto weights) -> std::string {
    try {
      engram::sum_energy<double, engram::lse_energy<double>, engram::power_energy<2, double>> s(
          weights, a, b);
    } catch (const engram::invalid_argument& error) {
      return error.what();
    }
    return "no engram::invalid_argument";
  };
  CHECK(message(std::array<double, 2>{1.0, -1.0}) ==
        "sum_energy weights[1] is -1; it must be finite and at least 0");
  CHECK(message(std::array<double, 2>{std::numeric_limits<double>::quiet_NaN(), 1.0}) ==
        "sum_energy weights[0] is nan; it must be finite and at least 0");
}

TEST_CASE("workspaces are checked against the energy's dimension", "[energy][workspace]") {
  const Md xi = uniform<double>(49, 4, 6), other = uniform<double>(50, 5, 6);
  engram::dense_memory<double> memory(xi), wider(other);
  const engram::lse_energy<double> energy(memory, 2.0), wide(wider, 2.0);
  auto workspace = wide.make_workspace();
  try {
    engram::retrieve(energy, xi, engram::gradient_descent<double>{}, engram::stop::after(3), {},
                     workspace);
    FAIL("no exception");
  } catch (const engram::dimension_mismatch& e) {
    CHECK(std::string(e.what()) ==
          "workspace was made for dimension 5, the energy has dimension 4");
  }
  // The right workspace serves many calls and gives the same results as a fresh one.
  auto own = energy.make_workspace();
  const auto first = engram::retrieve(energy, xi, engram::gradient_descent<double>{},
                                      engram::stop::after(3), {}, own);
  const auto again = engram::retrieve(energy, xi, engram::gradient_descent<double>{},
                                      engram::stop::after(3), {}, own);
  const auto fresh =
      engram::retrieve(energy, xi, engram::gradient_descent<double>{}, engram::stop::after(3));
  CHECK(first.states == fresh.states);
  CHECK(again.states == fresh.states);
  CHECK(energy.value(xi, own) == energy.value(xi));
}
