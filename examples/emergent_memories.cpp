// emergent_memories: how many memories do the LSR and LSE energies hold as beta varies?
// Stores M patterns drawn uniformly from the unit hypercube of dimension d, sweeps beta
// geometrically over [2/d, 2/r_min^2] (seed 002 App. C.2: from one shared support to disjoint
// ones), and for each beta counts
//   LSR: every local minimum, exactly (Algorithm 3), the emergent ones, the stored patterns
//        still retrievable, and the Monte Carlo fraction of the cube with finite energy;
//   LSE: the distinct fixed points of gradient descent from the patterns and from random
//        starts, classified the same way.
// Writes minima.csv and minima.png into --out and prints the table; in d = 2 also
// landscape.csv and landscape.png, the LSE energy and its flow over the square. The default run
// (M = 16, d = 4, 12 betas) takes under a second; larger --stored or --dim can take long at
// the betas where many patterns interact: a progress line on stderr counts the betas done and
// follows each enumeration and descent (--quiet silences it).
#include <CLI/CLI.hpp>
#include <engram/engram.hpp>
#include <engram/io.hpp>

#include "cli_checks.hpp"
#include "gnuplot.hpp"
#include "progress.hpp"

#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <limits>
#include <string>
#include <vector>

namespace {

/// In d = 2: the LSE energy and its flow -grad E on a grid over the unit square, written to
/// landscape.csv (gnuplot's grid format: a blank line after each row) and drawn as a heat map
/// with contours, the flow as arrows (direction only) and the stored patterns as dots.
void draw_landscape(const engram::dense_memory<double>& memory, double beta,
                    const std::filesystem::path& out) {
  constexpr int n = 81;
  const engram::lse_energy<double> lse(memory, beta);
  const engram::lsr_energy<double> lsr(memory, beta);
  Eigen::MatrixXd grid(2, n * n);
  for (int i = 0; i < n; ++i)
    for (int j = 0; j < n; ++j) grid.col(i * n + j) << double(i) / (n - 1), double(j) / (n - 1);
  const auto [e, g] = lse.value_and_gradient(grid);
  const Eigen::VectorXd lsr_e = lsr.value(grid);
  const auto csv_path = out / "landscape.csv";
  std::ofstream csv(csv_path.string() + ".part");
  csv << "# x,y,lse_energy,lsr_energy,flow_x,flow_y (beta " << beta << ")\n";
  for (int i = 0; i < n; ++i) {
    for (int j = 0; j < n; ++j) {
      const Eigen::Index k = i * n + j;
      csv << grid(0, k) << ',' << grid(1, k) << ',' << e(k) << ',' << lsr_e(k) << ',' << -g(0, k)
          << ',' << -g(1, k) << '\n';
    }
    csv << '\n';
  }
  csv.close();
  if (!csv) throw engram::io_error("cannot write " + csv_path.string());
  std::filesystem::rename(csv_path.string() + ".part", csv_path);

  const auto png = out / "landscape.png";
  const std::string data = plot::quoted(csv_path.string());
  std::string script = "set terminal pngcairo noenhanced size 820,760 font 'sans,10'\nset output " +
                       plot::quoted(png.string()) +
                       "\nset datafile separator ','\nset view map\nset size ratio -1\n"
                       "set contour base\nset cntrparam levels 14\nunset key\n"
                       "set xrange [0:1]\nset yrange [0:1]\nset xlabel 'x_1'\nset ylabel 'x_2'\n"
                       "set title 'LSE energy at beta = " +
                       std::to_string(beta) +
                       ": contours, flow -grad E (arrows), stored patterns (dots)'\n"
                       "$patterns << EOD\n";
  for (Eigen::Index mu = 0; mu < memory.size(); ++mu)
    script += std::to_string(memory.patterns()(0, mu)) + "," +
              std::to_string(memory.patterns()(1, mu)) + "\n";
  script += "EOD\nsplot " + data + " using 1:2:3 with pm3d nocontour, " + data +
            " using 1:2:3 with lines nosurface lc 'white', " + data +
            " every 5:5 using 1:2:(0):(0.03*$5/sqrt($5**2+$6**2+1e-300)):"
            "(0.03*$6/sqrt($5**2+$6**2+1e-300)):(0) with vectors nocontour lc 'black', "
            "$patterns using 1:2:(0) with points nocontour pt 7 ps 1.2 lc 'white'\n";
  if (plot::gnuplot(script, png)) std::printf("wrote %s and %s\n", csv_path.c_str(), png.c_str());
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"Count the memories of LSR and LSE energies across beta (seed 002, Fig. 3)"};
  example::one_line_errors(app, "emergent_memories");
  // An enumeration that would explode at some beta is skipped with a message; its counts are
  // written as nan.
  int count = 16, dim = 4, beta_points = 12, starts_per_pattern = 4;
  long samples = 100000;
  double max_subsets = 1e7;
  std::uint64_t seed = 1;
  bool quiet = false;
  std::string out = "emergent_memories_out";
  // The interaction graph and the distance matrix take M^2 numbers: 5000 patterns is 200 MB.
  app.add_option("-m,--stored", count, "stored patterns M")->check(CLI::Range(2, 5000));
  app.add_option("-d,--dim", dim, "dimension d of the unit hypercube")->check(CLI::Range(1, 4096));
  app.add_option("--beta-points", beta_points, "number of beta values in the sweep")
      ->check(CLI::Range(2, 1000));
  app.add_option("--lse-starts", starts_per_pattern,
                 "random descent starts per pattern for the LSE census")
      ->check(CLI::Range(0, 1000));
  app.add_option("--samples", samples, "Monte Carlo samples for the supported fraction")
      ->check(CLI::Range(1L, 100000000L));
  app.add_option("--max-subsets", max_subsets, "refuse LSR enumerations larger than this")
      ->check(example::positive_finite);
  app.add_option("--seed", seed, "seed of the patterns, starts and samples")
      ->check(example::whole_number);
  app.add_flag("--quiet", quiet, "no progress line on stderr");
  app.add_option("--out", out, "folder for minima.csv and minima.png (and landscape.* in d = 2)");
  CLI11_PARSE(app, argc, argv);

  try {
    const auto folder = example::prepare_out(out);
    const engram::philox_source rng(seed);
    Eigen::MatrixXd patterns(dim, count), starts(dim, count * (1 + starts_per_pattern));
    rng.fill_uniform(patterns, 0);
    starts.leftCols(count) = patterns;
    auto random_starts = starts.rightCols(count * starts_per_pattern);
    rng.fill_uniform(random_starts, 1);
    engram::dense_memory<double> memory(patterns);

    const Eigen::MatrixXd distances = engram::pairwise_distances(patterns);
    double r_min = std::numeric_limits<double>::infinity(), diameter = 0;
    for (Eigen::Index a = 0; a < count; ++a)
      for (Eigen::Index b = a + 1; b < count; ++b) {
        r_min = std::min(r_min, distances(a, b));
        diameter = std::max(diameter, distances(a, b));
      }
    const double beta_lo = 2.0 / dim, beta_hi = 2.0 / (r_min * r_min);

    const auto csv_path = folder / "minima.csv";
    std::ofstream csv(csv_path.string() + ".part");
    csv << "beta,lsr_minima,lsr_emergent,lsr_stored_retrievable,lsr_supported_fraction,"
           "lse_minima,lse_emergent,lse_stored_retrievable,lse_supported_fraction\n";
    std::printf("M = %d patterns in [0,1]^%d, r_min = %.4f; beta from %.4g to %.4g\n", count, dim,
                r_min, beta_lo, beta_hi);
    std::printf("%10s | %8s %8s %6s %9s | %8s %8s %6s\n", "beta", "LSR min", "emergent", "kept",
                "supported", "LSE min", "emergent", "kept");
    std::fflush(stdout);
    // The betas done; each enumeration and descent shows its own line while it runs.
    example::progress_line line("emergent_memories", quiet);
    for (int i = 0; i < beta_points; ++i) {
      const double beta = beta_lo * std::pow(beta_hi / beta_lo, double(i) / (beta_points - 1));
      const std::string at = "beta " + std::to_string(i + 1) + " of " + std::to_string(beta_points);
      engram::lsr_energy<double> lsr(memory, beta);
      double lsr_minima = NAN, lsr_emergent = NAN, lsr_kept = NAN;
      line.clear();
      try {
        example::progress_line enumeration(at + ", LSR minima", quiet);
        const auto census = engram::enumerate_lsr_minima(
            lsr, {.max_subsets = max_subsets, .progress = enumeration.work("roots")});
        lsr_minima = double(census.count());
        lsr_emergent = double(census.emergent_count());
        lsr_kept = double(census.retrievable_count());
      } catch (const engram::invalid_argument& e) {
        std::fprintf(stderr, "beta %.4g: LSR enumeration skipped: %s\n", beta, e.what());
      }
      const double fraction =
          engram::finite_energy_fraction(lsr, 0.0, 1.0, {.samples = samples, .seed = seed + 1});

      // LSE: descent with a step below 1 / L, L <= max(1, beta lambda_max(Cov)) and the
      // covariance of points in the cube bounded by diameter^2 / 4.
      engram::lse_energy<double> lse(memory, beta);
      const double step = 1.0 / std::max(1.0, beta * diameter * diameter / 4);
      constexpr long max_steps = 1000000;
      example::progress_line descent_line(at + ", LSE descent", quiet);
      const auto descent = engram::descent_minima(
          lse, patterns, starts, engram::gradient_descent<double>{.step = step},
          engram::stop::gradient_norm(1e-9) || engram::stop::after(max_steps),
          {.tolerance = 1e-5, .progress = descent_line.retrieval(max_steps)});
      descent_line.clear();

      const double lse_fraction = engram::finite_energy_fraction(
          lse, 0.0, 1.0, {.samples = std::min<long>(samples, 10000), .seed = seed + 1});
      csv << beta << ',' << lsr_minima << ',' << lsr_emergent << ',' << lsr_kept << ',' << fraction
          << ',' << descent.count() << ',' << descent.emergent_count() << ','
          << descent.retrievable_count() << ',' << lse_fraction << '\n';
      std::printf("%10.4g | %8.0f %8.0f %6.0f %9.4f | %8ld %8ld %6ld\n", beta, lsr_minima,
                  lsr_emergent, lsr_kept, fraction, long(descent.count()),
                  long(descent.emergent_count()), long(descent.retrievable_count()));
      std::fflush(stdout);
      line.count(i + 1, beta_points, "betas");
    }
    line.clear();
    csv.close();
    if (!csv) throw engram::io_error("cannot write " + csv_path.string());
    std::filesystem::rename(csv_path.string() + ".part", csv_path);

    const auto png = folder / "minima.png";
    const std::string data = plot::quoted(csv_path.string());
    const std::string script =
        "set terminal pngcairo noenhanced size 1100,800 font 'sans,10'\nset output " +
        plot::quoted(png.string()) +
        "\nset datafile separator ','\nset grid\nset key autotitle columnhead\n"
        "set multiplot layout 2,1\nset logscale xy\nset title 'Memories of LSR and LSE'\n"
        "set ylabel 'count (zeros not drawn)'\nplot for [c in '2 3 4 6 7 8'] " +
        data +
        " using 1:int(c) with linespoints\nunset logscale y\nset title 'Share of the cube with "
        "finite LSR energy (eps = 0)'\nset xlabel 'beta'\nset ylabel 'fraction'\nplot " +
        data + " using 1:5 with linespoints\nunset multiplot\n";
    const bool drew = plot::gnuplot(script, png);
    std::printf("wrote %s%s%s\n", csv_path.c_str(), drew ? " and " : "", drew ? png.c_str() : "");
    if (dim == 2) draw_landscape(memory, std::sqrt(beta_lo * beta_hi), folder);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "emergent_memories: %s\n", e.what());
    return 1;
  }
  return 0;
}
