// The float functions engram evaluates many at a time itself: the log of a uniform in (0, 1]
// and the sine and cosine (of pi a for a in [-1, 1], and of any float), as Cephes' float
// polynomials (Moshier's logf, sinf and cosf), in AVX2 packets where the target has AVX2 and FMA
// and in a scalar loop otherwise or for the tail. Sine and cosine share one range reduction
// (Eigen's sin() and cos() reduce the argument once each). Every multiply-add is fused() or a
// lone product, never left for the compiler to contract, and the packets perform the same
// operations as the scalar code: one build gives bitwise the same numbers whichever path an
// element takes; a build for another instruction set (with or without FMA) can differ in the
// last bits.
#pragma once

#include <bit>
#include <cmath>
#include <cstddef>
#include <cstdint>

#if defined(__AVX2__)
#include <immintrin.h>
#endif

namespace engram::detail {

/// a b + c, fused where the target has FMA: the scalar code then rounds as the packets do.
inline float fused(float a, float b, float c) {
#if defined(__FMA__)
  return std::fma(a, b, c);
#else
  return a * b + c;
#endif
}

/// x rounded to the nearest integer, ties to even, for |x| < 2^22: 1.5 2^23 leaves the float
/// adder no fraction bits.
inline float round_small(float x) {
  const float shifted = x + 12582912.f;
  return shifted - 12582912.f;
}

// Cephes' coefficients.
inline constexpr float log_p[9] = {7.0376836292e-2f,  -1.1514610310e-1f, 1.1676998740e-1f,
                                   -1.2420140846e-1f, 1.4249322787e-1f,  -1.6668057665e-1f,
                                   2.0000714765e-1f,  -2.4999993993e-1f, 3.3333331174e-1f};
inline constexpr float log2_hi = 0.693359375f, log2_lo = -2.12194440e-4f;
inline constexpr float sin_p[3] = {-1.9515295891e-4f, 8.3321608736e-3f, -1.6666654611e-1f};
inline constexpr float cos_p[3] = {2.443315711809948e-5f, -1.388731625493765e-3f,
                                   4.166664568298827e-2f};
/// pi/2 in three parts (Cephes' DP1-DP3, doubled): q times the first two is exact for
/// |q| < 2^13, so x - q pi/2 keeps float accuracy up to |x| = sincos_limit.
inline constexpr float pio2_1 = 1.5703125f, pio2_2 = 4.837512969970703125e-4f,
                       pio2_3 = 7.54978995489188216e-8f;
inline constexpr float sincos_limit = 8192.f;
inline constexpr float pi_f = 3.14159265358979f, two_over_pi = 0.636619772367581f;

/// log(u) for u in (0, 1] (normal numbers): u = m 2^e with m in [sqrt(1/2), sqrt(2)),
/// x = m - 1, log u = x - x^2 / 2 + x^3 P(x) + e log 2, log 2 in two parts.
inline float log_unit(float u) {
  const std::uint32_t bits = std::bit_cast<std::uint32_t>(u);
  int e = int(bits >> 23) - 126;
  float m = std::bit_cast<float>((bits & 0x007fffffu) | 0x3f000000u);  // in [1/2, 1)
  if (m < 0.707106781186547524f) {
    e -= 1;
    m = m + m;
  }
  const float x = m - 1.f, z = x * x, fe = float(e);
  float p = log_p[0];
  for (int i = 1; i < 9; ++i) p = fused(p, x, log_p[i]);
  const float px = p * x;
  float y = px * z;
  y = fused(log2_lo, fe, y);
  y = fused(-0.5f, z, y);
  const float xy = x + y;
  return fused(log2_hi, fe, xy);
}

/// sin and cos of q pi/2 + x for x in [-pi/4, pi/4]: the polynomials, then the quadrant q mod 4.
inline void sincos_quadrant(float x, int q, float& sine, float& cosine) {
  const float z = x * x;
  float ps = sin_p[0];
  ps = fused(ps, z, sin_p[1]);
  ps = fused(ps, z, sin_p[2]);
  const float psz = ps * z;
  const float s = fused(psz, x, x);
  float pc = cos_p[0];
  pc = fused(pc, z, cos_p[1]);
  pc = fused(pc, z, cos_p[2]);
  const float pcz = pc * z;
  const float c = fused(pcz, z, fused(-0.5f, z, 1.f));
  // Without branches (the quadrant is random in the draws): swap where q is odd, flip the sign
  // bits where q mod 4 is 2 or 3 (sine) and 1 or 2 (cosine), as the packets do.
  const std::uint32_t m = std::uint32_t(q), swap = 0u - (m & 1u);
  const std::uint32_t sb = std::bit_cast<std::uint32_t>(s), cb = std::bit_cast<std::uint32_t>(c);
  sine = std::bit_cast<float>(((sb & ~swap) | (cb & swap)) ^ ((m & 2u) << 30));
  cosine = std::bit_cast<float>(((cb & ~swap) | (sb & swap)) ^ (((m + 1u) & 2u) << 30));
}

/// sin(pi a) and cos(pi a) for a in [-1, 1]: a = t + q / 2 with q = round(2 a) (t exact).
inline void sincospi_unit(float a, float& sine, float& cosine) {
  const float q = round_small(a + a);
  const float t = fused(-0.5f, q, a);
  sincos_quadrant(t * pi_f, int(q), sine, cosine);
}

/// sin(x) and cos(x): reduced by pi/2 for |x| <= sincos_limit, std::sin and std::cos beyond
/// (and for inf and NaN).
inline void sincos_one(float x, float& sine, float& cosine) {
  if (!(std::abs(x) <= sincos_limit)) {
    sine = std::sin(x);
    cosine = std::cos(x);
    return;
  }
  const float q = round_small(x * two_over_pi);
  float t = fused(-q, pio2_1, x);
  t = fused(-q, pio2_2, t);
  t = fused(-q, pio2_3, t);
  sincos_quadrant(t, int(q), sine, cosine);
}

#if defined(__AVX2__) && defined(__FMA__)
/// The same functions on eight lanes.
namespace packet {
inline __m256 splat(float v) {
  return _mm256_set1_ps(v);
}
inline __m256 fma(__m256 a, __m256 b, __m256 c) {
  return _mm256_fmadd_ps(a, b, c);
}

inline __m256 log_unit(__m256 u) {
  const __m256i bits = _mm256_castps_si256(u);
  __m256i e = _mm256_sub_epi32(_mm256_srli_epi32(bits, 23), _mm256_set1_epi32(126));
  __m256 m = _mm256_castsi256_ps(_mm256_or_si256(
      _mm256_and_si256(bits, _mm256_set1_epi32(0x007fffff)), _mm256_set1_epi32(0x3f000000)));
  const __m256 small = _mm256_cmp_ps(m, splat(0.707106781186547524f), _CMP_LT_OQ);
  e = _mm256_add_epi32(e, _mm256_castps_si256(small));  // -1 where small
  m = _mm256_add_ps(m, _mm256_and_ps(small, m));
  const __m256 x = _mm256_sub_ps(m, splat(1.f)), z = _mm256_mul_ps(x, x);
  const __m256 fe = _mm256_cvtepi32_ps(e);
  __m256 p = splat(log_p[0]);
  for (int i = 1; i < 9; ++i) p = fma(p, x, splat(log_p[i]));
  __m256 y = _mm256_mul_ps(_mm256_mul_ps(p, x), z);
  y = fma(splat(log2_lo), fe, y);
  y = fma(splat(-0.5f), z, y);
  return fma(splat(log2_hi), fe, _mm256_add_ps(x, y));
}

/// sin and cos of q pi/2 + x, x in [-pi/4, pi/4], q integer-valued.
inline void sincos_quadrant(__m256 x, __m256 q, __m256& sine, __m256& cosine) {
  const __m256 z = _mm256_mul_ps(x, x);
  __m256 ps = splat(sin_p[0]);
  ps = fma(ps, z, splat(sin_p[1]));
  ps = fma(ps, z, splat(sin_p[2]));
  const __m256 s = fma(_mm256_mul_ps(ps, z), x, x);
  __m256 pc = splat(cos_p[0]);
  pc = fma(pc, z, splat(cos_p[1]));
  pc = fma(pc, z, splat(cos_p[2]));
  const __m256 c = fma(_mm256_mul_ps(pc, z), z, fma(splat(-0.5f), z, splat(1.f)));
  const __m256i qi = _mm256_cvtps_epi32(q);
  const __m256i one = _mm256_set1_epi32(1), two = _mm256_set1_epi32(2);
  const __m256 odd = _mm256_castsi256_ps(_mm256_cmpeq_epi32(_mm256_and_si256(qi, one), one));
  const __m256 sign_s = _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_and_si256(qi, two), 30));
  const __m256 sign_c =
      _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_and_si256(_mm256_add_epi32(qi, one), two), 30));
  sine = _mm256_xor_ps(_mm256_blendv_ps(s, c, odd), sign_s);
  cosine = _mm256_xor_ps(_mm256_blendv_ps(c, s, odd), sign_c);
}

inline __m256 round_nearest(__m256 x) {
  return _mm256_round_ps(x, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
}

inline void sincospi_unit(__m256 a, __m256& sine, __m256& cosine) {
  const __m256 q = round_nearest(_mm256_add_ps(a, a));
  const __m256 t = fma(splat(-0.5f), q, a);
  sincos_quadrant(_mm256_mul_ps(t, splat(pi_f)), q, sine, cosine);
}
}  // namespace packet
#endif

/// sine[i] = scale sin(x[i]) and cosine[i] = scale cos(x[i]) for i < n (sincos_one, then one
/// product by scale).
inline void sincos(std::size_t n, const float* x, float scale, float* sine, float* cosine) {
  std::size_t i = 0;
#if defined(__AVX2__) && defined(__FMA__)
  using namespace packet;
  const __m256 k = splat(scale), limit = splat(sincos_limit);
  const __m256 abs_mask = _mm256_castsi256_ps(_mm256_set1_epi32(0x7fffffff));
  const __m256 sign_mask = _mm256_castsi256_ps(_mm256_set1_epi32(int(0x80000000u)));
  for (; i + 8 <= n; i += 8) {
    const __m256 v = _mm256_loadu_ps(x + i);
    // Lanes beyond the limit (or NaN) go through sincos_one below, as in the scalar loop.
    const int far =
        _mm256_movemask_ps(_mm256_cmp_ps(_mm256_and_ps(v, abs_mask), limit, _CMP_NLE_UQ));
    const __m256 q = round_nearest(_mm256_mul_ps(v, splat(two_over_pi)));
    const __m256 minus_q = _mm256_xor_ps(q, sign_mask);  // -q, as the scalar code negates
    __m256 t = fma(minus_q, splat(pio2_1), v);
    t = fma(minus_q, splat(pio2_2), t);
    t = fma(minus_q, splat(pio2_3), t);
    __m256 s, c;
    sincos_quadrant(t, q, s, c);
    _mm256_storeu_ps(sine + i, _mm256_mul_ps(k, s));
    _mm256_storeu_ps(cosine + i, _mm256_mul_ps(k, c));
    if (far)
      for (int l = 0; l < 8; ++l)
        if (far & (1 << l)) {
          float sl, cl;
          sincos_one(x[i + std::size_t(l)], sl, cl);
          sine[i + std::size_t(l)] = scale * sl;
          cosine[i + std::size_t(l)] = scale * cl;
        }
  }
#endif
  for (; i < n; ++i) {
    float s, c;
    sincos_one(x[i], s, c);
    sine[i] = scale * s;
    cosine[i] = scale * c;
  }
}

}  // namespace engram::detail
