// dead_neurons: seed 003 (Fanaskov & Oseledets, "Associative memory and dead neurons").
//
// Default: Fig. 1, the two-neuron ReLU network ydot = W ReLU(y) - y + b (eq. 1) with
//   W = [[0, -2], [-2, 0]],  b = (1, 1):
// mutual inhibition without self-coupling (Example 1's zero diagonal). Each neuron, once active,
// silences the other, so the network is a winner-take-all memory with three steady states,
// which enumerating the ReLU activation patterns finds exactly:
//   (1, -1) and (-1, 1): one neuron active, the other dead; stable (S = W_perp Lambda_perp - I
//                        = -1 on the active direction);
//   (1/3, 1/3):          both active; a saddle (W - I has eigenvalue +1 along (1, -1));
//   no state with both dead: that needs y = b <= 0.
// Energy (2) reduces to 1/2 g^T (I - W) g - b^T g, g = ReLU(y): it is exactly 0 on the whole
// quadrant y <= 0 and depends only on y1 (y2) where y2 <= 0 (y1 <= 0), so each stable state
// sits on a non-compact flat line (Prop. 1) and the energy cannot tell where along it the
// state is. E3 = 1/2 ||W g(y) - y + b||^2 (eq. 10) is zero exactly at the steady states and
// has no flat regions. For each steady state the program prints its dead neurons
// (dead_neurons), its stability (stability: the largest real part of the spectrum of S and the
// Hessian Lambda - Lambda W Lambda of energy (2) on range(Lambda)), and Prop. 4(3): a minimiser
// y~ of energy (2), found by descent on (2) from a point far along the flat direction, keeps the
// dead coordinate where the descent started; steady_state_from_minimiser recovers the steady
// state from it (the paper's uncorrected formula y~ + P_d (W g(y~) + b) is printed beside it).
// Writes field.csv (a grid over [-box, box]^2: y1, y2, both components of eq. 1, energy (2),
// E3, both components of eq. 9), trajectories.csv (RK4 from a ring of starts, for eq. 1 and for
// the remedy eq. 9 with R = I - Lambda W^T) and field.png: left, eq. 1's arrows (direction
// only) over energy (2) with its trajectories; right, eq. 9's arrows over E3 (log scale) with
// its trajectories, as in the paper's Fig. 1. Eq. 9 is the gradient flow of E3 and has the
// same steady states but not the same stability: linearised, it is
// -(I - W Lambda)^T (I - W Lambda), so every steady state with I - W Lambda invertible
// attracts, eq. 1's saddle included (two of the starts end there). The run fails (exit code 1)
// if energy (2) rises along an eq. 1 trajectory or E3 along an eq. 9 one. --weights w11 w12 w22
// and --bias b1 b2 pick another symmetric network, --box and --grid the picture. About 0.4 s.
//
// --hierarchical: Example 7. A three-layer (--layers) block-tridiagonal W
// (hierarchical_coupling with independent blocks, so W is not symmetric, then scale_blocks: each
// block divided by twice its spectral norm), the smooth leaky ReLU Lagrangian, and the remedy
// dynamics udot = (I - W^T Lambda(Wu + b)) (g(Wu + b) - u) (remedy_field with contrastive_rule),
// whose energy E3 = 1/2 ||g(Wu + b) - u||^2 must not increase for any W. Integrates --starts random
// states with Dormand-Prince, writes energy.csv (step, start, E3) and energy.png (log E3 against
// the step), and fails (exit code 1) unless every recorded trace is non-increasing to within
// --tolerance (first_energy_increase: a rise above tolerance * (1 + |E|) counts; default
// 1e-12, while rounding near E3 = 1e-18 gives rises of about 1e-18). --max-steps bounds the
// integration, --seed draws W, b and the starts. About 0.1 s; a larger run (--starts,
// --layers) shows a progress line on stderr counting the integration steps (--quiet silences
// it).
#include <CLI/CLI.hpp>
#include <engram/engram.hpp>
#include <engram/io.hpp>

#include "cli_checks.hpp"
#include "gnuplot.hpp"
#include "progress.hpp"

#include <algorithm>
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
using relu = engram::relu_lagrangian<double>;
namespace fs = std::filesystem;
using example::write_file;

// A CLI11 check for numbers that must be finite (CLI::Range lets NaN through).
const CLI::Validator finite_number(
    [](std::string& text) -> std::string {
      double v = 0;
      if (!CLI::detail::lexical_cast(text, v) || !std::isfinite(v))
        return "value " + text + " must be a finite number";
      return {};
    },
    "FINITE");

std::string format(const Vd& v, int digits = 4) {
  std::string s = "(";
  for (Eigen::Index i = 0; i < v.size(); ++i) {
    char buf[64];
    const double x = v(i) == 0 ? 0.0 : v(i);  // no -0
    if (std::abs(x) < 1e4)
      std::snprintf(buf, sizeof buf, "%s%.*f", i ? ", " : "", digits, x);
    else
      std::snprintf(buf, sizeof buf, "%s%.3g", i ? ", " : "", x);
    s += buf;
  }
  return s + ")";
}

/// Every steady state of ydot = W ReLU(y) - y + b, exactly: for each set A of active neurons,
/// (I - W_AA) y_A = b_A and y = W_{:,A} y_A + b, kept when y_A > 0 and y <= 0 off A. A pattern
/// whose I - W_AA is singular (a line of states or none) is reported and skipped.
std::vector<Vd> relu_steady_states(const Md& w, const Vd& b, std::vector<std::string>& skipped) {
  const Eigen::Index n = w.rows();
  const double scale = 1 + b.cwiseAbs().maxCoeff();
  std::vector<Vd> states;
  for (std::uint32_t mask = 0; mask < (1u << n); ++mask) {
    std::vector<Eigen::Index> active;
    for (Eigen::Index i = 0; i < n; ++i)
      if (mask >> i & 1u) active.push_back(i);
    const auto k = Eigen::Index(active.size());
    Md m(k, k);
    Vd rhs(k);
    for (Eigen::Index r = 0; r < k; ++r) {
      rhs(r) = b(active[std::size_t(r)]);
      for (Eigen::Index c = 0; c < k; ++c)
        m(r, c) = (r == c) - w(active[std::size_t(r)], active[std::size_t(c)]);
    }
    Vd ya = Vd::Zero(k);
    if (k > 0) {
      Eigen::FullPivLU<Md> lu(m);
      lu.setThreshold(1e-12);
      if (!lu.isInvertible()) {
        std::string names;
        for (const auto i : active) names += (names.empty() ? "y" : ", y") + std::to_string(i + 1);
        skipped.push_back("active {" + names +
                          "}: I - W_AA is singular (a continuum of states or none)");
        continue;
      }
      ya = lu.solve(rhs);
    }
    Vd g = Vd::Zero(n);
    for (Eigen::Index r = 0; r < k; ++r) g(active[std::size_t(r)]) = ya(r);
    Vd y = w * g + b;
    bool consistent = true;
    for (Eigen::Index i = 0; i < n; ++i) {
      if (mask >> i & 1u) {
        consistent = consistent && g(i) > 1e-12 * scale;
        y(i) = g(i);  // exact on the active set
      } else {
        consistent = consistent && y(i) <= 1e-12 * scale;
        if (std::abs(y(i)) <= 1e-12 * scale) y(i) = 0;  // on the kink: dead (Lambda(0) = 0)
      }
    }
    if (consistent) states.push_back(y);
  }
  return states;
}

/// Gradient descent on energy (2): ydot = -grad E(y) = Lambda(y) (W g(y) - y + b). Dead
/// coordinates (Lambda_ii = 0) never move: the energy does not see them.
struct energy2_descent {
  using scalar_type = double;
  engram::krotov_hopfield_field<relu>* kh;
  engram::index dim() const { return kh->dim(); }
  void operator()(const Md& y, Md& dydt) { dydt = -kh->energy_gradient(y); }
  void operator()(const Md& y, Md& dydt, Vd& e) {
    dydt = -kh->energy_gradient(y);
    e = kh->energy(y);
  }
};

/// RK4 trajectories of `field` from the columns of `starts`: path[t] is 2 x B, one state per
/// step, stepped one step per integrate() call so that every state is kept. A column that
/// leaves the box |y_i| <= bound stops there: end[s] is its last step inside, escaped[s] says so.
struct trajectory_set {
  std::vector<Md> path;
  std::vector<int> end;
  std::vector<bool> escaped;
};

template <class Field>
trajectory_set trajectories(Field& field, const Md& starts, double h, int steps, double bound) {
  const auto count = starts.cols();
  trajectory_set r{{starts},
                   std::vector<int>(std::size_t(count), steps),
                   std::vector<bool>(std::size_t(count), false)};
  Md y = starts;
  for (int t = 1; t <= steps; ++t) {
    std::vector<Eigen::Index> moving;
    for (Eigen::Index s = 0; s < count; ++s)
      if (!r.escaped[std::size_t(s)]) moving.push_back(s);
    if (!moving.empty()) {
      Md x(y.rows(), Eigen::Index(moving.size()));
      for (std::size_t i = 0; i < moving.size(); ++i) x.col(Eigen::Index(i)) = y.col(moving[i]);
      x = engram::integrate(field, x, engram::rk4<double>{.step = h}, engram::stop::after(1))
              .states;
      for (std::size_t i = 0; i < moving.size(); ++i) {
        const auto col = x.col(Eigen::Index(i));
        if (col.allFinite() && col.cwiseAbs().maxCoeff() <= bound) {
          y.col(moving[i]) = col;
        } else {
          r.escaped[std::size_t(moving[i])] = true;
          r.end[std::size_t(moving[i])] = t - 1;
        }
      }
    }
    r.path.push_back(y);
  }
  return r;
}

int nearest_state(const std::vector<Vd>& states, const Vd& y, double within) {
  for (std::size_t k = 0; k < states.size(); ++k)
    if ((states[k] - y).norm() <= within) return int(k);
  return -1;
}

/// The q-quantile of sorted values.
double quantile(const std::vector<double>& sorted, double q) {
  return sorted[std::size_t(q * double(sorted.size() - 1))];
}

/// Contour levels at quantiles of sorted `values` (ties merged): many where the area is, none
/// across a flat region.
std::string quantile_levels(const std::vector<double>& sorted, int count) {
  std::vector<double> levels;
  for (int q = 1; q < count; ++q) {
    const double v = quantile(sorted, double(q) / count);
    if (levels.empty() || v > levels.back() + 1e-9 * (1 + std::abs(v))) levels.push_back(v);
  }
  std::string s;
  for (std::size_t i = 0; i < levels.size(); ++i) {
    if (i) s += ',';
    s += std::to_string(levels[i]);
  }
  return s;
}

int two_neuron_figure(const Md& w, const Vd& b, double box, int grid, const fs::path& out) {
  engram::krotov_hopfield_field<relu> kh(w, b);
  engram::original_remedy_field<relu> remedy(w, b);
  const relu l{};

  std::printf(
      "Two ReLU neurons: ydot = W ReLU(y) - y + b, W = [[%g, %g], [%g, %g]], b = (%g, %g)\n",
      w(0, 0), w(0, 1), w(1, 0), w(1, 1), b(0), b(1));

  // Steady states by activation pattern, then the analysis of each.
  std::vector<std::string> skipped;
  const std::vector<Vd> states = relu_steady_states(w, b, skipped);
  std::printf("%zu steady states (every ReLU activation pattern solved exactly):\n", states.size());
  for (const auto& note : skipped) std::printf("  skipped: %s\n", note.c_str());
  std::vector<bool> stable(states.size());
  energy2_descent descent{&kh};
  for (std::size_t k = 0; k < states.size(); ++k) {
    const Vd& y = states[k];
    const auto dead = engram::dead_neurons(l, y);
    const auto st = engram::stability(l, w, y);
    stable[k] = st.stable();
    const Md ycol = y;
    const double e2 = kh.energy(ycol)(0), e3 = remedy.energy(ycol)(0);
    std::string dead_list;
    for (Eigen::Index i = 0; i < y.size(); ++i)
      if (y(i) <= 0) {
        dead_list += dead_list.empty() ? "y" : ", y";
        dead_list += std::to_string(i + 1);
      }
    std::printf("[%zu] y* = %s: %s; dead neurons: %ld%s%s%s\n", k, format(y).c_str(),
                st.stable() ? "stable" : "UNSTABLE", long(dead.count()),
                dead_list.empty() ? "" : " (", dead_list.c_str(), dead_list.empty() ? "" : ")");
    std::printf(
        "    max Re eig(W_perp Lambda_perp - I) = %+.4f; Hessian of energy (2) on "
        "range(Lambda): [",
        st.max_real_part);
    for (Eigen::Index i = 0; i < st.energy_spectrum.size(); ++i)
      std::printf("%s%+.4f", i ? ", " : "", st.energy_spectrum(i));
    std::printf(
        "] (%s); energy (2) = %.4f, E3 = %.1e\n",
        st.energy_minimum() ? "a minimum of (2) in the active directions" : "not a minimum of (2)",
        e2, e3);
    // Eq. 9 linearised: J = (I - Lambda W^T)(W Lambda - I) = -(I - W Lambda)^T (I - W Lambda),
    // negative definite whenever I - W Lambda is invertible: every steady state attracts.
    const Md lambda = l.hessian(y);
    const Md m = Md::Identity(y.size(), y.size()) - w * lambda;
    const double sigma = Eigen::JacobiSVD<Md>(m).singularValues().minCoeff();
    std::printf(
        "    eq. 9: Jacobian -(I - W Lambda)^T (I - W Lambda), slowest rate sigma_min^2 = "
        "%.4f: %s\n",
        sigma * sigma, sigma > 1e-9 ? "stable" : "degenerate");
    if (dead.count() == 0) {
      std::printf("    no dead neuron: energy (2) is not flat here\n");
      continue;
    }
    // Prop. 1: 1.5 further along every dead direction (ReLU: lower y_i) the energy is the same.
    const Vd far = y - 1.5 * dead.projector * Vd::Ones(y.size());
    std::printf("    flat: energy (2) at %s is %.4f, E3 there %.4f\n", format(far).c_str(),
                kh.energy(Md(far))(0), remedy.energy(Md(far))(0));
    if (!st.energy_minimum()) continue;
    // Prop. 4(3): descend energy (2) from a perturbation of that far point; the dead coordinate
    // stays where it started, and the minimiser alone does not give the steady state.
    Vd start = far;
    for (Eigen::Index i = 0; i < y.size(); ++i)
      if (y(i) > 0) start(i) += 0.3;
    const auto run =
        engram::integrate(descent, Md(start), engram::rk4<double>{.step = 0.05},
                          engram::stop::gradient_norm(1e-12) || engram::stop::after(100000));
    const Vd minimiser = run.states.col(0);
    const Vd recovered = engram::steady_state_from_minimiser(l, w, b, minimiser);
    Md g(y.size(), 1);
    l.activation(minimiser, g);
    const Vd paper = minimiser + engram::dead_neurons(l, minimiser).projector * (w * g.col(0) + b);
    std::printf(
        "    Prop. 4(3): descent on (2) from %s stops at y~ = %s (%ld steps, energy %.4f);\n"
        "    steady_state_from_minimiser(y~) = %s, %.1e from y*; the paper's "
        "y~ + P_d (W g(y~) + b) = %s\n",
        format(start).c_str(), format(minimiser).c_str(), long(run.steps(0)), run.energies(0),
        format(recovered).c_str(), (recovered - y).norm(), format(paper).c_str());
  }

  // The grid: both fields and both energies.
  const int n = grid;
  Md pts(2, n * n);
  for (int i = 0; i < n; ++i)
    for (int j = 0; j < n; ++j)
      pts.col(i * n + j) << -box + 2 * box * i / (n - 1), -box + 2 * box * j / (n - 1);
  Md f1, f9;
  Vd e2, e3;
  kh(pts, f1, e2);
  remedy(pts, f9, e3);
  const fs::path field_csv = out / "field.csv";
  write_file(field_csv, [&](std::ofstream& csv) {
    csv << "# y1,y2,ydot1,ydot2,energy2,e3,remedy1,remedy2: eq. 1's field and energy (2), eq. 9's "
           "field (R = I - Lambda W^T) and E3 (eq. 10); a blank line after each y1\n";
    for (int i = 0; i < n; ++i) {
      for (int j = 0; j < n; ++j) {
        const int c = i * n + j;
        csv << pts(0, c) << ',' << pts(1, c) << ',' << f1(0, c) << ',' << f1(1, c) << ','
            << e2(c) + 0.0 << ',' << e3(c) << ',' << f9(0, c) << ',' << f9(1, c) << '\n';
      }
      csv << '\n';
    }
  });

  // Trajectories from a ring of starts (off the diagonal) and one on the diagonal, which is
  // the saddle's stable manifold when W and b are symmetric under swapping the neurons.
  constexpr int ring = 12;
  Md starts(2, ring + 1);
  for (int k = 0; k < ring; ++k) {
    const double a = (10.0 + 30.0 * k) * std::numbers::pi / 180;
    starts.col(k) << 0.85 * box * std::cos(a), 0.85 * box * std::sin(a);
  }
  starts.col(ring) << -0.7 * box, -0.7 * box;
  // RK4 over t = 60 with a step that resolves the fastest linear rate: |eig(W Lambda - I)| <=
  // 1 + ||W|| for eq. 1 and (1 + ||W||)^2 for eq. 9 (RK4 is stable for h |rate| < 2.78).
  const double w_norm = Eigen::JacobiSVD<Md>(w).singularValues()(0);
  const double h = std::min(0.1, 1.5 / ((1 + w_norm) * (1 + w_norm)));
  const int steps = int(std::ceil(60 / h)), stride = std::max(1, steps / 600);
  const double bound = 1e3 * (1 + box + b.cwiseAbs().maxCoeff());
  const trajectory_set run1 = trajectories(kh, starts, h, steps, bound);
  const trajectory_set run9 = trajectories(remedy, starts, h, steps, bound);
  const fs::path traj_csv = out / "trajectories.csv";
  constexpr double energy_tolerance = 1e-9;
  int rises = 0;
  std::vector<std::string> rise_notes;
  write_file(traj_csv, [&](std::ofstream& csv) {
    csv << "system,start,step,t,y1,y2,energy\n";
    for (int system : {1, 9}) {
      const trajectory_set& run = system == 1 ? run1 : run9;
      for (int s = 0; s < starts.cols(); ++s) {
        const int end = run.end[std::size_t(s)];
        Vd trace(end + 1);
        for (int t = 0; t <= end; ++t) {
          const Md y = run.path[std::size_t(t)].col(s);
          trace(t) = system == 1 ? kh.energy(y)(0) : remedy.energy(y)(0);
          if (t % stride == 0 || t == end)
            csv << system << ',' << s << ',' << t << ',' << t * h << ',' << y(0, 0) << ','
                << y(1, 0) << ',' << trace(t) << '\n';
        }
        csv << "\n\n";  // two blank lines: a separate gnuplot data set per trajectory
        const engram::index t = engram::first_energy_increase(trace, energy_tolerance);
        if (t >= 0 && rises++ < 4) {
          char line[200];
          std::snprintf(
              line, sizeof line, "  %s along eq. %d from start %d rose at step %ld: %.9g -> %.9g",
              system == 1 ? "energy (2)" : "E3", system, s, long(t), trace(t - 1), trace(t));
          rise_notes.push_back(line);
        }
      }
    }
  });
  std::printf("trajectories (RK4, h = %g, t = %g) from %ld starts:\n", h, h * steps,
              long(starts.cols()));
  for (int system : {1, 9}) {
    const trajectory_set& run = system == 1 ? run1 : run9;
    std::printf("  eq. %d ends at steady state:", system);
    for (int s = 0; s < starts.cols(); ++s) {
      const Vd end = run.path.back().col(s);
      const int k = nearest_state(states, end, 1e-4);
      if (run.escaped[std::size_t(s)])
        std::printf(" escaped");
      else if (k >= 0)
        std::printf(" %d", k);
      else
        std::printf(" none%s", format(end, 2).c_str());
    }
    std::printf("\n");
  }
  for (const auto& note : rise_notes) std::printf("%s\n", note.c_str());
  if (rises == 0)
    std::printf("energy (2) along eq. 1 and E3 along eq. 9: never rose (tolerance %g relative)\n",
                energy_tolerance);
  else
    std::printf(
        "energy (2) along eq. 1 or E3 along eq. 9 ROSE on %d trajectories (tolerance %g "
        "relative): an RK4 step across a ReLU kink, where Lambda jumps, can do this\n",
        rises, energy_tolerance);

  // field.png: two panels in the style of the paper's Fig. 1.
  const fs::path png = out / "field.png";
  const std::string data = plot::quoted(field_csv.string()), traj = plot::quoted(traj_csv.string());
  std::vector<double> ev(e2.data(), e2.data() + e2.size()), lv;
  for (Eigen::Index c = 0; c < e3.size(); ++c) lv.push_back(std::log10(e3(c) + 1e-12));
  std::sort(ev.begin(), ev.end());
  std::sort(lv.begin(), lv.end());
  const int every = std::max(1, n / 16);
  const double arrow = 0.7 * 2 * box / (n - 1) * every;
  // The steady states as two data blocks, stable (filled) and unstable (open), each plotted
  // only when it has a state.
  std::string states_block, state_points;
  for (const bool kind : {true, false}) {
    const std::string name = kind ? "$stable" : "$unstable";
    std::string rows;
    for (std::size_t k = 0; k < states.size(); ++k)
      if (stable[k] == kind)
        rows += std::to_string(states[k](0)) + "," + std::to_string(states[k](1)) + "\n";
    if (rows.empty()) continue;
    states_block += name + " << EOD\n" + rows + "EOD\n";
    state_points += ", " + name + " using 1:2 with points " +
                    (kind ? "pt 7 ps 2" : "pt 6 ps 2 lw 3") + " lc rgb '#ffd000'";
  }
  // The colour scale stops at the 75% quantile (energy (2)) or starts at the 1% quantile
  // (log E3), so that the flat regions and the wells are not washed out by the extremes.
  // The contour lines are traced first into data blocks (splot into a table); the panels are
  // then plain 2D plots: the heat map as an image, contours, arrows, trajectories, states.
  const auto contours = [&](const std::string& block, const std::string& z,
                            const std::vector<double>& sorted) {
    return "set cntrparam levels discrete " + quantile_levels(sorted, 24) + "\nset table " + block +
           "\nsplot " + data + " using 1:2:" + z + "\nunset table\n";
  };
  const auto panel = [&](const std::string& title, const std::string& z, const std::string& block,
                         double cb_lo, double cb_hi, int fx, int system) {
    const std::string fxs = std::to_string(fx), fys = std::to_string(fx + 1);
    const std::string norm = "sqrt($" + fxs + "**2+$" + fys + "**2+1e-300)";
    return "set title \"" + title + "\"\nset cbrange [" + std::to_string(cb_lo) + ":" +
           std::to_string(cb_hi) + "]\nplot " + data + " using 1:2:" + z + " with image, " + block +
           // The table is written with spaces whatever the separator: split the one column.
           " using (real(word(strcol(1),1))):(real(word(strcol(1),2))) with lines lc rgb "
           "'#303030' lw 0.6, " +
           data + " every " + std::to_string(every) + ":" + std::to_string(every) + " using 1:2:(" +
           std::to_string(arrow) + "*$" + fxs + "/" + norm + "):(" + std::to_string(arrow) + "*$" +
           fys + "/" + norm + ") with vectors head size 0.06,20 lc rgb '#000000', " + traj +
           " using ($1==" + std::to_string(system) +
           "?$5:1/0):6 with lines lw 1.8 lc rgb '#d00000'" + state_points + "\n";
  };
  const std::string range = "[" + std::to_string(-box) + ":" + std::to_string(box) + "]";
  const std::string e3_column = "(log10($6+1e-12))";
  std::string script =
      "set terminal pngcairo noenhanced size 1500,780 font 'sans,10'\nset output " +
      plot::quoted(png.string()) + "\nset datafile separator ','\n" + states_block +
      "set contour base\nunset surface\n" + contours("$contour1", "5", ev) +
      contours("$contour9", e3_column, lv) +
      "unset contour\nset size ratio -1\nset tmargin 5\nunset key\nset xrange " + range +
      "\nset yrange " + range +
      "\nset xlabel 'y1'\nset ylabel 'y2'\n"
      "set palette defined (0 '#3d7fbf', 0.5 '#b4d2ec', 1 '#ffffff')\nset multiplot layout 1,2\n";
  script += "set cblabel 'energy (2)'\n";
  script += panel(
      "eq. 1, ydot = W ReLU(y) - y + b: arrows, trajectories (red) and energy (2) (colour, "
      "contours),\\nflat where a neuron is dead; steady states: filled stable, open unstable",
      "5", "$contour1", ev.front(), std::max(quantile(ev, 0.75), ev.front() + 1e-6), 3, 1);
  script += "set cblabel 'log10 E3'\n";
  script += panel(
      "eq. 9, ydot = (I - Lambda W^T)(W ReLU(y) - y + b) = -grad E3: arrows, trajectories and\\n"
      "E3 = 1/2 ||W ReLU(y) - y + b||^2 (eq. 10): no flat region; every steady state attracts",
      e3_column, "$contour9", quantile(lv, 0.01), lv.back(), 7, 9);
  script += "unset multiplot\n";
  const bool drew = plot::gnuplot(script, png);
  std::printf("wrote %s\n", traj_csv.c_str());
  std::printf("wrote %s%s%s\n", field_csv.c_str(), drew ? " and " : "", drew ? png.c_str() : "");
  return rises == 0 ? 0 : 1;
}

int hierarchical(const std::vector<engram::index>& sizes, int count, int max_steps,
                 std::uint64_t seed, double tolerance, const fs::path& out, bool quiet) {
  using leaky = engram::smooth_leaky_lagrangian<double>;
  const Md w = engram::scale_blocks(
      engram::hierarchical_coupling<double>(sizes, seed, engram::block_symmetry::independent),
      sizes);
  const Eigen::Index n = w.rows();
  const engram::philox_source rng(seed);
  Vd b(n);
  rng.fill_normal(b, 1000);
  b *= 0.5;
  Md u0(n, count);
  rng.fill_normal(u0, 1001);
  engram::remedy_field<leaky, engram::contrastive_rule> field(w, b);

  std::string layers;
  for (auto s : sizes) {
    if (!layers.empty()) layers += ' ';
    layers += std::to_string(s);
  }
  Eigen::JacobiSVD<Md> svd(w);
  std::printf(
      "Hierarchical memory (Example 7): layers %s (N = %ld), W block-tridiagonal with "
      "independent blocks, ||W||_2 = %.4f, max |W - W^T| = %.3f; smooth leaky ReLU; "
      "udot = (I - W^T Lambda)(g(Wu + b) - u), energy E3\n",
      layers.c_str(), long(n), svd.singularValues()(0), (w - w.transpose()).cwiseAbs().maxCoeff());

  const engram::dormand_prince<double> dp{
      .initial_step = 0.01, .abs_tolerance = 1e-10, .rel_tolerance = 1e-10};
  example::progress_line line("integration", quiet);
  const auto run = engram::integrate(
      field, u0, dp, engram::stop::gradient_norm(1e-9) || engram::stop::after(max_steps),
      line.retrieval(max_steps), {.record_trace = true});
  line.clear();
  const Md& trace = run.energy_trace;

  const fs::path csv_path = out / "energy.csv";
  write_file(csv_path, [&](std::ofstream& csv) {
    csv.precision(17);
    csv << "step,start,e3\n";
    for (int s = 0; s < count; ++s) {
      for (Eigen::Index t = 0; t <= run.steps(s); ++t)
        csv << t << ',' << s << ',' << trace(t, s) << '\n';
      csv << '\n';
    }
  });

  int rising = 0;
  for (int s = 0; s < count; ++s) {
    const engram::index t = engram::first_energy_increase(trace.col(s), tolerance);
    if (t >= 0) {
      ++rising;
      std::printf("start %d: E3 rose at step %ld, from %.6e to %.6e\n", s, long(t), trace(t - 1, s),
                  trace(t, s));
    }
  }
  // The end points are steady states u* = g(W u* + b); y* = W u* + b is then a steady state
  // of eq. 1.
  Md g(n, count);
  const Md y = (w * run.states).colwise() + b;
  leaky{}.activation(y, g);
  const double residual = (g - run.states).colwise().norm().maxCoeff();
  int distinct = 0;
  for (int s = 0; s < count; ++s) {
    bool seen = false;
    for (int r = 0; r < s && !seen; ++r)
      seen = (run.states.col(r) - run.states.col(s)).norm() < 1e-6;
    distinct += !seen;
  }
  std::printf(
      "%d starts, Dormand-Prince (tolerances 1e-10): steps %ld to %ld, %ld converged "
      "(|udot| < 1e-9), %ld diverged; E3 from %.3e (largest start) to %.3e (largest end); "
      "%d distinct end points, max ||g(Wu + b) - u|| = %.1e\n",
      count, long(run.steps.minCoeff()), long(run.steps.maxCoeff()), long(run.converged.count()),
      long(run.diverged_flags.count()), trace.row(0).maxCoeff(), run.energies.maxCoeff(), distinct,
      residual);

  // u -> g(Wu + b) has Lipschitz constant at most max g' ||W||_2 (max g' = 1.0967): below 1
  // it is a contraction with a single fixed point, seed 003 App. C's capacity warning.
  const double lipschitz = 1.0967 * svd.singularValues()(0);
  if (lipschitz < 1)
    std::printf(
        "max g' ||W||_2 = %.3f < 1: u -> g(Wu + b) is a contraction, so this memory has "
        "exactly one steady state (seed 003 App. C)\n",
        lipschitz);
  const fs::path png = out / "energy.png";
  const std::string script =
      "set terminal pngcairo noenhanced size 900,600 font 'sans,10'\nset output " +
      plot::quoted(png.string()) +
      "\nset datafile separator ','\nset grid\nunset key\nset logscale y\nset format y '1e%T'\n"
      "set xlabel 'Dormand-Prince step'\nset ylabel 'E3 = 1/2 ||g(Wu + b) - u||^2'\n"
      "set title 'Example 7: layers " +
      layers + ", smooth leaky ReLU, R = I - W^T Lambda (non-symmetric W), " +
      std::to_string(count) + " random starts'\nplot " + plot::quoted(csv_path.string()) +
      " using 1:($3>0?$3:1/0):2 with lines lc variable lw 1.5\n";
  const bool drew = plot::gnuplot(script, png);
  std::printf("wrote %s%s%s\n", csv_path.c_str(), drew ? " and " : "", drew ? png.c_str() : "");
  if (rising > 0 || run.any_diverged()) {
    std::printf("E3 check FAILED: %d of %d traces rose beyond tolerance %g, %ld diverged\n", rising,
                count, tolerance, long(run.diverged_flags.count()));
    return 1;
  }
  std::printf("E3 check passed: every E3 trace is non-increasing (tolerance %g relative)\n",
              tolerance);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{
      "Dead neurons and remedy energies in Lagrangian neural dynamics (seed 003, Fig. 1, "
      "Example 7)"};
  example::one_line_errors(app, "dead_neurons");
  bool hier = false;
  std::vector<double> weights{0, -2, 0}, bias{1, 1};
  double box = 3;
  int grid = 81;
  std::vector<engram::index> layers{8, 16, 8};
  int starts = 8, max_steps = 5000;
  double tolerance = 1e-12;
  std::uint64_t seed = 1;
  bool quiet = false;
  std::string out = "dead_neurons_out";
  auto* w_opt = app.add_option("--weights", weights, "two-neuron W as w11 w12 w22 (symmetric)")
                    ->expected(3)
                    ->check(finite_number)
                    ->check(CLI::Range(-10.0, 10.0));
  auto* b_opt = app.add_option("--bias", bias, "two-neuron b as b1 b2")
                    ->expected(2)
                    ->check(finite_number)
                    ->check(CLI::Range(-10.0, 10.0));
  auto* box_opt = app.add_option("--box", box, "the picture covers [-box, box]^2")
                      ->check(example::positive_finite)
                      ->check(CLI::Range(0.01, 1000.0));
  auto* grid_opt = app.add_option("--grid", grid, "grid points per side of field.csv")
                       ->check(CLI::Range(5, 401));
  auto* h_opt = app.add_flag("--hierarchical", hier,
                             "Example 7: three-layer memory, remedy dynamics, energy traces");
  auto* l_opt = app.add_option("--layers", layers, "layer sizes of --hierarchical (2 to 16 layers)")
                    ->expected(2, 16)
                    ->check(CLI::Range(engram::index(1), engram::index(2048)));
  auto* s_opt = app.add_option("--starts", starts, "random starts of --hierarchical")
                    ->check(CLI::Range(1, 10000));
  auto* t_opt = app.add_option("--max-steps", max_steps,
                               "--hierarchical: at most this many Dormand-Prince steps")
                    ->check(CLI::Range(1, 10000000));
  auto* tol_opt =
      app.add_option("--tolerance", tolerance,
                     "--hierarchical: allowed rise of E3 between steps, relative to 1 + |E3|")
          ->check(example::non_negative_finite)
          ->check(CLI::Range(0.0, 1.0));
  auto* seed_opt = app.add_option("--seed", seed, "seed of --hierarchical's W, b and starts")
                       ->check(example::whole_number);
  app.add_option("--out", out, "folder for the CSV files and pictures");
  app.add_flag("--quiet", quiet, "no progress line on stderr");
  for (auto* o : {w_opt, b_opt, box_opt, grid_opt}) h_opt->excludes(o);
  for (auto* o : {l_opt, s_opt, t_opt, tol_opt, seed_opt}) o->needs(h_opt);
  CLI11_PARSE(app, argc, argv);

  try {
    const auto folder = example::prepare_out(out);
    const auto t0 = std::chrono::steady_clock::now();
    int rc;
    if (hier) {
      rc = hierarchical(layers, starts, max_steps, seed, tolerance, folder, quiet);
    } else {
      Md w(2, 2);
      w << weights[0], weights[1], weights[1], weights[2];
      Vd b(2);
      b << bias[0], bias[1];
      rc = two_neuron_figure(w, b, box, grid, folder);
    }
    std::printf("%.2f s\n",
                std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
    return rc;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "dead_neurons: %s\n", e.what());
    return 1;
  }
}
