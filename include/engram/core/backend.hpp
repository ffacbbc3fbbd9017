// The backend trait: where the arithmetic happens. A backend is a tag type; backend_traits<B>
// says how it stores matrices, which tile policy its primitives take and which workspace they
// use. The heavy primitives are free functions found by the tag (reduce, radius_candidates,
// the state algebra): engram/backend/cpu.hpp holds the cpu ones, Eigen with OpenMP.
#pragma once

#include <concepts>

#include "engram/core/types.hpp"

namespace engram {

/// Eigen on the host, parallel with OpenMP when it is enabled.
struct cpu {};

/// NVIDIA GPUs through the CUDA runtime: only in builds configured with ENGRAM_WITH_CUDA=ON
/// (the engram::cuda target, which defines it), whose device code lives in .cuh files compiled
/// by nvcc. The device layer (engram/backend/cuda/device.cuh) comes first; the primitives
/// follow it.
struct cuda {};

template <class Backend>
struct backend_traits;

#ifndef ENGRAM_WITH_CUDA
/// A build without CUDA refuses the cuda backend where it is named, with what to do.
template <class Backend>
requires std::same_as<Backend, cuda>
struct backend_traits<Backend> {
  static_assert(!std::same_as<Backend, cuda>,
                "engram::cuda is not in this build: configure engram with -DENGRAM_WITH_CUDA=ON "
                "(needs nvcc) and link the target engram::cuda");
};
#endif

template <class Backend>
concept backend = requires {
  { backend_traits<Backend>::name } -> std::convertible_to<const char*>;
  { backend_traits<Backend>::host_accessible } -> std::convertible_to<bool>;
  typename backend_traits<Backend>::tile_policy;
};

/// The scratch a backend's primitives use (backend_traits<B>::workspace<Scalar>) for one
/// evaluation: grown on demand, released with its owner, never shared between two evaluations
/// running at once.
template <class Backend, class Scalar>
using backend_workspace = typename backend_traits<Backend>::template workspace<Scalar>;

}  // namespace engram
