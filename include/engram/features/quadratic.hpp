// The exact quadratic feature map on R^2 of seed 000 (Lipshutz et al., the kernel Hopfield
// network that learns a ring attractor): phi(x) = (2 x1^2 - 1, 2 x2^2 - 1, 2 x1 x2), F = 3,
// with the exact kernel K(x, y) = <phi(x), phi(y)>; on the unit circle phi(cos t, sin t) =
// (cos 2t, -cos 2t, sin 2t). Its Jacobian is J = [[4 x1, 0], [0, 4 x2], [2 x2, 2 x1]], so
// J^T w = (4 x1 w1 + 2 x2 w3, 4 x2 w2 + 2 x1 w3). beta is the temperature an energy built on
// the map uses (DrDAM's -(1/beta) log <T, phi(x)>); the map itself does not depend on it.
#pragma once

#include "engram/core/error.hpp"
#include "engram/core/types.hpp"

namespace engram {

template <real_scalar Scalar>
class quadratic_features {
 public:
  using scalar_type = Scalar;
  struct workspace_type {};  // nothing to keep: the map is three formulas

  explicit quadratic_features(Scalar beta = 1) {
    require_positive("beta", beta);
    beta_ = beta;
  }

  static constexpr index dim() { return 2; }
  static constexpr index size() { return 3; }  ///< F
  Scalar beta() const { return beta_; }
  workspace_type make_workspace() const { return {}; }

  matrix<Scalar> phi(const Eigen::Ref<const matrix<Scalar>>& x) const {
    check(x, "queries");
    matrix<Scalar> out(3, x.cols());
    // Entry by entry: GCC 12 with AVX warns (-Warray-bounds) about the packet copy of a fixed
    // 3-vector into a dynamic column, a branch that never runs.
    for (index b = 0; b < x.cols(); ++b) {
      const auto p = phi_column(x(0, b), x(1, b));
      out(0, b) = p(0), out(1, b) = p(1), out(2, b) = p(2);
    }
    return out;
  }

  /// Column b is J_phi(x_b)^T w_b for the columns of `w` (3 x B).
  matrix<Scalar> jacobian_transpose(const Eigen::Ref<const matrix<Scalar>>& x,
                                    const Eigen::Ref<const matrix<Scalar>>& w) const {
    check(x, "queries");
    if (w.rows() != 3 || w.cols() != x.cols())
      throw dimension_mismatch(detail::message("w is ", w.rows(), " x ", w.cols(),
                                               "; it must be F x B = 3 x ", x.cols()));
    matrix<Scalar> out(2, x.cols());
    for (index b = 0; b < x.cols(); ++b) {
      const auto v = pullback(x(0, b), x(1, b), w.col(b));
      out(0, b) = v(0), out(1, b) = v(1);
    }
    return out;
  }

  /// s_b = <t, phi(x_b)> and, when jt is not null, J_phi(x_b)^T t.
  void project(const Eigen::Ref<const matrix<Scalar>>& x, const vector<Scalar>& t,
               Eigen::Ref<vector<Scalar>> s, matrix<Scalar>* jt, workspace_type&) const {
    require_rows("queries", x.rows(), 2, "the feature map's input dimension");
    if (t.size() != 3 || s.size() != x.cols())
      throw dimension_mismatch(detail::message("project() got a tensor of ", t.size(),
                                               " entries (F = 3) and ", s.size(), " outputs for ",
                                               x.cols(), " queries"));
    if (jt) jt->resize(2, x.cols());
    for (index b = 0; b < x.cols(); ++b) {
      s(b) = t.dot(phi_column(x(0, b), x(1, b)));
      if (jt) jt->col(b) = pullback(x(0, b), x(1, b), t);
    }
  }
  void project(const Eigen::Ref<const matrix<Scalar>>& x, const vector<Scalar>& t,
               Eigen::Ref<vector<Scalar>> s, matrix<Scalar>* jt) const {
    workspace_type ws;
    project(x, t, s, jt, ws);
  }

  /// t += sign * sum over the columns of x of phi(x).
  void accumulate(const Eigen::Ref<const matrix<Scalar>>& x, Eigen::Ref<vector<Scalar>> t,
                  Scalar sign = 1) const {
    check(x, "patterns");
    if (t.size() != 3)
      throw dimension_mismatch(
          detail::message("the memory tensor has ", t.size(), " entries, the feature map F = 3"));
    for (index b = 0; b < x.cols(); ++b) t += sign * phi_column(x(0, b), x(1, b));
  }

  void check(const Eigen::Ref<const matrix<Scalar>>& x, const char* name) const {
    require_rows(name, x.rows(), 2, "the feature map's input dimension");
    require_finite(name, x);
  }

 private:
  static Eigen::Matrix<Scalar, 3, 1> phi_column(Scalar x1, Scalar x2) {
    return {2 * x1 * x1 - 1, 2 * x2 * x2 - 1, 2 * x1 * x2};
  }
  template <class W>
  static Eigen::Matrix<Scalar, 2, 1> pullback(Scalar x1, Scalar x2, const W& w) {
    return {4 * x1 * w(0) + 2 * x2 * w(2), 4 * x2 * w(1) + 2 * x1 * w(2)};
  }

  Scalar beta_{};
};

}  // namespace engram
