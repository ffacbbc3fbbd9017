// DrDAM with a projection given by the user: omega (Y x D) and the phases b (Y) that another
// implementation drew, so that engram's cos features, memory tensor and energy are exactly
// theirs. Here the "other implementation" is a few lines of Eigen: phi_a(x) =
// sqrt(2/Y) cos(<omega_a, sqrt(beta) x> + b_a).
#include <engram/engram.hpp>

#include <cmath>
#include <iostream>
#include <numbers>

int main() {
  const Eigen::Index dim = 8, y = 4096;
  const float beta = 4.f;
  const Eigen::MatrixXf omega = Eigen::MatrixXf::Random(y, dim) * 1.7f;  // theirs, any numbers
  const Eigen::VectorXf phase =
      (Eigen::VectorXf::Random(y).array() + 1.f) * float(std::numbers::pi);  // in [0, 2 pi)

  engram::random_features<engram::cos_features, float> phi(
      engram::gaussian_projection<float>(omega, phase), beta);
  Eigen::MatrixXf patterns = Eigen::MatrixXf::Random(dim, 5) * 0.3f;
  engram::distributed_memory<engram::cos_features, float> memory(phi, patterns);
  engram::drdam_energy<engram::cos_features, float> energy(memory);

  // Their memory tensor, T = sum_mu phi(xi_mu), formed directly.
  const Eigen::MatrixXf h = (std::sqrt(beta) * omega * patterns).colwise() + phase;
  const Eigen::VectorXf theirs =
      std::sqrt(2.f / float(y)) * h.array().cos().matrix().rowwise().sum();
  const float difference = (memory.memory_tensor() - theirs).cwiseAbs().maxCoeff();
  std::cout << "memory tensor: largest difference from the direct formula " << difference << "\n";

  const auto result = engram::retrieve(
      energy, patterns, engram::gradient_descent<float>{.step = 0.05f}, engram::stop::after(20));
  std::cout << "energies at the stored patterns: " << result.energies.transpose() << "\n";
  // float sums of 5 x 4096 features: a few ulps of their magnitude (~sqrt(2/Y) x 5 x 64).
  return difference < 1e-4f && result.energies.allFinite() ? 0 : 1;
}
