// drdam_vs_mrdam: how closely a random-feature memory (DrDAM) tracks the dense memory (MrDAM) it
// approximates, in the setup of seed 001 sec. 4.1 (Figs. 3 and 4A). 2K distinct binary patterns
// in {0, 1/sqrt(D)}^D, K of them stored; queries at the stored patterns, near them (10% of the
// bits flipped) and far from them (the K unstored patterns). For each number of features Y,
// beta and D (SinCos features, as in the paper's sec. 4):
//   * mean absolute errors of energies and gradients (eq. 14);
//   * the random-guess level of each: the same MAE between MrDAM at the queries and MrDAM at a
//     fixed random permutation of the same queries (one cycle, so no query is paired with
//     itself): what a predictor that knows the distribution of the queries but not the query
//     would score. It does not depend on Y. (The paper instead evaluates DrDAM at new random
//     queries; at the stored patterns this level is therefore much lower here.)
//   * Corollary 1's bound on the divergence (eq. 13) with C2 = 0.5, E(x) the mean MrDAM energy
//     of the queries and C1 measured from the data: max over (stored pattern, query) pairs of
//     |exp(-beta/2 ||x - x'||^2) - <phi(x), phi(x')>| * sqrt(Y/D), over the first
//     --c1-sample stored patterns and queries of each kind;
//   * the binarised Hamming distance (eq. 15, Fig. 4A) between the two models' states after
//     gradient descent from the same queries: at most --max-steps steps of size --step, each column
//     stopping sooner once its energy changes by less than --tolerance (the paper runs the
//     dynamics to convergence, |E(x_L) - E(x_{L-1})| < eps).
// The default run is at laptop scale (about 35 s on 2 idle cores); --full selects the paper's
// sizes: K = 500 (1000 distinct patterns drawn, the 500 unstored are the far queries), 500
// queries of each kind, D in {16, 64, 256}, beta in {1, 10, 30, 50} and
// Y in {1e3, 5e3, 2e4, 5e4, 1e5, 2e5}. These grids are read from Fig. 3 approximately (its text
// says that beta >= 40 with D >= 100 gives random gradients, and App. B uses Y = 2e5); a flag
// given with --full keeps its own value. --full takes of the order of ten hours on 2 cores (the
// descents of 1500 queries at Y up to 2e5 dominate; --max-steps 1 leaves about a quarter of an
// hour). A progress line on stderr counts the settings (D, beta, Y) done and follows each
// encoding and descent while it runs (--quiet silences it).
// Writes into --out: mae.csv and mae.png (energy and gradient errors, one panel per query kind
// and D, one line per beta; red dashed lines: random guess; dark curves: Corollary 1's bound,
// drawn where it is below the random-guess level, as in the paper), retrieval.csv and
// retrieval.png (Fig. 4A), and prints the table.
#include <CLI/CLI.hpp>
#include <engram/engram.hpp>
#include <engram/io.hpp>

#include "cli_checks.hpp"
#include "gnuplot.hpp"
#include "progress.hpp"

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <limits>
#include <numeric>
#include <set>
#include <string>
#include <tuple>
#include <vector>

namespace {

// A random permutation of 0..n-1 made of one cycle (Sattolo's algorithm): no index maps to
// itself when n > 1.
std::vector<Eigen::Index> one_cycle(Eigen::Index n, std::uint64_t seed) {
  std::vector<Eigen::Index> p(static_cast<std::size_t>(n));
  std::iota(p.begin(), p.end(), Eigen::Index(0));
  const engram::philox_source rng(seed);
  for (Eigen::Index i = n - 1; i > 0; --i) {
    const auto j = std::min<Eigen::Index>(
        Eigen::Index(rng.uniform<double>(7, std::uint64_t(i)) * double(i)), i - 1);
    std::swap(p[std::size_t(i)], p[std::size_t(j)]);
  }
  return p;
}

// The random-guess level of eq. 14's errors: MrDAM at each query against MrDAM at the query the
// permutation pairs it with. Also returns the mean MrDAM energy of the queries (E(x) of eq. 13).
struct guess_level {
  double energy, gradient, mean_energy;
};
guess_level random_guess(const engram::lse_energy<double>& mrdam, const Eigen::MatrixXd& queries,
                         const std::vector<Eigen::Index>& pair) {
  const auto [e, g] = mrdam.value_and_gradient(queries);
  double de = 0, dg = 0;
  for (Eigen::Index b = 0; b < queries.cols(); ++b) {
    const Eigen::Index o = pair[std::size_t(b)];
    de += std::abs(e(b) - e(o));
    dg += (g.col(b) - g.col(o)).norm();
  }
  const double n = double(queries.cols());
  return {de / n, dg / n, e.mean()};
}

// C1 of Theorem 2's assumption (A2), measured for each of the three query sets: the largest
// kernel error |exp(-beta/2 ||x - x'||^2) - <phi(x), phi(x')>| over the pairs of a column of
// `stored` and a column of the set, times sqrt(Y/D). phi is formed on blocks of columns small
// enough that two of them stay within about 128 MB.
template <class Features>
std::array<double, 3> measured_c1(const Features& phi, const Eigen::MatrixXd& stored,
                                  const std::array<Eigen::MatrixXd, 3>& queries) {
  const double beta = phi.beta();
  const Eigen::Index per_block = std::clamp<Eigen::Index>(
      Eigen::Index((64 << 20) / (sizeof(double) * std::size_t(phi.size()))), 1, 256);
  std::array<double, 3> worst = {0, 0, 0};
  for (Eigen::Index s0 = 0; s0 < stored.cols(); s0 += per_block) {
    const Eigen::Index ns = std::min(per_block, stored.cols() - s0);
    const Eigen::MatrixXd ps = phi.phi(stored.middleCols(s0, ns));
    for (int q = 0; q < 3; ++q)
      for (Eigen::Index q0 = 0; q0 < queries[q].cols(); q0 += per_block) {
        const Eigen::Index nq = std::min(per_block, queries[q].cols() - q0);
        const Eigen::MatrixXd pq = phi.phi(queries[q].middleCols(q0, nq));
        const Eigen::MatrixXd estimate = ps.transpose() * pq;
        for (Eigen::Index j = 0; j < nq; ++j)
          for (Eigen::Index i = 0; i < ns; ++i) {
            const double d2 = (stored.col(s0 + i) - queries[q].col(q0 + j)).squaredNorm();
            worst[q] = std::max(worst[q], std::abs(std::exp(-beta / 2 * d2) - estimate(i, j)));
          }
      }
  }
  for (double& w : worst) w *= std::sqrt(double(phi.count()) / double(phi.dim()));
  return worst;
}

// "(strcol(4) eq 'near' && $2 == 10.000000 && $3 == 16)": a gnuplot test for one series.
std::string series(const char* kind, double beta, long d) {
  return std::string("(strcol(4) eq '") + kind + "' && $2 == " + std::to_string(beta) +
         " && $3 == " + std::to_string(d) + ")";
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"Compare DrDAM with the MrDAM it approximates (seed 001, sec. 4.1, Figs. 3, 4A)"};
  example::one_line_errors(app, "drdam_vs_mrdam");
  int stored = 50, max_steps = 100, c1_sample = 128;
  double step = 0.1, tolerance = 1e-8;
  std::vector<long> ys = {256, 1024, 4096, 16384};
  std::vector<double> betas = {1, 10, 30};
  std::vector<long> dims = {16, 64};
  std::uint64_t seed = 1;
  bool full = false, quiet = false;
  std::string out = "drdam_vs_mrdam_out";
  app.add_option("-k,--stored", stored, "stored patterns K (2K distinct patterns are drawn)")
      ->check(CLI::Range(1, 100000));
  app.add_option("-y,--features", ys, "numbers of random features Y")
      ->check(CLI::Range(1L, 10000000L));
  app.add_option("-b,--betas", betas, "inverse temperatures")->check(example::positive_finite);
  app.add_option("-d,--dims", dims, "pattern dimensions D")->check(CLI::Range(2L, 100000L));
  app.add_option("--max-steps", max_steps, "most descent steps L for the retrieval error")
      ->check(CLI::Range(1, 1000000));
  app.add_option("--step", step, "descent step size")->check(example::positive_finite);
  app.add_option("--tolerance", tolerance,
                 "a descent stops sooner once |energy change| < this (0: always --max-steps steps)")
      ->check(CLI::Validator(
          [](std::string& text) -> std::string {
            double v = -1;
            if (!CLI::detail::lexical_cast(text, v) || !(v >= 0 && v < 1))
              return "value " + text + " must lie in [0, 1)";
            return {};
          },
          "IN [0, 1)"));
  app.add_option("--c1-sample", c1_sample,
                 "stored patterns and queries of each kind over whose pairs C1 is measured")
      ->check(CLI::Range(1, 100000));
  app.add_option("--seed", seed, "seed of the patterns, flips and features")
      ->check(example::whole_number);
  app.add_flag("--full", full,
               "the paper's sizes: K = 500, D 16 64 256, beta 1 10 30 50, "
               "Y 1e3 5e3 2e4 5e4 1e5 2e5 (flags given as well keep their values)");
  app.add_flag("--quiet", quiet, "no progress line on stderr");
  app.add_option("--out", out, "folder for mae.csv, mae.png, retrieval.csv and retrieval.png");
  CLI11_PARSE(app, argc, argv);
  if (full) {
    if (app.count("--stored") == 0) stored = 500;
    if (app.count("--features") == 0) ys = {1000, 5000, 20000, 50000, 100000, 200000};
    if (app.count("--betas") == 0) betas = {1, 10, 30, 50};
    if (app.count("--dims") == 0) dims = {16, 64, 256};
  }
  constexpr double c2 = 0.5;  // Corollary 1's step constant

  try {
    const auto folder = example::prepare_out(out);
    for (long d : dims)
      for (long y : ys)
        if (double(y) * double(d) * sizeof(double) > 8e9)
          throw engram::invalid_argument(
              "Y = " + std::to_string(y) + " features in D = " + std::to_string(d) +
              " dimensions need " + example::short_number(double(y) * double(d) * 8e-9) +
              " GB for omega alone; lower --features or --dims");
    const auto csv_path = folder / "mae.csv";
    const auto retrieval_path = folder / "retrieval.csv";
    struct row {
      long d;
      int q;
      double beta;
      long y;
      double energy, gradient, hamming, guess_energy, guess_gradient, c1, bound;
    };
    std::vector<row> rows;
    const char* kinds[] = {"stored", "near", "far"};
    // The settings (D, beta, Y) done, shown between the long calls; each encoding and descent
    // shows its own line while it runs, labelled with its setting (the two share a row: the
    // settings line is cleared while the other is up).
    example::progress_line line("drdam_vs_mrdam", quiet);
    const long settings = long(dims.size() * betas.size() * ys.size());
    long settings_done = 0;
    const auto show_settings = [&] { line.count(settings_done, settings, "settings"); };
    // The states after --max-steps descent steps, or sooner once |E change| < --tolerance.
    const auto descend = [&](const auto& energy, const Eigen::MatrixXd& from,
                             const std::string& label) {
      line.clear();
      example::progress_line descent_line(label, quiet);
      const engram::gradient_descent<double> descent{.step = step};
      const engram::retrieve_options options{.progress = descent_line.retrieval(max_steps)};
      Eigen::MatrixXd states =
          tolerance > 0
              ? engram::retrieve(
                    energy, from, descent,
                    engram::stop::energy_change(tolerance) || engram::stop::after(max_steps),
                    options)
                    .states
              : engram::retrieve(energy, from, descent, engram::stop::after(max_steps), options)
                    .states;
      descent_line.clear();
      show_settings();
      return states;
    };
    std::printf("%7s %6s %5s %7s | %11s %11s %9s | %11s %11s | %9s %11s\n", "Y", "beta", "D",
                "query", "MAE energy", "MAE grad", "Hamming", "guess E", "guess grad", "C1",
                "bound");
    for (long d : dims) {
      const Eigen::MatrixXd all =
          example::binary_patterns(d, 2 * stored, seed, "; lower --stored or raise --dims");
      const Eigen::MatrixXd xi = all.leftCols(stored);
      Eigen::MatrixXd queries[3] = {xi, xi, all.rightCols(stored)};
      const engram::philox_source flips(seed + 1);
      const double unit = 1 / std::sqrt(double(d));
      for (Eigen::Index j = 0; j < stored; ++j)
        for (Eigen::Index i = 0; i < d; ++i)
          if (flips.uniform<double>(0, std::uint64_t(j * d + i)) < 0.1)
            queries[1](i, j) = unit - queries[1](i, j);
      const auto pair = one_cycle(stored, seed + 3);
      const Eigen::Index sample = std::min<Eigen::Index>(c1_sample, stored);
      engram::dense_memory<double> dense(xi);
      for (const double beta : betas) {
        const std::string at = "D " + std::to_string(d) + ", beta " + example::short_number(beta);
        engram::lse_energy<double> mrdam(dense, beta);
        Eigen::MatrixXd reference[3];
        guess_level guess[3];
        for (int q = 0; q < 3; ++q) {
          reference[q] =
              descend(mrdam, queries[q], at + ", MrDAM descent from the " + kinds[q] + " queries");
          guess[q] = random_guess(mrdam, queries[q], pair);
        }
        for (long y : ys) {
          const std::string setting = at + ", Y " + std::to_string(y) + " (setting " +
                                      std::to_string(settings_done + 1) + " of " +
                                      std::to_string(settings) + ")";
          using sincos = engram::sincos_features;
          const engram::random_features<sincos, double> phi(d, y, beta, seed + 2);
          line.clear();
          example::progress_line encoding(setting + ", encoding", quiet);
          engram::distributed_memory<sincos, double> tensor(phi, xi, engram::readout::none,
                                                            encoding.work("patterns"));
          encoding.clear();
          show_settings();
          engram::drdam_energy<sincos, double> drdam(tensor);
          const auto c1s = measured_c1(phi, xi.leftCols(sample),
                                       {queries[0].leftCols(sample), queries[1].leftCols(sample),
                                        queries[2].leftCols(sample)});
          for (int q = 0; q < 3; ++q) {
            const auto err = engram::mean_absolute_errors(mrdam, drdam, queries[q]);
            const double hamming = engram::binarised_hamming(
                reference[q],
                descend(drdam, queries[q],
                        setting + ", DrDAM descent from the " + kinds[q] + " queries"));
            const double c1 = c1s[std::size_t(q)];
            double bound = std::numeric_limits<double>::quiet_NaN();
            if (c1 > 0) {
              try {
                bound = engram::drdam_corollary_bound(c1, c2, beta, guess[q].mean_energy, d, y);
              } catch (const engram::not_finite&) {
                // beyond double at these parameters: written as nan, not drawn
              }
              if (!std::isfinite(bound)) bound = std::numeric_limits<double>::quiet_NaN();
            }
            rows.push_back({d, q, beta, y, err.energy, err.gradient, hamming, guess[q].energy,
                            guess[q].gradient, c1, bound});
            line.clear();
            std::printf("%7ld %6g %5ld %7s | %11.4e %11.4e %9.4f | %11.4e %11.4e | %9.4g %11.4e\n",
                        y, beta, d, kinds[q], err.energy, err.gradient, hamming, guess[q].energy,
                        guess[q].gradient, c1, bound);
            std::fflush(stdout);
          }
          line.count(++settings_done, settings, "settings");
        }
      }
    }
    line.clear();
    // One series after another (D, query, beta, then Y), so that each line of the chart reads
    // consecutive rows.
    std::sort(rows.begin(), rows.end(), [](const row& a, const row& b) {
      return std::tie(a.d, a.q, a.beta, a.y) < std::tie(b.d, b.q, b.beta, b.y);
    });
    const auto write_csv = [](const std::filesystem::path& path, const std::string& header,
                              const auto& put) {
      std::ofstream csv(path.string() + ".part");
      csv << header << '\n';
      put(csv);
      csv.close();
      if (!csv) throw engram::io_error("cannot write " + path.string());
      std::filesystem::rename(path.string() + ".part", path);
    };
    write_csv(csv_path,
              "Y,beta,D,query,mae_energy,mae_gradient,hamming_retrieval,guess_energy,"
              "guess_gradient,c1,corollary_bound",
              [&](std::ofstream& csv) {
                for (const row& r : rows)
                  csv << r.y << ',' << r.beta << ',' << r.d << ',' << kinds[r.q] << ',' << r.energy
                      << ',' << r.gradient << ',' << r.hamming << ',' << r.guess_energy << ','
                      << r.guess_gradient << ',' << r.c1 << ',' << r.bound << '\n';
              });
    write_csv(retrieval_path, "Y,beta,D,query,hamming_retrieval", [&](std::ofstream& csv) {
      for (const row& r : rows)
        csv << r.y << ',' << r.beta << ',' << r.d << ',' << kinds[r.q] << ',' << r.hamming << '\n';
    });

    // Fig. 3: a row of panels per query kind; energy errors for each D, then gradient errors.
    // One colour per beta; red dashed: the random-guess level; dark: Corollary 1's bound, only
    // where it is below the random-guess level. The key is in the first panel only.
    const int columns = 2 * int(dims.size());
    const auto png = folder / "mae.png";
    std::string script =
        "set terminal pngcairo noenhanced size " + std::to_string(400 * columns) +
        ",1000 font 'sans,9'\nset output " + plot::quoted(png.string()) +
        "\nset datafile separator ','\nset key top right font ',7'\n"
        "set logscale xy\nset autoscale xfix\nset offsets graph 0.03, graph 0.03, 0, 0\n"
        "set grid\nset format y '%.0e'\nset xlabel 'Y'\n"
        "set multiplot layout 3," +
        std::to_string(columns) + "\n";
    const std::string csv_name = plot::quoted(csv_path.string());
    for (int q = 0; q < 3; ++q)
      for (int m = 0; m < 2; ++m)
        for (long d : dims) {
          const bool first = q == 0 && d == dims.front();  // the key: once for each measure
          const char* value = m == 0 ? "5" : "6";
          const char* level = m == 0 ? "8" : "9";
          script +=
              "set title " +
              plot::quoted(std::string(m == 0 ? "Energy" : "Gradient") + " MAE, " + kinds[q] +
                           ", D = " + std::to_string(d)) +
              "\n" +
              (first ? (m == 0 ? "set key bottom left opaque\n" : "set key center left opaque\n")
                     : "unset key\n") +
              "plot ";
          for (std::size_t i = 0; i < betas.size(); ++i) {
            const std::string b = example::short_number(betas[i]),
                              sel = series(kinds[q], betas[i], d);
            const std::string lc = " lc " + std::to_string(i + 1);
            script += (i ? ", " : "") + csv_name + " using (" + sel + " ? $1 : NaN):" + value +
                      " with linespoints" + lc + " pt " + std::to_string(i + 4) + " title " +
                      plot::quoted("DrDAM, beta " + b);
            script += ", " + csv_name + " using (" + sel + " ? $1 : NaN):" + level +
                      " with lines lc rgb 'red' dt " + std::to_string(i + 2) + " title " +
                      plot::quoted("random guess, beta " + b);
            if (m == 1)
              script += ", " + csv_name + " using ((" + sel + " && $11 < $9) ? $1 : NaN):11" +
                        " with linespoints lc rgb '#202020' lw 1.5 dt " + std::to_string(i + 1) +
                        " pt " + std::to_string(i + 4) + " ps 0.6 title " +
                        plot::quoted("Corollary 1 bound, beta " + b);
          }
          script += "\n";
        }
    script += "unset multiplot\n";
    if (plot::gnuplot(script, png))
      std::printf("wrote %s and %s\n", csv_path.c_str(), png.c_str());
    else
      std::printf("wrote %s\n", csv_path.c_str());

    // Fig. 4A: the retrieval error (eq. 15) against Y, a panel per query kind and D.
    double worst_hamming = 0;
    for (const row& r : rows) worst_hamming = std::max(worst_hamming, r.hamming);
    const auto retrieval_png = folder / "retrieval.png";
    script = "set terminal pngcairo noenhanced size " + std::to_string(420 * dims.size()) +
             ",1000 font 'sans,9'\nset output " + plot::quoted(retrieval_png.string()) +
             "\nset datafile separator ','\nset key top right font ',8'\n"
             "set logscale x\nset autoscale xfix\nset offsets graph 0.03, graph 0.03, 0, 0\n"
             "set grid\nset xlabel 'Y'\nset ylabel 'Hamming error (eq. 15)'\nset yrange [-0.02:" +
             example::short_number(std::max(0.6, worst_hamming + 0.05)) +
             "]\nset multiplot layout 3," + std::to_string(dims.size()) + "\n";
    const std::string retrieval_name = plot::quoted(retrieval_path.string());
    for (int q = 0; q < 3; ++q)
      for (long d : dims) {
        script += "set title " +
                  plot::quoted(std::string("Retrieval error, ") + kinds[q] +
                               ", D = " + std::to_string(d)) +
                  "\nplot ";
        for (std::size_t i = 0; i < betas.size(); ++i)
          script += (i ? ", " : "") + retrieval_name + " using (" + series(kinds[q], betas[i], d) +
                    " ? $1 : NaN):5 with linespoints lc " + std::to_string(i + 1) + " pt " +
                    std::to_string(i + 4) + " title " +
                    plot::quoted("beta " + example::short_number(betas[i]));
        script += "\n";
      }
    script += "unset multiplot\n";
    if (plot::gnuplot(script, retrieval_png))
      std::printf("wrote %s and %s\n", retrieval_path.c_str(), retrieval_png.c_str());
    else
      std::printf("wrote %s\n", retrieval_path.c_str());
  } catch (const std::exception& e) {
    std::fprintf(stderr, "drdam_vs_mrdam: %s\n", e.what());
    return 1;
  }
  return 0;
}
