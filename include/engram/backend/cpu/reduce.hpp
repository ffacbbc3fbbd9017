// The cpu backend's dense reductions over all K memories against queries X (D x B), tiled so
// that extra memory is O(tile), not O(K x B). Work is split into (query block, memory chunk)
// tasks: query blocks alone when there are enough for every thread, otherwise the memories
// too, each chunk into its own partial state, combined at the end (exactly, for exp_partial).
//   exp_reduce: a_mu,b = beta (<xi_mu, x_b> + bias_scale c_mu), streamed through exp_partial;
//               two GEMMs per tile (scores, then weighted += Xi_tile exp(scores - max)).
//   sum_reduce: s_mu,b = <xi_mu, x_b> (dot) or -1/2 ||x_b - xi_mu||^2 (l2), then F(s), F'(s)
//               summed into sum_partial; two GEMMs per tile likewise.
#pragma once

#include <algorithm>
#include <cmath>
#include <type_traits>

#include "engram/backend/cpu/gemm.hpp"
#include "engram/backend/cpu/parallel.hpp"
#include "engram/backend/cpu/workspace.hpp"
#include "engram/backend/exp_partial.hpp"
#include "engram/backend/sum_partial.hpp"
#include "engram/core/types.hpp"

namespace engram {

namespace cpu_detail {

/// Folds memories [k_begin, k_end) into the columns [b0, b0 + bc) of `target`.
template <real_scalar Scalar, class Scores>
void exp_reduce_block(const matrix<Scalar>& patterns, const vector<Scalar>& half_sq_norms,
                      Scalar bias_scale, const Eigen::Ref<const matrix<Scalar>>& queries,
                      Scalar beta, bool with_weighted, index b0, index bc, index k_begin,
                      index k_end, index mt, Scores&& buffer, vector<Scalar>& pack,
                      exp_partial<Scalar>& target) {
  auto m = target.max.segment(b0, bc);
  auto s = target.sum.segment(b0, bc);
  for (index k0 = k_begin; k0 < k_end; k0 += mt) {
    const index kc = std::min(mt, k_end - k0);
    auto scores = buffer.topLeftCorner(kc, bc);
    const auto tile = patterns.middleCols(k0, kc);
    tile_product(cpu{}, true, beta, tile, queries.middleCols(b0, bc), false, scores, pack);
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
      tile_product(cpu{}, false, Scalar(1), tile, scores, true, target.weighted.middleCols(b0, bc),
                   pack);
  }
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

}  // namespace cpu_detail

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
  auto& partials = ws.exp_chunks(std::size_t(sp.chunks));
  for (index c = 1; c < sp.chunks; ++c) partials[std::size_t(c)].reset(dim, batch, with_weighted);
  ws.prepare_threads(sp.rows, sp.cols);
  cpu_detail::parallel_for(sp.blocks * sp.chunks, 1, [&](index task) {
    const index blk = task / sp.chunks, c = task % sp.chunks;
    const index b0 = blk * sp.qt, bc = std::min(sp.qt, batch - b0);
    const int t = cpu_detail::thread_id();
    cpu_detail::exp_reduce_block(patterns, half_sq_norms, Scalar(bias_scale), queries, Scalar(beta),
                                 with_weighted, b0, bc, sp.k_begin(c, count), sp.k_end(c, count),
                                 sp.mt, ws.score_block(t, sp.rows, sp.cols), ws.packing(t),
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
      tile_product(cpu{}, true, Scalar(1), tile, x, false, s, ws.packing(t));
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
                     ws.packing(t));
    }
  });
  for (index c = 1; c < sp.chunks; ++c) out.combine(partials[std::size_t(c)]);
}

}  // namespace engram
