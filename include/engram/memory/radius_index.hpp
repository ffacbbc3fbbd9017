// A radius index over a dense memory: for each query, the stored patterns that may lie within
// a given radius, with their exact squared distances (seed 002's supports B(x) are the
// Epanechnikov case, radius sqrt(2/beta)). It knows nothing of kernels: the caller passes a
// squared radius and decides membership from the exact distances it is handed. Candidates come
// from the backend: a KD-tree (nanoflann) in low dimension or a blocked GEMM otherwise. Both
// give the same candidates in the same order, so the method changes the time, never a result:
// `automatic` picks it by timing both on the first queries it is asked (a probe).
#pragma once

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <limits>
#include <memory>
#include <mutex>
#include <optional>
#include <utility>
#include <vector>

#include "engram/backend/cpu.hpp"
#include "engram/core/backend.hpp"
#include "engram/core/types.hpp"
#include "engram/memory/dense_memory.hpp"

namespace engram {

enum class support_method {
  /// brute_force for D > 16; otherwise the faster of the two on a probe of the first search's
  /// queries, kept until the memory or the radius changes or a search costs twice what the
  /// first one after the probe did (then probed again). Before any search, resolve()'s rule.
  automatic,
  kd_tree,      ///< nanoflann KD-tree radius search; prunes well only in low dimension
  brute_force,  ///< blocked GEMM of all K memories against the queries
};

inline const char* to_string(support_method m) {
  switch (m) {
    case support_method::automatic:
      return "automatic";
    case support_method::kd_tree:
      return "kd_tree";
    case support_method::brute_force:
      return "brute_force";
  }
  return "unknown";
}

/// The method `automatic` stands for on a memory of `count` patterns of dimension `dim` before a
/// probe has timed both (and always where none is made: D > 16 or K < 32).
inline support_method resolve(support_method m, index dim, index count) {
  if (m != support_method::automatic) return m;
  // Measured (benchmarks/RESULTS.md): the KD-tree wins 3-300x at D <= 8, only from K ~ 8192
  // at D = 16, and loses 10x at D = 64.
  const bool low = (dim <= 8 && count >= 32) || (dim <= 16 && count >= 4096);
  return low ? support_method::kd_tree : support_method::brute_force;
}

/// Candidate lists kept across the searches of a loop whose queries move (a retrieval's states),
/// one per column: the memories within R = (1 + reach) r of the point where the list was made,
/// its anchor. A query that moved by delta <= R - r from its anchor has every memory within r on
/// its list (triangle inequality: |a - xi| <= |a - x| + |x - xi|), so its search scans the list
/// instead of all K memories; a query that moved further gets a new list, made by the index's
/// own search at radius R. The lists change the work, never a result: the same members are
/// visited in the same order with the same exact distances. Validity is geometric, so any
/// queries may be searched with any cache; owned by whoever loops (an energy's workspace).
template <real_scalar Scalar>
struct candidate_cache {
  /// (R - r) / r: longer lists that last longer. 0, the default, turns the lists off (every
  /// search is the index's own search at r): they pay only where a search costs much more than
  /// scanning (1 + reach)^D times a support, as at D = 8 with K >= 1e4, where 0.5 measured best
  /// (benchmarks/RESULTS.md, bench_lsr bm_fixed_point); at D = 2 or K = 1e3 they cost time.
  Scalar reach = Scalar(0);
  /// Lists made so far, over all columns and searches (a search scans the rest).
  std::uint64_t lists_made = 0;

  /// Keeps columns `keep` (ascending) in that order: a loop that drops converged columns.
  void compact(const std::vector<index>& keep) {
    if (columns < index(keep.size())) return;
    for (std::size_t i = 0; i < keep.size(); ++i) {
      const std::size_t k = std::size_t(keep[i]);
      if (k == i) continue;
      std::swap(lists[i], lists[k]);
      anchors.col(index(i)) = anchors.col(index(k));
      valid[i] = valid[k];
    }
    for (std::size_t i = keep.size(); i < valid.size(); ++i) valid[i] = 0;
    columns = index(keep.size());
  }

  // What the lists were made for; a search with another memory, version, radius or batch
  // starts over.
  const void* memory = nullptr;
  std::uint64_t version = 0;
  Scalar radius_sq = 0;
  index columns = 0;  // columns in use; anchors, lists and valid keep room for more
  matrix<Scalar> anchors;
  std::vector<std::vector<std::pair<index, Scalar>>> lists;  // (memory, distance to the anchor)
  std::vector<char> valid;
  vector<Scalar> bounds;     // this search: the anchor distance beyond which no member lies
  std::vector<index> stale;  // columns to give new lists, this search
  matrix<Scalar> gathered;   // their queries
};

/// A visitor of for_each_candidate that also takes whole tiles: visit(b, mu, d2) for candidates
/// found one at a time, and tile(b0, k0, kc, bc, d2, ld) for a tile of a brute-force search
/// whose exact distances were all computed: d2[i + j ld] for memory k0 + i and column b0 + j,
/// +inf where the pair is no candidate. A tile must have the effect of visiting its finite
/// entries column by column, memories ascending; it may overwrite d2.
template <class Visit, class Tile>
struct tiled_visitor {
  Visit visit;
  Tile tile;
  template <class Scalar>
  void operator()(index b, index mu, Scalar d2) const {
    visit(b, mu, d2);
  }
};
template <class Visit, class Tile>
tiled_visitor(Visit, Tile) -> tiled_visitor<Visit, Tile>;

template <real_scalar Scalar, backend Backend = cpu>
class radius_index {
 public:
  using scalar_type = Scalar;
  using workspace_type = backend_workspace<Backend, Scalar>;

  explicit radius_index(const dense_memory<Scalar, Backend>& memory,
                        support_method method = support_method::automatic)
      : memory_(&memory), method_(method), cache_(std::make_shared<cache>()) {}
  radius_index(dense_memory<Scalar, Backend>&&,
               support_method = support_method::automatic) = delete;

  const dense_memory<Scalar, Backend>& memory() const { return *memory_; }
  support_method method() const { return method_; }
  void set_method(support_method m) { method_ = m; }
  /// The method used on the memory as it is now: the one given, or for `automatic` the one the
  /// last probe chose on this memory (resolve()'s rule before any).
  support_method resolved() const {
    if (probes()) {
      std::lock_guard<std::mutex> guard(cache_->lock);
      const cache& c = *cache_;
      if (c.probed != support_method::automatic && c.probed_memory == memory_ &&
          c.probed_version == memory_->version())
        return c.probed;
    }
    return static_choice();
  }

  /// Columns of a search that a probe times both methods on (the first ones).
  static constexpr index probe_columns = 64;

  /// Calls visit(b, mu, d2) for each column b of `queries` and each stored pattern mu that may
  /// lie within squared radius `radius_sq` of it (every one that does is among them), with
  /// d2 = ||x_b - xi_mu||^2 computed from exact differences; mu ascends within a column, and
  /// columns may come interleaved. Columns are spread over threads: `visit` may touch only
  /// what belongs to column b.
  template <class Visitor>
  void for_each_candidate(const Eigen::Ref<const matrix<Scalar>>& queries, Scalar radius_sq,
                          Visitor&& visit, workspace_type& ws) const {
    ENGRAM_ASSERT(queries.rows() == memory_->dim());
    if (memory_->empty() || queries.cols() == 0) return;
    const auto search = [&](support_method m) {
      if (m == support_method::kd_tree)
        radius_candidates(Backend{}, kd(), queries, radius_sq, visit, ws);
      else
        radius_candidates(Backend{}, memory_->patterns(), memory_->half_squared_norms(), queries,
                          radius_sq, visit, ws);
    };
    if (!probes()) return search(static_choice());
    const support_method m = probe(queries, radius_sq, ws);
    const auto t0 = std::chrono::steady_clock::now();
    search(m);
    const double seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    timed(m, seconds / double(queries.cols()));
  }

  /// The same visits, with the columns' candidate lists in `lists` used where they still hold
  /// and remade where not (see candidate_cache). Every memory whose squared distance lies below
  /// radius_sq (1 + 8 (D + 2) eps) is visited, so a caller whose membership test rounds (w > 0
  /// with w computed from d2) loses none.
  template <class Visitor>
  void for_each_candidate(const Eigen::Ref<const matrix<Scalar>>& queries, Scalar radius_sq,
                          Visitor&& visit, workspace_type& ws,
                          candidate_cache<Scalar>& lists) const {
    ENGRAM_ASSERT(queries.rows() == memory_->dim());
    const index dim = memory_->dim(), batch = queries.cols();
    if (!(lists.reach > 0)) return for_each_candidate(queries, radius_sq, visit, ws);
    if (memory_->empty() || batch == 0) return;
    candidate_cache<Scalar>& c = lists;
    if (c.memory != memory_ || c.version != memory_->version() || c.radius_sq != radius_sq ||
        c.anchors.rows() != dim || c.columns != batch) {
      c.memory = memory_;
      c.version = memory_->version();
      c.radius_sq = radius_sq;
      c.columns = batch;
      if (c.anchors.rows() != dim || c.anchors.cols() < batch) c.anchors.resize(dim, batch);
      if (index(c.lists.size()) < batch) c.lists.resize(std::size_t(batch));
      if (c.bounds.size() < batch) c.bounds.resize(batch);
      c.valid.assign(std::max(c.valid.size(), std::size_t(batch)), 0);
    }
    // Rounding: exact differences give squared distances within a factor 1 +- tol of the true
    // ones (tol = 8 (D + 2) eps, several times the (D + 2) eps of the sum), so a member of the
    // caller's rounded test lies within r (1 + tol). A query whose computed distance to its
    // anchor is at most `slack` is truly within slack (1 + tol) = R (1 - tol) - r (1 + tol), and
    // each of its members within R (1 - tol) of the anchor: on the list, which keeps every
    // memory the search at R visits with a computed d2 <= R^2 (1 + tol). A listed memory at
    // computed anchor distance a is no member when a (1 - tol) - delta (1 + tol) > r (1 + tol)
    // (the triangle inequality the other way), so the scan skips it without a distance.
    const Scalar tol = Scalar(8 * (dim + 2)) * std::numeric_limits<Scalar>::epsilon();
    const Scalar r = std::sqrt(radius_sq);
    const Scalar big = r * (Scalar(1) + c.reach);
    const Scalar slack = (big * (Scalar(1) - tol) - r * (Scalar(1) + tol)) / (Scalar(1) + tol);
    const Scalar slack_sq = slack > 0 ? slack * slack : Scalar(-1);
    const Scalar keep_sq = big * big * (Scalar(1) + tol);
    const Scalar reach_of = (Scalar(1) + tol) / (Scalar(1) - tol);
    c.stale.clear();
    for (index b = 0; b < batch; ++b) {
      const Scalar moved = c.valid[std::size_t(b)]
                               ? (queries.col(b) - c.anchors.col(b)).squaredNorm()
                               : std::numeric_limits<Scalar>::infinity();
      if (moved <= slack_sq) {
        c.bounds(b) = (r + std::sqrt(moved)) * reach_of;
      } else {
        c.stale.push_back(b);
        c.bounds(b) = r * reach_of;
      }
    }
    if (!c.stale.empty()) {
      const index n = index(c.stale.size());
      if (c.gathered.rows() != dim || c.gathered.cols() < batch) c.gathered.resize(dim, batch);
      for (index i = 0; i < n; ++i) {
        const index b = c.stale[std::size_t(i)];
        c.gathered.col(i) = queries.col(b);
        c.lists[std::size_t(b)].clear();
      }
      for_each_candidate(
          c.gathered.leftCols(n), big * big,
          [&](index i, index mu, Scalar d2) {
            if (d2 <= keep_sq)
              c.lists[std::size_t(c.stale[std::size_t(i)])].emplace_back(mu, std::sqrt(d2));
          },
          ws);
      for (const index b : c.stale) {
        c.anchors.col(b) = queries.col(b);
        c.valid[std::size_t(b)] = 1;
      }
      c.lists_made += std::uint64_t(n);
    }
    listed_candidates(Backend{}, memory_->patterns(), c.lists, c.bounds, queries, visit);
  }

 private:
  struct cache {
    std::mutex lock;
    const dense_memory<Scalar, Backend>* memory = nullptr;
    std::uint64_t version = 0;
    std::optional<cpu_kd_tree<Scalar>> tree;
    // The probe's choice, for this memory at this version and a squared radius within a factor
    // of two of probed_radius_sq (supports, hence the KD-tree's cost, grow with the radius).
    support_method probed = support_method::automatic;
    const dense_memory<Scalar, Backend>* probed_memory = nullptr;
    std::uint64_t probed_version = 0;
    Scalar probed_radius_sq = 0;
    // Seconds per query of the first search after the probe, searches since, and whether the
    // next search probes again (supports change as retrieval moves the queries: the centroid
    // iteration starts next to one pattern and ends on means of many).
    double reference = 0;
    int searches = 0;
    bool stale = false;
  };

  /// Notes the time of a search made with the probe's choice `m`. Once a search costs more than
  /// twice the first one after the probe (per query, at least 4 searches on), the next search
  /// probes again; each probe resets the reference, so a cost that keeps growing probes again
  /// only each time it doubles.
  void timed(support_method m, double per_query) const {
    std::lock_guard<std::mutex> guard(cache_->lock);
    cache& c = *cache_;
    if (c.probed != m || c.probed_memory != memory_ || c.probed_version != memory_->version())
      return;
    if (c.reference == 0) {
      c.reference = per_query;
      return;
    }
    if (++c.searches >= 4 && per_query > 2 * c.reference) c.stale = true;
  }

  support_method static_choice() const {
    const support_method m = resolve(method_, memory_->dim(), memory_->size());
    return m == support_method::kd_tree && !cpu_kd_tree<Scalar>::can_index(memory_->size())
               ? support_method::brute_force
               : m;
  }

  /// Whether `automatic` times the two methods here: where the KD-tree can win at all.
  bool probes() const {
    return method_ == support_method::automatic && memory_->dim() <= 16 && memory_->size() >= 32 &&
           cpu_kd_tree<Scalar>::can_index(memory_->size());
  }

  /// The faster method for these queries at this radius: the cached choice, or the best of two
  /// timings of each on the first probe_columns queries (alternated, so that neither pays alone
  /// for waking the threads), candidates visited and dropped. The KD-tree is built first, outside
  /// the timing: a search that picks it reuses it, and its cost is once per memory version.
  support_method probe(const Eigen::Ref<const matrix<Scalar>>& queries, Scalar radius_sq,
                       workspace_type& ws) const {
    {
      std::lock_guard<std::mutex> guard(cache_->lock);
      const cache& c = *cache_;
      if (c.probed != support_method::automatic && !c.stale && c.probed_memory == memory_ &&
          c.probed_version == memory_->version() && radius_sq <= 2 * c.probed_radius_sq &&
          c.probed_radius_sq <= 2 * radius_sq)
        return c.probed;
    }
    using clock = std::chrono::steady_clock;
    const Eigen::Ref<const matrix<Scalar>> sample =
        queries.leftCols(std::min(queries.cols(), probe_columns));
    const auto drop = [](index, index, Scalar) {};
    const cpu_kd_tree<Scalar>& tree = kd();
    double brute = 1e300, kd_time = 1e300;
    for (int round = 0; round < 2; ++round) {
      auto t0 = clock::now();
      radius_candidates(Backend{}, memory_->patterns(), memory_->half_squared_norms(), sample,
                        radius_sq, drop, ws);
      brute = std::min(brute, std::chrono::duration<double>(clock::now() - t0).count());
      t0 = clock::now();
      radius_candidates(Backend{}, tree, sample, radius_sq, drop, ws);
      kd_time = std::min(kd_time, std::chrono::duration<double>(clock::now() - t0).count());
    }
    const support_method chosen =
        kd_time < brute ? support_method::kd_tree : support_method::brute_force;
    std::lock_guard<std::mutex> guard(cache_->lock);
    cache& c = *cache_;
    c.probed = chosen;
    c.probed_memory = memory_;
    c.probed_version = memory_->version();
    c.probed_radius_sq = radius_sq;
    c.reference = 0;
    c.searches = 0;
    c.stale = false;
    return chosen;
  }

  // Built on first use and rebuilt after the memory changes; shared by copies of the index.
  const cpu_kd_tree<Scalar>& kd() const {
    std::lock_guard<std::mutex> guard(cache_->lock);
    cache& c = *cache_;
    if (!c.tree || c.memory != memory_ || c.version != memory_->version()) {
      c.memory = memory_;
      c.version = memory_->version();
      c.tree.reset();
      c.tree.emplace(memory_->patterns(), Scalar(2) * memory_->half_squared_norms().maxCoeff());
    }
    return *c.tree;
  }

  const dense_memory<Scalar, Backend>* memory_;
  support_method method_;
  std::shared_ptr<cache> cache_;
};

}  // namespace engram
