// The kernels written for instruction sets: the batched Philox draws behind on-demand random
// features (detail::philox_words, philox_source::normals in both normal_draw modes), the
// float sine and cosine of the sincos map (detail::sincos), and the cpu backend's tile products
// (with ENGRAM_BLAS=blis, the packing of BLIS's panels: AVX2 transposes). This file is built
// twice: into engram_tests with the suite's flags (the scalar path) and into engram_native_tests
// with -march=native (the AVX2 packets where the machine has them), so both paths meet the same
// checks.
#include <engram/backend/cpu/gemm.hpp>
#include <engram/core/rng.hpp>
#include <engram/features/random_features.hpp>

#include <Random123/boxmuller.hpp>

#if defined(_OPENMP)
#include <omp.h>
#endif

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdint>
#include <limits>
#include <numbers>
#include <utility>
#include <vector>

#include "catch.hpp"
#include "support/support.hpp"

using Index = Eigen::Index;

TEST_CASE("batched philox words are Random123's counter blocks", "[core][rng][draws]") {
  const engram::philox_source rng(0x0123456789abcdefULL);
  // Runs that cross a wrap of the counter's low word (inside the first and the second group of
  // a pass), in a stream above 2^32, of lengths that leave every kind of remainder of the 32-
  // and sixteen-block passes.
  const std::uint64_t stream = (std::uint64_t(5) << 32) | 3;
  for (const std::uint64_t first :
       {std::uint64_t(0), (std::uint64_t(1) << 32) - 11, (std::uint64_t(1) << 32) - 21}) {
    for (const std::size_t n : {std::size_t(1), std::size_t(15), std::size_t(16), std::size_t(37),
                                std::size_t(32), std::size_t(63), std::size_t(80)}) {
      std::vector<std::uint32_t> w0(n), w1(n), w2(n), w3(n);
      std::uint32_t* const words[4] = {w0.data(), w1.data(), w2.data(), w3.data()};
      engram::detail::philox_words({{0x89abcdefu, 0x01234567u}}, stream, first, n, words);
      int mismatches = 0;
      for (std::size_t i = 0; i < n; ++i) {
        const auto b = rng.block(stream, first + i);
        mismatches += b[0] != w0[i] || b[1] != w1[i] || b[2] != w2[i] || b[3] != w3[i];
      }
      CHECK(mismatches == 0);
    }
  }
}

TEST_CASE("double Box-Muller runs are normal<double>, bit for bit", "[core][rng][draws]") {
  const engram::philox_source rng(77);
  std::vector<double> z(1001);
  std::vector<float> rounded(1001);
  // Starts on the second number of a pair.
  rng.normals(engram::normal_draw::double_box_muller, 3, 7, z.size(), z.data());
  rng.normals(engram::normal_draw::double_box_muller, 3, 7, rounded.size(), rounded.data());
  int mismatches = 0;
  for (std::size_t i = 0; i < z.size(); ++i)
    mismatches += z[i] != rng.normal<double>(3, 7 + i) || rounded[i] != float(z[i]);
  CHECK(mismatches == 0);
}

TEST_CASE("float normals are the Box-Muller pairs of each block's words", "[core][rng][draws]") {
  const engram::philox_source rng(20261201);
  const std::size_t n = 1 << 18;
  std::vector<float> z(n);
  std::vector<double> widened(n);
  rng.normals(engram::normal_draw::float_box_muller, 5, 3, n, z.data());
  rng.normals(engram::normal_draw::float_box_muller, 5, 3, n, widened.data());
  CHECK(std::equal(z.begin(), z.end(), widened.begin()));  // exactly the float numbers
  // Entry e is number (e & 1) of pair (e >> 1) & 1 of block e >> 2, from the uniforms of
  // Random123's uneg11<float> and u01<float>: the same formula evaluated here in double.
  // Cephes' float log and sine/cosine polynomials are within 1-2 ulp, the products add three
  // roundings: the error is a few units of 2^-24 r (r the pair's radius, 1 when below 1);
  // measured 3.2, so 8 leaves room and still catches a wrong coefficient or quadrant.
  double worst = 0;
  for (std::size_t i = 0; i < n; ++i) {
    const std::uint64_t e = 3 + i;
    const auto w = rng.block(5, e >> 2);
    const int pair = int(e >> 1) & 1;
    const float a = r123::uneg11<float>(w[2 * pair]);
    const float u = r123::u01<float>(w[2 * pair + 1]);
    const double r = std::sqrt(-2.0 * std::log(double(u)));
    const double angle = std::numbers::pi * double(a);
    const double expected = (e & 1) ? r * std::cos(angle) : r * std::sin(angle);
    worst = std::max(worst, std::abs(double(z[i]) - expected) / (std::max(r, 1.0) * 0x1p-24));
  }
  CHECK(worst < 8);

  // Moments at n = 2^18: the mean's standard error is 1/sqrt(n) = 2e-3, the variance's
  // sqrt(2/n) = 2.8e-3, the fourth moment's sqrt(96/n) = 1.9e-2; 5 standard errors.
  double mean = 0, second = 0, fourth = 0;
  for (const float v : z) {
    mean += v;
    second += double(v) * v;
    fourth += double(v) * v * v * v;
  }
  mean /= double(n);
  second /= double(n);
  fourth /= double(n);
  CHECK(std::abs(mean) < 0.01);
  CHECK(std::abs(second - 1) < 0.014);
  CHECK(std::abs(fourth - 3) < 0.1);
}

TEST_CASE("runs of normals do not depend on where they start or end", "[core][rng][draws]") {
  // Packets and the scalar tail must round alike: the same entry drawn inside a packet by one
  // call and in the tail by another is the same number.
  const engram::philox_source rng(9);
  const std::size_t n = 3001;
  for (const auto draw :
       {engram::normal_draw::float_box_muller, engram::normal_draw::double_box_muller}) {
    std::vector<float> whole(n), pieces(n);
    rng.normals(draw, 2, 0, n, whole.data());
    std::size_t at = 0;
    for (std::size_t step = 1; at < n; step = step * 3 + 1) {
      const std::size_t len = std::min(step, n - at);
      rng.normals(draw, 2, at, len, pieces.data() + at);
      at += len;
    }
    CHECK(whole == pieces);
  }
}

TEST_CASE("float omega regenerated tile by tile is the stored omega", "[core][rng][draws]") {
  // D = 7 and tiles of 9 directions start runs at every offset modulo the block's four numbers.
  const engram::random_features<engram::sincos_features, float> stored(7, 100, 2.f, 31);
  const engram::random_features<engram::sincos_features, float> regenerated(
      7, 100, 2.f, 31, {.storage = engram::omega_storage::on_demand, .tile = 9});
  CHECK(stored.omega() == regenerated.omega());
  // omega is entry a D + d of the stream at (a, d).
  const engram::philox_source rng(31);
  std::vector<float> z(7 * 100);
  rng.normals(engram::normal_draw::float_box_muller, 0, 0, z.size(), z.data());
  const Eigen::MatrixXf expected =
      Eigen::Map<const Eigen::Matrix<float, 100, 7, Eigen::RowMajor>>(z.data());
  CHECK(stored.omega() == expected);
  // The same directions project the same way whichever way they are held.
  const Eigen::MatrixXf x = Eigen::MatrixXf::Constant(7, 3, 0.1f);
  const Eigen::VectorXf t = Eigen::VectorXf::LinSpaced(stored.size(), -1.f, 1.f);
  Eigen::VectorXf s1(3), s2(3);
  Eigen::MatrixXf g1, g2;
  stored.project(x, t, s1, &g1);
  regenerated.project(x, t, s2, &g2);
  // Tiles of 9 rather than 512 only regroup the float sums of F = 200 terms |t_a phi_a(x)|
  // <= 1 / sqrt(100): within F eps sum |terms| = 200 x 2^-24 x 20 = 2.4e-4; the gradient's
  // terms carry sqrt(beta) |omega_ad| < 6 more.
  CHECK((s1 - s2).cwiseAbs().maxCoeff() < 2.4e-4f);
  CHECK((g1 - g2).cwiseAbs().maxCoeff() < 1.5e-3f);

  // A double map of the same seed holds the same directions, widened; the double draw rounds
  // its own directions into a float map.
  const engram::random_features<engram::sincos_features, double> wide(7, 100, 2.0, 31);
  CHECK(wide.omega() == stored.omega().cast<double>());
  const engram::feature_options old_draw{.draw = engram::normal_draw::double_box_muller};
  const engram::random_features<engram::sincos_features, double> old_wide(7, 100, 2.0, 31,
                                                                          old_draw);
  const engram::random_features<engram::sincos_features, float> old_narrow(7, 100, 2.f, 31,
                                                                           old_draw);
  CHECK(old_narrow.omega() == old_wide.omega().cast<float>());
  CHECK(old_wide.omega()(3, 4) == rng.normal<double>(0, 3 * 7 + 4));
}

TEST_CASE("the float sine and cosine kernel", "[core][simd][features]") {
  // Arguments over [-100, 100] (DrDAM's h = <omega, sqrt(beta) x> lives there), multiples of
  // pi/2 where the reduction cancels, and the edges of the reduced range.
  std::vector<float> x;
  const engram::philox_source rng(3);
  for (std::uint64_t i = 0; i < 20000; ++i) x.push_back(rng.uniform<float>(0, i) * 200.f - 100.f);
  for (int k = -64; k <= 64; ++k) {
    const float m = float(k) * std::numbers::pi_v<float> / 2;
    x.insert(x.end(), {m, std::nextafter(m, 1e9f), std::nextafter(m, -1e9f)});
  }
  x.insert(x.end(), {0.f, -0.f, 8192.f, -8192.f, 8192.5f, 1e6f, -3e30f, 1e-30f});
  const float scale = 0.25f;
  std::vector<float> s(x.size()), c(x.size());
  engram::detail::sincos(x.size(), x.data(), scale, s.data(), c.data());
  // Cephes' polynomials are within about 1 ulp on [-pi/4, pi/4] and the three-part reduction
  // keeps float accuracy to |x| = 8192: measured 1.55 units of 2^-24 at most; 4 bounds it.
  double worst = 0;
  for (std::size_t i = 0; i < x.size(); ++i) {
    if (std::abs(x[i]) > engram::detail::sincos_limit) {
      // Beyond the reduction's range: std::sin and std::cos of the float, scaled.
      CHECK(s[i] == scale * std::sin(x[i]));
      CHECK(c[i] == scale * std::cos(x[i]));
      continue;
    }
    const double xs = double(x[i]);
    worst = std::max({worst, std::abs(double(s[i]) - scale * std::sin(xs)),
                      std::abs(double(c[i]) - scale * std::cos(xs))});
  }
  INFO("worst error " << worst / (scale * 0x1p-24) << " units of 2^-24");
  CHECK(worst <= 4 * scale * 0x1p-24);

  // Not finite: NaN, as std::sin and std::cos give.
  const float odd[3] = {std::numeric_limits<float>::quiet_NaN(),
                        std::numeric_limits<float>::infinity(),
                        -std::numeric_limits<float>::infinity()};
  float so[3], co[3];
  engram::detail::sincos(3, odd, 1.f, so, co);
  for (int i = 0; i < 3; ++i) CHECK((std::isnan(so[i]) && std::isnan(co[i])));

  // Packets and the scalar tail agree bit for bit: the same numbers in runs of any length.
  std::vector<float> s2(x.size()), c2(x.size());
  std::size_t at = 0;
  for (std::size_t step = 1; at < x.size(); step = step * 3 + 1) {
    const std::size_t len = std::min(step, x.size() - at);
    engram::detail::sincos(len, x.data() + at, scale, s2.data() + at, c2.data() + at);
    at += len;
  }
  CHECK(s == s2);
  CHECK(c == c2);
}

TEST_CASE("float sincos features against the double map of the same directions",
          "[core][simd][features]") {
  // The float and double maps of one seed hold the same directions; their features differ by
  // the float rounding of h = sqrt(beta) <omega_a, x> (at most (D + 2) 2^-24 sum_d |omega_ad
  // sqrt(beta) x_d|, the bound of a float dot product) and of sine and cosine (4 2^-24 above),
  // times 1/sqrt(Y).
  const Index d = 64, y = 1000, b = 37;
  const float beta = 60.f;
  const engram::random_features<engram::sincos_features, float> f(d, y, beta, 3);
  const engram::random_features<engram::sincos_features, double> g(d, y, double(beta), 3);
  Eigen::MatrixXf x(d, b);
  engram::philox_source(1).fill_uniform(x, 0, 0.f, 0.125f);
  const Eigen::MatrixXf pf = f.phi(x);
  const Eigen::MatrixXd pd = g.phi(x.cast<double>());
  const Eigen::MatrixXd omega = g.omega();
  const Eigen::MatrixXd bound = ((d + 2) * 0x1p-24 * std::sqrt(double(beta)) *
                                     (omega.cwiseAbs() * x.cast<double>().cwiseAbs()).array() +
                                 4 * 0x1p-24) /
                                std::sqrt(double(y));
  CHECK(((pf.cast<double>() - pd).topRows(y).array().abs() <= bound.array()).all());
  CHECK(((pf.cast<double>() - pd).bottomRows(y).array().abs() <= bound.array()).all());
}

TEST_CASE("the sincos map's one-pass share of a tile", "[core][simd][features]") {
  // detail::sincos_project: scale sum_i (cos h_i tc_i + sin h_i ts_i) and the pullback
  // u_i = scale (cos h_i ts_i - sin h_i tc_i), for runs of every length modulo the packets
  // (16 and 8 lanes), with arguments beyond the reduction's range among them.
  const engram::philox_source rng(41);
  const float scale = 0.125f;
  for (std::size_t n : {0, 1, 7, 8, 9, 15, 16, 17, 31, 32, 33, 47, 100, 515}) {
    std::vector<float> h(n), tc(n), ts(n), u(n, std::numeric_limits<float>::quiet_NaN());
    for (std::size_t i = 0; i < n; ++i) {
      h[i] = rng.uniform<float>(0, i) * 200.f - 100.f;
      tc[i] = rng.uniform<float>(1, i) * 2.f - 1.f;
      ts[i] = rng.uniform<float>(2, i) * 2.f - 1.f;
    }
    if (n > 5) h[5] = 1e5f;  // beyond sincos_limit: std::sin and std::cos
    const float total =
        engram::detail::sincos_project(n, h.data(), scale, tc.data(), ts.data(), u.data());
    // Against double sums: sine and cosine within 4 units of 2^-24 (the kernel's test above),
    // then n + 2 roundings of the float sum of the terms' magnitudes, and 3 for each pullback
    // (product, fused difference, scaling).
    double exact = 0, magnitude = 0, worst_u = 0;
    for (std::size_t i = 0; i < n; ++i) {
      const double c = std::cos(double(h[i])), si = std::sin(double(h[i]));
      exact += c * tc[i] + si * ts[i];
      magnitude += std::abs(tc[i]) + std::abs(ts[i]);
      const double ui = scale * (c * ts[i] - si * tc[i]);
      worst_u = std::max(worst_u, std::abs(u[i] - ui) /
                                      (scale * (std::abs(tc[i]) + std::abs(ts[i])) * 7 * 0x1p-24));
    }
    INFO("n " << n);
    CHECK(std::abs(total - scale * exact) <= scale * magnitude * double(n + 6) * 0x1p-24);
    CHECK(worst_u <= 1.0);
    // Element by element, the pullback is the kernel's sine and cosine composed in one order,
    // whichever path (packet, masked packet, tail) the element took.
    std::vector<float> s1(n), c1(n);
    engram::detail::sincos(n, h.data(), 1.f, s1.data(), c1.data());
    for (std::size_t i = 0; i < n; ++i)
      CHECK(u[i] == scale * engram::detail::fused(c1[i], ts[i], -(s1[i] * tc[i])));
    // Without a pullback the sum is the same to the bit; in place (u = h) the pullback too.
    CHECK(engram::detail::sincos_project(n, h.data(), scale, tc.data(), ts.data(), nullptr) ==
          total);
    std::vector<float> in_place = h;
    CHECK(engram::detail::sincos_project(n, in_place.data(), scale, tc.data(), ts.data(),
                                         in_place.data()) == total);
    CHECK(in_place == u);
  }
  // A NaN argument makes the sum NaN (a diverged column), never a number.
  std::vector<float> h(20, 0.5f), t(20, 1.f);
  h[17] = std::numeric_limits<float>::quiet_NaN();
  CHECK(std::isnan(engram::detail::sincos_project(20, h.data(), 1.f, t.data(), t.data(), nullptr)));
}

TEST_CASE("float sincos projections against double sums over the same directions",
          "[core][simd][features]") {
  // project(): s_b = <T, phi(x_b)> and J_phi(x_b)^T T, in float (the one-pass share of each
  // tile where the build has AVX2, the stored features otherwise), against double sums over
  // the map's own float directions. Tiles of 64 directions leave a last tile of 40 rows.
  const Index d = 37, y = 1000, b = 5;
  const float beta = 30.f;
  const engram::random_features<engram::sincos_features, float> f(d, y, beta, 8, {.tile = 64});
  Eigen::MatrixXf x(d, b);
  engram::philox_source(2).fill_uniform(x, 0, 0.f, 0.2f);
  Eigen::VectorXf t(2 * y);
  engram::philox_source(3).fill_normal(t, 0);
  Eigen::VectorXf s(b);
  Eigen::MatrixXf jt;
  f.project(x, t, s, &jt);
  const Eigen::MatrixXd omega = f.omega().cast<double>();  // Y x D
  const Eigen::MatrixXd xd = x.cast<double>();
  const double rb = std::sqrt(double(beta)), c = 1 / std::sqrt(double(y)), u = 0x1p-24;
  const Eigen::MatrixXd h = rb * omega * xd;
  // h in float is within (D + 2) u sqrt(beta) sum_d |omega_ad x_d| of h (a float dot product);
  // sine and cosine add 4 u; every sum over the Y directions adds (Y + 2) u of its magnitude.
  const Eigen::MatrixXd dh = (d + 2) * u * rb * (omega.cwiseAbs() * xd.cwiseAbs()).array();
  for (Index j = 0; j < b; ++j) {
    double exact = 0, bound = 0;
    Eigen::VectorXd g = Eigen::VectorXd::Zero(d), g_bound = Eigen::VectorXd::Zero(d);
    for (Index a = 0; a < y; ++a) {
      const double t1 = t(a), t2 = t(y + a), mag = std::abs(t1) + std::abs(t2);
      exact += c * (std::cos(h(a, j)) * t1 + std::sin(h(a, j)) * t2);
      const double err = c * mag * (dh(a, j) + 4 * u + (y + 2) * u);
      bound += err;
      g += rb * omega.row(a).transpose() * c * (std::cos(h(a, j)) * t2 - std::sin(h(a, j)) * t1);
      g_bound += rb * omega.row(a).transpose().cwiseAbs() * (err + c * mag * (d + 2) * u);
    }
    INFO("column " << j);
    CHECK(std::abs(s(j) - exact) <= bound);
    CHECK(((jt.col(j).cast<double>() - g).array().abs() <= g_bound.array()).all());
  }
#if defined(_OPENMP)
  // Tiles are summed into one partial each and the partials in tile order: any thread count
  // gives the same numbers, to the bit.
  const int saved = omp_get_max_threads();
  for (int threads : {1, 3}) {
    omp_set_num_threads(threads);
    Eigen::VectorXf s2(b);
    Eigen::MatrixXf jt2;
    f.project(x, t, s2, &jt2);
    INFO(threads << " threads");
    CHECK(s2 == s);
    CHECK(jt2 == jt);
  }
  omp_set_num_threads(saved);
#endif
}

namespace {

// c = op(a) b (+ c0) through the cpu backend's tile product (or, with `blis`, through BLIS's
// micro-kernel whether or not tile_product prefers it on this machine), against a long-double
// direct sum, with every operand a block of a taller matrix (outer stride > rows), as the
// reductions pass them.
template <class Scalar>
void check_tile_product(bool transpose_a, Index m, Index n, Index k, bool accumulate,
                        bool blis = false) {
  using M = Eigen::Matrix<Scalar, Eigen::Dynamic, Eigen::Dynamic>;
  const engram::philox_source rng(std::uint64_t(100 + m + 7 * n + 31 * k));
  const Scalar lo(-1), hi(1);
  const M a_all =
      engram_test::uniform<Scalar>(rng, 0, (transpose_a ? k : m) + 3, transpose_a ? m : k, lo, hi);
  const M b_all = engram_test::uniform<Scalar>(rng, 1, k + 2, n, lo, hi);
  const M c0 = engram_test::uniform<Scalar>(rng, 2, m + 5, n, lo, hi);
  M c_all = c0;
  if (!accumulate) c_all.setConstant(std::numeric_limits<Scalar>::quiet_NaN());
  const auto a = a_all.topRows(transpose_a ? k : m);
  const auto b = b_all.topRows(k);
  const Scalar alpha = Scalar(0.75);
  engram::vector<Scalar> pack;
  if (!blis)
    engram::tile_product(engram::cpu{}, transpose_a, alpha, a, b, accumulate, c_all.topRows(m),
                         pack);
#if defined(ENGRAM_USE_BLIS)
  else
    engram::cpu_detail::blis_tile_product(transpose_a, alpha, a, b, accumulate, c_all.topRows(m),
                                          pack);
#endif
  double worst = 0;
  for (Index i = 0; i < m; ++i)
    for (Index j = 0; j < n; ++j) {
      long double exact = 0, magnitude = 0;
      for (Index l = 0; l < k; ++l) {
        const long double t = (long double)(transpose_a ? a(l, i) : a(i, l)) * b(l, j);
        exact += t;
        magnitude += std::abs(t);
      }
      exact *= alpha;
      magnitude *= alpha;
      if (accumulate) {
        exact += c0(i, j);
        magnitude += std::abs((long double)c0(i, j));
      }
      // The standard bound of a k-term sum with FMAs, plus the scaling and the accumulation:
      // (k + 2) units of rounding of the sum of magnitudes.
      const long double bound = (k + 2) * std::numeric_limits<Scalar>::epsilon() * magnitude;
      worst = std::max(worst, double(std::abs(c_all(i, j) - exact) / bound));
    }
  INFO("transpose " << transpose_a << " m " << m << " n " << n << " k " << k << " accumulate "
                    << accumulate << " blis " << blis);
  CHECK(c_all.topRows(m).allFinite());  // NaN would slip through std::max above
  CHECK(worst <= 1.0);
  // Rows below the block are never written.
  if (accumulate)
    CHECK((c_all.bottomRows(5).array() == c0.bottomRows(5).array()).all());
  else
    CHECK(c_all.bottomRows(5).array().isNaN().all());
}

}  // namespace

TEST_CASE("tile products match direct sums in float and double", "[backend][tiles]") {
  // Thin shapes (up to thin_columns columns: the dot and axpy kernels, at the edges of their
  // blocks (with 32 vector registers 6 x 4, the last 1-3 columns in 8 x 1, 8 x 2 or 6 x 3; with
  // 16, 4 x 3; R-vector x 4 read-outs, R = 6 or 3, with single vectors of rows after), every n
  // mod 4 and mod 3, m below a block's rows, k and m off whole vectors; image_completion's
  // products, 784 x 20 x 512 and 83 x 22 x 784) and packed ones:
  // edges of the micro-kernels' register blocks (6 x 16 and 32 x 12), k = 1, k beyond one KC block
  // (256-384), and the default tile; c starts as NaN where it must be overwritten, not read. Both
  // operands are packed from both layouts (transpose_a), as full panels (the fixed-width and AVX2
  // transposing paths, 8-row blocks and the 6- or 4-row rest stored in part, k with and without
  // a remainder of 8) and as partial ones. With BLIS, its kernel is checked directly too, because
  // tile_product runs on Eigen where Eigen's vectors are wider and the FMA units take them whole.
  for (const bool transpose_a : {true, false})
    for (const bool accumulate : {false, true})
      for (const auto& [m, n, k] : std::vector<std::array<Index, 3>>{
               {1, 1, 1},      {7, 5, 1},      {17, 13, 64},   {16, 16, 1},    {20, 17, 600},
               {33, 130, 257}, {100, 40, 300}, {512, 128, 64}, {784, 20, 512}, {50, 24, 37},
               {61, 25, 19},   {3, 2, 2000},   {784, 9, 70},   {300, 7, 45},   {250, 3, 20},
               {83, 22, 784},  {45, 10, 33},   {250, 14, 20},  {5, 7, 40},     {7, 5, 40}}) {
        check_tile_product<float>(transpose_a, m, n, k, accumulate);
        check_tile_product<double>(transpose_a, m, n, k, accumulate);
#if defined(ENGRAM_USE_BLIS)
        if (engram::cpu_detail::packs(m, n, k)) {
          check_tile_product<float>(transpose_a, m, n, k, accumulate, true);
          check_tile_product<double>(transpose_a, m, n, k, accumulate, true);
        }
#endif
      }
}

#if defined(ENGRAM_USE_BLIS)
namespace {

// A tile product on BLIS's kernel with op(a), b or both packed before (as exp_reduce shares a
// memory tile among blocks of queries) against the same product packing both inside: the
// kernel reads the same panels, so the numbers are the same to the bit.
template <class T>
void check_packed_before(bool transpose_a, Index m, Index n, Index k, bool accumulate) {
  using M = Eigen::Matrix<T, Eigen::Dynamic, Eigen::Dynamic>;
  namespace cd = engram::cpu_detail;
  const engram::philox_source rng(std::uint64_t(7 + m + 3 * n + 5 * k));
  const M a_all =
      engram_test::uniform<T>(rng, 0, (transpose_a ? k : m) + 2, transpose_a ? m : k, -1, 1);
  const M b_all = engram_test::uniform<T>(rng, 1, k + 3, n, -1, 1);
  const M c0 = engram_test::uniform<T>(rng, 2, m, n, -1, 1);
  const auto a = a_all.topRows(transpose_a ? k : m);
  const auto b = b_all.topRows(k);
  const T alpha = T(0.5);
  const cd::blis_kernel<T>& kr = cd::blis_kernel<T>::get();
  engram::tile_operand<T> pa, pb;
  pa.panels = cd::pack_whole(cd::op_rows<T>(a, transpose_a), m, k, kr.prefers_rows ? kr.nr : kr.mr,
                             pa.buffer);
  pb.panels =
      cd::pack_whole(cd::op_rows<T>(b, true), n, k, kr.prefers_rows ? kr.mr : kr.nr, pb.buffer);
  using P = const engram::tile_operand<T>*;
  const P none = nullptr, packed_a = &pa, packed_b = &pb;
  engram::vector<T> pack;
  M inside = c0;
  cd::blis_tile_product(transpose_a, alpha, a, b, accumulate, inside, pack);
  INFO("transpose " << transpose_a << " m " << m << " n " << n << " k " << k << " accumulate "
                    << accumulate);
  for (const auto& [first, second] :
       {std::pair{packed_a, none}, std::pair{none, packed_b}, std::pair{packed_a, packed_b}}) {
    M before = c0;
    cd::blis_tile_product(transpose_a, alpha, a, b, accumulate, before, pack, first, second);
    CHECK((before.array() == inside.array()).all());
  }
  // Through tile_product: pack_tile_a and pack_tile_b pack exactly where it would pack, and
  // operands packed for BLIS's kernel are ignored where the product runs on another (thin
  // products, Eigen where it is preferred).
  engram::tile_operand<T> ta, tb;
  engram::pack_tile_a(engram::cpu{}, transpose_a, a, n, ta);
  engram::pack_tile_b(engram::cpu{}, b, m, tb);
  const bool packs = cd::packs_on_blis<T>(m, n, k);
  CHECK(ta.empty() == !packs);
  CHECK(tb.empty() == !packs);
  M plain = c0;
  engram::tile_product(engram::cpu{}, transpose_a, alpha, a, b, accumulate, plain, pack);
  for (const auto& [first, second] : {std::pair{P(&ta), P(&tb)}, std::pair{packed_a, packed_b}}) {
    M shared = c0;
    engram::tile_product(engram::cpu{}, transpose_a, alpha, a, b, accumulate, shared, pack, {},
                         first, second);
    CHECK((plain.array() == shared.array()).all());
  }
}

}  // namespace

TEST_CASE("tile products read operands packed before bitwise as packed inside",
          "[backend][tiles]") {
  // k over several KC blocks (600), several MC blocks of left panels whichever side the kernel
  // takes on the left (300 rows of op(a), 300 columns of b), partial panels on both sides,
  // k = 1, and thin products (n = 20, n = 2), which ignore packed operands.
  for (const bool transpose_a : {true, false})
    for (const bool accumulate : {false, true})
      for (const auto& [m, n, k] : std::vector<std::array<Index, 3>>{{300, 130, 600},
                                                                     {40, 300, 50},
                                                                     {50, 37, 37},
                                                                     {17, 25, 1},
                                                                     {16, 100, 256},
                                                                     {40, 20, 50},
                                                                     {33, 2, 19}}) {
        check_packed_before<float>(transpose_a, m, n, k, accumulate);
        check_packed_before<double>(transpose_a, m, n, k, accumulate);
      }
}
#endif

TEST_CASE("what a thin product prefetches leaves its numbers as they are", "[backend][tiles]") {
  // The prefetched range is spread over the product's steps: none (a negative size counts as
  // none), a few lines (less than one a step), about one a step, and far more than the steps
  // (many a step). Prefetching is only a
  // hint to the cache, so each result must be bitwise the one without it.
  using M = Eigen::MatrixXf;
  const engram::philox_source rng(41);
  const std::vector<float> other(1 << 18, 1.0f);
  for (const bool transpose_a : {true, false})
    for (const auto& [m, n, k] : std::vector<std::array<Index, 3>>{{83, 20, 784}, {30, 3, 40}}) {
      const M a =
          engram_test::uniform<float>(rng, 0, transpose_a ? k : m, transpose_a ? m : k, -1.f, 1.f);
      const M b = engram_test::uniform<float>(rng, 1, k, n, -1.f, 1.f);
      engram::vector<float> pack;
      M plain(m, n);
      engram::tile_product(engram::cpu{}, transpose_a, 0.5f, a, b, false, plain, pack);
      for (const Index bytes :
           {Index(-64), Index(0), Index(256), Index(64 * m * n), Index(4) << 18}) {
        M fetched(m, n);
        engram::tile_product(engram::cpu{}, transpose_a, 0.5f, a, b, false, fetched, pack,
                             engram::prefetch_range{other.data(), bytes});
        INFO("transpose " << transpose_a << " m " << m << " n " << n << " bytes " << bytes);
        CHECK((fetched.array() == plain.array()).all());
        // Every line of the range is asked for by the end of the product (k and m span at least
        // one vector here, so each product has steps to spread it over).
        const engram::prefetch_range range{other.data(), bytes};
        const Index left =
            transpose_a
                ? engram::cpu_detail::thin_dots(m, n, k, 0.5f, a.data(), a.outerStride(), b.data(),
                                                b.outerStride(), false, fetched.data(), m, range)
                : engram::cpu_detail::thin_axpys(m, n, k, 0.5f, a.data(), a.outerStride(), b.data(),
                                                 b.outerStride(), false, fetched.data(), m, range);
        CHECK(left == 0);
        CHECK((fetched.array() == plain.array()).all());
      }
    }
  // The walk itself: 10 lines over 3 steps, 4 a step; nothing for an empty or negative range.
  engram::cpu_detail::prefetcher walk({other.data(), 640}, 3);
  CHECK(walk.left() == 10);
  walk.step();
  walk.step();
  CHECK(walk.left() == 2);
  walk.step();
  walk.step();  // past the end: nothing more
  CHECK(walk.left() == 0);
  CHECK(engram::cpu_detail::prefetcher({other.data(), -64}, 3).left() == 0);
  CHECK(engram::cpu_detail::prefetcher({nullptr, 640}, 3).left() == 0);
}

#if defined(ENGRAM_USE_BLIS)
TEST_CASE(
    "tile products run on BLIS's kernel only where its vectors are as wide as Eigen's or the FMA "
    "units'",
    "[backend][tiles]") {
  using engram::cpu_detail::fma_datapath_bytes;
  using engram::cpu_detail::vector_bytes;
  CHECK(fma_datapath_bytes(true, 0x19) == 32);  // Zen 3 and 4: 256-bit FMA units
  CHECK(fma_datapath_bytes(true, 0x17) == 32);  // Zen 1 and 2
  CHECK(fma_datapath_bytes(true, 0x1a) > 64);   // Zen 5: 512-bit units on desktop and server
  CHECK(fma_datapath_bytes(false, 0x6) > 64);   // Intel: the instruction set's width
  CHECK(fma_datapath_bytes(false, 0x19) > 64);
  CHECK(vector_bytes("skx") == 64);
  CHECK(vector_bytes("zen4") == 64);
  CHECK(vector_bytes("haswell") == 32);
  CHECK(vector_bytes("zen3") == 32);
  CHECK(vector_bytes("penryn") == 16);
  CHECK(vector_bytes("armsve") > 64);  // unknown configurations keep BLIS
  const char* running = bli_arch_string(bli_arch_query_id());
  const bool expected = vector_bytes(running) >=
                        std::min(engram::cpu_detail::eigen_vector_bytes, fma_datapath_bytes());
  INFO("BLIS configuration " << running << ", Eigen's vectors "
                             << engram::cpu_detail::eigen_vector_bytes << " bytes, FMA units "
                             << fma_datapath_bytes() << " bytes");
  CHECK(engram::cpu_detail::blis_kernel<float>::get().preferred == expected);
  CHECK(engram::cpu_detail::blis_kernel<double>::get().preferred == expected);
  // The packing buffer follows the choice: none where Eigen runs the products.
  CHECK((engram::tile_product_pack_size<float>(engram::cpu{}, 512, 128, 256) > 0) == expected);
}
#endif
