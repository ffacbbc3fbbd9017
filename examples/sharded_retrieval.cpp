// sharded_retrieval: image_completion with the memory spread over MPI ranks. Run it with
//   mpirun -np 4 build/examples/sharded_retrieval --out results
// Rank 0 reads Fashion-MNIST and chooses the stored and query images exactly as
// image_completion does (the same flags and seed choose the same images); distribute() hands
// each rank a contiguous slice of the stored images; every rank descends the same occluded
// queries on the sharded log-sum-exp energy, each step one reduction over its own slice and
// one allreduce of the partial states. Rank 0 writes the same grid.png as image_completion
// (rows: occluded, retrieved, nearest stored image, original) and prints where each rank's
// time went: its own slice, and the combination across ranks.
#include <CLI/CLI.hpp>
#include <engram/distributed.hpp>
#include <engram/engram.hpp>
#include <engram/io.hpp>

#include "cli_checks.hpp"
#include "completion.hpp"

#include <chrono>
#include <cmath>
#include <cstdio>
#include <vector>

int main(int argc, char** argv) {
  CLI::App app{"Complete occluded Fashion-MNIST images from a memory spread over MPI ranks"};
  example::one_line_errors(app, "sharded_retrieval");
  long stored_count = 10000, query_count = 20;
  float beta = 200.f, step = 0.1f, occlusion = 0.4f;
  double tolerance = 1e-7, timeout = 300;
  int max_steps = 1000;
  std::uint64_t seed = 1;
  std::string data = "/usr/share/datasets/fashion-mnist", out = "sharded_retrieval_out";
  std::string from = "test";
  app.add_option("--stored", stored_count, "training images stored, over all ranks")
      ->check(CLI::Range(1L, 100000000L));
  app.add_option("--queries", query_count, "images occluded and completed")
      ->check(CLI::Range(1L, 100000000L));
  app.add_option("--from", from,
                 "test: complete unseen test images; train: complete stored training images")
      ->check(CLI::IsMember({"test", "train"}));
  app.add_option("--beta", beta, "inverse temperature")->check(example::positive_finite);
  app.add_option("--step", step, "gradient descent step size")->check(example::positive_finite);
  app.add_option("--max-steps", max_steps, "step limit per image")->check(CLI::Range(0, 100000000));
  app.add_option("--tolerance", tolerance, "stop when |energy change| falls below this")
      ->check(example::positive_finite);
  app.add_option("--occlude", occlusion, "fraction of image rows hidden, from the bottom")
      ->check(CLI::Range(0.f, 1.f));
  app.add_option("--seed", seed, "chooses which images are stored and queried")
      ->check(example::whole_number);
  app.add_option("--timeout", timeout, "seconds a rank waits for the others in one collective call")
      ->check(CLI::Range(0.001, 86400.0));
  app.add_option("--data", data, "folder holding the Fashion-MNIST files (read by rank 0)");
  app.add_option("--out", out, "folder for grid.png (written by rank 0)");
  CLI11_PARSE(app, argc, argv);
  const bool unseen = from == "test";

  MPI_Init(&argc, &argv);
  int status = 0;
  int rank = 0;
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  try {
    namespace dist = engram::distributed;
    dist::communicator comm(MPI_COMM_WORLD,
                            std::chrono::milliseconds(std::llround(timeout * 1000)));
    constexpr Eigen::Index side = 28, dim = side * side;
    const float scale = 1.f / std::sqrt(float(dim));  // pixels in [0, 1/sqrt(D)], as in seed 001

    // Rank 0 reads the files; a failure there (a missing dataset) is every rank's error.
    std::filesystem::path folder;
    Eigen::MatrixXf images(dim, 0), originals(dim, query_count), queries(dim, query_count);
    Eigen::VectorXi labels, query_labels(query_count);
    comm.agree(dist::collective::user, 0, [&] {
      if (rank != 0) return;
      folder = example::prepare_out(out);
      const auto train_file = example::fashion_mnist(data, "train-images-idx3-ubyte.gz");
      const auto test_file = example::fashion_mnist(data, "t10k-images-idx3-ubyte.gz");
      const Eigen::MatrixXf train = engram::io::read_idx_images<float>(train_file);
      const Eigen::VectorXi train_labels =
          engram::io::read_idx_labels(example::fashion_mnist(data, "train-labels-idx1-ubyte.gz"));
      if (train.rows() != dim || train_labels.size() != train.cols())
        throw engram::parse_error("expected 28 x 28 images with one label each in " +
                                  train_file.string());
      if (stored_count > train.cols() || (!unseen && query_count > stored_count))
        throw engram::invalid_argument("--stored " + std::to_string(stored_count) +
                                       " and --queries " + std::to_string(query_count) +
                                       " do not fit " + std::to_string(train.cols()) +
                                       " training images");
      const engram::philox_source rng(seed);
      const auto stored = example::choose(train.cols(), stored_count, rng, 0);
      images = scale * example::columns_of(train, stored);
      labels.resize(stored_count);
      for (Eigen::Index i = 0; i < stored_count; ++i)
        labels(i) = train_labels(stored[std::size_t(i)]);
      if (unseen) {
        const Eigen::MatrixXf test = engram::io::read_idx_images<float>(test_file);
        const Eigen::VectorXi test_labels =
            engram::io::read_idx_labels(example::fashion_mnist(data, "t10k-labels-idx1-ubyte.gz"));
        if (query_count > test.cols())
          throw engram::invalid_argument("--queries " + std::to_string(query_count) +
                                         " exceeds the test set");
        const auto chosen = example::choose(test.cols(), query_count, rng, 1);
        originals = scale * example::columns_of(test, chosen);
        for (Eigen::Index b = 0; b < query_count; ++b)
          query_labels(b) = test_labels(chosen[std::size_t(b)]);
      } else {
        originals = images.leftCols(query_count);
        query_labels = labels.head(query_count);
      }
    });

    // Every rank: its slice of the stored images, and the same occluded queries.
    const auto memory = dist::distribute<float>(comm, images);
    const auto visible_rows = Eigen::Index(std::lround((1.f - occlusion) * side));
    engram::mask visible(dim, 1);
    for (Eigen::Index p = 0; p < dim; ++p) visible(p, 0) = p / side < visible_rows;
    comm.broadcast(originals.data(), originals.size(), 0);
    queries = originals;
    for (Eigen::Index p = 0; p < dim; ++p)
      if (!visible(p, 0)) queries.row(p).setZero();

    const dist::sharded_energy<engram::lse_energy<float>> energy(memory, beta);
    auto ws = energy.make_workspace();
    const auto stop = engram::stop::energy_change(tolerance) || engram::stop::after(max_steps);
    const auto start = std::chrono::steady_clock::now();
    const auto result =
        engram::retrieve(energy, queries, engram::gradient_descent<float>{.step = step}, stop,
                         {.clamp = visible}, ws);
    const std::chrono::duration<double> seconds = std::chrono::steady_clock::now() - start;

    // Per-rank timings, gathered to every rank, printed by rank 0 (microseconds and bytes).
    const auto& c = ws.counters;
    const auto micro = [](double s) { return std::int64_t(std::llround(s * 1e6)); };
    const std::vector<std::int64_t> timings = comm.all_gather(
        {std::int64_t(memory.local().size()), std::int64_t(c.calls), micro(c.local_seconds),
         micro(c.combine_seconds), c.bytes, micro(seconds.count())});
    if (rank == 0) {
      const auto found = example::nearest(images, result.states);
      const auto png = folder / "grid.png";
      const Eigen::Index drawn = example::write_completion_grid(
          png, {queries, result.states, example::columns_of(images, found), originals}, scale);
      const Eigen::Index hidden = dim - visible_rows * side;
      double total = 0;
      Eigen::Index agree = 0, recovered = 0, converged = 0;
      for (Eigen::Index b = 0; b < query_count; ++b) {
        const Eigen::Index n = found[std::size_t(b)];
        agree += labels(n) == query_labels(b);
        recovered += !unseen && n == b;
        converged += result.converged(b);
        if (hidden > 0)
          total += double((result.states.col(b) - originals.col(b)).cwiseAbs().sum() / scale) /
                   double(hidden);
      }
      std::printf("%ld training images stored over %d ranks, %ld %s images completed, beta %g\n",
                  stored_count, comm.size(), query_count,
                  unseen ? "unseen test" : "stored training", beta);
      std::printf(
          "rank  images  evaluations  own slice (s)  combine (s)  sent (MiB)  retrieval (s)\n");
      for (int r = 0; r < comm.size(); ++r) {
        const std::int64_t* t = timings.data() + 6 * r;
        std::printf("%4d  %6ld  %11ld  %13.3f  %11.3f  %10.2f  %13.3f\n", r, long(t[0]), long(t[1]),
                    double(t[2]) * 1e-6, double(t[3]) * 1e-6, double(t[4]) / (1 << 20),
                    double(t[5]) * 1e-6);
      }
      std::printf("converged: %ld of %ld; steps: %ld at most\n", long(converged), long(query_count),
                  long(result.steps.maxCoeff()));
      std::printf(
          "class agreement: %ld of %ld completions settled nearest a stored image of the "
          "query's class\n",
          long(agree), long(query_count));
      if (!unseen)
        std::printf("stored images recovered: %ld of %ld completions are nearest their own image\n",
                    long(recovered), long(query_count));
      std::printf("mean absolute pixel error over hidden pixels: %.4f\n",
                  total / double(query_count));
      if (query_count > drawn)
        std::printf("grid.png shows the first %ld of the %ld queries\n", long(drawn),
                    long(query_count));
      std::printf("wrote %s\n", png.c_str());
    }
  } catch (const std::exception& e) {  // engram::error on every rank alike, or a filesystem error
    std::fprintf(stderr, "sharded_retrieval (rank %d): %s\n", rank, e.what());
    status = 1;
  }
  MPI_Finalize();
  return status;
}
