// Scalar and matrix aliases shared by every engram header.
// A state, pattern or query is a column; batches are D x B and memories D x K, column-major.
#pragma once

#include <Eigen/Core>

#include <cassert>
#include <concepts>
#include <cstdint>
#include <type_traits>

#if defined(NDEBUG)
#define ENGRAM_ASSERT(condition) ((void)0)
#else
#define ENGRAM_ASSERT(condition) assert(condition)
#endif

namespace engram {

using index = Eigen::Index;

/// The scalar types every engram template is instantiated and tested with.
template <class T>
concept real_scalar = std::same_as<T, float> || std::same_as<T, double>;

template <class Scalar>
using matrix = Eigen::Matrix<Scalar, Eigen::Dynamic, Eigen::Dynamic>;
template <class Scalar>
using vector = Eigen::Matrix<Scalar, Eigen::Dynamic, 1>;
template <class Scalar>
using row_vector = Eigen::Matrix<Scalar, 1, Eigen::Dynamic>;

/// Boolean masks: D x 1 (shared by a batch) or D x B (one per column).
using mask = Eigen::Matrix<bool, Eigen::Dynamic, Eigen::Dynamic>;

template <class Scalar>
using matrix_cref = Eigen::Ref<const matrix<Scalar>>;
template <class Scalar>
using vector_cref = Eigen::Ref<const vector<Scalar>>;

/// Eigen objects (blocks, maps, matrices) whose columns are contiguous arrays in memory, for
/// kernels that take a column's data() and length.
template <class X>
concept contiguous_columns =
    !std::remove_cvref_t<X>::IsRowMajor && std::remove_cvref_t<X>::InnerStrideAtCompileTime == 1 &&
    bool(Eigen::internal::traits<std::remove_cvref_t<X>>::Flags & Eigen::DirectAccessBit);

}  // namespace engram
