// engram's analysis tools: beta search, LSR minima enumeration, minima by descent, Monte Carlo
// support fractions and Gaussian-mixture likelihoods (seed 002 sec. 4 and App. C); DrDAM's
// approximation metrics and bounds (seed 001); dead neurons and stability (seed 003).
#pragma once

#include "engram/analysis/approximation.hpp"
#include "engram/analysis/beta_search.hpp"
#include "engram/analysis/descent_minima.hpp"
#include "engram/analysis/gaussian_mixture.hpp"
#include "engram/analysis/lsr_minima.hpp"
#include "engram/analysis/minima.hpp"
#include "engram/analysis/stability.hpp"
#include "engram/analysis/support_fraction.hpp"
