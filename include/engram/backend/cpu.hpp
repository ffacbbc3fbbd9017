// The cpu backend: Eigen with OpenMP. Its trait and workspace, the dense reductions of each
// kernel family (exp_reduce, sum_reduce), radius candidates for compact kernels, and the
// state algebra of integrate(). Only files under engram/backend/cpu touch OpenMP.
#pragma once

#include "engram/backend/cpu/algebra.hpp"
#include "engram/backend/cpu/features.hpp"
#include "engram/backend/cpu/parallel.hpp"
#include "engram/backend/cpu/radius.hpp"
#include "engram/backend/cpu/reduce.hpp"
#include "engram/backend/cpu/workspace.hpp"
