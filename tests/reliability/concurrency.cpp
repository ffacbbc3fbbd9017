// Concurrency guarantees: const evaluations and retrievals of one energy from several threads
// at once equal a serial run bit for bit (LSE, LSR with its KD-tree built lazily by whichever
// thread comes first, the hybrid sum, DrDAM), and a memory changed while a retrieval runs on
// it is reported as memory_changed instead of being read half-updated. Built under
// ThreadSanitizer by tools/check-sanitizers.sh, where the first part must also be race-free.
#include <engram/engram.hpp>

#include <functional>
#include <memory>
#include <thread>
#include <vector>

#include "catch.hpp"
#include "support/support.hpp"

using engram_test::uniform;
using Md = Eigen::MatrixXd;
namespace stop = engram::stop;

namespace {

struct outcome {
  Eigen::VectorXd energies;
  Md gradients, states;
  bool operator==(const outcome& o) const {
    return energies == o.energies && gradients == o.gradients && states == o.states;
  }
};

// One evaluation and one short retrieval of `queries`.
template <class Energy>
outcome run(const Energy& energy, const Md& queries) {
  const auto [e, g] = energy.value_and_gradient(queries);
  const auto r = engram::retrieve(energy, queries, engram::gradient_descent<double>{.step = 0.01},
                                  stop::after(15));
  return {e, g, r.states};
}

// `threads` threads each run `make()`'s energy `rounds` times at once on the same object;
// every result must equal the serial one made from an identical, separate energy.
template <class Make>
void check_concurrent(Make&& make, const Md& queries, int threads = 4, int rounds = 3) {
  const auto reference_energy = make();
  const outcome serial = run(*reference_energy, queries);
  const auto shared = make();  // first used inside the threads: lazy state is built there
  std::vector<std::vector<outcome>> seen{std::size_t(threads)};
  std::vector<std::thread> pool;
  for (int t = 0; t < threads; ++t)
    pool.emplace_back([&, t] {
      for (int i = 0; i < rounds; ++i) seen[std::size_t(t)].push_back(run(*shared, queries));
    });
  for (auto& th : pool) th.join();
  for (int t = 0; t < threads; ++t)
    for (int i = 0; i < rounds; ++i) {
      INFO("thread " << t << ", round " << i);
      CHECK(seen[std::size_t(t)][std::size_t(i)] == serial);
    }
}

}  // namespace

TEST_CASE("const use from many threads equals a serial run, bit for bit",
          "[concurrency][reliability]") {
  const Eigen::Index d = 4;
  const Md xi = uniform(101, d, 300, 0.0, 0.5);
  const Md queries = xi.leftCols(24) + 0.02 * uniform(102, d, 24, -1.0, 1.0);
  engram::dense_memory<double> memory(xi);

  SECTION("log-sum-exp") {
    check_concurrent([&] { return std::make_unique<engram::lse_energy<double>>(memory, 40.0); },
                     queries);
  }
  SECTION("log-sum-ReLU on a KD-tree built by the first thread to need it") {
    check_concurrent(
        [&] {
          return std::make_unique<engram::lsr_energy<double>>(memory, 400.0, 0.0,
                                                              engram::support_method::kd_tree);
        },
        queries);
  }
  SECTION("the hybrid sum") {
    check_concurrent(
        [&] { return std::make_unique<engram::hybrid_energy<double>>(memory, 400.0, 1e-3, 40.0); },
        queries);
  }
  SECTION("DrDAM") {
    using map = engram::random_features<engram::sincos_features, double>;
    engram::distributed_memory<engram::sincos_features, double> distributed(
        map(d, 256, 40.0, 5, {.tile = 64}), xi);
    check_concurrent(
        [&] {
          return std::make_unique<engram::drdam_energy<engram::sincos_features, double>>(
              distributed);
        },
        queries);
  }
}

TEST_CASE("a memory changed during a retrieval is reported, not read half-updated",
          "[concurrency][reliability]") {
  const Md xi = uniform(103, 3, 20);
  const Md more = uniform(104, 3, 5);
  const Md queries = xi.leftCols(4);
  const auto changing = [&](auto& memory, const auto& energy) {
    // The progress callback stands for another part of the program that adds patterns while
    // the retrieval runs (on this thread, so the test itself has no data race).
    engram::retrieve_options options;
    options.progress = [&](const engram::retrieval_progress& p) {
      if (p.step == 2) memory.add(more);
    };
    REQUIRE_THROWS_AS(
        engram::retrieve(energy, queries, engram::gradient_descent<double>{.step = 1e-3},
                         stop::after(10), options),
        engram::memory_changed);
    // Unchanged, the same retrieval runs to its end.
    const auto r = engram::retrieve(energy, queries, engram::gradient_descent<double>{.step = 1e-3},
                                    stop::after(10));
    CHECK((r.steps.array() == 10).all());
  };
  SECTION("dense") {
    engram::dense_memory<double> memory(xi);
    const engram::lse_energy<double> energy(memory, 10.0);
    changing(memory, energy);
  }
  SECTION("distributed") {
    using map = engram::random_features<engram::cos_features, double>;
    engram::distributed_memory<engram::cos_features, double> memory(map(3, 64, 10.0, 7), xi);
    const engram::drdam_energy<engram::cos_features, double> energy(memory);
    changing(memory, energy);
  }
}
