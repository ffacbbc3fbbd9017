// A distributed memory (DrDAM's tensor T, seed 001 sec. 3) built from patterns spread over
// MPI ranks: each rank encodes its own patterns, one allreduce sums the encodings in rank
// order, and every rank folds the same sum into its copy of T. T is additive, so this is the
// whole of it: DrDAM energies and retrievals then run on each rank's copy with no further
// communication. add() and remove() are collective in the same way, so that every rank's T
// stays bitwise the same.
#pragma once

#include <cmath>
#include <cstdint>
#include <utility>

#include "engram/core/error.hpp"
#include "engram/core/types.hpp"
#include "engram/distributed/communicator.hpp"
#include "engram/memory/distributed_memory.hpp"

namespace engram::distributed {

template <class FeatureMap, real_scalar Scalar>
class sharded_tensor {
 public:
  using scalar_type = Scalar;
  using memory_type = distributed_memory<FeatureMap, Scalar>;
  using features_type = typename memory_type::features_type;

  /// Collective: every rank passes the same feature map (the same kind, size and seed: checked
  /// on a probe state) and its own patterns (dim x K_r, K_r may be 0).
  sharded_tensor(communicator& comm, features_type features,
                 const Eigen::Ref<const matrix<Scalar>>& patterns, readout keep = readout::none)
      : comm_(&comm), memory_(std::move(features), keep) {
    agree_features();
    add(patterns);
  }

  communicator& comm() const { return *comm_; }
  /// This rank's copy of the memory: T summed over every rank's patterns, the same on every
  /// rank. Energies and retrievals over it need no communication.
  const memory_type& memory() const { return memory_; }
  index dim() const { return memory_.dim(); }
  /// Patterns over all ranks.
  index size() const { return memory_.size(); }

  /// Collective: every rank adds its own new patterns (possibly none).
  void add(const Eigen::Ref<const matrix<Scalar>>& patterns) { fold(patterns, Scalar(1)); }
  /// Collective: every rank takes out patterns it added (possibly none).
  void remove(const Eigen::Ref<const matrix<Scalar>>& patterns) { fold(patterns, Scalar(-1)); }

 private:
  void fold(const Eigen::Ref<const matrix<Scalar>>& patterns, Scalar sign) {
    typename memory_type::encoding e;
    comm_->agree(sign > 0 ? collective::add : collective::remove, 0,
                 [&] { e = memory_.encode(patterns); });
    // One sum over the ranks: T's entries, R's, then the count (exact in a double up to 2^53,
    // carried as Scalar only where Scalar is double; a float count goes apart).
    const index f = e.tensor.size(), r = e.readout.size();
    vector<Scalar> all(f + r);
    all.head(f) = e.tensor;
    if (r > 0) all.tail(r) = e.readout.reshaped();
    comm_->sum(all.data(), all.size());
    std::int64_t count = e.count;
    comm_->sum_counts(&count);
    e.tensor = all.head(f);
    if (r > 0) e.readout = all.tail(r).reshaped(e.readout.rows(), e.readout.cols());
    e.count = index(count);
    // The same sum on every rank, so every rank raises alike if it cannot be folded.
    memory_.add_encoded(e, sign);
  }

  // The feature maps agree in size, dimension, the readout setting and, bitwise, their
  // features of one probe state (so the same seed and bandwidth: ranks of one build compute
  // them alike).
  void agree_features() {
    double probe_sum = 0, probe_squares = 0;
    comm_->agree(collective::construct, 3, [&] {
      matrix<Scalar> probe(memory_.dim(), 1);
      for (index i = 0; i < probe.rows(); ++i) probe(i, 0) = Scalar(1) / Scalar(i + 1);
      const matrix<Scalar> phi = memory_.features().phi(probe);
      probe_sum = double(phi.sum());
      probe_squares = double(phi.squaredNorm());
    });
    const std::pair<const char*, double> checks[] = {
        {"the feature count F", double(memory_.features().size())},
        {"the dimension", double(memory_.dim())},
        {"the readout setting (1 = readout::keep)", memory_.has_readout() ? 1.0 : 0.0},
        {"the features of a probe state (sum)", probe_sum},
        {"the features of a probe state (sum of squares)", probe_squares}};
    for (const auto& [name, value] : checks) {
      const auto [low, high] = comm_->range(value);
      if (low != high)
        throw invalid_argument(
            detail::message(name, " differs across ranks (from ", low, " to ", high, "; rank ",
                            comm_->rank(), " of ", comm_->size(), " has ", value,
                            "): every rank must pass the same feature map, with the same seed, "
                            "and the same readout setting"));
    }
  }

  communicator* comm_;
  memory_type memory_;
};

}  // namespace engram::distributed
