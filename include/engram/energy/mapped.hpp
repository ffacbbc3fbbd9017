// Energies on mapped states (seed 001 eq. 3's state map g): E_g(x) = E(g(x)) for any engram
// energy E, with grad E_g(x) = J_g(x)^T grad E(g(x)). A state map is a policy:
//   unit_sphere: g(x) = x / ||x||, J_g(x) = (I - g g^T) / ||x|| (symmetric). Seed 001 eq. 7 is
//                the dot-product LSE energy on it; its footnote 3 writes ||x||^{3/2} in that
//                denominator, which is wrong: the map is homogeneous of degree 0, so its
//                Jacobian scales as 1/||x|| (tests/science/papers.cpp pins this against central
//                differences, where the footnote's form misses by the factor ||x||^{-1/2}).
// E_g is constant along rays (E_g(c x) = E_g(x), c > 0) and its gradient is orthogonal to x, so
// descent turns x toward a memory's direction while ||x|| only grows (by second-order terms).
// x = 0 is outside the domain of g: the public calls refuse it, naming the column; inside a
// descent a column that reaches it yields NaN and is reported diverged.
#pragma once

#include <cmath>
#include <cstdint>
#include <utility>

#include "engram/core/concepts.hpp"
#include "engram/core/error.hpp"
#include "engram/core/types.hpp"
#include "engram/energy/energy_base.hpp"

namespace engram {

/// g(x) = x / ||x||.
struct unit_sphere {
  static constexpr const char* name = "unit_sphere";

  /// Throws unless every column has a non-zero, finite norm.
  template <class Scalar>
  static void check(const Eigen::Ref<const matrix<Scalar>>& x, const char* what) {
    for (index b = 0; b < x.cols(); ++b) {
      const Scalar n = x.col(b).stableNorm();
      if (!(n > Scalar(0)))
        throw invalid_argument(
            detail::message(what, " column ", b,
                            " is the zero vector; the state map x / ||x|| is undefined there"));
      if (!std::isfinite(n))
        throw not_finite(detail::message(what, " column ", b, " has a norm of ", n,
                                         ", beyond the range of its scalar type"));
    }
  }
  /// g = x / ||x|| column by column; `norms` gets ||x_b||.
  template <class Scalar>
  static void apply(const Eigen::Ref<const matrix<Scalar>>& x, matrix<Scalar>& g,
                    vector<Scalar>& norms) {
    norms.resize(x.cols());
    g.resize(x.rows(), x.cols());
    for (index b = 0; b < x.cols(); ++b) {
      norms(b) = x.col(b).stableNorm();  // no overflow of ||x||^2 for large entries
      g.col(b) = x.col(b) / norms(b);
    }
  }
  /// v <- J_g(x)^T v = (v - g <g, v>) / ||x||, column by column, given g(x) and ||x||.
  template <class Scalar>
  static void pullback(const matrix<Scalar>& g, const vector<Scalar>& norms, matrix<Scalar>& v) {
    for (index b = 0; b < v.cols(); ++b)
      v.col(b) = (v.col(b) - g.col(b) * g.col(b).dot(v.col(b))) / norms(b);
  }
};

/// What a state map provides: check, apply and the Jacobian-transpose pullback.
template <class M>
concept state_map = requires(const Eigen::Ref<const matrix<double>>& x, matrix<double>& g,
                             vector<double>& n) {
  { M::name } -> std::convertible_to<const char*>;
  M::template check<double>(x, "x");
  M::template apply<double>(x, g, n);
  M::template pullback<double>(g, n, g);
};

/// E(g(x)) for an engram energy E and a state map g. Holds a copy of the energy (energies are
/// light: they refer to their memory, which must outlive them).
template <energy_function Energy, state_map Map = unit_sphere>
class mapped_energy : public energy_base<mapped_energy<Energy, Map>, typename Energy::scalar_type> {
 public:
  using scalar_type = typename Energy::scalar_type;
  using energy_type = Energy;
  using map_type = Map;

  struct workspace_type {
    index dim = 0;
    typename Energy::workspace_type inner;
    matrix<scalar_type> mapped;  // g(x)
    vector<scalar_type> norms;   // ||x||
  };

  explicit mapped_energy(Energy energy) : energy_(std::move(energy)) {}

  const Energy& energy() const { return energy_; }
  Energy& energy() { return energy_; }
  index dim() const { return energy_.dim(); }
  workspace_type make_workspace() const { return {dim(), energy_.make_workspace(), {}, {}}; }
  /// The inner energy's ceiling and memory generation, where it has them.
  scalar_type ceiling() const requires has_ceiling<Energy> { return energy_.ceiling(); }
  std::uint64_t generation() const requires has_generation<Energy> { return energy_.generation(); }

  void validate(const Eigen::Ref<const matrix<scalar_type>>& queries) const {
    require_rows("queries", queries.rows(), dim(), "the memory dimension");
    require_columns("queries", queries.cols());
    require_finite("queries", queries);
    Map::template check<scalar_type>(queries, "queries");
    matrix<scalar_type> g;
    vector<scalar_type> n;
    Map::template apply<scalar_type>(queries, g, n);
    energy_.validate(g);
  }

  void evaluate(const Eigen::Ref<const matrix<scalar_type>>& queries,
                Eigen::Ref<vector<scalar_type>> energies, matrix<scalar_type>* gradient,
                workspace_type& ws) const {
    Map::template apply<scalar_type>(queries, ws.mapped, ws.norms);
    energy_.evaluate(ws.mapped, energies, gradient, ws.inner);
    if (gradient) Map::template pullback<scalar_type>(ws.mapped, ws.norms, *gradient);
  }

  void check_energies(const vector<scalar_type>& e) const { energy_.check_energies(e); }

 private:
  Energy energy_;
};

}  // namespace engram
