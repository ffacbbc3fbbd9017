// engram's learned energies: seed 000's response networks (linear and kernel) and their
// two-timescale Hebbian learning; seed 004's matrix factorisation by decimation.
#pragma once

#include "engram/learning/decimation.hpp"
#include "engram/learning/hebbian.hpp"
#include "engram/learning/observations.hpp"
#include "engram/learning/response.hpp"
