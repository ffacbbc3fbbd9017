// quickstart: store random patterns in a log-sum-exp memory, corrupt them, and retrieve them by
// descending the energy. The README quotes this file; CI compiles and runs it.
#include <engram/engram.hpp>

#include <cstdio>

int main() {
  const Eigen::Index dim = 64, count = 100, batch = 8;
  engram::philox_source rng(42);

  Eigen::MatrixXf patterns(dim, count);  // D x K, one pattern per column
  rng.fill_uniform(patterns, /*stream=*/0);
  engram::dense_memory<float> memory(patterns);
  engram::lse_energy<float> energy(memory, /*beta=*/20.f);

  Eigen::MatrixXf noise(dim, batch);
  rng.fill_normal(noise, /*stream=*/1);
  Eigen::MatrixXf queries = patterns.leftCols(batch) + 0.1f * noise;

  auto result = engram::retrieve(energy, queries, engram::gradient_descent<float>{.step = 0.5f},
                                 engram::stop::gradient_norm(1e-5) || engram::stop::after(500));

  for (Eigen::Index b = 0; b < batch; ++b)
    std::printf("query %ld: %ld steps, energy %+.3e, distance to its pattern %.2e\n", long(b),
                long(result.steps(b)), result.energies(b),
                (result.states.col(b) - patterns.col(b)).norm());
  return result.all_converged() ? 0 : 1;
}
