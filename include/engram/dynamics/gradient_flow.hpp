// The gradient flow of an energy, dx/dt = -grad E(x), with clamped coordinates held fixed
// (their component of dx/dt is zero: seed 001 eq. 5 and App. D, the visible pixels of an
// occluded image). E is its Lyapunov energy. It meets energies only through the
// energy_function concept and owns (or borrows) the energy's workspace, so a descent loop
// allocates nothing per step. When the energy has a fixed-point map (compact kernels), the flow
// exposes it with the clamp applied, for centroid_iteration. A step of centroid_iteration maps
// the states the flow evaluated last: when the energy can read its map from that evaluation
// (fixed_point_from_evaluation), the flow keeps a copy of the states it evaluated and, finding
// the same states, maps them without a second support search.
#pragma once

#include <optional>
#include <vector>

#include "engram/backend/cpu.hpp"
#include "engram/core/concepts.hpp"
#include "engram/core/error.hpp"
#include "engram/core/types.hpp"

namespace engram {

template <energy_function Energy>
class gradient_flow {
 public:
  using scalar_type = typename Energy::scalar_type;
  using energy_type = Energy;
  using workspace_type = typename Energy::workspace_type;

  /// The flow of `energy` (held by reference) over a batch of `batch` columns; `clamp` is
  /// empty (nothing clamped), D x 1 (shared by the batch) or D x batch.
  gradient_flow(const Energy& energy, index batch, const mask& clamp = {})
      : energy_(&energy), own_(energy.make_workspace()), ws_(&*own_), generation_(generation()) {
    set_clamp(clamp, batch);
  }
  /// The same, evaluating with the caller's workspace.
  gradient_flow(const Energy& energy, index batch, const mask& clamp, workspace_type& workspace)
      : energy_(&energy), ws_(&workspace), generation_(generation()) {
    set_clamp(clamp, batch);
  }
  gradient_flow(const gradient_flow&) = delete;
  gradient_flow& operator=(const gradient_flow&) = delete;

  index dim() const { return energy_->dim(); }
  const Energy& energy() const { return *energy_; }
  /// The energy's ceiling (see has_ceiling), where the energy has one.
  scalar_type ceiling() const requires has_ceiling<Energy> { return energy_->ceiling(); }
  workspace_type& workspace() { return *ws_; }
  /// 1 where coordinate i of working column j may move, 0 where it is clamped (empty: none).
  const matrix<scalar_type>& free() const { return free_; }

  /// dX/dt = -grad E(X), clamped coordinates zeroed.
  void operator()(const matrix<scalar_type>& x, matrix<scalar_type>& dxdt) {
    energies_.resize(x.cols());
    (*this)(x, dxdt, energies_);
  }
  /// dX/dt and E(X) in one pass.
  void operator()(const matrix<scalar_type>& x, matrix<scalar_type>& dxdt, vector<scalar_type>& e) {
    dxdt.resize(x.rows(), x.cols());
    e.resize(x.cols());
    if (generation() != generation_)
      throw memory_changed(
          "the memory of the energy changed (add() or remove()) during the integration; change "
          "a memory only while no retrieval or evaluation uses it");
    energy_->evaluate(x, e, &dxdt, *ws_);
    if constexpr (maps_from_evaluation) {
      evaluated_ = x;
      evaluation_kept_ = true;
    }
    dxdt = -dxdt;
    mask_columns(cpu{}, free_, dxdt);
  }

  /// The energy's fixed-point map with clamped coordinates kept: column j of `out` is the map
  /// of column j of `x` where counts(j) > 0.
  void fixed_point(const matrix<scalar_type>& x, matrix<scalar_type>& out,
                   Eigen::Matrix<index, Eigen::Dynamic, 1>& counts) requires
      requires(const Energy& en, matrix<scalar_type>& o, Eigen::Matrix<index, Eigen::Dynamic, 1>& n,
               workspace_type& w) {
    en.fixed_point_map(x, o, n, w);
  }
  {
    if (generation() != generation_)
      throw memory_changed("the memory of the energy changed during the integration");
    if constexpr (maps_from_evaluation) {
      // Bitwise the same states (a compacted batch has fewer columns): the workspace still
      // holds their sums over the support.
      if (evaluation_kept_ && evaluated_.cols() == x.cols() && evaluated_ == x)
        energy_->fixed_point_from_evaluation(x, out, counts, *ws_);
      else
        energy_->fixed_point_map(x, out, counts, *ws_);
      evaluation_kept_ = false;  // the map's own search, if any, overwrote nothing we keep
    } else {
      energy_->fixed_point_map(x, out, counts, *ws_);
    }
    if (free_.size() == 0) return;
    for (index j = 0; j < x.cols(); ++j) {
      const auto moves = free_.col(free_.cols() == 1 ? 0 : j).array() > scalar_type(0);
      out.col(j) = moves.select(out.col(j), x.col(j));
    }
  }

  /// Keeps the per-column clamp, and the workspace's per-column state, of the columns still
  /// running.
  void compact(const std::vector<index>& keep) {
    evaluation_kept_ = false;
    // Per-column state of the energy's workspace (a compact kernel's candidate lists) follows.
    if constexpr (requires { ws_->compact(keep); }) ws_->compact(keep);
    if (free_.cols() <= 1) return;
    compact_columns(cpu{}, free_, keep);
    free_.conservativeResize(Eigen::NoChange, index(keep.size()));
  }

 private:
  std::uint64_t generation() const {
    if constexpr (has_generation<Energy>)
      return energy_->generation();
    else
      return 0;
  }

  void set_clamp(const mask& clamp, index batch) {
    const index d = energy_->dim();
    if (clamp.size() > 0 && (clamp.rows() != d || (clamp.cols() != 1 && clamp.cols() != batch)))
      throw dimension_mismatch(detail::message("clamp mask is ", clamp.rows(), " x ", clamp.cols(),
                                               "; it must be ", d, " x 1 or ", d, " x ", batch,
                                               " (dimension x 1 or dimension x batch)"));
    if (clamp.size() > 0) free_ = (!clamp.array()).template cast<scalar_type>().matrix();
  }

  static constexpr bool maps_from_evaluation =
      requires(const Energy& en, const matrix<scalar_type>& x, matrix<scalar_type>& o,
               Eigen::Matrix<index, Eigen::Dynamic, 1>& n, const workspace_type& w) {
    en.fixed_point_from_evaluation(x, o, n, w);
  };

  const Energy* energy_;
  // Only a flow that made its own workspace holds one: some workspaces (sum_energy's tuple of
  // its terms') have no default state.
  std::optional<workspace_type> own_;
  workspace_type* ws_;
  std::uint64_t generation_;
  matrix<scalar_type> free_;
  vector<scalar_type> energies_;
  matrix<scalar_type> evaluated_;  // the states of the last evaluation (maps_from_evaluation)
  bool evaluation_kept_ = false;   // the workspace still holds their sums
};

}  // namespace engram
