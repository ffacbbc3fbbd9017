// A vector field written in user code, integrated with classic RK4: the damped rotation
// dx/dt = A x, A = [[-0.1, -1], [1, -0.1]], whose flow is e^(-0.1 t) times a rotation by t.
// Any type with scalar_type, dim() and operator()(X, dXdt) is an engram::vector_field.
#include <engram/engram.hpp>

#include <cmath>
#include <iostream>

struct damped_rotation {
  using scalar_type = double;
  Eigen::Matrix2d a{{-0.1, -1.0}, {1.0, -0.1}};

  Eigen::Index dim() const { return 2; }
  void operator()(const engram::matrix<double>& x, engram::matrix<double>& dxdt) const {
    dxdt.noalias() = a * x;  // every column of the batch at once
  }
};

int main() {
  damped_rotation field;
  const Eigen::MatrixXd start = Eigen::MatrixXd::Identity(2, 2);  // two trajectories
  const auto result =
      engram::integrate(field, start, engram::rk4<double>{.step = 0.01}, engram::stop::after(100));

  const double t = 100 * 0.01;
  Eigen::Matrix2d exact;
  exact << std::cos(t), -std::sin(t), std::sin(t), std::cos(t);
  exact *= std::exp(-0.1 * t);
  const double error = (result.states - exact).cwiseAbs().maxCoeff();
  std::cout << "RK4 at t = 1: largest error " << error << "\n";  // O(h^4)
  return error < 1e-9 ? 0 : 1;
}
