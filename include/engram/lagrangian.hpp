// Lagrangian energies and neural dynamics (seed 003): Lagrangian policies, the Krotov-Hopfield
// dynamics and its remedies as vector fields with Lyapunov energies, hierarchical couplings, and
// the analysis of dead neurons and stability.
#pragma once

#include "engram/lagrangian/analysis.hpp"
#include "engram/lagrangian/dynamics.hpp"
#include "engram/lagrangian/lagrangians.hpp"
