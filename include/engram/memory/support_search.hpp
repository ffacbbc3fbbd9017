// Support search for compact kernels: for each query x, the memories mu with
// w_mu = 1 - beta/2 ||x - xi_mu||^2 > 0, i.e. inside the support ball of radius sqrt(2/beta)
// (seed 002's B(x)). Candidates come from a KD-tree (nanoflann) in low dimension or from a
// blocked GEMM otherwise; both then decide membership from exact differences, so they return
// the same supports in the same (ascending) order and sums over them agree bit for bit.
#pragma once

#include <nanoflann.hpp>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <memory>
#include <mutex>
#include <utility>
#include <vector>

#include "engram/core/backend.hpp"
#include "engram/core/error.hpp"
#include "engram/core/types.hpp"
#include "engram/kernels/epanechnikov.hpp"
#include "engram/memory/dense_memory.hpp"

namespace engram {

enum class support_method {
  automatic,    ///< kd_tree for D <= 8 (K >= 32) or D <= 16 (K >= 4096), else brute_force
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

/// The method `automatic` stands for on a memory of `count` patterns of dimension `dim`.
inline support_method resolve(support_method m, index dim, index count) {
  if (m != support_method::automatic) return m;
  // Measured (benchmarks/RESULTS.md): the KD-tree wins 3-300x at D <= 8, only from K ~ 8192
  // at D = 16, and loses 10x at D = 64.
  const bool low = (dim <= 8 && count >= 32) || (dim <= 16 && count >= 4096);
  return low ? support_method::kd_tree : support_method::brute_force;
}

namespace detail {

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

template <class Scalar>
struct kd_index {
  using cloud = pattern_cloud<Scalar>;
  using tree_type =
      nanoflann::KDTreeSingleIndexAdaptor<nanoflann::L2_Simple_Adaptor<Scalar, cloud, Scalar>,
                                          cloud, -1, std::uint32_t>;
  const dense_memory<Scalar>* memory = nullptr;
  std::uint64_t version = 0;
  cloud points{nullptr};
  std::unique_ptr<tree_type> tree;
  Scalar max_sq_norm = 0;
};

/// An upper bound on the rounding error of a squared distance, expanded (||x||^2 - 2<x, xi> +
/// ||xi||^2) or summed by a KD-tree, so that every true member is among the candidates.
template <class Scalar>
Scalar candidate_margin(index dim, Scalar x_sq, Scalar xi_sq, Scalar radius_sq) {
  const Scalar eps = std::numeric_limits<Scalar>::epsilon();
  return Scalar(4 * (dim + 2)) * eps * (x_sq + xi_sq + radius_sq);
}

}  // namespace detail

template <real_scalar Scalar>
class support_search {
 public:
  explicit support_search(const dense_memory<Scalar>& memory,
                          support_method method = support_method::automatic)
      : memory_(&memory), method_(method), cache_(std::make_shared<cache>()) {}
  support_search(dense_memory<Scalar>&&, support_method = support_method::automatic) = delete;

  support_method method() const { return method_; }
  void set_method(support_method m) { method_ = m; }
  /// The method used on the memory as it is now.
  support_method resolved() const {
    const support_method m = resolve(method_, memory_->dim(), memory_->size());
    // nanoflann indexes points with 32-bit integers.
    return m == support_method::kd_tree && memory_->size() > index(UINT32_MAX)
               ? support_method::brute_force
               : m;
  }

  /// Calls visit(b, mu, w) for each column b of `queries` and each memory mu with
  /// w = 1 - beta/2 ||x_b - xi_mu||^2 > 0, mu ascending within a column. Columns are spread
  /// over threads: `visit` may touch only what belongs to column b.
  template <class Visitor>
  void for_each_member(const Eigen::Ref<const matrix<Scalar>>& queries, Scalar beta,
                       Visitor&& visit) const {
    ENGRAM_ASSERT(queries.rows() == memory_->dim());
    if (memory_->empty() || queries.cols() == 0) return;
    if (resolved() == support_method::kd_tree)
      kd_members(queries, beta, visit);
    else
      brute_members(queries, beta, visit);
  }

  /// The support B(x) of each column, ascending.
  std::vector<std::vector<index>> supports(const Eigen::Ref<const matrix<Scalar>>& queries,
                                           Scalar beta) const {
    require_rows("queries", queries.rows(), memory_->dim(), "the memory dimension");
    require_finite("queries", queries);
    require_positive("beta", beta);
    std::vector<std::vector<index>> out(static_cast<std::size_t>(queries.cols()));
    for_each_member(queries, beta,
                    [&](index b, index mu, Scalar) { out[std::size_t(b)].push_back(mu); });
    return out;
  }

 private:
  using cache = std::pair<std::mutex, detail::kd_index<Scalar>>;

  /// The member test shared by both methods: exact differences, strict inequality.
  template <class Visitor>
  static void accept(index b, index mu, const Eigen::Ref<const matrix<Scalar>>& queries,
                     const matrix<Scalar>& patterns, Scalar beta, Visitor& visit) {
    const Scalar w = epanechnikov::weight(beta, (queries.col(b) - patterns.col(mu)).squaredNorm());
    if (w > Scalar(0)) visit(b, mu, w);
  }

  template <class Visitor>
  void brute_members(const Eigen::Ref<const matrix<Scalar>>& queries, Scalar beta,
                     Visitor& visit) const {
    const matrix<Scalar>& patterns = memory_->patterns();
    const vector<Scalar>& half = memory_->half_squared_norms();
    const index dim = patterns.rows(), count = patterns.cols(), batch = queries.cols();
    const Scalar radius_sq = Scalar(2) / beta;
    constexpr index qt = 64, mt = 512;
    const index blocks = (batch + qt - 1) / qt, memory_tiles = (count + mt - 1) / mt;
    const index threads = backend_traits<cpu>::max_threads();
    // Fewer query blocks than threads (a small batch): split the memories into chunks too.
    // Chunks collect their members apart and are visited afterwards in chunk order, so each
    // column still sees its members ascending and only one thread touches a column at a time.
    const index chunks =
        blocks >= threads ? 1 : std::min(memory_tiles, (threads + blocks - 1) / blocks);
    const index tiles_per_chunk = (memory_tiles + chunks - 1) / chunks;
    std::vector<std::vector<std::pair<index, index>>> found(
        static_cast<std::size_t>(chunks > 1 ? blocks * chunks : 0));

    const auto scan = [&](index blk, index c, auto&& emit) {
      const index b0 = blk * qt, bc = std::min(qt, batch - b0);
      thread_local matrix<Scalar> scores;
      scores.resize(mt, qt);
      const vector<Scalar> x_sq = queries.middleCols(b0, bc).colwise().squaredNorm().transpose();
      const index k_end = std::min(count, (c + 1) * tiles_per_chunk * mt);
      for (index k0 = c * tiles_per_chunk * mt; k0 < k_end; k0 += mt) {
        const index kc = std::min(mt, k_end - k0);
        auto s = scores.topLeftCorner(kc, bc);
        s.noalias() = patterns.middleCols(k0, kc).transpose() * queries.middleCols(b0, bc);
        for (index j = 0; j < bc; ++j)
          for (index i = 0; i < kc; ++i) {
            const Scalar xi_sq = Scalar(2) * half(k0 + i);
            const Scalar d2 = x_sq(j) + xi_sq - Scalar(2) * s(i, j);
            if (d2 < radius_sq + detail::candidate_margin(dim, x_sq(j), xi_sq, radius_sq))
              emit(b0 + j, k0 + i);
          }
      }
    };
#if defined(_OPENMP)
#pragma omp parallel for schedule(dynamic, 1)
#endif
    for (index task = 0; task < blocks * chunks; ++task) {
      const index blk = task / chunks, c = task % chunks;
      if (chunks == 1)
        scan(blk, c, [&](index b, index mu) { accept(b, mu, queries, patterns, beta, visit); });
      else
        scan(blk, c, [&](index b, index mu) {
          found[std::size_t(task)].emplace_back(b, mu);  // candidates, tested below
        });
    }
    if (chunks == 1) return;
    for (index blk = 0; blk < blocks; ++blk) {
      // Columns in order, each column's candidates in chunk (hence index) order.
      const index b0 = blk * qt, bc = std::min(qt, batch - b0);
      for (index j = 0; j < bc; ++j)
        for (index c = 0; c < chunks; ++c)
          for (const auto& [b, mu] : found[std::size_t(blk * chunks + c)])
            if (b == b0 + j) accept(b, mu, queries, patterns, beta, visit);
    }
  }

  const detail::kd_index<Scalar>& kd() const {
    std::lock_guard<std::mutex> lock(cache_->first);
    detail::kd_index<Scalar>& idx = cache_->second;
    if (!idx.tree || idx.memory != memory_ || idx.version != memory_->version()) {
      idx.memory = memory_;
      idx.version = memory_->version();
      idx.points.patterns = &memory_->patterns();
      idx.tree = std::make_unique<typename detail::kd_index<Scalar>::tree_type>(
          std::size_t(memory_->dim()), idx.points, nanoflann::KDTreeSingleIndexAdaptorParams(16));
      idx.max_sq_norm = Scalar(2) * memory_->half_squared_norms().maxCoeff();
    }
    return idx;
  }

  template <class Visitor>
  void kd_members(const Eigen::Ref<const matrix<Scalar>>& queries, Scalar beta,
                  Visitor& visit) const {
    const detail::kd_index<Scalar>& idx = kd();
    const matrix<Scalar>& patterns = memory_->patterns();
    const index dim = patterns.rows(), batch = queries.cols();
    const Scalar radius_sq = Scalar(2) / beta;
    nanoflann::SearchParams params;
    params.sorted = false;
#if defined(_OPENMP)
#pragma omp parallel for schedule(dynamic, 16)
#endif
    for (index b = 0; b < batch; ++b) {
      thread_local std::vector<std::pair<std::uint32_t, Scalar>> matches;
      const Scalar x_sq = queries.col(b).squaredNorm();
      // nanoflann also prunes with incrementally updated box distances, whose rounding grows
      // with the tree depth rather than with D; a margin 16 times the expanded-form bound
      // (and never below 64 ulps of the radius) covers both.
      const Scalar reach =
          radius_sq +
          std::max(Scalar(16) * detail::candidate_margin(dim, x_sq, idx.max_sq_norm, radius_sq),
                   Scalar(64) * std::numeric_limits<Scalar>::epsilon() * radius_sq);
      idx.tree->radiusSearch(queries.col(b).data(), reach, matches, params);
      std::sort(matches.begin(), matches.end(),
                [](const auto& a, const auto& c) { return a.first < c.first; });
      for (const auto& m : matches) accept(b, index(m.first), queries, patterns, beta, visit);
    }
  }

  const dense_memory<Scalar>* memory_;
  support_method method_;
  std::shared_ptr<cache> cache_;
};

}  // namespace engram
