// The cpu backend's dense reductions over all K memories against queries X (D x B), tiled so
// that extra memory is O(tile) and a few partial states, never O(K x B). Work is split into (query
// block, memory chunk) tasks: query blocks alone when there are enough for every thread, otherwise
// the memories too, each chunk into its own partial state, combined at the end (exactly, for
// exp_partial).
//   exp_reduce: a_mu,b = beta (<xi_mu, x_b> + bias_scale c_mu), streamed through exp_partial;
//               two GEMMs per tile (scores, then weighted += Xi_tile exp(scores - max)).
//   sum_reduce: s_mu,b = <xi_mu, x_b> (dot) or -1/2 ||x_b - xi_mu||^2 (l2), then F(s), F'(s)
//               summed into sum_partial; two GEMMs per tile likewise.
//   With a few queries (the thin products), each tile's products prefetch the next tile.
//   Where the products are packed on BLIS's kernel and there are two or more query blocks,
//   exp_reduce takes memory chunks outermost instead (shared_chunks): each memory tile is
//   packed once (pack_tile_a) for the products of every query block, each block once a call
//   (pack_tile_b), and each chunk keeps a partial state over the whole batch (at most
//   shared_partials_bytes of them; beyond, the per-block path).
//   compact_tile: one tile of a support search's exact distances (radius_candidates) folded
//               into sum_partial for a kernel of uniform slope (Epanechnikov).
#pragma once

#include <algorithm>
#include <array>
#include <cmath>
#include <type_traits>
#include <utility>

#include "engram/backend/cpu/gemm.hpp"
#include "engram/backend/cpu/parallel.hpp"
#include "engram/backend/cpu/workspace.hpp"
#include "engram/backend/exp_partial.hpp"
#include "engram/backend/sum_partial.hpp"
#include "engram/core/types.hpp"

namespace engram {

namespace cpu_detail {

/// What every tile of one exp_reduce shares: the memory, the queries and the parameters.
template <real_scalar Scalar>
struct exp_fold {
  const matrix<Scalar>& patterns;
  const vector<Scalar>& half_sq_norms;
  Scalar bias_scale;
  const Eigen::Ref<const matrix<Scalar>>& queries;
  Scalar beta;
  bool with_weighted;

  /// Folds memories [k0, k0 + kc) into the columns [b0, b0 + bc) of `target`, with `scores` a
  /// kc x bc block of the thread's buffer; `next` prefetched by thin products. `tile` (the tile
  /// packed for the scores, then the read-out) and `block` (the queries packed), where given,
  /// are not packed again.
  template <class Scores>
  void operator()(index b0, index bc, index k0, index kc, Scores&& scores, vector<Scalar>& pack,
                  std::pair<prefetch_range, prefetch_range> next, exp_partial<Scalar>& target,
                  const std::array<tile_operand<Scalar>, 2>* tile = nullptr,
                  const tile_operand<Scalar>* block = nullptr) const {
    auto m = target.max.segment(b0, bc);
    auto s = target.sum.segment(b0, bc);
    const auto x = patterns.middleCols(k0, kc);
    tile_product(cpu{}, true, beta, x, queries.middleCols(b0, bc), false, scores, pack, next.first,
                 tile ? &(*tile)[0] : nullptr, block);
    const Scalar bias = beta * bias_scale;
    for (index j = 0; j < bc; ++j) {
      auto col = scores.col(j);
      // Column by column: a colwise() broadcast of the scaled norms would evaluate a temporary.
      if (bias != Scalar(0)) col.noalias() += bias * half_sq_norms.segment(k0, kc);
      const Scalar m_new = std::max(m(j), col.maxCoeff());
      const Scalar rescale = std::exp(m(j) - m_new);  // exp(-inf) = 0 on the first tile
      col.array() = (col.array() - m_new).exp();
      s(j) = rescale * s(j) + col.sum();
      if (with_weighted && rescale != Scalar(1)) target.weighted.col(b0 + j) *= rescale;
      m(j) = m_new;
    }
    if (with_weighted)
      tile_product(cpu{}, false, Scalar(1), x, scores, true, target.weighted.middleCols(b0, bc),
                   pack, next.second, tile ? &(*tile)[1] : nullptr);
  }
};

/// Folds memories [k_begin, k_end) into the columns [b0, b0 + bc) of `target`, tile by tile.
template <real_scalar Scalar, class Scores>
void exp_reduce_block(const exp_fold<Scalar>& fold, index b0, index bc, index k_begin, index k_end,
                      index mt, Scores&& buffer, vector<Scalar>& pack,
                      exp_partial<Scalar>& target) {
  for (index k0 = k_begin; k0 < k_end; k0 += mt) {
    const index kc = std::min(mt, k_end - k0);
    fold(b0, bc, k0, kc, buffer.topLeftCorner(kc, bc), pack,
         next_tile(fold.patterns, k0 + kc, std::min(mt, k_end - k0 - kc), fold.with_weighted),
         target);
  }
}

/// The memory chunks of exp_reduce's shared-tile path for a reduction split as `sp` over `count`
/// memories of dimension `dim`, or 0 where that path does not run. It runs where the query
/// blocks' products are packed on BLIS's kernel and there are at least two blocks to share each
/// memory tile; with shared_chunks_per_thread chunks a thread (one with one thread), at most
/// one a memory tile, and never fewer chunks than threads (too few tiles would leave threads
/// idle) nor partial states, one over the whole batch for every chunk but the first, beyond
/// shared_partials_bytes (large batches keep the per-block path, whose memory does not grow).
template <real_scalar Scalar>
index shared_chunks(const split& sp, index batch, index count, index dim, bool with_weighted) {
#if defined(ENGRAM_USE_BLIS)
  if constexpr (std::is_same_v<Scalar, float> || std::is_same_v<Scalar, double>) {
    if (sp.blocks < 2 || !packs_on_blis<Scalar>(sp.rows, sp.cols, dim) ||
        !packs_on_blis<Scalar>(dim, sp.cols, sp.rows))
      return 0;
    const index threads = max_threads(), memory_tiles = (count + sp.mt - 1) / sp.mt;
    const index chunks =
        std::min(memory_tiles, threads > 1 ? shared_chunks_per_thread * threads : index(1));
    const double partial = double(sizeof(Scalar)) * double(batch) *
                           double((with_weighted ? dim : 0) + 2);  // weighted, max and sum
    if (chunks < threads || double(chunks - 1) * partial > double(shared_partials_bytes)) return 0;
    return chunks;
  }
#endif
  (void)sp, (void)batch, (void)count, (void)dim, (void)with_weighted;
  return 0;
}

/// The tiles a reduction of `batch` queries of dimension `dim` runs with. A batch of at most
/// thin_columns queries runs on the thin kernels, which read each memory tile twice, once per
/// product, where it lies; its memory tiles are cut to tiles.thin_tile_bytes of patterns
/// (256 KiB: 83 patterns at D = 784 in float), so that the read-out finds the tile in the
/// core's L2 where the score product left it. image_completion's step (20 queries, D = 784)
/// took 8.4-10.4 ms with tiles of 512 patterns (1.6 MB) and 6.7-7.7 ms with 64-256
/// (benchmarks/RESULTS.md).
template <real_scalar Scalar>
cpu_tiles reduction_tiles(cpu_tiles tiles, index batch, index dim) {
  if (batch <= thin_columns && dim > 0 && tiles.thin_tile_bytes > 0)
    tiles.memory_tile = std::clamp<index>(tiles.thin_tile_bytes / (dim * index(sizeof(Scalar))), 1,
                                          std::max<index>(1, tiles.memory_tile));
  return tiles;
}

/// Columns a[q] (D numbers each, q < Q) += sum over i < kc, ascending, of m[q][i] xi_{k0 + i},
/// where m is 0 or 1: a 0 adds a signed zero, which leaves a sum that started at +0 unchanged, and
/// m xi is exact, so each sum is bitwise the one that adds the members' patterns one by one.
/// Runs of P vectors of each column stay in registers over all kc memories.
template <int Q, class Scalar>
void masked_pattern_sums(const matrix<Scalar>& patterns, index k0, index kc, const Scalar* const* m,
                         Scalar* const* a) {
  namespace ei = Eigen::internal;
  using Packet = typename ei::packet_traits<Scalar>::type;
  constexpr index W = ei::packet_traits<Scalar>::size;
  constexpr int P = vector_registers >= 32 ? 4 : 2;
  const index dim = patterns.rows();
  const Scalar* base = patterns.col(k0).data();
  index d0 = 0;
  const auto run = [&]<int R>(std::integral_constant<int, R>) {
    Packet acc[Q][R];
    for (int q = 0; q < Q; ++q)
      for (int r = 0; r < R; ++r) acc[q][r] = ei::ploadu<Packet>(a[q] + d0 + r * W);
    for (index i = 0; i < kc; ++i) {
      const Scalar* x = base + i * dim + d0;
      Packet v[R];
      for (int r = 0; r < R; ++r) v[r] = ei::ploadu<Packet>(x + r * W);
      for (int q = 0; q < Q; ++q) {
        const Packet mq = ei::pset1<Packet>(m[q][i]);
        for (int r = 0; r < R; ++r) acc[q][r] = ei::pmadd(v[r], mq, acc[q][r]);
      }
    }
    for (int q = 0; q < Q; ++q)
      for (int r = 0; r < R; ++r) ei::pstoreu(a[q] + d0 + r * W, acc[q][r]);
    d0 += R * W;
  };
  while (d0 + P * W <= dim) run(std::integral_constant<int, P>{});
  while (d0 + W <= dim) run(std::integral_constant<int, 1>{});
  for (; d0 < dim; ++d0)
    for (int q = 0; q < Q; ++q) {
      Scalar sum = a[q][d0];
      for (index i = 0; i < kc; ++i) sum += m[q][i] * base[i * dim + d0];
      a[q][d0] = sum;
    }
}

}  // namespace cpu_detail

/// One tile of a brute-force support search taken in whole (radius_candidates' tile visitor),
/// for a compact kernel of uniform slope: d2[i + j ld] holds the exact squared distance of memory
/// k0 + i to query column b0 + j, +inf where the pair is no candidate. For each column and each
/// memory ascending with w = weight(d2) > 0: value += w, slope += slope_of(d2), count += 1 and,
/// with `weighted`, weighted += xi. The same sums in the same order as visiting the members
/// one by one, so bitwise the same partial; d2 is overwritten with the members' 0/1 marks.
template <real_scalar Scalar, class Weight, class Slope>
void compact_tile(cpu, const matrix<Scalar>& patterns, index b0, index k0, index kc, index bc,
                  Scalar* d2, index ld, Weight&& weight, Slope&& slope_of, bool weighted,
                  sum_partial<Scalar>& p) {
  // Four columns at a time, so that their chains of additions overlap.
  for (index j0 = 0; j0 < bc; j0 += 4) {
    const index n = std::min<index>(4, bc - j0);
    Scalar value[4] = {}, slope[4] = {};
    index count[4] = {};
    for (index q = 0; q < n; ++q) {
      value[q] = p.value(b0 + j0 + q);
      slope[q] = p.slope(b0 + j0 + q);
      count[q] = p.count(b0 + j0 + q);
    }
    // Without branches: a non-member adds +0, which leaves every sum as it was (value starts
    // at +0 and only grows; slopes share one sign, so their sum is never -0).
    for (index i = 0; i < kc; ++i)
      for (index q = 0; q < n; ++q) {
        Scalar& e = d2[i + (j0 + q) * ld];
        const Scalar w = weight(e);
        const bool in = w > Scalar(0);
        value[q] += in ? w : Scalar(0);
        slope[q] += in ? slope_of(e) : Scalar(0);
        count[q] += in;
        e = in ? Scalar(1) : Scalar(0);
      }
    for (index q = 0; q < n; ++q) {
      p.value(b0 + j0 + q) = value[q];
      p.slope(b0 + j0 + q) = slope[q];
      p.count(b0 + j0 + q) = count[q];
    }
    if (!weighted) continue;
    const Scalar* m[4];
    Scalar* a[4];
    for (index q = 0; q < n; ++q) {
      m[q] = d2 + (j0 + q) * ld;
      a[q] = p.weighted.col(b0 + j0 + q).data();
    }
    if (n == 4)
      cpu_detail::masked_pattern_sums<4>(patterns, k0, kc, m, a);
    else
      for (index q = 0; q < n; ++q)
        cpu_detail::masked_pattern_sums<1>(patterns, k0, kc, m + q, a + q);
  }
}

/// Reduces all K memories against the queries X (D x B) into `out`:
/// a_mu,b = beta (<xi_mu, x_b> + bias_scale * half_sq_norms_mu).
/// With `with_weighted` false only max and sum are formed (one GEMM instead of two).
template <real_scalar Scalar>
void exp_reduce(cpu, const matrix<Scalar>& patterns, const vector<Scalar>& half_sq_norms,
                std::type_identity_t<Scalar> bias_scale,
                const std::type_identity_t<Eigen::Ref<const matrix<Scalar>>>& queries,
                std::type_identity_t<Scalar> beta, bool with_weighted, exp_partial<Scalar>& out,
                cpu_workspace<Scalar>& ws, const cpu_tiles& tiles = {}) {
  const index dim = patterns.rows(), count = patterns.cols(), batch = queries.cols();
  out.reset(dim, batch, with_weighted);
  if (count == 0 || batch == 0) return;  // nothing to fold: max -inf, sum 0
  const cpu_detail::split sp(batch, count, cpu_detail::reduction_tiles<Scalar>(tiles, batch, dim));
  const cpu_detail::exp_fold<Scalar> fold{patterns, half_sq_norms, Scalar(bias_scale),
                                          queries,  Scalar(beta),  with_weighted};
  if (const index chunks = cpu_detail::shared_chunks<Scalar>(sp, batch, count, dim, with_weighted);
      chunks > 0) {
    // Memory chunks outermost, every block of queries inside: each memory tile is packed once
    // for all blocks (instead of once a block and product), and each block of queries once a
    // call. A chunk's partial state spans the whole batch; chunk c holds the memory tiles
    // [c n / chunks, (c + 1) n / chunks) of n.
    const index memory_tiles = (count + sp.mt - 1) / sp.mt;
    auto& partials = ws.exp_chunks(std::size_t(chunks));
    for (index c = 1; c < chunks; ++c) partials[std::size_t(c)].reset(dim, batch, with_weighted);
    ws.prepare_threads(sp.rows, sp.cols);
    auto& blocks = ws.packed_queries(std::size_t(sp.blocks));
    cpu_detail::parallel_for(sp.blocks, 1, [&](index blk) {
      const index b0 = blk * sp.qt, bc = std::min(sp.qt, batch - b0);
      pack_tile_b(cpu{}, queries.middleCols(b0, bc), sp.rows, blocks[std::size_t(blk)]);
    });
    cpu_detail::parallel_for(chunks, 1, [&](index c) {
      const int t = cpu_detail::thread_id();
      const std::array<tile_operand<Scalar>, 2>* tile = &ws.packed_tiles(t);
      exp_partial<Scalar>& target = c == 0 ? out : partials[std::size_t(c)];
      const index k_end = std::min(count, (c + 1) * memory_tiles / chunks * sp.mt);
      for (index k0 = c * memory_tiles / chunks * sp.mt; k0 < k_end; k0 += sp.mt) {
        const index kc = std::min(sp.mt, k_end - k0);
        pack_tile_a(cpu{}, true, patterns.middleCols(k0, kc), sp.cols, ws.packed_tile(t, 0));
        if (with_weighted)
          pack_tile_a(cpu{}, false, patterns.middleCols(k0, kc), sp.cols, ws.packed_tile(t, 1));
        for (index blk = 0; blk < sp.blocks; ++blk) {
          const index b0 = blk * sp.qt, bc = std::min(sp.qt, batch - b0);
          fold(b0, bc, k0, kc, ws.score_block(t, kc, bc), ws.packing(t), {}, target, tile,
               &blocks[std::size_t(blk)]);
        }
      }
    });
    for (index c = 1; c < chunks; ++c) out.combine(partials[std::size_t(c)]);
    return;
  }
  auto& partials = ws.exp_chunks(std::size_t(sp.chunks));
  for (index c = 1; c < sp.chunks; ++c) partials[std::size_t(c)].reset(dim, batch, with_weighted);
  ws.prepare_threads(sp.rows, sp.cols);
  cpu_detail::parallel_for(sp.blocks * sp.chunks, 1, [&](index task) {
    const index blk = task / sp.chunks, c = task % sp.chunks;
    const index b0 = blk * sp.qt, bc = std::min(sp.qt, batch - b0);
    const int t = cpu_detail::thread_id();
    cpu_detail::exp_reduce_block(fold, b0, bc, sp.k_begin(c, count), sp.k_end(c, count), sp.mt,
                                 ws.score_block(t, sp.rows, sp.cols), ws.packing(t),
                                 c == 0 ? out : partials[std::size_t(c)]);
  });
  for (index c = 1; c < sp.chunks; ++c) out.combine(partials[std::size_t(c)]);
}

/// Reduces all K memories against the queries X into `out` as plain sums of F(s) and F'(s),
/// s the dot (l2 false) or the l2 similarity (l2 true): value_b = sum_mu F, slope_b = sum_mu F',
/// weighted_b = sum_mu F' xi_mu. `value(beta, s)` and `derivative(beta, s)` are the kernel's.
template <real_scalar Scalar, class Value, class Derivative>
void sum_reduce(cpu, const matrix<Scalar>& patterns, const vector<Scalar>& half_sq_norms, bool l2,
                const std::type_identity_t<Eigen::Ref<const matrix<Scalar>>>& queries,
                std::type_identity_t<Scalar> beta, Value&& value, Derivative&& derivative,
                bool with_weighted, sum_partial<Scalar>& out, cpu_workspace<Scalar>& ws,
                const cpu_tiles& tiles = {}) {
  const index dim = patterns.rows(), count = patterns.cols(), batch = queries.cols();
  out.reset(dim, batch, with_weighted);
  if (count == 0 || batch == 0) return;
  const cpu_detail::split sp(batch, count, cpu_detail::reduction_tiles<Scalar>(tiles, batch, dim));
  auto& partials = ws.sum_chunks(std::size_t(sp.chunks));
  for (index c = 1; c < sp.chunks; ++c) partials[std::size_t(c)].reset(dim, batch, with_weighted);
  ws.prepare_threads(sp.rows, 2 * sp.cols);
  cpu_detail::parallel_for(sp.blocks * sp.chunks, 1, [&](index task) {
    const index blk = task / sp.chunks, c = task % sp.chunks;
    const index b0 = blk * sp.qt, bc = std::min(sp.qt, batch - b0);
    const int t = cpu_detail::thread_id();
    auto buffer = ws.score_block(t, sp.rows, 2 * sp.cols);
    sum_partial<Scalar>& target = c == 0 ? out : partials[std::size_t(c)];
    const index k_begin = sp.k_begin(c, count), k_end = sp.k_end(c, count);
    const auto x = queries.middleCols(b0, bc);
    for (index k0 = k_begin; k0 < k_end; k0 += sp.mt) {
      const index kc = std::min(sp.mt, k_end - k0);
      auto s = buffer.topLeftCorner(kc, bc);
      auto d = buffer.block(0, sp.cols, kc, bc);
      const auto tile = patterns.middleCols(k0, kc);
      const auto [first, second] =
          cpu_detail::next_tile(patterns, k0 + kc, std::min(sp.mt, k_end - k0 - kc), with_weighted);
      tile_product(cpu{}, true, Scalar(1), tile, x, false, s, ws.packing(t), first);
      for (index j = 0; j < bc; ++j) {
        const Scalar half_x = l2 ? Scalar(0.5) * x.col(j).squaredNorm() : Scalar(0);
        Scalar v = 0, sl = 0;
        for (index i = 0; i < kc; ++i) {
          const Scalar sim = l2 ? s(i, j) - half_sq_norms(k0 + i) - half_x : s(i, j);
          v += value(Scalar(beta), sim);
          const Scalar f = derivative(Scalar(beta), sim);
          sl += f;
          d(i, j) = f;
        }
        target.value(b0 + j) += v;
        target.slope(b0 + j) += sl;
        target.count(b0 + j) += kc;
      }
      if (with_weighted)
        tile_product(cpu{}, false, Scalar(1), tile, d, true, target.weighted.middleCols(b0, bc),
                     ws.packing(t), second);
    }
  });
  for (index c = 1; c < sp.chunks; ++c) out.combine(partials[std::size_t(c)]);
}

}  // namespace engram
