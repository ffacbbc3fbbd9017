// The engram exception hierarchy and the validation helpers used at the public boundary.
// Every error is an engram::error (a std::exception) whose message names the argument and
// the values seen; hot loops use ENGRAM_ASSERT only.
#pragma once

#include <cmath>
#include <sstream>
#include <stdexcept>
#include <string>
#include <string_view>

#include "engram/core/types.hpp"

namespace engram {

class error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

/// An argument outside its documented domain (beta <= 0, a negative step, ...).
class invalid_argument : public error {
 public:
  using error::error;
};

/// Shapes that do not agree (a query of the wrong dimension, a mask of the wrong size).
class dimension_mismatch : public invalid_argument {
 public:
  using invalid_argument::invalid_argument;
};

/// A NaN or an infinity where finite numbers are required.
class not_finite : public invalid_argument {
 public:
  using invalid_argument::invalid_argument;
};

/// An energy evaluated on a memory that holds no patterns.
class empty_memory : public invalid_argument {
 public:
  using invalid_argument::invalid_argument;
};

/// A memory changed (add(), remove()) while an energy over it was in use by a retrieval or an
/// evaluation: memories are not safe to change while another thread reads them.
class memory_changed : public error {
 public:
  using error::error;
};

/// A CUDA runtime call that failed: the message names the call and CUDA's own words.
class device_error : public error {
 public:
  using error::error;
};

/// No CUDA device where one is needed: none installed, no driver, or the ordinal out of range.
class device_unavailable : public device_error {
 public:
  using device_error::device_error;
};

/// A device allocation larger than the device's free memory; the message gives both.
class device_out_of_memory : public device_error {
 public:
  using device_error::device_error;
};

/// A collective call over MPI ranks (engram/distributed) that could not complete as one: the
/// base of the three below, and what an MPI call that fails raises, naming the call and MPI's
/// own words.
class distributed_error : public error {
 public:
  using error::error;
};

/// Raised on every rank but the failing ones when another rank threw inside a collective
/// call: the message names the first rank that failed and its own message. The ranks that
/// failed raise their own error.
class rank_failed : public distributed_error {
 public:
  using distributed_error::distributed_error;
};

/// The ranks entered different collective calls, or one call with different arguments (a
/// batch of another size): every rank raises it, none is left waiting.
class collective_mismatch : public distributed_error {
 public:
  using distributed_error::distributed_error;
};

/// A collective call that some rank did not join within the communicator's timeout. The
/// communicator is broken afterwards: every later call on it raises this again.
class collective_timeout : public distributed_error {
 public:
  using distributed_error::distributed_error;
};

/// A file that cannot be opened, read or written.
class io_error : public error {
 public:
  using error::error;
};

/// A file that opened but does not hold what its format promises (truncated, bad magic, ...).
class parse_error : public io_error {
 public:
  using io_error::io_error;
};

namespace detail {

template <class... Parts>
std::string message(const Parts&... parts) {
  std::ostringstream out;
  out.precision(9);
  (out << ... << parts);
  return out.str();
}

}  // namespace detail

/// Throws not_finite naming the first non-finite entry of `m`.
template <class Derived>
void require_finite(std::string_view name, const Eigen::DenseBase<Derived>& m) {
  for (index j = 0; j < m.cols(); ++j)
    for (index i = 0; i < m.rows(); ++i) {
      const auto v = m(i, j);
      if (!std::isfinite(v))
        throw not_finite(detail::message(name, " has a non-finite entry ", v, " at (", i, ", ", j,
                                         "); all entries must be finite"));
    }
}

/// Throws not_finite unless the scalar `value` is finite.
template <class Scalar>
void require_finite_scalar(std::string_view name, Scalar value) {
  if (!std::isfinite(value))
    throw not_finite(detail::message(name, " is ", value, "; it must be finite"));
}

/// Throws invalid_argument unless 0 < value < inf.
template <class Scalar>
void require_positive(std::string_view name, Scalar value) {
  if (!(value > Scalar(0)) || !std::isfinite(value))
    throw invalid_argument(
        detail::message(name, " is ", value, "; it must be finite and greater than 0"));
}

/// Throws invalid_argument unless 0 <= value < inf.
template <class Scalar>
void require_non_negative(std::string_view name, Scalar value) {
  if (!(value >= Scalar(0)) || !std::isfinite(value))
    throw invalid_argument(
        detail::message(name, " is ", value, "; it must be finite and at least 0"));
}

/// Throws dimension_mismatch unless `rows` == `expected`.
inline void require_rows(std::string_view name, index rows, index expected, std::string_view what) {
  if (rows != expected)
    throw dimension_mismatch(
        detail::message(name, " has ", rows, " rows, ", what, " is ", expected));
}

/// Throws dimension_mismatch unless the batch has at least one column.
inline void require_columns(std::string_view name, index cols) {
  if (cols < 1)
    throw dimension_mismatch(
        detail::message(name, " has ", cols, " columns; at least one is required"));
}

}  // namespace engram
