// engram's analysis tools: beta search, LSR minima enumeration, minima by descent, Monte Carlo
// support fractions and Gaussian-mixture likelihoods (seed 002 sec. 4 and App. C); DrDAM's
// approximation metrics and bounds (seed 001); dead neurons and stability (seed 003); Hopfield
// capacity, the rotation-invariant estimator and the replica-symmetric equations (seed 004).
#pragma once

#include "engram/analysis/approximation.hpp"
#include "engram/analysis/beta_search.hpp"
#include "engram/analysis/descent_minima.hpp"
#include "engram/analysis/gaussian_mixture.hpp"
#include "engram/analysis/hopfield_capacity.hpp"
#include "engram/analysis/lsr_minima.hpp"
#include "engram/analysis/minima.hpp"
#include "engram/analysis/replica.hpp"
#include "engram/analysis/rie.hpp"
#include "engram/analysis/stability.hpp"
#include "engram/analysis/support_fraction.hpp"
