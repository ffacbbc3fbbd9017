// Helpers the test files share: matrices of uniform numbers from the Philox source, and central
// differences of a scalar function of one column.
#pragma once

#include <engram/core/rng.hpp>
#include <engram/core/types.hpp>

#include <cstdint>

namespace engram_test {

/// rows x cols entries of `stream`, uniform in (lo, hi].
template <class Scalar = double>
engram::matrix<Scalar> uniform(const engram::philox_source& rng, std::uint64_t stream,
                               Eigen::Index rows, Eigen::Index cols, Scalar lo = 0, Scalar hi = 1) {
  engram::matrix<Scalar> m(rows, cols);
  rng.fill_uniform(m, stream, lo, hi);
  return m;
}

/// The same from stream 0 of the source keyed by `seed`.
template <class Scalar = double>
engram::matrix<Scalar> uniform(std::uint64_t seed, Eigen::Index rows, Eigen::Index cols,
                               Scalar lo = 0, Scalar hi = 1) {
  return uniform<Scalar>(engram::philox_source(seed), 0, rows, cols, lo, hi);
}

/// (f(x + h e_i) - f(x - h e_i)) / (2 h) for a column x; the difference is taken in f's own
/// type (long double for the direct formulas of the tests) before it is divided.
template <class F>
double central_difference(F&& f, const Eigen::MatrixXd& x, Eigen::Index i, double h) {
  Eigen::MatrixXd plus = x, minus = x;
  plus(i) += h;
  minus(i) -= h;
  return double(f(plus) - f(minus)) / (2 * h);
}

}  // namespace engram_test
