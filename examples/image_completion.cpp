// image_completion: the flagship engram example. Stores N Fashion-MNIST training images in a
// log-sum-exp memory, hides the bottom part of each, and completes them by descending the
// energy with the visible pixels clamped (the setup of seed 001 App. D: pixels scaled to
// [0, 1/sqrt(D)], step 0.1; seed 001 uses beta = 60 on 4 images, and with 20 Fashion-MNIST
// images beta = 60 settles on blends of similar garments, so the default is 200).
// With --energy drdam the same queries are also completed by a random-feature memory (DrDAM,
// SinCos features, seed 001) holding the images in one tensor of F = 2Y numbers; the grid gains
// a DrDAM row and both parameter counts are printed. DrDAM's default beta is seed 001's 60:
// the kernel values it must resolve shrink like exp(-beta d^2 / 2), and at 200 they sink below
// the random-feature noise of any affordable Y.
// Writes grid.png (rows: occluded, retrieved, [DrDAM retrieved,] original) and energy.csv
// (model, step, image, energy) into --out, and prints each image's error.
#include <CLI/CLI.hpp>
#include <engram/engram.hpp>
#include <engram/io.hpp>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <numeric>
#include <optional>
#include <vector>

int main(int argc, char** argv) {
  CLI::App app{"Complete occluded Fashion-MNIST images with a dense associative memory"};
  int count = 20;
  float beta = 200.f, step = 0.1f, occlusion = 0.4f;
  double tolerance = 1e-7;
  int max_steps = 1000;
  std::uint64_t seed = 1;
  std::string data = "/usr/share/datasets/fashion-mnist", out = "image_completion_out";
  std::string model = "lse";
  long features = 100000;
  app.add_option("-n,--count", count, "images stored and completed")->check(CLI::Range(1, 60000));
  app.add_option("--beta", beta, "inverse temperature of the LSE energy")
      ->check(CLI::PositiveNumber);
  app.add_option("--step", step, "gradient descent step size")->check(CLI::PositiveNumber);
  app.add_option("--max-steps", max_steps, "step limit per image")->check(CLI::NonNegativeNumber);
  app.add_option("--tolerance", tolerance, "stop when |energy change| falls below this")
      ->check(CLI::PositiveNumber);
  app.add_option("--occlude", occlusion, "fraction of image rows hidden, from the bottom")
      ->check(CLI::Range(0.f, 1.f));
  app.add_option("--seed", seed, "chooses which training images are stored");
  app.add_option("--data", data, "folder holding train-images-idx3-ubyte.gz");
  app.add_option("--out", out, "folder for grid.png and energy.csv");
  app.add_option("--energy", model, "lse (dense memory) or drdam (dense and random-feature)")
      ->check(CLI::IsMember({"lse", "drdam"}));
  app.add_option("--features", features, "random features Y of the DrDAM memory")
      ->check(CLI::Range(1L, 100000000L));
  CLI11_PARSE(app, argc, argv);
  const bool drdam = model == "drdam";
  if (drdam && app.count("--beta") == 0) beta = 60.f;

  try {
    constexpr Eigen::Index side = 28, dim = side * side;
    const auto file = std::filesystem::path(data) / "train-images-idx3-ubyte.gz";
    const Eigen::MatrixXf all = engram::io::read_idx_images<float>(file);
    if (all.rows() != dim) throw engram::parse_error("expected 28 x 28 images in " + file.string());
    if (all.cols() < count)
      throw engram::invalid_argument("--count is " + std::to_string(count) + " but " +
                                     file.string() + " holds " + std::to_string(all.cols()) +
                                     " images");

    // N distinct training images, chosen by the seed (a partial Fisher-Yates shuffle).
    engram::philox_source rng(seed);
    std::vector<Eigen::Index> order(all.cols());
    std::iota(order.begin(), order.end(), Eigen::Index(0));
    for (int i = 0; i < count; ++i) {
      const auto span = double(order.size() - std::size_t(i));
      const auto j = i + std::min<Eigen::Index>(Eigen::Index(rng.uniform<double>(0, i) * span),
                                                Eigen::Index(span) - 1);
      std::swap(order[std::size_t(i)], order[std::size_t(j)]);
    }
    const float scale = 1.f / std::sqrt(float(dim));  // pixels in [0, 1/sqrt(D)], as in seed 001
    Eigen::MatrixXf images(dim, count);
    for (int i = 0; i < count; ++i) images.col(i) = scale * all.col(order[std::size_t(i)]);

    engram::dense_memory<float> memory(images);
    engram::lse_energy<float> energy(memory, beta);

    // Hide the bottom rows: zero them in the queries and let only them move.
    const auto visible_rows = Eigen::Index(std::lround((1.f - occlusion) * side));
    engram::mask visible(dim, 1);
    for (Eigen::Index p = 0; p < dim; ++p) visible(p, 0) = p / side < visible_rows;
    Eigen::MatrixXf queries = images;
    for (Eigen::Index p = 0; p < dim; ++p)
      if (!visible(p, 0)) queries.row(p).setZero();

    const auto result =
        engram::retrieve(energy, queries, engram::gradient_descent<float>{.step = step},
                         engram::stop::energy_change(tolerance) || engram::stop::after(max_steps),
                         {.clamp = visible, .record_trace = true});

    // The same images folded into a random-feature memory, retrieved from the same queries.
    using sincos = engram::sincos_features;
    std::optional<engram::retrieval_result<float>> approx;
    if (drdam) {
      engram::distributed_memory<sincos, float> tensor(
          engram::random_features<sincos, float>(dim, features, beta, seed), images);
      engram::drdam_energy<sincos, float> approx_energy(tensor);
      approx =
          engram::retrieve(approx_energy, queries, engram::gradient_descent<float>{.step = step},
                           engram::stop::energy_change(tolerance) || engram::stop::after(max_steps),
                           {.clamp = visible, .record_trace = true});
      std::printf(
          "parameters: MrDAM stores K x D = %d x %ld = %ld numbers; DrDAM's tensor holds "
          "F = 2Y = %ld\n",
          count, long(dim), long(count) * long(dim), long(tensor.memory_tensor().size()));
    }

    std::filesystem::create_directories(out);
    const int rows = drdam ? 4 : 3;
    Eigen::MatrixXf grid(dim, rows * count);
    if (drdam)
      grid << queries, result.states, approx->states, images;
    else
      grid << queries, result.states, images;
    engram::io::write_png_grid(std::filesystem::path(out) / "grid.png", grid / scale,
                               {.columns = count, .zoom = 2});
    {
      const auto csv = std::filesystem::path(out) / "energy.csv";
      std::ofstream f(csv.string() + ".part");
      f << "model,step,image,energy\n";
      for (Eigen::Index t = 0; t < result.energy_trace.rows(); ++t)
        for (Eigen::Index b = 0; b < count; ++b)
          f << "mrdam," << t << ',' << b << ',' << result.energy_trace(t, b) << '\n';
      if (approx)
        for (Eigen::Index t = 0; t < approx->energy_trace.rows(); ++t)
          for (Eigen::Index b = 0; b < count; ++b)
            f << "drdam," << t << ',' << b << ',' << approx->energy_trace(t, b) << '\n';
      if (!f.flush()) throw engram::io_error("cannot write " + csv.string());
      f.close();
      std::filesystem::rename(csv.string() + ".part", csv);
    }

    const Eigen::Index hidden = dim - visible_rows * side;
    std::printf("%d images, beta %g, step %g, %ld of %ld pixels hidden per image\n", count, beta,
                step, long(hidden), long(dim));
    std::printf(
        "image  train index  steps  converged  energy      mean |error| (hidden pixels, 0-1)\n");
    double total = 0;
    for (int b = 0; b < count; ++b) {
      const double err =
          hidden > 0 ? (result.states.col(b) - images.col(b)).cwiseAbs().sum() / scale / hidden : 0;
      total += err;
      std::printf("%5d  %11ld  %5ld  %9s  %10.6f  %.4f\n", b, long(order[std::size_t(b)]),
                  long(result.steps(b)), result.converged(b) ? "yes" : "no", result.energies(b),
                  err);
    }
    std::printf("mean absolute pixel error over hidden pixels: %.4f\n", total / count);
    if (approx && hidden > 0) {
      double approx_total = 0, gap = 0;
      for (int b = 0; b < count; ++b) {
        approx_total += (approx->states.col(b) - images.col(b)).cwiseAbs().sum() / scale / hidden;
        gap += (approx->states.col(b) - result.states.col(b)).cwiseAbs().sum() / scale / hidden;
      }
      std::printf("DrDAM mean absolute pixel error over hidden pixels: %.4f (%.4f from MrDAM's)\n",
                  approx_total / count, gap / count);
    }
    std::printf("wrote %s and %s\n", (std::filesystem::path(out) / "grid.png").c_str(),
                (std::filesystem::path(out) / "energy.csv").c_str());
  } catch (const std::exception& e) {  // engram::error, or a filesystem error on --out
    std::fprintf(stderr, "image_completion: %s\n", e.what());
    return 1;
  }
  return 0;
}
