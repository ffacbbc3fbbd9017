// learned_attractors: seed 000 (Lipshutz et al.), energies learned from noisy observations.
//
// The network's energy is not built from stored patterns: two-timescale plasticity learns it
// from data. The fast dynamics relax the response y to each observation x; the weights then
// move toward the responses' statistics (W <- W + eta_W (<y y^T> - W), c <- c + eta_c (<y o y>
// - 1)), which descends min_W max_c <min_y E(y; x)> + 1/2 ||W||_F^2 - ||c||_1. The learned
// energy without input is flat along the data's manifold: an attractor learned, not stored.
//
// (a) The line attractor: the linear network E(y; x) = -2 <x, y> - y^T W y + sum c_i y_i^2 in
// N = 16 dimensions learns from P = 2000 observations x = s * spread * u + noise * z
// (s ~ N(0, 1), z ~ N(0, I)), u with entries +-1/sqrt(N) (so every neuron sees the line
// equally and the leak c stays uniform), spread = sqrt(N) = 4 (the line carries the whole
// signal power N) and noise 0.1. Learning starts at W = 0, c = 3 and uses the mean-field update
// (one batch of all P, closed-form responses y = (diag c - W)^{-1} x) with eta_W = 0.005 and
// eta_c = 0.1 for 3000 epochs: the seed fixes none of these, and the leak must be the faster
// timescale (equal rates drive diag c - W indefinite; at N = 16 eta_c = 20 eta_W is needed).
// The fixed point W = <y y^T>, <y_i^2> = 1 has, with data covariance v1 u u^T + v0 (I - u u^T)
// and a uniform leak, W = w1 u u^T + w0 (I - u u^T) with
//     m1 = c - w1 = sqrt(v1 / w1),  m0 = c - w0 = sqrt(v0 / w0),  w1 + (N - 1) w0 = N,
// so w1 ~ N, m1 ~ sqrt(v1 / N) ~ 1 and m0 ~ c ~ N + 1: W - diag c has one slow eigenvalue
// -m1 along u and N - 1 fast ones near -(N + 1). The program solves these equations for the
// nominal v1 = spread^2 + noise^2, v0 = noise^2 and for the sample covariance, and prints them
// beside the learned spectrum. It then integrates the fast flow ydot = x + W y - c o y from
// y = 0 for three fresh inputs (RK4): the part orthogonal to u settles at rate m0, the line
// mode at rate m1, 17 times slower.
//
// (b) The ring attractor: the kernel network E(y; x) = -2 K(x, y) - Phi(y)^T A Phi(y) +
// g K(y, y) over the quadratic map Phi(y) = (2 y1^2 - 1, 2 y2^2 - 1, 2 y1 y2) learns from 500
// observations of the unit circle with noise 0.1, from A = 0, g = 3, mean-field updates with
// eta_W = 0.05, eta_c = 0.5 for 300 epochs; each response is relaxed by Euler steps of 0.05
// from y = x until |ydot| < 1e-9 (at most 2000 steps). The learned energy E_0(y) =
// Phi(y)^T (g I - A) Phi(y) has a ring-shaped valley. The quadratic map is not rotation
// invariant (K(y, y) = 1 + cos^2 2t on the unit circle), so the valley floor r*(t), the radius
// minimising E_0 along the ray at angle t (closed form: E_0 is quadratic in r^2 along a ray),
// is not level: descent of the input-free flow from 64 random starts ends at four shallow
// minima on the diagonals. The program prints the floor's angular variation against the
// valley's depth E_0(0) - min E_0.
//
// Measured (seed 0): W - diag c has -1.018 along u (|cos| with u 1.000) and fifteen
// eigenvalues at -17.02, as the sample-covariance theory says to four digits; the responses to
// the ring lie at mean radius 0.90, the valley floor between 0.74 (on the axes) and 0.84 (on the
// diagonals), where the four minima are; the floor's angular variation is 0.23 of the depth.
//
// Writes line_training.csv/png, line_spectrum.csv/png, line_response.csv/png, and
// ring_training.csv, ring_observations.csv, ring_energy.csv, ring_field.csv, ring_minima.csv
// with ring.png, in --out. About 3 s; a progress line on stderr counts the learning epochs of
// each part (--quiet silences it).
#include <CLI/CLI.hpp>
#include <engram/engram.hpp>

#include "cli_checks.hpp"
#include "gnuplot.hpp"
#include "progress.hpp"

#include <algorithm>
#include <bit>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <functional>
#include <numbers>
#include <string>
#include <vector>

namespace {

using Md = Eigen::MatrixXd;
using Vd = Eigen::VectorXd;
using engram::index;
namespace fs = std::filesystem;
using example::draw;
using example::report_written;
using example::write_file;
using quadratic_net = engram::kernel_response<engram::quadratic_features<double>>;

using example::non_negative_finite;

struct line_config {
  index dim = 16;      // N
  index count = 2000;  // P
  double spread = 4;   // sqrt(N) unless --spread
  double noise = 0.1;
  double c0 = 3;
  double eta_w = 0.005;
  double eta_c = 0.1;
  index epochs = 3000;
  index tests = 3;  // fresh inputs whose response dynamics are recorded
  std::uint64_t seed = 0;
};

struct ring_config {
  index count = 500;
  double noise = 0.1;
  double g0 = 3;
  double eta_w = 0.05;
  double eta_c = 0.5;
  index epochs = 300;
  index starts = 64;
  std::uint64_t seed = 0;
};

engram::hebbian_params mean_field_params(double eta_w, double eta_c, index batch, index epochs,
                                         std::uint64_t seed) {
  // batch = every observation: the mean-field update, so the order (shuffle) does not matter.
  return {.eta_w = eta_w,
          .eta_c = eta_c,
          .batch = batch,
          .epochs = epochs,
          .seed = seed,
          .shuffle = false};
}

std::string number(double v) {
  char text[40];
  std::snprintf(text, sizeof text, "%.9g", v);
  return text;
}

std::string png_header(const fs::path& png, int width, int height) {
  return "set terminal pngcairo noenhanced size " + std::to_string(width) + "," +
         std::to_string(height) + " font 'sans,11'\nset output " + plot::quoted(png.string()) +
         "\nset datafile separator ','\n";
}

/// The mean-field fixed point of the line attractor (see the top comment).
struct line_theory {
  double v1, v0;  // data variance along u and across it
  double w1, w0;  // eigenvalues of W along u and across
  double c;       // the uniform leak
  double m1() const { return c - w1; }
  double m0() const { return c - w0; }
};

/// Solves m1 = sqrt(v1 / w1), m0 = sqrt(v0 / w0), c = m1 + w1 = m0 + w0, w1 + (N - 1) w0 = N
/// for the root with w0 smallest (W closest to rank one: the learned line).
line_theory solve_line_theory(double n, double v1, double v0) {
  line_theory t{v1, v0, n, 0, 0};
  if (!(v0 > 0)) {  // noise-free data: nothing across the line, w0 = 0 and m0 = c
    t.c = std::sqrt(v1 / n) + n;
    return t;
  }
  const auto mismatch = [&](double w0) {
    const double w1 = n - (n - 1) * w0;
    return std::sqrt(v1 / w1) + w1 - std::sqrt(v0 / w0) - w0;
  };
  // mismatch -> -infinity as w0 -> 0 and +infinity as w1 -> 0 (w0 -> N / (N - 1)): scan up
  // from w0 = 0 on a log grid to the first sign change, then bisect in log w0.
  const double top = n / (n - 1) * (1 - 1e-12);
  double lo = 1e-300, hi = lo;
  for (double w0 = 1e-300; w0 < top; w0 = std::min(top, w0 * 1.5)) {
    hi = w0;
    if (mismatch(w0) > 0) break;
    lo = w0;
    if (w0 == top) break;
  }
  for (int k = 0; k < 200; ++k) {
    const double mid = std::sqrt(lo * hi);
    (mismatch(mid) > 0 ? hi : lo) = mid;
  }
  t.w0 = std::sqrt(lo * hi);
  t.w1 = n - (n - 1) * t.w0;
  t.c = std::sqrt(v1 / t.w1) + t.w1;
  return t;
}

std::string line_training_script(const fs::path& csv, const fs::path& png) {
  const std::string data = plot::quoted(csv.string());
  return png_header(png, 1400, 560) +
         "set grid\nset xlabel 'epoch'\nset logscale x\nset multiplot layout 1,2 title 'line "
         "attractor: "
         "mean-field Hebbian learning (closed-form responses)'\n"
         "set title 'loss <||x - y||^2> - N^2/2 D_IPR'\nunset key\nplot " +
         data +
         " using 1:2 with lines lw 2 lc rgb '#1f5fa8'\n"
         "set title 'constraint max_i |<y_i^2> - 1| and stability'\nset key top right\n"
         "set logscale y\nset format y '1e%T'\nset ylabel 'constraint residual'\n"
         "set y2label 'smallest eigenvalue of diag c - W'\nset y2tics\nset ytics nomirror\n"
         "plot " +
         data + " using 1:($4>0?$4:1/0) with lines lw 2 lc rgb '#c03020' title 'residual', " +
         data +
         " using 1:5 axes x1y2 with lines lw 2 lc rgb '#208040' title 'smallest eigenvalue'\n"
         "unset multiplot\n";
}

std::string line_spectrum_script(const fs::path& csv, const fs::path& png, const line_theory& t,
                                 index n) {
  const std::string data = plot::quoted(csv.string());
  const std::string xr = "[0.5:" + std::to_string(n) + ".5]";
  return png_header(png, 1000, 650) +
         "set grid\nset key outside right top\nset xlabel 'index (ascending)'\nset ylabel "
         "'eigenvalue'\nset xrange " +
         xr +
         "\nset title 'line attractor: spectra after learning; dashed: mean-field theory from "
         "the sample covariance'\nplot " +
         data + " using 1:2 with points pt 7 ps 1.6 lc rgb '#c03020' title 'W - diag c', " + data +
         " using 1:3 with points pt 5 ps 1.3 lc rgb '#1f5fa8' title 'W', " + number(-t.m1()) +
         " with lines dt 2 lc rgb '#c03020' title '-m1 (along u)', " + number(-t.m0()) +
         " with lines dt 3 lc rgb '#c03020' title '-m0 (across)', " + number(t.w1) +
         " with lines dt 2 lc rgb '#1f5fa8' title 'w1', " + number(t.w0) +
         " with lines dt 3 lc rgb '#1f5fa8' title 'w0'\n";
}

std::string line_response_script(const fs::path& csv, const fs::path& png, index tests, double m1,
                                 double m0, double a1, double a0) {
  const std::string data = plot::quoted(csv.string());
  const std::string colours[] = {"#1f5fa8", "#c03020", "#208040", "#8040a0", "#d08000"};
  const auto per_input = [&](const std::string& x, const std::string& y, const std::string& style,
                             const std::string& title, bool first_only) {
    std::string s;
    for (index k = 0; k < tests; ++k) {
      if (!s.empty()) s += ", ";
      const std::string c = colours[std::size_t(k % 5)];
      s += data + " index " + std::to_string(k) + " using " + x + ":" + y + " with lines " + style +
           " lc rgb '" + c + "' " +
           (first_only && k > 0
                ? std::string("notitle")
                : "title " + plot::quoted(title + (first_only ? "" : " " + std::to_string(k))));
    }
    return s;
  };
  return png_header(png, 1650, 560) +
         "set grid\nset xlabel 't'\nset multiplot layout 1,3 title 'line attractor: response "
         "ydot = x + W y - c o y from y = 0 for fresh inputs x (RK4); dashed: the steady state "
         "(diag c - W)^{-1} x'\n"
         "set key bottom right\nset title 'component along u (the slow line mode)'\nplot " +
         per_input("1", "3", "lw 2", "input", false) + ", " +
         per_input("1", "5", "dt 2 lw 1", "steady", true) +
         "\nset title 'norm of the part orthogonal to u (fast)'\nplot " +
         per_input("1", "4", "lw 2", "input", false) + ", " +
         per_input("1", "6", "dt 2 lw 1", "steady", true) +
         "\nset title 'distance to the steady state by mode'\nset logscale y\nset format y "
         "'1e%T'\nset yrange [1e-12:*]\nset key top right\nplot " +
         per_input("1", "($7>0?$7:1/0)", "lw 2", "slow mode", true) + ", " +
         per_input("1", "($8>0?$8:1/0)", "dt 2 lw 2", "fast modes", true) + ", " + number(a1) +
         "*exp(-" + number(m1) + "*x) with lines dt 3 lw 2 lc rgb '#000000' title 'exp(-m1 t)', " +
         number(a0) + "*exp(-" + number(m0) +
         "*x) with lines dt 3 lw 2 lc rgb '#808080' title 'exp(-m0 t)'\n" + "unset multiplot\n";
}

/// Part (a). Returns the summary line.
std::string line_attractor(const line_config& cfg, const fs::path& out, bool quiet) {
  const index n = cfg.dim;
  const engram::philox_source rng(cfg.seed);
  Vd u(n);  // random signs on stream 2 (line_observations uses streams 0 and 1)
  for (index i = 0; i < n; ++i)
    u(i) = (rng.uniform<double>(2, std::uint64_t(i)) > 0.5 ? 1.0 : -1.0) / std::sqrt(double(n));
  const Md x = engram::line_observations<double>(u, cfg.count, cfg.spread, cfg.noise, cfg.seed);

  std::printf(
      "(a) line attractor: N = %ld, P = %ld observations x = s * %g * u + %g * z, u = +-1/sqrt(N) "
      "(seed %llu); W = 0, c = %g initially; mean-field learning (batch = P, no shuffle), "
      "eta_W = %g, eta_c = %g, %ld epochs, closed-form responses\n",
      long(n), long(cfg.count), cfg.spread, cfg.noise, (unsigned long long)cfg.seed, cfg.c0,
      cfg.eta_w, cfg.eta_c, long(cfg.epochs));

  auto net = engram::hopfield_response<double>::initial(n, cfg.c0);
  const index report = std::max<index>(1, cfg.epochs / 6);
  example::progress_line progress("line attractor, learning", quiet);
  const auto history = engram::learn(
      net, x, mean_field_params(cfg.eta_w, cfg.eta_c, cfg.count, cfg.epochs, cfg.seed),
      engram::closed_form, [&](const engram::learning_epoch<double>& e) {
        if (e.epoch == 1 || e.epoch % report == 0 || e.epoch == cfg.epochs) {
          progress.clear();
          std::printf(
              "  epoch %5ld: loss %10.4f, constraint residual %.2e, smallest eigenvalue of "
              "diag c - W %.4f\n",
              long(e.epoch), e.metrics.loss, e.metrics.constraint_residual,
              e.metrics.smallest_eigenvalue);
          std::fflush(stdout);
        }
        progress.count(e.epoch, cfg.epochs, "epochs");
      });
  progress.clear();

  const fs::path train_csv = out / "line_training.csv", train_png = out / "line_training.png";
  write_file(train_csv, [&](std::ofstream& csv) {
    csv << "# epoch,loss,d_ipr,constraint_residual,smallest_eigenvalue (of diag c - W)\n";
    for (const auto& e : history)
      csv << e.epoch << ',' << e.metrics.loss << ',' << e.metrics.d_ipr << ','
          << e.metrics.constraint_residual << ',' << e.metrics.smallest_eigenvalue << '\n';
  });
  const bool drew_training = draw(line_training_script(train_csv, train_png), train_png);

  // The learned spectrum: W - diag c = -(diag c - W), and W itself.
  const Eigen::SelfAdjointEigenSolver<Md> flow(-net.stiffness(), Eigen::EigenvaluesOnly);
  const Eigen::SelfAdjointEigenSolver<Md> coupling(net.coupling());
  const Vd lambda = flow.eigenvalues(), w_eig = coupling.eigenvalues();
  const double slow = lambda(n - 1), fast_top = lambda(n - 2), fast_bottom = lambda(0);
  const double alignment = std::abs(coupling.eigenvectors().col(n - 1).dot(u));

  // Theory: nominal covariance, and the sample covariance along u and (averaged) across it.
  const line_theory nominal = solve_line_theory(
      double(n), cfg.spread * cfg.spread + cfg.noise * cfg.noise, cfg.noise * cfg.noise);
  const Md cx = x * x.transpose() / double(x.cols());
  const double v1s = u.dot(cx * u), v0s = (cx.trace() - v1s) / double(n - 1);
  const line_theory sample = solve_line_theory(double(n), v1s, v0s);
  const double c_lo = net.leak().minCoeff(), c_hi = net.leak().maxCoeff();

  std::printf(
      "  learned: c in [%.4f, %.4f]; eigenvalues of W: %.4f (top), others in [%.2e, %.2e]; "
      "|cos(top eigenvector of W, u)| = %.6f\n",
      c_lo, c_hi, w_eig(n - 1), w_eig(0), w_eig(n - 2), alignment);
  std::printf(
      "  eigenvalues of W - diag c: %.4f (slow), the other %ld in [%.4f, %.4f]; constraint "
      "residual %.1e\n",
      slow, long(n - 1), fast_bottom, fast_top, history.back().metrics.constraint_residual);
  std::printf(
      "  mean-field theory, nominal v1 = spread^2 + noise^2 = %.4f, v0 = noise^2 = %.4g: w1 = "
      "%.4f, w0 = %.3e, c = %.4f, eigenvalues -m1 = -sqrt(v1/w1) = %.4f and -m0 = %.4f\n",
      nominal.v1, nominal.v0, nominal.w1, nominal.w0, nominal.c, -nominal.m1(), -nominal.m0());
  std::printf(
      "  mean-field theory, sample covariance v1 = u^T C_x u = %.4f, v0 = %.4g: w1 = %.4f, "
      "w0 = %.3e, c = %.4f, eigenvalues -m1 = %.4f and -m0 = %.4f (measured %.4f and %.4f)\n",
      sample.v1, sample.v0, sample.w1, sample.w0, sample.c, -sample.m1(), -sample.m0(), slow,
      0.5 * (fast_bottom + fast_top));

  const fs::path spec_csv = out / "line_spectrum.csv", spec_png = out / "line_spectrum.png";
  write_file(spec_csv, [&](std::ofstream& csv) {
    csv << "# index,eigenvalue of W - diag c,eigenvalue of W (both ascending)\n";
    for (index i = 0; i < n; ++i) csv << i + 1 << ',' << lambda(i) << ',' << w_eig(i) << '\n';
  });
  const bool drew_spectrum = draw(line_spectrum_script(spec_csv, spec_png, sample, n), spec_png);

  // The response dynamics from y = 0 for fresh inputs, one RK4 step at a time. Along u and
  // across it as asked of the picture; the distance to the steady state is split by the exact
  // modes of diag c - W (its slow eigenvector v, not u), so that each part decays at one rate.
  const Md xt =
      engram::line_observations<double>(u, cfg.tests, cfg.spread, cfg.noise, cfg.seed + 1000);
  const Md ystar = net.steady_state(xt);
  const Eigen::SelfAdjointEigenSolver<Md> modes(net.stiffness());
  const Vd v = modes.eigenvectors().col(0);
  // Time enough for the slow mode to fall by e^-8, steps small enough for the fastest one
  // (RK4 on a linear mode of rate m is accurate to (h m)^5 / 120 a step).
  const double m1 = -slow, m0 = -fast_bottom;
  const double h = std::min(0.01, 0.2 / m0);
  const index steps = std::min<index>(200000, index(std::lround(std::max(8.0, 8.0 / m1) / h)));
  const double t_end = double(steps) * h;
  auto field = net.field(xt);
  Md y = Md::Zero(n, cfg.tests);
  Md along(steps + 1, cfg.tests), across(steps + 1, cfg.tests);
  Md slow_gap(steps + 1, cfg.tests), fast_gap(steps + 1, cfg.tests);
  for (index k = 0; k <= steps; ++k) {
    for (index b = 0; b < cfg.tests; ++b) {
      along(k, b) = u.dot(y.col(b));
      across(k, b) = (y.col(b) - along(k, b) * u).norm();
      const Vd gap = y.col(b) - ystar.col(b);
      slow_gap(k, b) = std::abs(v.dot(gap));
      fast_gap(k, b) = (gap - v.dot(gap) * v).norm();
    }
    if (k < steps) {
      const auto r =
          engram::integrate(field, y, engram::rk4<double>{.step = h}, engram::stop::after(1));
      if (r.any_diverged()) throw engram::not_finite("the response dynamics diverged");
      y = r.states;
    }
  }
  const fs::path resp_csv = out / "line_response.csv", resp_png = out / "line_response.png";
  write_file(resp_csv, [&](std::ofstream& csv) {
    csv << "# t,input,along_u,across_u,along_u_steady,across_u_steady,slow_gap,fast_gap: "
           "u.y, ||y - (u.y) u||, the same for the steady state y*, and |v.(y - y*)|, ||(y - y*) "
           "- (v.(y - y*)) v|| with v the slow eigenvector of diag c - W; one block per input, "
           "two blank lines apart\n";
    for (index b = 0; b < cfg.tests; ++b) {
      const double along_star = u.dot(ystar.col(b));
      const double across_star = (ystar.col(b) - along_star * u).norm();
      for (index k = 0; k <= steps; ++k)
        csv << double(k) * h << ',' << b << ',' << along(k, b) << ',' << across(k, b) << ','
            << along_star << ',' << across_star << ',' << slow_gap(k, b) << ',' << fast_gap(k, b)
            << '\n';
      csv << "\n\n";
    }
  });
  // Rates fitted to input 0 where each gap has fallen by e^-1 to e^-4 (far above rounding);
  // "n/a" where an input has no part to measure (noise 0: nothing orthogonal to u).
  const auto rate = [&](const Md& gap, double m, const Md& other) -> std::string {
    const index k0 = index(std::lround(1 / m / h)), k1 = index(std::lround(4 / m / h));
    if (k1 > steps || k1 <= k0 || !(gap(0, 0) > 1e-6 * other(0, 0))) return "n/a";
    char text[32];
    std::snprintf(text, sizeof text, "%.4f",
                  std::log(gap(k0, 0) / gap(k1, 0)) / (double(k1 - k0) * h));
    return text;
  };
  const std::string slow_rate = rate(slow_gap, m1, fast_gap),
                    fast_rate = rate(fast_gap, m0, slow_gap);
  const index at_one = std::min(steps, index(std::lround(1 / h)));
  std::printf(
      "  response from y = 0 to %ld fresh inputs (RK4, h = %g, t = %g): the distance to the "
      "steady state decays at rate %s along the line and %s across it (eigenvalues %.4f and "
      "%.4f..%.4f); at t = %g the across part is %.1e of its start, the line mode %.2f\n",
      long(cfg.tests), h, t_end, slow_rate.c_str(), fast_rate.c_str(), m1, -fast_top, m0,
      double(at_one) * h, fast_gap(at_one, 0) / fast_gap(0, 0),
      slow_gap(at_one, 0) / slow_gap(0, 0));
  const bool drew_response =
      draw(line_response_script(resp_csv, resp_png, cfg.tests, m1, -0.5 * (fast_top + fast_bottom),
                                slow_gap(0, 0), fast_gap(0, 0)),
           resp_png);

  report_written(train_csv, train_png, drew_training);
  report_written(spec_csv, spec_png, drew_spectrum);
  report_written(resp_csv, resp_png, drew_response);
  char line[200];
  std::snprintf(line, sizeof line,
                "line attractor: one slow eigenvalue %.2f, the rest <= %.2f, |cos(top "
                "eigenvector, u)| = %.3f",
                slow, fast_top, alignment);
  return line;
}

std::string ring_script(const fs::path& out, const fs::path& png, const std::vector<double>& levels,
                        double arrow, index count, index starts, double cb_max) {
  const auto q = [&](const char* name) { return plot::quoted((out / name).string()); };
  std::string lv;
  for (double l : levels) lv += (lv.empty() ? "" : ",") + number(l);
  const std::string a = number(arrow);
  return png_header(png, 1000, 1080) +
         // Contours traced into a data block first, then one 2D plot of everything.
         "set contour base\nunset surface\nset cntrparam levels discrete " + lv +
         "\nset table $levels\nsplot " + q("ring_energy.csv") +
         " using 1:2:4\nunset table\nunset contour\n"
         "set size ratio -1\nset xrange [-1.6:1.6]\nset yrange [-1.6:1.6]\nset xlabel 'y1'\n"
         "set ylabel 'y2'\nset key below horizontal box opaque width 1 spacing 1.3\n"
         "set cbrange [0:" +
         number(cb_max) +
         "]\nset cblabel '(E_0(y) - min E_0) / (E_0(0) - min E_0)'\n"
         "set palette defined (0 '#3d7fbf', 0.35 '#b4d2ec', 1 '#ffffff')\n"
         "set title 'ring attractor learned from " +
         std::to_string(count) +
         " noisy observations: E_0(y) = Phi(y)^T (g I - A) Phi(y), quadratic Phi'\nplot " +
         q("ring_energy.csv") + " using 1:2:4 with image notitle, " +
         // The table is written with spaces whatever the separator: split the one column.
         "$levels using (real(word(strcol(1),1))):(real(word(strcol(1),2))) with lines lc rgb "
         "'#404040' lw 0.8 title 'level sets of E_0', " +
         q("ring_field.csv") + " using 1:2:(" + a + "*$3):(" + a +
         "*$4) with vectors head size 0.035,20 filled lw 1 lc rgb '#303060' title 'input-free "
         "flow ydot = -1/2 grad E_0 (direction)', " +
         q("ring_observations.csv") +
         " using 1:2 with points pt 7 ps 0.45 lc rgb '#e07020' title 'observations', " +
         q("ring_minima.csv") +
         " using (strcol(1) eq 'valley' ? $4 : 1/0):5 with lines lw 3 lc rgb '#c00000' title "
         "'valley floor r*(t)', " +
         q("ring_minima.csv") +
         " using (strcol(1) eq 'minimum' ? $4 : 1/0):5 with points pt 7 ps 3.2 lc rgb '#000000' "
         "notitle, " +
         q("ring_minima.csv") +
         " using (strcol(1) eq 'minimum' ? $4 : 1/0):5 with points pt 7 ps 2.4 lc rgb '#ffd000' "
         "title 'minima (descent from " +
         std::to_string(starts) + " random starts)'\n";
}

/// Part (b). Returns the summary line.
std::string ring_attractor(const ring_config& cfg, const fs::path& out, bool quiet) {
  const Md x = engram::ring_observations<double>(cfg.count, 1.0, cfg.noise, cfg.seed);
  const double euler = 0.05;
  const index budget = 2000;
  const auto relax =
      engram::relax_with(engram::explicit_euler<double>{.step = euler},
                         engram::stop::after(budget) || engram::stop::gradient_norm(1e-9));
  std::printf(
      "(b) ring attractor: P = %ld observations of the unit circle, noise %g (seed %llu); "
      "quadratic features, A = 0, g = %g initially; mean-field learning, eta_W = %g, eta_c = %g, "
      "%ld epochs; responses by Euler steps of %g from y = x until |ydot| < 1e-9 (at most %ld)\n",
      long(cfg.count), cfg.noise, (unsigned long long)cfg.seed, cfg.g0, cfg.eta_w, cfg.eta_c,
      long(cfg.epochs), euler, long(budget));

  auto net = quadratic_net::initial(engram::quadratic_features<double>{}, cfg.g0);
  const index report = std::max<index>(1, cfg.epochs / 6);
  example::progress_line progress("ring attractor, learning", quiet);
  const auto history = engram::learn(
      net, x, mean_field_params(cfg.eta_w, cfg.eta_c, cfg.count, cfg.epochs, cfg.seed), relax,
      [&](const engram::learning_epoch<double>& e) {
        if (e.epoch == 1 || e.epoch % report == 0 || e.epoch == cfg.epochs) {
          progress.clear();
          std::printf(
              "  epoch %4ld: loss %9.5f, constraint residual %.2e, smallest eigenvalue of "
              "g I - A %.4f\n",
              long(e.epoch), e.metrics.loss, e.metrics.constraint_residual,
              e.metrics.smallest_eigenvalue);
          std::fflush(stdout);
        }
        progress.count(e.epoch, cfg.epochs, "epochs");
      });
  progress.clear();
  const Md y = engram::respond(net, x, relax);
  const double response_radius = y.colwise().norm().mean();
  const double data_radius = x.colwise().norm().mean();
  const Eigen::SelfAdjointEigenSolver<Md> a_eig(net.coupling(), Eigen::EigenvaluesOnly);
  std::printf(
      "  learned: g = %.4f, eigenvalues of A %.4f %.4f %.4f; mean radius of the responses %.4f "
      "(observations %.4f)\n",
      net.leak(), a_eig.eigenvalues()(0), a_eig.eigenvalues()(1), a_eig.eigenvalues()(2),
      response_radius, data_radius);

  const fs::path train_csv = out / "ring_training.csv";
  write_file(train_csv, [&](std::ofstream& csv) {
    csv << "# epoch,loss,d_ipr,constraint_residual,smallest_eigenvalue (of g I - A)\n";
    for (const auto& e : history)
      csv << e.epoch << ',' << e.metrics.loss << ',' << e.metrics.d_ipr << ','
          << e.metrics.constraint_residual << ',' << e.metrics.smallest_eigenvalue << '\n';
  });
  const fs::path obs_csv = out / "ring_observations.csv";
  write_file(obs_csv, [&](std::ofstream& csv) {
    csv << "# x1,x2,y1,y2: observation and its response after learning\n";
    for (index b = 0; b < x.cols(); ++b)
      csv << x(0, b) << ',' << x(1, b) << ',' << y(0, b) << ',' << y(1, b) << '\n';
  });

  // The valley floor. Along the ray y = r (cos t, sin t), Phi(y) = r^2 a - b with a = (2 cos^2
  // t, 2 sin^2 t, sin 2t) and b = (1, 1, 0), so E_0 = (r^2 a - b)^T S (r^2 a - b), S = g I - A,
  // is a quadratic in r^2 with its minimum at r^2 = a^T S b / a^T S a.
  const Md s = net.stiffness();
  constexpr index angles = 360;
  Md floor(2, angles + 1);  // the last angle repeats the first: a closed curve
  Vd floor_r(angles + 1), floor_t(angles + 1);
  for (index k = 0; k <= angles; ++k) {
    const double t = 2 * std::numbers::pi * double(k % angles) / double(angles);
    const Eigen::Vector3d av(2 * std::cos(t) * std::cos(t), 2 * std::sin(t) * std::sin(t),
                             std::sin(2 * t));
    const Eigen::Vector3d bv(1, 1, 0);
    const double r2 = av.dot(s * bv) / av.dot(s * av);
    floor_r(k) = std::sqrt(std::max(0.0, r2));
    floor_t(k) = 360.0 * double(k) / double(angles);
    floor.col(k) << floor_r(k) * std::cos(t), floor_r(k) * std::sin(t);
  }
  const Vd floor_e = net.energy(floor);
  const double e_origin = net.energy(Md::Zero(2, 1))(0);
  const double floor_lo = floor_e.minCoeff(), floor_hi = floor_e.maxCoeff();
  const double depth = e_origin - floor_lo, ripple = floor_hi - floor_lo;
  std::printf(
      "  valley floor r*(t): radius %.4f to %.4f; E_0 along it from %.5f to %.5f, E_0(0) = %.5f: "
      "angular variation %.5f against depth %.5f, ratio %.3f\n",
      floor_r.minCoeff(), floor_r.maxCoeff(), floor_lo, floor_hi, e_origin, ripple, depth,
      ripple / depth);

  // Descent of the input-free flow from random starts in [-1.5, 1.5]^2.
  const engram::philox_source rng(cfg.seed);
  Md starts(2, cfg.starts);
  rng.fill_uniform(starts, 5, -1.5, 1.5);
  auto free_flow = net.free_field(cfg.starts);
  const double descent_step = 0.02;
  const auto run =
      engram::integrate(free_flow, starts, engram::explicit_euler<double>{.step = descent_step},
                        engram::stop::gradient_norm(1e-9) || engram::stop::after(100000));
  struct minimum {
    Eigen::Vector2d y;
    int hits;
  };
  std::vector<minimum> minima;
  for (index b = 0; b < cfg.starts; ++b) {
    if (!run.converged(b)) continue;
    const Eigen::Vector2d end = run.states.col(b);
    auto it = std::find_if(minima.begin(), minima.end(),
                           [&](const minimum& m) { return (m.y - end).norm() < 1e-4; });
    if (it == minima.end())
      minima.push_back({end, 1});
    else
      ++it->hits;
  }
  std::sort(minima.begin(), minima.end(), [](const minimum& a, const minimum& b) {
    return std::atan2(a.y(1), a.y(0)) < std::atan2(b.y(1), b.y(0));
  });
  int quadrant_mask = 0;
  double radius_sum = 0;
  Md minima_y(2, std::max<index>(1, index(minima.size())));
  for (std::size_t k = 0; k < minima.size(); ++k) minima_y.col(index(k)) = minima[k].y;
  const Vd minima_e = minima.empty() ? Vd() : Vd(net.energy(minima_y));
  std::printf(
      "  descent of ydot = -1/2 grad E_0 (Euler, step %g) from %ld random starts in [-1.5, 1.5]^2: "
      "%ld converged (|ydot| < 1e-9) in %ld to %ld steps (mean %.0f), %zu distinct "
      "minima:\n",
      descent_step, long(cfg.starts), long(run.converged.count()), long(run.steps.minCoeff()),
      long(run.steps.maxCoeff()), run.steps.cast<double>().mean(), minima.size());
  for (std::size_t k = 0; k < minima.size(); ++k) {
    const Eigen::Vector2d& m = minima[k].y;
    const double angle = std::atan2(m(1), m(0)) * 180 / std::numbers::pi;
    radius_sum += m.norm();
    if (std::abs(m(0)) > 1e-6 && std::abs(m(1)) > 1e-6)
      quadrant_mask |= 1 << ((m(0) > 0 ? 0 : 1) + (m(1) > 0 ? 0 : 2));
    std::printf("    (%+.4f, %+.4f): radius %.4f, angle %+7.2f deg, E_0 %.5f, %d starts\n", m(0),
                m(1), m.norm(), angle, minima_e(index(k)), minima[k].hits);
  }
  const int quadrants = std::popcount(unsigned(quadrant_mask));
  const double minima_radius = minima.empty() ? 0.0 : radius_sum / double(minima.size());

  // The energy grid for the level sets and the heat map, and the flow's directions.
  // The heat map's zero: the lowest of the floor (sampled every degree) and the minima.
  const double e_min = minima.empty() ? floor_lo : std::min(floor_lo, minima_e.minCoeff());
  constexpr int grid = 161, arrows = 21;
  constexpr double box = 1.6;
  Md pts(2, grid * grid);
  for (int i = 0; i < grid; ++i)
    for (int j = 0; j < grid; ++j)
      pts.col(i * grid + j) << -box + 2 * box * i / (grid - 1), -box + 2 * box * j / (grid - 1);
  const Vd e_grid = net.energy(pts);
  const fs::path energy_csv = out / "ring_energy.csv";
  write_file(energy_csv, [&](std::ofstream& csv) {
    csv << "# y1,y2,E0,relative: E_0(y) and (E_0 - min E_0) / (E_0(0) - min E_0); a blank line "
           "after each y1\n";
    for (int i = 0; i < grid; ++i) {
      for (int j = 0; j < grid; ++j) {
        const int c = i * grid + j;
        csv << pts(0, c) << ',' << pts(1, c) << ',' << e_grid(c) << ','
            << (e_grid(c) - e_min) / (e_origin - e_min) << '\n';
      }
      csv << '\n';
    }
  });
  Md apts(2, arrows * arrows), flow;
  for (int i = 0; i < arrows; ++i)
    for (int j = 0; j < arrows; ++j)
      apts.col(i * arrows + j) << -box + 2 * box * (i + 0.5) / arrows,
          -box + 2 * box * (j + 0.5) / arrows;
  auto arrow_field = net.free_field(apts.cols());
  arrow_field(apts, flow);
  const fs::path field_csv = out / "ring_field.csv";
  write_file(field_csv, [&](std::ofstream& csv) {
    csv << "# y1,y2,u1,u2,speed: the input-free flow ydot = -1/2 grad E_0 as a unit direction "
           "(u1, u2) and its length\n";
    for (index c = 0; c < apts.cols(); ++c) {
      const double speed = flow.col(c).norm();
      const Eigen::Vector2d dir =
          speed > 0 ? Eigen::Vector2d(flow.col(c) / speed) : Eigen::Vector2d::Zero();
      csv << apts(0, c) << ',' << apts(1, c) << ',' << dir(0) << ',' << dir(1) << ',' << speed
          << '\n';
    }
  });
  const fs::path minima_csv = out / "ring_minima.csv";
  write_file(minima_csv, [&](std::ofstream& csv) {
    csv << "# kind,angle_deg,radius,y1,y2,E0,starts: the valley floor (kind valley: for each "
           "angle the radius minimising E_0 along the ray; 0 to 360 degrees, the last row "
           "closing the curve) and the minima found by descent (kind minimum)\n";
    for (index k = 0; k <= angles; ++k)
      csv << "valley," << floor_t(k) << ',' << floor_r(k) << ',' << floor(0, k) << ','
          << floor(1, k) << ',' << floor_e(k) << ",0\n";
    for (std::size_t k = 0; k < minima.size(); ++k) {
      const Eigen::Vector2d& m = minima[k].y;
      csv << "minimum," << std::atan2(m(1), m(0)) * 180 / std::numbers::pi << ',' << m.norm() << ','
          << m(0) << ',' << m(1) << ',' << minima_e(index(k)) << ',' << minima[k].hits << '\n';
    }
  });

  // Level sets in units of the depth: the lowest ones ring each well, the one at the ripple
  // passes through the saddles between them, 1 through the origin's maximum.
  std::vector<double> levels{0.02, 0.06, 0.12, 0.2, ripple / depth, 0.45, 0.7, 1.0, 1.5, 2.5, 4.0,
                             6.5,  10,   16,   25};
  std::sort(levels.begin(), levels.end());
  const fs::path png = out / "ring.png";
  const bool drew =
      draw(ring_script(out, png, levels, 0.75 * 2 * box / arrows, cfg.count, cfg.starts, 2.5), png);
  std::printf("wrote %s, %s, %s, %s\n", train_csv.c_str(), obs_csv.c_str(), field_csv.c_str(),
              minima_csv.c_str());
  report_written(energy_csv, png, drew);

  char line[200];
  std::snprintf(line, sizeof line, "ring attractor: %zu minima at radius %.3f in %d quadrants",
                minima.size(), minima_radius, quadrants);
  return line;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{
      "Line and ring attractors learned from noisy observations by two-timescale Hebbian "
      "plasticity (seed 000)"};
  example::one_line_errors(app, "learned_attractors");
  line_config line;
  ring_config ring;
  double spread = 0;
  std::uint64_t seed = 0;
  bool quiet = false;
  std::string out = "learned_attractors_out";
  app.add_option("--out", out, "folder for the CSV files and pictures")->capture_default_str();
  app.add_flag("--quiet", quiet, "no progress line on stderr");
  app.add_option("--seed", seed, "seed of u, the observations and the descent starts")
      ->check(example::whole_number)
      ->capture_default_str();
  app.add_option("--dim", line.dim, "(a) N, the number of neurons")
      ->check(CLI::Range(engram::index(2), engram::index(1024)))
      ->capture_default_str();
  app.add_option("--observations", line.count, "(a) P, the number of observations")
      ->check(CLI::Range(engram::index(1), engram::index(10000000)))
      ->capture_default_str();
  app.add_option("--spread", spread, "(a) signal scale along the line (default sqrt(N))")
      ->check(example::positive_finite)
      ->check(CLI::Range(0.0, 1e3));
  app.add_option("--noise", line.noise, "(a) noise standard deviation")
      ->check(non_negative_finite)
      ->check(CLI::Range(0.0, 1e3))
      ->capture_default_str();
  app.add_option("--c0", line.c0, "(a) initial leak c")
      ->check(example::positive_finite)
      ->check(CLI::Range(0.0, 1e3))
      ->capture_default_str();
  app.add_option("--eta-w", line.eta_w, "(a) Hebbian rate, in [0, 1)")->capture_default_str();
  app.add_option("--eta-c", line.eta_c, "(a) leak rate, in [0, 1)")->capture_default_str();
  app.add_option("--epochs", line.epochs, "(a) epochs of mean-field learning")
      ->capture_default_str();
  app.add_option("--ring-observations", ring.count, "(b) number of observations")
      ->check(CLI::Range(engram::index(1), engram::index(1000000)))
      ->capture_default_str();
  app.add_option("--ring-noise", ring.noise, "(b) noise standard deviation")
      ->check(non_negative_finite)
      ->check(CLI::Range(0.0, 1e3))
      ->capture_default_str();
  app.add_option("--g0", ring.g0, "(b) initial leak g")
      ->check(example::positive_finite)
      ->check(CLI::Range(0.0, 1e3))
      ->capture_default_str();
  app.add_option("--ring-eta-w", ring.eta_w, "(b) Hebbian rate, in [0, 1)")->capture_default_str();
  app.add_option("--ring-eta-c", ring.eta_c, "(b) leak rate, in [0, 1)")->capture_default_str();
  app.add_option("--ring-epochs", ring.epochs, "(b) epochs of mean-field learning")
      ->capture_default_str();
  app.add_option("--starts", ring.starts, "(b) random starts of the descent")
      ->check(CLI::Range(engram::index(1), engram::index(100000)))
      ->capture_default_str();
  CLI11_PARSE(app, argc, argv);

  try {
    line.seed = ring.seed = seed;
    line.spread = spread > 0 ? spread : std::sqrt(double(line.dim));
    // Refuse bad rates and epoch counts before any work (learn() would, but only when its part
    // starts).
    mean_field_params(line.eta_w, line.eta_c, line.count, line.epochs, seed).validate();
    mean_field_params(ring.eta_w, ring.eta_c, ring.count, ring.epochs, seed).validate();
    const auto folder = example::prepare_out(out);
    const auto t0 = std::chrono::steady_clock::now();
    const std::string line_summary = line_attractor(line, folder, quiet);
    const std::string ring_summary = ring_attractor(ring, folder, quiet);
    std::printf("%s\n%s\n", line_summary.c_str(), ring_summary.c_str());
    std::printf("%.2f s\n",
                std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
    return 0;
  } catch (const engram::error& e) {
    std::fprintf(stderr, "learned_attractors: %s\n", e.what());
    return 1;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "learned_attractors: %s\n", e.what());
    return 1;
  }
}
