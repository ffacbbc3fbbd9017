// Types that do not satisfy engram's concepts, compiled by cmake/check_concept_error.cmake,
// which expects the compilation to fail with the concept's name in the first error.
#include <engram/engram.hpp>

#if ENGRAM_CASE == 1
// A kernel without a family: dense_energy must refuse it as a kernel_function.
struct no_family {
  static constexpr const char* name = "no_family";
};
engram::dense_energy<no_family, engram::log_scaling, double> energy(
    *static_cast<const engram::dense_memory<double>*>(nullptr), 1.0);
#elif ENGRAM_CASE == 2
// A field whose call operator takes the wrong arguments: integrate must refuse it as a
// vector_field.
struct not_a_field {
  using scalar_type = double;
  Eigen::Index dim() const { return 1; }
  void operator()(double, double) const {}
};
void run() {
  not_a_field field;
  engram::integrate(field, Eigen::MatrixXd::Zero(1, 1), engram::rk4<double>{},
                    engram::stop::after(1));
}
#elif ENGRAM_CASE == 3
// The cuda backend named in a build without it (this file is compiled without
// ENGRAM_WITH_CUDA): refused with the option that brings it.
engram::dense_memory<float, engram::cuda>* memory = nullptr;
#endif
