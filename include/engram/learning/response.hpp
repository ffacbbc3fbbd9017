// The response energies of seed 000 (Lipshutz): a network whose energy is not given by stored
// patterns but learned from noisy observations x, read out as the response y that minimises it.
//
//   hopfield_response (the linear network):
//       E(y; x, W, c) = -2 <x, y> - y^T W y + sum_i c_i y_i^2,   W = W^T,
//       grad_y E = -2 (x + W y - c o y),
//       fast dynamics ydot = x + W y - c o y = -1/2 grad_y E,
//       steady state y* = M^{-1} x with M = diag c - W, the unique minimiser when M is positive
//       definite; then E is strictly convex in y and the flow converges to y* from anywhere.
//       Without input, E(y; 0) = y^T M y: the learned energy, flat along M's small eigenvectors
//       (a line attractor when one eigenvalue is much smaller than the rest).
//
//   kernel_response<Map> (the dense network, any feature map Phi: R^D -> R^F):
//       E(y; x, A, g) = -2 K(x, y) - Phi(y)^T A Phi(y) + g K(y, y),   K(x, y) = <Phi(x), Phi(y)>,
//       grad_y E = -2 J_Phi(y)^T (Phi(x) + A Phi(y) - g Phi(y)),
//       fast dynamics ydot = J_Phi(y)^T (Phi(x) + A Phi(y) - g Phi(y)) = -1/2 grad_y E.
//       Without input (Phi(x) replaced by 0), E_0(y) = Phi(y)^T (g I - A) Phi(y) is the learned
//       energy; with seed 000's quadratic map its minima lie on a ring. J_Phi(0) = 0 for the
//       quadratic map, so y = 0 is always a fixed point of the flow: start relaxations at x.
//       The quadratic map has Phi(-y) = Phi(y): y and -y are the same point of the energy.
//
// Both write the energy as E = -<q, p> - <p, h> with p = y (Phi(y)), q = x (Phi(x)) and
// h = q + W p - c o p (q + A p - g p), the field's own intermediate, so the field gives its
// Lyapunov energy for one dot product per column. The fields hold their inputs per column and
// follow integrate()'s working set through compact(keep).
#pragma once

#include <cmath>
#include <limits>
#include <utility>
#include <vector>

#include <Eigen/Cholesky>
#include <Eigen/Eigenvalues>

#include "engram/backend/cpu.hpp"
#include "engram/core/error.hpp"
#include "engram/core/types.hpp"
#include "engram/features/feature_map.hpp"

namespace engram {

/// diag c - W (or g I - A) is not positive definite: the response energy has no minimum and the
/// fast dynamics diverge. The message names the smallest eigenvalue.
class not_positive_definite : public invalid_argument {
 public:
  using invalid_argument::invalid_argument;
};

namespace detail {

/// Throws unless `w` is square (n x n), finite and symmetric to rounding.
template <class Scalar>
void check_symmetric_weights(const matrix<Scalar>& w, index n, const char* name, const char* who) {
  if (w.rows() != n || w.cols() != n)
    throw dimension_mismatch(
        message(who, ": ", name, " is ", w.rows(), " x ", w.cols(), "; it must be ", n, " x ", n));
  require_finite(name, w);
  const Scalar scale = w.cwiseAbs().maxCoeff();
  const Scalar asym = (w - w.transpose()).cwiseAbs().maxCoeff();
  if (asym > 64 * std::numeric_limits<Scalar>::epsilon() * scale)
    throw invalid_argument(message(who, ": ", name, " must be symmetric (max |", name, " - ", name,
                                   "^T| = ", asym, ")"));
}

/// The smallest eigenvalue of a symmetric matrix.
template <class Scalar>
Scalar smallest_eigenvalue(const matrix<Scalar>& m) {
  Eigen::SelfAdjointEigenSolver<matrix<Scalar>> solver(m, Eigen::EigenvaluesOnly);
  return solver.eigenvalues()(0);
}

/// Column b of `drive` for working column b, compacted with integrate()'s working set.
template <class Scalar>
void compact_drive(matrix<Scalar>& drive, const std::vector<index>& keep) {
  if (drive.cols() <= 1) return;
  compact_columns(cpu{}, drive, keep);
  drive.conservativeResize(Eigen::NoChange, index(keep.size()));
}

}  // namespace detail

/// The linear response network (W, c) of seed 000.
template <real_scalar Scalar>
class hopfield_response {
 public:
  using scalar_type = Scalar;
  class field_type;

  /// W (N x N, symmetric, finite) and c (N entries, finite).
  hopfield_response(matrix<Scalar> w, vector<Scalar> c) : w_(std::move(w)), c_(std::move(c)) {
    require_columns("c", c_.size());
    detail::check_symmetric_weights(w_, c_.size(), "W", "hopfield_response");
    require_finite("c", c_);
  }
  /// W = 0 and c = c0 (> 0) on every neuron: M = c0 I, where learning starts.
  static hopfield_response initial(index n, Scalar c0) {
    require_columns("hopfield_response::initial n", n);
    require_positive("hopfield_response::initial c0", c0);
    return hopfield_response(matrix<Scalar>::Zero(n, n), vector<Scalar>::Constant(n, c0));
  }

  index dim() const { return c_.size(); }
  /// N, the number of features plasticity acts on (the neurons themselves).
  index features() const { return c_.size(); }
  const matrix<Scalar>& coupling() const { return w_; }  ///< W
  const vector<Scalar>& leak() const { return c_; }      ///< c
  /// M = diag c - W.
  matrix<Scalar> stiffness() const {
    matrix<Scalar> m = -w_;
    m.diagonal() += c_;
    return m;
  }
  /// The smallest eigenvalue of diag c - W (> 0: the energy has a unique minimum).
  Scalar smallest_eigenvalue() const { return detail::smallest_eigenvalue(stiffness()); }

  /// E(y_b; x_b) of the columns of `y` and `x` (N x B each).
  vector<Scalar> energy(const matrix<Scalar>& y, const matrix<Scalar>& x) const {
    check_pair(y, x);
    matrix<Scalar> h;
    vector<Scalar> e;
    evaluate(y, x, h, e);
    return e;
  }
  /// The learned energy without input, E(y; 0) = y^T (diag c - W) y.
  vector<Scalar> energy(const matrix<Scalar>& y) const {
    return energy(y, matrix<Scalar>::Zero(y.rows(), y.cols()));
  }
  /// grad_y E(y_b; x_b) = -2 (x + W y - c o y), per column.
  matrix<Scalar> gradient(const matrix<Scalar>& y, const matrix<Scalar>& x) const {
    check_pair(y, x);
    matrix<Scalar> h;
    vector<Scalar> e;
    evaluate(y, x, h, e);
    return Scalar(-2) * h;
  }

  /// y* = (diag c - W)^{-1} x for every column of x: the minimiser of E(.; x) and the fixed
  /// point of the fast dynamics. Throws not_positive_definite unless diag c - W is positive
  /// definite.
  matrix<Scalar> steady_state(const matrix<Scalar>& x) const {
    check_inputs(x);
    const auto llt = factor();
    return llt.solve(x);
  }
  /// The Cholesky factor of diag c - W; throws not_positive_definite when there is none.
  Eigen::LLT<matrix<Scalar>> factor() const {
    Eigen::LLT<matrix<Scalar>> llt(stiffness());
    if (llt.info() != Eigen::Success) throw_indefinite();
    return llt;
  }

  /// The fast dynamics ydot = x + W y - c o y for the columns of `x` (held by value).
  field_type field(const matrix<Scalar>& x) const {
    check_inputs(x);
    return field_type(*this, x);
  }

  /// Throws dimension_mismatch or not_finite for observations the network cannot take.
  void check_inputs(const matrix<Scalar>& x, const char* name = "observations") const {
    require_rows(name, x.rows(), dim(), "the number of neurons N");
    require_columns(name, x.cols());
    require_finite(name, x);
  }

  /// h = x + W y - c o y and E = -<x, y> - <y, h> for every column (unchecked).
  void evaluate(const matrix<Scalar>& y, const matrix<Scalar>& x, matrix<Scalar>& h,
                vector<Scalar>& e) const {
    h.noalias() = w_ * y;
    h += x;
    h -= (y.array().colwise() * c_.array()).matrix();
    e.resize(y.cols());
    for (index b = 0; b < y.cols(); ++b) e(b) = -x.col(b).dot(y.col(b)) - y.col(b).dot(h.col(b));
  }

  /// Features of the responses that plasticity correlates: y itself.
  const matrix<Scalar>& features_of(const matrix<Scalar>& y) const { return y; }

  /// Replaces W and c (learning's commit; the sizes are unchanged and W stays symmetric).
  void assign(matrix<Scalar> w, vector<Scalar> c) {
    ENGRAM_ASSERT(w.rows() == dim() && c.size() == dim());
    w_ = std::move(w);
    c_ = std::move(c);
  }

 private:
  void check_pair(const matrix<Scalar>& y, const matrix<Scalar>& x) const {
    check_inputs(x, "inputs");
    require_rows("responses", y.rows(), dim(), "the number of neurons N");
    if (y.cols() != x.cols())
      throw dimension_mismatch(detail::message("responses have ", y.cols(), " columns, inputs ",
                                               x.cols(), "; they must agree"));
    require_finite("responses", y);
  }
  [[noreturn]] void throw_indefinite() const {
    throw not_positive_definite(detail::message(
        "diag c - W is not positive definite (smallest eigenvalue ", smallest_eigenvalue(),
        "): the response energy has no minimum and the fast dynamics diverge; keep the leak "
        "rate eta_c above the Hebbian rate eta_W"));
  }

  matrix<Scalar> w_;
  vector<Scalar> c_;
};

/// ydot = x + W y - c o y, with E(y; x) as its Lyapunov energy.
template <real_scalar Scalar>
class hopfield_response<Scalar>::field_type {
 public:
  using scalar_type = Scalar;

  field_type(const hopfield_response& net, matrix<Scalar> x) : net_(&net), x_(std::move(x)) {}

  index dim() const { return net_->dim(); }
  const matrix<Scalar>& inputs() const { return x_; }

  void operator()(const matrix<Scalar>& y, matrix<Scalar>& dydt) {
    net_->evaluate(y, x_, dydt, e_);
  }
  void operator()(const matrix<Scalar>& y, matrix<Scalar>& dydt, vector<Scalar>& e) {
    net_->evaluate(y, x_, dydt, e);
  }
  void compact(const std::vector<index>& keep) { detail::compact_drive(x_, keep); }

 private:
  const hopfield_response* net_;
  matrix<Scalar> x_;
  vector<Scalar> e_;
};

/// The dense (kernel) response network (A, g) of seed 000 over a feature map.
template <class Map>
class kernel_response {
 public:
  using map_type = Map;
  using scalar_type = typename Map::scalar_type;
  using Scalar = scalar_type;
  class field_type;

  /// A (F x F, symmetric, finite) and g (finite) over `map`.
  kernel_response(Map map, matrix<Scalar> a, Scalar g)
      : map_(std::move(map)), a_(std::move(a)), g_(g) {
    detail::check_symmetric_weights(a_, index(map_.size()), "A", "kernel_response");
    require_finite_scalar("g", g_);
  }
  /// A = 0 and g = g0 (> 0): where learning starts.
  static kernel_response initial(Map map, Scalar g0) {
    require_positive("kernel_response::initial g0", g0);
    const index f = map.size();
    return kernel_response(std::move(map), matrix<Scalar>::Zero(f, f), g0);
  }

  index dim() const { return map_.dim(); }
  index features() const { return map_.size(); }  ///< F
  const Map& map() const { return map_; }
  const matrix<Scalar>& coupling() const { return a_; }  ///< A
  Scalar leak() const { return g_; }                     ///< g
  /// g I - A.
  matrix<Scalar> stiffness() const {
    matrix<Scalar> m = -a_;
    m.diagonal().array() += g_;
    return m;
  }
  /// The smallest eigenvalue of g I - A (> 0: the energy is bounded below in feature space).
  Scalar smallest_eigenvalue() const { return detail::smallest_eigenvalue(stiffness()); }
  /// Throws not_positive_definite unless g I - A is positive definite.
  void require_stable() const {
    Eigen::LLT<matrix<Scalar>> llt(stiffness());
    if (llt.info() != Eigen::Success)
      throw not_positive_definite(detail::message(
          "g I - A is not positive definite (smallest eigenvalue ", smallest_eigenvalue(),
          "): the response energy is unbounded below along the feature map's image; keep the "
          "leak rate eta_c above the Hebbian rate eta_W"));
  }

  /// E(y_b; x_b) for the columns of `y` and `x` (D x B each).
  vector<Scalar> energy(const matrix<Scalar>& y, const matrix<Scalar>& x) const {
    check_pair(y, x);
    return energy_with_drive(y, map_.phi(x));
  }
  /// The learned energy without input, E_0(y) = Phi(y)^T (g I - A) Phi(y).
  vector<Scalar> energy(const matrix<Scalar>& y) const {
    check_states(y);
    return energy_with_drive(y, matrix<Scalar>::Zero(features(), y.cols()));
  }
  /// grad_y E(y_b; x_b) = -2 J_Phi(y)^T (Phi(x) + A Phi(y) - g Phi(y)), per column.
  matrix<Scalar> gradient(const matrix<Scalar>& y, const matrix<Scalar>& x) const {
    check_pair(y, x);
    return gradient_with_drive(y, map_.phi(x));
  }
  /// grad E_0(y), the learned energy's gradient.
  matrix<Scalar> gradient(const matrix<Scalar>& y) const {
    check_states(y);
    return gradient_with_drive(y, matrix<Scalar>::Zero(features(), y.cols()));
  }

  /// The fast dynamics driven by the columns of `x`.
  field_type field(const matrix<Scalar>& x) const {
    check_inputs(x);
    return field_type(*this, map_.phi(x));
  }
  /// The fast dynamics without input (the gradient flow of E_0 at half speed), for `batch`
  /// columns.
  field_type free_field(index batch) const {
    require_columns("free_field batch", batch);
    return field_type(*this, matrix<Scalar>::Zero(features(), 1));
  }

  void check_inputs(const matrix<Scalar>& x, const char* name = "observations") const {
    if (x.rows() != dim())
      throw dimension_mismatch(detail::message(
          name, " have ", x.rows(), " rows; the feature map's input dimension is ", dim()));
    require_columns(name, x.cols());
    require_finite(name, x);
  }

  /// With p = Phi(y): h = q + A p - g p, E = -<q, p> - <p, h>, and dydt = J^T h when asked
  /// (unchecked). `q` is F x B, or F x 1 for a drive shared by every column.
  void evaluate(const matrix<Scalar>& y, const matrix<Scalar>& q, matrix<Scalar>* dydt,
                vector<Scalar>& e, matrix<Scalar>& p, matrix<Scalar>& h) const {
    p = map_.phi(y);
    h.noalias() = a_ * p;
    h -= g_ * p;
    if (q.cols() == p.cols())
      h += q;
    else
      h.colwise() += q.col(0);
    e.resize(y.cols());
    for (index b = 0; b < y.cols(); ++b)
      e(b) = -q.col(q.cols() == 1 ? 0 : b).dot(p.col(b)) - p.col(b).dot(h.col(b));
    if (dydt) *dydt = map_.jacobian_transpose(y, h);
  }

  /// Features of the responses that plasticity correlates: Phi(y).
  matrix<Scalar> features_of(const matrix<Scalar>& y) const { return map_.phi(y); }

  /// Replaces A and g (learning's commit).
  void assign(matrix<Scalar> a, Scalar g) {
    ENGRAM_ASSERT(a.rows() == features() && a.cols() == features());
    a_ = std::move(a);
    g_ = g;
  }

 private:
  void check_states(const matrix<Scalar>& y) const {
    if (y.rows() != dim())
      throw dimension_mismatch(detail::message(
          "responses have ", y.rows(), " rows; the feature map's input dimension is ", dim()));
    require_columns("responses", y.cols());
    require_finite("responses", y);
  }
  void check_pair(const matrix<Scalar>& y, const matrix<Scalar>& x) const {
    check_inputs(x, "inputs");
    check_states(y);
    if (y.cols() != x.cols())
      throw dimension_mismatch(detail::message("responses have ", y.cols(), " columns, inputs ",
                                               x.cols(), "; they must agree"));
  }
  vector<Scalar> energy_with_drive(const matrix<Scalar>& y, const matrix<Scalar>& q) const {
    matrix<Scalar> p, h;
    vector<Scalar> e;
    evaluate(y, q, nullptr, e, p, h);
    return e;
  }
  matrix<Scalar> gradient_with_drive(const matrix<Scalar>& y, const matrix<Scalar>& q) const {
    matrix<Scalar> p, h, dydt;
    vector<Scalar> e;
    evaluate(y, q, &dydt, e, p, h);
    return Scalar(-2) * dydt;
  }

  Map map_;
  matrix<Scalar> a_;
  Scalar g_;
};

/// ydot = J_Phi(y)^T (Phi(x) + A Phi(y) - g Phi(y)), with E(y; x) as its Lyapunov energy.
template <class Map>
class kernel_response<Map>::field_type {
 public:
  using scalar_type = typename Map::scalar_type;

  field_type(const kernel_response& net, matrix<scalar_type> drive)
      : net_(&net), q_(std::move(drive)) {}

  index dim() const { return net_->dim(); }
  /// Phi(x), F x B (F x 1 for the free field).
  const matrix<scalar_type>& drive() const { return q_; }

  void operator()(const matrix<scalar_type>& y, matrix<scalar_type>& dydt) {
    net_->evaluate(y, q_, &dydt, e_, p_, h_);
  }
  void operator()(const matrix<scalar_type>& y, matrix<scalar_type>& dydt, vector<scalar_type>& e) {
    net_->evaluate(y, q_, &dydt, e, p_, h_);
  }
  void compact(const std::vector<index>& keep) { detail::compact_drive(q_, keep); }

 private:
  const kernel_response* net_;
  matrix<scalar_type> q_;
  matrix<scalar_type> p_, h_;
  vector<scalar_type> e_;
};

}  // namespace engram
