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
  // clang-format off
  // readme:begin
  auto ws = lsr.make_workspace();
  ws.candidates.reach = 0.5;  // lists to 1.5 r
  engram::gradient_flow<engram::lsr_energy<double>> flow(lsr, queries.cols(), {}, ws);
  auto listed = engram::integrate(flow, queries, engram::centroid_iteration<double>{},
                                  engram::stop::fixed_point() || engram::stop::after(100));
  // readme:end
  // clang-format on
  CHECK(listed.states == exact.states);  // the lists change no result
  CHECK(listed.steps == exact.steps);
  CHECK(ws.candidates.lists_made >= 3u);  // each column got a list
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

TEST_CASE("README snippet: a line attractor learned from noisy observations", "[readme]") {
  Eigen::VectorXd u(16);
  for (Eigen::Index i = 0; i < 16; ++i) u(i) = (i % 3 == 0 ? -1.0 : 1.0) / 4.0;  // +-1/sqrt(N)
  double last_loss = 0;
  // clang-format off
  // readme:begin
  Eigen::MatrixXd x = engram::line_observations<double>(u, 1000, /*spread=*/4.0, /*noise=*/0.1,
                                                        /*seed=*/1);  // x = 4 s u + 0.1 z
  auto net = engram::hopfield_response<double>::initial(16, /*c0=*/3.0);  // W = 0, c = 3
  engram::hebbian_params params{.eta_w = 0.005, .eta_c = 0.1, .batch = 1000, .epochs = 1000};
  auto history = engram::learn(net, x, params, engram::closed_form,
                               [&](const engram::learning_epoch<double>& e) { last_loss = e.metrics.loss; });
  Eigen::MatrixXd y = net.steady_state(x);  // the responses (diag c - W)^{-1} x
  // readme:end
  // clang-format on
  // The mean-field fixed point: <y_i^2> = 1 (the residual contracts geometrically; about 1e-7
  // after 1000 updates, measured) and W = <y y^T>.
  CHECK(history.back().metrics.constraint_residual < 1e-5);
  CHECK(last_loss == history.back().metrics.loss);
  const Eigen::MatrixXd c = y * y.transpose() / 1000.0;
  CHECK((net.coupling() - c).cwiseAbs().maxCoeff() < 1e-4);
  Eigen::SelfAdjointEigenSolver<Eigen::MatrixXd> es(net.coupling());
  CHECK(std::abs(es.eigenvectors().col(15).dot(u)) > 0.95);
}

TEST_CASE("README snippet: the classical Hopfield network and decimation", "[readme]") {
  // clang-format off
  // readme:begin
  Eigen::MatrixXd xi = engram::random_ising_patterns(500, 25, /*seed=*/1);  // +-1 patterns, N x P
  engram::ising_field<engram::pattern_couplings<double>> hopfield{engram::pattern_couplings<double>(xi)};
  Eigen::MatrixXd noisy = xi;
  noisy.topRows(50) *= -1;                                                    // 10% of the spins flipped
  auto run = engram::integrate(hopfield, noisy, engram::asynchronous_sign<double>{/*seed=*/2},
                               engram::stop::fixed_point() || engram::stop::after(50));
  Eigen::MatrixXd m = engram::overlaps(xi, run.states);                      // xi^T sigma / N

  auto problem = engram::spiked_matrix<double>(200, /*alpha=*/0.03, /*Delta=*/0.05, /*rho=*/1.0,
                                               /*seed=*/3);  // Y = xi xi^T / sqrt(N) + sqrt(Delta) Z
  auto found = engram::decimate(problem.y, problem.patterns.cols(), /*Delta=*/0.05,
                                engram::decimation_params{.seed = 4});
  auto match = engram::match_patterns(problem.patterns, found.patterns);     // up to sign and order
  double decimation = engram::matrix_mse(engram::decimation_estimate(found.patterns), problem.patterns);
  double rie = engram::matrix_mse(engram::rie_estimate(problem.y, 0.05).estimate, problem.patterns);
  // readme:end
  // clang-format on
  // Retrieval from 10% flipped spins at alpha = 0.05 ends at (or a few spins from) the pattern:
  // the retrieval state's overlap is 1 - O(1e-3) below alpha_c (measured minimum 0.996).
  CHECK(m.diagonal().minCoeff() > 0.99);
  CHECK(run.all_converged());
  for (double overlap : match.overlap) CHECK(overlap > 0.95);
  CHECK(decimation < rie);
}
