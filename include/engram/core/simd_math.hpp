// The float functions engram evaluates many at a time itself: the log of a uniform in (0, 1]
// and the sine and cosine (of pi a for a in [-1, 1], and of any float), as Cephes' float
// polynomials (Moshier's logf, sinf and cosf), in AVX2 packets where the target has AVX2 and FMA
// (the log, sine and cosine in AVX-512 packets where it has AVX-512F) and in a scalar loop
// otherwise or for the tail. Sine and cosine share one range reduction (Eigen's sin() and cos()
// reduce the argument once each). Every multiply-add is fused() or a lone product, never left for
// the compiler to contract, and the packets perform the same operations as the scalar code: one
// build gives bitwise the same numbers whichever path an element takes; a build for another
// instruction set (with or without FMA) can differ in the last bits.
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
inline __m256 mul(__m256 a, __m256 b) {
  return _mm256_mul_ps(a, b);
}
inline __m256 add(__m256 a, __m256 b) {
  return _mm256_add_ps(a, b);
}
template <class V>
V broadcast(float v);
template <>
inline __m256 broadcast<__m256>(float v) {
  return _mm256_set1_ps(v);
}
#if defined(__AVX512F__)
inline __m512 fma(__m512 a, __m512 b, __m512 c) {
  return _mm512_fmadd_ps(a, b, c);
}
inline __m512 mul(__m512 a, __m512 b) {
  return _mm512_mul_ps(a, b);
}
inline __m512 add(__m512 a, __m512 b) {
  return _mm512_add_ps(a, b);
}
template <>
inline __m512 broadcast<__m512>(float v) {
  return _mm512_set1_ps(v);
}
#endif

/// x - q pi/2 for minus_q = -q, in the three parts of sincos_one; 8 or 16 lanes.
template <class V>
V reduce_quadrant(V x, V minus_q) {
  V t = fma(minus_q, broadcast<V>(pio2_1), x);
  t = fma(minus_q, broadcast<V>(pio2_2), t);
  return fma(minus_q, broadcast<V>(pio2_3), t);
}

/// sin x and cos x for x in [-pi/4, pi/4]: the polynomials of sincos_quadrant; 8 or 16 lanes.
template <class V>
void sincos_polynomials(V x, V& sine, V& cosine) {
  const V z = mul(x, x);
  V ps = broadcast<V>(sin_p[0]);
  ps = fma(ps, z, broadcast<V>(sin_p[1]));
  ps = fma(ps, z, broadcast<V>(sin_p[2]));
  sine = fma(mul(ps, z), x, x);
  V pc = broadcast<V>(cos_p[0]);
  pc = fma(pc, z, broadcast<V>(cos_p[1]));
  pc = fma(pc, z, broadcast<V>(cos_p[2]));
  cosine = fma(mul(pc, z), z, fma(broadcast<V>(-0.5f), z, broadcast<V>(1.f)));
}

/// log(m 2^e) for x = m - 1, m in [sqrt(1/2), sqrt 2), and fe = e: the polynomial of log_unit;
/// 8 or 16 lanes.
template <class V>
V log_polynomial(V x, V fe) {
  const V z = mul(x, x);
  V p = broadcast<V>(log_p[0]);
  for (int i = 1; i < 9; ++i) p = fma(p, x, broadcast<V>(log_p[i]));
  V y = mul(mul(p, x), z);
  y = fma(broadcast<V>(log2_lo), fe, y);
  y = fma(broadcast<V>(-0.5f), z, y);
  return fma(broadcast<V>(log2_hi), fe, add(x, y));
}

inline __m256 log_unit(__m256 u) {
  const __m256i bits = _mm256_castps_si256(u);
  __m256i e = _mm256_sub_epi32(_mm256_srli_epi32(bits, 23), _mm256_set1_epi32(126));
  __m256 m = _mm256_castsi256_ps(_mm256_or_si256(
      _mm256_and_si256(bits, _mm256_set1_epi32(0x007fffff)), _mm256_set1_epi32(0x3f000000)));
  const __m256 small = _mm256_cmp_ps(m, splat(0.707106781186547524f), _CMP_LT_OQ);
  e = _mm256_add_epi32(e, _mm256_castps_si256(small));  // -1 where small
  m = _mm256_add_ps(m, _mm256_and_ps(small, m));
  return log_polynomial(_mm256_sub_ps(m, splat(1.f)), _mm256_cvtepi32_ps(e));
}

/// sin and cos of q pi/2 + x, x in [-pi/4, pi/4], q integer-valued.
inline void sincos_quadrant(__m256 x, __m256 q, __m256& sine, __m256& cosine) {
  __m256 s, c;
  sincos_polynomials(x, s, c);
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

/// sin(v) and cos(v) as sincos_one, lane by lane.
inline void sincos(__m256 v, __m256& sine, __m256& cosine) {
  const __m256 abs_mask = _mm256_castsi256_ps(_mm256_set1_epi32(0x7fffffff));
  const __m256 sign_mask = _mm256_castsi256_ps(_mm256_set1_epi32(int(0x80000000u)));
  // Lanes beyond the limit (or NaN) go through sincos_one, as in the scalar loop.
  const int far = _mm256_movemask_ps(
      _mm256_cmp_ps(_mm256_and_ps(v, abs_mask), splat(sincos_limit), _CMP_NLE_UQ));
  const __m256 q = round_nearest(_mm256_mul_ps(v, splat(two_over_pi)));
  const __m256 minus_q = _mm256_xor_ps(q, sign_mask);  // -q, as the scalar code negates
  sincos_quadrant(reduce_quadrant(v, minus_q), q, sine, cosine);
  if (far) {
    alignas(32) float x[8], s[8], c[8];
    _mm256_store_ps(x, v);
    _mm256_store_ps(s, sine);
    _mm256_store_ps(c, cosine);
    for (int l = 0; l < 8; ++l)
      if (far & (1 << l)) sincos_one(x[l], s[l], c[l]);
    sine = _mm256_load_ps(s);
    cosine = _mm256_load_ps(c);
  }
}
}  // namespace packet
#endif

#if defined(__AVX512F__) && defined(__FMA__)
/// log, sin and cos on sixteen lanes: the AVX2 packets' operations, with AVX-512F's masks.
namespace packet16 {
using packet::fma;
inline __m512 splat(float v) {
  return _mm512_set1_ps(v);
}
inline __m512 flip(__m512 a, __m512i bits) {
  return _mm512_castsi512_ps(_mm512_xor_si512(_mm512_castps_si512(a), bits));
}

inline void sincos_quadrant(__m512 x, __m512 q, __m512& sine, __m512& cosine) {
  __m512 s, c;
  packet::sincos_polynomials(x, s, c);
  const __m512i qi = _mm512_cvtps_epi32(q);
  const __m512i one = _mm512_set1_epi32(1), two = _mm512_set1_epi32(2);
  const __mmask16 odd = _mm512_test_epi32_mask(qi, one);
  const __m512i sign_s = _mm512_slli_epi32(_mm512_and_si512(qi, two), 30);
  const __m512i sign_c = _mm512_slli_epi32(_mm512_and_si512(_mm512_add_epi32(qi, one), two), 30);
  sine = flip(_mm512_mask_blend_ps(odd, s, c), sign_s);
  cosine = flip(_mm512_mask_blend_ps(odd, c, s), sign_c);
}

inline __m512 log_unit(__m512 u) {
  const __m512i bits = _mm512_castps_si512(u);
  __m512i e = _mm512_sub_epi32(_mm512_srli_epi32(bits, 23), _mm512_set1_epi32(126));
  __m512 m = _mm512_castsi512_ps(_mm512_or_si512(
      _mm512_and_si512(bits, _mm512_set1_epi32(0x007fffff)), _mm512_set1_epi32(0x3f000000)));
  const __mmask16 small = _mm512_cmp_ps_mask(m, splat(0.707106781186547524f), _CMP_LT_OQ);
  e = _mm512_mask_sub_epi32(e, small, e, _mm512_set1_epi32(1));
  m = _mm512_mask_add_ps(m, small, m, m);
  return packet::log_polynomial(_mm512_sub_ps(m, splat(1.f)), _mm512_cvtepi32_ps(e));
}

inline void sincospi_unit(__m512 a, __m512& sine, __m512& cosine) {
  const __m512 q =
      _mm512_roundscale_ps(_mm512_add_ps(a, a), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
  const __m512 t = fma(splat(-0.5f), q, a);
  sincos_quadrant(_mm512_mul_ps(t, splat(pi_f)), q, sine, cosine);
}

/// sin(v) and cos(v) as sincos_one, for the lanes of `lanes`; the others are sin 0 and cos 0
/// where v is 0 there.
inline void sincos(__m512 v, __mmask16 lanes, __m512& sine, __m512& cosine) {
  const __m512 abs =
      _mm512_castsi512_ps(_mm512_and_si512(_mm512_castps_si512(v), _mm512_set1_epi32(0x7fffffff)));
  const __mmask16 far = _mm512_cmp_ps_mask(abs, splat(sincos_limit), _CMP_NLE_UQ) & lanes;
  const __m512 q = _mm512_roundscale_ps(_mm512_mul_ps(v, splat(two_over_pi)),
                                        _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
  const __m512 minus_q = flip(q, _mm512_set1_epi32(int(0x80000000u)));
  sincos_quadrant(packet::reduce_quadrant(v, minus_q), q, sine, cosine);
  if (far) {
    // Beyond the reduction's range, or not finite: std::sin and std::cos, as sincos_one.
    alignas(64) float x[16], s[16], c[16];
    _mm512_store_ps(x, v);
    _mm512_store_ps(s, sine);
    _mm512_store_ps(c, cosine);
    for (int l = 0; l < 16; ++l)
      if (far & (1u << l)) sincos_one(x[l], s[l], c[l]);
    sine = _mm512_load_ps(s);
    cosine = _mm512_load_ps(c);
  }
}
}  // namespace packet16
#endif

/// sine[i] = scale sin(x[i]) and cosine[i] = scale cos(x[i]) for i < n (sincos_one, then one
/// product by scale).
inline void sincos(std::size_t n, const float* x, float scale, float* sine, float* cosine) {
  std::size_t i = 0;
#if defined(__AVX512F__) && defined(__FMA__)
  {
    using namespace packet16;
    const __m512 k = splat(scale);
    for (; i + 16 <= n; i += 16) {
      __m512 s, c;
      sincos(_mm512_loadu_ps(x + i), __mmask16(0xffff), s, c);
      _mm512_storeu_ps(sine + i, _mm512_mul_ps(k, s));
      _mm512_storeu_ps(cosine + i, _mm512_mul_ps(k, c));
    }
  }
#endif
#if defined(__AVX2__) && defined(__FMA__)
  {
    using namespace packet;
    const __m256 k = splat(scale);
    for (; i + 8 <= n; i += 8) {
      __m256 s, c;
      sincos(_mm256_loadu_ps(x + i), s, c);
      _mm256_storeu_ps(sine + i, _mm256_mul_ps(k, s));
      _mm256_storeu_ps(cosine + i, _mm256_mul_ps(k, c));
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

/// The sincos map's share of one column of a tile of features, in one pass: returns
/// scale sum_i (cos(h_i) tc_i + sin(h_i) ts_i), and, where u is not null, writes the pullback
/// u_i = scale (cos(h_i) ts_i - sin(h_i) tc_i); u may be h itself. Sine and cosine are
/// sincos_one's. The sum runs in lanes (sixteen with AVX-512, eight with AVX2), added across
/// the lanes at the end, then over the scalar tail: one build gives one order for every call.
inline float sincos_project(std::size_t n, const float* h, float scale, const float* tc,
                            const float* ts, float* u) {
  std::size_t i = 0;
  float total = 0;
#if defined(__AVX512F__) && defined(__FMA__)
  {
    using namespace packet16;
    const __m512 k = splat(scale);
    const auto step = [&](std::size_t at, __mmask16 lanes, __m512& acc) {
      __m512 s, c;
      sincos(_mm512_maskz_loadu_ps(lanes, h + at), lanes, s, c);
      const __m512 a = _mm512_maskz_loadu_ps(lanes, tc + at);
      const __m512 b = _mm512_maskz_loadu_ps(lanes, ts + at);
      acc = fma(s, b, fma(c, a, acc));
      if (u)
        _mm512_mask_storeu_ps(u + at, lanes,
                              _mm512_mul_ps(k, _mm512_fmsub_ps(c, b, _mm512_mul_ps(s, a))));
    };
    // Two sums in turn, so that their multiply-adds overlap; the last, partial packet in masked
    // lanes, whose zeros add cos 0 * 0 + sin 0 * 0.
    __m512 acc0 = _mm512_setzero_ps(), acc1 = _mm512_setzero_ps();
    for (; i + 32 <= n; i += 32) {
      step(i, __mmask16(0xffff), acc0);
      step(i + 16, __mmask16(0xffff), acc1);
    }
    for (; i < n; i += 16)
      step(i, n - i >= 16 ? __mmask16(0xffff) : __mmask16((1u << (n - i)) - 1u), acc0);
    alignas(64) float lanes[16];
    _mm512_store_ps(lanes, _mm512_add_ps(acc0, acc1));
    for (float l : lanes) total += l;
    i = n;
  }
#elif defined(__AVX2__) && defined(__FMA__)
  {
    using namespace packet;
    const __m256 k = splat(scale);
    const auto step = [&](std::size_t at, __m256& acc) {
      __m256 s, c;
      sincos(_mm256_loadu_ps(h + at), s, c);
      const __m256 a = _mm256_loadu_ps(tc + at), b = _mm256_loadu_ps(ts + at);
      acc = fma(s, b, fma(c, a, acc));
      if (u) _mm256_storeu_ps(u + at, _mm256_mul_ps(k, _mm256_fmsub_ps(c, b, _mm256_mul_ps(s, a))));
    };
    __m256 acc0 = _mm256_setzero_ps(), acc1 = _mm256_setzero_ps();
    for (; i + 16 <= n; i += 16) {
      step(i, acc0);
      step(i + 8, acc1);
    }
    for (; i + 8 <= n; i += 8) step(i, acc0);
    alignas(32) float lanes[8];
    _mm256_store_ps(lanes, _mm256_add_ps(acc0, acc1));
    for (float l : lanes) total += l;
  }
#endif
  for (; i < n; ++i) {
    float s, c;
    sincos_one(h[i], s, c);
    total = fused(s, ts[i], fused(c, tc[i], total));
    if (u) u[i] = scale * fused(c, ts[i], -(s * tc[i]));
  }
  return scale * total;
}

}  // namespace engram::detail
