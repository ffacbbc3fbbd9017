// The backend trait: where the arithmetic of an energy happens. A backend is a tag type;
// backend_traits<Backend> says how it stores matrices and how many threads it may use.
// The cpu backend is Eigen with OpenMP; its primitives live in engram/backend/cpu.hpp.
#pragma once

#include <concepts>

#include "engram/core/types.hpp"

#if defined(_OPENMP)
#include <omp.h>
#endif

namespace engram {

/// Eigen on the host, parallel over query blocks with OpenMP when it is enabled.
struct cpu {};

template <class Backend>
struct backend_traits;

template <>
struct backend_traits<cpu> {
  static constexpr const char* name = "cpu";
  /// States and memories are ordinary host Eigen matrices.
  template <class Scalar>
  using matrix_type = matrix<Scalar>;
  static constexpr bool host_accessible = true;

  static int max_threads() {
#if defined(_OPENMP)
    return omp_get_max_threads();
#else
    return 1;
#endif
  }
};

template <class Backend>
concept backend = requires {
  { backend_traits<Backend>::name } -> std::convertible_to<const char*>;
  { backend_traits<Backend>::host_accessible } -> std::convertible_to<bool>;
};

}  // namespace engram
