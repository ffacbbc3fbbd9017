// The public face every engram energy shares: value(), gradient() and value_and_gradient() on
// D x B batches, written once over what an energy defines itself (CRTP, as Eigen's
// MatrixBase): validate(queries), the checks of the public boundary; workspace_type and
// make_workspace(), the scratch of one evaluation; and evaluate(queries, e, g, workspace), the
// unchecked hot path that integrate() calls. An energy may also define check_energies(e) to
// refuse results it cannot stand behind (an overflowing sum).
#pragma once

#include "engram/core/error.hpp"
#include "engram/core/types.hpp"

namespace engram {

/// Energies and gradients of one batch; `auto [e, g] = energy.value_and_gradient(x);`.
template <real_scalar Scalar>
struct energy_and_gradient {
  vector<Scalar> value;     // B energies
  matrix<Scalar> gradient;  // D x B
};

template <class Derived, real_scalar Scalar>
class energy_base {
 public:
  /// The energies of the columns of `queries` (D x B).
  vector<Scalar> value(const Eigen::Ref<const matrix<Scalar>>& queries) const {
    auto ws = self().make_workspace();
    return value(queries, ws);
  }
  /// The same with a workspace the caller keeps between calls.
  template <class Workspace>
  vector<Scalar> value(const Eigen::Ref<const matrix<Scalar>>& queries, Workspace& ws) const {
    self().validate(queries);
    self().check_workspace(ws);
    vector<Scalar> e(queries.cols());
    self().evaluate(queries, e, nullptr, ws);
    self().check_energies(e);
    return e;
  }

  /// The gradients of the columns of `queries` (D x B).
  matrix<Scalar> gradient(const Eigen::Ref<const matrix<Scalar>>& queries) const {
    return value_and_gradient(queries).gradient;
  }

  /// Energies and gradients in one pass.
  energy_and_gradient<Scalar> value_and_gradient(
      const Eigen::Ref<const matrix<Scalar>>& queries) const {
    auto ws = self().make_workspace();
    return value_and_gradient(queries, ws);
  }
  template <class Workspace>
  energy_and_gradient<Scalar> value_and_gradient(const Eigen::Ref<const matrix<Scalar>>& queries,
                                                 Workspace& ws) const {
    self().validate(queries);
    self().check_workspace(ws);
    energy_and_gradient<Scalar> out{vector<Scalar>(queries.cols()),
                                    matrix<Scalar>(queries.rows(), queries.cols())};
    self().evaluate(queries, out.value, &out.gradient, ws);
    self().check_energies(out.value);
    return out;
  }

  /// By default every value evaluate() produces is a legitimate result.
  void check_energies(const vector<Scalar>&) const {}

  /// Throws unless `ws` was made for an energy of this dimension.
  template <class Workspace>
  void check_workspace(const Workspace& ws) const {
    if (ws.dim != self().dim())
      throw dimension_mismatch(detail::message("workspace was made for dimension ", ws.dim,
                                               ", the energy has dimension ", self().dim()));
  }

 protected:
  /// The common checks: the dimension, at least one column, finite entries, a non-empty memory.
  static void validate_batch(const Eigen::Ref<const matrix<Scalar>>& queries, index dim,
                             bool memory_empty) {
    require_rows("queries", queries.rows(), dim, "the memory dimension");
    require_columns("queries", queries.cols());
    require_finite("queries", queries);
    if (memory_empty)
      throw empty_memory("the memory holds no patterns; add() some before evaluating the energy");
  }

 private:
  const Derived& self() const { return static_cast<const Derived&>(*this); }
};

}  // namespace engram
