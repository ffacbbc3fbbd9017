// The cpu backend's heavy primitive: the exponential-kernel reduction of exp_partial over all
// memories, tiled so that extra memory is O(tile), not O(K x B). Queries are split into column
// blocks run in parallel by OpenMP; each block streams memory tiles through two GEMMs
// (scores = Xi_tile^T X, weighted += Xi_tile exp(scores - max)), i.e. 4 B K D flops.
#pragma once

#include <algorithm>
#include <cmath>
#include <type_traits>
#include <vector>

#include "engram/backend/exp_partial.hpp"
#include "engram/core/backend.hpp"
#include "engram/core/types.hpp"

namespace engram {

/// Tile sizes of the cpu reduction: a policy, not magic numbers in the loop.
struct cpu_tiles {
  index memory_tile = 512;  // memories per streamed tile (rows of the score block)
  index query_tile = 128;   // queries per parallel task (columns of the score block)
};

namespace detail {

template <class Scalar>
matrix<Scalar>& score_buffer(index rows, index cols) {
  // One buffer per thread, grown only when a larger tile is needed: no allocation in steady state.
  thread_local matrix<Scalar> buffer;
  if (buffer.rows() < rows || buffer.cols() < cols)
    buffer.resize(std::max(rows, buffer.rows()), std::max(cols, buffer.cols()));
  return buffer;
}

}  // namespace detail

namespace detail {

/// Folds memories [k_begin, k_end) into the columns [b0, b0 + bc) of `target`.
template <real_scalar Scalar>
void exp_reduce_block(const matrix<Scalar>& patterns, const vector<Scalar>& half_sq_norms,
                      Scalar bias_scale, const Eigen::Ref<const matrix<Scalar>>& queries,
                      Scalar beta, bool with_weighted, index b0, index bc, index k_begin,
                      index k_end, index mt, index qt, exp_partial<Scalar>& target) {
  matrix<Scalar>& buffer = score_buffer<Scalar>(mt, qt);
  auto m = target.max.segment(b0, bc);
  auto s = target.sum.segment(b0, bc);
  for (index k0 = k_begin; k0 < k_end; k0 += mt) {
    const index kc = std::min(mt, k_end - k0);
    auto scores = buffer.topLeftCorner(kc, bc);
    const auto tile = patterns.middleCols(k0, kc);
    scores.noalias() = beta * (tile.transpose() * queries.middleCols(b0, bc));
    if (bias_scale != Scalar(0))
      scores.colwise() += (beta * bias_scale) * half_sq_norms.segment(k0, kc);
    for (index j = 0; j < bc; ++j) {
      auto col = scores.col(j);
      const Scalar m_new = std::max(m(j), col.maxCoeff());
      const Scalar rescale = std::exp(m(j) - m_new);  // exp(-inf) = 0 on the first tile
      col.array() = (col.array() - m_new).exp();
      s(j) = rescale * s(j) + col.sum();
      if (with_weighted && rescale != Scalar(1)) target.weighted.col(b0 + j) *= rescale;
      m(j) = m_new;
    }
    if (with_weighted) target.weighted.middleCols(b0, bc).noalias() += tile * scores;
  }
}

template <class Scalar>
std::vector<exp_partial<Scalar>>& chunk_partials(std::size_t n) {
  thread_local std::vector<exp_partial<Scalar>> partials;
  if (partials.size() < n) partials.resize(n);
  return partials;
}

}  // namespace detail

/// Reduces all K memories against the queries X (D x B) into `out`:
/// a_mu,b = beta (<xi_mu, x_b> + bias_scale * half_sq_norms_mu).
/// With `with_weighted` false only max and sum are formed (one GEMM instead of two).
/// Work is split into (query block, memory chunk) tasks: query blocks alone when there are
/// enough for every thread, otherwise the memories too, each chunk into its own partial state,
/// combined at the end. Eigen's GEMMs run inside our parallel region, so they never nest.
template <real_scalar Scalar>
void exp_reduce(cpu, const matrix<Scalar>& patterns, const vector<Scalar>& half_sq_norms,
                std::type_identity_t<Scalar> bias_scale,
                const std::type_identity_t<Eigen::Ref<const matrix<Scalar>>>& queries,
                std::type_identity_t<Scalar> beta, bool with_weighted, exp_partial<Scalar>& out,
                const cpu_tiles& tiles = {}) {
  const index dim = patterns.rows(), count = patterns.cols(), batch = queries.cols();
  out.reset(dim, batch, with_weighted);
  if (count == 0 || batch == 0) return;  // nothing to fold: max -inf, sum 0
  const index qt = std::max<index>(1, tiles.query_tile), mt = std::max<index>(1, tiles.memory_tile);
  const index blocks = (batch + qt - 1) / qt;
  const index threads = backend_traits<cpu>::max_threads();
  const index memory_tiles = (count + mt - 1) / mt;
  const index chunks =
      blocks >= threads ? 1 : std::min(memory_tiles, (threads + blocks - 1) / blocks);
  const index tiles_per_chunk = (memory_tiles + chunks - 1) / chunks;
  auto& partials = detail::chunk_partials<Scalar>(std::size_t(chunks));
  for (index c = 1; c < chunks; ++c) partials[std::size_t(c)].reset(dim, batch, with_weighted);

#if defined(_OPENMP)
#pragma omp parallel for schedule(dynamic, 1)
#endif
  for (index task = 0; task < blocks * chunks; ++task) {
    const index blk = task / chunks, c = task % chunks;
    const index b0 = blk * qt, bc = std::min(qt, batch - b0);
    const index k_begin = std::min(count, c * tiles_per_chunk * mt);
    const index k_end = std::min(count, (c + 1) * tiles_per_chunk * mt);
    detail::exp_reduce_block(patterns, half_sq_norms, Scalar(bias_scale), queries, Scalar(beta),
                             with_weighted, b0, bc, k_begin, k_end, mt, qt,
                             c == 0 ? out : partials[std::size_t(c)]);
  }
  for (index c = 1; c < chunks; ++c) out.combine(partials[std::size_t(c)]);
}

}  // namespace engram
