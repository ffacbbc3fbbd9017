// The products inside the cpu backend's tiles: c = alpha op(a) b, or c += alpha op(a) b, on the
// calling thread (the reductions and feature tiles thread over tiles, never inside one).
//
// Built with ENGRAM_BLAS=blis (CMake), which defines ENGRAM_USE_BLIS and links BLIS, a product
// runs on the gemm micro-kernel that BLIS selects for the running CPU (register-blocked
// assembly; on Zen 3 its "zen3" configuration: 6 x 16 floats, 6 x 8 doubles, KC = 256), over
// panels that engram packs itself into the calling thread's buffer, blocked by BLIS's own cache
// sizes (KC, MC). BLIS's whole gemm is not called: it takes packing memory from process-wide
// pools that grow whenever more threads call at once, and its OpenMP layer opens a parallel
// region (a team allocated per call) even for one thread. Here nothing is allocated once the
// buffer has grown, and nothing is threaded. Products of fewer than 16 rows, and builds without
// BLIS, run on Eigen's GEMM. An operand shared by several products (a memory tile against every
// block of queries) can be packed once beforehand (tile_operand, pack_tile_a, pack_tile_b).
//
// Products of a few columns (a few queries: 2 <= n <= thin_columns) run on neither: two small
// kernels read both operands in place (dot products along contiguous columns, or sums of columns),
// with sums held in registers, because packing a memory tile whose numbers serve only n products
// costs as much as the products themselves. While they compute, they prefetch the memory tile
// that the caller names next (prefetch_range), which is what bounds them when it comes from L3
// or DRAM.
//
// BLIS's kernel is used only where its vectors are at least as wide as the ones this build gives
// Eigen, or as the core's FMA units take in one pass. On an Intel AVX-512 machine whose FMA
// units BLIS cannot count (virtual machines report a generic CPU name), BLIS falls back to its
// AVX2 "haswell" kernels, and Eigen's AVX-512 products (built with -march=native) are then about
// 1.4x faster (benchmarks/RESULTS.md); there the products run on Eigen. BLIS_ARCH_TYPE=skx in
// the environment makes BLIS select its AVX-512 kernels, which engram then uses. On AMD's Zen 4,
// whose AVX-512 runs on 256-bit units, Debian's BLIS selects its "zen3" kernels and they stay:
// 1.1-1.2x Eigen's AVX-512 products there.
// Operands are column-major with unit inner stride: Eigen matrices, their blocks and Refs.
#pragma once

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <initializer_list>
#include <type_traits>
#include <utility>

#include "engram/core/backend.hpp"
#include "engram/core/types.hpp"

#if defined(ENGRAM_USE_BLIS)
#include <blis.h>
#if defined(__AVX2__)
#include <immintrin.h>
#endif
#if defined(__x86_64__) || defined(__i386__)
#include <cpuid.h>
#endif
#endif

namespace engram {

/// Memory that a thin product (below) asks toward L2 while it computes, spread over its steps:
/// the next memory tile of a streamed reduction, so that the tile is in cache when its turn
/// comes instead of being read from L3 or DRAM while the product waits. Empty: none.
struct prefetch_range {
  const void* begin = nullptr;
  index bytes = 0;
};

#if defined(ENGRAM_USE_BLIS)
namespace cpu_detail {

/// Bytes of the vectors of BLIS's x86 configurations; other names (ARM, generic, configurations
/// newer than this list) count as wide, so that BLIS keeps them.
inline int vector_bytes(const char* configuration) {
  const auto is = [&](std::initializer_list<const char*> names) {
    for (const char* name : names)
      if (std::strcmp(configuration, name) == 0) return true;
    return false;
  };
  if (is({"skx", "knl", "zen4", "zen5"})) return 64;
  if (is({"haswell", "zen", "zen2", "zen3", "sandybridge", "excavator", "steamroller", "piledriver",
          "bulldozer"}))
    return 32;
  if (is({"penryn"})) return 16;
  return 1 << 10;
}

/// Bytes of the vectors a core's FMA units take in one pass, from its vendor and family (CPUID):
/// 32 on AMD's Zen 1 to Zen 4 (families 0x17 and 0x19), which execute a 512-bit instruction as
/// two 256-bit halves (Zen 4) or have no AVX-512; unbounded (1 << 10) elsewhere, where the
/// instruction set's width is taken at its word.
inline int fma_datapath_bytes(bool amd, unsigned family) {
  return amd && family >= 0x17 && family <= 0x19 ? 32 : 1 << 10;
}

/// fma_datapath_bytes of the running CPU (unbounded where it cannot be asked: not x86).
inline int fma_datapath_bytes() {
#if defined(__x86_64__) || defined(__i386__)
  unsigned a = 0, b = 0, c = 0, d = 0;
  if (!__get_cpuid(0, &a, &b, &c, &d)) return 1 << 10;
  const bool amd = b == 0x68747541u && d == 0x69746e65u && c == 0x444d4163u;  // "AuthenticAMD"
  if (!__get_cpuid(1, &a, &b, &c, &d)) return 1 << 10;
  const unsigned base = (a >> 8) & 0xfu, family = base == 0xfu ? base + ((a >> 20) & 0xffu) : base;
  return fma_datapath_bytes(amd, family);
#else
  return 1 << 10;
#endif
}

/// Bytes of the vectors Eigen's products use in this build.
#if defined(EIGEN_VECTORIZE_AVX512)
inline constexpr int eigen_vector_bytes = 64;
#elif defined(EIGEN_VECTORIZE_AVX)
inline constexpr int eigen_vector_bytes = 32;
#else
inline constexpr int eigen_vector_bytes = 16;
#endif

/// BLIS's native gemm micro-kernel for Scalar on this CPU and the block sizes it was tuned with.
template <class Scalar>
struct blis_kernel {
  using ukernel = void (*)(dim_t, dim_t, dim_t, Scalar*, Scalar*, Scalar*, Scalar*, Scalar*, inc_t,
                           inc_t, auxinfo_t*, cntx_t*);
  cntx_t* cntx;
  ukernel run;
  index mr, nr, kc, mc;
  bool prefers_rows;
  bool preferred;  // tile_product runs on this kernel (see the top of the file)

  static const blis_kernel& get() {
    static const blis_kernel k = [] {
      constexpr num_t dt = std::is_same_v<Scalar, float> ? BLIS_FLOAT : BLIS_DOUBLE;
      blis_kernel r{};
      r.cntx = bli_gks_query_cntx();
      r.run = reinterpret_cast<ukernel>(bli_cntx_get_l3_nat_ukr_dt(dt, BLIS_GEMM_UKR, r.cntx));
      // Panels are packed PACKMR x PACKNR wide (the blocks' "max" sizes), which the kernels read.
      r.mr = index(bli_cntx_get_blksz_max_dt(dt, BLIS_MR, r.cntx));
      r.nr = index(bli_cntx_get_blksz_max_dt(dt, BLIS_NR, r.cntx));
      r.kc = index(bli_cntx_get_blksz_def_dt(dt, BLIS_KC, r.cntx));
      r.mc = index(bli_cntx_get_blksz_def_dt(dt, BLIS_MC, r.cntx));
      r.prefers_rows = bli_cntx_l3_nat_ukr_prefers_rows_dt(dt, BLIS_GEMM_UKR, r.cntx);
      r.preferred = vector_bytes(bli_arch_string(bli_arch_query_id())) >=
                    std::min(eigen_vector_bytes, fma_datapath_bytes());
      return r;
    }();
    return k;
  }
};

/// A logical rows x k matrix Q(i, l) = src[i si + l sl].
template <class Scalar>
struct strided {
  const Scalar* src;
  index si, sl;
};

/// A full panel whose rows are contiguous columns of the source (q.si == 1): kc copies of W
/// consecutive numbers, W fixed so that each copy is a vector move or two. (A loop over i would
/// stay scalar at GCC's -O2, which does not vectorise where source and panel might overlap.)
template <index W, class Scalar>
void copy_panel(const Scalar* s, index stride, index kc, Scalar* out) {
  for (index l = 0; l < kc; ++l, s += stride, out += W) std::memcpy(out, s, W * sizeof(Scalar));
}

#if defined(__AVX2__)
/// Transposes the 8 x 8 block r (rows in, columns out): r[l] becomes (r[0][l], ..., r[7][l]).
inline void transpose8(__m256 r[8]) {
  __m256 t[8], u[8];
  for (int p = 0; p < 4; ++p) {
    t[2 * p] = _mm256_unpacklo_ps(r[2 * p], r[2 * p + 1]);
    t[2 * p + 1] = _mm256_unpackhi_ps(r[2 * p], r[2 * p + 1]);
  }
  for (int h = 0; h < 2; ++h) {  // rows 0-3 into u[0..3], rows 4-7 into u[4..7]
    u[4 * h + 0] = _mm256_shuffle_ps(t[4 * h], t[4 * h + 2], _MM_SHUFFLE(1, 0, 1, 0));
    u[4 * h + 1] = _mm256_shuffle_ps(t[4 * h], t[4 * h + 2], _MM_SHUFFLE(3, 2, 3, 2));
    u[4 * h + 2] = _mm256_shuffle_ps(t[4 * h + 1], t[4 * h + 3], _MM_SHUFFLE(1, 0, 1, 0));
    u[4 * h + 3] = _mm256_shuffle_ps(t[4 * h + 1], t[4 * h + 3], _MM_SHUFFLE(3, 2, 3, 2));
  }
  for (int l = 0; l < 4; ++l) {
    r[l] = _mm256_permute2f128_ps(u[l], u[l + 4], 0x20);
    r[l + 4] = _mm256_permute2f128_ps(u[l], u[l + 4], 0x31);
  }
}

/// Transposes the 4 x 4 block r of doubles.
inline void transpose4(__m256d r[4]) {
  const __m256d t0 = _mm256_unpacklo_pd(r[0], r[1]), t1 = _mm256_unpackhi_pd(r[0], r[1]);
  const __m256d t2 = _mm256_unpacklo_pd(r[2], r[3]), t3 = _mm256_unpackhi_pd(r[2], r[3]);
  r[0] = _mm256_permute2f128_pd(t0, t2, 0x20);
  r[1] = _mm256_permute2f128_pd(t1, t3, 0x20);
  r[2] = _mm256_permute2f128_pd(t0, t2, 0x31);
  r[3] = _mm256_permute2f128_pd(t1, t3, 0x31);
}

/// Stores the first N (1 to 8) floats of v at out.
template <int N>
void store_first(float* out, __m256 v) {
  if constexpr (N == 8) {
    _mm256_storeu_ps(out, v);
  } else {
    const __m128 lo = _mm256_castps256_ps128(v), hi = _mm256_extractf128_ps(v, 1);
    if constexpr (N >= 4) _mm_storeu_ps(out, lo);
    const __m128 rest = N >= 4 ? hi : lo;
    float* o = out + (N >= 4 ? 4 : 0);
    constexpr int M = N % 4;
    if constexpr (M >= 2) _mm_storel_pi(reinterpret_cast<__m64*>(o), rest);
    if constexpr (M == 1) _mm_store_ss(o, rest);
    if constexpr (M == 3) _mm_store_ss(o + 2, _mm_movehl_ps(rest, rest));
  }
}

/// Stores the first N (1 to 4) doubles of v at out.
template <int N>
void store_first(double* out, __m256d v) {
  if constexpr (N == 4) {
    _mm256_storeu_pd(out, v);
  } else {
    const __m128d lo = _mm256_castpd256_pd128(v);
    if constexpr (N >= 2) _mm_storeu_pd(out, lo);
    if constexpr (N == 3) _mm_store_sd(out + 2, _mm256_extractf128_pd(v, 1));
    if constexpr (N == 1) _mm_store_sd(out, lo);
  }
}

/// One AVX2 register block of a transposition: 8 x 8 floats or 4 x 4 doubles.
template <class Scalar>
struct avx2_block;
template <>
struct avx2_block<float> {
  using vector = __m256;
  static constexpr index size = 8;
  static vector load(const float* p) { return _mm256_loadu_ps(p); }
  static void store(float* p, vector v) { _mm256_storeu_ps(p, v); }
  static void transpose(vector* r) { transpose8(r); }
};
template <>
struct avx2_block<double> {
  using vector = __m256d;
  static constexpr index size = 4;
  static vector load(const double* p) { return _mm256_loadu_pd(p); }
  static void store(double* p, vector v) { _mm256_storeu_pd(p, v); }
  static void transpose(vector* r) { transpose4(r); }
};
#endif

/// A full panel whose rows are contiguous along k (q.sl == 1): out[l W + i] = s[i stride + l],
/// a transposition. On AVX2 it runs in register blocks of 8 x 8 floats or 4 x 4 doubles; rows
/// past the last whole block (the 6 of a 6-row panel: the queries of BLIS's 6 x 16 kernel) are
/// transposed in one block whose missing rows repeat the last, and stored in part. At GCC's -O2
/// the scalar loop below is not vectorised; it packed 6-row panels at a fraction of the speed.
template <index W, class Scalar>
void transpose_panel(const Scalar* s, index stride, index kc, Scalar* out) {
  index l0 = 0;
#if defined(__AVX2__)
  if constexpr (std::is_same_v<Scalar, float> || std::is_same_v<Scalar, double>) {
    using T = avx2_block<Scalar>;
    constexpr index n = T::size, full = W / n * n;
    constexpr int rest = int(W - full);
    for (; l0 + n <= kc; l0 += n) {
      if (l0 % 16 == 0)
        for (index i = 0; i < W; ++i)
          _mm_prefetch(reinterpret_cast<const char*>(s + i * stride + l0 + 64), _MM_HINT_T0);
      typename T::vector r[n];
      for (index h = 0; h < full; h += n) {
        for (index i = 0; i < n; ++i) r[i] = T::load(s + (h + i) * stride + l0);
        T::transpose(r);
        for (index l = 0; l < n; ++l) T::store(out + (l0 + l) * W + h, r[l]);
      }
      if constexpr (rest > 0) {
        for (index i = 0; i < n; ++i)
          r[i] = T::load(s + (full + std::min<index>(i, rest - 1)) * stride + l0);
        T::transpose(r);
        for (index l = 0; l < n; ++l) store_first<rest>(out + (l0 + l) * W + full, r[l]);
      }
    }
  }
#endif
  for (index i = 0; i < W; ++i)
    for (index l = l0; l < kc; ++l) out[l * W + i] = s[i * stride + l];
}

/// Packs rows [i0, i0 + rows) and columns [l0, l0 + kc) of q as one micro-panel of `width` rows:
/// out[l width + i] = q(i0 + i, l0 + l), rows beyond `rows` zero. Any width and layout; the full
/// panels of pack_panels below take faster paths.
template <class Scalar>
void pack_panel(const strided<Scalar>& q, index i0, index rows, index l0, index kc, index width,
                Scalar* out) {
  if (q.sl == 1) {  // rows contiguous in the source: read each row along k
    for (index i = 0; i < rows; ++i) {
      const Scalar* s = q.src + (i0 + i) * q.si + l0;
      for (index l = 0; l < kc; ++l) out[l * width + i] = s[l];
    }
  } else {  // columns contiguous: read each column of the panel
    for (index l = 0; l < kc; ++l) {
      const Scalar* s = q.src + i0 * q.si + (l0 + l) * q.sl;
      Scalar* o = out + l * width;
      for (index i = 0; i < rows; ++i) o[i] = s[i * q.si];
    }
  }
  if (rows < width)
    for (index l = 0; l < kc; ++l)
      for (index i = rows; i < width; ++i) out[l * width + i] = Scalar(0);
}

/// `panels` full panels of W rows from row i0 on, panel p at out + p ps, W fixed at compile
/// time. Where the source's columns are contiguous, each column is read once, front to back,
/// across all panels: panel by panel, the reads would step by a whole column (3 KiB at D = 784),
/// a stride the hardware prefetchers do not follow.
template <index W, class Scalar>
void pack_full_panels(const strided<Scalar>& q, index i0, index panels, index l0, index kc,
                      Scalar* out, index ps) {
  if (q.sl == 1) {
    for (index p = 0; p < panels; ++p)
      transpose_panel<W>(q.src + (i0 + p * W) * q.si + l0, q.si, kc, out + p * ps);
  } else {  // q.si == 1
    const Scalar* s = q.src + i0 + l0 * q.sl;
    for (index l = 0; l < kc; ++l, s += q.sl)
      for (index p = 0; p < panels; ++p)
        std::memcpy(out + p * ps + l * W, s + p * W, W * sizeof(Scalar));
  }
}

/// pack_full_panels<W> for the W of Widths equal to width; false where none is.
template <index... Widths, class Scalar>
bool pack_full_panels_of(index width, const strided<Scalar>& q, index i0, index panels, index l0,
                         index kc, Scalar* out, index ps) {
  return ((width == Widths && (pack_full_panels<Widths>(q, i0, panels, l0, kc, out, ps), true)) ||
          ...);
}

/// Packs rows [i0, i0 + rows) and columns [l0, l0 + kc) of q as ceil(rows / width) micro-panels,
/// panel p at out + p ps. Full panels of the widths of BLIS's x86 kernels run on fixed-width
/// loops; generic ones, which GCC's -O2 leaves scalar, made packing 38% of a product with 20
/// columns (before those went to the thin kernels) and a few percent of the large ones.
template <class Scalar>
void pack_panels(const strided<Scalar>& q, index i0, index rows, index l0, index kc, index width,
                 Scalar* out, index ps) {
  index p = (q.si == 1 || q.sl == 1) ? rows / width : 0;  // full panels on the fast paths
  if (p > 0 && !pack_full_panels_of<4, 6, 8, 12, 16, 24, 32>(width, q, i0, p, l0, kc, out, ps))
    p = 0;
  for (; p * width < rows; ++p)
    pack_panel(q, i0 + p * width, std::min(width, rows - p * width), l0, kc, width, out + p * ps);
}

inline index round_up(index n, index to) {
  return (n + to - 1) / to * to;
}

/// Numbers of the packing buffer for a product of mu x k by k x nu: all right panels of one
/// KC block, one MC block of left panels, and room to align.
template <class Scalar>
index pack_size(index mu, index nu, index k) {
  const blis_kernel<Scalar>& kr = blis_kernel<Scalar>::get();
  constexpr index align = 64 / index(sizeof(Scalar));
  const index kc = std::min(kr.kc, k);
  const index mc = std::min(round_up(kr.mc, kr.mr), round_up(mu, kr.mr));
  return round_up(kr.nr * kc, align) * ((nu + kr.nr - 1) / kr.nr) +
         round_up(kr.mr * kc, align) * (mc / kr.mr) + align;
}

/// The first 64-byte aligned number at or after p.
template <class Scalar>
Scalar* align64(Scalar* p) {
  constexpr index align = 64 / index(sizeof(Scalar));
  return p + (align - index(reinterpret_cast<std::uintptr_t>(p) / sizeof(Scalar)) % align) % align;
}

/// A rows x k operand packed whole, as blis_product would pack it one block at a time: for every
/// KC block of k (block b at data + b stride), ceil(rows / width) panels of `width` rows, panel
/// p at p round_up(width kc, 16 floats or 8 doubles) from its block.
template <class Scalar>
struct packed_panels {
  const Scalar* data = nullptr;
  index rows = 0, k = 0, width = 0, stride = 0;
};

/// Numbers between the KC blocks of a rows x k operand packed whole in panels of `width`.
template <class Scalar>
index whole_block_stride(index rows, index k, index width) {
  constexpr index align = 64 / index(sizeof(Scalar));
  return (rows + width - 1) / width *
         round_up(width * std::min(blis_kernel<Scalar>::get().kc, k), align);
}

/// Numbers of the buffer of pack_whole for a rows x k operand in panels of `width`.
template <class Scalar>
index pack_whole_size(index rows, index k, index width) {
  const index kc = blis_kernel<Scalar>::get().kc;
  return (k + kc - 1) / kc * whole_block_stride<Scalar>(rows, k, width) +
         64 / index(sizeof(Scalar));
}

/// Packs the rows x k operand q whole into `buffer` (grown when too small) in panels of `width`.
template <class Scalar>
packed_panels<Scalar> pack_whole(const strided<Scalar>& q, index rows, index k, index width,
                                 vector<Scalar>& buffer) {
  const blis_kernel<Scalar>& kr = blis_kernel<Scalar>::get();
  constexpr index align = 64 / index(sizeof(Scalar));
  const index need = pack_whole_size<Scalar>(rows, k, width);
  if (buffer.size() < need) buffer.resize(need);
  Scalar* out = align64(buffer.data());
  const packed_panels<Scalar> p{out, rows, k, width, whole_block_stride<Scalar>(rows, k, width)};
  for (index l0 = 0; l0 < k; l0 += kr.kc) {
    const index kc = std::min(kr.kc, k - l0);
    pack_panels(q, 0, rows, l0, kc, width, out + (l0 / kr.kc) * p.stride,
                round_up(width * kc, align));
  }
  return p;
}

/// c_u = alpha left right^T (+ c_u when accumulating) over BLIS's micro-kernel, for the mu x k
/// matrix `left` and the nu x k matrix `right`; c_u(i, j) = c[i rs + j cs]. A side given packed
/// whole (pack_whole, in panels of the kernel's MR rows for the left, NR for the right) is read
/// from there instead of being packed again.
template <class Scalar>
void blis_product(const strided<Scalar>& left, index mu, const strided<Scalar>& right, index nu,
                  index k, Scalar alpha, bool accumulate, Scalar* c, index rs, index cs,
                  vector<Scalar>& pack, const packed_panels<Scalar>* left_whole = nullptr,
                  const packed_panels<Scalar>* right_whole = nullptr) {
  const blis_kernel<Scalar>& kr = blis_kernel<Scalar>::get();
  constexpr index align = 64 / index(sizeof(Scalar));  // 64-byte panels for aligned loads
  ENGRAM_ASSERT(!left_whole || (left_whole->rows == mu && left_whole->k == k &&
                                left_whole->width == kr.mr && kr.mc % kr.mr == 0));
  ENGRAM_ASSERT(!right_whole ||
                (right_whole->rows == nu && right_whole->k == k && right_whole->width == kr.nr));
  const index need = pack_size<Scalar>(mu, nu, k);
  if (pack.size() < need) pack.resize(need);
  const index right_size = round_up(kr.nr * std::min(kr.kc, k), align) * ((nu + kr.nr - 1) / kr.nr);
  Scalar* base = align64(pack.data());
  Scalar* right_packed = base;
  Scalar* left_packed = base + right_size;
  auxinfo_t aux{};
  Scalar one(1), zero(0);
  for (index l0 = 0; l0 < k; l0 += kr.kc) {
    const index kc = std::min(kr.kc, k - l0);
    const index lp = round_up(kr.mr * kc, align), rp = round_up(kr.nr * kc, align);
    Scalar* beta = (l0 == 0 && !accumulate) ? &zero : &one;
    if (right_whole)
      right_packed = const_cast<Scalar*>(right_whole->data) + (l0 / kr.kc) * right_whole->stride;
    else
      pack_panels(right, 0, nu, l0, kc, kr.nr, right_packed, rp);
    for (index i0 = 0; i0 < mu; i0 += kr.mc) {
      const index mc = std::min(kr.mc, mu - i0);
      if (left_whole)
        left_packed = const_cast<Scalar*>(left_whole->data) + (l0 / kr.kc) * left_whole->stride +
                      (i0 / kr.mr) * lp;
      else
        pack_panels(left, i0, mc, l0, kc, kr.mr, left_packed, lp);
      for (index j = 0; j < nu; j += kr.nr) {
        Scalar* b = right_packed + (j / kr.nr) * rp;
        for (index i = 0; i < mc; i += kr.mr) {
          Scalar* a = left_packed + (i / kr.mr) * lp;
          bli_auxinfo_set_next_a(a, &aux);
          bli_auxinfo_set_next_b(b, &aux);
          kr.run(dim_t(std::min(kr.mr, mc - i)), dim_t(std::min(kr.nr, nu - j)), dim_t(kc), &alpha,
                 a, b, beta, c + (i0 + i) * rs + j * cs, inc_t(rs), inc_t(cs), &aux, kr.cntx);
        }
      }
    }
  }
}

}  // namespace cpu_detail
#endif

namespace cpu_detail {

/// Products with few columns (2 <= n <= thin_columns: a handful of queries) run on the two
/// kernels below, which read both operands where they lie (one column stays on Eigen's GEMV,
/// which is faster there). A packed GEMM copies all of `a` (a memory
/// tile) into panels for every product, and with few columns each copied number serves only n
/// products: packing took 36% (Eigen) to 38% (BLIS) of image_completion's step at n = 20.
inline constexpr index thin_columns = 24;

/// Vector registers of the target (AVX-512 has 32, AVX and SSE 16).
#if defined(EIGEN_VECTORIZE_AVX512)
inline constexpr index vector_registers = 32;
#else
inline constexpr index vector_registers = 16;
#endif

/// Walks a prefetch_range toward L2 a few cache lines a step, spread over a product's steps so
/// that the whole range is asked for by its end. A copy lives in registers inside a kernel's
/// loop; the kernel hands it back where it stopped.
class prefetcher {
 public:
  static constexpr index line = 64;
  prefetcher() = default;
  prefetcher(prefetch_range r, index steps)
      : p_(static_cast<const char*>(r.begin)),
        left_(r.begin && r.bytes > 0 ? (r.bytes + line - 1) / line : 0),
        per_step_(steps > 0 ? (left_ + steps - 1) / steps : 0) {}
  /// Cache lines of the range not yet asked for.
  index left() const { return left_; }
  void step() {
    const index n = std::min(per_step_, left_);
    for (index i = 0; i < n; ++i) __builtin_prefetch(p_ + i * line, 0, 2);
    p_ += n * line;
    left_ -= n;
  }

 private:
  const char* p_ = nullptr;
  index left_ = 0, per_step_ = 0;
};

// The register blocks' loops have fixed trip counts; GCC's -O2 would leave them rolled, and the
// sums would live in memory instead of registers, so they are unrolled by pragma.

/// c(i, j) for i < mi <= MI, j < NJ of thin_dots: MI x NJ sums along k in vector registers,
/// reduced across lanes at the end. ap holds MI column pointers of a (the last repeated where
/// mi < MI; the repeats' sums are dropped), bp NJ of b.
template <index MI, index NJ, class Scalar>
void dot_block(const Scalar* const* ap, const Scalar* const* bp, index mi, index k, Scalar alpha,
               bool accumulate, Scalar* c, index ldc, prefetcher& pf) {
  namespace ei = Eigen::internal;
  using P = typename ei::packet_traits<Scalar>::type;
  constexpr index w = ei::packet_traits<Scalar>::size;
  const index kv = k / w * w;
  prefetcher q = pf;
  P acc[MI][NJ];
#pragma GCC unroll 16
  for (index i = 0; i < MI; ++i)
#pragma GCC unroll 16
    for (index j = 0; j < NJ; ++j) acc[i][j] = ei::pset1<P>(Scalar(0));
  for (index l = 0; l < kv; l += w) {
    q.step();
    P av[MI];
#pragma GCC unroll 16
    for (index i = 0; i < MI; ++i) av[i] = ei::ploadu<P>(ap[i] + l);
#pragma GCC unroll 16
    for (index j = 0; j < NJ; ++j) {
      const P bv = ei::ploadu<P>(bp[j] + l);
#pragma GCC unroll 16
      for (index i = 0; i < MI; ++i) acc[i][j] = ei::pmadd(av[i], bv, acc[i][j]);
    }
  }
  pf = q;
  // Over all MI rows: a loop over mi rows would index acc at run time, which kept the sums in
  // memory instead of registers through the loop above (2.5x slower on a tile in cache).
#pragma GCC unroll 16
  for (index i = 0; i < MI; ++i) {
    if (i >= mi) break;
#pragma GCC unroll 16
    for (index j = 0; j < NJ; ++j) {
      Scalar sum = ei::predux(acc[i][j]);
      for (index l = kv; l < k; ++l) sum += ap[i][l] * bp[j][l];
      Scalar& out = c[i + j * ldc];
      out = accumulate ? out + alpha * sum : alpha * sum;
    }
  }
}

/// Columns [j0, j1) of thin_dots, j1 - j0 a multiple of NJ, in blocks of MI x NJ: for each
/// block of MI columns of a (which then stay in L1), every block of NJ columns of b.
template <index MI, index NJ, class Scalar>
void dot_columns(index m, index j0, index j1, index k, Scalar alpha, const Scalar* a, index lda,
                 const Scalar* b, index ldb, bool accumulate, Scalar* c, index ldc,
                 prefetcher& pf) {
  for (index i0 = 0; i0 < m; i0 += MI) {
    const Scalar* ap[MI];
    for (index i = 0; i < MI; ++i) ap[i] = a + std::min(i0 + i, m - 1) * lda;
    for (index j = j0; j < j1; j += NJ) {
      const Scalar* bp[NJ];
      for (index t = 0; t < NJ; ++t) bp[t] = b + (j + t) * ldb;
      dot_block<MI, NJ>(ap, bp, std::min(MI, m - i0), k, alpha, accumulate, c + i0 + j * ldc, ldc,
                        pf);
    }
  }
}

/// c (m x n) = alpha a^T b (+ c when accumulating) for a (k x m) and b (k x n), both
/// column-major with contiguous columns: every c(i, j) is a dot product along k. With 32 vector
/// registers, blocks of 6 columns of a by 4 of b keep 24 sums in registers, so that each load of
/// a serves 4 products and each load of b 6 (the last 1-3 columns of b in blocks of 8 x 1,
/// 8 x 2 or 6 x 3); with 16, blocks of 4 x 3 (the last in 8 x 1 or 4 x 2). Each block holds at
/// least 8 independent sums, as the FMA units' latency needs. `next` is prefetched meanwhile;
/// returns the cache lines of it left unasked (0 unless k is below one vector).
template <class Scalar>
index thin_dots(index m, index n, index k, Scalar alpha, const Scalar* a, index lda,
                const Scalar* b, index ldb, bool accumulate, Scalar* c, index ldc,
                prefetch_range next = {}) {
  constexpr index w = Eigen::internal::packet_traits<Scalar>::size;
  constexpr bool wide = vector_registers >= 32;
  constexpr index MI = wide ? 6 : 4, NJ = wide ? 4 : 3, MI2 = wide ? 8 : 4;
  const index nm = n / NJ * NJ, rest = n - nm;
  const auto blocks = [&](index mi, index nj) { return (m + mi - 1) / mi * nj; };
  const index rest_blocks = rest == 3 ? blocks(6, 1) : rest == 2 ? blocks(MI2, 1) : blocks(8, rest);
  prefetcher pf(next, (blocks(MI, nm / NJ) + rest_blocks) * (k / w));
  dot_columns<MI, NJ>(m, 0, nm, k, alpha, a, lda, b, ldb, accumulate, c, ldc, pf);
  if constexpr (NJ == 4)
    if (rest == 3) dot_columns<6, 3>(m, nm, n, k, alpha, a, lda, b, ldb, accumulate, c, ldc, pf);
  if (rest == 2) dot_columns<MI2, 2>(m, nm, n, k, alpha, a, lda, b, ldb, accumulate, c, ldc, pf);
  if (rest == 1) dot_columns<8, 1>(m, nm, n, k, alpha, a, lda, b, ldb, accumulate, c, ldc, pf);
  return pf.left();
}

/// Rows [0, R w) of NJ columns of thin_axpys (w numbers a vector): R x NJ vectors of sums in
/// registers over all k, each step loading R vectors of one column of a and broadcasting NJ
/// numbers of b.
template <index R, index NJ, class Scalar>
void axpy_block(const Scalar* a, index lda, const Scalar* const* bp, index k, Scalar alpha,
                bool accumulate, Scalar* c, index ldc, prefetcher& pf) {
  namespace ei = Eigen::internal;
  using P = typename ei::packet_traits<Scalar>::type;
  constexpr index w = ei::packet_traits<Scalar>::size;
  prefetcher q = pf;
  P acc[R][NJ];
#pragma GCC unroll 16
  for (index r = 0; r < R; ++r)
#pragma GCC unroll 16
    for (index j = 0; j < NJ; ++j) acc[r][j] = ei::pset1<P>(Scalar(0));
  for (index l = 0; l < k; ++l, a += lda) {
    q.step();
    P av[R];
#pragma GCC unroll 16
    for (index r = 0; r < R; ++r) av[r] = ei::ploadu<P>(a + r * w);
#pragma GCC unroll 16
    for (index j = 0; j < NJ; ++j) {
      const P bv = ei::pset1<P>(bp[j][l]);
#pragma GCC unroll 16
      for (index r = 0; r < R; ++r) acc[r][j] = ei::pmadd(av[r], bv, acc[r][j]);
    }
  }
  pf = q;
  const P alpha_p = ei::pset1<P>(alpha);
#pragma GCC unroll 16
  for (index j = 0; j < NJ; ++j)
#pragma GCC unroll 16
    for (index r = 0; r < R; ++r) {
      Scalar* out = c + r * w + j * ldc;
      const P v = ei::pmul(alpha_p, acc[r][j]);
      ei::pstoreu(out, accumulate ? ei::padd(ei::ploadu<P>(out), v) : v);
    }
}

/// Blocks of R vectors of rows [r0, r0 + R w) of every column of thin_axpys: NJ columns at a
/// time, the last 1 to NJ - 1 together.
template <index R, index NJ, class Scalar>
void axpy_rows(index r0, index n, index k, const Scalar* a, index lda, const Scalar* b, index ldb,
               Scalar alpha, bool accumulate, Scalar* c, index ldc, prefetcher& pf) {
  const Scalar* bp[NJ];
  for (index j0 = 0; j0 < n; j0 += NJ) {
    const index nj = std::min(NJ, n - j0);
    for (index j = 0; j < NJ; ++j) bp[j] = b + (j0 + std::min(j, nj - 1)) * ldb;
    Scalar* cj = c + r0 + j0 * ldc;
    if (nj == NJ) {
      axpy_block<R, NJ>(a + r0, lda, bp, k, alpha, accumulate, cj, ldc, pf);
      continue;
    }
    if constexpr (NJ > 3)
      if (nj == 3) axpy_block<R, 3>(a + r0, lda, bp, k, alpha, accumulate, cj, ldc, pf);
    if constexpr (NJ > 2)
      if (nj == 2) axpy_block<R, 2>(a + r0, lda, bp, k, alpha, accumulate, cj, ldc, pf);
    if (nj == 1) axpy_block<R, 1>(a + r0, lda, bp, k, alpha, accumulate, cj, ldc, pf);
  }
}

/// c (m x n) = alpha a b (+ c when accumulating) for a (m x k) and b (k x n), column-major with
/// contiguous columns: columns of c are sums of columns of a. Blocks of R vectors of rows by 4
/// columns of c (R (4 + 1) + 1 registers) keep their sums in registers over all k. Rows go in
/// the outer loop, so that a block of rows of a (R w by k numbers: 32 KB at R = 6, 83 patterns)
/// stays in L1 for every block of columns; single vectors of rows follow, and rows past the last
/// whole vector are summed one by one. `next` is prefetched meanwhile; returns the cache lines
/// of it left unasked (0 unless m is below one vector).
template <class Scalar>
index thin_axpys(index m, index n, index k, Scalar alpha, const Scalar* a, index lda,
                 const Scalar* b, index ldb, bool accumulate, Scalar* c, index ldc,
                 prefetch_range next = {}) {
  constexpr index w = Eigen::internal::packet_traits<Scalar>::size, NJ = 4;
  constexpr index R = (vector_registers - 1) / (NJ + 1);
  const index mv = m / w * w, mr = mv / (R * w) * (R * w);
  prefetcher pf(next, (mv / w - mv / (R * w) * (R - 1)) * ((n + NJ - 1) / NJ) * k);
  for (index r0 = 0; r0 < mr; r0 += R * w)
    axpy_rows<R, NJ>(r0, n, k, a, lda, b, ldb, alpha, accumulate, c, ldc, pf);
  for (index r0 = mr; r0 < mv; r0 += w)
    axpy_rows<1, NJ>(r0, n, k, a, lda, b, ldb, alpha, accumulate, c, ldc, pf);
  for (index j = 0; j < n; ++j)
    for (index r = mv; r < m; ++r) {
      Scalar sum = 0;
      for (index l = 0; l < k; ++l) sum += a[r + l * lda] * b[l + j * ldb];
      Scalar& out = c[r + j * ldc];
      out = accumulate ? out + alpha * sum : alpha * sum;
    }
  return pf.left();
}

/// The patterns [k0, k0 + kc) (none where kc <= 0) as the prefetch ranges of a tile's two
/// products: the first half for the first, the rest for the second (all for the first without
/// a second).
template <class Scalar>
std::pair<prefetch_range, prefetch_range> next_tile(const matrix<Scalar>& patterns, index k0,
                                                    index kc, bool two) {
  if (kc <= 0) return {};
  const index bytes = kc * patterns.rows() * index(sizeof(Scalar)), half = two ? bytes / 2 : bytes;
  const char* begin = reinterpret_cast<const char*>(patterns.col(k0).data());
  return {{begin, half}, {begin + half, bytes - half}};
}

/// Whether an m x n x k product with more than thin_columns columns runs on BLIS's micro-kernel:
/// packing costs about 1/m + 1/n of the product, so products of fewer rows stay on Eigen's.
inline bool packs(index m, index n, index k) {
  return m >= 16 && n >= 16 && k >= 1;
}

}  // namespace cpu_detail

/// The packing buffer (numbers of Scalar) that tile_product needs for c (m x n) = op(a) b with k
/// terms: 0 where it does not pack (without BLIS, where Eigen's products are preferred, or for
/// thin products: n <= thin_columns).
template <class Scalar>
index tile_product_pack_size(cpu, index m, index n, index k) {
#if defined(ENGRAM_USE_BLIS)
  if constexpr (std::is_same_v<Scalar, float> || std::is_same_v<Scalar, double>) {
    const cpu_detail::blis_kernel<Scalar>& kr = cpu_detail::blis_kernel<Scalar>::get();
    if (!kr.preferred || n <= cpu_detail::thin_columns || !cpu_detail::packs(m, n, k)) return 0;
    return kr.prefers_rows ? cpu_detail::pack_size<Scalar>(n, m, k)
                           : cpu_detail::pack_size<Scalar>(m, n, k);
  }
#endif
  (void)m, (void)n, (void)k;
  return 0;
}

/// One operand of tile_product packed once for several products that share it: a memory tile
/// against every block of a batch's queries, or a block of queries against every memory tile.
/// pack_tile_a and pack_tile_b fill it where tile_product would pack that operand (BLIS's kernel
/// preferred, a product of more than thin_columns columns and at least 16 rows); elsewhere it
/// stays empty, and tile_product ignores an empty one. The numbers are laid out as the kernel
/// reads them, so a product is bitwise the same with the operand packed before or inside.
template <class Scalar>
struct tile_operand {
  vector<Scalar> buffer;  // grows to the largest operand packed
#if defined(ENGRAM_USE_BLIS)
  cpu_detail::packed_panels<Scalar> panels;  // data null: empty
  bool empty() const {
    return panels.data == nullptr;
  }
#else
  bool empty() const {
    return true;
  }
#endif
};

#if defined(ENGRAM_USE_BLIS)
namespace cpu_detail {
/// op(a) (transpose_a) or b^T as a rows x k matrix.
template <class Scalar, class A>
strided<Scalar> op_rows(const A& a, bool transpose) {
  return transpose ? strided<Scalar>{a.data(), a.outerStride(), 1}
                   : strided<Scalar>{a.data(), 1, a.outerStride()};
}

template <class Scalar>
const packed_panels<Scalar>* panels_of(const tile_operand<Scalar>* t) {
  return t && !t->empty() ? &t->panels : nullptr;
}

/// Whether an operand packed whole in panels of `width` can be read by blis_product: a left
/// operand (MR-row panels) is read one MC block at a time, so MC must be a whole number of
/// panels (it is in BLIS's x86 configurations).
template <class Scalar>
bool packs_whole(index width) {
  const blis_kernel<Scalar>& kr = blis_kernel<Scalar>::get();
  return width != kr.mr || kr.mc % kr.mr == 0;
}

/// Whether tile_product packs a product of m x k by k x n on BLIS's kernel.
template <class Scalar>
bool packs_on_blis(index m, index n, index k) {
  return blis_kernel<Scalar>::get().preferred && n > thin_columns && packs(m, n, k);
}

/// Packs q (rows x k) whole in panels of `width` into `out`, where tile_product would pack a
/// product of m x k by k x n on BLIS's kernel; empties `out` elsewhere.
template <class Scalar>
void pack_operand(const strided<Scalar>& q, index rows, index k, index width, index m, index n,
                  tile_operand<Scalar>& out) {
  out.panels = {};
  if (packs_on_blis<Scalar>(m, n, k) && packs_whole<Scalar>(width))
    out.panels = pack_whole(q, rows, k, width, out.buffer);
}

/// tile_product on BLIS's micro-kernel, whichever the preference (the tests call it directly);
/// operands packed before (non-empty packed_a, packed_b) are read from there.
template <class A, class B, class C, class Scalar = typename std::decay_t<C>::Scalar>
void blis_tile_product(bool transpose_a, std::type_identity_t<Scalar> alpha, const A& a, const B& b,
                       bool accumulate, C&& c, vector<Scalar>& pack,
                       const std::type_identity_t<tile_operand<Scalar>>* packed_a = nullptr,
                       const std::type_identity_t<tile_operand<Scalar>>* packed_b = nullptr) {
  const index m = c.rows(), n = c.cols(), k = b.rows();
  const strided<Scalar> op_a = op_rows<Scalar>(a, transpose_a), b_t = op_rows<Scalar>(b, true);
  // A kernel that stores rows of its block fast computes c^T = b^T op(a)^T into c's columns.
  if (blis_kernel<Scalar>::get().prefers_rows)
    blis_product(b_t, n, op_a, m, k, alpha, accumulate, c.data(), c.outerStride(), index(1), pack,
                 panels_of(packed_b), panels_of(packed_a));
  else
    blis_product(op_a, m, b_t, n, k, alpha, accumulate, c.data(), index(1), c.outerStride(), pack,
                 panels_of(packed_a), panels_of(packed_b));
}
}  // namespace cpu_detail
#endif

/// Packs op(a) of tile_product(cpu, transpose_a, alpha, a, b, ...) for products whose c has n
/// columns into `out`, where tile_product would pack it; empties `out` elsewhere.
template <class A, class Scalar = typename A::Scalar>
void pack_tile_a(cpu, bool transpose_a, const A& a, index n, tile_operand<Scalar>& out) {
#if defined(ENGRAM_USE_BLIS)
  if constexpr (std::is_same_v<Scalar, float> || std::is_same_v<Scalar, double>) {
    const index m = transpose_a ? a.cols() : a.rows(), k = transpose_a ? a.rows() : a.cols();
    const cpu_detail::blis_kernel<Scalar>& kr = cpu_detail::blis_kernel<Scalar>::get();
    cpu_detail::pack_operand(cpu_detail::op_rows<Scalar>(a, transpose_a), m, k,
                             kr.prefers_rows ? kr.nr : kr.mr, m, n, out);
  }
#endif
  (void)transpose_a, (void)a, (void)n, (void)out;
}

/// Packs b of tile_product(cpu, transpose_a, alpha, a, b, ...) for products whose c has m rows
/// into `out`, where tile_product would pack it; empties `out` elsewhere.
template <class B, class Scalar = typename B::Scalar>
void pack_tile_b(cpu, const B& b, index m, tile_operand<Scalar>& out) {
#if defined(ENGRAM_USE_BLIS)
  if constexpr (std::is_same_v<Scalar, float> || std::is_same_v<Scalar, double>) {
    const cpu_detail::blis_kernel<Scalar>& kr = cpu_detail::blis_kernel<Scalar>::get();
    cpu_detail::pack_operand(cpu_detail::op_rows<Scalar>(b, true), b.cols(), b.rows(),
                             kr.prefers_rows ? kr.mr : kr.nr, m, b.cols(), out);
  }
#endif
  (void)b, (void)m, (void)out;
}

/// c = alpha op(a) b (accumulate false) or c += alpha op(a) b (accumulate true), where op(a) is
/// a^T when transpose_a. `pack` is the calling thread's packing buffer (grown when too small;
/// unused without BLIS); the thin products prefetch `next` meanwhile (the others ignore it).
/// `packed_a` and `packed_b`, where given and not empty, hold op(a) and b packed before
/// (pack_tile_a, pack_tile_b, from these very operands), which are then not packed again.
/// Shapes must agree; the callers' loops guarantee it. With accumulate false, c is written
/// without being read.
template <class A, class B, class C, class Scalar = typename std::decay_t<C>::Scalar>
void tile_product(cpu, bool transpose_a, std::type_identity_t<Scalar> alpha, const A& a, const B& b,
                  bool accumulate, C&& c, vector<Scalar>& pack, prefetch_range next = {},
                  const std::type_identity_t<tile_operand<Scalar>>* packed_a = nullptr,
                  const std::type_identity_t<tile_operand<Scalar>>* packed_b = nullptr) {
  static_assert(std::is_same_v<Scalar, typename std::decay_t<C>::Scalar> &&
                std::is_same_v<Scalar, typename A::Scalar> &&
                std::is_same_v<Scalar, typename B::Scalar>);
  if (c.size() == 0) return;
  if (c.cols() >= 2 && c.cols() <= cpu_detail::thin_columns && b.rows() > 0) {
    if (transpose_a)
      cpu_detail::thin_dots(c.rows(), c.cols(), b.rows(), alpha, a.data(), a.outerStride(),
                            b.data(), b.outerStride(), accumulate, c.data(), c.outerStride(), next);
    else
      cpu_detail::thin_axpys(c.rows(), c.cols(), b.rows(), alpha, a.data(), a.outerStride(),
                             b.data(), b.outerStride(), accumulate, c.data(), c.outerStride(),
                             next);
    return;
  }
#if defined(ENGRAM_USE_BLIS)
  if constexpr (std::is_same_v<Scalar, float> || std::is_same_v<Scalar, double>) {
    if (cpu_detail::blis_kernel<Scalar>::get().preferred &&
        cpu_detail::packs(c.rows(), c.cols(), b.rows()))
      return cpu_detail::blis_tile_product(transpose_a, alpha, a, b, accumulate, c, pack, packed_a,
                                           packed_b);
  }
#endif
  (void)pack, (void)packed_a, (void)packed_b;
  if (transpose_a) {
    if (accumulate)
      c.noalias() += alpha * (a.transpose() * b);
    else
      c.noalias() = alpha * (a.transpose() * b);
  } else {
    if (accumulate)
      c.noalias() += alpha * (a * b);
    else
      c.noalias() = alpha * (a * b);
  }
}

}  // namespace engram
