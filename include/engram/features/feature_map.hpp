// What a feature map is (DESIGN, "Feature map"): phi: R^D -> R^F on batches, with its size F,
// the Jacobian-transpose product J_phi(x)^T w, the projection s = <t, phi(x)> with J^T t in one
// pass (the hot path of DrDAM), and accumulation of phi over patterns into a memory tensor.
// Random maps name a formula (cos_features, ...) and are random_features<Formula, Scalar>;
// exact maps (quadratic_features) are classes of their own.
#pragma once

#include <concepts>
#include <type_traits>

#include "engram/core/types.hpp"
#include "engram/features/quadratic.hpp"
#include "engram/features/random_features.hpp"

namespace engram {

template <class M>
concept feature_map = real_scalar<typename M::scalar_type> &&
    requires(const M& m, const matrix<typename M::scalar_type>& x,
             const vector<typename M::scalar_type>& t, vector<typename M::scalar_type>& s,
             matrix<typename M::scalar_type>* jt, typename M::workspace_type& ws) {
  { m.dim() } -> std::convertible_to<index>;
  { m.size() } -> std::convertible_to<index>;
  { m.beta() } -> std::convertible_to<typename M::scalar_type>;
  { m.make_workspace() } -> std::same_as<typename M::workspace_type>;
  { m.phi(x) } -> std::same_as<matrix<typename M::scalar_type>>;
  { m.jacobian_transpose(x, x) } -> std::same_as<matrix<typename M::scalar_type>>;
  m.project(x, t, s, jt, ws);
  m.accumulate(x, s, typename M::scalar_type(1));
  m.check(x, "x");
};

/// The map type a memory or energy uses for `M`: M itself when it is a feature map, the random
/// map random_features<M, Scalar> when it is a random-feature formula.
template <class M, class Scalar>
struct feature_map_of {
  using type = M;
};
template <random_feature_formula M, class Scalar>
struct feature_map_of<M, Scalar> {
  using type = random_features<M, Scalar>;
};
template <class M, class Scalar>
using feature_map_of_t = typename feature_map_of<M, Scalar>::type;

}  // namespace engram
