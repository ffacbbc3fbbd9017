// Retrieval with the user-defined biweight kernel (biweight.hpp): dense_energy sums it over the
// memories within its radius, and centroid_iteration steps its fixed-point map, the mean of the
// support weighted by -dk/d(d^2).
#include <engram/engram.hpp>

#include <iostream>

#include "biweight.hpp"

int main() {
  Eigen::MatrixXd patterns(2, 3);
  patterns << 0, 1, 0, 0, 0, 1;
  engram::dense_memory<double> memory(patterns);
  engram::dense_energy<biweight, engram::log_scaling, double> energy(memory, {.beta = 8.0});

  const Eigen::MatrixXd queries = patterns.array() + 0.1;  // within radius 0.5 of one pattern
  const auto result = engram::retrieve(energy, queries, engram::centroid_iteration<double>{},
                                       engram::stop::fixed_point() || engram::stop::after(100));
  const double error = (result.states - patterns).cwiseAbs().maxCoeff();
  std::cout << "biweight retrieval: largest error " << error << " after " << result.steps.maxCoeff()
            << " steps\n";
  return result.all_converged() && error < 1e-12 ? 0 : 1;
}
