// Counter-based random numbers on Random123's Philox-4x32-10, keyed by a 64-bit seed.
// Entry i of stream s is a pure function of (seed, s, i): the same seed gives the same numbers
// on every thread count, backend and rank, and any block can be regenerated on demand.
#pragma once

#include <Random123/philox.h>
#include <Random123/boxmuller.hpp>
#include <Random123/uniform.hpp>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <numbers>
#include <type_traits>

#include "engram/core/philox_batch.hpp"
#include "engram/core/types.hpp"

namespace engram {

/// How standard normals are made from Philox counter blocks when drawn in runs
/// (philox_source::normals).
enum class normal_draw : std::uint8_t {
  /// Four per block: entries 4j .. 4j + 3 are r123::boxmuller(w0, w1) and r123::boxmuller(w2,
  /// w3) of block j's words (each pair {r sin(pi a), r cos(pi a)}, a = uneg11(first word),
  /// r = sqrt(-2 log u01(second word))), in float: the uniforms bitwise Random123's, the log,
  /// sine and cosine detail::float_box_muller's (within a few ulp of Random123's scalar float
  /// transform), eight at a time on AVX2, sixteen on AVX-512F. The default for random features.
  float_box_muller = 1,
  /// Two per block: entries 2j, 2j + 1 are the double Box-Muller pair of block j's two 64-bit
  /// words, normal<double>'s numbers bit for bit. Random features drawn before the float draw
  /// existed (and memory files saved then) used these.
  double_box_muller = 0,
};

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

  /// Standard normals of entries [begin, begin + n) of `stream` into out[0, n), the counter
  /// blocks drawn many at a time (detail::philox_words), as `draw` says (see normal_draw), then
  /// converted to Out: float draws widen exactly, double draws round to nearest.
  template <real_scalar Out>
  void normals(normal_draw draw, std::uint64_t stream, std::uint64_t begin, std::size_t n,
               Out* out) const {
    if (draw == normal_draw::float_box_muller)
      draw_normals<float>(stream, begin, n, out);
    else
      draw_normals<double>(stream, begin, n, out);
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
  template <class Draw, class Out>
  void draw_normals(std::uint64_t stream, std::uint64_t begin, std::size_t n, Out* out) const {
    constexpr std::uint64_t per_block = std::is_same_v<Draw, float> ? 4 : 2;
    alignas(64) std::uint32_t w[4][normal_blocks];
    std::uint32_t* const words[4] = {w[0], w[1], w[2], w[3]};
    alignas(64) Draw z[per_block * normal_blocks];
    const std::uint64_t end = begin + n;
    for (std::uint64_t e = begin; e < end;) {
      const std::uint64_t j0 = e / per_block;
      const std::size_t m = std::size_t(
          std::min<std::uint64_t>(normal_blocks, (end + per_block - 1) / per_block - j0));
      detail::philox_words(key_, stream, j0, m, words);
      if constexpr (std::is_same_v<Draw, float>) {
        float_pairs(w, m, z);
      } else {
        for (std::size_t i = 0; i < m; ++i) {
          const auto pair = r123::boxmuller(join(w[0][i], w[1][i]), join(w[2][i], w[3][i]));
          z[2 * i] = pair.x;
          z[2 * i + 1] = pair.y;
        }
      }
      const std::uint64_t stop = std::min<std::uint64_t>(end, (j0 + m) * per_block);
      std::transform(z + (e - j0 * per_block), z + (stop - j0 * per_block), out + (e - begin),
                     [](Draw v) { return static_cast<Out>(v); });
      e = stop;
    }
  }

  static constexpr std::size_t normal_blocks =
      128;  // counter blocks per pass of normals(), on the stack

  r123::double2 normal_pair(std::uint64_t stream, std::uint64_t j) const {
    const auto w = block(stream, j);
    return r123::boxmuller(join(w[0], w[1]), join(w[2], w[3]));
  }

  /// The float Box-Muller pairs of m blocks' words into z[0, 4m), in the order of normals().
  static void float_pairs(const std::uint32_t (&w)[4][normal_blocks], std::size_t m, float* z) {
    alignas(64) float s[2 * normal_blocks], c[2 * normal_blocks];
    detail::float_box_muller(m, w[0], w[1], s, c);
    detail::float_box_muller(m, w[2], w[3], s + m, c + m);
    for (std::size_t i = 0; i < m; ++i) {
      z[4 * i] = s[i];
      z[4 * i + 1] = c[i];
      z[4 * i + 2] = s[m + i];
      z[4 * i + 3] = c[m + i];
    }
  }

  static std::uint64_t join(std::uint32_t lo, std::uint32_t hi) {
    return (std::uint64_t(hi) << 32) | lo;
  }

  std::uint64_t seed_;
  engine::key_type key_;
};

}  // namespace engram
