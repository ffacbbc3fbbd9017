// Philox-4x32-10 over runs of consecutive counters and a float Box-Muller transform, for the
// draws that regenerate random features on demand. philox_words gives the words of many counter
// blocks at once (sixteen per loop on AVX2, selected at compile time; one block at a time
// through Random123 elsewhere), bitwise the blocks of r123::Philox4x32: round r multiplies
// counter words 0 and 2 by M0 and M1, exchanges the halves of the products with words 1 and 3
// and the key bumped r times by the Weyl constants W0 and W1 (Random123's philox.h).
// float_box_muller turns pairs of words into normals with the log and the sine and cosine of
// pi a of simd_math.hpp, in packets and in the scalar tail alike.
#pragma once

#include <Random123/philox.h>

#include <cmath>
#include <cstddef>
#include <cstdint>

#include "engram/core/simd_math.hpp"

#if defined(__AVX2__)
#include <immintrin.h>
#endif

namespace engram::detail {

inline constexpr std::uint32_t philox_m0 = 0xD2511F53u, philox_m1 = 0xCD9E8D57u;
inline constexpr std::uint32_t philox_w0 = 0x9E3779B9u, philox_w1 = 0xBB67AE85u;
inline constexpr int philox_rounds = 10;

/// The four words of counter blocks j = first .. first + n - 1 of `stream` under `key`, each
/// block's counter being {lo(j), hi(j), lo(stream), hi(stream)}: word k of block first + i goes
/// to words[k][i].
inline void philox_words(const r123::Philox4x32::key_type& key, std::uint64_t stream,
                         std::uint64_t first, std::size_t n, std::uint32_t* const words[4]) {
  std::size_t i = 0;
#if defined(__AVX2__)
  // mulhilo of eight lanes: vpmuludq multiplies the even 32-bit lanes into 64-bit products, the
  // odd lanes after a shift; the blends put each product's low and high halves back in place.
  const auto mulhilo = [](__m256i m, __m256i a, __m256i& hi, __m256i& lo) {
    const __m256i even = _mm256_mul_epu32(a, m);
    const __m256i odd = _mm256_mul_epu32(_mm256_srli_epi64(a, 32), m);
    lo = _mm256_blend_epi32(even, _mm256_slli_epi64(odd, 32), 0xAA);
    hi = _mm256_blend_epi32(_mm256_srli_epi64(even, 32), odd, 0xAA);
  };
  const __m256i m0 = _mm256_set1_epi32(int(philox_m0)), m1 = _mm256_set1_epi32(int(philox_m1));
  __m256i k0[philox_rounds], k1[philox_rounds];
  for (int r = 0; r < philox_rounds; ++r) {
    k0[r] = _mm256_set1_epi32(int(key[0] + std::uint32_t(r) * philox_w0));
    k1[r] = _mm256_set1_epi32(int(key[1] + std::uint32_t(r) * philox_w1));
  }
  const __m256i s0 = _mm256_set1_epi32(int(std::uint32_t(stream)));
  const __m256i s1 = _mm256_set1_epi32(int(std::uint32_t(stream >> 32)));
  const __m256i lane = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
  const __m256i sign = _mm256_set1_epi32(int(0x80000000u));
  // Two independent groups of eight blocks per pass: one group's ten rounds are a chain of
  // dependent multiplies, which the other group's fill.
  const auto counters = [&](std::uint64_t j, __m256i& c0, __m256i& c1) {
    const __m256i base = _mm256_set1_epi32(int(std::uint32_t(j)));
    c0 = _mm256_add_epi32(base, lane);
    // Where the low word wrapped (unsigned c0 < base), the high word carries one: the signed
    // comparison of the sign-flipped words is -1 there.
    const __m256i wrapped =
        _mm256_cmpgt_epi32(_mm256_xor_si256(base, sign), _mm256_xor_si256(c0, sign));
    c1 = _mm256_sub_epi32(_mm256_set1_epi32(int(std::uint32_t(j >> 32))), wrapped);
  };
  const auto store = [&](std::size_t at, __m256i c0, __m256i c1, __m256i c2, __m256i c3) {
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(words[0] + at), c0);
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(words[1] + at), c1);
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(words[2] + at), c2);
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(words[3] + at), c3);
  };
  for (; i + 16 <= n; i += 16) {
    __m256i a0, a1, a2 = s0, a3 = s1, b0, b1, b2 = s0, b3 = s1;
    counters(first + i, a0, a1);
    counters(first + i + 8, b0, b1);
    for (int r = 0; r < philox_rounds; ++r) {
      __m256i ah0, al0, ah1, al1, bh0, bl0, bh1, bl1;
      mulhilo(m0, a0, ah0, al0);
      mulhilo(m0, b0, bh0, bl0);
      mulhilo(m1, a2, ah1, al1);
      mulhilo(m1, b2, bh1, bl1);
      a0 = _mm256_xor_si256(_mm256_xor_si256(ah1, a1), k0[r]);
      b0 = _mm256_xor_si256(_mm256_xor_si256(bh1, b1), k0[r]);
      a1 = al1;
      b1 = bl1;
      a2 = _mm256_xor_si256(_mm256_xor_si256(ah0, a3), k1[r]);
      b2 = _mm256_xor_si256(_mm256_xor_si256(bh0, b3), k1[r]);
      a3 = al0;
      b3 = bl0;
    }
    store(i, a0, a1, a2, a3);
    store(i + 8, b0, b1, b2, b3);
  }
#endif
  for (; i < n; ++i) {
    const std::uint64_t j = first + i;
    const r123::Philox4x32::ctr_type ctr = {{std::uint32_t(j), std::uint32_t(j >> 32),
                                             std::uint32_t(stream), std::uint32_t(stream >> 32)}};
    const auto w = r123::Philox4x32{}(ctr, key);
    for (int k = 0; k < 4; ++k) words[k][i] = w[k];
  }
}

/// For i < m: r = sqrt(-2 log u01(radius[i])), a = uneg11(angle[i]); sine[i] = r sin(pi a),
/// cosine[i] = r cos(pi a), the float Box-Muller pair of r123::boxmuller(angle[i], radius[i]).
/// The uniforms are Random123's uneg11<float> and u01<float>, bit for bit: an int-to-float
/// conversion rounded once, scaled by a power of two (exact), plus half a step.
inline void float_box_muller(std::size_t m, const std::uint32_t* angle, const std::uint32_t* radius,
                             float* sine, float* cosine) {
  std::size_t i = 0;
#if defined(__AVX2__) && defined(__FMA__)
  using packet::fma;
  using packet::splat;
  const __m256i low16 = _mm256_set1_epi32(0xffff);
  for (; i + 8 <= m; i += 8) {
    const __m256i wa = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(angle + i));
    const __m256i wr = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(radius + i));
    const __m256 a = fma(_mm256_cvtepi32_ps(wa), splat(0x1p-31f), splat(0x1p-32f));
    // The unsigned word as a float, rounded once: its high and low 16 bits convert exactly.
    const __m256 wf =
        _mm256_add_ps(_mm256_mul_ps(_mm256_cvtepi32_ps(_mm256_srli_epi32(wr, 16)), splat(65536.f)),
                      _mm256_cvtepi32_ps(_mm256_and_si256(wr, low16)));
    const __m256 u = fma(wf, splat(0x1p-32f), splat(0x1p-33f));
    const __m256 r = _mm256_sqrt_ps(_mm256_mul_ps(splat(-2.f), packet::log_unit(u)));
    __m256 sin_pi, cos_pi;
    packet::sincospi_unit(a, sin_pi, cos_pi);
    _mm256_storeu_ps(sine + i, _mm256_mul_ps(r, sin_pi));
    _mm256_storeu_ps(cosine + i, _mm256_mul_ps(r, cos_pi));
  }
#endif
  for (; i < m; ++i) {
    const float r = std::sqrt(-2.f * log_unit(fused(float(radius[i]), 0x1p-32f, 0x1p-33f)));
    float s, c;
    sincospi_unit(fused(float(std::int32_t(angle[i])), 0x1p-31f, 0x1p-32f), s, c);
    sine[i] = r * s;
    cosine[i] = r * c;
  }
}

}  // namespace engram::detail
