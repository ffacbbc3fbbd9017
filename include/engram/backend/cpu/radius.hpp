// The cpu backend's radius candidates: for each query x_b, every memory mu that may lie within
// squared radius r^2 of it, visited as visit(b, mu, d2) with the exact difference
// d2 = ||x_b - xi_mu||^2, mu ascending within a column. Candidates come from a KD-tree
// (nanoflann) or a blocked GEMM of the expanded distance; both admit a margin over r^2 that
// bounds the rounding of the expansion, so every true member is visited and the caller decides
// membership from d2 alone: both methods give the same members in the same order.
#pragma once

#include <nanoflann.hpp>

#include <algorithm>
#include <cstdint>
#include <limits>
#include <memory>
#include <utility>
#include <vector>

#include "engram/backend/cpu/gemm.hpp"
#include "engram/backend/cpu/parallel.hpp"
#include "engram/backend/cpu/workspace.hpp"
#include "engram/core/types.hpp"

namespace engram {

namespace cpu_detail {

/// nanoflann's view of a column-major D x K pattern matrix.
template <class Scalar>
struct pattern_cloud {
  const matrix<Scalar>* patterns;
  std::size_t kdtree_get_point_count() const { return std::size_t(patterns->cols()); }
  Scalar kdtree_get_pt(std::uint32_t idx, std::size_t dim) const {
    return (*patterns)(index(dim), index(idx));
  }
  template <class Box>
  bool kdtree_get_bbox(Box&) const {
    return false;
  }
};

/// An upper bound on the rounding error of a squared distance, expanded (||x||^2 - 2<x, xi> +
/// ||xi||^2) or summed by a KD-tree, so that every true member is among the candidates.
template <class Scalar>
Scalar candidate_margin(index dim, Scalar x_sq, Scalar xi_sq, Scalar radius_sq) {
  const Scalar eps = std::numeric_limits<Scalar>::epsilon();
  return Scalar(4 * (dim + 2)) * eps * (x_sq + xi_sq + radius_sq);
}

}  // namespace cpu_detail

/// A KD-tree over the columns of a pattern matrix (which must outlive it and stay unchanged).
template <real_scalar Scalar>
struct cpu_kd_tree {
  using cloud = cpu_detail::pattern_cloud<Scalar>;
  using tree_type =
      nanoflann::KDTreeSingleIndexAdaptor<nanoflann::L2_Simple_Adaptor<Scalar, cloud, Scalar>,
                                          cloud, -1, std::uint32_t>;
  cloud points;
  std::unique_ptr<tree_type> tree;
  Scalar max_sq_norm;

  cpu_kd_tree(const matrix<Scalar>& patterns, Scalar max_squared_norm)
      : points{&patterns},
        tree(std::make_unique<tree_type>(std::size_t(patterns.rows()), points,
                                         nanoflann::KDTreeSingleIndexAdaptorParams(16))),
        max_sq_norm(max_squared_norm) {}

  /// nanoflann indexes points with 32-bit integers.
  static bool can_index(index count) { return count <= index(UINT32_MAX); }
};

/// Candidates by a blocked GEMM of all K memories against the queries.
template <real_scalar Scalar, class Visitor>
void radius_candidates(cpu, const matrix<Scalar>& patterns, const vector<Scalar>& half_sq_norms,
                       const Eigen::Ref<const matrix<Scalar>>& queries, Scalar radius_sq,
                       Visitor&& visit, cpu_workspace<Scalar>& ws) {
  const index dim = patterns.rows(), count = patterns.cols(), batch = queries.cols();
  if (count == 0 || batch == 0) return;
  const auto exact = [&](index b, index mu) {
    visit(b, mu, (queries.col(b) - patterns.col(mu)).squaredNorm());
  };
  const cpu_detail::split sp(batch, count, cpu_tiles{.memory_tile = 512, .query_tile = 64});
  const Scalar margin = Scalar(8 * (dim + 2)) * std::numeric_limits<Scalar>::epsilon();
  // Fewer query blocks than threads (a small batch): memory chunks collect their candidates
  // apart and are visited afterwards in chunk order, so each column still sees its members
  // ascending and only one thread touches a column at a time.
  // 64 candidates a column to start with: lists then grow only past the largest support seen.
  ws.candidates(std::size_t(sp.chunks > 1 ? sp.blocks * sp.chunks : 0), std::size_t(64 * sp.cols));
  ws.prepare_threads(sp.rows, sp.cols);
  for (int t = 0; t < cpu_detail::max_threads(); ++t) ws.column(t, sp.cols);
  cpu_detail::parallel_for(sp.blocks * sp.chunks, 1, [&](index task) {
    const index blk = task / sp.chunks, c = task % sp.chunks;
    const index b0 = blk * sp.qt, bc = std::min(sp.qt, batch - b0);
    const int t = cpu_detail::thread_id();
    auto scores = ws.score_block(t, sp.rows, sp.cols);
    auto x_sq = ws.column(t, bc);
    x_sq = queries.middleCols(b0, bc).colwise().squaredNorm().transpose();
    const index k_end = sp.k_end(c, count);
    for (index k0 = sp.k_begin(c, count); k0 < k_end; k0 += sp.mt) {
      const index kc = std::min(sp.mt, k_end - k0);
      auto s = scores.topLeftCorner(kc, bc);
      tile_product(cpu{}, true, Scalar(1), patterns.middleCols(k0, kc), queries.middleCols(b0, bc),
                   false, s, ws.packing(t));
      // The test d2 < r^2 + margin, with d2 = |x|^2 + |xi|^2 - 2 s and the margin
      // m (|x|^2 + |xi|^2 + r^2), rearranged so that its per-entry part is one vectorised
      // pass: (1 - m) |xi|^2 - 2 s < (1 + m) r^2 - (1 - m) |x|^2. m is twice
      // candidate_margin's bound, for the few roundings the rearranged sums add; a candidate
      // that is no member is dropped by the exact distance, so the supports are unchanged.
      // Column by column: a colwise() broadcast would evaluate the norms into a heap temporary.
      const Scalar keep = Scalar(2) * (Scalar(1) - margin);
      for (index j = 0; j < bc; ++j) {
        auto col = s.col(j);
        col.array() = keep * half_sq_norms.segment(k0, kc).array() - Scalar(2) * col.array();
        const Scalar bound = (Scalar(1) + margin) * radius_sq - (Scalar(1) - margin) * x_sq(j);
        const Scalar* v = col.data();
        // Blocks of 16 entries are tested by counting the entries below the bound over a
        // fixed trip count, which GCC vectorises at -O2 (a runtime count or an `any |=`
        // stays scalar there); only a block with a candidate is walked.
        for (index i0 = 0; i0 < kc; i0 += 16) {
          const index n = std::min<index>(16, kc - i0);
          int below = 0;
          if (n == 16)
            for (int i = 0; i < 16; ++i) below += v[i0 + i] < bound;
          else
            for (index i = i0; i < i0 + n; ++i) below += v[i] < bound;
          if (below == 0) continue;
          for (index i = i0; i < i0 + n; ++i) {
            if (!(v[i] < bound)) continue;
            if (sp.chunks == 1)
              exact(b0 + j, k0 + i);
            else
              ws.candidate_list(task).emplace_back(b0 + j, k0 + i);
          }
        }
      }
    }
  });
  if (sp.chunks == 1) return;
  // Chunk by chunk, in order: a chunk holds the memories below the next one's and lists each
  // column's candidates ascending, so every column sees its own ascending (columns interleave,
  // which the visitors allow), in one pass over the lists.
  for (index blk = 0; blk < sp.blocks; ++blk)
    for (index c = 0; c < sp.chunks; ++c)
      for (const auto& [b, mu] : ws.candidate_list(blk * sp.chunks + c)) exact(b, mu);
}

/// Candidates by a KD-tree radius search, one query per task.
template <real_scalar Scalar, class Visitor>
void radius_candidates(cpu, const cpu_kd_tree<Scalar>& tree,
                       const Eigen::Ref<const matrix<Scalar>>& queries, Scalar radius_sq,
                       Visitor&& visit, cpu_workspace<Scalar>& ws) {
  const matrix<Scalar>& patterns = *tree.points.patterns;
  const index dim = patterns.rows(), batch = queries.cols();
  ws.prepare_threads();
  for (int t = 0; t < cpu_detail::max_threads(); ++t) {
    ws.matches(t);
    ws.box_distances(t, dim);
  }
  cpu_detail::parallel_for(batch, 16, [&](index b) {
    auto& matches = ws.matches(cpu_detail::thread_id());
    const Scalar x_sq = queries.col(b).squaredNorm();
    // nanoflann also prunes with incrementally updated box distances, whose rounding grows
    // with the tree depth rather than with D; a margin 16 times the expanded-form bound
    // (and never below 64 ulps of the radius) covers both.
    const Scalar reach =
        radius_sq +
        std::max(Scalar(16) * cpu_detail::candidate_margin(dim, x_sq, tree.max_sq_norm, radius_sq),
                 Scalar(64) * std::numeric_limits<Scalar>::epsilon() * radius_sq);
    // nanoflann's findNeighbors() body with the per-query distance vector taken from the
    // workspace (radiusSearch() would allocate it on every call).
    nanoflann::RadiusResultSet<Scalar, std::uint32_t> found(reach, matches);
    auto& box = ws.box_distances(cpu_detail::thread_id(), dim);
    const Scalar start = tree.tree->computeInitialDistances(*tree.tree, queries.col(b).data(), box);
    tree.tree->searchLevel(found, queries.col(b).data(), tree.tree->root_node, start, box, 1.0f);
    std::sort(matches.begin(), matches.end(),
              [](const auto& a, const auto& c) { return a.first < c.first; });
    for (const auto& m : matches)
      visit(b, index(m.first), (queries.col(b) - patterns.col(index(m.first))).squaredNorm());
  });
}

/// Candidates from per-column lists of (memory, distance to the list's anchor), each ascending
/// in memory as the searches above visit them, one column per task: visit(b, mu, d2), with the
/// same exact difference, for each listed mu whose anchor distance is at most bounds(b); the
/// caller sets bounds from the triangle inequality so that only certain non-members are passed.
template <real_scalar Scalar, class Visitor>
void listed_candidates(cpu, const matrix<Scalar>& patterns,
                       const std::vector<std::vector<std::pair<index, Scalar>>>& lists,
                       const vector<Scalar>& bounds,
                       const Eigen::Ref<const matrix<Scalar>>& queries, Visitor&& visit) {
  ENGRAM_ASSERT(index(lists.size()) >= queries.cols() && bounds.size() >= queries.cols());
  cpu_detail::parallel_for(queries.cols(), 4, [&](index b) {
    const Scalar bound = bounds(b);
    for (const auto& [mu, distance] : lists[std::size_t(b)])
      if (distance <= bound) visit(b, mu, (queries.col(b) - patterns.col(mu)).squaredNorm());
  });
}

}  // namespace engram
