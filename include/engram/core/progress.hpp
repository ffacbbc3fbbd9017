// Progress reports of long library calls. Retrieval reports steps and converged columns
// (retrieval_progress, dynamics/result.hpp); the other long calls (encoding a distributed
// memory, enumerating LSR minima) report units of work done out of a known total, from the
// calling thread, between pieces of work: a callback may print, but a slow one slows the call.
#pragma once

#include <functional>

#include "engram/core/types.hpp"

namespace engram {

/// `done` of `total` units of work (patterns encoded, root patterns enumerated, ...).
struct work_progress {
  index done;
  index total;
};

/// What the long calls accept; an empty function reports nothing.
using progress_callback = std::function<void(const work_progress&)>;

}  // namespace engram
