// The cpu backend's threads: OpenMP when the build enables it, one thread otherwise. Only the
// files under engram/backend/cpu touch OpenMP.
#pragma once

#if defined(_OPENMP)
#include <omp.h>
#endif

#include "engram/core/types.hpp"

namespace engram::cpu_detail {

inline int max_threads() {
#if defined(_OPENMP)
  return omp_get_max_threads();
#else
  return 1;
#endif
}

inline int thread_id() {
#if defined(_OPENMP)
  return omp_get_thread_num();
#else
  return 0;
#endif
}

/// Runs body(task) for task in [0, tasks), one task at a time per thread, dynamically scheduled
/// in chunks of `grain`. Eigen's own GEMMs run inside, so parallel regions never nest.
template <class Body>
void parallel_for(index tasks, index grain, Body&& body) {
#if defined(_OPENMP)
  if (tasks > 1 && omp_get_max_threads() > 1 && !omp_in_parallel()) {
#pragma omp parallel for schedule(dynamic, grain)
    for (index task = 0; task < tasks; ++task) body(task);
    return;
  }
#endif
  (void)grain;
  for (index task = 0; task < tasks; ++task) body(task);
}

}  // namespace engram::cpu_detail
