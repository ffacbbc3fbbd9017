// The claims of seeds 001 and 002 beyond their energies: LSE on normalised states (seed 001
// eq. 7), the eq. 32 estimator and the bounds its proof gives (Lemma 3, Theorem 2), eq. 15 at
// its threshold, and the experiments' findings at small scale (seed 001 Fig. 3, the unbiased
// orthogonal features; seed 002 Fig. 3). Values are compared with long-double formulas written
// here, never with the library's own value().
#include <engram/engram.hpp>

#include <cmath>
#include <limits>
#include <vector>

#include "catch.hpp"
#include "support/oracles.hpp"
#include "support/support.hpp"

using Index = Eigen::Index;
using Md = Eigen::MatrixXd;
using Vd = Eigen::VectorXd;
using engram_test::central_difference;
using engram_test::uniform;

namespace {

// Seed 001 eq. 7 plus lse_dot_energy's constant 1/2: -(1/beta) log sum exp(beta <xi, x/||x||>).
long double eq7(const Md& xi, const Md& x, double beta) {
  long double norm = 0;
  for (Index i = 0; i < x.rows(); ++i) norm += (long double)x(i) * x(i);
  norm = std::sqrt(norm);
  std::vector<long double> a;
  long double amax = -std::numeric_limits<long double>::infinity();
  for (Index mu = 0; mu < xi.cols(); ++mu) {
    long double s = 0;
    for (Index i = 0; i < x.rows(); ++i) s += (long double)xi(i, mu) * x(i) / norm;
    a.push_back(beta * s);
    amax = std::max(amax, a.back());
  }
  long double sum = 0;
  for (long double v : a) sum += std::exp(v - amax);
  return -(amax + std::log(sum)) / beta + 0.5L;
}

// The exact LSE energy (seed 001 eq. 11) and, when asked, its gradient, in long double.
long double lse(const Md& xi, const Vd& x, double beta, Vd* grad = nullptr) {
  if (grad) *grad = engram_test::lse_gradient_oracle(xi, x, beta);
  return engram_test::exponential_oracle(engram_test::model::lse_l2, xi, x, beta);
}

Md binary(std::uint64_t seed, Index d, Index k) {
  const Md u = uniform(seed, d, k, 0.0, 1.0);
  return (u.array() > 0.5).cast<double>() / std::sqrt(double(d));
}

}  // namespace

TEST_CASE("normalised-state LSE is seed 001 eq. 7 with the Jacobian (I - g g^T)/||x||",
          "[energy][mapped][gradient]") {
  const Index d = 6, k = 5;
  const double beta = 3.0;
  const Md xi = uniform(301, d, k, -1.0, 1.0);
  Md x = uniform(302, d, 4, -1.0, 1.0);
  x.col(0) *= 4 / x.col(0).norm();  // ||x|| = 4: the footnote's form is off by ||x||^{-1/2} = 1/2
  engram::dense_memory<double> memory(xi);
  const engram::normalized_lse_energy<double> energy(engram::lse_dot_energy<double>(memory, beta));
  const auto [e, g] = energy.value_and_gradient(x);
  for (Index b = 0; b < x.cols(); ++b) {
    CHECK(std::abs(e(b) - double(eq7(xi, x.col(b), beta))) <= 1e-12);
    for (Index i = 0; i < d; ++i) {
      // h = 1e-5 on a long-double formula: truncation ~ h^2 |f'''| ~ 1e-9, rounding ~ 1e-14.
      const double fd =
          central_difference([&](const Md& y) { return eq7(xi, y, beta); }, x.col(b), i, 1e-5);
      CHECK(std::abs(g(i, b) - fd) <= 1e-7 * (1 + std::abs(fd)));
    }
    // Constant along rays, so the gradient is orthogonal to x.
    CHECK(std::abs(g.col(b).dot(x.col(b))) <= 1e-12 * g.col(b).norm() * x.col(b).norm() + 1e-15);
  }
  CHECK(((energy.value(3.7 * x) - e).array().abs() <= 1e-12).all());

  // Footnote 3's Jacobian (I - x x^T/||x||^2)/||x||^{3/2} fails the same check at ||x|| = 4.
  const Md g0 = x.col(0) / x.col(0).norm();
  const engram::lse_dot_energy<double> inner(memory, beta);
  const Vd v = inner.gradient(g0).col(0);
  const Vd footnote = (v - g0.col(0) * g0.col(0).dot(v)) / std::pow(x.col(0).norm(), 1.5);
  Vd fd(d);
  for (Index i = 0; i < d; ++i)
    fd(i) = central_difference([&](const Md& y) { return eq7(xi, y, beta); }, x.col(0), i, 1e-5);
  CHECK((footnote - fd).norm() > 0.4 * fd.norm());
  CHECK((g.col(0) - fd).norm() <= 1e-7 * fd.norm());

  // The zero state is outside the map's domain: a typed error naming the column.
  Md zero = x;
  zero.col(2).setZero();
  CHECK_THROWS_WITH(energy.value(zero), Catch::Contains("column 2") && Catch::Contains("zero"));
  CHECK_THROWS_AS(energy.gradient(zero), engram::invalid_argument);
}

TEST_CASE("descent on normalised states turns a query toward a stored direction",
          "[energy][mapped][retrieve]") {
  const Index d = 16, k = 6;
  Md xi = uniform(311, d, k, -1.0, 1.0);
  xi = xi.array().rowwise() / xi.colwise().norm().array();  // unit patterns
  engram::dense_memory<double> memory(xi);
  const engram::normalized_lse_energy<double> energy(engram::lse_dot_energy<double>(memory, 20.0));
  const Md queries = 3.0 * (xi + 0.3 * uniform(312, d, k, -1.0, 1.0));
  const auto run =
      engram::retrieve(energy, queries, engram::gradient_descent<double>{.step = 0.5},
                       engram::stop::gradient_norm(1e-9) || engram::stop::after(20000));
  for (Index b = 0; b < k; ++b) {
    const Vd dir = run.states.col(b).normalized();
    // Stationary at beta = 20: the direction sits within about e^{-beta(1 - cos)} of xi_b.
    CHECK(dir.dot(xi.col(b)) > 0.999);
    CHECK(run.converged(b));
  }
  // Energies never rise along the descent: the final energy is below the start's.
  CHECK((run.energies.array() < energy.value(queries).array()).all());
}

TEST_CASE("DrDAM on normalised states: gradient and agreement with MrDAM", "[drdam][mapped]") {
  const Index d = 8, k = 10;
  const double beta = 4.0;
  Md xi = uniform(321, d, k, -1.0, 1.0);
  xi = xi.array().rowwise() / xi.colwise().norm().array();
  const Md x = uniform(322, d, 5, -2.0, 2.0);
  using sincos = engram::sincos_features;
  engram::distributed_memory<sincos, double> tensor(
      engram::random_features<sincos, double>(d, 1 << 16, beta, 323), xi);
  const engram::mapped_energy<engram::drdam_energy<sincos, double>> drdam(
      engram::drdam_energy<sincos, double>{tensor});
  const auto [e, g] = drdam.value_and_gradient(x);
  for (Index b = 0; b < x.cols(); ++b)
    for (Index i = 0; i < d; ++i) {
      const double fd =
          central_difference([&](const Md& y) { return drdam.value(y)(0); }, x.col(b), i, 1e-5);
      CHECK(std::abs(g(i, b) - fd) <= 1e-6 * (1 + std::abs(fd)));
    }
  // MrDAM on the same map, from the long-double formula: on the sphere with unit patterns
  // -beta/2 ||g - xi||^2 = beta <xi, g> - beta, so E_l2(g) = eq. 7 - 1/2 + 1.
  const Md omega = tensor.features().omega();  // Y x D
  const double y = double(omega.rows());
  for (Index b = 0; b < x.cols(); ++b) {
    const Vd gx = x.col(b).normalized();
    const double exact = double(lse(xi, gx, beta));
    CHECK(std::abs(exact - double(eq7(xi, x.col(b), beta) + 0.5L)) <= 1e-12);
    // DrDAM estimates S = sum_mu exp(-beta/2 ||g - xi_mu||^2) by the mean over the Y directions
    // of c_a = sum_mu cos(sqrt(beta) <omega_a, g - xi_mu>), with standard error sd(c) /
    // sqrt(Y); through E = -(1/beta) log S that moves E by about se / (beta S). Within 5
    // standard errors (a normal tail of 6e-7): at Y = 65536, 0.014-0.11 for these queries,
    // whose errors measure 0.8-1.6 standard errors.
    const Eigen::ArrayXd c =
        (std::sqrt(beta) * omega * (-(xi.colwise() - gx))).array().cos().rowwise().sum();
    const double se = std::sqrt((c - c.mean()).square().sum() / (y - 1) / y);
    double s = 0;
    for (Index mu = 0; mu < k; ++mu) s += std::exp(-beta / 2 * (gx - xi.col(mu)).squaredNorm());
    INFO("query " << b << ": DrDAM " << e(b) << ", MrDAM " << exact << ", se/(beta S) "
                  << se / (beta * s));
    CHECK(std::abs(e(b) - exact) <= 5 * se / (beta * s));
  }
}

TEST_CASE("the readout tensor R of eq. 32 follows add and remove", "[drdam][readout]") {
  const Index d = 5, y = 64;
  const double beta = 2.0;
  const Md xi = uniform(331, d, 4, 0.0, 0.5);
  using cos = engram::cos_features;
  const engram::random_features<cos, double> map(d, y, beta, 332);
  engram::distributed_memory<cos, double> memory(map, xi.leftCols(3), engram::readout::keep);
  REQUIRE(memory.has_readout());
  const Md phi = map.phi(xi);
  Md expected = Md::Zero(y, d);
  for (Index mu = 0; mu < 3; ++mu) expected += phi.col(mu) * xi.col(mu).transpose();
  CHECK((memory.readout_tensor() - expected).cwiseAbs().maxCoeff() <= 1e-13);
  memory.add(xi.col(3));
  memory.remove(xi.col(0));
  expected += phi.col(3) * xi.col(3).transpose() - phi.col(0) * xi.col(0).transpose();
  CHECK((memory.readout_tensor() - expected).cwiseAbs().maxCoeff() <= 1e-13);
  // A memory without R refuses the estimator, with a message saying how to keep R.
  engram::distributed_memory<cos, double> plain(map, xi);
  CHECK_FALSE(plain.has_readout());
  const engram::drdam_energy<cos, double> energy(plain);
  CHECK_THROWS_WITH(energy.readout_gradient(xi), Catch::Contains("readout::keep"));
  using flow = engram::drdam_readout_flow<cos, double>;
  CHECK_THROWS_AS(flow(energy), engram::invalid_argument);
  // from_tensor checks R's shape.
  CHECK_THROWS_AS((engram::distributed_memory<cos, double>::from_tensor(map, memory.memory_tensor(),
                                                                        3, Md::Zero(y, d + 1))),
                  engram::dimension_mismatch);
}

TEST_CASE("Lemma 3 and Theorem 2 bound the eq. 32 estimator; eq. 10 is measured beside it",
          "[drdam][readout][bound]") {
  // Theorem 2's setting: memories and inputs in [0, 1/sqrt(D)]^D.
  const Index d = 16, k = 20, y = 4000;
  const double unit = 1 / std::sqrt(double(d));
  const Md xi = uniform(341, d, k, 0.0, unit);
  const Md x0 = uniform(342, d, 10, 0.0, unit);
  using sincos = engram::sincos_features;
  engram::dense_memory<double> dense(xi);

  SECTION("per-query gradient errors at beta = 10 (SCIENCE.md's measurement)") {
    const double beta = 10.0;
    const engram::random_features<sincos, double> map(d, y, beta, 343);
    engram::distributed_memory<sincos, double> memory(map, xi, engram::readout::keep);
    const engram::drdam_energy<sincos, double> drdam(memory);
    const Md g32 = drdam.readout_gradient(x0);
    const Md g10 = drdam.gradient(x0);
    const double c1 = engram::kernel_error_constant(map, x0, xi);
    double err32 = 0, err10 = 0;
    for (Index b = 0; b < x0.cols(); ++b) {
      Vd exact;
      const double e = double(lse(xi, x0.col(b), beta, &exact));
      const double bound = engram::drdam_gradient_bound(c1, k, beta, e, d, y);
      CHECK((g32.col(b) - exact).norm() <= bound);
      err32 += (g32.col(b) - exact).norm() / double(x0.cols());
      err10 += (g10.col(b) - exact).norm() / double(x0.cols());
    }
    INFO("mean gradient error: eq. 32 " << err32 << ", eq. 10 " << err10);
    // Measured with this seed: eq. 32 0.0015, eq. 10 0.019 (SCIENCE.md, on other data: 0.014
    // and 0.045). The ordering, not the values, is the claim: eq. 32 is the closer estimator.
    CHECK(err32 < 0.5 * err10);
  }

  SECTION("L descent steps at Corollary 1's step: the divergence stays under the bound") {
    const double beta = 1.0, c2 = 0.5;
    const Index steps = 30;
    const double eta = engram::drdam_corollary_step(c2, steps, k, beta);
    const engram::random_features<sincos, double> map(d, 256, beta, 344);
    engram::distributed_memory<sincos, double> memory(map, xi, engram::readout::keep);
    const engram::drdam_energy<sincos, double> drdam(memory);
    const engram::lse_energy<double> mrdam(dense, beta);
    const auto stop = engram::stop::after(steps);
    const auto exact =
        engram::retrieve(mrdam, x0, engram::gradient_descent<double>{.step = eta}, stop);
    const auto eq10 =
        engram::retrieve(drdam, x0, engram::gradient_descent<double>{.step = eta}, stop);
    engram::drdam_readout_flow<sincos, double> flow(drdam);
    const auto eq32 =
        engram::integrate(flow, x0, engram::explicit_euler<double>{.step = eta}, stop);
    REQUIRE(eq32.steps(0) == steps);
    // C1 over the inputs, the memories and both end states (all in the domain here).
    Md points(d, 3 * x0.cols());
    points << x0, exact.states, eq32.states;
    const double c1 = engram::kernel_error_constant(map, points, xi);
    Index eq10_over = 0;
    for (Index b = 0; b < x0.cols(); ++b) {
      const double e = double(lse(xi, x0.col(b), beta));
      const double bound =
          engram::drdam_divergence_bound(eta, steps, c1, k, beta, e, d, map.count());
      const double div32 = (exact.states.col(b) - eq32.states.col(b)).norm();
      const double div10 = (exact.states.col(b) - eq10.states.col(b)).norm();
      INFO("column " << b << ": bound " << bound << ", eq. 32 " << div32 << ", eq. 10 " << div10);
      CHECK(div32 <= bound);  // measured: 100-200x under it
      // The descent moved: the divergence is measured on states that changed.
      CHECK((exact.states.col(b) - x0.col(b)).norm() > 10 * div32);
      eq10_over += div10 > bound;
    }
    // Eq. 10, which the theorem's statement names, is not what its proof bounds: with C1
    // measured on these points it exceeds the bound in several columns (measured 6 of 10; C1
    // over finitely many points underestimates the sup of (A2), which is why this is reported
    // as a measurement rather than a counterexample).
    CHECK(eq10_over > 0);
  }
}

TEST_CASE("eq. 15 maps x >= 1/(2 sqrt D) to 1/sqrt D", "[analysis][drdam]") {
  // D = 4: the threshold 1/(2 sqrt 4) = 0.25 is exact in binary.
  Md at(4, 1), below(4, 1);
  at << 0.25, 0, 0, 0;
  below << std::nextafter(0.25, 0.0), 0, 0, 0;
  const Md zero = Md::Zero(4, 1);
  CHECK(engram::binarised_hamming(at, zero) == 0.25);  // 0.25 binarises up
  CHECK(engram::binarised_hamming(below, zero) == 0.0);
  Eigen::MatrixXf atf = at.cast<float>();
  CHECK(engram::binarised_hamming(atf, Eigen::MatrixXf::Zero(4, 1)) == 0.25);
}

TEST_CASE("seed 001 Fig. 3 at small scale: error rises with beta and D, falls with Y, near < far",
          "[drdam][claims]") {
  using sincos = engram::sincos_features;
  // Mean gradient MAE over queries near stored patterns (10% of bits flipped) or far (unstored
  // binary patterns), K = 20 stored.
  const auto mae = [](Index d, double beta, Index y, bool near) {
    const Index k = 20;
    const Md all = binary(350 + std::uint64_t(d), d, 2 * k);
    const Md xi = all.leftCols(k);
    Md q = near ? xi : all.rightCols(k);
    if (near) {
      const Md coin = uniform(351, d, k, 0.0, 1.0);
      const double unit = 1 / std::sqrt(double(d));
      for (Index j = 0; j < k; ++j)
        for (Index i = 0; i < d; ++i)
          if (coin(i, j) < 0.1) q(i, j) = unit - q(i, j);
    }
    engram::distributed_memory<sincos, double> memory(
        engram::random_features<sincos, double>(d, y, beta, 352), xi);
    const engram::drdam_energy<sincos, double> drdam(memory);
    const Md g = drdam.gradient(q);
    double total = 0;
    for (Index b = 0; b < k; ++b) {
      Vd exact;
      lse(xi, q.col(b), beta, &exact);
      total += (g.col(b) - exact).norm();
    }
    return total / double(k);
  };
  // Each comparison changes one factor, by a margin well inside the measured separation (with
  // these seeds; stated beside each check) and outside what another draw of omega moves.
  const double base = mae(16, 10.0, 2048, true);   // measured 0.057
  CHECK(mae(16, 10.0, 32768, true) < 0.5 * base);  // Y x16: error / ~4 (measured 0.22x)
  CHECK(mae(16, 20.0, 2048, true) > 1.5 * base);   // beta x2 (measured 2.0x)
  CHECK(mae(64, 10.0, 2048, true) > 1.5 * base);   // D x4 (measured 2.1x)
  CHECK(mae(16, 10.0, 2048, false) > base);        // far > near (measured 1.2x)
  CHECK(mae(16, 20.0, 2048, false) > 2 * mae(16, 20.0, 2048, true));  // (measured 2.7x)
}

TEST_CASE("orthogonal random features are unbiased: mean error shrinks like 1/sqrt(Y)",
          "[features][claims]") {
  // The kernel estimate's signed error averaged over many pairs, for several draws of omega:
  // unbiased, its mean over draws is zero within its standard error at every Y, and that
  // spread shrinks like 1/sqrt(Y).
  const Index d = 16;
  const double beta = 2.0;
  const Md x = uniform(361, d, 24, 0.0, 1 / std::sqrt(double(d)));
  // m_s: the mean signed error over the 276 pairs for draw s of omega; 16 draws give their mean
  // and its standard error.
  const auto bias = [&](Index y) {
    constexpr int draws = 16;
    Eigen::ArrayXd m(draws);
    for (int s = 0; s < draws; ++s) {
      const engram::random_features<engram::sincos_features, double> map(
          d, y, beta, 362 + std::uint64_t(s), {.orthogonal = true});
      const Md phi = map.phi(x);
      double total = 0;
      Index n = 0;
      for (Index i = 0; i < x.cols(); ++i)
        for (Index j = i + 1; j < x.cols(); ++j, ++n)
          total += phi.col(i).dot(phi.col(j)) -
                   std::exp(-beta / 2 * (x.col(i) - x.col(j)).squaredNorm());
      m(s) = total / double(n);
    }
    const double mean = m.mean();
    return std::pair{mean, std::sqrt((m - mean).square().sum() / (draws - 1) / draws)};
  };
  const auto [b_small, se_small] = bias(256);
  const auto [b_large, se_large] = bias(16384);
  INFO("bias at Y = 256: " << b_small << " (se " << se_small << "), at Y = 16384: " << b_large
                           << " (se " << se_large << ")");
  // Unbiased: each mean is within 4.5 standard errors of 0 (Student's t with 15 degrees of
  // freedom exceeds 4.5 with probability 4e-4; measured |t| <= 2.6 over 12 sets of draws), and
  // the spread falls like 1/sqrt(Y), by 8 between the two (measured 6.5-12): below 3 would need
  // the two sample variances' ratio off by 7x (F(15, 15): 3e-4).
  CHECK(std::abs(b_small) < 4.5 * se_small);
  CHECK(std::abs(b_large) < 4.5 * se_large);
  CHECK(se_large < se_small / 3);
  // And it is far below one estimate's own spread (SinCos variance <= 1/Y): 1/sqrt(Y) = 0.0078.
  CHECK(std::abs(b_large) < 0.1 / std::sqrt(16384.0));
  CHECK(b_large < 0.1 / std::sqrt(16384.0));
}

TEST_CASE("seed 002 Fig. 3: at a critical beta LSR holds more minima than patterns and keeps them",
          "[lsr][claims]") {
  // M = 40 patterns uniform in [0,1]^8, beta from Algorithm 2 at K = 5 (the pattern and about
  // four neighbours within 2r): supports overlap, so emergent centroids appear, while few
  // patterns have a neighbour within r itself (in d = 8 the r-ball holds 2^-8 of the 2r-ball).
  const Md xi = uniform(371, 8, 40, 0.0, 1.0);
  engram::dense_memory<double> memory(xi);
  const auto chosen = engram::interaction_beta(xi, 5.0);
  const engram::lsr_energy<double> energy(memory, chosen.beta);
  const auto census = engram::enumerate_lsr_minima(energy);
  INFO("minima " << census.count() << ", emergent " << census.emergent_count() << ", retrievable "
                 << census.retrievable_count());
  // Theorem 2's regime: more minima than stored patterns (measured 111, 77 of them emergent)...
  CHECK(census.count() > 2 * 40);
  CHECK(census.emergent_count() > 40);
  // ...while most stored patterns stay minima (measured 34 of 40; a pattern stops being one
  // when another lies within r of it, which boundary effects of the cube make more likely
  // than the 2^-8 volume ratio suggests, so three quarters is the claim).
  CHECK(census.retrievable_count() >= 30);
}
