// engram/distributed: memories spread over MPI ranks (Open MPI), through the partial-state
// seam of the dense energies and the additive memory tensor of DrDAM. Not part of
// engram/engram.hpp: it needs <mpi.h>, and the engram::mpi target that provides it.
#pragma once

#include "engram/distributed/communicator.hpp"
#include "engram/distributed/sharded_energy.hpp"
#include "engram/distributed/sharded_memory.hpp"
#include "engram/distributed/sharded_tensor.hpp"
