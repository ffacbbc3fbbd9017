// The distributed memory of DrDAM (seed 001 sec. 3): every pattern is folded into one memory
// tensor T = sum_mu phi(xi_mu) of F numbers, whatever the number of patterns. add() and
// remove() cost O(D Y) a pattern; encoding many streams tiles of features and blocks of
// patterns, never a K x Y block (seed 001 Algorithm 1, ProcMems).
//
// What remove() can and cannot check: T forgets which patterns made it, so removing a pattern
// that was never added cannot be detected while other patterns are stored; it is detected when
// it would take the pattern count below zero, and raises then.
#pragma once

#include <cstdint>
#include <utility>

#include "engram/core/backend.hpp"
#include "engram/core/error.hpp"
#include "engram/core/types.hpp"
#include "engram/features/feature_map.hpp"

namespace engram {

/// `FeatureMap` is a feature map type or a random-feature formula (cos_features, ...).
template <class FeatureMap, real_scalar Scalar, backend Backend = cpu>
requires feature_map<feature_map_of_t<FeatureMap, Scalar>>
class distributed_memory {
 public:
  using scalar_type = Scalar;
  using backend_type = Backend;
  using features_type = feature_map_of_t<FeatureMap, Scalar>;

  explicit distributed_memory(features_type features)
      : features_(std::move(features)), tensor_(vector<Scalar>::Zero(features_.size())) {}

  /// A memory holding the columns of `patterns` (D x K).
  distributed_memory(features_type features, const Eigen::Ref<const matrix<Scalar>>& patterns)
      : distributed_memory(std::move(features)) {
    add(patterns);
  }

  /// A memory rebuilt from its parts: the tensor T (F finite numbers) and the count of patterns
  /// folded into it, as engram::io::load_memory restores a saved memory.
  static distributed_memory from_tensor(features_type features, vector<Scalar> tensor,
                                        index count) {
    if (tensor.size() != features.size())
      throw dimension_mismatch(detail::message("the memory tensor has ", tensor.size(),
                                               " entries, the feature map F = ", features.size()));
    require_finite("the memory tensor", tensor);
    if (count < 0)
      throw invalid_argument(
          detail::message("the pattern count is ", count, "; it must be at least 0"));
    distributed_memory memory(std::move(features));
    memory.tensor_ = std::move(tensor);
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

  /// T += sum of phi over the columns of `patterns`.
  void add(const Eigen::Ref<const matrix<Scalar>>& patterns) {
    check(patterns, "patterns to add");
    ++version_;  // before the tensor changes: a reader that checks afterwards sees it
    features_.accumulate(patterns, tensor_, Scalar(1));
    count_ += patterns.cols();
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
    count_ -= patterns.cols();
  }

 private:
  void check(const Eigen::Ref<const matrix<Scalar>>& patterns, const char* name) const {
    require_rows(name, patterns.rows(), dim(), "the memory dimension");
    features_.check(patterns, name);
  }

  features_type features_;
  vector<Scalar> tensor_;
  index count_ = 0;
  std::uint64_t version_ = 0;
};

}  // namespace engram
