// The cpu backend's heavy primitive: the exponential-kernel reduction of exp_partial over all
// memories, tiled so that extra memory is O(tile), not O(K x B). Queries are split into column
// blocks run in parallel by OpenMP; each block streams memory tiles through two GEMMs
// (scores = Xi_tile^T X, weighted += Xi_tile exp(scores - max)), i.e. 4 B K D flops.
#pragma once

#include <algorithm>
#include <cmath>
#include <type_traits>

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

/// Reduces all K memories against the queries X (D x B) into `out`:
/// a_mu,b = beta (<xi_mu, x_b> + bias_scale * half_sq_norms_mu).
/// With `with_weighted` false only max and sum are formed (one GEMM instead of two).
template <real_scalar Scalar>
void exp_reduce(cpu, const matrix<Scalar>& patterns, const vector<Scalar>& half_sq_norms,
                std::type_identity_t<Scalar> bias_scale,
                const std::type_identity_t<Eigen::Ref<const matrix<Scalar>>>& queries,
                std::type_identity_t<Scalar> beta, bool with_weighted, exp_partial<Scalar>& out,
                const cpu_tiles& tiles = {}) {
  const index dim = patterns.rows(), count = patterns.cols(), batch = queries.cols();
  out.reset(dim, batch, with_weighted);
  const index qt = std::max<index>(1, tiles.query_tile), mt = std::max<index>(1, tiles.memory_tile);
  const index blocks = (batch + qt - 1) / qt;

#if defined(_OPENMP)
#pragma omp parallel for schedule(dynamic, 1) if (blocks > 1)
#endif
  for (index blk = 0; blk < blocks; ++blk) {
    const index b0 = blk * qt, bc = std::min(qt, batch - b0);
    matrix<Scalar>& buffer = detail::score_buffer<Scalar>(mt, qt);
    auto m = out.max.segment(b0, bc);
    auto s = out.sum.segment(b0, bc);
    for (index k0 = 0; k0 < count; k0 += mt) {
      const index kc = std::min(mt, count - k0);
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
        if (with_weighted && rescale != Scalar(1)) out.weighted.col(b0 + j) *= rescale;
        m(j) = m_new;
      }
      if (with_weighted) out.weighted.middleCols(b0, bc).noalias() += tile * scores;
    }
  }
}

}  // namespace engram
