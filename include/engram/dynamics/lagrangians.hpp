// Lagrangians of neural dynamics (Krotov & Hopfield 2020; seed 003 sec. 2): a convex-ish
// function L of the state whose gradient g = grad L is the activation and whose Hessian Lambda
// decides stability and dead neurons. Each policy gives, for D x B batches (columns are
// states): L per column, g, the product Lambda(y) v, and the dense Lambda(y) of one state, in
// the cheapest exact form.
//   relu_lagrangian:        L = sum 1/2 ReLU(y)^2, g = ReLU(y), Lambda = diag 1[y > 0]
//   softplus_lagrangian:    L = sum log(1 + e^y), g = sigmoid(y), Lambda = diag s(1 - s)
//   tanh_lagrangian:        L = sum log cosh y, g = tanh y, Lambda = diag (1 - tanh^2 y)
//   lse_lagrangian:         L = (1/beta) log sum e^{beta y}, g = softmax(beta y),
//                           Lambda = beta (diag p - p p^T) (a diagonal minus rank one)
//   smooth_leaky_lagrangian (seed 003 Example 7): g(u) = u (5 + 3 erf(3u/8)) / 8,
//                           L(u) = [5u^2/2 + 3((u^2/2 - 16/9) erf(3u/8)
//                                   + (4u/(3 sqrt pi)) e^{-9u^2/64})] / 8,
//                           g'(u) = (5 + 3 erf(3u/8))/8 + 9u e^{-9u^2/64}/(32 sqrt pi), in
//                           [0.153, 1.097]: Lambda is positive definite (the paper says not).
//   layered_lagrangian:     one policy per layer of a hierarchical network (seed 003 Example 1),
//                           L the sum of the layers' Lagrangians, Lambda block diagonal.
// ReLU's Lambda at y = 0 is taken as 0 (the right limit of the indicator is 1, the left 0):
// a neuron exactly at 0 counts as dead.
#pragma once

#include <cmath>
#include <numbers>
#include <tuple>
#include <utility>
#include <vector>

#include "engram/core/error.hpp"
#include "engram/core/types.hpp"

namespace engram {

namespace detail {

/// The shared batch interface of a Lagrangian whose Hessian is diagonal: Derived gives
/// `unit_value(y)`, `unit_activation(y)` and `unit_slope(y)` for one coordinate.
template <class Derived, real_scalar Scalar>
struct diagonal_lagrangian {
  using scalar_type = Scalar;
  static constexpr bool diagonal = true;

  void value(const Eigen::Ref<const matrix<Scalar>>& y, Eigen::Ref<vector<Scalar>> out) const {
    for (index b = 0; b < y.cols(); ++b) {
      Scalar s = 0;
      for (index i = 0; i < y.rows(); ++i) s += Derived::unit_value(y(i, b));
      out(b) = s;
    }
  }
  void activation(const Eigen::Ref<const matrix<Scalar>>& y, Eigen::Ref<matrix<Scalar>> g) const {
    g = y.unaryExpr([](Scalar v) { return Derived::unit_activation(v); });
  }
  /// out = Lambda(y_b) v_b for every column b.
  void hessian_product(const Eigen::Ref<const matrix<Scalar>>& y,
                       const Eigen::Ref<const matrix<Scalar>>& v,
                       Eigen::Ref<matrix<Scalar>> out) const {
    out = y.unaryExpr([](Scalar t) { return Derived::unit_slope(t); }).cwiseProduct(v);
  }
  /// Lambda(y) of one state, dense.
  matrix<Scalar> hessian(const Eigen::Ref<const vector<Scalar>>& y) const {
    return y.unaryExpr([](Scalar t) { return Derived::unit_slope(t); }).asDiagonal();
  }
};

}  // namespace detail

template <real_scalar Scalar>
struct relu_lagrangian : detail::diagonal_lagrangian<relu_lagrangian<Scalar>, Scalar> {
  static constexpr const char* name = "relu";
  static Scalar unit_value(Scalar y) { return y > 0 ? Scalar(0.5) * y * y : Scalar(0); }
  static Scalar unit_activation(Scalar y) { return y > 0 ? y : Scalar(0); }
  static Scalar unit_slope(Scalar y) { return y > 0 ? Scalar(1) : Scalar(0); }
};

template <real_scalar Scalar>
struct softplus_lagrangian : detail::diagonal_lagrangian<softplus_lagrangian<Scalar>, Scalar> {
  static constexpr const char* name = "softplus";
  static Scalar unit_value(Scalar y) {  // log(1 + e^y) without overflow
    return std::max(y, Scalar(0)) + std::log1p(std::exp(-std::abs(y)));
  }
  static Scalar unit_activation(Scalar y) {
    return y >= 0 ? Scalar(1) / (1 + std::exp(-y)) : std::exp(y) / (1 + std::exp(y));
  }
  static Scalar unit_slope(Scalar y) {
    const Scalar s = unit_activation(y);
    return s * (1 - s);
  }
};

template <real_scalar Scalar>
struct tanh_lagrangian : detail::diagonal_lagrangian<tanh_lagrangian<Scalar>, Scalar> {
  static constexpr const char* name = "tanh";
  static Scalar unit_value(Scalar y) {  // log cosh y = |y| + log(1 + e^{-2|y|}) - log 2
    const Scalar a = std::abs(y);
    return a + std::log1p(std::exp(-2 * a)) - std::numbers::ln2_v<Scalar>;
  }
  static Scalar unit_activation(Scalar y) { return std::tanh(y); }
  static Scalar unit_slope(Scalar y) {
    const Scalar t = std::tanh(y);
    return 1 - t * t;
  }
};

template <real_scalar Scalar>
struct smooth_leaky_lagrangian
    : detail::diagonal_lagrangian<smooth_leaky_lagrangian<Scalar>, Scalar> {
  static constexpr const char* name = "smooth_leaky_relu";
  static Scalar unit_value(Scalar u) {
    const Scalar pi = std::numbers::pi_v<Scalar>;
    return (Scalar(2.5) * u * u +
            3 * ((u * u / 2 - Scalar(16) / 9) * std::erf(Scalar(3) * u / 8) +
                 4 * u / (3 * std::sqrt(pi)) * std::exp(-Scalar(9) * u * u / 64))) /
           8;
  }
  static Scalar unit_activation(Scalar u) { return u * (5 + 3 * std::erf(Scalar(3) * u / 8)) / 8; }
  static Scalar unit_slope(Scalar u) {
    const Scalar pi = std::numbers::pi_v<Scalar>;
    return (5 + 3 * std::erf(Scalar(3) * u / 8)) / 8 +
           9 * u * std::exp(-Scalar(9) * u * u / 64) / (32 * std::sqrt(pi));
  }
};

/// L = (1/beta) log sum_i e^{beta y_i} over all coordinates (one layer).
template <real_scalar Scalar>
struct lse_lagrangian {
  using scalar_type = Scalar;
  static constexpr const char* name = "lse";
  static constexpr bool diagonal = false;
  Scalar beta = 1;

  void validate() const { require_positive("lse_lagrangian.beta", beta); }
  void value(const Eigen::Ref<const matrix<Scalar>>& y, Eigen::Ref<vector<Scalar>> out) const {
    for (index b = 0; b < y.cols(); ++b) {
      const Scalar m = y.col(b).maxCoeff();
      out(b) = m + std::log((beta * (y.col(b).array() - m)).exp().sum()) / beta;
    }
  }
  void activation(const Eigen::Ref<const matrix<Scalar>>& y, Eigen::Ref<matrix<Scalar>> g) const {
    for (index b = 0; b < y.cols(); ++b) {
      const Scalar m = y.col(b).maxCoeff();
      g.col(b) = (beta * (y.col(b).array() - m)).exp().matrix();
      g.col(b) /= g.col(b).sum();
    }
  }
  void hessian_product(const Eigen::Ref<const matrix<Scalar>>& y,
                       const Eigen::Ref<const matrix<Scalar>>& v,
                       Eigen::Ref<matrix<Scalar>> out) const {
    matrix<Scalar> p(y.rows(), y.cols());
    activation(y, p);
    for (index b = 0; b < y.cols(); ++b)
      out.col(b) = beta * (p.col(b).cwiseProduct(v.col(b)) - p.col(b) * p.col(b).dot(v.col(b)));
  }
  matrix<Scalar> hessian(const Eigen::Ref<const vector<Scalar>>& y) const {
    matrix<Scalar> p(y.size(), 1);
    activation(y, p);
    matrix<Scalar> h = -beta * p * p.transpose();
    h.diagonal() += beta * p.col(0);
    return h;
  }
};

/// One Lagrangian per layer of sizes n_1, ..., n_m (the layers in order down the state).
template <class... Layers>
class layered_lagrangian {
  using first = std::tuple_element_t<0, std::tuple<Layers...>>;

 public:
  using scalar_type = typename first::scalar_type;
  static constexpr bool diagonal = (Layers::diagonal && ...);
  static constexpr const char* name = "layered";

  layered_lagrangian(std::vector<index> sizes, Layers... layers)
      : sizes_(std::move(sizes)), layers_(std::move(layers)...) {
    if (sizes_.size() != sizeof...(Layers))
      throw invalid_argument(detail::message("layered_lagrangian has ", sizeof...(Layers),
                                             " layers but ", sizes_.size(), " sizes"));
    for (std::size_t i = 0; i < sizes_.size(); ++i)
      if (sizes_[i] < 1)
        throw invalid_argument(
            detail::message("layered_lagrangian: layer ", i, " has size ", sizes_[i]));
  }
  const std::vector<index>& sizes() const { return sizes_; }
  index dim() const {
    index n = 0;
    for (index s : sizes_) n += s;
    return n;
  }

  void value(const Eigen::Ref<const matrix<scalar_type>>& y,
             Eigen::Ref<vector<scalar_type>> out) const {
    check(y.rows());
    out.setZero();
    vector<scalar_type> part(y.cols());
    each([&](const auto& layer, index r0, index n) {
      layer.value(y.middleRows(r0, n), part);
      out += part;
    });
  }
  void activation(const Eigen::Ref<const matrix<scalar_type>>& y,
                  Eigen::Ref<matrix<scalar_type>> g) const {
    check(y.rows());
    each([&](const auto& layer, index r0, index n) {
      layer.activation(y.middleRows(r0, n), g.middleRows(r0, n));
    });
  }
  void hessian_product(const Eigen::Ref<const matrix<scalar_type>>& y,
                       const Eigen::Ref<const matrix<scalar_type>>& v,
                       Eigen::Ref<matrix<scalar_type>> out) const {
    check(y.rows());
    each([&](const auto& layer, index r0, index n) {
      layer.hessian_product(y.middleRows(r0, n), v.middleRows(r0, n), out.middleRows(r0, n));
    });
  }
  matrix<scalar_type> hessian(const Eigen::Ref<const vector<scalar_type>>& y) const {
    check(y.size());
    matrix<scalar_type> h = matrix<scalar_type>::Zero(y.size(), y.size());
    each([&](const auto& layer, index r0, index n) {
      h.block(r0, r0, n, n) = layer.hessian(y.segment(r0, n));
    });
    return h;
  }

 private:
  void check(index rows) const {
    if (rows != dim())
      throw dimension_mismatch(
          detail::message("the state has ", rows, " rows; the layers' sizes sum to ", dim()));
  }
  template <class F>
  void each(F&& f) const {
    index r0 = 0;
    std::size_t i = 0;
    std::apply(
        [&](const auto&... layer) { ((f(layer, r0, sizes_[i]), r0 += sizes_[i], ++i), ...); },
        layers_);
  }

  std::vector<index> sizes_;
  std::tuple<Layers...> layers_;
};

/// What a Lagrangian provides (over scalar_type): L per column, g, Lambda v, dense Lambda.
template <class L>
concept lagrangian_function = real_scalar<typename L::scalar_type> &&
    requires(const L& l, const matrix<typename L::scalar_type>& y,
             matrix<typename L::scalar_type>& out, vector<typename L::scalar_type>& v) {
  l.value(y, v);
  l.activation(y, out);
  l.hessian_product(y, y, out);
  { l.hessian(v) } -> std::same_as<matrix<typename L::scalar_type>>;
};

}  // namespace engram
