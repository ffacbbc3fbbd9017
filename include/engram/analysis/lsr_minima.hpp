// Every local minimum of an LSR energy (seed 002 Algorithm 3, App. C.2). A minimum of LSR is
// the centroid of its own support (Prop. 2), so it is found by taking each set S of memories
// whose support balls can share a point (pairwise distances < 2r, r = sqrt(2/beta)), forming
// c = mean(S), and keeping c when B(c) = S exactly. That test is exact: it needs no gradient
// threshold, and a centroid is tested where it is computed, never at a rounded copy (SCIENCE.md,
// LSR numerics). Each set is visited once, from its smallest member, as a clique of the
// interaction graph; the count of candidate sets is bounded before any work is done.
// One degenerate case passes the test without being a strict minimum: a memory at exactly
// distance r from c (a tie with the support's edge), toward which the energy falls at first
// order; it has measure zero for data in general position.
#pragma once

#include <cmath>
#include <limits>
#include <vector>

#include "engram/analysis/minima.hpp"
#include "engram/core/error.hpp"
#include "engram/core/progress.hpp"
#include "engram/energy/lsr.hpp"

namespace engram {

struct enumeration_options {
  /// Refuse when the candidate sets could number more than this (2^n per pattern with n
  /// interacting neighbours).
  double max_subsets = 1e7;
  /// Centroids tested per batched support search.
  index batch = 4096;
  /// Hears, after the cliques rooted at each stored pattern are visited, how many of the K
  /// roots are done (the work per root varies: early roots have more later neighbours).
  progress_callback progress{};

  void validate() const {
    if (!(max_subsets >= 1))
      throw invalid_argument(
          detail::message("enumeration_options.max_subsets is ", max_subsets, "; it must be >= 1"));
    if (batch < 1)
      throw invalid_argument(
          detail::message("enumeration_options.batch is ", batch, "; it must be >= 1"));
  }
};

/// All local minima of `energy` (the minima of eps = 0; eps > 0 leaves them unchanged inside
/// the support), classified against its stored patterns.
template <real_scalar Scalar, backend Backend>
minima_census<Scalar> enumerate_lsr_minima(const lsr_energy<Scalar, Backend>& energy,
                                           const enumeration_options& options = {}) {
  options.validate();
  const auto& memory = energy.memory();
  if (memory.empty())
    throw empty_memory("the memory holds no patterns; there are no minima to enumerate");
  const matrix<Scalar>& xi = memory.patterns();
  const index k = xi.cols(), dim = xi.rows();
  const Scalar reach = 2 * energy.support_radius();  // two balls of radius r overlap
  // Distances below this are the same point: the rounding of a mean, far below the radius.
  const Scalar same_point =
      std::sqrt(std::numeric_limits<Scalar>::epsilon()) * energy.support_radius();

  auto workspace = energy.make_workspace();
  // Interaction graph, each pattern linked to the later patterns it interacts with, found by
  // the energy's radius index (a KD-tree in low dimension) rather than all M^2 pairs.
  std::vector<std::vector<index>> later(static_cast<std::size_t>(k));
  energy.search().for_each_candidate(
      xi, reach * reach,
      [&](index a, index b, Scalar d2) {
        if (b > a && std::sqrt(d2) < reach) later[std::size_t(a)].push_back(b);
      },
      workspace.backend);
  double bound = 0;
  index widest = 0;
  for (index a = 0; a < k; ++a) {
    const index n = index(later[std::size_t(a)].size());
    widest = std::max(widest, n);
    bound += std::ldexp(1.0, int(std::min<index>(n, 1000)));
  }
  if (bound > options.max_subsets)
    throw invalid_argument(detail::message(
        "enumerating LSR minima would visit up to ", bound,
        " candidate sets of memories (a pattern interacts with up to ", widest,
        " later patterns within 2r = ", reach, "), above enumeration_options.max_subsets = ",
        options.max_subsets, "; raise max_subsets, or raise beta to shrink the supports"));

  minima_census<Scalar> census;
  census.retrievable.setConstant(k, false);
  std::vector<Scalar> points, values;
  std::vector<bool> emergent;

  // Candidates wait in a batch so that their supports are searched together.
  matrix<Scalar> centroids(dim, options.batch);
  std::vector<std::vector<index>> pending;
  pending.reserve(std::size_t(options.batch));
  const auto flush = [&] {
    if (pending.empty()) return;
    const index n = index(pending.size());
    const auto batch = centroids.leftCols(n);
    const std::vector<std::vector<index>> found = energy.supports(batch, workspace);
    std::vector<index> accepted;
    for (index b = 0; b < n; ++b)
      if (found[std::size_t(b)] == pending[std::size_t(b)]) accepted.push_back(b);
    if (!accepted.empty()) {
      matrix<Scalar> kept(dim, index(accepted.size()));
      for (std::size_t i = 0; i < accepted.size(); ++i) kept.col(index(i)) = batch.col(accepted[i]);
      vector<Scalar> e(kept.cols());
      energy.evaluate(kept, e, nullptr, workspace);
      for (std::size_t i = 0; i < accepted.size(); ++i) {
        const auto& s = pending[std::size_t(accepted[i])];
        points.insert(points.end(), kept.col(index(i)).data(), kept.col(index(i)).data() + dim);
        values.push_back(e(index(i)));
        census.supports.push_back(s);
        // Stored or emergent is a question of position: a centroid of several memories can
        // fall on one of them (collinear or grid patterns), and is then that stored pattern.
        // Every stored copy at that position is retrievable (duplicate patterns share it).
        bool stored = false;
        for (index mu : s)
          if ((xi.col(mu) - kept.col(index(i))).norm() <= same_point) {
            census.retrievable(mu) = true;
            stored = true;
          }
        emergent.push_back(!stored);
      }
    }
    pending.clear();
  };

  // Depth-first over cliques: `set` grows by candidates adjacent to all its members.
  std::vector<index> set;
  vector<Scalar> sum(dim);
  const auto adjacent = [&](index a, index b) {
    const auto& l = later[std::size_t(std::min(a, b))];
    return std::binary_search(l.begin(), l.end(), std::max(a, b));
  };
  // One list of narrowed candidates per depth, reused: a clique is at most widest + 1 deep.
  std::vector<std::vector<index>> narrowed(std::size_t(widest + 1));
  const auto visit = [&](auto&& self, const std::vector<index>& candidates) -> void {
    // The centroid is summed in ascending index order, as the energy sums supports.
    sum.setZero();
    for (index mu : set) sum += xi.col(mu);
    centroids.col(index(pending.size())) = set.size() == 1
                                               ? vector<Scalar>(xi.col(set.front()))
                                               : vector<Scalar>(sum / Scalar(set.size()));
    pending.push_back(set);
    if (index(pending.size()) == options.batch) flush();
    std::vector<index>& next_candidates = narrowed[set.size() - 1];
    for (std::size_t i = 0; i < candidates.size(); ++i) {
      const index next = candidates[i];
      next_candidates.clear();
      for (std::size_t j = i + 1; j < candidates.size(); ++j)
        if (adjacent(next, candidates[j])) next_candidates.push_back(candidates[j]);
      set.push_back(next);
      self(self, next_candidates);
      set.pop_back();
    }
  };
  for (index mu = 0; mu < k; ++mu) {
    set.assign(1, mu);
    visit(visit, later[std::size_t(mu)]);
    if (options.progress) options.progress(work_progress{mu + 1, k});
  }
  flush();

  const index m = index(values.size());
  census.minima = Eigen::Map<const matrix<Scalar>>(points.data(), dim, m);
  census.energies = Eigen::Map<const vector<Scalar>>(values.data(), m);
  census.emergent.resize(m);
  for (index i = 0; i < m; ++i) census.emergent(i) = emergent[std::size_t(i)];
  return census;
}

}  // namespace engram
