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

// Eigen's packet types carry vector attributes, which GCC warns it drops when they are template
// arguments of unpacket_traits (Eigen's own headers are system headers, so it says nothing there).
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wignored-attributes"
/// The squared differences of entries [i, i + size of Packet) of x_q and xi, summed across the
/// packet's lanes and added to sum[q], for packets narrower than the full width (the tail of
/// squared_distances), then the same for the next narrower packet.
template <class Packet, int Q, class Scalar>
inline void squared_distance_tail(const Scalar* const* x, const Scalar* xi, index n, index& i,
                                  Scalar* sum) {
  namespace ei = Eigen::internal;
  constexpr index w = ei::unpacket_traits<Packet>::size;
  using Half = typename ei::unpacket_traits<Packet>::half;
  if (i + w <= n) {
    const Packet m = ei::ploadu<Packet>(xi + i);
    for (int q = 0; q < Q; ++q) {
      const Packet d = ei::psub(ei::ploadu<Packet>(x[q] + i), m);
      sum[q] += ei::predux(ei::pmul(d, d));
    }
    i += w;
  }
  if constexpr (ei::unpacket_traits<Half>::size < w)
    squared_distance_tail<Half, Q>(x, xi, n, i, sum);
}

/// ||x_q - xi||^2 over n entries for Q queries x_q and one memory xi, each summed in one fixed
/// order: pairs of full packets into two accumulators, one last full packet into the first,
/// their sum reduced across lanes; then at most one packet of each narrower width (half,
/// quarter), each reduced and added; then the entries left one by one. Every search method
/// hands its visitor distances summed this way (Q = 1 where candidates come one at a time), so
/// the methods agree bitwise. Several queries at once share each load of the memory.
template <int Q, class Scalar>
inline void squared_distances(const Scalar* const* x, const Scalar* xi, index n, Scalar* out) {
  namespace ei = Eigen::internal;
  using Packet = typename ei::packet_traits<Scalar>::type;
  constexpr index W = ei::packet_traits<Scalar>::size;
  index i = 0;
  Scalar sum[Q] = {};
  if constexpr (W > 1) {
    if (n >= W) {
      Packet s0[Q], s1[Q];
      for (int q = 0; q < Q; ++q) s0[q] = s1[q] = ei::pset1<Packet>(Scalar(0));
      for (; i + 2 * W <= n; i += 2 * W) {
        const Packet m0 = ei::ploadu<Packet>(xi + i), m1 = ei::ploadu<Packet>(xi + i + W);
        for (int q = 0; q < Q; ++q) {
          const Packet d0 = ei::psub(ei::ploadu<Packet>(x[q] + i), m0);
          const Packet d1 = ei::psub(ei::ploadu<Packet>(x[q] + i + W), m1);
          s0[q] = ei::pmadd(d0, d0, s0[q]);
          s1[q] = ei::pmadd(d1, d1, s1[q]);
        }
      }
      if (i + W <= n) {
        const Packet m0 = ei::ploadu<Packet>(xi + i);
        for (int q = 0; q < Q; ++q) {
          const Packet d0 = ei::psub(ei::ploadu<Packet>(x[q] + i), m0);
          s0[q] = ei::pmadd(d0, d0, s0[q]);
        }
        i += W;
      }
      for (int q = 0; q < Q; ++q) sum[q] = ei::predux(ei::padd(s0[q], s1[q]));
    }
    using Half = typename ei::unpacket_traits<Packet>::half;
    if constexpr (ei::unpacket_traits<Half>::size < W)
      squared_distance_tail<Half, Q>(x, xi, n, i, sum);
  }
  for (int q = 0; q < Q; ++q) {
    for (index t = i; t < n; ++t) {
      const Scalar d = x[q][t] - xi[t];
#ifdef EIGEN_VECTORIZE_FMA
      sum[q] = std::fma(d, d, sum[q]);  // fused as the packets' pmadd is, whatever GCC contracts
#else
      sum[q] = sum[q] + d * d;  // no FMA instruction: nothing to contract
#endif
    }
    out[q] = sum[q];
  }
}

#pragma GCC diagnostic pop

/// ||a - b||^2 over n entries, in squared_distances' order.
template <class Scalar>
inline Scalar squared_distance(const Scalar* a, const Scalar* b, index n) {
  Scalar out;
  squared_distances<1>(&a, b, n, &out);
  return out;
}

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
    visit(b, mu, cpu_detail::squared_distance(queries.col(b).data(), patterns.col(mu).data(), dim));
  };
  const cpu_detail::split sp(batch, count, cpu_tiles{.memory_tile = 512, .query_tile = 64});
  const Scalar margin = Scalar(8 * (dim + 2)) * std::numeric_limits<Scalar>::epsilon();
  constexpr bool takes_tiles = requires(Scalar * d2) {
    visit.tile(index{}, index{}, index{}, index{}, d2, index{});
  };
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
      // The next tile is prefetched meanwhile (by the thin products, with a few queries).
      const prefetch_range next =
          cpu_detail::next_tile(patterns, k0 + kc, std::min(sp.mt, k_end - k0 - kc), false).first;
      tile_product(cpu{}, true, Scalar(1), patterns.middleCols(k0, kc), queries.middleCols(b0, bc),
                   false, s, ws.packing(t), next);
      // The test d2 < r^2 + margin, with d2 = |x|^2 + |xi|^2 - 2 s and the margin
      // m (|x|^2 + |xi|^2 + r^2), rearranged so that its per-entry part is one vectorised
      // pass: (1 - m) |xi|^2 - 2 s < (1 + m) r^2 - (1 - m) |x|^2. m is twice
      // candidate_margin's bound, for the few roundings the rearranged sums add; a candidate
      // that is no member is dropped by the exact distance, so the supports are unchanged.
      // Column by column: a colwise() broadcast would evaluate the norms into a heap temporary.
      const Scalar keep = Scalar(2) * (Scalar(1) - margin);
      const auto bound = [&](index j) {
        return (Scalar(1) + margin) * radius_sq - (Scalar(1) - margin) * x_sq(j);
      };
      const auto transform = [&](index j) {
        auto col = s.col(j);
        col.array() = keep * half_sq_norms.segment(k0, kc).array() - Scalar(2) * col.array();
      };
      // Blocks of 16 entries are tested by counting the entries below the bound over a fixed
      // trip count, which GCC vectorises at -O2 (a runtime count or an `any |=` stays scalar
      // there).
      const auto below = [&](index j, index i0) {
        const Scalar bj = bound(j);
        const Scalar* v = s.col(j).data();
        int n = 0;
        for (int i = 0; i < 16; ++i) n += v[i0 + i] < bj;
        return n;
      };
      const auto candidates = [&](index j) {
        index n = 0, i0 = 0;
        for (; i0 + 16 <= kc; i0 += 16) n += below(j, i0);
        for (; i0 < kc; ++i0) n += s(i0, j) < bound(j);
        return n;
      };
      index transformed = 0;
      if constexpr (takes_tiles) {
        // A visitor that takes whole tiles gets one where most pairs are candidates (supports
        // of a large part of K, as at D = 64 once the centroid iteration nears the middle of
        // the data). The first column is the sample that decides whether to count them all.
        if (sp.chunks == 1) {
          transform(0);
          transformed = 1;
          index found = candidates(0);
          if (4 * found >= kc) {
            for (; transformed < bc; ++transformed) {
              transform(transformed);
              found += candidates(transformed);
            }
          }
          if (transformed == bc && 4 * found >= kc * bc) {
            // The tile's exact distances, memory by memory, four queries at a time sharing
            // the memory's loads, written over the scores (+inf where no candidate).
            for (index i = 0; i < kc; ++i) {
              const Scalar* xi = patterns.col(k0 + i).data();
              for (index j0 = 0; j0 < bc; j0 += 4) {
                const index n = std::min<index>(4, bc - j0);
                bool any = false;
                for (index q = 0; q < n; ++q) any |= s(i, j0 + q) < bound(j0 + q);
                if (!any) {
                  for (index q = 0; q < n; ++q)
                    s(i, j0 + q) = std::numeric_limits<Scalar>::infinity();
                  continue;
                }
                const Scalar* x[4];
                Scalar d2[4];
                for (index q = 0; q < n; ++q) x[q] = queries.col(b0 + j0 + q).data();
                if (n == 4)
                  cpu_detail::squared_distances<4>(x, xi, dim, d2);
                else
                  for (index q = 0; q < n; ++q)
                    cpu_detail::squared_distances<1>(x + q, xi, dim, d2 + q);
                for (index q = 0; q < n; ++q)
                  s(i, j0 + q) = s(i, j0 + q) < bound(j0 + q)
                                     ? d2[q]
                                     : std::numeric_limits<Scalar>::infinity();
              }
            }
            visit.tile(b0, k0, kc, bc, s.data(), s.outerStride());
            continue;
          }
        }
      }
      // Column by column, only the blocks of 16 that hold a candidate walked.
      for (index j = 0; j < bc; ++j) {
        if (j >= transformed) transform(j);
        const Scalar bj = bound(j);
        const Scalar* v = s.col(j).data();
        for (index i0 = 0; i0 < kc; i0 += 16) {
          const index n = std::min<index>(16, kc - i0);
          if (n == 16 && below(j, i0) == 0) continue;
          for (index i = i0; i < i0 + n; ++i) {
            if (!(v[i] < bj)) continue;
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
      visit(b, index(m.first),
            cpu_detail::squared_distance(queries.col(b).data(), patterns.col(index(m.first)).data(),
                                         dim));
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
  const index dim = patterns.rows();
  cpu_detail::parallel_for(queries.cols(), 4, [&](index b) {
    const Scalar bound = bounds(b);
    const Scalar* x = queries.col(b).data();
    for (const auto& [mu, distance] : lists[std::size_t(b)])
      if (distance <= bound)
        visit(b, mu, cpu_detail::squared_distance(x, patterns.col(mu).data(), dim));
  });
}

}  // namespace engram
