// The distributed memory of DrDAM (seed 001 sec. 3): every pattern is folded into one memory
// tensor T = sum_mu phi(xi_mu) of F numbers, whatever the number of patterns. add() and
// remove() cost O(D Y) a pattern; encoding many streams tiles of features and blocks of
// patterns, never a K x Y block (seed 001 Algorithm 1, ProcMems).
//
// A memory may also keep the readout tensor R = sum_mu phi(xi_mu) xi_mu^T (F x D, seed 001
// eq. 32), updated by add() and remove() alongside T; drdam_energy::readout_gradient() uses it.
// It costs F x D numbers, so it is kept only on request (readout::keep).
//
// What remove() can and cannot check: T forgets which patterns made it, so removing a pattern
// that was never added cannot be detected while other patterns are stored; it is detected when
// it would take the pattern count below zero, and raises then.
#pragma once

#include <algorithm>
#include <cstdint>
#include <utility>

#include "engram/core/backend.hpp"
#include "engram/core/error.hpp"
#include "engram/core/progress.hpp"
#include "engram/core/types.hpp"
#include "engram/features/feature_map.hpp"

namespace engram {

/// Whether a distributed memory keeps the readout tensor R = sum_mu phi(xi_mu) xi_mu^T.
enum class readout : bool { none = false, keep = true };

/// `FeatureMap` is a feature map type or a random-feature formula (cos_features, ...).
template <class FeatureMap, real_scalar Scalar, backend Backend = cpu>
requires feature_map<feature_map_of_t<FeatureMap, Scalar>>
class distributed_memory {
 public:
  using scalar_type = Scalar;
  using backend_type = Backend;
  using features_type = feature_map_of_t<FeatureMap, Scalar>;

  explicit distributed_memory(features_type features, readout keep = readout::none)
      : features_(std::move(features)), tensor_(vector<Scalar>::Zero(features_.size())) {
    if (keep == readout::keep) readout_ = matrix<Scalar>::Zero(features_.size(), features_.dim());
  }

  /// A memory holding the columns of `patterns` (D x K); `progress` hears of the encoding as
  /// add() reports it.
  distributed_memory(features_type features, const Eigen::Ref<const matrix<Scalar>>& patterns,
                     readout keep = readout::none, const progress_callback& progress = {})
      : distributed_memory(std::move(features), keep) {
    add(patterns, progress);
  }

  /// A memory rebuilt from its parts: the tensor T (F finite numbers), the count of patterns
  /// folded into it and, when not empty, the readout tensor R (F x D), as
  /// engram::io::load_memory restores a saved memory.
  static distributed_memory from_tensor(features_type features, vector<Scalar> tensor, index count,
                                        matrix<Scalar> readout_tensor = {}) {
    if (tensor.size() != features.size())
      throw dimension_mismatch(detail::message("the memory tensor has ", tensor.size(),
                                               " entries, the feature map F = ", features.size()));
    require_finite("the memory tensor", tensor);
    if (count < 0)
      throw invalid_argument(
          detail::message("the pattern count is ", count, "; it must be at least 0"));
    if (readout_tensor.size() > 0) {
      if (readout_tensor.rows() != features.size() || readout_tensor.cols() != features.dim())
        throw dimension_mismatch(detail::message(
            "the readout tensor is ", readout_tensor.rows(), " x ", readout_tensor.cols(),
            "; it must be F x D = ", features.size(), " x ", features.dim()));
      require_finite("the readout tensor", readout_tensor);
    }
    distributed_memory memory(std::move(features));
    memory.tensor_ = std::move(tensor);
    memory.readout_ = std::move(readout_tensor);
    memory.count_ = count;
    return memory;
  }

  index dim() const { return features_.dim(); }
  index size() const { return count_; }  ///< patterns stored (added minus removed)
  /// Changes with every add() and remove(): energies over the memory compare it.
  std::uint64_t version() const { return version_; }
  bool empty() const { return count_ == 0; }
  const features_type& features() const { return features_; }
  /// T, F numbers: the parameters of the memory (compare K x D for a dense memory).
  const vector<Scalar>& memory_tensor() const { return tensor_; }
  /// Whether the memory keeps R (readout::keep at construction).
  bool has_readout() const { return readout_.size() > 0; }
  /// R = sum_mu phi(xi_mu) xi_mu^T, F x D; empty unless has_readout().
  const matrix<Scalar>& readout_tensor() const { return readout_; }

  /// T += sum of phi over the columns of `patterns`, encoded in chunks of columns (each a
  /// multiple of 256 columns and about 2^24 multiply-adds of omega x): after each chunk,
  /// `progress` (when given) hears how many of the columns are encoded. The chunks are sums in
  /// the order one call would take (the random-feature maps accumulate blocks of 256 columns
  /// in order), so T is the same to the bit with or without a callback.
  void add(const Eigen::Ref<const matrix<Scalar>>& patterns,
           const progress_callback& progress = {}) {
    check(patterns, "patterns to add");
    ++version_;  // before the tensor changes: a reader that checks afterwards sees it
    const index total = patterns.cols(), chunk = encoding_chunk();
    for (index b0 = 0; b0 < total; b0 += chunk) {
      const auto x = patterns.middleCols(b0, std::min(chunk, total - b0));
      features_.accumulate(x, tensor_, Scalar(1));
      accumulate_readout(x, Scalar(1), readout_);
      count_ += x.cols();
      if (progress) progress(work_progress{b0 + x.cols(), total});
    }
  }

  /// What add() would fold into the memory for the columns of `patterns`, without folding it:
  /// the sum of their features (F numbers), of phi(xi) xi^T when the memory keeps R (else
  /// empty), and their count. Another memory with the same features (the same seed, on another
  /// process) takes it with add_encoded().
  struct encoding {
    vector<Scalar> tensor;
    matrix<Scalar> readout;
    index count = 0;
  };
  encoding encode(const Eigen::Ref<const matrix<Scalar>>& patterns) const {
    check(patterns, "patterns to encode");
    encoding out{vector<Scalar>::Zero(features_.size()), matrix<Scalar>(), patterns.cols()};
    if (has_readout()) out.readout.setZero(features_.size(), dim());
    features_.accumulate(patterns, out.tensor, Scalar(1));
    accumulate_readout(patterns, Scalar(1), out.readout);
    return out;
  }

  /// Folds an encoding into T, R and the count (`sign` = -1 takes it out, as remove() does).
  /// Its shapes must match this memory's; its numbers must be finite.
  void add_encoded(const encoding& e, Scalar sign = Scalar(1)) {
    if (sign != Scalar(1) && sign != Scalar(-1))
      throw invalid_argument(detail::message("sign is ", sign, "; it must be 1 or -1"));
    if (e.tensor.size() != tensor_.size())
      throw dimension_mismatch(detail::message("the encoded tensor has ", e.tensor.size(),
                                               " entries, the feature map F = ", tensor_.size()));
    if (e.readout.rows() != readout_.rows() || e.readout.cols() != readout_.cols())
      throw dimension_mismatch(detail::message("the encoded readout tensor is ", e.readout.rows(),
                                               " x ", e.readout.cols(), "; this memory's is ",
                                               readout_.rows(), " x ", readout_.cols()));
    if (e.count < 0)
      throw invalid_argument(
          detail::message("the encoded count is ", e.count, "; it must be at least 0"));
    if (sign < 0 && e.count > count_)
      throw invalid_argument(detail::message("removing ", e.count,
                                             " patterns from a memory that holds ", count_,
                                             "; they cannot all have been added"));
    require_finite("the encoded tensor", e.tensor);
    require_finite("the encoded readout tensor", e.readout);
    ++version_;
    tensor_ += sign * e.tensor;
    if (has_readout()) readout_ += sign * e.readout;
    count_ += sign > 0 ? e.count : -e.count;
  }

  /// T -= sum of phi over the columns of `patterns`; see the header for what can be detected.
  void remove(const Eigen::Ref<const matrix<Scalar>>& patterns) {
    check(patterns, "patterns to remove");
    if (patterns.cols() > count_)
      throw invalid_argument(detail::message("removing ", patterns.cols(),
                                             " patterns from a memory that holds ", count_,
                                             "; they cannot all have been added"));
    ++version_;
    features_.accumulate(patterns, tensor_, Scalar(-1));
    accumulate_readout(patterns, Scalar(-1), readout_);
    count_ -= patterns.cols();
  }

 private:
  /// Columns per chunk of add(): a multiple of 256 (of every readout block, too).
  index encoding_chunk() const {
    const index per_column = std::max<index>(1, features_.size() * dim());
    return 256 * std::max<index>(1, (index(1) << 24) / (256 * per_column));
  }

  /// R += sign phi(X) X^T, in blocks of columns small enough that phi's F x b block stays
  /// under about 2^22 numbers: the largest power of two up to 256 that does, so that blocks
  /// never straddle add()'s chunks.
  void accumulate_readout(const Eigen::Ref<const matrix<Scalar>>& patterns, Scalar sign,
                          matrix<Scalar>& out) const {
    if (!has_readout()) return;
    index block = 256;
    while (block > 1 && block * out.rows() > (index(1) << 22)) block /= 2;
    for (index b0 = 0; b0 < patterns.cols(); b0 += block) {
      const index n = std::min(block, patterns.cols() - b0);
      const auto x = patterns.middleCols(b0, n);
      out.noalias() += sign * (features_.phi(x) * x.transpose());
    }
  }

  void check(const Eigen::Ref<const matrix<Scalar>>& patterns, const char* name) const {
    require_rows(name, patterns.rows(), dim(), "the memory dimension");
    features_.check(patterns, name);
  }

  features_type features_;
  vector<Scalar> tensor_;
  matrix<Scalar> readout_;  // R, F x D, or empty
  index count_ = 0;
  std::uint64_t version_ = 0;
};

}  // namespace engram
