// drdam_vs_mrdam: how closely a random-feature memory (DrDAM) tracks the dense memory (MrDAM) it
// approximates, in the setup of seed 001 sec. 4.1 at laptop scale. 2K distinct binary patterns
// in {0, 1/sqrt(D)}^D, K of them stored; queries at the stored patterns, near them (10% of the
// bits flipped) and far from them (the K unstored patterns). For each number of features Y,
// beta and D: mean absolute errors of energies and gradients (eq. 14) and the binarised Hamming
// distance between the two models' states after L descent steps (eq. 15).
// Writes mae.csv and mae.png into --out and prints the table.
#include <CLI/CLI.hpp>
#include <engram/engram.hpp>
#include <engram/io.hpp>

#include "gnuplot.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <set>
#include <string>
#include <tuple>
#include <vector>

namespace {

std::string short_number(double v) {
  char text[32];
  std::snprintf(text, sizeof text, "%g", v);
  return text;
}

// 2K distinct binary patterns of dimension d, scaled to {0, 1/sqrt(d)}.
Eigen::MatrixXd binary_patterns(Eigen::Index d, Eigen::Index count, std::uint64_t seed) {
  if (d < 62 && count > (Eigen::Index(1) << d))
    throw engram::invalid_argument("cannot draw " + std::to_string(count) +
                                   " distinct binary patterns of dimension " + std::to_string(d) +
                                   "; lower --stored or raise --dims");
  const engram::philox_source rng(seed);
  Eigen::MatrixXd out(d, count);
  std::set<std::vector<bool>> seen;
  std::uint64_t draw = 0;
  for (Eigen::Index j = 0; j < count;) {
    std::vector<bool> bits(static_cast<std::size_t>(d));
    for (Eigen::Index i = 0; i < d; ++i)
      bits[std::size_t(i)] = rng.uniform<double>(0, draw++) > 0.5;
    if (!seen.insert(bits).second) continue;
    for (Eigen::Index i = 0; i < d; ++i) out(i, j) = bits[std::size_t(i)] / std::sqrt(double(d));
    ++j;
  }
  return out;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"Compare DrDAM with the MrDAM it approximates (seed 001, sec. 4.1)"};
  int stored = 50, steps = 100;
  double step = 0.1;
  std::vector<long> ys = {256, 1024, 4096, 16384};
  std::vector<double> betas = {1, 10, 30};
  std::vector<long> dims = {16, 64};
  std::uint64_t seed = 1;
  std::string out = "drdam_vs_mrdam_out";
  app.add_option("-k,--stored", stored, "stored patterns K (2K distinct patterns are drawn)")
      ->check(CLI::Range(1, 100000));
  app.add_option("-y,--features", ys, "numbers of random features Y")
      ->check(CLI::Range(1L, 10000000L));
  app.add_option("-b,--betas", betas, "inverse temperatures")->check(CLI::PositiveNumber);
  app.add_option("-d,--dims", dims, "pattern dimensions D")->check(CLI::Range(2L, 100000L));
  app.add_option("--steps", steps, "descent steps L for the retrieval error")
      ->check(CLI::Range(1, 1000000));
  app.add_option("--step", step, "descent step size")->check(CLI::PositiveNumber);
  app.add_option("--seed", seed, "seed of the patterns, flips and features");
  app.add_option("--out", out, "folder for mae.csv and mae.png");
  CLI11_PARSE(app, argc, argv);

  try {
    std::filesystem::create_directories(out);
    const auto csv_path = std::filesystem::path(out) / "mae.csv";
    std::ofstream csv(csv_path.string() + ".part");
    csv << "Y,beta,D,query,mae_energy,mae_gradient,hamming_retrieval\n";
    struct row {
      long d;
      int q;
      double beta;
      long y;
      double energy, gradient, hamming;
    };
    std::vector<row> rows;
    const char* kinds[] = {"stored", "near", "far"};
    std::printf("%7s %6s %5s %7s | %11s %11s %9s\n", "Y", "beta", "D", "query", "MAE energy",
                "MAE grad", "Hamming");
    for (long d : dims) {
      const Eigen::MatrixXd all = binary_patterns(d, 2 * stored, seed);
      const Eigen::MatrixXd xi = all.leftCols(stored);
      Eigen::MatrixXd queries[3] = {xi, xi, all.rightCols(stored)};
      const engram::philox_source flips(seed + 1);
      const double unit = 1 / std::sqrt(double(d));
      for (Eigen::Index j = 0; j < stored; ++j)
        for (Eigen::Index i = 0; i < d; ++i)
          if (flips.uniform<double>(0, std::uint64_t(j * d + i)) < 0.1)
            queries[1](i, j) = unit - queries[1](i, j);
      engram::dense_memory<double> dense(xi);
      for (std::size_t bi = 0; bi < betas.size(); ++bi) {
        const double beta = betas[bi];
        engram::lse_energy<double> mrdam(dense, beta);
        Eigen::MatrixXd reference[3];
        for (int q = 0; q < 3; ++q)
          reference[q] =
              engram::retrieve(mrdam, queries[q], engram::gradient_descent<double>{.step = step},
                               engram::stop::after(steps))
                  .states;
        for (long y : ys) {
          using sincos = engram::sincos_features;
          engram::distributed_memory<sincos, double> tensor(
              engram::random_features<sincos, double>(d, y, beta, seed + 2), xi);
          engram::drdam_energy<sincos, double> drdam(tensor);
          for (int q = 0; q < 3; ++q) {
            const auto err = engram::mean_absolute_errors(mrdam, drdam, queries[q]);
            const auto approx =
                engram::retrieve(drdam, queries[q], engram::gradient_descent<double>{.step = step},
                                 engram::stop::after(steps));
            const double hamming = engram::binarised_hamming(reference[q], approx.states);
            rows.push_back({d, q, beta, y, err.energy, err.gradient, hamming});
            std::printf("%7ld %6g %5ld %7s | %11.4e %11.4e %9.4f\n", y, beta, d, kinds[q],
                        err.energy, err.gradient, hamming);
          }
        }
      }
    }
    // One series after another (D, query, beta, then Y), so that each line of the chart reads
    // consecutive rows.
    std::sort(rows.begin(), rows.end(), [](const row& a, const row& b) {
      return std::tie(a.d, a.q, a.beta, a.y) < std::tie(b.d, b.q, b.beta, b.y);
    });
    for (const row& r : rows)
      csv << r.y << ',' << r.beta << ',' << r.d << ',' << kinds[r.q] << ',' << r.energy << ','
          << r.gradient << ',' << r.hamming << '\n';
    csv.close();
    if (!csv) throw engram::io_error("cannot write " + csv_path.string());
    std::filesystem::rename(csv_path.string() + ".part", csv_path);
    // Three panels for the first D: one line per (query kind, beta), read back from the CSV.
    const auto png = std::filesystem::path(out) / "mae.png";
    std::string script =
        "set terminal pngcairo noenhanced size 1500,460 font 'sans,10'\nset output " +
        plot::quoted(png.string()) +
        "\nset datafile separator ','\nset key top right font ',8'\n"
        "set logscale xy\nset grid\nset multiplot layout 1,3\n";
    const char* columns[3] = {"5", "6", "7"};
    const char* titles[3] = {"Energy error (eq. 14)", "Gradient error (eq. 14)",
                             "Retrieval error (eq. 15; zeros not drawn)"};
    for (int m = 0; m < 3; ++m) {
      script += "set title " +
                plot::quoted(std::string(titles[m]) + ", D = " + std::to_string(dims.front())) +
                "\nset xlabel 'Y'\nplot ";
      for (int q = 0; q < 3; ++q)
        for (double beta : betas) {
          script += (q || beta != betas.front() ? ", " : "") + plot::quoted(csv_path.string()) +
                    " using ((strcol(4) eq '" + kinds[q] + "' && $2 == " + std::to_string(beta) +
                    " && $3 == " + std::to_string(dims.front()) + ") ? $1 : NaN):" + columns[m] +
                    " with linespoints title " +
                    plot::quoted(std::string(kinds[q]) + ", beta " + short_number(beta));
        }
      script += "\n";
    }
    script += "unset multiplot\n";
    if (plot::gnuplot(script, png))
      std::printf("wrote %s and %s\n", csv_path.c_str(), png.c_str());
    else
      std::printf("wrote %s\n", csv_path.c_str());
  } catch (const std::exception& e) {
    std::fprintf(stderr, "drdam_vs_mrdam: %s\n", e.what());
    return 1;
  }
  return 0;
}
