// Philox-4x32-10 over runs of consecutive counters and a float Box-Muller transform, for the
// draws that regenerate random features on demand. philox_words gives the words of many counter
// blocks at once (32 per loop with AVX-512F, sixteen with AVX2, selected at compile time; one
// block at a time through Random123 elsewhere), bitwise the blocks of r123::Philox4x32: round r
// multiplies counter words 0 and 2 by M0 and M1, exchanges the halves of the products with
// words 1 and 3 and the key bumped r times by the Weyl constants W0 and W1 (Random123's
// philox.h). float_box_muller turns pairs of words into normals with the log and the sine and
// cosine of pi a of simd_math.hpp, in packets (sixteen lanes with AVX-512F, eight with AVX2)
// and in the scalar tail alike.
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

#if defined(__AVX2__)
/// The operations of philox_words on eight 32-bit lanes (AVX2) and sixteen (AVX-512F).
struct philox_lanes8 {
  using V = __m256i;
  static constexpr int size = 8;
  static V set1(std::uint32_t v) { return _mm256_set1_epi32(int(v)); }
  static V xor3(V a, V b, V c) { return _mm256_xor_si256(_mm256_xor_si256(a, b), c); }
  // vpmuludq multiplies the even 32-bit lanes into 64-bit products, the odd lanes after a
  // shift; the blends put each product's low and high halves back in place.
  static void mulhilo(V m, V a, V& hi, V& lo) {
    const V even = _mm256_mul_epu32(a, m);
    const V odd = _mm256_mul_epu32(_mm256_srli_epi64(a, 32), m);
    lo = _mm256_blend_epi32(even, _mm256_slli_epi64(odd, 32), 0xAA);
    hi = _mm256_blend_epi32(_mm256_srli_epi64(even, 32), odd, 0xAA);
  }
  /// The counter words {lo, hi} of blocks j .. j + 7.
  static void counters(std::uint64_t j, V& c0, V& c1) {
    const V base = set1(std::uint32_t(j));
    c0 = _mm256_add_epi32(base, _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
    // Where the low word wrapped (unsigned c0 < base), the high word carries one: the signed
    // comparison of the sign-flipped words is -1 there.
    const V sign = set1(0x80000000u);
    const V wrapped = _mm256_cmpgt_epi32(_mm256_xor_si256(base, sign), _mm256_xor_si256(c0, sign));
    c1 = _mm256_sub_epi32(set1(std::uint32_t(j >> 32)), wrapped);
  }
  static void store(std::uint32_t* p, V v) { _mm256_storeu_si256(reinterpret_cast<V*>(p), v); }
};

#if defined(__AVX512F__)
struct philox_lanes16 {
  using V = __m512i;
  static constexpr int size = 16;
  static V set1(std::uint32_t v) { return _mm512_set1_epi32(int(v)); }
  static V xor3(V a, V b, V c) { return _mm512_ternarylogic_epi32(a, b, c, 0x96); }
  static void mulhilo(V m, V a, V& hi, V& lo) {
    const V even = _mm512_mul_epu32(a, m);
    const V odd = _mm512_mul_epu32(_mm512_srli_epi64(a, 32), m);
    lo = _mm512_mask_blend_epi32(0xAAAA, even, _mm512_slli_epi64(odd, 32));
    hi = _mm512_mask_blend_epi32(0xAAAA, _mm512_srli_epi64(even, 32), odd);
  }
  static void counters(std::uint64_t j, V& c0, V& c1) {
    const V base = set1(std::uint32_t(j));
    c0 = _mm512_add_epi32(base,
                          _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15));
    const __mmask16 wrapped = _mm512_cmplt_epu32_mask(c0, base);
    const V high = set1(std::uint32_t(j >> 32));
    c1 = _mm512_mask_add_epi32(high, wrapped, high, set1(1));
  }
  static void store(std::uint32_t* p, V v) { _mm512_storeu_si512(p, v); }
};
#endif

/// philox_words over blocks [i, n) in passes of 2 L::size blocks; returns where it stopped.
template <class L>
std::size_t philox_packets(const r123::Philox4x32::key_type& key, std::uint64_t stream,
                           std::uint64_t first, std::size_t i, std::size_t n,
                           std::uint32_t* const words[4]) {
  using V = typename L::V;
  const V m0 = L::set1(philox_m0), m1 = L::set1(philox_m1);
  V k0[philox_rounds], k1[philox_rounds];
  for (int r = 0; r < philox_rounds; ++r) {
    k0[r] = L::set1(key[0] + std::uint32_t(r) * philox_w0);
    k1[r] = L::set1(key[1] + std::uint32_t(r) * philox_w1);
  }
  const V s0 = L::set1(std::uint32_t(stream)), s1 = L::set1(std::uint32_t(stream >> 32));
  constexpr std::size_t w = L::size;
  // Two independent groups per pass: one group's ten rounds are a chain of dependent
  // multiplies, which the other group's fill.
  for (; i + 2 * w <= n; i += 2 * w) {
    V a0, a1, a2 = s0, a3 = s1, b0, b1, b2 = s0, b3 = s1;
    L::counters(first + i, a0, a1);
    L::counters(first + i + w, b0, b1);
    for (int r = 0; r < philox_rounds; ++r) {
      V ah0, al0, ah1, al1, bh0, bl0, bh1, bl1;
      L::mulhilo(m0, a0, ah0, al0);
      L::mulhilo(m0, b0, bh0, bl0);
      L::mulhilo(m1, a2, ah1, al1);
      L::mulhilo(m1, b2, bh1, bl1);
      a0 = L::xor3(ah1, a1, k0[r]);
      b0 = L::xor3(bh1, b1, k0[r]);
      a1 = al1;
      b1 = bl1;
      a2 = L::xor3(ah0, a3, k1[r]);
      b2 = L::xor3(bh0, b3, k1[r]);
      a3 = al0;
      b3 = bl0;
    }
    const V a[4] = {a0, a1, a2, a3}, b[4] = {b0, b1, b2, b3};
    for (int k = 0; k < 4; ++k) {
      L::store(words[k] + i, a[k]);
      L::store(words[k] + i + w, b[k]);
    }
  }
  return i;
}
#endif

/// The four words of counter blocks j = first .. first + n - 1 of `stream` under `key`, each
/// block's counter being {lo(j), hi(j), lo(stream), hi(stream)}: word k of block first + i goes
/// to words[k][i].
inline void philox_words(const r123::Philox4x32::key_type& key, std::uint64_t stream,
                         std::uint64_t first, std::size_t n, std::uint32_t* const words[4]) {
  std::size_t i = 0;
#if defined(__AVX512F__)
  i = philox_packets<philox_lanes16>(key, stream, first, i, n, words);
#endif
#if defined(__AVX2__)
  i = philox_packets<philox_lanes8>(key, stream, first, i, n, words);
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
#if defined(__AVX512F__) && defined(__FMA__)
  for (; i + 16 <= m; i += 16) {
    using namespace packet16;
    const __m512i wa = _mm512_loadu_si512(angle + i);
    const __m512 a = fma(_mm512_cvtepi32_ps(wa), splat(0x1p-31f), splat(0x1p-32f));
    // The unsigned word as a float, rounded once, as the scalar conversion.
    const __m512 wf = _mm512_cvtepu32_ps(_mm512_loadu_si512(radius + i));
    const __m512 u = fma(wf, splat(0x1p-32f), splat(0x1p-33f));
    const __m512 r = _mm512_sqrt_ps(_mm512_mul_ps(splat(-2.f), log_unit(u)));
    __m512 sin_pi, cos_pi;
    sincospi_unit(a, sin_pi, cos_pi);
    _mm512_storeu_ps(sine + i, _mm512_mul_ps(r, sin_pi));
    _mm512_storeu_ps(cosine + i, _mm512_mul_ps(r, cos_pi));
  }
#endif
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
