// Neural dynamics built from a Lagrangian (seed 003), as vector fields with their Lyapunov
// energies, batched over columns, for integrate() with any stepper:
//   krotov_hopfield_field: ydot = W g(y) - y + b (eq. 1) with the energy (eq. 2)
//       E(y) = (y - b)^T g(y) - L(y) - 1/2 g(y)^T W g(y),  grad E = -Lambda(y) ydot,
//       non-increasing when W = W^T and Lambda >= 0. It is flat along dead neurons.
//   remedy_field<L, Rule>: udot = R(u) (g(W u + b) - u) (eq. 5) with the energy
//       alpha E1 + beta E2 + gamma E3 (eq. 6), f = u - g(Wu + b), y = Wu + b:
//         E1 = u^T W g(y) - L(y) - 1/2 g(y)^T W g(y),   E2 = 1/2 u^T W u - L(y),
//         E3 = 1/2 f^T S f;
//       Rule picks R: coupling_rule (R = W, Example 5.1, with E2), polar_rule (R = O of
//       W = O P, Example 5.2, with E2), contrastive_rule (R = I - W^T Lambda(y), Examples 6.1
//       and 7, with E3 and S = I: then udot = -grad E3 exactly, for any W) and hessian_rule
//       (R = Lambda(y), Example 6.2, with E3). E1 and E2 need a symmetric W.
//   original_remedy_field: ydot = (I - Lambda(y) W^T)(W g(y) - y + b) (eq. 9) with
//       E3 = 1/2 ||W g(y) - y + b||^2 (eq. 10, S = I): ydot = -grad E3 exactly, so
//       dE3/dt = -||(I - W Lambda)^T h||^2 <= 0 for any W. Seed 003 writes R = I - W Lambda(y),
//       which can raise E3 (SCIENCE.md: 8 of 20,000 random states with symmetric W); engram
//       uses the transpose.
// Couplings (seed 003 Examples 1 and 7):
//   hierarchical_coupling: block-tridiagonal W over layers n_1..n_m (an MLP with feedback),
//       zero diagonal blocks, Gaussian off-diagonal blocks with variance 1/(n_i + n_j),
//       symmetric (W_{i+1,i} = W_{i,i+1}^T) or drawn independently;
//   scale_blocks: each off-diagonal block divided by 2 ||block||_2, so ||W||_2 <= 1;
//   polar_factor: the orthogonal factor of W = O P.
// Couplings are checked once at construction (square, finite, sizes agreeing, symmetric where
// the energy needs it); the fields keep their scratch between calls.
#pragma once

#include <cmath>
#include <cstdint>
#include <limits>
#include <type_traits>
#include <utility>
#include <vector>

#include <Eigen/SVD>

#include "engram/core/error.hpp"
#include "engram/core/rng.hpp"
#include "engram/core/types.hpp"
#include "engram/dynamics/lagrangians.hpp"

namespace engram {

namespace detail {

template <class Scalar>
void check_coupling(const matrix<Scalar>& w, const vector<Scalar>& b, const char* who) {
  if (w.rows() != w.cols())
    throw dimension_mismatch(
        message(who, ": W is ", w.rows(), " x ", w.cols(), "; it must be square"));
  if (w.rows() < 1) throw dimension_mismatch(message(who, ": W is empty"));
  if (b.size() != w.rows())
    throw dimension_mismatch(
        message(who, ": b has ", b.size(), " entries; W is ", w.rows(), " x ", w.cols()));
  require_finite("W", w);
  require_finite("b", b);
}

/// max |W - W^T| within 64 ulps of max |W|.
template <class Scalar>
bool is_symmetric(const matrix<Scalar>& w) {
  const Scalar scale = w.cwiseAbs().maxCoeff();
  return (w - w.transpose()).cwiseAbs().maxCoeff() <=
         64 * std::numeric_limits<Scalar>::epsilon() * scale;
}

template <class Scalar>
void require_symmetric(const matrix<Scalar>& w, const char* energy, const char* remedy) {
  if (!is_symmetric(w))
    throw invalid_argument(message(
        energy, " needs a symmetric W (max |W - W^T| = ", (w - w.transpose()).cwiseAbs().maxCoeff(),
        "); for a non-symmetric W use ", remedy));
}

}  // namespace detail

/// ydot = W g(y) - y + b with its energy (2); W must be symmetric for the energy to be a
/// Lyapunov function, and is checked.
template <class Lagrangian>
class krotov_hopfield_field {
 public:
  using scalar_type = typename Lagrangian::scalar_type;
  using lagrangian_type = Lagrangian;

  krotov_hopfield_field(matrix<scalar_type> w, vector<scalar_type> b, Lagrangian l = {})
      : w_(std::move(w)), b_(std::move(b)), l_(std::move(l)) {
    detail::check_coupling(w_, b_, "krotov_hopfield_field");
    detail::require_symmetric(w_, "krotov_hopfield_field's energy (seed 003 eq. 2)",
                              "remedy_field<L, contrastive_rule> (energy E3) or "
                              "original_remedy_field");
  }

  index dim() const { return w_.rows(); }
  const matrix<scalar_type>& coupling() const { return w_; }
  const vector<scalar_type>& bias() const { return b_; }
  const Lagrangian& lagrangian() const { return l_; }

  void operator()(const matrix<scalar_type>& y, matrix<scalar_type>& dydt) {
    g_.resize(y.rows(), y.cols());
    l_.activation(y, g_);
    dydt.noalias() = w_ * g_;
    dydt -= y;
    dydt.colwise() += b_;
  }
  void operator()(const matrix<scalar_type>& y, matrix<scalar_type>& dydt, vector<scalar_type>& e) {
    (*this)(y, dydt);  // leaves g_ = g(y) and dydt = W g - y + b
    e.resize(y.cols());
    l_.value(y, e);
    // (y - b)^T g - L - 1/2 g^T W g, with W g = dydt + y - b.
    for (index c = 0; c < y.cols(); ++c) {
      const auto yb = y.col(c) - b_;
      e(c) = yb.dot(g_.col(c)) - e(c) - scalar_type(0.5) * g_.col(c).dot(dydt.col(c) + yb);
    }
  }

  /// Energy (2) of each column, checked.
  vector<scalar_type> energy(const matrix<scalar_type>& y) {
    check(y);
    matrix<scalar_type> dydt;
    vector<scalar_type> e;
    (*this)(y, dydt, e);
    return e;
  }
  /// grad E(y) = Lambda(y) (y - b - W g(y)) = -Lambda(y) ydot, per column.
  matrix<scalar_type> energy_gradient(const matrix<scalar_type>& y) {
    check(y);
    matrix<scalar_type> dydt, out(y.rows(), y.cols());
    (*this)(y, dydt);
    l_.hessian_product(y, -dydt, out);
    return out;
  }

 private:
  void check(const matrix<scalar_type>& y) const {
    require_rows("states", y.rows(), dim(), "the size of W");
    require_finite("states", y);
  }

  matrix<scalar_type> w_;
  vector<scalar_type> b_;
  Lagrangian l_;
  matrix<scalar_type> g_;
};

/// The weights of the remedy energy alpha E1 + beta E2 + gamma E3 (seed 003 eq. 6).
struct remedy_energy {
  double alpha = 0, beta = 0, gamma = 1;
};

/// R = W (seed 003 Example 5.1); its natural energy is E2.
struct coupling_rule {
  static constexpr const char* name = "R = W";
  static constexpr remedy_energy energy{0, 1, 0};
};
/// R = O, the orthogonal polar factor of W = O P (Example 5.2); energy E2.
struct polar_rule {
  static constexpr const char* name = "R = polar factor of W";
  static constexpr remedy_energy energy{0, 1, 0};
};
/// R = I - W^T Lambda(Wu + b) (Examples 6.1 and 7); energy E3 with S = I, any W.
struct contrastive_rule {
  static constexpr const char* name = "R = I - W^T Lambda";
  static constexpr remedy_energy energy{0, 0, 1};
};
/// R = Lambda(Wu + b) (Example 6.2); energy E3 with S = I.
struct hessian_rule {
  static constexpr const char* name = "R = Lambda";
  static constexpr remedy_energy energy{0, 0, 1};
};

/// The orthogonal factor O of the polar decomposition W = O P (O = U V^T from the SVD).
template <class Scalar>
matrix<Scalar> polar_factor(const matrix<Scalar>& w) {
  if (w.rows() != w.cols())
    throw dimension_mismatch(
        detail::message("polar_factor: W is ", w.rows(), " x ", w.cols(), "; it must be square"));
  require_finite("W", w);
  Eigen::JacobiSVD<matrix<Scalar>> svd(w, Eigen::ComputeFullU | Eigen::ComputeFullV);
  return svd.matrixU() * svd.matrixV().transpose();
}

/// udot = R(u) (g(W u + b) - u) with the energy of seed 003 eq. 6.
template <class Lagrangian, class Rule = contrastive_rule>
class remedy_field {
 public:
  using scalar_type = typename Lagrangian::scalar_type;
  using lagrangian_type = Lagrangian;

  /// `weights` default to the rule's own energy; `s` (for E3) defaults to the identity and
  /// must be symmetric.
  remedy_field(matrix<scalar_type> w, vector<scalar_type> b, Lagrangian l = {},
               remedy_energy weights = Rule::energy, matrix<scalar_type> s = {})
      : w_(std::move(w)), b_(std::move(b)), l_(std::move(l)), weights_(weights), s_(std::move(s)) {
    detail::check_coupling(w_, b_, "remedy_field");
    if (!std::isfinite(weights_.alpha) || !std::isfinite(weights_.beta) ||
        !std::isfinite(weights_.gamma))
      throw invalid_argument(detail::message("remedy_field: the energy weights alpha ",
                                             weights_.alpha, ", beta ", weights_.beta, ", gamma ",
                                             weights_.gamma, " must be finite"));
    if (weights_.alpha != 0 || weights_.beta != 0)
      detail::require_symmetric(w_, "the remedy energies E1 and E2 (seed 003 eq. 6)",
                                "the energy E3 (remedy_energy{0, 0, 1}) with contrastive_rule");
    if constexpr (std::is_same_v<Rule, coupling_rule> || std::is_same_v<Rule, polar_rule>)
      detail::require_symmetric(w_, Rule::name, "contrastive_rule (energy E3)");
    if (s_.size() > 0) {
      if (s_.rows() != w_.rows() || s_.cols() != w_.cols())
        throw dimension_mismatch(detail::message("remedy_field: S is ", s_.rows(), " x ", s_.cols(),
                                                 "; W is ", w_.rows(), " x ", w_.cols()));
      require_finite("S", s_);
      if (!detail::is_symmetric(s_))
        throw invalid_argument("remedy_field: S must be symmetric (seed 003 eq. 6)");
    }
    if constexpr (std::is_same_v<Rule, polar_rule>) o_ = polar_factor(w_);
  }

  index dim() const { return w_.rows(); }
  const matrix<scalar_type>& coupling() const { return w_; }
  const vector<scalar_type>& bias() const { return b_; }
  const Lagrangian& lagrangian() const { return l_; }
  const remedy_energy& weights() const { return weights_; }

  void operator()(const matrix<scalar_type>& u, matrix<scalar_type>& dudt) {
    evaluate(u);
    dudt.resize(u.rows(), u.cols());
    // r_ = g(y) - u = -f.
    if constexpr (std::is_same_v<Rule, coupling_rule>) {
      dudt.noalias() = w_ * r_;
    } else if constexpr (std::is_same_v<Rule, polar_rule>) {
      dudt.noalias() = o_ * r_;
    } else if constexpr (std::is_same_v<Rule, contrastive_rule>) {
      t_.resize(u.rows(), u.cols());
      l_.hessian_product(y_, r_, t_);
      dudt = r_;
      dudt.noalias() -= w_.transpose() * t_;
    } else {
      l_.hessian_product(y_, r_, dudt);
    }
  }
  void operator()(const matrix<scalar_type>& u, matrix<scalar_type>& dudt, vector<scalar_type>& e) {
    (*this)(u, dudt);
    energies(u, e);
  }

  /// R(u) of one state.
  matrix<scalar_type> rate_matrix(const Eigen::Ref<const vector<scalar_type>>& u) const {
    const auto [y, lambda] = at(u);
    const index n = dim();
    if constexpr (std::is_same_v<Rule, coupling_rule>)
      return w_;
    else if constexpr (std::is_same_v<Rule, polar_rule>)
      return o_;
    else if constexpr (std::is_same_v<Rule, contrastive_rule>)
      return matrix<scalar_type>::Identity(n, n) - w_.transpose() * lambda;
    else
      return lambda;
  }
  /// F(u) of seed 003 eq. 7, with grad E(u) = F(u) f(u), f = u - g(Wu + b):
  /// alpha W Lambda W + beta W + gamma (I - W^T Lambda) S (the paper's
  /// W Lambda (alpha W - gamma S) + beta W + gamma S for symmetric W).
  matrix<scalar_type> gradient_factor(const Eigen::Ref<const vector<scalar_type>>& u) const {
    const auto [y, lambda] = at(u);
    const index n = dim();
    const matrix<scalar_type> s =
        s_.size() > 0 ? s_ : matrix<scalar_type>(matrix<scalar_type>::Identity(n, n));
    return scalar_type(weights_.alpha) * w_ * lambda * w_ + scalar_type(weights_.beta) * w_ +
           scalar_type(weights_.gamma) *
               (matrix<scalar_type>::Identity(n, n) - w_.transpose() * lambda) * s;
  }
  /// R^T F + F^T R at u: dE/dt = -1/2 f^T (R^T F + F^T R) f along udot = -R f, so the energy
  /// is a Lyapunov function where this is positive semidefinite (eq. 7 with Q = 0).
  matrix<scalar_type> lyapunov_condition(const Eigen::Ref<const vector<scalar_type>>& u) const {
    const matrix<scalar_type> r = rate_matrix(u), f = gradient_factor(u);
    return r.transpose() * f + f.transpose() * r;
  }

  /// The energy alpha E1 + beta E2 + gamma E3 of each column, checked.
  vector<scalar_type> energy(const matrix<scalar_type>& u) {
    require_rows("states", u.rows(), dim(), "the size of W");
    require_finite("states", u);
    evaluate(u);
    vector<scalar_type> e;
    energies(u, e);
    return e;
  }

 private:
  std::pair<vector<scalar_type>, matrix<scalar_type>> at(
      const Eigen::Ref<const vector<scalar_type>>& u) const {
    require_rows("u", u.size(), dim(), "the size of W");
    require_finite("u", u);
    vector<scalar_type> y = w_ * u + b_;
    matrix<scalar_type> lambda = l_.hessian(y);
    return {std::move(y), std::move(lambda)};
  }
  /// y_ = W u + b, g_ = g(y), r_ = g - u.
  void evaluate(const matrix<scalar_type>& u) {
    y_.noalias() = w_ * u;
    y_.colwise() += b_;
    g_.resize(u.rows(), u.cols());
    l_.activation(y_, g_);
    r_ = g_ - u;
  }
  void energies(const matrix<scalar_type>& u, vector<scalar_type>& e) {
    const index batch = u.cols();
    e = vector<scalar_type>::Zero(batch);
    vector<scalar_type>& lag = lag_;  // kept between calls: a steady loop allocates nothing
    if (weights_.alpha != 0 || weights_.beta != 0) {
      lag.resize(batch);
      l_.value(y_, lag);
    }
    if (weights_.alpha != 0) {
      t_.noalias() = w_ * g_;
      for (index c = 0; c < batch; ++c)
        e(c) += scalar_type(weights_.alpha) *
                (u.col(c).dot(t_.col(c)) - lag(c) - scalar_type(0.5) * g_.col(c).dot(t_.col(c)));
    }
    if (weights_.beta != 0) {
      t_.noalias() = w_ * u;
      for (index c = 0; c < batch; ++c)
        e(c) += scalar_type(weights_.beta) * (scalar_type(0.5) * u.col(c).dot(t_.col(c)) - lag(c));
    }
    if (weights_.gamma != 0) {
      for (index c = 0; c < batch; ++c) {
        const scalar_type q =
            s_.size() > 0 ? r_.col(c).dot(s_ * r_.col(c)) : r_.col(c).squaredNorm();
        e(c) += scalar_type(weights_.gamma) * scalar_type(0.5) * q;
      }
    }
  }

  matrix<scalar_type> w_;
  vector<scalar_type> b_;
  Lagrangian l_;
  remedy_energy weights_;
  matrix<scalar_type> s_, o_;
  matrix<scalar_type> y_, g_, r_, t_;
  vector<scalar_type> lag_;
};

/// ydot = (I - Lambda(y) W^T)(W g(y) - y + b) with E3 = 1/2 ||W g(y) - y + b||^2 (seed 003
/// eqs. 9-10 with the transpose; see the header). Any W.
template <class Lagrangian>
class original_remedy_field {
 public:
  using scalar_type = typename Lagrangian::scalar_type;
  using lagrangian_type = Lagrangian;

  original_remedy_field(matrix<scalar_type> w, vector<scalar_type> b, Lagrangian l = {})
      : w_(std::move(w)), b_(std::move(b)), l_(std::move(l)) {
    detail::check_coupling(w_, b_, "original_remedy_field");
  }
  index dim() const { return w_.rows(); }

  void operator()(const matrix<scalar_type>& y, matrix<scalar_type>& dydt) {
    residual(y);
    t_.noalias() = w_.transpose() * h_;
    dydt.resize(y.rows(), y.cols());
    l_.hessian_product(y, t_, dydt);
    dydt = h_ - dydt;
  }
  void operator()(const matrix<scalar_type>& y, matrix<scalar_type>& dydt, vector<scalar_type>& e) {
    (*this)(y, dydt);
    e = scalar_type(0.5) * h_.colwise().squaredNorm().transpose();
  }
  /// E3 of each column, checked.
  vector<scalar_type> energy(const matrix<scalar_type>& y) {
    require_rows("states", y.rows(), dim(), "the size of W");
    require_finite("states", y);
    residual(y);
    return scalar_type(0.5) * h_.colwise().squaredNorm().transpose();
  }

 private:
  /// h_ = W g(y) - y + b.
  void residual(const matrix<scalar_type>& y) {
    g_.resize(y.rows(), y.cols());
    l_.activation(y, g_);
    h_.noalias() = w_ * g_;
    h_ -= y;
    h_.colwise() += b_;
  }

  matrix<scalar_type> w_;
  vector<scalar_type> b_;
  Lagrangian l_;
  matrix<scalar_type> g_, h_, t_;
};

/// Whether the off-diagonal blocks of a hierarchical coupling mirror each other.
enum class block_symmetry : bool { independent = false, symmetric = true };

namespace detail {
inline void check_layers(const std::vector<index>& sizes) {
  if (sizes.size() < 2)
    throw invalid_argument(
        message("a hierarchical coupling needs at least 2 layers; got ", sizes.size()));
  for (std::size_t i = 0; i < sizes.size(); ++i)
    if (sizes[i] < 1)
      throw invalid_argument(message("layer ", i, " has size ", sizes[i], "; sizes must be >= 1"));
}
inline index layer_total(const std::vector<index>& sizes) {
  index n = 0;
  for (index s : sizes) n += s;
  return n;
}
}  // namespace detail

/// Block-tridiagonal W over layers of `sizes` (seed 003 Example 1).
template <real_scalar Scalar>
matrix<Scalar> hierarchical_coupling(const std::vector<index>& sizes, std::uint64_t seed,
                                     block_symmetry symmetry = block_symmetry::symmetric) {
  detail::check_layers(sizes);
  const index n = detail::layer_total(sizes);
  matrix<Scalar> w = matrix<Scalar>::Zero(n, n);
  const philox_source rng(seed);
  index r0 = 0;
  for (std::size_t i = 0; i + 1 < sizes.size(); ++i) {
    const index a = sizes[i], b = sizes[i + 1], r1 = r0 + a;
    const Scalar sd = Scalar(1) / std::sqrt(Scalar(a + b));
    matrix<Scalar> up(a, b);
    rng.fill_normal(up, 2 * i);
    w.block(r0, r1, a, b) = sd * up;
    if (symmetry == block_symmetry::symmetric) {
      w.block(r1, r0, b, a) = sd * up.transpose();
    } else {
      matrix<Scalar> down(b, a);
      rng.fill_normal(down, 2 * i + 1);
      w.block(r1, r0, b, a) = sd * down;
    }
    r0 = r1;
  }
  return w;
}

/// Example 7: every non-zero off-diagonal block of a block-tridiagonal W over `sizes` divided by
/// 2 ||block||_2 (zero blocks stay zero).
template <real_scalar Scalar>
matrix<Scalar> scale_blocks(matrix<Scalar> w, const std::vector<index>& sizes) {
  detail::check_layers(sizes);
  const index n = detail::layer_total(sizes);
  if (w.rows() != n || w.cols() != n)
    throw dimension_mismatch(
        detail::message("W is ", w.rows(), " x ", w.cols(), "; the layer sizes sum to ", n));
  require_finite("W", w);
  std::vector<index> start{0};
  for (index s : sizes) start.push_back(start.back() + s);
  for (std::size_t i = 0; i < sizes.size(); ++i)
    for (std::size_t j = 0; j < sizes.size(); ++j) {
      if (i == j) continue;
      auto block = w.block(start[i], start[j], sizes[i], sizes[j]);
      if (block.cwiseAbs().maxCoeff() == 0) continue;
      Eigen::JacobiSVD<matrix<Scalar>> svd(block);
      block /= 2 * svd.singularValues()(0);
    }
  return w;
}

}  // namespace engram
