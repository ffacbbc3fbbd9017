// Retrieves a stored pattern through the installed engram headers; exits 0 on success.
#include <engram/engram.hpp>

int main() {
  Eigen::MatrixXd patterns = Eigen::MatrixXd::Identity(4, 4);
  engram::dense_memory<double> memory(patterns);
  engram::lse_energy<double> energy(memory, 10.0);
  Eigen::MatrixXd query = patterns.col(2) + 0.1 * Eigen::VectorXd::Ones(4);
  auto result = engram::retrieve(energy, query, engram::gradient_descent<double>{.step = 0.5},
                                 engram::stop::gradient_norm(1e-10) || engram::stop::after(1000));
  return result.all_converged() && (result.states.col(0) - patterns.col(2)).norm() < 1e-3 ? 0 : 1;
}
