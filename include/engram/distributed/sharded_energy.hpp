// A dense energy over a sharded memory: each rank reduces its own shard to the kernel family's
// partial state (the partial-state seam of dense_energy: reduce(), then finish()), one
// allreduce combines the partial states in rank order, and every rank finishes the same
// energies and gradients. Exactly the energy of one process holding the whole memory, up to
// the rounding of the order in which the partial states combine; bitwise the same on every
// rank, so that retrieve() runs replicated over the queries and every rank stops each column
// at the same step without a word about it.
//
// Every call that reaches the memory is collective: every rank must make it, with the same
// queries (validate() checks that they are bitwise equal). A rank that throws inside one
// makes every rank raise (see communicator.hpp).
#pragma once

#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <optional>
#include <utility>
#include <vector>

#include "engram/core/error.hpp"
#include "engram/core/types.hpp"
#include "engram/distributed/communicator.hpp"
#include "engram/distributed/sharded_memory.hpp"
#include "engram/dynamics/retrieve.hpp"
#include "engram/energy/energy_base.hpp"
#include "engram/kernels/kernel.hpp"

namespace engram::distributed {

/// How the ranks hold the queries of a sharded energy. Replicated: every rank evaluates and
/// retrieves the same batch. Scattered: each rank its own columns (any number, none included);
/// every step gathers all ranks' columns, each rank reduces them over its shard, and each
/// keeps the combined sums of its own columns. distributed::retrieve() runs either.
enum class query_layout { replicated, scattered };

/// `Energy` is the energy of one process over a dense memory on the cpu backend
/// (lse_energy<float>, lsr_energy<double>, any dense_energy).
template <class Energy>
class sharded_energy : public energy_base<sharded_energy<Energy>, typename Energy::scalar_type> {
  using Scalar = typename Energy::scalar_type;
  static constexpr bool compact = compact_kernel<typename Energy::kernel_type>;

 public:
  using scalar_type = Scalar;
  using local_type = Energy;
  using kernel_type = typename Energy::kernel_type;
  using scaling_type = typename Energy::scaling_type;
  using params_type = typename Energy::params_type;
  using memory_type = sharded_memory<Scalar>;

  /// Where this rank's time went, summed over the collective evaluations with one workspace:
  /// the reductions over its own shard, the combinations across ranks (the agreement round
  /// and the allreduce, waiting for slower ranks included), and the bytes this rank handed to
  /// the allreduce (B records of D + 2 or 3 numbers each).
  struct traffic {
    index calls = 0;
    double local_seconds = 0, combine_seconds = 0;
    std::int64_t bytes = 0;
  };

  struct workspace_type {
    explicit workspace_type(index dim = 0) : dim(dim), local(dim) {}
    index dim;
    typename Energy::workspace_type local;
    std::vector<Scalar> buffer;  // the records the ranks combine
    traffic counters;
    std::vector<Scalar> gathered;  // scattered queries: every rank's columns
    matrix<Scalar> mine;           // this rank's, contiguous
    std::vector<index> counts;
    void release() { *this = workspace_type(dim); }
    void compact(const std::vector<index>& keep) { local.compact(keep); }
  };

  /// Collective: an energy over `memory` (held by reference), built on every rank from the
  /// same arguments as `Energy` takes after its memory (beta, eps, params, ...). Every rank
  /// must pass the same parameters: a difference makes every rank raise invalid_argument.
  template <class... Args>
  explicit sharded_energy(const memory_type& memory, Args&&... args) : memory_(&memory) {
    memory.comm().agree(collective::construct, 1,
                        [&] { local_.emplace(memory.local(), std::forward<Args>(args)...); });
    agree_params();
  }

  const memory_type& memory() const { return *memory_; }
  communicator& comm() const { return memory_->comm(); }
  /// The energy over this rank's shard alone.
  const Energy& local() const { return *local_; }
  index dim() const { return memory_->dim(); }
  const params_type& params() const { return local_->params(); }
  Scalar beta() const { return local_->beta(); }
  Scalar eps() const { return local_->eps(); }
  /// Collective: new parameters, the same on every rank.
  void set_params(const params_type& params) {
    comm().agree(collective::construct, 2, [&] { params.validate(); });
    const params_type old = local_->params();
    local_->set_params(params);
    try {
      agree_params();
    } catch (...) {
      local_->set_params(old);  // every rank keeps the parameters it had
      throw;
    }
  }
  workspace_type make_workspace() const { return workspace_type(dim()); }
  std::uint64_t generation() const { return memory_->version(); }

  query_layout layout() const { return layout_; }
  /// Collective: every rank sets the same layout.
  void set_query_layout(query_layout layout) {
    comm().agree(collective::construct, 4);
    const auto [low, high] = comm().range(std::int64_t(layout));
    if (low != high)
      throw invalid_argument(detail::message(
          "the query layout differs across ranks (rank ", comm().rank(), " of ", comm().size(),
          " asked for ", layout == query_layout::scattered ? "scattered" : "replicated",
          "): every rank must set the same"));
    layout_ = layout;
  }

  /// Collective: the checks of the public boundary (dimensions, finite entries, a memory that
  /// is not empty on all ranks together), and the same queries on every rank.
  void validate(const Eigen::Ref<const matrix<Scalar>>& queries) const {
    // Scattered queries differ by rank and in number; each rank checks its own.
    const bool scattered = layout_ == query_layout::scattered;
    comm().agree(collective::validate, scattered ? -1 : queries.cols(), [&] {
      this->validate_batch(queries, dim(), memory_->empty());
      for (index b = 0; b < queries.cols(); ++b)
        if (!std::isfinite(queries.col(b).squaredNorm()))
          throw not_finite(detail::message("queries column ", b, " has a squared norm beyond the ",
                                           "range of its scalar type; rescale the data"));
    });
    if (scattered) return;
    const std::int64_t hash = hash_of(queries);
    const auto [low, high] = comm().range(hash);
    if (low != high)
      throw invalid_argument(detail::message(
          "the queries differ across ranks (rank ", comm().rank(), " of ", comm().size(),
          "): a sharded energy evaluates the same queries on every rank"));
  }

  /// Collective, the hot path: this rank's partial state, the ranks' combination, the energies
  /// (and gradients) of every column, the same on every rank.
  void evaluate(const Eigen::Ref<const matrix<Scalar>>& queries,
                Eigen::Ref<vector<Scalar>> energies, matrix<Scalar>* gradient,
                workspace_type& ws) const {
    if (layout_ == query_layout::scattered) {
      reduce_scattered(queries, ws);
      if (queries.cols() > 0) local_->finish(queries, energies, gradient, ws.local);
      return;
    }
    reduce_all(collective::evaluate, queries, gradient != nullptr, ws);
    local_->finish(queries, energies, gradient, ws.local);
  }

  /// Scattered layout, collective: the validation round of a retrieval for a rank that holds
  /// no queries (distributed::retrieve calls it).
  void join_validate() const {
    ENGRAM_ASSERT(layout_ == query_layout::scattered);
    comm().agree(collective::validate, -1);
  }
  /// Scattered layout, collective: one step of the other ranks' evaluations, with no columns
  /// of this rank's. Returns whether any rank had columns (distributed::retrieve joins until
  /// none has).
  bool join_step(workspace_type& ws) const {
    ENGRAM_ASSERT(layout_ == query_layout::scattered);
    return reduce_scattered(matrix<Scalar>(dim(), 0), ws) > 0;
  }

  void check_energies(const vector<Scalar>& e) const { local_->check_energies(e); }

  Scalar ceiling() const requires compact { return local_->ceiling(); }
  Scalar support_radius() const requires compact { return local_->support_radius(); }

  /// Collective: the fixed-point map of the whole memory (the mean of each column's support
  /// over all ranks, for Epanechnikov); see dense_energy::fixed_point_map.
  void fixed_point_map(const Eigen::Ref<const matrix<Scalar>>& queries, matrix<Scalar>& out,
                       Eigen::Matrix<index, Eigen::Dynamic, 1>& counts,
                       workspace_type& ws) const requires compact {
    if (layout_ == query_layout::scattered)
      reduce_scattered(queries, ws);  // the same collective as a step's evaluation
    else
      reduce_all(collective::fixed_point, queries, true, ws);
    local_->fixed_point_from_evaluation(queries, out, counts, ws.local);
  }
  /// Not collective: the map from the combined sums the last evaluate() left in `ws`.
  void fixed_point_from_evaluation(const Eigen::Ref<const matrix<Scalar>>& queries,
                                   matrix<Scalar>& out,
                                   Eigen::Matrix<index, Eigen::Dynamic, 1>& counts,
                                   const workspace_type& ws) const requires compact {
    local_->fixed_point_from_evaluation(queries, out, counts, ws.local);
  }

  /// Collective: B(x) for each column, as ascending indices of the whole memory (rank 0's
  /// patterns first), the same on every rank.
  std::vector<std::vector<index>> supports(
      const Eigen::Ref<const matrix<Scalar>>& queries) const requires compact {
    workspace_type ws = make_workspace();
    return supports(queries, ws);
  }
  std::vector<std::vector<index>> supports(const Eigen::Ref<const matrix<Scalar>>& queries,
                                           workspace_type& ws) const requires compact {
    if (layout_ == query_layout::scattered)
      throw invalid_argument(
          "supports() needs the replicated query layout: every rank asks for the same queries");
    validate(queries);
    std::vector<std::int64_t> mine;
    comm().agree(collective::supports, queries.cols(), [&] {
      const index b = queries.cols();
      mine.assign(std::size_t(b), 0);  // the count of each column, then the indices
      if (memory_->local().empty()) return;
      const auto local = local_->supports(queries, ws.local);
      for (index j = 0; j < b; ++j) {
        mine[std::size_t(j)] = std::int64_t(local[std::size_t(j)].size());
        for (index mu : local[std::size_t(j)]) mine.push_back(std::int64_t(mu + memory_->offset()));
      }
    });
    const std::vector<std::int64_t> all = comm().all_gather(mine);
    std::vector<std::vector<index>> out(std::size_t(queries.cols()));
    std::size_t at = 0;
    for (int r = 0; r < comm().size(); ++r) {
      const std::size_t counts = at;
      at += std::size_t(queries.cols());
      for (index j = 0; j < queries.cols(); ++j)
        for (std::int64_t k = 0; k < all[counts + std::size_t(j)]; ++k)
          out[std::size_t(j)].push_back(index(all[at++]));
    }
    return out;
  }

 private:
  void reduce_all(collective what, const Eigen::Ref<const matrix<Scalar>>& queries,
                  bool with_gradient, workspace_type& ws) const {
    using clock = std::chrono::steady_clock;
    const auto start = clock::now();
    std::chrono::duration<double> local{};
    comm().agree(what, 2 * queries.cols() + (with_gradient ? 1 : 0), [&] {
      local_->reduce(queries, with_gradient, ws.local);
      local = clock::now() - start;
    });
    comm().combine(ws.local.partial, ws.buffer);
    const std::chrono::duration<double> total = clock::now() - start;
    ws.counters.calls += 1;
    ws.counters.local_seconds += local.count();
    ws.counters.combine_seconds += total.count() - local.count();
    ws.counters.bytes += std::int64_t(ws.buffer.size() * sizeof(Scalar));
  }

  // Scattered layout: gathers every rank's columns, reduces them all over this rank's shard
  // (always with the weighted sums, so that every rank's records have one layout whatever
  // its call), combines, and keeps this rank's columns in ws.local.partial. Returns the
  // number of columns over all ranks.
  index reduce_scattered(const Eigen::Ref<const matrix<Scalar>>& queries,
                         workspace_type& ws) const {
    using clock = std::chrono::steady_clock;
    const auto start = clock::now();
    comm().agree(collective::evaluate, -1);
    ws.mine = queries;
    comm().all_gather(ws.mine.data(), ws.mine.size(), ws.gathered, ws.counts);
    index first = 0, total = 0;
    for (int r = 0; r < comm().size(); ++r) {
      const index columns = ws.counts[std::size_t(r)] / dim();
      if (r < comm().rank()) first += columns;
      total += columns;
    }
    if (total == 0) return 0;
    const Eigen::Map<const matrix<Scalar>> all(ws.gathered.data(), dim(), total);
    ws.local.candidates.reach = Scalar(0);  // the gathered batch changes: no candidate lists
    // A second agreement: a rank whose reduction fails (out of memory) tells the others.
    comm().agree(collective::evaluate, -2, [&] { local_->reduce(all, true, ws.local); });
    const std::chrono::duration<double> local = clock::now() - start;
    comm().combine(ws.local.partial, ws.buffer);
    keep_columns(ws.local.partial, first, queries.cols());
    const std::chrono::duration<double> whole = clock::now() - start;
    ws.counters.calls += 1;
    ws.counters.local_seconds += local.count();
    ws.counters.combine_seconds += whole.count() - local.count();
    ws.counters.bytes += std::int64_t((ws.buffer.size() + ws.mine.size()) * sizeof(Scalar));
    return total;
  }

  static void keep_columns(exp_partial<Scalar>& p, index first, index n) {
    p.max = p.max.segment(first, n).eval();
    p.sum = p.sum.segment(first, n).eval();
    p.weighted = p.weighted.middleCols(first, n).eval();
  }
  static void keep_columns(sum_partial<Scalar>& p, index first, index n) {
    p.value = p.value.segment(first, n).eval();
    p.slope = p.slope.segment(first, n).eval();
    p.count = p.count.segment(first, n).eval();
    p.weighted = p.weighted.middleCols(first, n).eval();
  }

  // beta and eps, bitwise the same on every rank.
  void agree_params() const {
    for (const auto& [name, value] : {std::pair{"beta", local_->beta()}, {"eps", local_->eps()}}) {
      const auto [low, high] = comm().range(double(value));
      if (low != high)
        throw invalid_argument(detail::message(
            name, " differs across ranks (from ", low, " to ", high, "; rank ", comm().rank(),
            " of ", comm().size(), " has ", value, "): every rank must pass the same parameters"));
    }
  }

  static std::int64_t hash_of(const Eigen::Ref<const matrix<Scalar>>& queries) {
    std::uint64_t h = 1469598103934665603ull;
    for (index j = 0; j < queries.cols(); ++j) {
      const auto* bytes = reinterpret_cast<const unsigned char*>(queries.col(j).data());
      for (std::size_t i = 0; i < std::size_t(queries.rows()) * sizeof(Scalar); ++i)
        h = (h ^ bytes[i]) * 1099511628211ull;
    }
    return std::int64_t(h >> 1);
  }

  const memory_type* memory_;
  std::optional<Energy> local_;
  query_layout layout_ = query_layout::replicated;
};

/// Retrieval over a sharded energy in either layout. Replicated: engram::retrieve on every
/// rank, over the same queries, with the same result everywhere. Scattered: each rank
/// retrieves its own columns (none is allowed: an empty result), stopping each column on its
/// own; a rank whose columns have all stopped keeps joining the others' steps until no rank
/// has columns left, so every rank returns together. Collective.
template <class Energy, class Stepper, stop_rule Stop>
retrieval_result<typename Energy::scalar_type> retrieve(
    const sharded_energy<Energy>& energy,
    const Eigen::Ref<const matrix<typename Energy::scalar_type>>& queries, const Stepper& stepper,
    const Stop& stop, const retrieve_options& options = {}) {
  using Scalar = typename Energy::scalar_type;
  auto ws = energy.make_workspace();
  const bool scattered = energy.layout() == query_layout::scattered;
  const std::uint64_t agreed = energy.comm().agreed_errors();
  retrieval_result<Scalar> result;
  try {
    if (!scattered) return engram::retrieve(energy, queries, stepper, stop, options, ws);
    if (queries.cols() > 0) {
      result = engram::retrieve(energy, queries, stepper, stop, options, ws);
    } else {
      energy.join_validate();
      result.states.resize(energy.dim(), 0);
    }
  } catch (...) {
    if (energy.comm().agreed_errors() != agreed || energy.comm().broken())
      throw;  // raised on every rank alike
    // This rank failed on its own (a clamp of the wrong shape, a stepper it refused) while
    // the others are in a step or a validation: one agreement round tells them, and every
    // rank raises, this one its own error.
    energy.comm().agree(collective::evaluate, -1, [] { throw; });
  }
  while (energy.join_step(ws)) {
  }
  return result;
}

}  // namespace engram::distributed
