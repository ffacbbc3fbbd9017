// The classical Hopfield network (Hopfield 1982; seed 001 eqs. 1-2, seed 004):
//   J = (1/N) xi xi^T with a zero diagonal, xi in {-1, +1}^{N x P} (Hebbian couplings),
//   E(sigma) = -1/2 sigma^T J sigma,   h = J sigma (local fields),   m = xi^T sigma / N (overlaps).
// Couplings come dense (dense_couplings: J itself, h costs O(N^2) per state) or as the patterns
// themselves (pattern_couplings: h = xi (xi^T sigma) / N - (P / N) sigma, O(N P) per state, the
// second term removing the diagonal P / N that +-1 patterns put on xi xi^T / N).
// ising_field<Couplings> is the spin_field the spin steppers (dynamics/spin_updates.hpp) move:
// alphabet {-1, +1}, gains (-h_i, +h_i), dX/dt = sign(h) - sigma (a zero field keeps the spin),
// and E as its Lyapunov energy. During a sweep it keeps the local fields (dense) or the overlaps
// (patterns) exact through every flip, so one spin update costs O(1) to decide and O(N) (dense)
// or O(P) (patterns) to apply.
#pragma once

#include <array>
#include <cmath>
#include <limits>
#include <span>
#include <utility>
#include <vector>

#include "engram/core/error.hpp"
#include "engram/core/types.hpp"

namespace engram {

namespace detail {

/// Throws invalid_argument naming the first entry of `xi` that is not -1 or +1.
template <class Scalar>
void require_ising_patterns(const matrix<Scalar>& xi, const char* who) {
  if (xi.rows() < 1 || xi.cols() < 1)
    throw dimension_mismatch(message(who, ": the patterns are ", xi.rows(), " x ", xi.cols(),
                                     "; N and P must be at least 1"));
  for (index p = 0; p < xi.cols(); ++p)
    for (index i = 0; i < xi.rows(); ++i)
      if (xi(i, p) != Scalar(1) && xi(i, p) != Scalar(-1))
        throw invalid_argument(message(who, ": pattern ", p, " has entry ", xi(i, p), " at row ", i,
                                       "; Hebbian couplings take patterns of -1 and +1"));
}

template <class Scalar>
inline constexpr std::array<Scalar, 2> ising_alphabet{Scalar(-1), Scalar(1)};

}  // namespace detail

/// Dense symmetric couplings J with a zero diagonal.
template <real_scalar Scalar>
class dense_couplings {
 public:
  using scalar_type = Scalar;
  /// Local fields of the columns being swept.
  struct cache_type {
    matrix<Scalar> h;
  };

  /// J (N x N, symmetric, finite); its diagonal is dropped (for +-1 spins it only adds a
  /// constant to the energy).
  explicit dense_couplings(matrix<Scalar> j) : j_(std::move(j)) {
    if (j_.rows() != j_.cols() || j_.rows() < 1)
      throw dimension_mismatch(detail::message("dense_couplings: J is ", j_.rows(), " x ",
                                               j_.cols(), "; it must be square and not empty"));
    require_finite("J", j_);
    const Scalar asym = (j_ - j_.transpose()).cwiseAbs().maxCoeff();
    if (asym > 64 * std::numeric_limits<Scalar>::epsilon() * j_.cwiseAbs().maxCoeff())
      throw invalid_argument(
          detail::message("dense_couplings: J must be symmetric (max |J - J^T| = ", asym, ")"));
    j_.diagonal().setZero();
  }

  index dim() const { return j_.rows(); }
  const matrix<Scalar>& matrix_form() const { return j_; }  ///< J

  /// h = J sigma for every column.
  void fields(const matrix<Scalar>& s, matrix<Scalar>& h) const { h.noalias() = j_ * s; }
  void begin(cache_type& c, const matrix<Scalar>& s) const { fields(s, c.h); }
  /// h = J sigma, leaving the sweep's cache filled for the same state.
  void fields(const matrix<Scalar>& s, matrix<Scalar>& h, cache_type& c) const {
    fields(s, h);
    c.h = h;
  }
  Scalar local_field(const cache_type& c, const matrix<Scalar>&, index b, index i) const {
    return c.h(i, b);
  }
  /// Spin i of column b changed by `delta`.
  void changed(cache_type& c, index b, index i, Scalar delta) const {
    c.h.col(b) += delta * j_.col(i);
  }

 private:
  matrix<Scalar> j_;
};

/// Hebbian couplings J = xi xi^T / N (zero diagonal) kept as the patterns.
template <real_scalar Scalar>
class pattern_couplings {
 public:
  using scalar_type = Scalar;
  /// Overlaps xi^T sigma (unnormalised) of the columns being swept.
  struct cache_type {
    matrix<Scalar> m;
  };

  /// xi: N x P of -1 and +1.
  explicit pattern_couplings(const matrix<Scalar>& xi) : xt_(xi.transpose()) {
    detail::require_ising_patterns(xi, "pattern_couplings");
  }

  index dim() const { return xt_.cols(); }
  index patterns() const { return xt_.rows(); }
  /// xi (N x P).
  matrix<Scalar> pattern_matrix() const { return xt_.transpose(); }

  /// h = xi (xi^T sigma) / N - (P / N) sigma.
  void fields(const matrix<Scalar>& s, matrix<Scalar>& h) const {
    const Scalar n = Scalar(dim());
    m_.noalias() = xt_ * s;
    h.noalias() = xt_.transpose() * m_;
    h = (h - Scalar(patterns()) * s) / n;
  }
  void begin(cache_type& c, const matrix<Scalar>& s) const { c.m.noalias() = xt_ * s; }
  /// h, leaving the sweep's cache (the overlaps) filled for the same state.
  void fields(const matrix<Scalar>& s, matrix<Scalar>& h, cache_type& c) const {
    begin(c, s);
    h.noalias() = xt_.transpose() * c.m;
    h = (h - Scalar(patterns()) * s) / Scalar(dim());
  }
  Scalar local_field(const cache_type& c, const matrix<Scalar>& s, index b, index i) const {
    return (xt_.col(i).dot(c.m.col(b)) - Scalar(patterns()) * s(i, b)) / Scalar(dim());
  }
  void changed(cache_type& c, index b, index i, Scalar delta) const {
    c.m.col(b) += delta * xt_.col(i);
  }

 private:
  matrix<Scalar> xt_;  // xi^T, P x N: column i holds spin i's entries of every pattern
  mutable matrix<Scalar> m_;
};

/// J = xi xi^T / N with a zero diagonal, dense.
template <real_scalar Scalar>
dense_couplings<Scalar> hebbian_couplings(const matrix<Scalar>& xi) {
  detail::require_ising_patterns(xi, "hebbian_couplings");
  matrix<Scalar> j = xi * xi.transpose() / Scalar(xi.rows());
  return dense_couplings<Scalar>(std::move(j));
}

/// m = xi^T sigma / N: the overlap of every pattern (rows) with every state (columns).
template <real_scalar Scalar>
matrix<Scalar> overlaps(const matrix<Scalar>& xi, const matrix<Scalar>& sigma) {
  require_rows("states", sigma.rows(), xi.rows(), "the patterns' dimension N");
  return xi.transpose() * sigma / Scalar(xi.rows());
}

/// The Hopfield energy and spin dynamics over couplings.
template <class Couplings>
class ising_field {
 public:
  using scalar_type = typename Couplings::scalar_type;
  using Scalar = scalar_type;

  explicit ising_field(Couplings couplings) : j_(std::move(couplings)) {}

  index dim() const { return j_.dim(); }
  const Couplings& couplings() const { return j_; }
  std::span<const Scalar> alphabet() const { return detail::ising_alphabet<Scalar>; }

  /// dX/dt = sign(h) - sigma (zero where h = 0) and E = -1/2 sigma . h.
  void operator()(const matrix<Scalar>& s, matrix<Scalar>& dsdt, vector<Scalar>& e) {
    j_.fields(s, h_, cache_);
    cached_ = s.data();
    cached_columns_ = s.cols();
    e.resize(s.cols());
    dsdt.resize(s.rows(), s.cols());
    for (index b = 0; b < s.cols(); ++b) {
      e(b) = Scalar(-0.5) * s.col(b).dot(h_.col(b));
      for (index i = 0; i < s.rows(); ++i) {
        const Scalar h = h_(i, b);
        dsdt(i, b) = h > 0 ? Scalar(1) - s(i, b) : h < 0 ? Scalar(-1) - s(i, b) : Scalar(0);
      }
    }
  }
  void operator()(const matrix<Scalar>& s, matrix<Scalar>& dsdt) { (*this)(s, dsdt, e_); }

  /// E(sigma) of every column, checked.
  vector<Scalar> energy(const matrix<Scalar>& s) {
    check(s);
    matrix<Scalar> dsdt;
    vector<Scalar> e;
    (*this)(s, dsdt, e);
    return e;
  }
  /// h = J sigma of every column, checked.
  matrix<Scalar> local_fields(const matrix<Scalar>& s) const {
    check(s);
    matrix<Scalar> h;
    j_.fields(s, h);
    return h;
  }

  /// Fills the sweep's cache for `s`, unless the last evaluation was of this very state (the
  /// same storage and columns, changed since only through set_spin: integrate()'s loop), whose
  /// cache is still exact.
  void begin_sweep(const matrix<Scalar>& s) {
    if (cached_ == s.data() && cached_columns_ == s.cols()) return;
    j_.begin(cache_, s);
    cached_ = s.data();
    cached_columns_ = s.cols();
  }
  /// integrate() dropped columns: the cache no longer matches.
  void compact(const std::vector<index>&) { cached_ = nullptr; }
  void local_gains(const matrix<Scalar>& s, index b, index i, Scalar* gains) const {
    const Scalar h = j_.local_field(cache_, s, b, i);
    gains[0] = -h;
    gains[1] = h;
  }
  void set_spin(matrix<Scalar>& s, index b, index i, Scalar v) {
    j_.changed(cache_, b, i, v - s(i, b));
    s(i, b) = v;
  }

  /// Throws unless `s` holds N x B spins of -1 and +1.
  void check(const matrix<Scalar>& s) const {
    require_rows("spin states", s.rows(), dim(), "the number of neurons N");
    require_columns("spin states", s.cols());
    for (index b = 0; b < s.cols(); ++b)
      for (index i = 0; i < s.rows(); ++i)
        if (s(i, b) != Scalar(1) && s(i, b) != Scalar(-1))
          throw invalid_argument(detail::message("spin state column ", b, " has entry ", s(i, b),
                                                 " at row ", i, "; spins are -1 or +1"));
  }

 private:
  Couplings j_;
  typename Couplings::cache_type cache_;
  const Scalar* cached_ = nullptr;  // the state the cache was filled for
  index cached_columns_ = 0;
  matrix<Scalar> h_;
  vector<Scalar> e_;
};

}  // namespace engram
