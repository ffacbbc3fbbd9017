// The cpu backend's random-feature primitives: tiles of omega are independent terms of every
// sum over features (the memory tensor is additive). Sums over tiles give each slot a
// contiguous range of tiles, summed in order into the slot's own partial, and add the partials
// in slot order: the same inputs and thread count give bitwise the same result whichever
// thread runs which slot. Small problems keep one slot per tile, scheduled dynamically (a
// thread that wakes late takes fewer tiles); large ones one slot per thread, whose buffers
// would otherwise multiply.
#pragma once

#include <algorithm>

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
/// for J_phi(x_b)^T T (D x B). tile(k, scratch) adds its share into scratch.s and scratch.jt.
/// Slot p's buffers (h, u, first and, for two-part maps, second) are sized to tile_rows x batch
/// first (its packing buffer grows on its first tile); slot p runs tiles
/// [p n / P, (p + 1) n / P) in order, P = n slots when all their buffers fit in 16 MiB, else one
/// per thread.
template <real_scalar Scalar, class Tile>
void feature_project(cpu, index tiles, index tile_rows, bool two_parts, index dim, index batch,
                     Eigen::Ref<vector<Scalar>> s, matrix<Scalar>* jt, cpu_workspace<Scalar>& ws,
                     Tile&& tile) {
  ws.prepare_threads();
  const index threads = cpu_detail::max_threads();
  // The tile's products h = omega z (tile_rows x batch, dim terms) and J^T += omega^T u
  // (dim x batch, tile_rows terms) share the slot's packing buffer.
  const index pack =
      std::max(tile_product_pack_size<Scalar>(cpu{}, tile_rows, batch, dim),
               jt ? tile_product_pack_size<Scalar>(cpu{}, dim, batch, tile_rows) : 0);
  const double slot_bytes =
      double(sizeof(Scalar)) *
      (double(batch) * double((two_parts ? 4 : 3) * tile_rows + (jt ? dim : 0) + 1) + double(pack));
  constexpr double slot_budget = 16.0 * (1 << 20);
  const index slots = threads > 1 && double(tiles) * slot_bytes <= slot_budget
                          ? std::max<index>(tiles, 1)
                          : threads;
  ws.feature_slots(std::size_t(slots));
  const auto at_least = [](matrix<Scalar>& m, index rows, index cols) {
    if (m.rows() < rows || m.cols() < cols)
      m.resize(std::max(rows, m.rows()), std::max(cols, m.cols()));
  };
  for (int p = 0; p < slots; ++p) {
    feature_scratch<Scalar>& f = ws.features(p);
    f.s.setZero(batch);
    if (jt) f.jt.setZero(dim, batch);
    for (matrix<Scalar>* m : {&f.h, &f.u, &f.first}) at_least(*m, tile_rows, batch);
    if (two_parts) at_least(f.second, tile_rows, batch);
  }
  cpu_detail::parallel_for(slots, 1, [&](index p) {
    feature_scratch<Scalar>& f = ws.features(int(p));
    for (index k = p * tiles / slots; k < (p + 1) * tiles / slots; ++k) tile(k, f);
  });
  s = ws.features(0).s;
  for (int p = 1; p < slots; ++p) s += ws.features(p).s;
  if (!jt) return;
  jt->resize(dim, batch);
  *jt = ws.features(0).jt;
  for (int p = 1; p < slots; ++p) *jt += ws.features(p).jt;
}

}  // namespace engram
