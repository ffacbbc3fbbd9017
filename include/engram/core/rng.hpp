// Counter-based random numbers on Random123's Philox-4x32-10, keyed by a 64-bit seed.
// Entry i of stream s is a pure function of (seed, s, i): the same seed gives the same numbers
// on every thread count, backend and rank, and any block can be regenerated on demand.
#pragma once

#include <Random123/philox.h>
#include <Random123/boxmuller.hpp>
#include <Random123/uniform.hpp>

#include <algorithm>
#include <cstdint>

#include "engram/core/types.hpp"

namespace engram {

class philox_source {
 public:
  using engine = r123::Philox4x32;

  explicit philox_source(std::uint64_t seed) : seed_(seed) {
    key_ = {{static_cast<std::uint32_t>(seed), static_cast<std::uint32_t>(seed >> 32)}};
  }

  std::uint64_t seed() const { return seed_; }

  /// The four 32-bit words of counter block `i` in stream `stream`.
  engine::ctr_type block(std::uint64_t stream, std::uint64_t i) const {
    engine::ctr_type ctr = {{static_cast<std::uint32_t>(i), static_cast<std::uint32_t>(i >> 32),
                             static_cast<std::uint32_t>(stream),
                             static_cast<std::uint32_t>(stream >> 32)}};
    return engine{}(ctr, key_);
  }

  /// Uniform in (0, 1], entry i of `stream`.
  template <real_scalar Scalar>
  Scalar uniform(std::uint64_t stream, std::uint64_t i) const {
    const auto w = block(stream, i);
    return static_cast<Scalar>(r123::u01<double>(join(w[0], w[1])));
  }

  /// Standard normal, entry i of `stream`: entries 2j and 2j + 1 are the two outputs of one
  /// Box-Muller transform of block j's two 64-bit words.
  template <real_scalar Scalar>
  Scalar normal(std::uint64_t stream, std::uint64_t i) const {
    const auto pair = normal_pair(stream, i >> 1);
    return static_cast<Scalar>((i & 1) ? pair.y : pair.x);
  }

  /// Calls put(e, z_e) for the standard normals of entries [begin, end) of `stream`, one
  /// Box-Muller transform per pair of entries.
  template <class Put>
  void for_each_normal(std::uint64_t stream, std::uint64_t begin, std::uint64_t end,
                       Put&& put) const {
    std::uint64_t e = begin;
    if (e < end && (e & 1)) {
      put(e, normal_pair(stream, e >> 1).y);
      ++e;
    }
    for (; e + 1 < end; e += 2) {
      const auto pair = normal_pair(stream, e >> 1);
      put(e, pair.x);
      put(e + 1, pair.y);
    }
    if (e < end) put(e, normal_pair(stream, e >> 1).x);
  }

  /// Fills `m` (column-major order) with entries [offset, offset + size) of `stream`,
  /// uniform in (lo, hi].
  template <class Derived>
  void fill_uniform(Eigen::DenseBase<Derived>& m, std::uint64_t stream,
                    typename Derived::Scalar lo = 0, typename Derived::Scalar hi = 1,
                    std::uint64_t offset = 0) const {
    using Scalar = typename Derived::Scalar;
    const index rows = m.rows(), size = m.size();
    for (index k = 0; k < size; ++k)
      m(k % rows, k / rows) = lo + (hi - lo) * uniform<Scalar>(stream, offset + std::uint64_t(k));
  }

  /// Fills `m` (column-major order) with standard normals, entries [offset, offset + size).
  template <class Derived>
  void fill_normal(Eigen::DenseBase<Derived>& m, std::uint64_t stream,
                   std::uint64_t offset = 0) const {
    using Scalar = typename Derived::Scalar;
    const index rows = m.rows(), size = m.size();
    constexpr index chunk = 4096;  // even, so chunks start on whole pairs relative to offset
    const index chunks = (size + chunk - 1) / chunk;
    for (index c = 0; c < chunks; ++c) {
      const std::uint64_t begin = offset + std::uint64_t(c * chunk);
      const std::uint64_t end = offset + std::uint64_t(std::min(size, (c + 1) * chunk));
      for_each_normal(stream, begin, end, [&](std::uint64_t e, double z) {
        const index k = index(e - offset);
        m(k % rows, k / rows) = static_cast<Scalar>(z);
      });
    }
  }

 private:
  r123::double2 normal_pair(std::uint64_t stream, std::uint64_t j) const {
    const auto w = block(stream, j);
    return r123::boxmuller(join(w[0], w[1]), join(w[2], w[3]));
  }

  static std::uint64_t join(std::uint32_t lo, std::uint32_t hi) {
    return (std::uint64_t(hi) << 32) | lo;
  }

  std::uint64_t seed_;
  engine::key_type key_;
};

}  // namespace engram
