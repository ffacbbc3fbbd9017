// The cpu backend's random-feature primitives: tiles of omega are independent terms of every
// sum over features (the memory tensor is additive). Sums over tiles give each slot a
// contiguous range of tiles, summed in order into the slot's own partial, and add the partials
// in slot order: the same inputs and thread count give bitwise the same result whichever
// thread runs which slot. Slots hold only partial sums, the tiles' buffers are the threads':
// one slot per tile where the partials fit a budget, scheduled dynamically (a thread that wakes
// late takes fewer tiles), fewer slots where they would not.
#pragma once

#include <algorithm>
#include <vector>

#include "engram/backend/cpu/gemm.hpp"
#include "engram/backend/cpu/parallel.hpp"
#include "engram/backend/cpu/workspace.hpp"
#include "engram/core/types.hpp"

namespace engram {

/// Runs tile(k, scratch) for k in [0, tiles), each call with the buffers of the thread that runs
/// it; tiles must write disjoint outputs.
template <real_scalar Scalar, class Tile>
void for_each_feature_tile(cpu, index tiles, cpu_workspace<Scalar>& ws, Tile&& tile) {
  ws.prepare_threads();
  cpu_detail::parallel_for(tiles, 1,
                           [&](index k) { tile(k, ws.features(cpu_detail::thread_id())); });
}

/// s = sum over tiles of each tile's share of <T, phi(x_b)>, and, when jt is not null, the same
/// for J_phi(x_b)^T T (D x B). tile(k, scratch, partial) adds tile k's share into partial.s and
/// partial.jt, on the buffers of the thread that runs it (scratch): its h and the first
/// `tile_buffers` of u, first and second are sized to tile_rows x batch, and its packing buffer
/// to the tile's two products, before the tiles run. The tiles are cut into P slots of
/// contiguous ranges [p n / P, (p + 1) n / P), each summed in order into its own partial, and
/// the partials are added in slot order: P = n where all partials fit in 16 MiB (one slot per
/// tile, scheduled dynamically: a thread slowed by its neighbours takes fewer tiles), fewer
/// otherwise but at least one per thread. The result depends on the inputs and P only.
template <real_scalar Scalar, class Tile>
void feature_project(cpu, index tiles, index tile_rows, index tile_buffers, index dim, index batch,
                     Eigen::Ref<vector<Scalar>> s, matrix<Scalar>* jt, cpu_workspace<Scalar>& ws,
                     Tile&& tile) {
  ws.prepare_threads();
  const int threads = cpu_detail::max_threads();
  // The tile's products h = omega z (tile_rows x batch, dim terms) and J^T += omega^T u
  // (dim x batch, tile_rows terms) share the thread's packing buffer.
  const index pack =
      std::max(tile_product_pack_size<Scalar>(cpu{}, tile_rows, batch, dim),
               jt ? tile_product_pack_size<Scalar>(cpu{}, dim, batch, tile_rows) : 0);
  const auto at_least = [](matrix<Scalar>& m, index rows, index cols) {
    if (m.rows() < rows || m.cols() < cols)
      m.resize(std::max(rows, m.rows()), std::max(cols, m.cols()));
  };
  for (int t = 0; t < threads; ++t) {
    feature_scratch<Scalar>& f = ws.features(t);
    at_least(f.h, tile_rows, batch);
    matrix<Scalar>* const more[] = {&f.u, &f.first, &f.second};
    for (index i = 0; i < std::min<index>(tile_buffers, 3); ++i)
      at_least(*more[i], tile_rows, batch);
    if (f.pack.size() < pack) f.pack.resize(pack);
  }
  const double partial_bytes = double(sizeof(Scalar)) * double(batch) * double((jt ? dim : 0) + 1);
  constexpr double budget = 16.0 * (1 << 20);
  const index slots = std::max<index>(
      1, std::min<index>(tiles, std::max<index>(threads, index(budget / partial_bytes))));
  std::vector<feature_partial<Scalar>>& partials = ws.feature_partials(std::size_t(slots));
  cpu_detail::parallel_for(slots, 1, [&](index p) {
    feature_partial<Scalar>& part = partials[std::size_t(p)];
    part.s.setZero(batch);
    if (jt) part.jt.setZero(dim, batch);
    feature_scratch<Scalar>& f = ws.features(cpu_detail::thread_id());
    for (index k = p * tiles / slots; k < (p + 1) * tiles / slots; ++k) tile(k, f, part);
  });
  s = partials[0].s;
  for (index p = 1; p < slots; ++p) s += partials[std::size_t(p)].s;
  if (!jt) return;
  jt->resize(dim, batch);
  // Blocks of columns in parallel, each the partials' sum in slot order.
  const index block = std::max<index>(1, (index(1) << 14) / dim);
  cpu_detail::parallel_for((batch + block - 1) / block, 1, [&](index c) {
    const index c0 = c * block, n = std::min(block, batch - c0);
    auto out = jt->middleCols(c0, n);
    out = partials[0].jt.middleCols(c0, n);
    for (index p = 1; p < slots; ++p) out += partials[std::size_t(p)].jt.middleCols(c0, n);
  });
}

}  // namespace engram
