// image_completion: the flagship engram example. Stores N Fashion-MNIST training images in a
// log-sum-exp memory, hides the bottom part of M query images, and completes them by
// descending the energy with the visible pixels clamped (the setup of seed 001 App. D: pixels
// scaled to [0, 1/sqrt(D)], step 0.1).
//
// --from test (the default) completes test images the memory has never seen: the descent
// settles on the stored garment whose visible part is nearest, so the completion is a stored
// image, and its label (the label files, read with read_idx_labels) tells whether the memory
// answered with a garment of the query's class. --from train completes M of the stored images
// themselves, seed 001's setting.
//
// beta sets how many memories answer: at low beta the descent settles on a blend of similar
// stored images (the softmax weights spread over many), at high beta on one stored image.
// seed 001 uses beta = 60 on 4 images; with thousands of Fashion-MNIST images 60 blends
// similar garments, so the default is 200.
//
// With --energy drdam the same queries are also completed by a random-feature memory (DrDAM,
// SinCos features, seed 001) holding the images in one tensor of F = 2Y numbers; the grid gains
// a DrDAM row and both parameter counts are printed. DrDAM's default beta is seed 001's 60:
// the kernel values it must resolve shrink like exp(-beta d^2 / 2), and at 200 they sink below
// the random-feature noise of any affordable Y. Encoding 10,000 images into Y = 100,000
// features takes minutes on two cores; a progress line shows how far it is.
//
// Writes grid.png (rows: occluded, retrieved, [DrDAM retrieved,] nearest stored image,
// original; up to 100 queries, 20 to a block of rows) and energy.csv (model, step, query,
// energy) into --out, and prints each query's labels and error.
#include <CLI/CLI.hpp>
#include <engram/engram.hpp>
#include <engram/io.hpp>

#include "cli_checks.hpp"
#include "completion.hpp"
#include "progress.hpp"

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <numeric>
#include <optional>
#include <vector>

int main(int argc, char** argv) {
  CLI::App app{"Complete occluded Fashion-MNIST images with a dense associative memory"};
  example::one_line_errors(app, "image_completion");
  long stored_count = 10000, query_count = 20;
  float beta = 200.f, step = 0.1f, occlusion = 0.4f;
  double tolerance = 1e-7;
  int max_steps = 1000;
  std::uint64_t seed = 1;
  std::string data = "/usr/share/datasets/fashion-mnist", out = "image_completion_out";
  std::string model = "lse", from = "test";
  long features = 100000;
  bool quiet = false;
  app.add_option("--stored", stored_count, "training images stored in the memory")
      ->check(CLI::Range(1L, 100000000L));
  app.add_option("--queries", query_count, "images occluded and completed")
      ->check(CLI::Range(1L, 100000000L));
  app.add_option("--from", from,
                 "test: complete unseen test images; train: complete stored training images")
      ->check(CLI::IsMember({"test", "train"}));
  app.add_option("--beta", beta, "inverse temperature (default 200; 60 with --energy drdam)")
      ->check(example::positive_finite);
  app.add_option("--step", step, "gradient descent step size")->check(example::positive_finite);
  app.add_option("--max-steps", max_steps, "step limit per image")->check(CLI::Range(0, 100000000));
  app.add_option("--tolerance", tolerance, "stop when |energy change| falls below this")
      ->check(example::positive_finite);
  app.add_option("--occlude", occlusion, "fraction of image rows hidden, from the bottom")
      ->check(CLI::Range(0.f, 1.f));
  app.add_option("--seed", seed, "chooses which images are stored and queried (and DrDAM's omega)")
      ->check(example::whole_number);
  app.add_option("--data", data, "folder holding the Fashion-MNIST files");
  app.add_option("--out", out, "folder for grid.png and energy.csv");
  app.add_option("--energy", model, "lse (dense memory) or drdam (dense and random-feature)")
      ->check(CLI::IsMember({"lse", "drdam"}));
  app.add_option("--features", features, "random features Y of the DrDAM memory")
      ->check(CLI::Range(1L, 100000000L));
  app.add_flag("--quiet", quiet, "no progress line on stderr");
  CLI11_PARSE(app, argc, argv);
  const bool drdam = model == "drdam", unseen = from == "test";
  if (drdam && app.count("--beta") == 0) beta = 60.f;

  try {
    const auto folder = example::prepare_out(out);
    constexpr Eigen::Index side = 28, dim = side * side;
    const auto train_file = example::fashion_mnist(data, "train-images-idx3-ubyte.gz");
    const auto train_labels_file = example::fashion_mnist(data, "train-labels-idx1-ubyte.gz");
    const auto test_file = example::fashion_mnist(data, "t10k-images-idx3-ubyte.gz");
    const auto test_labels_file = example::fashion_mnist(data, "t10k-labels-idx1-ubyte.gz");
    const Eigen::Index train_size = engram::io::read_idx_header(train_file).items();
    const Eigen::Index test_size = engram::io::read_idx_header(test_file).items();
    if (stored_count > train_size)
      throw engram::invalid_argument("--stored is " + std::to_string(stored_count) + " but " +
                                     train_file.string() + " holds " + std::to_string(train_size) +
                                     " images");
    if (unseen && query_count > test_size)
      throw engram::invalid_argument("--queries is " + std::to_string(query_count) + " but " +
                                     test_file.string() + " holds " + std::to_string(test_size) +
                                     " images");
    if (!unseen && query_count > stored_count)
      throw engram::invalid_argument("--queries is " + std::to_string(query_count) +
                                     " but --stored is " + std::to_string(stored_count) +
                                     ": with --from train the queries are stored images");

    const Eigen::MatrixXf train = engram::io::read_idx_images<float>(train_file);
    const Eigen::VectorXi train_labels = engram::io::read_idx_labels(train_labels_file);
    if (train.rows() != dim)
      throw engram::parse_error("expected 28 x 28 images in " + train_file.string());
    if (train_labels.size() != train.cols())
      throw engram::parse_error(train_labels_file.string() + " holds " +
                                std::to_string(train_labels.size()) + " labels for " +
                                std::to_string(train.cols()) + " images");

    // The stored images: N distinct training images chosen by the seed (stream 0).
    const engram::philox_source rng(seed);
    const auto stored_index = example::choose(train.cols(), stored_count, rng, 0);
    const float scale = 1.f / std::sqrt(float(dim));  // pixels in [0, 1/sqrt(D)], as in seed 001
    Eigen::MatrixXf images(dim, stored_count);
    Eigen::VectorXi labels(stored_count);
    for (Eigen::Index i = 0; i < stored_count; ++i) {
      images.col(i) = scale * train.col(stored_index[std::size_t(i)]);
      labels(i) = train_labels(stored_index[std::size_t(i)]);
    }

    // The queries: M test images chosen by the seed (stream 1), or the first M stored images.
    Eigen::MatrixXf originals(dim, query_count);
    Eigen::VectorXi query_labels(query_count);
    std::vector<Eigen::Index> query_index;
    if (unseen) {
      const Eigen::MatrixXf test = engram::io::read_idx_images<float>(test_file);
      const Eigen::VectorXi test_labels = engram::io::read_idx_labels(test_labels_file);
      if (test.rows() != dim || test_labels.size() != test.cols())
        throw engram::parse_error("expected 28 x 28 images with one label each in " +
                                  test_file.string() + " and " + test_labels_file.string());
      query_index = example::choose(test.cols(), query_count, rng, 1);
      for (Eigen::Index b = 0; b < query_count; ++b) {
        originals.col(b) = scale * test.col(query_index[std::size_t(b)]);
        query_labels(b) = test_labels(query_index[std::size_t(b)]);
      }
    } else {
      query_index.assign(stored_index.begin(), stored_index.begin() + query_count);
      originals = images.leftCols(query_count);
      query_labels = labels.head(query_count);
    }

    engram::dense_memory<float> memory(images);
    engram::lse_energy<float> energy(memory, beta);

    // Hide the bottom rows: zero them in the queries and let only them move.
    const auto visible_rows = Eigen::Index(std::lround((1.f - occlusion) * side));
    engram::mask visible(dim, 1);
    for (Eigen::Index p = 0; p < dim; ++p) visible(p, 0) = p / side < visible_rows;
    Eigen::MatrixXf queries = originals;
    for (Eigen::Index p = 0; p < dim; ++p)
      if (!visible(p, 0)) queries.row(p).setZero();

    const auto stop = engram::stop::energy_change(tolerance) || engram::stop::after(max_steps);
    std::optional<engram::retrieval_result<float>> approx;
    std::optional<engram::distributed_memory<engram::sincos_features, float>> tensor;
    if (drdam) {
      // The same images folded into a random-feature memory, retrieved from the same queries.
      example::progress_line encoding("encoding DrDAM's tensor", quiet);
      tensor.emplace(
          engram::random_features<engram::sincos_features, float>(dim, features, beta, seed),
          images, engram::readout::none, encoding.work("images"));
    }
    example::progress_line line("retrieval", quiet);
    const auto result = engram::retrieve(
        energy, queries, engram::gradient_descent<float>{.step = step}, stop,
        {.clamp = visible, .progress = line.retrieval(max_steps), .record_trace = true});
    line.clear();
    if (drdam) {
      engram::drdam_energy<engram::sincos_features, float> approx_energy(*tensor);
      example::progress_line drdam_line("DrDAM retrieval", quiet);
      approx = engram::retrieve(
          approx_energy, queries, engram::gradient_descent<float>{.step = step}, stop,
          {.clamp = visible, .progress = drdam_line.retrieval(max_steps), .record_trace = true});
      drdam_line.clear();
      std::printf(
          "parameters: MrDAM stores K x D = %ld x %ld = %ld numbers; DrDAM's tensor holds "
          "F = 2Y = %ld\n",
          stored_count, long(dim), stored_count * long(dim), long(tensor->memory_tensor().size()));
    }

    // The stored image each completion settled nearest to, and whether its class is the
    // query's.
    const auto found = example::nearest(images, result.states);
    const auto approx_found =
        approx ? example::nearest(images, approx->states) : std::vector<Eigen::Index>{};

    // The grid: blocks of up to 20 queries, each block a row of occluded images, retrieved,
    // [DrDAM,] nearest stored and original; at most 100 queries are drawn.
    std::vector<Eigen::MatrixXf> grid_rows = {queries, result.states};
    if (approx) grid_rows.push_back(approx->states);
    grid_rows.push_back(example::columns_of(images, found));
    grid_rows.push_back(originals);
    const auto png = folder / "grid.png";
    const Eigen::Index drawn = example::write_completion_grid(png, grid_rows, scale);
    const auto csv = folder / "energy.csv";
    example::write_file(csv, [&](std::ofstream& f) {
      f << "model,step,query,energy\n";
      for (Eigen::Index t = 0; t < result.energy_trace.rows(); ++t)
        for (Eigen::Index b = 0; b < query_count; ++b)
          f << "mrdam," << t << ',' << b << ',' << result.energy_trace(t, b) << '\n';
      if (approx)
        for (Eigen::Index t = 0; t < approx->energy_trace.rows(); ++t)
          for (Eigen::Index b = 0; b < query_count; ++b)
            f << "drdam," << t << ',' << b << ',' << approx->energy_trace(t, b) << '\n';
    });

    const Eigen::Index hidden = dim - visible_rows * side;
    std::printf(
        "%ld training images stored, %ld %s images completed, beta %g, step %g, %ld of "
        "%ld pixels hidden\n",
        stored_count, query_count, unseen ? "unseen test" : "stored training", beta, step,
        long(hidden), long(dim));
    std::printf(
        "query  %-5s index  label        steps  converged  nearest stored (label)      "
        "same class  |error| hidden\n",
        unseen ? "test" : "train");
    const auto error = [&](const Eigen::MatrixXf& states, Eigen::Index b) {
      return hidden > 0 ? double((states.col(b) - originals.col(b)).cwiseAbs().sum() / scale) /
                              double(hidden)
                        : 0.0;
    };
    double total = 0;
    Eigen::Index agree = 0, recovered = 0;
    for (Eigen::Index b = 0; b < query_count; ++b) {
      const Eigen::Index n = found[std::size_t(b)];
      const bool same = labels(n) == query_labels(b);
      agree += same;
      recovered += !unseen && n == b;
      total += error(result.states, b);
      std::printf("%5ld  %10ld  %-11s  %5ld  %9s  %6ld (%-11s)         %-3s  %.4f\n", long(b),
                  long(query_index[std::size_t(b)]),
                  example::class_names[std::size_t(query_labels(b))], long(result.steps(b)),
                  result.converged(b) ? "yes" : "no", long(stored_index[std::size_t(n)]),
                  example::class_names[std::size_t(labels(n))], same ? "yes" : "no",
                  error(result.states, b));
    }
    std::printf(
        "class agreement: %ld of %ld completions settled nearest a stored image of the "
        "query's class (%.0f%%)\n",
        long(agree), long(query_count), 100.0 * double(agree) / double(query_count));
    if (!unseen)
      std::printf("stored images recovered: %ld of %ld completions are nearest their own image\n",
                  long(recovered), long(query_count));
    std::printf("mean absolute pixel error over hidden pixels: %.4f\n",
                total / double(query_count));
    if (approx && hidden > 0) {
      double approx_total = 0, gap = 0;
      Eigen::Index approx_agree = 0;
      for (Eigen::Index b = 0; b < query_count; ++b) {
        approx_total += error(approx->states, b);
        gap += double((approx->states.col(b) - result.states.col(b)).cwiseAbs().sum() / scale) /
               double(hidden);
        approx_agree += labels(approx_found[std::size_t(b)]) == query_labels(b);
      }
      std::printf(
          "DrDAM mean absolute pixel error over hidden pixels: %.4f (%.4f from MrDAM's); "
          "class agreement %ld of %ld\n",
          approx_total / double(query_count), gap / double(query_count), long(approx_agree),
          long(query_count));
    }
    if (query_count > drawn)
      std::printf("grid.png shows the first %ld of the %ld queries\n", long(drawn),
                  long(query_count));
    std::printf("wrote %s and %s\n", png.c_str(), csv.c_str());
  } catch (const std::exception& e) {  // engram::error, or a filesystem error
    std::fprintf(stderr, "image_completion: %s\n", e.what());
    return 1;
  }
  return 0;
}
