// engram: dense associative memories (modern Hopfield networks) on Eigen.
// The umbrella header: memories, kernels, energies and retrieval. Dataset readers and image
// output live in <engram/io.hpp> (they need zlib and stb; link engram::io).
#pragma once

#include "engram/analysis.hpp"
#include "engram/core/backend.hpp"
#include "engram/core/concepts.hpp"
#include "engram/core/error.hpp"
#include "engram/core/rng.hpp"
#include "engram/core/types.hpp"
#include "engram/dynamics/centroid_iteration.hpp"
#include "engram/dynamics/gradient_descent.hpp"
#include "engram/dynamics/retrieve.hpp"
#include "engram/dynamics/stop.hpp"
#include "engram/energy/dense_energy.hpp"
#include "engram/energy/drdam.hpp"
#include "engram/energy/hybrid.hpp"
#include "engram/energy/lse.hpp"
#include "engram/energy/lsr.hpp"
#include "engram/features/random_features.hpp"
#include "engram/kernels/epanechnikov.hpp"
#include "engram/kernels/exp_dot.hpp"
#include "engram/kernels/gaussian.hpp"
#include "engram/kernels/kernel.hpp"
#include "engram/memory/dense_memory.hpp"
#include "engram/memory/distributed_memory.hpp"
#include "engram/memory/support_search.hpp"
