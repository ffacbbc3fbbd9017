// Seed 003: Lagrangians, the Krotov-Hopfield dynamics and its remedies, dead neurons and
// stability. Gradients are checked against central differences of the energies; Lyapunov
// properties along integrate() trajectories.
#include <engram/engram.hpp>

#include <cmath>
#include <vector>

#include "catch.hpp"
#include "support/support.hpp"

using Index = Eigen::Index;
using Md = Eigen::MatrixXd;
using Vd = Eigen::VectorXd;
using engram_test::central_difference;
using engram_test::uniform;

namespace {

Md symmetric(std::uint64_t seed, Index n, double scale) {
  const Md a = uniform(seed, n, n, -1.0, 1.0);
  return scale * (a + a.transpose()) / 2;
}

// L of one column as a long-double-free scalar function, for central differences.
template <class L>
double lagrangian_at(const L& l, const Md& y) {
  Vd v(1);
  l.value(y, v);
  return v(0);
}

template <class L>
void check_lagrangian(const L& l, const Md& y) {
  Md g(y.rows(), y.cols());
  l.activation(y, g);
  for (Index b = 0; b < y.cols(); ++b) {
    const Md yb = y.col(b);
    const Md h = l.hessian(yb.col(0));
    for (Index i = 0; i < y.rows(); ++i) {
      // h = 1e-6 in double: truncation ~ h^2 |L'''| ~ 1e-12, rounding ~ 1e-16/1e-6 = 1e-10.
      const double fd =
          central_difference([&](const Md& x) { return lagrangian_at(l, x); }, yb, i, 1e-6);
      CHECK(std::abs(g(i, b) - fd) <= 1e-8 * (1 + std::abs(fd)));
      for (Index j = 0; j < y.rows(); ++j) {
        const double fd2 = central_difference(
            [&](const Md& x) {
              Md gx(x.rows(), 1);
              l.activation(x, gx);
              return gx(j, 0);
            },
            yb, i, 1e-6);
        CHECK(std::abs(h(j, i) - fd2) <= 1e-7 * (1 + std::abs(fd2)));
      }
    }
    // The batched product agrees with the dense Hessian.
    const Md v = uniform(900 + std::uint64_t(b), y.rows(), 1, -1.0, 1.0);
    Md hv(y.rows(), 1);
    l.hessian_product(yb, v, hv);
    CHECK((hv - h * v).cwiseAbs().maxCoeff() <= 1e-14);
  }
}

}  // namespace

TEST_CASE("Lagrangians: g = grad L and Lambda = dg/dy", "[lagrangian][gradient]") {
  // States away from ReLU's kink (|y| >= 0.05), where its L is twice differentiable.
  Md y = uniform(701, 5, 3, -2.0, 2.0);
  y = y.unaryExpr([](double v) { return std::abs(v) < 0.05 ? v + 0.1 : v; });
  check_lagrangian(engram::relu_lagrangian<double>{}, y);
  check_lagrangian(engram::softplus_lagrangian<double>{}, y);
  check_lagrangian(engram::tanh_lagrangian<double>{}, y);
  check_lagrangian(engram::smooth_leaky_lagrangian<double>{}, 3 * y);
  check_lagrangian(engram::lse_lagrangian<double>{.beta = 2.5}, y);
  const engram::layered_lagrangian layered(std::vector<Index>{2, 3},
                                           engram::relu_lagrangian<double>{},
                                           engram::lse_lagrangian<double>{.beta = 1.5});
  check_lagrangian(layered, y);

  // Example 7's closed form: L(0) = 3 (4 * 0 / (3 sqrt pi)) / 8 = 0; for large |u| g tends to u
  // (u > 0) and u/4 (u < 0), so L tends to u^2/2 - 3 * 16/(9 * 8) = u^2/2 - 2/3 and u^2/8 + 2/3;
  // and g' lies in [0.153, 1.097] (Lambda positive definite, against the paper's remark).
  const engram::smooth_leaky_lagrangian<double> leaky;
  CHECK(leaky.unit_value(0.0) == 0.0);
  CHECK(std::abs(leaky.unit_value(40.0) - (800.0 - 2.0 / 3)) <= 1e-10);
  CHECK(std::abs(leaky.unit_value(-40.0) - (200.0 + 2.0 / 3)) <= 1e-10);
  double lo = 1e9, hi = -1e9;
  for (double u = -20; u <= 20; u += 1e-3) {
    lo = std::min(lo, leaky.unit_slope(u));
    hi = std::max(hi, leaky.unit_slope(u));
  }
  CHECK(lo > 0.152);
  CHECK(lo < 0.154);
  CHECK(hi > 1.096);
  CHECK(hi < 1.098);
}

TEST_CASE("energy (2): grad E = -Lambda ydot, non-increasing under RK4 and Dormand-Prince",
          "[lagrangian][energy]") {
  const Index n = 6;
  const Md w = symmetric(711, n, 0.8);
  const Vd b = uniform(712, n, 1, -0.5, 0.5);
  engram::krotov_hopfield_field<engram::softplus_lagrangian<double>> field(w, b);
  const Md y0 = uniform(713, n, 4, -2.0, 2.0);
  const Md grad = field.energy_gradient(y0);
  for (Index c = 0; c < y0.cols(); ++c)
    for (Index i = 0; i < n; ++i) {
      const double fd =
          central_difference([&](const Md& x) { return field.energy(x)(0); }, y0.col(c), i, 1e-6);
      CHECK(std::abs(grad(i, c) - fd) <= 1e-7 * (1 + std::abs(fd)));
    }
  const auto stop = engram::stop::after(200);
  const auto rk = engram::integrate(field, y0, engram::rk4<double>{.step = 0.05}, stop,
                                    engram::no_observer{}, {.record_trace = true});
  const auto dp = engram::integrate(field, y0, engram::dormand_prince<double>{}, stop,
                                    engram::no_observer{}, {.record_trace = true});
  for (Index c = 0; c < y0.cols(); ++c) {
    // 1e-12 relative: RK4 and DP descend to rounding near the fixed point.
    CHECK(engram::first_energy_increase(rk.energy_trace.col(c), 1e-12) == -1);
    CHECK(engram::first_energy_increase(dp.energy_trace.col(c), 1e-12) == -1);
    CHECK(rk.energy_trace(rk.energy_trace.rows() - 1, c) < rk.energy_trace(0, c));
  }
}

TEST_CASE("dead neurons: energy (2) is flat along them, E3 is not", "[lagrangian][dead]") {
  const Index n = 4;
  const Md w = symmetric(721, n, 0.5);
  const Vd b = uniform(722, n, 1, -0.3, 0.3);
  Md y = uniform(723, n, 1, 0.2, 1.0);
  y(2) = -0.4;  // neuron 2 is dead: g_2 = 0 for every y_2 <= 0
  engram::krotov_hopfield_field<engram::relu_lagrangian<double>> kh(w, b);
  engram::original_remedy_field<engram::relu_lagrangian<double>> remedy(w, b);
  const double e0 = kh.energy(y)(0), e3 = remedy.energy(y)(0);
  for (double alpha : {-0.1, -1.0, -10.0}) {
    Md moved = y;
    moved(2) += alpha;
    // Seed 003 Examples 2-4: y_2 (-b_2) g_2 and L, g^T W g do not see y_2 while g_2 = 0.
    CHECK(std::abs(kh.energy(moved)(0) - e0) <= 1e-15 * (1 + std::abs(e0)));
    CHECK(std::abs(remedy.energy(moved)(0) - e3) > 1e-3);
  }
  // The analysis finds it: Lambda's null space is e_2, and the state is not an energy minimum
  // of the flat kind the dynamics alone can judge.
  const auto dead = engram::dead_neurons(engram::relu_lagrangian<double>{}, y.col(0));
  REQUIRE(dead.count() == 1);
  CHECK(std::abs(std::abs(dead.basis(2, 0)) - 1) <= 1e-12);
  CHECK((dead.projector - Vd::Unit(n, 2) * Vd::Unit(n, 2).transpose()).cwiseAbs().maxCoeff() <=
        1e-12);

  // Softmax: E(y + c 1) = E(y) for every c (g and the rest shift together).
  engram::krotov_hopfield_field<engram::lse_lagrangian<double>> soft(w, b);
  const Md z = uniform(724, n, 1, -1.0, 1.0);
  const double ez = soft.energy(z)(0);
  for (double c : {-3.0, 0.5, 7.0})
    CHECK(std::abs(soft.energy((z.array() + c).matrix())(0) - ez) <= 1e-13 * (1 + std::abs(c)));
  const auto flat = engram::dead_neurons(engram::lse_lagrangian<double>{}, z.col(0));
  REQUIRE(flat.count() == 1);  // the direction 1 / sqrt(n)
  CHECK(std::abs(std::abs(flat.basis.col(0).sum()) - std::sqrt(double(n))) <= 1e-10);
}

TEST_CASE("the remedies: grad E3 = -udot for R = I - W^T Lambda, any W", "[lagrangian][remedy]") {
  const Index n = 5;
  const Md w = 0.6 * uniform(731, n, n, -1.0, 1.0);  // not symmetric
  const Vd b = uniform(732, n, 1, -0.5, 0.5);
  const Md u = uniform(733, n, 3, -1.5, 1.5);
  using leaky = engram::smooth_leaky_lagrangian<double>;
  engram::remedy_field<leaky, engram::contrastive_rule> field(w, b);
  Md dudt;
  field(u, dudt);
  for (Index c = 0; c < u.cols(); ++c)
    for (Index i = 0; i < n; ++i) {
      const double fd =
          central_difference([&](const Md& x) { return field.energy(x)(0); }, u.col(c), i, 1e-6);
      CHECK(std::abs(-dudt(i, c) - fd) <= 1e-7 * (1 + std::abs(fd)));
    }
  // The same for the original-dynamics variant (eqs. 9-10 with R = I - Lambda W^T).
  engram::original_remedy_field<leaky> original(w, b);
  Md dydt;
  original(u, dydt);
  for (Index c = 0; c < u.cols(); ++c)
    for (Index i = 0; i < n; ++i) {
      const double fd =
          central_difference([&](const Md& x) { return original.energy(x)(0); }, u.col(c), i, 1e-6);
      CHECK(std::abs(-dydt(i, c) - fd) <= 1e-7 * (1 + std::abs(fd)));
    }
  // R = W with E2 (Example 5.1): for symmetric W also an exact gradient flow, grad E2 = W f.
  const Md ws = symmetric(734, n, 0.6);
  engram::remedy_field<leaky, engram::coupling_rule> e2(ws, b);
  e2(u, dudt);
  for (Index i = 0; i < n; ++i) {
    const double fd =
        central_difference([&](const Md& x) { return e2.energy(x)(0); }, u.col(0), i, 1e-6);
    CHECK(std::abs(-dudt(i, 0) - fd) <= 1e-7 * (1 + std::abs(fd)));
  }
  // Eq. 7: grad E = F(u) f(u) for the full energy alpha E1 + beta E2 + gamma E3 (symmetric W),
  // and R^T F + F^T R >= 0 for R = I - W^T Lambda with E3 (Example 6.1).
  engram::remedy_field<leaky, engram::contrastive_rule> mixed(ws, b, {}, {0.7, -0.4, 1.3});
  for (Index c = 0; c < u.cols(); ++c) {
    Md g(n, 1);
    leaky{}.activation(ws * u.col(c) + b, g);
    const Vd grad = mixed.gradient_factor(u.col(c)) * (u.col(c) - g.col(0));
    for (Index i = 0; i < n; ++i) {
      const double fd =
          central_difference([&](const Md& x) { return mixed.energy(x)(0); }, u.col(c), i, 1e-6);
      CHECK(std::abs(grad(i) - fd) <= 1e-7 * (1 + std::abs(fd)));
    }
    const Md cond = field.lyapunov_condition(u.col(c));
    CHECK(Eigen::SelfAdjointEigenSolver<Md>(cond).eigenvalues().minCoeff() >= -1e-12);
  }
  // Every rule's energy is non-increasing along RK4 (symmetric W for E2's rules).
  const auto stop = engram::stop::after(150);
  const engram::rk4<double> step{.step = 0.05};
  const engram::integrate_options trace{.record_trace = true};
  engram::remedy_field<leaky, engram::polar_rule> polar(ws, b);
  engram::remedy_field<leaky, engram::hessian_rule> hess(0.3 * w, b);
  const auto r1 = engram::integrate(field, u, step, stop, engram::no_observer{}, trace);
  const auto r2 = engram::integrate(e2, u, step, stop, engram::no_observer{}, trace);
  const auto r3 = engram::integrate(polar, u, step, stop, engram::no_observer{}, trace);
  const auto r4 = engram::integrate(hess, u, step, stop, engram::no_observer{}, trace);
  for (Index c = 0; c < u.cols(); ++c) {
    CHECK(engram::first_energy_increase(r1.energy_trace.col(c), 1e-12) == -1);
    CHECK(engram::first_energy_increase(r2.energy_trace.col(c), 1e-12) == -1);
    CHECK(engram::first_energy_increase(r3.energy_trace.col(c), 1e-12) == -1);
    // Example 6.2 needs Lambda - 1/2 Lambda (W + W^T) Lambda >= 0: ||0.3 W|| < 1/max g' holds.
    CHECK(engram::first_energy_increase(r4.energy_trace.col(c), 1e-12) == -1);
  }
}

TEST_CASE("eqs. 9-10: R = I - Lambda W^T never raises E3; the paper's I - W Lambda can",
          "[lagrangian][remedy]") {
  // 20,000 random states with symmetric W: the rate dE3/dt = grad E3 . ydot, with grad E3 from
  // the analytic form (Lambda W^T - I) h, checked against central differences above.
  const Index n = 6, states = 20000;
  const Md w = symmetric(741, n, 3.0);
  const Vd b = uniform(742, n, 1, -1.0, 1.0);
  const Md y = uniform(743, n, states, -3.0, 3.0);
  const engram::tanh_lagrangian<double> l;
  Md g(n, states), h, lw(n, states), paper(n, states);
  l.activation(y, g);
  h = w * g - y;
  h.colwise() += b;
  engram::original_remedy_field<engram::tanh_lagrangian<double>> field(w, b);
  Md ydot;
  field(y, ydot);
  // grad E3 = (Lambda W^T - I) h = -(I - Lambda W^T) h = -ydot: the rate is -||ydot||^2.
  Index raised_ours = 0, raised_paper = 0;
  l.hessian_product(y, h, lw);  // Lambda h
  paper = h - w * lw;           // (I - W Lambda) h
  for (Index c = 0; c < states; ++c) {
    const Vd grad = -ydot.col(c);
    raised_ours += grad.dot(ydot.col(c)) > 0;
    raised_paper += grad.dot(paper.col(c)) > 0;
  }
  INFO("states where E3 rises: ours " << raised_ours << ", the paper's R " << raised_paper);
  CHECK(raised_ours == 0);
  // The paper's R = I - W Lambda raises E3 where h^T (I - W Lambda)^2 h < 0, which a
  // non-normal I - W Lambda allows (measured here: 26 of 20,000; SCIENCE.md: 8 in another setup).
  CHECK(raised_paper > 0);
}

TEST_CASE("Prop. 3 and App. E: the GOE norm ratio and mean largest eigenvalue",
          "[lagrangian][random-matrix]") {
  const Index n = 400, k = 100, draws = 12;
  double full = 0, restricted = 0, largest = 0;
  for (Index s = 0; s < draws; ++s) {
    const Md w = engram::goe_matrix<double>(n, 750 + std::uint64_t(s));
    // GOE is orthogonally invariant: a principal (N - k) block is W_perp for k dead neurons.
    const Vd ev = Eigen::SelfAdjointEigenSolver<Md>(w, Eigen::EigenvaluesOnly).eigenvalues();
    const Vd ev_perp =
        Eigen::SelfAdjointEigenSolver<Md>(w.topLeftCorner(n - k, n - k), Eigen::EigenvaluesOnly)
            .eigenvalues();
    full += ev.cwiseAbs().maxCoeff() / draws;
    restricted += ev_perp.cwiseAbs().maxCoeff() / draws;
    largest += ev.maxCoeff() / draws;
  }
  INFO("ratio " << restricted / full << " vs " << engram::goe_norm_ratio(n, k) << "; largest "
                << largest << " vs " << engram::goe_mean_largest_eigenvalue(n));
  // Within 2% (the bound): the finite-N corrections of both norms mostly cancel.
  CHECK(std::abs(restricted / full / engram::goe_norm_ratio(n, k) - 1) < 0.02);
  // Eqs. 11-12 give the mean of the largest eigenvalue; 12 draws with the Tracy-Widom spread
  // sigma'_N ~ 0.26 put the sample mean within about 0.1 of it (1% of sqrt(2N) = 28).
  CHECK(std::abs(largest - engram::goe_mean_largest_eigenvalue(n)) < 0.3);
}

TEST_CASE("App. C: with ||W||_2 = 1 - eps the ReLU network contracts", "[lagrangian][contract]") {
  const Index n = 8;
  const double eps = 0.2;
  Md w = symmetric(761, n, 1.0);
  const Vd sv = Eigen::JacobiSVD<Md>(w).singularValues();
  w *= (1 - eps) / sv(0);
  const Vd b = uniform(762, n, 1, -0.5, 0.5);
  engram::krotov_hopfield_field<engram::relu_lagrangian<double>> field(w, b);
  Md y = uniform(763, n, 2, -2.0, 2.0);
  const double d0 = (y.col(0) - y.col(1)).squaredNorm();
  const engram::rk4<double> step{.step = 0.01};
  for (int k = 1; k <= 5; ++k) {
    y = engram::integrate(field, y, step, engram::stop::after(100)).states;
    const double t = k * 1.0;  // 100 steps of 0.01
    // RK4's error at h = 0.01 on this Lipschitz field is far below the 1e-6 allowance.
    CHECK((y.col(0) - y.col(1)).squaredNorm() <= std::exp(-2 * eps * t) * d0 * (1 + 1e-6));
  }
}

TEST_CASE("stability and the steady state recovered from an energy minimiser (Prop. 4)",
          "[lagrangian][stability]") {
  // Two ReLU neurons: W = [[0, 0.5], [0.5, 0]], b = (1, -2). At y* neuron 2 is dead
  // (y2* = 0.5 g1 - 2 < 0) and neuron 1 sits at y1* = b1 = 1 (g2 = 0).
  Md w(2, 2);
  w << 0, 0.5, 0.5, 0;
  Vd b(2);
  b << 1, -2;
  const engram::relu_lagrangian<double> l;
  engram::krotov_hopfield_field<engram::relu_lagrangian<double>> field(w, b);
  const auto run =
      engram::integrate(field, Md::Constant(2, 1, 0.3), engram::rk4<double>{.step = 0.1},
                        engram::stop::gradient_norm(1e-12) || engram::stop::after(2000));
  REQUIRE(run.converged(0));
  const Vd ystar = run.states.col(0);
  CHECK(std::abs(ystar(0) - 1.0) <= 1e-10);
  CHECK(std::abs(ystar(1) - (-1.5)) <= 1e-10);  // 0.5 * 1 - 2
  const auto st = engram::stability(l, w, ystar);
  CHECK(st.dead == 1);
  CHECK(st.stable());  // S = W_perp Lambda_perp - I = [0 * 1 - 1] = -1
  CHECK(std::abs(st.max_real_part + 1) <= 1e-12);
  CHECK(st.energy_minimum());
  // A minimiser of energy (2) anywhere on the flat dead direction maps back to y*.
  Vd minimiser = ystar;
  minimiser(1) = -7.0;  // same energy: neuron 2 stays dead
  CHECK(std::abs(field.energy(minimiser)(0) - field.energy(ystar)(0)) <= 1e-14);
  const Vd recovered = engram::steady_state_from_minimiser(l, w, b, minimiser);
  CHECK((recovered - ystar).cwiseAbs().maxCoeff() <= 1e-10);
  // Prop. 4(3) as printed, y~ + P_d (W g(y~) + b), lands at y2 = -7 - 1.5 instead: the
  // correction is needed whenever the minimiser has a dead component.
  const Vd printed = minimiser + Vd::Unit(2, 1) * (w.row(1).dot(Vd::Unit(2, 0)) + b(1));
  CHECK(std::abs(printed(1) - (-8.5)) <= 1e-12);
  Md residual;
  field(printed, residual);
  CHECK(residual.norm() > 1);
  // An unstable steady state: strong mutual excitation, W = [[0, 2], [2, 0]], b = 0, y* = 0
  // approached from inside the active cone: S = W Lambda - I has eigenvalue 1 at y = (1, 1).
  Md strong(2, 2);
  strong << 0, 2, 2, 0;
  const auto unstable = engram::stability(l, strong, Vd::Constant(2, 1.0));
  CHECK_FALSE(unstable.stable());
  CHECK(std::abs(unstable.max_real_part - 1) <= 1e-12);
  CHECK_FALSE(unstable.energy_minimum());
}

TEST_CASE("hierarchical couplings and Example 7's scaling", "[lagrangian][coupling]") {
  const std::vector<Index> sizes{3, 4, 2};
  const Md ws = engram::hierarchical_coupling<double>(sizes, 771);
  const Md wn =
      engram::hierarchical_coupling<double>(sizes, 771, engram::block_symmetry::independent);
  CHECK(ws.rows() == 9);
  CHECK((ws - ws.transpose()).cwiseAbs().maxCoeff() == 0);
  CHECK((wn - wn.transpose()).cwiseAbs().maxCoeff() > 0.1);
  // Block tridiagonal: the diagonal blocks and the (1, 3) blocks are zero.
  CHECK(ws.topLeftCorner(3, 3).cwiseAbs().maxCoeff() == 0);
  CHECK(ws.block(0, 7, 3, 2).cwiseAbs().maxCoeff() == 0);
  CHECK(wn.block(7, 0, 2, 3).cwiseAbs().maxCoeff() == 0);
  CHECK(ws.block(0, 3, 3, 4).cwiseAbs().maxCoeff() > 0);
  const Md scaled = engram::scale_blocks(wn, sizes);
  CHECK(std::abs(Eigen::JacobiSVD<Md>(scaled.block(0, 3, 3, 4)).singularValues()(0) - 0.5) <=
        1e-12);
  CHECK(Eigen::JacobiSVD<Md>(scaled).singularValues()(0) <= 1 + 1e-12);
  // Example 7: a non-symmetric three-layer network under the remedy dynamics keeps E3
  // non-increasing.
  engram::remedy_field<engram::smooth_leaky_lagrangian<double>, engram::contrastive_rule> field(
      scaled, uniform(772, 9, 1, -0.5, 0.5));
  const auto run = engram::integrate(
      field, uniform(773, 9, 4, -2.0, 2.0),
      engram::dormand_prince<double>{.abs_tolerance = 1e-10, .rel_tolerance = 1e-10},
      engram::stop::after(100), engram::no_observer{}, {.record_trace = true});
  // DP at tolerance 1e-10: near the fixed point E3 = 1/2 ||f||^2 moves by ~||f|| 1e-10 per step,
  // far below the 1e-12 allowance (at the default 1e-6, E3 ~ 1e-12 wobbles by that much).
  for (Index c = 0; c < 4; ++c)
    CHECK(engram::first_energy_increase(run.energy_trace.col(c), 1e-12) == -1);
}

TEST_CASE("Lagrangian dynamics refuse bad input with typed errors", "[lagrangian][errors]") {
  using relu = engram::relu_lagrangian<double>;
  const Md w = symmetric(781, 3, 1.0);
  const Vd b = Vd::Zero(3);
  CHECK_THROWS_AS(engram::krotov_hopfield_field<relu>(Md::Zero(3, 2), b),
                  engram::dimension_mismatch);
  CHECK_THROWS_AS(engram::krotov_hopfield_field<relu>(w, Vd::Zero(4)), engram::dimension_mismatch);
  Md nan_w = w;
  nan_w(1, 2) = std::nan("");
  CHECK_THROWS_AS(engram::krotov_hopfield_field<relu>(nan_w, b), engram::not_finite);
  Md skew = w;
  skew(0, 1) += 0.5;
  CHECK_THROWS_WITH(engram::krotov_hopfield_field<relu>(skew, b),
                    Catch::Contains("symmetric") && Catch::Contains("remedy"));
  CHECK_THROWS_AS((engram::remedy_field<relu, engram::coupling_rule>(skew, b)),
                  engram::invalid_argument);
  CHECK_NOTHROW(engram::remedy_field<relu, engram::contrastive_rule>(skew, b));
  CHECK_THROWS_AS((engram::remedy_field<relu, engram::contrastive_rule>(skew, b, {}, {0, 1, 0})),
                  engram::invalid_argument);
  engram::krotov_hopfield_field<relu> field(w, b);
  CHECK_THROWS_AS(field.energy(Md::Constant(3, 1, std::nan(""))), engram::not_finite);
  CHECK_THROWS_AS(field.energy(Md::Zero(4, 1)), engram::dimension_mismatch);
  CHECK_THROWS_AS(engram::dead_neurons(relu{}, Vd::Zero(3), 0.0), engram::invalid_argument);
  CHECK_THROWS_AS(engram::first_energy_increase(Vd::Zero(3), -1.0), engram::invalid_argument);
  CHECK_THROWS_AS(engram::scale_blocks(w, {1, 1}), engram::dimension_mismatch);
  CHECK_THROWS_AS(engram::hierarchical_coupling<double>({3}, 1), engram::invalid_argument);
  CHECK_THROWS_AS(engram::layered_lagrangian(std::vector<Index>{2}, relu{}, relu{}),
                  engram::invalid_argument);
  const engram::layered_lagrangian two(std::vector<Index>{2, 2}, relu{}, relu{});
  Md g(3, 1);
  CHECK_THROWS_AS(two.activation(Md::Zero(3, 1), g), engram::dimension_mismatch);
  CHECK_THROWS_AS(engram::goe_norm_ratio(10, 10), engram::invalid_argument);
}
