// A dense memory spread over the ranks of a communicator: rank r holds a contiguous slice of
// the patterns (its shard, possibly empty), patterns offset_r to offset_r + K_r - 1 of the
// whole memory in rank order. Every rank knows every shard's size, so that indices of the
// whole memory (supports, remove()) translate to a rank and a local index.
#pragma once

#include <algorithm>
#include <cstdint>
#include <vector>

#include "engram/core/error.hpp"
#include "engram/core/types.hpp"
#include "engram/distributed/communicator.hpp"
#include "engram/memory/dense_memory.hpp"

namespace engram::distributed {

template <real_scalar Scalar>
class sharded_memory {
 public:
  using scalar_type = Scalar;
  using local_type = dense_memory<Scalar, cpu>;

  /// Collective: this rank's shard is the columns of `shard` (dim x K_r, K_r may be 0). Every
  /// rank must give the same dimension; a rank whose shard is invalid (a NaN, a dimension
  /// below 1) makes every rank raise.
  template <class Derived>
  sharded_memory(communicator& comm, const Eigen::MatrixBase<Derived>& shard)
      : comm_(&comm), local_(shard.rows() > 0 ? shard.rows() : 1) {
    comm.agree(collective::construct, 0, [&] {
      if (shard.rows() < 1)
        throw dimension_mismatch(detail::message("the shard on rank ", comm.rank(), " has ",
                                                 shard.rows(), " rows; at least one is required"));
      if (shard.cols() > 0) local_ = local_type(shard);
    });
    const auto [low, high] = comm.range(std::int64_t(local_.dim()));
    if (low != high)
      throw dimension_mismatch(
          detail::message("the shards have different dimensions across ranks (from ", low, " to ",
                          high, "; rank ", comm.rank(), " has ", local_.dim(),
                          "): every rank must hold patterns of "
                          "one dimension"));
    refresh_sizes();
  }

  /// Collective: an empty memory of dimension `dim` on every rank.
  sharded_memory(communicator& comm, index dim) : sharded_memory(comm, matrix<Scalar>(dim, 0)) {}

  communicator& comm() const { return *comm_; }
  index dim() const { return local_.dim(); }
  /// The patterns over all ranks.
  index size() const { return total_; }
  bool empty() const { return total_ == 0; }
  /// This rank's shard, an ordinary dense memory.
  const local_type& local() const { return local_; }
  /// The index, in the whole memory, of this rank's first pattern.
  index offset() const { return offsets_[std::size_t(comm_->rank())]; }
  /// The number of patterns on rank `r`.
  index shard_size(int r) const { return sizes_[std::size_t(r)]; }
  /// Changes with every add() and remove() (on every rank alike).
  std::uint64_t version() const { return version_; }

  /// Collective: appends the columns of `more` (this rank's new patterns, possibly none) to
  /// this rank's shard. Indices of the whole memory change: each rank's slice grows.
  template <class Derived>
  void add(const Eigen::MatrixBase<Derived>& more) {
    // Checked on every rank before any shard changes, so that a bad shard leaves all as they
    // were.
    comm_->agree(collective::add, 0, [&] {
      require_rows("patterns to add", more.rows(), dim(), "the memory dimension");
      require_finite("patterns to add", more);
    });
    if (more.cols() > 0) local_.add(more);
    ++version_;
    refresh_sizes();
  }

  /// Collective: removes the patterns whose indices in the whole memory are listed; every rank
  /// passes the same list (checked).
  void remove(std::vector<index> indices) {
    std::sort(indices.begin(), indices.end());
    std::uint64_t hash = 1469598103934665603ull;
    for (index i : indices) hash = (hash ^ std::uint64_t(i)) * 1099511628211ull;
    comm_->agree(collective::remove, std::int64_t(indices.size()), [&] {
      for (std::size_t i = 0; i < indices.size(); ++i) {
        if (indices[i] < 0 || indices[i] >= total_)
          throw invalid_argument(detail::message("pattern index ", indices[i],
                                                 " is out of range; the sharded memory holds ",
                                                 total_, " patterns"));
        if (i > 0 && indices[i] == indices[i - 1])
          throw invalid_argument(
              detail::message("pattern index ", indices[i], " is listed twice for removal"));
      }
    });
    const auto [low, high] = comm_->range(std::int64_t(hash >> 1));
    if (low != high)
      throw collective_mismatch(
          "remove() was given different lists of indices on different ranks; every rank must "
          "pass the same indices of the whole memory");
    std::vector<index> mine;
    const index first = offset(), last = first + local_.size();
    for (index i : indices)
      if (i >= first && i < last) mine.push_back(i - first);
    if (!mine.empty()) local_.remove(mine);
    ++version_;
    refresh_sizes();
  }

 private:
  // Collective: every rank's shard size.
  void refresh_sizes() {
    const std::vector<std::int64_t> sizes = comm_->all_gather({std::int64_t(local_.size())});
    sizes_.assign(sizes.begin(), sizes.end());
    offsets_.assign(sizes_.size(), 0);
    total_ = 0;
    for (std::size_t r = 0; r < sizes_.size(); ++r) {
      offsets_[r] = total_;
      total_ += sizes_[r];
    }
  }

  communicator* comm_;
  local_type local_;
  std::vector<index> sizes_, offsets_;
  index total_ = 0;
  std::uint64_t version_ = 0;
};

/// Collective: the columns of `patterns` (dim x K, read on rank `root` only; other ranks may
/// pass an empty matrix) spread over the ranks in contiguous slices of K / P patterns, the
/// first K mod P ranks one more.
template <real_scalar Scalar>
sharded_memory<Scalar> distribute(communicator& comm,
                                  const Eigen::Ref<const matrix<Scalar>>& patterns, int root = 0) {
  std::int64_t shape[2] = {0, 0};
  comm.agree(collective::distribute, root, [&] {
    if (root < 0 || root >= comm.size())
      throw invalid_argument(
          detail::message("root is ", root, "; the communicator has ", comm.size(), " ranks"));
    if (comm.rank() != root) return;
    if (patterns.rows() < 1)
      throw dimension_mismatch(
          detail::message("patterns has ", patterns.rows(), " rows; at least one is required"));
    require_finite("patterns", patterns);
    shape[0] = patterns.rows();
    shape[1] = patterns.cols();
  });
  comm.broadcast(shape, 2, root);
  const index dim = index(shape[0]), total = index(shape[1]), p = comm.size();
  std::vector<index> counts(static_cast<std::size_t>(p));  // patterns a rank
  for (index r = 0; r < p; ++r) counts[std::size_t(r)] = total / p + (r < total % p ? 1 : 0);
  // Scattered from one contiguous block: a view with a gap between columns is copied first.
  matrix<Scalar> contiguous;
  const Scalar* source = nullptr;
  if (comm.rank() == root) {
    source = patterns.data();
    if (patterns.outerStride() != patterns.rows()) {
      contiguous = patterns;
      source = contiguous.data();
    }
  }
  matrix<Scalar> shard(dim, counts[std::size_t(comm.rank())]);
  comm.scatter(source, counts, dim, shard.data(), root);
  return sharded_memory<Scalar>(comm, shard);
}

}  // namespace engram::distributed
