// Retrieves a stored pattern and writes it as a PNG through the engram headers a downstream
// project sees; exits 0 on success.
#include <engram/engram.hpp>
#include <engram/io.hpp>

#include <filesystem>

int main() {
  Eigen::MatrixXd patterns = Eigen::MatrixXd::Identity(4, 4);
  engram::dense_memory<double> memory(patterns);
  engram::lse_energy<double> energy(memory, 10.0);
  Eigen::MatrixXd query = patterns.col(2) + 0.1 * Eigen::VectorXd::Ones(4);
  auto result = engram::retrieve(energy, query, engram::gradient_descent<double>{.step = 0.5},
                                 engram::stop::gradient_norm(1e-10) || engram::stop::after(1000));
  // The other patterns weigh exp(-10) each at the fixed point: it sits 1e-4 from pattern 2.
  if (!result.all_converged() || (result.states.col(0) - patterns.col(2)).norm() > 1e-3) return 1;
  const auto png = std::filesystem::temp_directory_path() / "engram_downstream.png";
  engram::io::write_png_grid(png, result.states, {.height = 2, .width = 2});
  const bool written = std::filesystem::file_size(png) > 0;
  std::filesystem::remove(png);
  return written ? 0 : 1;
}
