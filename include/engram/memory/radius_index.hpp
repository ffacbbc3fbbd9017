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
#include <memory>
#include <mutex>
#include <optional>
#include <utility>

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
  /// d2 = ||x_b - xi_mu||^2 computed from exact differences; mu ascends within a column.
  /// Columns are spread over threads: `visit` may touch only what belongs to column b.
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
