// drdam_figures: the appendix figures of seed 001 (Hoover et al., "Dense Associative Memory
// Through the Lens of Random Features", DrDAM) that sit beside Fig. 3 (drdam_vs_mrdam).
//
//   drdam_figures capacity   App. B, Fig. 5: the mean absolute errors (eq. 14) of DrDAM's
//       energies and gradients against the number of stored patterns K at a fixed number of
//       features Y. The setup is that of Fig. 3: 2K distinct binary patterns in
//       {0, 1/sqrt(D)}^D, K stored; K queries at the stored patterns, K near them (10% of the
//       bits flipped) and K far (the unstored ones); SinCos features. The patterns of a smaller
//       K are the first ones of the largest K. Default: D = 16, Y = 4096, K 10 50 100 200 500,
//       beta 1 10 30 50 (about 2 s; the growth with K shows at beta >= 30, where one stored
//       pattern dominates the sum, while at beta <= 10 many patterns add to it and the relative
//       error of the estimate does not grow). --stored lists the K. --full: the paper's Y = 2e5
//       and Fig. 3's grids read approximately, D 16 64 256, beta 1 10 30 50,
//       K 50 100 200 500 1000 (5 to 20 minutes on 2 cores). Writes capacity.csv and
//       capacity.png.
//
//   drdam_figures features   App. C, Fig. 6: the ablation over the random feature maps Cos,
//       SinCos, Exp (positive random features) and ExpExp (hyperbolic), each with iid and with
//       orthogonal projections, on 16-dimensional data: 900 distinct points, 500 stored and
//       400 new ones, and the MAE of energies and gradients at both against Y, for several
//       betas. The paper used the UCI Letter data set (16 attributes); this program uses the
//       first 16 principal components of Fashion-MNIST training images instead (Debian's
//       dataset-fashion-mnist; --data names its folder), computed with Eigen from --pca-images
//       images, each component rescaled to [0, 1/sqrt(16)] as the paper normalised Letter.
//       Default: beta 1 10 30, Y 256 1024 4096 16384 (about 10 s). --full: beta 1 5 10 20
//       30 40 50, Y up to 2e5 (5 to 15 minutes). A map that refuses the data (the exponential maps,
//       where beta ||x||^2 is too large) is skipped with the reason printed; its rows read nan.
//       Writes features.csv and features.png.
//
// Flags given with --full keep their own values. Everything is in double precision; each run
// prints its table as it goes and draws its chart with gnuplot beside the CSV. A progress line
// on stderr counts the settings done (capacity: D, K and beta; features: beta, map and Y) and
// follows each long encoding (--quiet silences it).
#include <CLI/CLI.hpp>
#include <engram/engram.hpp>
#include <engram/io.hpp>

#include <Eigen/Eigenvalues>

#include "cli_checks.hpp"
#include "gnuplot.hpp"
#include "progress.hpp"

#include <algorithm>
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

// Refuses grids whose omega alone (Y x D doubles) would not fit in memory.
void check_omega_size(long y, long d) {
  if (double(y) * double(d) * sizeof(double) > 8e9)
    throw engram::invalid_argument("Y = " + std::to_string(y) +
                                   " features in D = " + std::to_string(d) + " dimensions need " +
                                   example::short_number(double(y) * double(d) * 8e-9) +
                                   " GB for omega alone; lower --features or --dims");
}

// Writes a CSV under `path` only once complete: into path.part, then renamed.
template <class Put>
void write_csv(const std::filesystem::path& path, const std::string& header, const Put& put) {
  std::ofstream csv(path.string() + ".part");
  csv << header << '\n';
  put(csv);
  csv.close();
  if (!csv) throw engram::io_error("cannot write " + path.string());
  std::filesystem::rename(path.string() + ".part", path);
}

void draw(const std::string& script, const std::filesystem::path& csv,
          const std::filesystem::path& png) {
  if (plot::gnuplot(script, png))
    std::printf("wrote %s and %s\n", csv.c_str(), png.c_str());
  else
    std::printf("wrote %s\n", csv.c_str());
}

// ---------------------------------------------------------------------------------------------
// capacity (App. B, Fig. 5)

struct capacity_options {
  std::vector<long> stored = {10, 50, 100, 200, 500};
  long features = 4096;
  std::vector<double> betas = {1, 10, 30, 50};
  std::vector<long> dims = {16};
  std::uint64_t seed = 1;
  bool full = false, quiet = false;
  std::string out = "drdam_figures_out";
};

void run_capacity(const capacity_options& o, const std::filesystem::path& folder) {
  for (long d : o.dims) check_omega_size(o.features, d);
  const long largest = *std::max_element(o.stored.begin(), o.stored.end());
  const auto csv_path = folder / "capacity.csv";
  struct row {
    long d;
    int q;
    double beta;
    long k;
    double energy, gradient;
  };
  std::vector<row> rows;
  const char* kinds[] = {"stored", "near", "far"};
  std::printf("App. B (Fig. 5): DrDAM (SinCos, Y = %ld) against MrDAM as K grows\n", o.features);
  std::printf("%6s %6s %5s %7s | %11s %11s\n", "K", "beta", "D", "query", "MAE energy", "MAE grad");
  std::fflush(stdout);
  // The settings (D, K, beta) done, shown between the encodings; an encoding shows its own line
  // while it runs (the settings line is cleared first: the two share a row).
  example::progress_line line("capacity", o.quiet);
  const long settings = long(o.dims.size() * o.stored.size() * o.betas.size());
  long settings_done = 0;
  for (long d : o.dims) {
    // The first K of 2 * largest patterns are stored; the far queries are K of the second half.
    const Eigen::MatrixXd all = example::binary_patterns(
        d, 2 * largest, o.seed,
        " (2K for the largest of --stored); lower --stored or raise --dims");
    const engram::philox_source flips(o.seed + 1);
    const double unit = 1 / std::sqrt(double(d));
    for (long k : o.stored) {
      const Eigen::MatrixXd xi = all.leftCols(k);
      Eigen::MatrixXd queries[3] = {xi, xi, all.middleCols(largest, k)};
      for (Eigen::Index j = 0; j < k; ++j)
        for (Eigen::Index i = 0; i < d; ++i)
          if (flips.uniform<double>(0, std::uint64_t(j * d + i)) < 0.1)
            queries[1](i, j) = unit - queries[1](i, j);
      engram::dense_memory<double> dense(xi);
      for (const double beta : o.betas) {
        engram::lse_energy<double> mrdam(dense, beta);
        using sincos = engram::sincos_features;
        line.clear();
        example::progress_line encoding("D " + std::to_string(d) + ", K " + std::to_string(k) +
                                            ", beta " + example::short_number(beta) + " (setting " +
                                            std::to_string(settings_done + 1) + " of " +
                                            std::to_string(settings) + "), encoding",
                                        o.quiet);
        engram::distributed_memory<sincos, double> tensor(
            engram::random_features<sincos, double>(d, o.features, beta, o.seed + 2), xi,
            engram::readout::none, encoding.work("patterns"));
        encoding.clear();
        line.count(settings_done, settings, "settings");
        engram::drdam_energy<sincos, double> drdam(tensor);
        for (int q = 0; q < 3; ++q) {
          const auto err = engram::mean_absolute_errors(mrdam, drdam, queries[q]);
          rows.push_back({d, q, beta, k, err.energy, err.gradient});
          line.clear();
          std::printf("%6ld %6g %5ld %7s | %11.4e %11.4e\n", k, beta, d, kinds[q], err.energy,
                      err.gradient);
          std::fflush(stdout);
        }
        line.count(++settings_done, settings, "settings");
      }
    }
  }
  line.clear();
  std::sort(rows.begin(), rows.end(), [](const row& a, const row& b) {
    return std::tie(a.d, a.q, a.beta, a.k) < std::tie(b.d, b.q, b.beta, b.k);
  });
  write_csv(csv_path, "K,beta,D,query,mae_energy,mae_gradient", [&](std::ofstream& csv) {
    for (const row& r : rows)
      csv << r.k << ',' << r.beta << ',' << r.d << ',' << kinds[r.q] << ',' << r.energy << ','
          << r.gradient << '\n';
  });

  // Two rows of panels per D (energy, gradient), a column per query kind, a line per beta.
  const auto png = folder / "capacity.png";
  const std::string name = plot::quoted(csv_path.string());
  std::string script = "set terminal pngcairo noenhanced size 1350," +
                       std::to_string(330 * 2 * o.dims.size()) + " font 'sans,9'\nset output " +
                       plot::quoted(png.string()) +
                       "\nset datafile separator ','\nset key top left opaque font ',8'\n"
                       "set logscale xy\nset autoscale xfix\nset offsets graph 0.03, graph 0.03, "
                       "0, 0\nset grid\nset format y '%.0e'\nset xlabel 'stored patterns K'\n"
                       "set multiplot layout " +
                       std::to_string(2 * o.dims.size()) + ",3\n";
  for (long d : o.dims)
    for (int m = 0; m < 2; ++m)
      for (int q = 0; q < 3; ++q) {
        script += "set title " +
                  plot::quoted(std::string(m == 0 ? "Energy" : "Gradient") + " MAE, " + kinds[q] +
                               ", D = " + std::to_string(d) +
                               ", Y = " + example::short_number(double(o.features))) +
                  "\n" + (d == o.dims.front() && m == 0 && q == 0 ? "set key\n" : "unset key\n") +
                  "plot ";
        for (std::size_t i = 0; i < o.betas.size(); ++i)
          script += std::string(i ? ", " : "") + name + " using ((strcol(4) eq '" + kinds[q] +
                    "' && $2 == " + std::to_string(o.betas[i]) + " && $3 == " + std::to_string(d) +
                    ") ? $1 : NaN):" + (m == 0 ? "5" : "6") + " with linespoints lc " +
                    std::to_string(i + 1) + " pt " + std::to_string(i + 4) + " title " +
                    plot::quoted("beta " + example::short_number(o.betas[i]));
        script += "\n";
      }
  script += "unset multiplot\n";
  draw(script, csv_path, png);
}

// ---------------------------------------------------------------------------------------------
// features (App. C, Fig. 6)

struct features_options {
  std::vector<long> ys = {256, 1024, 4096, 16384};
  std::vector<double> betas = {1, 10, 30};
  int stored = 500, fresh = 400, pca_images = 5000;
  std::uint64_t seed = 1;
  bool full = false, quiet = false;
  std::string data = "/usr/share/datasets/fashion-mnist";
  std::string out = "drdam_figures_out";
};

// The first `components` principal components of `images` (one per column), each rescaled to
// [0, 1/sqrt(components)] over these images.
Eigen::MatrixXd principal_components(const Eigen::MatrixXd& images, Eigen::Index components) {
  const Eigen::VectorXd mean = images.rowwise().mean();
  const Eigen::MatrixXd centred = images.colwise() - mean;
  const Eigen::MatrixXd covariance =
      centred * centred.transpose() / double(std::max<Eigen::Index>(images.cols() - 1, 1));
  const Eigen::SelfAdjointEigenSolver<Eigen::MatrixXd> eigen(covariance);
  if (eigen.info() != Eigen::Success)
    throw engram::error("the eigendecomposition of the image covariance did not converge");
  // Eigenvalues come in increasing order: the leading components are the last columns.
  const Eigen::MatrixXd basis = eigen.eigenvectors().rightCols(components).rowwise().reverse();
  Eigen::MatrixXd z = basis.transpose() * centred;
  const double top = 1 / std::sqrt(double(components));
  for (Eigen::Index i = 0; i < components; ++i) {
    const double lo = z.row(i).minCoeff(), hi = z.row(i).maxCoeff();
    if (!(hi > lo))
      throw engram::invalid_argument("principal component " + std::to_string(i) +
                                     " is constant over the images; raise --pca-images");
    z.row(i) = ((z.row(i).array() - lo) / (hi - lo) * top).matrix();
  }
  return z;
}

// `count` distinct columns of `points` chosen by the seed (a partial Fisher-Yates shuffle that
// skips repeated points).
Eigen::MatrixXd distinct_sample(const Eigen::MatrixXd& points, Eigen::Index count,
                                std::uint64_t seed) {
  std::vector<Eigen::Index> order(static_cast<std::size_t>(points.cols()));
  std::iota(order.begin(), order.end(), Eigen::Index(0));
  const engram::philox_source rng(seed);
  std::set<std::vector<double>> seen;
  Eigen::MatrixXd out(points.rows(), count);
  Eigen::Index taken = 0;
  for (std::size_t i = 0; i < order.size() && taken < count; ++i) {
    const auto span = double(order.size() - i);
    const auto j = i + std::min<std::size_t>(std::size_t(rng.uniform<double>(5, i) * span),
                                             order.size() - i - 1);
    std::swap(order[i], order[j]);
    const Eigen::VectorXd p = points.col(order[i]);
    if (!seen.insert(std::vector<double>(p.data(), p.data() + p.size())).second) continue;
    out.col(taken++) = p;
  }
  if (taken < count)
    throw engram::invalid_argument(
        "only " + std::to_string(taken) + " distinct points among " +
        std::to_string(points.cols()) + " projected images; " + std::to_string(count) +
        " are needed (--stored + --new); raise --pca-images or lower --stored / --new");
  return out;
}

struct feature_row {
  int map;
  bool orthogonal;
  double beta;
  int q;
  long y;
  double energy, gradient;
};

// The settings (beta, map, Y) done out of the run's total.
struct settings_count {
  example::progress_line& line;
  long done, total;
  void next() { line.count(++done, total, "settings"); }
};

// MAE of one map (iid or orthogonal) at every Y for one beta; rows of nan and a printed reason
// when the map refuses the data.
template <class Map>
void ablate(int map, bool orthogonal, double beta, const features_options& o,
            const Eigen::MatrixXd& xi, const Eigen::MatrixXd (&queries)[2],
            const engram::lse_energy<double>& mrdam, std::vector<feature_row>& rows,
            settings_count& progress) {
  const double nan = std::numeric_limits<double>::quiet_NaN();
  for (long y : o.ys) {
    try {
      engram::distributed_memory<Map, double> tensor(
          engram::random_features<Map, double>(xi.rows(), y, beta, o.seed + 2,
                                               {.orthogonal = orthogonal}),
          xi);
      engram::drdam_energy<Map, double> drdam(tensor);
      engram::approximation_errors err[2];
      for (int q = 0; q < 2; ++q) err[q] = engram::mean_absolute_errors(mrdam, drdam, queries[q]);
      for (int q = 0; q < 2; ++q)
        rows.push_back({map, orthogonal, beta, q, y, err[q].energy, err[q].gradient});
      progress.line.clear();
      std::printf("%8s %5s %6g %7ld | %11.4e %11.4e | %11.4e %11.4e\n", Map::name,
                  orthogonal ? "orth" : "iid", beta, y, err[0].energy, err[0].gradient,
                  err[1].energy, err[1].gradient);
    } catch (const engram::invalid_argument& e) {
      for (int q = 0; q < 2; ++q) rows.push_back({map, orthogonal, beta, q, y, nan, nan});
      progress.line.clear();
      std::printf("%8s %5s %6g %7ld | skipped: %s\n", Map::name, orthogonal ? "orth" : "iid", beta,
                  y, e.what());
    }
    std::fflush(stdout);
    progress.next();
  }
}

void run_features(const features_options& o, const std::filesystem::path& folder) {
  constexpr Eigen::Index dim = 16;
  for (long y : o.ys) check_omega_size(y, dim);
  const auto file = example::fashion_mnist(o.data, "train-images-idx3-ubyte.gz");
  if (o.stored + o.fresh > o.pca_images)
    throw engram::invalid_argument(
        "--stored + --new is " + std::to_string(o.stored + o.fresh) +
        ", more than the --pca-images " + std::to_string(o.pca_images) +
        " images the points are drawn among; raise --pca-images or lower --stored / --new");
  const Eigen::MatrixXd images = engram::io::read_idx_images<double>(file, o.pca_images);
  if (images.cols() < o.stored + o.fresh)
    throw engram::invalid_argument(file.string() + " holds " + std::to_string(images.cols()) +
                                   " images; --stored + --new needs " +
                                   std::to_string(o.stored + o.fresh));
  const Eigen::MatrixXd z = principal_components(images, dim);
  const Eigen::MatrixXd chosen = distinct_sample(z, o.stored + o.fresh, o.seed);
  const Eigen::MatrixXd xi = chosen.leftCols(o.stored);
  const Eigen::MatrixXd queries[2] = {xi, chosen.rightCols(o.fresh)};
  const char* kinds[] = {"stored", "new"};
  const char* maps[] = {"cos", "sincos", "exp", "exp_exp"};

  const auto csv_path = folder / "features.csv";
  std::printf(
      "App. C (Fig. 6): feature maps on the first %ld principal components of %ld Fashion-MNIST "
      "images; %d stored, %d new points\n",
      long(dim), long(images.cols()), o.stored, o.fresh);
  std::printf("%8s %5s %6s %7s | %11s %11s | %11s %11s\n", "map", "omega", "beta", "Y", "E stored",
              "grad stored", "E new", "grad new");
  std::fflush(stdout);
  std::vector<feature_row> rows;
  engram::dense_memory<double> dense(xi);
  // The settings (beta, map with iid or orthogonal projections, Y) done.
  example::progress_line line("features", o.quiet);
  settings_count progress{line, 0, long(o.betas.size() * 2 * 4 * o.ys.size())};
  for (const double beta : o.betas) {
    engram::lse_energy<double> mrdam(dense, beta);
    for (const bool orthogonal : {false, true}) {
      ablate<engram::cos_features>(0, orthogonal, beta, o, xi, queries, mrdam, rows, progress);
      ablate<engram::sincos_features>(1, orthogonal, beta, o, xi, queries, mrdam, rows, progress);
      ablate<engram::exp_features>(2, orthogonal, beta, o, xi, queries, mrdam, rows, progress);
      ablate<engram::exp_exp_features>(3, orthogonal, beta, o, xi, queries, mrdam, rows, progress);
    }
  }
  line.clear();
  std::sort(rows.begin(), rows.end(), [](const feature_row& a, const feature_row& b) {
    return std::tie(a.map, a.orthogonal, a.beta, a.q, a.y) <
           std::tie(b.map, b.orthogonal, b.beta, b.q, b.y);
  });
  write_csv(csv_path, "map,omega,Y,beta,query,mae_energy,mae_gradient", [&](std::ofstream& csv) {
    for (const feature_row& r : rows)
      csv << maps[r.map] << ',' << (r.orthogonal ? "orthogonal" : "iid") << ',' << r.y << ','
          << r.beta << ',' << kinds[r.q] << ',' << r.energy << ',' << r.gradient << '\n';
  });

  // Rows: energy and gradient at the stored points, then at the new ones; a column per beta;
  // a colour per map, solid for iid projections and dashed for orthogonal ones.
  const auto png = folder / "features.png";
  const std::string name = plot::quoted(csv_path.string());
  const int columns = int(o.betas.size());
  std::string script = "set terminal pngcairo noenhanced size " +
                       std::to_string(std::max(380 * columns, 760)) +
                       ",1250 font 'sans,9'\nset output " + plot::quoted(png.string()) +
                       "\nset datafile separator ','\nset key bottom left opaque font ',7'\n"
                       "set logscale xy\nset autoscale xfix\nset grid\nset format y '%.0e'\n"
                       "set xlabel 'Y'\nset multiplot layout 4," +
                       std::to_string(columns) + "\n";
  bool first = true;
  for (int q = 0; q < 2; ++q)
    for (int m = 0; m < 2; ++m)
      for (const double beta : o.betas) {
        script += "set title " +
                  plot::quoted(std::string(m == 0 ? "Energy" : "Gradient") + " MAE, " + kinds[q] +
                               " points, beta " + example::short_number(beta)) +
                  "\n" + (first ? "set key\n" : "unset key\n") + "plot ";
        for (int map = 0; map < 4; ++map)
          for (int orth = 0; orth < 2; ++orth)
            script += std::string(map || orth ? ", " : "") + name + " using ((strcol(1) eq '" +
                      maps[map] + "' && strcol(2) eq '" + (orth ? "orthogonal" : "iid") +
                      "' && $4 == " + std::to_string(beta) + " && strcol(5) eq '" + kinds[q] +
                      "') ? $3 : NaN):" + (m == 0 ? "6" : "7") + " with linespoints lc " +
                      std::to_string(map + 1) + " dt " + std::to_string(orth + 1) + " pt " +
                      std::to_string(2 * map + orth + 4) + " title " +
                      plot::quoted(std::string(maps[map]) + (orth ? ", orthogonal" : ", iid"));
        script += "\n";
        first = false;
      }
  script += "unset multiplot\n";
  draw(script, csv_path, png);
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{
      "The appendix figures of seed 001 (DrDAM): capacity (App. B, Fig. 5) and "
      "feature maps (App. C, Fig. 6)"};
  example::one_line_errors(app, "drdam_figures");
  app.require_subcommand(1);

  capacity_options cap;
  CLI::App* capacity =
      app.add_subcommand("capacity", "MAE of DrDAM's energies and gradients against K (Fig. 5)");
  capacity->add_option("-k,--stored", cap.stored, "numbers of stored patterns K")
      ->check(CLI::Range(1L, 100000L));
  capacity->add_option("-y,--features", cap.features, "random features Y")
      ->check(CLI::Range(1L, 10000000L));
  capacity->add_option("-b,--betas", cap.betas, "inverse temperatures")
      ->check(example::positive_finite);
  capacity->add_option("-d,--dims", cap.dims, "pattern dimensions D")
      ->check(CLI::Range(2L, 100000L));
  capacity->add_option("--seed", cap.seed, "seed of the patterns, flips and features")
      ->check(example::whole_number);
  capacity->add_flag("--full", cap.full,
                     "the paper's sizes: Y = 2e5, D 16 64 256, beta 1 10 30 50, "
                     "K 50 100 200 500 1000 (flags given as well keep their values)");
  capacity->add_flag("--quiet", cap.quiet, "no progress line on stderr");
  capacity->add_option("--out", cap.out, "folder for capacity.csv and capacity.png");

  features_options fea;
  CLI::App* features =
      app.add_subcommand("features", "ablation of the random feature maps on 16-d data (Fig. 6)");
  features->add_option("-y,--features", fea.ys, "numbers of random features Y")
      ->check(CLI::Range(1L, 10000000L));
  features->add_option("-b,--betas", fea.betas, "inverse temperatures")
      ->check(example::positive_finite);
  features->add_option("--stored", fea.stored, "points stored in the memory")
      ->check(CLI::Range(1, 60000));
  features->add_option("--new", fea.fresh, "points used as new queries")
      ->check(CLI::Range(1, 60000));
  features
      ->add_option("--pca-images", fea.pca_images,
                   "training images the principal components are computed from (the points "
                   "are drawn among them)")
      ->check(CLI::Range(2, 60000));
  features->add_option("--data", fea.data, "folder holding train-images-idx3-ubyte.gz");
  features->add_option("--seed", fea.seed, "seed of the chosen points and the features")
      ->check(example::whole_number);
  features->add_flag("--full", fea.full,
                     "the paper's grids: beta 1 5 10 20 30 40 50, Y 256 ... 2e5 (flags given as "
                     "well keep their values)");
  features->add_flag("--quiet", fea.quiet, "no progress line on stderr");
  features->add_option("--out", fea.out, "folder for features.csv and features.png");

  CLI11_PARSE(app, argc, argv);

  try {
    const auto folder = example::prepare_out(*capacity ? cap.out : fea.out);
    if (*capacity) {
      if (cap.full) {
        if (capacity->count("--stored") == 0) cap.stored = {50, 100, 200, 500, 1000};
        if (capacity->count("--features") == 0) cap.features = 200000;
        if (capacity->count("--betas") == 0) cap.betas = {1, 10, 30, 50};
        if (capacity->count("--dims") == 0) cap.dims = {16, 64, 256};
      }
      run_capacity(cap, folder);
    } else {
      if (fea.full) {
        if (features->count("--features") == 0) fea.ys = {256, 1024, 4096, 16384, 65536, 200000};
        if (features->count("--betas") == 0) fea.betas = {1, 5, 10, 20, 30, 40, 50};
      }
      run_features(fea, folder);
    }
  } catch (const std::exception& e) {
    std::fprintf(stderr, "drdam_figures: %s\n", e.what());
    return 1;
  }
  return 0;
}
