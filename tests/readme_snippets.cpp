// The README's shorter snippets, compiled and run here; cmake/check_readme_snippet.cmake checks
// that the README quotes each region between the readme markers word for word (less the two
// spaces of indentation the function bodies add).
#include <engram/engram.hpp>
#include <engram/io.hpp>

#include <filesystem>

#include "catch.hpp"

TEST_CASE("README snippet: exact LSR retrieval", "[readme]") {
  Eigen::MatrixXd patterns(2, 3);
  patterns << 0, 1, 0, 0, 0, 1;
  engram::dense_memory<double> memory(patterns);
  const double beta = 2.0 / (0.4 * 0.4);  // radius 0.4: the basins do not meet
  Eigen::MatrixXd queries = patterns.array() + 0.1;
  // clang-format off
  // readme:begin
  engram::lsr_energy<double> lsr(memory, beta);
  auto exact = engram::retrieve(lsr, queries, engram::centroid_iteration<double>{},
                                engram::stop::fixed_point() || engram::stop::after(100));
  // readme:end
  // clang-format on
  CHECK(exact.all_converged());
  CHECK(exact.states == patterns);  // 0.1 * sqrt(2) from each pattern, inside its basin alone
}

TEST_CASE("README snippet: a DrDAM memory", "[readme]") {
  const Eigen::Index dim = 16;
  Eigen::MatrixXf patterns(dim, 4);
  engram::philox_source(3).fill_uniform(patterns, 0, 0.f, 0.25f);
  patterns = (patterns.array() > 0.125f).cast<float>() * 0.25f;  // binary, in {0, 1/sqrt(D)}
  Eigen::MatrixXf queries = patterns;
  queries.bottomRows(4).setZero();
  engram::mask visible = engram::mask::Constant(dim, 1, true);
  visible.bottomRows(4).setConstant(false);
  // clang-format off
  // readme:begin
  using map = engram::sincos_features;                  // or cos_, exp_, exp_exp_features
  engram::random_features<map, float> phi(dim, /*Y=*/20000, /*beta=*/20.f, /*seed=*/1,
                                          {.orthogonal = false,
                                           .storage = engram::omega_storage::materialised});
  engram::distributed_memory<map, float> tensor(phi, patterns);   // add(), remove(): O(D Y) each
  engram::drdam_energy<map, float> drdam(tensor);                 // eps = 1e-5 by default
  auto result = engram::retrieve(drdam, queries, engram::gradient_descent<float>{.step = 0.1f},
                                 engram::stop::after(300), {.clamp = visible});
  // readme:end
  // clang-format on
  CHECK(result.states.topRows(dim - 4) == queries.topRows(dim - 4));
  // Binarised, the completed pixels are the stored ones: at beta = 20 a pattern 2 bits away
  // weighs exp(-10 * 2/16) = 0.29 against random-feature noise of about 1/sqrt(Y) = 0.007.
  CHECK(engram::binarised_hamming(result.states, patterns) == 0.0);
}

TEST_CASE("README snippet: saving and loading a memory", "[readme]") {
  const std::filesystem::path dir = std::filesystem::temp_directory_path() / "engram_readme_save";
  std::filesystem::create_directories(dir);
  Eigen::MatrixXd patterns(2, 3);
  patterns << 0, 1, 0, 0, 0, 1;
  engram::dense_memory<double> memory(patterns);
  const engram::lsr_params<double> params{.beta = 12.5, .eps = 0};
  // clang-format off
  // readme:begin
  engram::io::save_memory(dir / "memory.engram", memory, params);
  auto [loaded, saved] = engram::io::load_memory<engram::dense_memory<double>,
                                                 engram::lsr_params<double>>(dir / "memory.engram");
  engram::lsr_energy<double> energy(loaded, saved);
  // readme:end
  // clang-format on
  CHECK(loaded.patterns() == patterns);
  CHECK(saved.beta == 12.5);
  CHECK(energy.value(patterns) == engram::lsr_energy<double>(memory, params).value(patterns));
  std::filesystem::remove_all(dir);
}

TEST_CASE("README snippet: remedy dynamics on a hierarchical network", "[readme]") {
  Eigen::VectorXd b(32);
  engram::philox_source(5).fill_uniform(b, 0, -0.5, 0.5);
  Eigen::MatrixXd u0(32, 3);
  engram::philox_source(6).fill_uniform(u0, 0, -2.0, 2.0);
  // clang-format off
  // readme:begin
  using L = engram::smooth_leaky_lagrangian<double>;     // Example 7's activation
  const std::vector<Eigen::Index> layers{8, 16, 8};
  Eigen::MatrixXd w = engram::scale_blocks(
      engram::hierarchical_coupling<double>(layers, /*seed=*/1, engram::block_symmetry::independent),
      layers);                                           // block tridiagonal, ||W||_2 <= 1
  engram::remedy_field<L, engram::contrastive_rule> field(w, b);  // u' = (I - W^T Lambda)(g(Wu+b) - u)
  auto run = engram::integrate(field, u0, engram::dormand_prince<double>{}, engram::stop::after(200),
                               engram::no_observer{}, {.record_trace = true});  // E3 never rises
  // readme:end
  // clang-format on
  // Dormand-Prince at its default tolerance 1e-6: near the fixed point E3 ~ 1e-12 can wobble
  // by about ||f|| 1e-6, so the allowance is 1e-9 of an energy that starts near 10.
  for (Eigen::Index c = 0; c < u0.cols(); ++c) {
    CHECK(engram::first_energy_increase(run.energy_trace.col(c), 1e-9) == -1);
    CHECK(run.energies(c) < 1e-6 * run.energy_trace(0, c));
  }
}
