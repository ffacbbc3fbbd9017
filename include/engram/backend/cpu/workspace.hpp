// The scratch of the cpu backend's primitives: a score block per thread, partial states for
// memory chunks, candidate lists. Buffers grow to the largest evaluation seen and are released
// with the workspace; a descent loop that keeps its shapes allocates nothing after the first step.
#pragma once

#include <algorithm>
#include <array>
#include <cstdint>
#include <utility>
#include <vector>

#include "engram/backend/cpu/gemm.hpp"
#include "engram/backend/cpu/parallel.hpp"
#include "engram/backend/exp_partial.hpp"
#include "engram/backend/sum_partial.hpp"
#include "engram/core/backend.hpp"
#include "engram/core/error.hpp"
#include "engram/core/types.hpp"

namespace engram {

/// Tile sizes of the cpu primitives: a policy, not magic numbers in the loops.
struct cpu_tiles {
  index memory_tile = 512;  // memories per streamed tile (rows of the score block)
  index query_tile = 128;   // queries per parallel task (columns of the score block)
  // With at most 24 queries (the thin kernels of gemm.hpp), memory tiles hold at most this many
  // bytes of patterns, so that a tile stays in L2 between its two products; 0: no limit.
  index thin_tile_bytes = index(256) << 10;

  /// Throws invalid_argument naming a size below 1 (below 0 for thin_tile_bytes).
  void validate() const {
    if (memory_tile < 1 || query_tile < 1)
      throw invalid_argument(detail::message("cpu_tiles.memory_tile is ", memory_tile,
                                             " and cpu_tiles.query_tile ", query_tile,
                                             "; both must be >= 1"));
    if (thin_tile_bytes < 0)
      throw invalid_argument(detail::message("cpu_tiles.thin_tile_bytes is ", thin_tile_bytes,
                                             "; it must be >= 0 (0: no limit)"));
  }
};

namespace cpu_detail {

/// Where a batch has fewer blocks of queries than there are threads, the memory is cut into
/// about this many chunks per thread, scheduled dynamically: with one chunk per thread, a
/// thread slowed by its neighbours on a shared machine left the other waiting at the end of
/// every step (7% of image_completion's retrieval in the OpenMP runtime's wait; 4 chunks a
/// thread took the retrieval from a median of 958 to 868 ms). Each chunk costs a partial state
/// and its combination, O(D B).
inline constexpr index chunks_per_thread = 4;

/// Chunks a thread where exp_reduce packs each memory tile once for all blocks of queries
/// (memory chunks outermost): each chunk's partial state spans the whole batch, D x B numbers
/// zeroed and combined, so fewer than chunks_per_thread.
inline constexpr index shared_chunks_per_thread = 2;

/// The most bytes of partial states that path allocates (beyond the caller's output): above it
/// a reduction keeps the per-block path. 2 MiB at B = 1024, D = 256 in float on two threads.
inline constexpr index shared_partials_bytes = index(16) << 20;

/// How a reduction splits its work among threads.
struct split {
  index qt, mt, blocks, chunks, tiles_per_chunk;
  index rows, cols;  // the largest score block any task needs: small problems keep small scratch

  split(index batch, index count, const cpu_tiles& tiles) {
    qt = std::max<index>(1, tiles.query_tile);
    mt = std::max<index>(1, tiles.memory_tile);
    blocks = (batch + qt - 1) / qt;
    const index threads = max_threads(), memory_tiles = (count + mt - 1) / mt;
    chunks =
        blocks >= threads
            ? 1
            : std::max<index>(
                  1, std::min(memory_tiles, (chunks_per_thread * threads + blocks - 1) / blocks));
    tiles_per_chunk = (memory_tiles + chunks - 1) / chunks;
    rows = std::min(mt, count);
    cols = std::min(qt, batch);
  }
  index k_begin(index c, index count) const { return std::min(count, c * tiles_per_chunk * mt); }
  index k_end(index c, index count) const {
    return std::min(count, (c + 1) * tiles_per_chunk * mt);
  }
};

}  // namespace cpu_detail

/// One thread's buffers for a tile of random features: omega rows (on demand), h = omega z,
/// the features and their Jacobian factor.
template <real_scalar Scalar>
struct feature_scratch {
  matrix<Scalar> omega, h, u, first, second;
  vector<Scalar> pack;  // panels of the tile products (tile_product)
};

/// The partial sums of one slot of feature tiles (feature_project): <T, phi(x_b)> and
/// J_phi(x_b)^T T.
template <real_scalar Scalar>
struct feature_partial {
  vector<Scalar> s;
  matrix<Scalar> jt;
};

template <real_scalar Scalar>
class cpu_workspace {
 public:
  /// A row of `cols` numbers shared by a whole evaluation (not per thread).
  row_vector<Scalar>& row(index cols) {
    row_.resize(cols);
    return row_;
  }
  /// Thread `t`'s random-feature buffers.
  feature_scratch<Scalar>& features(int t) { return per_thread(features_, t); }
  /// n slots of partial sums over feature tiles (n may exceed the thread count: sums over
  /// feature tiles keep one slot per tile where their partials fit a budget).
  std::vector<feature_partial<Scalar>>& feature_partials(std::size_t n) {
    return grow(feature_partials_, n);
  }

  /// Thread `t`'s rows x cols block (a view of a buffer that only grows).
  auto score_block(int t, index rows, index cols) {
    matrix<Scalar>& b = per_thread(scores_, t);
    if (b.rows() < rows || b.cols() < cols)
      b.resize(std::max(rows, b.rows()), std::max(cols, b.cols()));
    return b.topLeftCorner(rows, cols);
  }
  /// Thread `t`'s packing buffer for tile_product (it grows there).
  vector<Scalar>& packing(int t) { return per_thread(packs_, t); }
  /// Thread `t`'s memory tile packed for the products that share it: the scores (0) and the
  /// read-out (1).
  tile_operand<Scalar>& packed_tile(int t, int product) {
    return packed_tiles(t)[std::size_t(product)];
  }
  std::array<tile_operand<Scalar>, 2>& packed_tiles(int t) { return per_thread(packed_tiles_, t); }
  /// n blocks of queries packed for the score products, shared by all threads.
  std::vector<tile_operand<Scalar>>& packed_queries(std::size_t n) {
    return grow(packed_queries_, n);
  }
  /// Thread `t`'s column of `rows` numbers.
  auto column(int t, index rows) {
    vector<Scalar>& v = per_thread(columns_, t);
    if (v.size() < rows) v.resize(rows);
    return v.head(rows);
  }
  /// Thread `t`'s list of KD-tree matches, emptied; it starts with room for 256 and then keeps
  /// the capacity it reached.
  std::vector<std::pair<std::uint32_t, Scalar>>& matches(int t) {
    auto& m = per_thread(matches_, t);
    m.clear();
    m.reserve(256);
    return m;
  }
  /// n partial states for memory chunks 1..n-1 (chunk 0 writes to the caller's output).
  std::vector<exp_partial<Scalar>>& exp_chunks(std::size_t n) { return grow(exp_chunks_, n); }
  std::vector<sum_partial<Scalar>>& sum_chunks(std::size_t n) { return grow(sum_chunks_, n); }
  /// n lists of (column, memory) candidates, one per task, emptied; each keeps the capacity
  /// it reached. Task `i`'s list is candidate_list(i).
  void candidates(std::size_t n, std::size_t reserve = 0) {
    grow(candidates_, n);
    for (std::size_t i = 0; i < n; ++i) {
      candidates_[i].value.clear();
      candidates_[i].value.reserve(reserve);
    }
  }
  std::vector<std::pair<index, index>>& candidate_list(index task) {
    return per_thread(candidates_, int(task));
  }
  /// Thread `t`'s D distances to a KD-tree node's box, zeroed.
  std::vector<Scalar>& box_distances(int t, index dim) {
    auto& d = per_thread(boxes_, t);
    d.assign(std::size_t(dim), Scalar(0));
    return d;
  }

  /// Frees every buffer; the next evaluation grows them again.
  void release() { *this = cpu_workspace(); }

 private:
  // Each thread's buffer header on its own cache line: a vector's end pointer changes on
  // every push_back, and neighbouring headers on one line would bounce between cores.
  template <class T>
  struct alignas(64) slot {
    T value;
  };
  template <class T>
  static T& per_thread(std::vector<slot<T>>& v, int t) {
    ENGRAM_ASSERT(std::size_t(t) < v.size());  // prepare_threads() ran before the region
    return v[std::size_t(t)].value;
  }
  template <class T>
  static std::vector<T>& grow(std::vector<T>& v, std::size_t n) {
    if (v.size() < n) v.resize(n);
    return v;
  }

 public:
  /// Gives every thread of the widest team its own buffers, each score block at least rows x
  /// cols, before a parallel region: which thread takes which task varies from run to run, so
  /// buffers are sized here rather than on a thread's first task.
  void prepare_threads(index rows, index cols) {
    prepare_threads();
    for (int t = 0; t < cpu_detail::max_threads(); ++t) score_block(t, rows, cols);
  }
  void prepare_threads() {
    const std::size_t n = std::size_t(cpu_detail::max_threads());
    grow(scores_, n);
    grow(columns_, n);
    grow(matches_, n);
    grow(boxes_, n);
    grow(features_, n);
    grow(packs_, n);
    grow(packed_tiles_, n);
  }

 private:
  std::vector<slot<matrix<Scalar>>> scores_;
  std::vector<slot<vector<Scalar>>> columns_;
  std::vector<slot<std::vector<std::pair<std::uint32_t, Scalar>>>> matches_;
  std::vector<slot<std::vector<Scalar>>> boxes_;
  std::vector<slot<feature_scratch<Scalar>>> features_;
  std::vector<feature_partial<Scalar>> feature_partials_;
  std::vector<slot<vector<Scalar>>> packs_;
  std::vector<slot<std::array<tile_operand<Scalar>, 2>>> packed_tiles_;
  std::vector<tile_operand<Scalar>> packed_queries_;
  row_vector<Scalar> row_;
  std::vector<exp_partial<Scalar>> exp_chunks_;
  std::vector<sum_partial<Scalar>> sum_chunks_;
  std::vector<slot<std::vector<std::pair<index, index>>>> candidates_;
};

template <>
struct backend_traits<cpu> {
  static constexpr const char* name = "cpu";
  /// States and memories are ordinary host Eigen matrices.
  template <class Scalar>
  using matrix_type = matrix<Scalar>;
  static constexpr bool host_accessible = true;
  using tile_policy = cpu_tiles;
  template <real_scalar Scalar>
  using workspace = cpu_workspace<Scalar>;
  static int max_threads() { return cpu_detail::max_threads(); }
};

}  // namespace engram
